"""Documents: upload (type from the bytes, 10 MiB), the owner's list and downloads, officials' reads of what
their queue cites, encryption at rest, deletion, and certification evidence citing a document."""

from __future__ import annotations

import hashlib
import socket
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from applicant import documents
from applicant.exceptions import UnknownDocuments
from servicekit.objectstore import ObjectNotFound, S3Store

from .conftest import Officials, decide, register, resident_id, submit

DOCUMENTS = "/api/v1/me/documents"
MAX_BYTES = 10 * 1024 * 1024
MARKER = b"PLAINTEXT-MARKER-4f1c"


def png(width: int = 3, height: int = 2, extra: bytes = b"") -> bytes:
    """A valid PNG (grey pixels), with `extra` in a private ancillary chunk (a plaintext marker, padding)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + (chunk(b"tEXt", b"Comment\x00" + extra) if extra else b"")
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf(extra: bytes = b"") -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%" + extra + b"\ntrailer << /Root 1 0 R >>\n%%EOF\n"


ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200
PE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"document_store_path": str(tmp_path / "documents")}


@pytest.fixture
def store_root(tmp_path: Path) -> Path:
    return tmp_path / "documents"


async def upload(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    data: bytes,
    *,
    name: str = "scan.png",
    kind: str = "diploma",
    declared: str = "application/octet-stream",
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        DOCUMENTS,
        files={"file": (name, data, declared)},
        data={"kind": kind},
        headers={**headers, **(extra_headers or {})},
    )


async def uploaded(client: httpx.AsyncClient, headers: dict[str, str], data: bytes, **kwargs: Any) -> dict[str, Any]:
    response = await upload(client, headers, data, **kwargs)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def files_in(root: Path) -> list[str]:
    """The names of every file under the store's directory (temporary ones included)."""
    return [p.name for p in root.rglob("*") if p.is_file()] if root.exists() else []


def stored_file(store_root: Path, document_id: str) -> Path:
    return store_root / document_id[:2] / document_id


async def cite(client: httpx.AsyncClient, headers: dict[str, str], document_id: str) -> dict[str, Any]:
    """Submit a certification whose evidence is the document."""
    return await submit(client, headers, evidence=[{"kind": "diploma", "document_id": document_id}])


# --- upload ---------------------------------------------------------------------------------------------


class TestUpload:
    async def test_a_png_is_stored_and_described_by_its_bytes(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        data = png()
        body = await uploaded(client, talent, data, name="我的学位证.png", declared="application/pdf")
        assert body["content_type"] == "image/png"  # the bytes, not the declared type
        assert body["size"] == len(data)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["kind"] == "diploma" and body["file_name"] == "我的学位证.png"
        assert set(body) >= {"id", "kind", "content_type", "size", "sha256", "created_at"}

    async def test_a_pdf_and_a_jpeg_are_recognised_whatever_their_names(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        assert (await uploaded(client, talent, pdf(), name="photo.jpg"))["content_type"] == "application/pdf"
        jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 100 + b"\xff\xd9"
        assert (await uploaded(client, talent, jpeg, name="x.pdf"))["content_type"] == "image/jpeg"

    @pytest.mark.parametrize("executable", [ELF, PE], ids=["elf", "pe"])
    async def test_a_renamed_executable_is_refused_with_415(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path, executable: bytes
    ) -> None:
        await register(client, talent)
        response = await upload(client, talent, executable, name="diploma.pdf", declared="application/pdf")
        assert response.status_code == 415, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "PDF, JPEG and PNG" in response.json()["detail"]
        assert files_in(store_root) == []

    async def test_a_missing_or_empty_file_and_an_unknown_kind_are_422(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        empty = await upload(client, talent, b"")
        assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "file"
        missing = await client.post(DOCUMENTS, data={"kind": "diploma"}, files={"other": ("x", b"1")}, headers=talent)
        assert missing.status_code == 422
        assert any("file" in e["field"] for e in missing.json()["errors"])
        bad_kind = await upload(client, talent, png(), kind="passport_photo_of_my_cat")
        assert bad_kind.status_code == 422
        assert any("kind" in e["field"] for e in bad_kind.json()["errors"])

    async def test_exactly_10_mib_is_accepted_and_one_byte_more_is_413(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        head = pdf()
        at_limit = head + b"\x00" * (MAX_BYTES - len(head))
        assert (await uploaded(client, talent, at_limit))["size"] == MAX_BYTES
        over = await upload(client, talent, at_limit + b"\x00")
        assert over.status_code == 413, over.text
        assert over.headers["content-type"] == "application/problem+json"
        far_over = await upload(client, talent, at_limit + b"\x00" * (200 * 1024))  # past the body limit too
        assert far_over.status_code == 413
        assert far_over.headers["content-type"] == "application/problem+json"

    async def test_a_streamed_body_without_length_is_cut_off_at_the_limit_with_413(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        boundary = "streamedboundary"
        sent = {"bytes": 0}

        async def body() -> AsyncIterator[bytes]:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\ndiploma\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
                "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
            ).encode()
            for _ in range(12 * 16):  # 12 MiB in 64 KiB pieces
                sent["bytes"] += 65_536
                yield b"\x00" * 65_536
            yield f"\r\n--{boundary}--\r\n".encode()

        response = await client.post(
            DOCUMENTS,
            content=body(),
            headers={**talent, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert (await client.get(DOCUMENTS, headers=talent)).json()["items"] == []

    async def test_an_upload_needs_a_profile_and_a_refused_one_leaves_nothing_stored(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path
    ) -> None:
        response = await upload(client, talent, png())
        assert response.status_code == 409
        assert "profile" in response.json()["detail"]
        assert files_in(store_root) == []  # the object written before the row was removed again

    async def test_the_same_idempotency_key_answers_the_first_upload_and_stores_one_object(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path
    ) -> None:
        await register(client, talent)
        key = {"Idempotency-Key": "upload-diploma-1"}
        first = await uploaded(client, talent, png(), extra_headers=key)
        again = await upload(client, talent, png(), extra_headers=key)
        assert again.status_code == 201 and again.json()["id"] == first["id"]
        assert again.headers.get("idempotent-replayed") == "true"
        assert files_in(store_root) == [first["id"]]
        other = await upload(client, talent, pdf(), extra_headers=key)
        assert other.status_code == 409
        assert len((await client.get(DOCUMENTS, headers=talent)).json()["items"]) == 1


# --- the owner's side ------------------------------------------------------------------------------------


class TestOwner:
    async def test_the_owner_downloads_the_file_with_safe_headers(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        data = png(extra=b"x" * 300_000)  # several cipher chunks
        document = await uploaded(client, talent, data, name="学位 证书.pdf")
        response = await client.get(f"{DOCUMENTS}/{document['id']}", headers=talent)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == "image/png"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-length"] == str(len(data))
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment; filename=")
        assert "filename*=UTF-8''%E5%AD%A6%E4%BD%8D%20%E8%AF%81%E4%B9%A6.pdf.png" in disposition

    async def test_another_talent_neither_sees_nor_deletes_it(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        document = await uploaded(client, talent, png())
        other = officials.keys.headers("another-talent", ["talent"])
        assert (await client.get(f"{DOCUMENTS}/{document['id']}", headers=other)).status_code == 404
        assert (await client.delete(f"{DOCUMENTS}/{document['id']}", headers=other)).status_code == 404
        assert (await client.get(DOCUMENTS, headers=other)).json()["items"] == []
        assert (await client.get(f"{DOCUMENTS}/{document['id']}", headers=talent)).status_code == 200

    async def test_the_list_is_newest_first_and_paginated(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        await register(client, talent)
        ids = [(await uploaded(client, talent, png(width=w)))["id"] for w in (1, 2, 3)]
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await client.get(DOCUMENTS, params=params, headers=talent)).json()
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(ids))
        bad = await client.get(DOCUMENTS, params={"cursor": "bm90IGEgY3Vyc29y"}, headers=talent)
        assert bad.status_code == 422

    async def test_a_deleted_document_is_gone_from_the_list_and_the_disk(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path
    ) -> None:
        await register(client, talent)
        document = await uploaded(client, talent, png())
        assert stored_file(store_root, document["id"]).exists()
        assert (await client.delete(f"{DOCUMENTS}/{document['id']}", headers=talent)).status_code == 204
        assert (await client.get(f"{DOCUMENTS}/{document['id']}", headers=talent)).status_code == 404
        assert not stored_file(store_root, document["id"]).exists()
        assert (await client.delete(f"{DOCUMENTS}/{document['id']}", headers=talent)).status_code == 404


# --- encryption at rest ---------------------------------------------------------------------------------


class TestAtRest:
    async def test_the_stored_bytes_are_encrypted(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path
    ) -> None:
        await register(client, talent)
        data = pdf(extra=MARKER * 10_000)
        document = await uploaded(client, talent, data)
        at_rest = stored_file(store_root, document["id"]).read_bytes()
        assert MARKER not in at_rest and b"%PDF" not in at_rest
        assert len(at_rest) > len(data)  # header and one tag per 64 KiB chunk
        assert files_in(store_root) == [document["id"]]  # no temporary file left

    async def test_one_flipped_byte_makes_the_download_fail_cleanly(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path
    ) -> None:
        await register(client, talent)
        document = await uploaded(client, talent, png())
        path = stored_file(store_root, document["id"])
        at_rest = bytearray(path.read_bytes())
        at_rest[len(at_rest) // 2] ^= 0x01
        path.write_bytes(bytes(at_rest))
        response = await client.get(f"{DOCUMENTS}/{document['id']}", headers=talent)
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/document-damaged")

    async def test_damage_past_the_first_chunk_never_delivers_the_whole_file(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path
    ) -> None:
        await register(client, talent)
        data = pdf(extra=b"y" * 300_000)
        document = await uploaded(client, talent, data)
        path = stored_file(store_root, document["id"])
        at_rest = bytearray(path.read_bytes())
        at_rest[-1000] ^= 0x01  # in the last chunk: the response has started when it is found
        path.write_bytes(bytes(at_rest))
        received = b""
        with pytest.raises(Exception):  # noqa: B017 - the stream is cut short; the client sees a broken body
            async with client.stream("GET", f"{DOCUMENTS}/{document['id']}", headers=talent) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    received += chunk
        assert received != data and len(received) < len(data)

    async def test_a_swapped_object_does_not_open_as_another_document(
        self, client: httpx.AsyncClient, talent: dict[str, str], store_root: Path
    ) -> None:
        await register(client, talent)
        first = await uploaded(client, talent, png(width=1))
        second = await uploaded(client, talent, png(width=2))
        stored_file(store_root, second["id"]).write_bytes(stored_file(store_root, first["id"]).read_bytes())
        assert (await client.get(f"{DOCUMENTS}/{second['id']}", headers=talent)).status_code == 500
        assert (await client.get(f"{DOCUMENTS}/{first['id']}", headers=talent)).status_code == 200


# --- certification evidence and officials' reads ---------------------------------------------------------


class TestOfficials:
    async def test_the_official_whose_stage_holds_the_case_reads_it_and_no_one_else(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)  # region 330402: Nanhu's county reviewer
        data = png()
        document = await uploaded(client, talent, data)
        certification = await cite(client, talent, document["id"])
        url = f"/api/v1/reviews/documents/{document['id']}"

        read = await client.get(url, headers=officials.nanhu)
        assert read.status_code == 200 and read.content == data
        assert read.headers["cache-control"] == "no-store" and read.headers["x-content-type-options"] == "nosniff"
        assert (await client.get(url, headers=officials.xiuzhou)).status_code == 404  # another region
        assert (await client.get(url, headers=officials.city)).status_code == 404  # not yet at the city
        assert (await client.get(url, headers=officials.admin)).status_code == 403
        assert (await client.get(url, headers=talent)).status_code == 403

        assert (await decide(client, certification["id"], officials.nanhu)).status_code == 200
        assert (await client.get(url, headers=officials.city)).status_code == 200
        assert (await client.get(url, headers=officials.nanhu)).status_code == 404  # no longer in their queue

        assert (await decide(client, certification["id"], officials.city)).status_code == 200  # certified
        assert (await client.get(url, headers=officials.city)).status_code == 404

        log = (await client.get("/api/v1/me/access-log", headers=talent)).json()["items"]
        reads = [e for e in log if e["action"] == "document.read"]
        assert len(reads) == 2
        assert {e["actor"].split()[0] for e in reads} == {"county_reviewer", "city_approver"}

    async def test_an_unknown_document_is_404_for_officials(
        self, client: httpx.AsyncClient, officials: Officials
    ) -> None:
        response = await client.get("/api/v1/reviews/documents/no-such-document", headers=officials.nanhu)
        assert response.status_code == 404

    async def test_the_case_view_shows_the_cited_document(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        data = pdf()
        document = await uploaded(client, talent, data)
        certification = await submit(
            client,
            talent,
            evidence=[
                {"kind": "diploma", "document_id": document["id"]},
                {"kind": "title_certificate", "reference": "files/title.pdf", "sha256": "b" * 64},
            ],
        )
        cited, referenced = certification["evidence"]
        assert cited == {
            "kind": "diploma",
            "reference": f"document:{document['id']}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "document_id": document["id"],
            "content_type": "application/pdf",
            "size": len(data),
        }
        assert referenced == {"kind": "title_certificate", "reference": "files/title.pdf", "sha256": "b" * 64}
        view = await client.get(f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.nanhu)
        assert view.json()["evidence"][0]["document_id"] == document["id"]
        assert view.json()["evidence"][0]["content_type"] == "application/pdf"

    async def test_evidence_citing_another_talents_document_is_422_naming_the_field(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        other = officials.keys.headers("another-talent", ["talent"])
        await register(client, other, id_number=resident_id(sequence="999"), email="other@example.org")
        theirs = await uploaded(client, other, png())
        await register(client, talent)
        mine = await uploaded(client, talent, png())
        response = await client.post(
            "/api/v1/me/certifications",
            json={
                "route": "degree",
                "claimed_tier": "E",
                "evidence": [
                    {"kind": "diploma", "document_id": mine["id"]},
                    {"kind": "title_certificate", "document_id": theirs["id"]},
                ],
            },
            headers=talent,
        )
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {"field": "evidence.1.document_id", "message": f"no document {theirs['id']} of yours"}
        ]
        both = await client.post(
            "/api/v1/me/certifications",
            json={
                "route": "degree",
                "claimed_tier": "E",
                "evidence": [{"kind": "diploma", "document_id": mine["id"], "reference": "x", "sha256": "a" * 64}],
            },
            headers=talent,
        )
        assert both.status_code == 422
        neither = await client.post(
            "/api/v1/me/certifications",
            json={"route": "degree", "claimed_tier": "E", "evidence": [{"kind": "diploma", "reference": "x"}]},
            headers=talent,
        )
        assert neither.status_code == 422

    async def test_a_document_cited_by_an_open_certification_cannot_be_deleted(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, store_root: Path
    ) -> None:
        await register(client, talent)
        document = await uploaded(client, talent, png())
        certification = await cite(client, talent, document["id"])
        refused = await client.delete(f"{DOCUMENTS}/{document['id']}", headers=talent)
        assert refused.status_code == 409
        assert certification["id"] in refused.json()["detail"]
        assert stored_file(store_root, document["id"]).exists()

        rejected = await decide(client, certification["id"], officials.nanhu, "reject", reason="not a diploma")
        assert rejected.status_code == 200
        assert (await client.delete(f"{DOCUMENTS}/{document['id']}", headers=talent)).status_code == 204
        # The decided certification keeps the evidence's reference and hash, no longer the document.
        kept = (await client.get(f"/api/v1/me/certifications/{certification['id']}", headers=talent)).json()
        assert kept["evidence"] == [
            {"kind": "diploma", "reference": f"document:{document['id']}", "sha256": document["sha256"]}
        ]

    async def test_a_change_request_lets_its_county_reviewer_read_its_documents(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        await submit(client, talent)  # a certification application locks the decision facts
        document = await uploaded(client, talent, pdf(), kind="title_certificate")
        response = await client.post(
            "/api/v1/me/change-requests",
            json={
                "changes": {"title": "intermediate"},
                "reason": "new title",
                "evidence": [{"document_id": document["id"]}],
            },
            headers=talent,
        )
        assert response.status_code == 201, response.text
        url = f"/api/v1/reviews/documents/{document['id']}"
        assert (await client.get(url, headers=officials.nanhu)).status_code == 200
        assert (await client.get(url, headers=officials.xiuzhou)).status_code == 404
        assert (await client.get(url, headers=officials.city)).status_code == 404
        refused = await client.delete(f"{DOCUMENTS}/{document['id']}", headers=talent)
        assert refused.status_code == 409
        assert response.json()["id"] in refused.json()["detail"]


async def test_require_owned_returns_the_talents_documents_and_names_every_other_id(
    client: httpx.AsyncClient, talent: dict[str, str], talent_id: str, officials: Officials, applicant_app: Any
) -> None:
    other = officials.keys.headers("another-talent", ["talent"])
    await register(client, other, id_number=resident_id(sequence="998"), email="other@example.org")
    theirs = await uploaded(client, other, png())
    await register(client, talent)
    mine = await uploaded(client, talent, pdf())
    async with applicant_app.state.database.transaction() as session:
        [found] = await documents.require_owned(session, talent_id, [mine["id"]])
        assert (found.id, found.content_type, found.size) == (mine["id"], "application/pdf", mine["size"])
        with pytest.raises(UnknownDocuments) as refused:
            await documents.require_owned(session, talent_id, [mine["id"], theirs["id"], "no-such-document"])
        assert refused.value.status == 422
        assert [e["field"] for e in refused.value.errors or []] == ["document_ids.1", "document_ids.2"]
        with pytest.raises(UnknownDocuments) as named:
            await documents.require_owned(session, talent_id, [theirs["id"]], field="evidence.{i}.document_id")
        assert named.value.errors == [
            {
                "field": "evidence.0.document_id",
                "key": "applicant.invalid.not_your_document",
                "params": {"document_id": theirs["id"]},
            }
        ]


# --- the S3 store: moto's S3 server on 127.0.0.1 -----------------------------------------------------------

BUCKET = "applicant-documents-test"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-protocol server (ThreadedMotoServer) on 127.0.0.1; skipped only when it cannot start."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - moto[server] is a dev dependency
        pytest.skip(f"moto's S3 server is not installed: {exc}")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    try:
        server.start()
    except Exception as exc:  # pragma: no cover - only when the server cannot start here
        pytest.skip(f"moto's S3 server could not start on 127.0.0.1: {exc}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
async def raw_bucket(s3_endpoint: str) -> AsyncIterator[S3Store]:
    """The bucket as the service uses it, without the cipher: what is at rest."""
    store = S3Store(s3_endpoint, BUCKET, access_key="testing", secret_key="testing", prefix="applicant")
    await store.create_bucket()
    try:
        yield store
    finally:
        await store.close()


class TestS3Store:
    @pytest.fixture
    def settings_overrides(self, s3_endpoint: str, raw_bucket: S3Store) -> dict[str, Any]:
        return {
            "document_store": "s3",
            "document_s3_endpoint_url": s3_endpoint,
            "document_s3_bucket": BUCKET,
            "document_s3_access_key": "testing",
            "document_s3_secret_key": "testing",
        }

    async def test_documents_round_trip_through_the_bucket_sealed(
        self, client: httpx.AsyncClient, talent: dict[str, str], raw_bucket: S3Store
    ) -> None:
        await register(client, talent)
        data = pdf(extra=MARKER * 50_000)  # about 1 MiB: sixteen cipher chunks
        document = await uploaded(client, talent, data)
        key = f"{document['id'][:2]}/{document['id']}"
        at_rest = b"".join([chunk async for chunk in await raw_bucket.get(key)])
        assert MARKER not in at_rest and len(at_rest) > len(data)
        response = await client.get(f"{DOCUMENTS}/{document['id']}", headers=talent)
        assert response.status_code == 200 and response.content == data
        assert (await client.delete(f"{DOCUMENTS}/{document['id']}", headers=talent)).status_code == 204
        with pytest.raises(ObjectNotFound):
            await raw_bucket.get(key)
