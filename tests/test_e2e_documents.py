"""Documents through the gateway: a 10 MiB upload streams through to the applicant service and back, larger
ones are a 413 problem (declared or streamed), the JSON APIs keep their small body limit, the county reviewer
opens a cited document, and the bytes on the service's disk are sealed."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from .helpers import fresh_id_number, official, profile, talent
from .stack import Stack

DOCUMENTS = "/api/v1/me/documents"
MAX_BYTES = 10 * 1024 * 1024
MARKER = b"E2E-PLAINTEXT-MARKER"


def big_pdf(size: int) -> bytes:
    head = b"%PDF-1.4\n%" + MARKER + b"\n"
    return head + b"\x00" * (size - len(head))


def sealed_files(stack: Stack) -> list[Path]:
    root = stack.workdir / "var" / "documents" / "applicant"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def registered_talent(gateway: httpx.AsyncClient) -> dict[str, str]:
    auth = await talent(gateway)
    stored = await gateway.put("/api/v1/me/profile", json=profile(fresh_id_number()), headers=auth)
    assert stored.status_code == 200, stored.text
    return auth


class TestDocumentsThroughTheGateway:
    async def test_a_10_mib_document_goes_up_and_comes_back_whole(
        self, gateway: httpx.AsyncClient, stack: Stack
    ) -> None:
        auth = await registered_talent(gateway)
        data = big_pdf(MAX_BYTES)
        response = await gateway.post(
            DOCUMENTS,
            files={"file": ("diploma.pdf", data, "application/pdf")},
            data={"kind": "diploma"},
            headers=auth,
            timeout=60.0,
        )
        assert response.status_code == 201, response.text
        document = response.json()
        assert document["size"] == MAX_BYTES and document["content_type"] == "application/pdf"
        assert document["sha256"] == hashlib.sha256(data).hexdigest()

        digest = hashlib.sha256()
        async with gateway.stream("GET", f"{DOCUMENTS}/{document['id']}", headers=auth, timeout=60.0) as download:
            assert download.status_code == 200
            assert download.headers["content-type"] == "application/pdf"
            assert download.headers["cache-control"] == "no-store"
            assert download.headers["x-content-type-options"] == "nosniff"
            assert download.headers["content-disposition"].startswith('attachment; filename="diploma.pdf"')
            async for chunk in download.aiter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == document["sha256"]

        [sealed] = [p for p in sealed_files(stack) if p.name == document["id"]]
        assert MARKER not in sealed.read_bytes()

    async def test_over_10_mib_is_a_413_problem_declared_or_streamed(self, gateway: httpx.AsyncClient) -> None:
        auth = await registered_talent(gateway)
        just_over = await gateway.post(
            DOCUMENTS,
            files={"file": ("big.pdf", big_pdf(MAX_BYTES + 1), "application/pdf")},
            data={"kind": "diploma"},
            headers=auth,
            timeout=60.0,
        )
        assert just_over.status_code == 413, just_over.text
        assert just_over.headers["content-type"] == "application/problem+json"

        far_over = await gateway.post(
            DOCUMENTS,
            files={"file": ("huge.pdf", big_pdf(MAX_BYTES + 512 * 1024), "application/pdf")},
            data={"kind": "diploma"},
            headers=auth,
            timeout=60.0,
        )
        assert far_over.status_code == 413  # refused by the gateway from its Content-Length
        assert far_over.headers["content-type"] == "application/problem+json"

        boundary = "e2estreamed"

        async def streamed() -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndiploma\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.pdf"\r\n'
                "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
            ).encode()
            for _ in range(12 * 16):
                yield b"\x00" * 65_536
            yield f"\r\n--{boundary}--\r\n".encode()

        chunked = await gateway.post(
            DOCUMENTS,
            content=streamed(),
            headers={**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            timeout=60.0,
        )
        assert chunked.status_code == 413, chunked.text
        assert chunked.headers["content-type"] == "application/problem+json"
        assert (await gateway.get(DOCUMENTS, headers=auth)).json()["items"] == []

    async def test_the_json_apis_keep_their_small_body_limit(self, gateway: httpx.AsyncClient) -> None:
        auth = await registered_talent(gateway)
        body = profile(fresh_id_number())
        body["name"] = "x" * (2 * 1024 * 1024)
        response = await gateway.put("/api/v1/me/profile", json=body, headers=auth)
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"

    async def test_a_renamed_executable_is_refused_through_the_gateway(self, gateway: httpx.AsyncClient) -> None:
        auth = await registered_talent(gateway)
        elf = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 100_000
        response = await gateway.post(
            DOCUMENTS,
            files={"file": ("diploma.pdf", elf, "application/pdf")},
            data={"kind": "diploma"},
            headers=auth,
        )
        assert response.status_code == 415
        assert response.headers["content-type"] == "application/problem+json"

    async def test_the_county_reviewer_opens_a_cited_document_and_another_county_cannot(
        self, gateway: httpx.AsyncClient
    ) -> None:
        auth = await registered_talent(gateway)  # region 330402: Nanhu
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
        document = (
            await gateway.post(
                DOCUMENTS, files={"file": ("d.png", png, "image/png")}, data={"kind": "diploma"}, headers=auth
            )
        ).json()
        submitted = await gateway.post(
            "/api/v1/me/certifications",
            json={
                "route": "degree",
                "claimed_tier": "E",
                "evidence": [{"kind": "diploma", "document_id": document["id"]}],
            },
            headers=auth,
        )
        assert submitted.status_code == 201, submitted.text
        url = f"/api/v1/reviews/documents/{document['id']}"
        read = await gateway.get(url, headers=await official(gateway, "reviewer.nanhu"))
        assert read.status_code == 200 and read.content == png
        assert (await gateway.get(url, headers=await official(gateway, "reviewer.xiuzhou"))).status_code == 404
        assert (await gateway.get(url, headers=await official(gateway, "approver.city"))).status_code == 404
        refused = await gateway.delete(f"{DOCUMENTS}/{document['id']}", headers=auth)
        assert refused.status_code == 409
