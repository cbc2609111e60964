"""Documents: the evidence files a talent uploads (PDF, JPEG, PNG), stored encrypted in the object store, cited
by certifications and change requests, and read by their owner and by the officials whose queue holds a case
citing them.

- The type is decided from the bytes (magic numbers), never from the file name or the declared type: anything
  else is a 415. At most `document_max_bytes` (10 MiB): a 413 above.
- The bytes are read from FastAPI's spooled upload (a temporary file once past 1 MiB) in 64 KiB chunks: one
  pass for the size, type and SHA-256, one that seals them into the store (servicekit.objectstore); a download
  streams them back through the cipher. No file is ever held whole in memory.
- The object is written before the row (so the database's write lock is not held while it is), and removed
  again when the row is not written (an error, or a replayed Idempotency-Key). A deleted document's object is
  removed after the deletion committed.
- An official reads a document only while a case citing it waits for them: a certification at their stage
  (the county reviewer of its region while submitted, a city approver while county_approved) or a change
  request submitted in a county reviewer's region. Each such read is logged (applicant.access_log).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import UploadFile
from servicekit.auth import Principal
from servicekit.crypto import CipherError
from servicekit.db import utcnow
from servicekit.idempotency import run_idempotent
from servicekit.objectstore import CHUNK_SIZE, EncryptedStore, LocalDiskStore, ObjectStore, S3Store, StreamCipher
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant import access_log
from applicant import repository as repo
from applicant.config import ApplicantSettings
from applicant.exceptions import (
    DocumentDamaged,
    DocumentInUse,
    DocumentNotFound,
    DocumentTooLarge,
    InvalidUpload,
    ProfileRequired,
    UnknownDocuments,
    UnsupportedDocumentType,
)
from applicant.models import Document
from applicant.schemas import DocumentPublic
from applicant.states import COUNTY_REVIEWER, OPEN_STATUSES, REVIEW_STAGES, CertificationStatus

OPERATION = "POST /api/v1/me/documents"
logger = logging.getLogger("applicant.documents")

# Magic numbers of the accepted types, and the extension a download's name gets.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
_EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
_SNIFF_BYTES = 8


def sniff(head: bytes) -> str | None:
    """The media type the first bytes show (PDF, JPEG or PNG), or None for anything else."""
    return next((media for magic, media in _SIGNATURES if head.startswith(magic)), None)


@asynccontextmanager
async def store_open(store: EncryptedStore) -> AsyncIterator[EncryptedStore]:
    """The store while the process serves; its connections (an S3 store's) are closed when it stops."""
    try:
        yield store
    finally:
        await store.close()


def build_store(settings: ApplicantSettings) -> EncryptedStore:
    """The documents' store: the configured local directory or S3 bucket, sealed with the document keyring."""
    cipher = StreamCipher.from_spec(settings.document_keys.get_secret_value())
    store: ObjectStore
    if settings.document_store == "s3":
        secret = settings.document_s3_secret_key
        if not settings.document_s3_endpoint_url or not settings.document_s3_access_key or secret is None:
            raise ValueError("document_store=s3 needs APPLICANT_DOCUMENT_S3_ENDPOINT_URL, _ACCESS_KEY and _SECRET_KEY")
        store = S3Store(
            settings.document_s3_endpoint_url,
            settings.document_s3_bucket,
            access_key=settings.document_s3_access_key,
            secret_key=secret.get_secret_value(),
            region=settings.document_s3_region,
            prefix=settings.document_s3_prefix,
        )
    else:
        store = LocalDiskStore(settings.document_store_path)
    return EncryptedStore(store, cipher)


def reference_of(document: Document) -> str:
    """The reference a piece of evidence citing the document carries (its hash is the document's)."""
    return f"document:{document.id}"


def object_key(document_id: str) -> str:
    """Where a document's sealed bytes are kept: fanned out by the id's first two characters."""
    return f"{document_id[:2]}/{document_id}"


# --- upload ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """An upload checked in one pass over its spooled bytes: what it is, how big, and its SHA-256."""

    upload: UploadFile
    file_name: str
    content_type: str
    size: int
    sha256: str


async def receive(upload: UploadFile, max_bytes: int) -> Received:
    """Size, type (from the bytes) and hash of an upload, read in chunks; 413 over `max_bytes`, 415 for a type
    other than PDF, JPEG or PNG, 422 for an empty file."""
    if upload.size is not None and upload.size > max_bytes:
        raise DocumentTooLarge(max_bytes)
    await upload.seek(0)
    digest = hashlib.sha256()
    head = b""
    size = 0
    while chunk := await upload.read(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise DocumentTooLarge(max_bytes)
        if len(head) < _SNIFF_BYTES:
            head += chunk[: _SNIFF_BYTES - len(head)]
        digest.update(chunk)
    if size == 0:
        raise InvalidUpload("file", "applicant.invalid.file_empty")
    content_type = sniff(head)
    if content_type is None:
        raise UnsupportedDocumentType()
    return Received(upload, clean_file_name(upload.filename), content_type, size, digest.hexdigest())


def clean_file_name(name: str | None) -> str:
    """The file's own name without any path, control characters or quotes, at most 255 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C")
    cleaned = cleaned.replace('"', "'").strip(" .")
    return cleaned[:255] or "document"


async def _chunks(upload: UploadFile, digest: Any) -> AsyncIterator[bytes]:
    """The upload's bytes again, from its spooled file, hashed as they go by."""
    await upload.seek(0)
    while chunk := await upload.read(CHUNK_SIZE):
        digest.update(chunk)
        yield chunk


async def upload(
    session: AsyncSession,
    principal: Principal,
    store: EncryptedStore,
    received: Received,
    kind: str,
    idempotency_key: str | None,
) -> Any:
    """Seal the upload into the store, then record it (an Idempotency-Key retry with the same file and kind
    answers the first upload again and stores nothing; 409 for a talent without a profile)."""
    document = Document(
        id=str(uuid.uuid4()),
        talent_id=principal.sub,
        kind=kind,
        file_name=received.file_name,
        content_type=received.content_type,
        size=received.size,
        sha256=received.sha256,
        object_key="",
        key_id=store.active_kid,
        created_at=utcnow(),
    )
    document.object_key = object_key(document.id)
    # The object first, before any database work: on SQLite the unit of work's first statement takes the write
    # lock, which would otherwise be held while 10 MiB are sealed and stored.
    digest = hashlib.sha256()
    stored = await store.put(document.object_key, _chunks(received.upload, digest))
    recorded = False

    async def create() -> DocumentPublic:
        nonlocal recorded
        if await repo.get_talent(session, principal.sub) is None:
            raise ProfileRequired()
        if stored != received.size or digest.hexdigest() != received.sha256:
            # The spooled file changed between the two passes: what was sealed is not what was checked.
            raise InvalidUpload("file", "applicant.invalid.file_changed")
        session.add(document)
        await session.flush()
        recorded = True
        return public(document)

    fingerprint = {"kind": kind, "file_name": received.file_name, "sha256": received.sha256, "size": received.size}
    try:
        result = await run_idempotent(
            session, principal, idempotency_key, operation=OPERATION, body=fingerprint, create=create
        )
    except BaseException:
        await store.delete(document.object_key)
        raise
    if not recorded:
        await store.delete(document.object_key)  # a replay: the first upload's object is the one kept
    return result


def public(document: Document) -> DocumentPublic:
    return DocumentPublic(
        id=document.id,
        kind=document.kind,
        file_name=document.file_name,
        content_type=document.content_type,
        size=document.size,
        sha256=document.sha256,
        created_at=document.created_at,
    )


# --- the owner's side -------------------------------------------------------------------------------------


async def list_mine(session: AsyncSession, talent_id: str, page: PageParams) -> Page[DocumentPublic]:
    """The talent's documents, newest first."""
    after = page.position(cursor_time, cursor_key)
    rows = await repo.list_documents_of(session, talent_id, limit=page.limit + 1, after=after)
    found = keyset_page(rows, page.limit, _position)
    return Page(items=[public(d) for d in found.items], next_cursor=found.next_cursor)


def _position(document: Document) -> list[Any]:
    return [document.created_at.isoformat(), document.id]


async def get_mine(session: AsyncSession, talent_id: str, document_id: str) -> Document:
    document = await repo.get_document(session, document_id)
    if document is None or document.talent_id != talent_id:
        raise DocumentNotFound(document_id)
    return document


async def delete_mine(session: AsyncSession, talent_id: str, document_id: str) -> Document:
    """Delete the row (the caller removes the object once this committed); 409 while an open case cites it."""
    document = await get_mine(session, talent_id, document_id)
    open_certifications = [
        c for c in await repo.certifications_citing(session, document_id) if c.status in OPEN_STATUSES
    ]
    if open_certifications:
        certification = open_certifications[0]
        raise DocumentInUse(params={"certification_id": certification.id, "status": certification.status})
    open_requests = await repo.submitted_change_requests_citing(session, document_id)
    if open_requests:
        raise DocumentInUse(
            key="applicant.error.document_cited_by_change_request", params={"change_request_id": open_requests[0].id}
        )
    await repo.detach_document(session, document_id)
    await session.delete(document)
    await session.flush()
    return document


# --- the officials' side ----------------------------------------------------------------------------------


async def get_for_official(session: AsyncSession, principal: Principal, document_id: str) -> Document:
    """A document a case waiting for this official cites (404 for any other), the read logged."""
    document = await repo.get_document(session, document_id)
    if document is None or not await _in_queue_of(session, principal, document_id):
        raise DocumentNotFound(document_id)
    await access_log.record_official_read(session, principal, document.talent_id, access_log.DOCUMENT_READ)
    return document


async def _in_queue_of(session: AsyncSession, principal: Principal, document_id: str) -> bool:
    for certification in await repo.certifications_citing(session, document_id):
        stage = REVIEW_STAGES.get(CertificationStatus(certification.status))
        if stage is None or stage.role not in principal.roles:
            continue
        if stage.role != COUNTY_REVIEWER or (principal.region and principal.region == certification.region_code):
            return True
    if COUNTY_REVIEWER in principal.roles and principal.region:
        for request in await repo.submitted_change_requests_citing(session, document_id):
            if request.region_code == principal.region:
                return True
    return False


# --- reading the bytes ------------------------------------------------------------------------------------


async def open_stream(store: EncryptedStore, document: Document) -> AsyncIterator[bytes]:
    """The document's bytes, decrypted as they stream; the first chunk is opened here, so that a missing or
    damaged object is an error answer (500, logged) before any byte is sent. Damage further on cuts the
    stream short (the declared Content-Length then tells the client it did not get the whole file)."""
    try:
        stream = await store.get(document.object_key)
        first = await anext(stream, b"")
    except (CipherError, LookupError) as exc:
        logger.error("document %s (object %s) does not open: %s", document.id, document.object_key, exc)
        raise DocumentDamaged(document.id) from exc
    return _rest(document, first, stream)


async def _rest(document: Document, first: bytes, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    try:
        async for chunk in stream:
            yield chunk
    except CipherError as exc:
        # The answer has started: all that is left is to cut it short (its Content-Length says so) and log it.
        logger.error("document %s (object %s) broke off while read: %s", document.id, document.object_key, exc)
        raise


def download_headers(document: Document) -> dict[str, str]:
    """Headers of a document's download: never cached, never sniffed, saved under its name with the right
    extension."""
    name = document.file_name
    extension = _EXTENSIONS.get(document.content_type, "")
    if not name.lower().endswith((extension, ".jpeg") if extension == ".jpg" else (extension,)):
        name += extension
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_").replace("\\", "_")
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
        "Content-Length": str(document.size),
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


# --- cited as evidence ------------------------------------------------------------------------------------


async def get_many(session: AsyncSession, document_ids: Sequence[str]) -> list[Document]:
    """These documents, whoever owns them (for views of cases that cite them)."""
    return list((await repo.documents_by_id(session, sorted(set(document_ids)))).values())


async def owned(session: AsyncSession, talent_id: str, document_ids: Sequence[str]) -> dict[str, Document]:
    """The talent's own documents among these ids, by id (anyone else's are left out)."""
    return {d.id: d for d in await repo.documents_of(session, talent_id, sorted(set(document_ids)))}


async def require_owned(
    session: AsyncSession, talent_id: str, document_ids: list[str], *, field: str = "document_ids"
) -> list[Document]:
    """The talent's documents with these ids, in the order given; a 422 naming every id that is not theirs
    (an unknown id and another talent's look the same). `field` names where the ids were sent: the error's
    field is `<field>.<index>`, or `field` with `{i}` replaced by the index (`"evidence.{i}.document_id"`)."""
    found = await owned(session, talent_id, document_ids)
    unknown = [
        (field.format(i=i) if "{i}" in field else f"{field}.{i}", d)
        for i, d in enumerate(document_ids)
        if d not in found
    ]
    if unknown:
        raise UnknownDocuments(unknown)
    return [found[d] for d in document_ids]
