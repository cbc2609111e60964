"""The two browser front ends the gateway serves: the officials' console and the talent web app.

Plain ES modules and hand-written CSS (no build step, nothing fetched from the internet): the pages call the
same public API as the mobile app, through this gateway. `mount_web` adds them to the gateway's application:

- `/console/` and `/app/` (each folder's index.html), `/common/` (modules both share);
- `/` redirects to the talent app;
- every page and asset carries a Content-Security-Policy that allows this origin only (plus `blob:` and
  `data:` images for the QR code the app fetches with its bearer token, and `blob:` frames and objects for the
  console's document viewer: a document is fetched with the official's token and shown from a blob: URL, an
  image in an <img>, a PDF in an <iframe> whose viewer Chromium loads as a plugin, so object-src needs it too;
  only this origin's scripts can make blob: URLs, so nothing from elsewhere is let in).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

WEB_ROOT = Path(__file__).resolve().parent
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; frame-src 'self' blob:; object-src blob:; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Small files that change with each release: always revalidate (ETag / Last-Modified make that cheap).
    "Cache-Control": "no-cache",
}


class WebFiles(StaticFiles):
    """Static files with the pages' security headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


def mount_web(app: FastAPI) -> None:
    """Serve /console/, /app/, /common/ and /asyncapi/ (the events' reference page); redirect / to the app."""
    for name in ("console", "app", "common", "asyncapi"):
        app.mount(f"/{name}", WebFiles(directory=WEB_ROOT / name, html=True), name=f"web-{name}")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/app/", status_code=307)
