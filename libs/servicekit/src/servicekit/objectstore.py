"""Object storage for files (documents, scans): a local directory or an S3-compatible store, and a wrapper that
encrypts what it stores, all streamed in chunks so that no file is ever held whole in memory.

- `ObjectStore`: put an object from an async iterator of chunks, get it back as one, delete it.
- `LocalDiskStore`: a directory (the embedded default); every write goes to a temporary file that is renamed
  into place, so a reader never sees half an object and a crash leaves none.
- `S3Store`: any S3-protocol store (AWS S3, MinIO, Ceph RGW, …) over httpx, requests signed with botocore's
  SigV4 signer; objects larger than one part go up as a multipart upload, parts buffered one at a time.
- `EncryptedStore` + `StreamCipher`: AES-256-GCM in 64 KiB chunks with a STREAM-style nonce (a random prefix
  per object, the chunk counter and a last-chunk flag), the key id and prefix in a header bound to every chunk
  together with the object's key: a truncated, reordered, spliced or swapped object fails to decrypt.

Sealed layout: ``b"SKS1" | len(kid) (1 byte) | kid | prefix (7 bytes)`` then the chunks, each the ciphertext
of up to 64 KiB of plaintext followed by its 16-byte tag (the last one may be shorter, and is never absent:
an empty object is one empty last chunk).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import struct
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import BinaryIO, Protocol
from urllib.parse import quote

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from servicekit.crypto import CipherError, parse_keyring

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
MAGIC = b"SKS1"
PREFIX_SIZE = 7
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class ObjectNotFound(LookupError):
    """No object is stored under the key."""


class ObjectStoreError(RuntimeError):
    """The store failed (an S3 error answer, an unreachable endpoint)."""


def check_key(key: str) -> str:
    """Object keys are relative paths of plain names (no `..`, no leading `/`, no odd characters)."""
    if len(key) > 500 or not _KEY.match(key) or ".." in key:
        raise ValueError(f"not a valid object key: {key!r}")
    return key


class ObjectStore(Protocol):
    """Where objects are kept; every method streams."""

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Store the chunks under `key` (replacing any object there) once all arrived; the bytes stored."""
        ...

    async def get(self, key: str) -> AsyncIterator[bytes]:
        """The object's bytes in chunks; ObjectNotFound (raised here, before any chunk) when there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        ...


# --- local disk -------------------------------------------------------------------------------------------


class LocalDiskStore:
    """Objects as files under `root` (created on first write); keys are relative paths."""

    def __init__(self, root: str | Path, *, read_size: int = CHUNK_SIZE + TAG_SIZE) -> None:
        self.root = Path(root)
        self.read_size = read_size

    def path_of(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        target = self.path_of(key)
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        fd, temporary = await asyncio.to_thread(tempfile.mkstemp, dir=target.parent, prefix=".tmp-")
        written = 0
        try:
            with os.fdopen(fd, "wb") as file:
                async for chunk in chunks:
                    await asyncio.to_thread(file.write, chunk)
                    written += len(chunk)
                await asyncio.to_thread(_sync, file)
            await asyncio.to_thread(os.replace, temporary, target)
        except BaseException:
            await asyncio.to_thread(_unlink, Path(temporary))
            raise
        return written

    async def get(self, key: str) -> AsyncIterator[bytes]:
        path = self.path_of(key)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc
        return self._read(file)

    async def _read(self, file: BinaryIO) -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(file.read, self.read_size):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(_unlink, self.path_of(key))


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


# --- S3 ---------------------------------------------------------------------------------------------------


class S3Store:
    """An S3-protocol bucket, addressed path-style (``<endpoint>/<bucket>/<key>``), requests signed with SigV4."""

    # S3's smallest part (every part but the last); also the most a put holds in memory at once.
    MIN_PART_SIZE = 5 * 1024 * 1024

    def __init__(
        self,
        endpoint_url: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
        part_size: int = MIN_PART_SIZE,
        timeout_s: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if part_size < self.MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {self.MIN_PART_SIZE} bytes (S3's smallest part)")
        self.endpoint_url = endpoint_url.rstrip("/")
        self.bucket = bucket
        self.region = region
        self.prefix = prefix.strip("/")
        self.part_size = part_size
        # botocore (only its SigV4 signer) is imported when an S3 store is made: a local store never needs it.
        from botocore.credentials import Credentials

        self._credentials = Credentials(access_key, secret_key)
        self._client = client or httpx.AsyncClient(timeout=timeout_s, trust_env=False, follow_redirects=False)

    async def close(self) -> None:
        await self._client.aclose()

    def _url(self, key: str | None = None, query: str = "") -> str:
        path = f"/{quote(self.bucket, safe='')}"
        if key is not None:
            full = f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)
            path += "/" + quote(full, safe="/-_.~")
        return self.endpoint_url + path + (f"?{query}" if query else "")

    def _request(
        self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> httpx.Request:
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest

        signed = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
        S3SigV4Auth(self._credentials, "s3", self.region).add_auth(signed)
        return self._client.build_request(method, url, content=body, headers=dict(signed.headers.items()))

    async def _send(self, method: str, url: str, body: bytes = b"", *, ok: tuple[int, ...] = (200,)) -> httpx.Response:
        try:
            response = await self._client.send(self._request(method, url, body))
        except httpx.HTTPError as exc:
            raise ObjectStoreError(f"the object store did not answer: {type(exc).__name__}") from exc
        if response.status_code not in ok:
            raise ObjectStoreError(f"the object store answered {method} with {response.status_code}: {_code(response)}")
        return response

    async def create_bucket(self) -> None:
        """Create the bucket (for a fresh dev or test store); one that exists already is fine."""
        response = await self._send("PUT", self._url(), ok=(200, 409))
        if response.status_code == 409 and _code(response) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise ObjectStoreError(f"cannot create the bucket {self.bucket}: {_code(response)}")

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        buffer = bytearray()
        upload_id: str | None = None
        etags: list[str] = []
        written = 0
        try:
            async for chunk in chunks:
                buffer += chunk
                written += len(chunk)
                while len(buffer) >= self.part_size * 2 or (upload_id is None and len(buffer) > self.part_size):
                    if upload_id is None:
                        upload_id = await self._start_upload(key)
                    etags.append(await self._put_part(key, upload_id, len(etags) + 1, bytes(buffer[: self.part_size])))
                    del buffer[: self.part_size]
            if upload_id is None:  # it fitted in one part: one plain PUT
                await self._send("PUT", self._url(key), bytes(buffer))
                return written
            if buffer:
                etags.append(await self._put_part(key, upload_id, len(etags) + 1, bytes(buffer)))
            await self._complete_upload(key, upload_id, etags)
        except BaseException:
            if upload_id is not None:
                await self._abort_upload(key, upload_id)
            raise
        return written

    async def _start_upload(self, key: str) -> str:
        response = await self._send("POST", self._url(key, "uploads"))
        found = ET.fromstring(response.content).find("{*}UploadId")  # noqa: S314 - the configured store's answer
        if found is None or not found.text:
            raise ObjectStoreError("the object store started no multipart upload")
        return found.text

    async def _put_part(self, key: str, upload_id: str, number: int, body: bytes) -> str:
        query = f"partNumber={number}&uploadId={quote(upload_id, safe='')}"
        response = await self._send("PUT", self._url(key, query), body)
        return response.headers["etag"]

    async def _complete_upload(self, key: str, upload_id: str, etags: list[str]) -> None:
        parts = "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{_xml_text(etag)}</ETag></Part>"
            for n, etag in enumerate(etags, start=1)
        )
        body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
        response = await self._send("POST", self._url(key, f"uploadId={quote(upload_id, safe='')}"), body)
        if b"<Error>" in response.content:  # S3 may answer 200 and report the failure in the body
            raise ObjectStoreError(f"the object store did not complete the upload: {_code(response)}")

    async def _abort_upload(self, key: str, upload_id: str) -> None:
        # When even this fails, the bucket's lifecycle rule for incomplete uploads removes what is left.
        with contextlib.suppress(ObjectStoreError):
            await self._send("DELETE", self._url(key, f"uploadId={quote(upload_id, safe='')}"), ok=(204, 200, 404))

    async def get(self, key: str) -> AsyncIterator[bytes]:
        request = self._request("GET", self._url(key))
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ObjectStoreError(f"the object store did not answer: {type(exc).__name__}") from exc
        if response.status_code != 200:
            await response.aread()
            await response.aclose()
            if response.status_code == 404:
                raise ObjectNotFound(key)
            raise ObjectStoreError(f"the object store answered GET with {response.status_code}: {_code(response)}")
        return self._stream(response)

    @staticmethod
    async def _stream(response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:
            raise ObjectStoreError(f"the object store broke off: {type(exc).__name__}") from exc
        finally:
            await response.aclose()

    async def delete(self, key: str) -> None:
        await self._send("DELETE", self._url(key), ok=(204, 200, 404))


def _code(response: httpx.Response) -> str:
    match = re.search(rb"<Code>([^<]{1,100})</Code>", response.content or b"")
    return match.group(1).decode(errors="replace") if match else str(response.status_code)


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


# --- encryption -------------------------------------------------------------------------------------------


class StreamCipher:
    """Chunked AES-256-GCM over a keyring (``kid:material[,...]``): the first key seals, every key opens."""

    def __init__(self, keyring: Mapping[str, bytes], *, chunk_size: int = CHUNK_SIZE) -> None:
        for kid in keyring:
            if not 0 < len(kid.encode()) < 256:
                raise ValueError("a key id must have 1 to 255 bytes")
        self._keys = {kid: AESGCM(key) for kid, key in keyring.items()}
        self.active_kid = next(iter(keyring))
        self.chunk_size = chunk_size

    @classmethod
    def from_spec(cls, spec: str, *, chunk_size: int = CHUNK_SIZE) -> StreamCipher:
        return cls(parse_keyring(spec), chunk_size=chunk_size)

    @staticmethod
    def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
        return prefix + struct.pack(">IB", counter, 1 if last else 0)

    async def seal(self, chunks: AsyncIterator[bytes], associated_data: bytes = b"") -> AsyncIterator[bytes]:
        """The sealed form of the chunks (the header first), bound to `associated_data` (e.g. the object key)."""
        kid = self.active_kid.encode()
        prefix = os.urandom(PREFIX_SIZE)
        header = MAGIC + bytes([len(kid)]) + kid + prefix
        aad = header + associated_data
        key = self._keys[self.active_kid]
        yield header
        buffer = bytearray()
        counter = 0
        async for chunk in chunks:
            buffer += chunk
            while len(buffer) > self.chunk_size:  # more follows: not the last chunk
                yield key.encrypt(self._nonce(prefix, counter, False), bytes(buffer[: self.chunk_size]), aad)
                del buffer[: self.chunk_size]
                counter += 1
        yield key.encrypt(self._nonce(prefix, counter, True), bytes(buffer), aad)

    async def open(self, sealed: AsyncIterator[bytes], associated_data: bytes = b"") -> AsyncIterator[bytes]:
        """The plaintext of a sealed stream, chunk by chunk; CipherError as soon as anything does not check."""
        buffer = bytearray()
        header: bytes | None = None
        key: AESGCM | None = None
        prefix = b""
        counter = 0
        sealed_size = self.chunk_size + TAG_SIZE
        async for piece in sealed:
            buffer += piece
            if header is None:
                parsed = self._header(buffer)
                if parsed is None:
                    continue
                header, key, prefix = parsed
                del buffer[: len(header)]
            assert key is not None
            while len(buffer) > sealed_size:  # more follows: not the last chunk
                yield self._open_chunk(
                    key, prefix, counter, False, bytes(buffer[:sealed_size]), header + associated_data
                )
                del buffer[:sealed_size]
                counter += 1
        if header is None or key is None:
            raise CipherError("the sealed object ends before its header")
        yield self._open_chunk(key, prefix, counter, True, bytes(buffer), header + associated_data)

    def key_id_of(self, header: bytes) -> str:
        parsed = self._header(bytearray(header))
        if parsed is None:
            raise CipherError("not a complete header")
        return parsed[0][len(MAGIC) + 1 : -PREFIX_SIZE].decode()

    def _header(self, buffer: bytearray) -> tuple[bytes, AESGCM, bytes] | None:
        if len(buffer) < len(MAGIC) + 1:
            return None
        if bytes(buffer[: len(MAGIC)]) != MAGIC:
            raise CipherError("not a sealed object (unknown format)")
        end = len(MAGIC) + 1 + buffer[len(MAGIC)] + PREFIX_SIZE
        if len(buffer) < end:
            return None
        header = bytes(buffer[:end])
        kid = header[len(MAGIC) + 1 : end - PREFIX_SIZE].decode(errors="replace")
        key = self._keys.get(kid)
        if key is None:
            raise CipherError(f"no key with id {kid!r} is configured")
        return header, key, header[-PREFIX_SIZE:]

    def _open_chunk(self, key: AESGCM, prefix: bytes, counter: int, last: bool, chunk: bytes, aad: bytes) -> bytes:
        if len(chunk) < TAG_SIZE:
            raise CipherError("the sealed object is truncated")
        try:
            return key.decrypt(self._nonce(prefix, counter, last), chunk, aad)
        except InvalidTag as exc:
            raise CipherError(f"chunk {counter} of the sealed object does not decrypt (damaged or truncated)") from exc


class EncryptedStore:
    """An ObjectStore that seals every object with a StreamCipher, bound to its key (so objects cannot be swapped)."""

    def __init__(self, store: ObjectStore, cipher: StreamCipher) -> None:
        self.store = store
        self.cipher = cipher

    @property
    def active_kid(self) -> str:
        return self.cipher.active_kid

    async def put(self, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Seal and store the chunks; the plaintext bytes stored."""
        counted = _Counted(chunks)
        await self.store.put(key, self.cipher.seal(counted.chunks(), key.encode()))
        return counted.size

    async def get(self, key: str) -> AsyncIterator[bytes]:
        return self.cipher.open(await self.store.get(key), key.encode())

    async def delete(self, key: str) -> None:
        await self.store.delete(key)

    async def close(self) -> None:
        """Close the underlying store's connections, when it keeps any (an S3 store's client)."""
        close = getattr(self.store, "close", None)
        if close is not None:
            await close()


class _Counted:
    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self.size = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.size += len(chunk)
            yield chunk


__all__ = [
    "CHUNK_SIZE",
    "EncryptedStore",
    "LocalDiskStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectStoreError",
    "S3Store",
    "StreamCipher",
    "check_key",
]
