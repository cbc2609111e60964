"""The console's document viewer in a real browser (Debian's Chromium): the county reviewer opens the documents
a certification cites; the image is shown from a blob: URL (decoded: naturalWidth > 0), the PDF in its frame,
and the page's Content-Security-Policy lets both through."""

from __future__ import annotations

import re
import struct
import zlib

import httpx
from playwright.async_api import ConsoleMessage, Page, expect

from .browser import sign_in_to_the_console
from .helpers import fresh_id_number, profile, talent


def png(width: int = 40, height: int = 30) -> bytes:
    """A real PNG (a grey gradient) a browser can decode."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((x * 6) % 256 for x in range(width)) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


BLOB_URL = re.compile(r"^blob:http://127\.0\.0\.1:\d+/[0-9a-f-]{36}$")
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


async def certification_citing_documents(gateway: httpx.AsyncClient) -> str:
    """A talent of 南湖区 who applied with an uploaded diploma scan (PNG) and title certificate (PDF)."""
    auth = await talent(gateway)
    stored = await gateway.put("/api/v1/me/profile", json=profile(fresh_id_number()), headers=auth)
    assert stored.status_code == 200, stored.text
    ids = []
    for name, data, kind in (("diploma.png", png(), "diploma"), ("title.pdf", PDF, "title_certificate")):
        response = await gateway.post(
            "/api/v1/me/documents",
            files={"file": (name, data, "application/octet-stream")},
            data={"kind": kind},
            headers=auth,
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    evidence = [
        {"kind": "diploma", "document_id": ids[0]},
        {"kind": "title_certificate", "document_id": ids[1]},
    ]
    response = await gateway.post(
        "/api/v1/me/certifications", json={"route": "degree", "claimed_tier": "E", "evidence": evidence}, headers=auth
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestTheReviewerOpensCitedDocuments:
    async def test_the_image_and_the_pdf_open_in_the_viewer(self, console: Page, gateway: httpx.AsyncClient) -> None:
        certification = await certification_citing_documents(gateway)
        refused: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
                refused.append(message.text)

        console.on("console", on_console)
        await sign_in_to_the_console(console, "reviewer.nanhu")
        await console.goto(f"/console/#/certifications/{certification}")
        views = console.get_by_test_id("view-document")
        await expect(views).to_have_count(2)

        await views.nth(0).click()
        viewer = console.get_by_test_id("document-viewer")
        await expect(viewer).to_be_visible()
        image = viewer.get_by_test_id("document-image")
        await expect(image).to_have_attribute("src", BLOB_URL)
        # The image really decoded from the blob (the CSP's img-src lets blob: through).
        await console.wait_for_function(
            "() => { const i = document.querySelector('[data-testid=document-image]');"
            " return i !== null && i.complete && i.naturalWidth > 0; }"
        )
        assert await image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [40, 30]
        await viewer.get_by_test_id("document-close").click()
        await expect(console.get_by_test_id("document-viewer")).to_have_count(0)

        await views.nth(1).click()
        frame = console.get_by_test_id("document-viewer").get_by_test_id("document-pdf")
        await expect(frame).to_be_visible()
        await expect(frame).to_have_attribute("src", BLOB_URL)
        assert refused == [], refused
