"""The kit's body-size limit: one limit for every path, a larger one for the paths given their own (uploads)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from servicekit.middleware import BodySizeLimitMiddleware
from servicekit.problems import install_problem_handlers


def app_with_limits() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=1000, path_limits={"/upload": 5000})

    @app.post("/json")
    async def json_body(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/upload")
    async def upload(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    return app


async def pieces(total: int, size: int = 300) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


async def test_an_upload_path_has_its_own_limit_and_the_others_keep_theirs() -> None:
    transport = httpx.ASGITransport(app=app_with_limits())
    async with httpx.AsyncClient(transport=transport, base_url="http://kit.test") as client:
        assert (await client.post("/upload", content=b"x" * 5000)).json() == {"size": 5000}
        assert (await client.post("/json", content=b"x" * 1000)).json() == {"size": 1000}
        for path, over in (("/upload", 5001), ("/json", 1001)):
            declared = await client.post(path, content=b"x" * over)
            assert declared.status_code == 413
            assert declared.headers["content-type"] == "application/problem+json"
            streamed = await client.post(path, content=pieces(over))  # no Content-Length: counted as it arrives
            assert streamed.status_code == 413
            assert streamed.headers["content-type"] == "application/problem+json"
        assert (await client.post("/upload", content=pieces(4900))).json() == {"size": 4900}
