"""/healthz, /readyz and /metrics, the same on every deployable."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

ReadinessCheck = Callable[[], Awaitable[None]]


def health_router(*, metrics: bool = True) -> APIRouter:
    """`metrics=False` for a public listener: the metrics are then served on an internal port only."""
    router = APIRouter(tags=["health"], include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        """Every dependency (database, broker, upstream services) answers."""
        checks: dict[str, ReadinessCheck] = request.app.state.readiness_checks
        results: dict[str, str] = {}

        async def run(name: str, check: ReadinessCheck) -> None:
            try:
                await asyncio.wait_for(check(), timeout=3.0)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failing: {type(exc).__name__}"

        await asyncio.gather(*(run(name, check) for name, check in checks.items()))
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results}, status_code=200 if ready else 503
        )

    if metrics:

        @router.get("/metrics")
        async def prometheus_metrics() -> Response:
            """Prometheus text exposition."""
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
