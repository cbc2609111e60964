"""The kit's object stores (a local directory; an S3-protocol store: moto's S3 server on 127.0.0.1) and the
chunked encryption wrapped around them."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from servicekit.crypto import CipherError
from servicekit.objectstore import (
    CHUNK_SIZE,
    EncryptedStore,
    LocalDiskStore,
    ObjectNotFound,
    S3Store,
    StreamCipher,
)

KEYS = "d2:second-document-key-material-0123456789,d1:first-document-key-material-0123456789"


async def chunks_of(data: bytes, size: int = 10_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


@pytest.fixture
def cipher() -> StreamCipher:
    return StreamCipher.from_spec(KEYS)


async def test_a_local_store_writes_whole_objects_by_renaming_a_temporary_file(tmp_path: Path) -> None:
    store = LocalDiskStore(tmp_path)
    data = os.urandom(3 * CHUNK_SIZE + 17)
    assert await store.put("ab/object-1", chunks_of(data)) == len(data)
    assert await read_all(await store.get("ab/object-1")) == data
    assert [p.name for p in (tmp_path / "ab").iterdir()] == ["object-1"]  # no temporary file left behind

    async def failing() -> AsyncIterator[bytes]:
        yield b"half of it"
        raise RuntimeError("the upload broke off")

    with pytest.raises(RuntimeError):
        await store.put("ab/object-2", failing())
    assert [p.name for p in (tmp_path / "ab").iterdir()] == ["object-1"]  # neither a partial object nor a temp file

    await store.delete("ab/object-1")
    with pytest.raises(ObjectNotFound):
        await store.get("ab/object-1")
    await store.delete("ab/object-1")  # deleting what is gone is fine


@pytest.mark.parametrize("key", ["../escape", "/absolute", "a/../../b", "a//b", "", "with space"])
async def test_a_local_store_refuses_keys_that_are_not_plain_relative_paths(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        await LocalDiskStore(tmp_path).put(key, chunks_of(b"x"))


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 200_001])
async def test_sealed_streams_round_trip_at_every_chunk_boundary(cipher: StreamCipher, size: int) -> None:
    data = os.urandom(size)
    sealed = await read_all(cipher.seal(chunks_of(data, 7_001), b"key-1"))
    # A plaintext of a few random bytes may occur in any ciphertext by chance; 16 cannot (p ≈ 2⁻¹²⁸ per offset).
    assert size < 16 or data[:64] not in sealed
    # Whatever the pieces the sealed bytes come back in, the plaintext is the same.
    for piece in (1, 4096, 100_000):
        assert await read_all(cipher.open(chunks_of(sealed, piece), b"key-1")) == data


async def test_truncation_reordering_tampering_and_swapping_are_detected(cipher: StreamCipher) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 5)
    sealed = await read_all(cipher.seal(chunks_of(data), b"doc-a"))
    header = len(sealed) - (len(data) + 4 * 16)
    sealed_chunk = CHUNK_SIZE + 16
    body = sealed[header:]
    first, second = body[:sealed_chunk], body[sealed_chunk : 2 * sealed_chunk]

    damaged = {
        "truncated at a chunk boundary": sealed[: header + 3 * sealed_chunk],
        "truncated inside a chunk": sealed[:-10],
        "chunks reordered": sealed[:header] + second + first + body[2 * sealed_chunk :],
        "one byte flipped": sealed[:100] + bytes([sealed[100] ^ 1]) + sealed[101:],
        "header only": sealed[:header],
    }
    for what, broken in damaged.items():
        with pytest.raises(CipherError):
            await read_all(cipher.open(chunks_of(broken), b"doc-a"))
        assert what
    # The same sealed bytes stored under another key (a file swapped for another) do not open.
    with pytest.raises(CipherError):
        await read_all(cipher.open(chunks_of(sealed), b"doc-b"))
    # A chunk of another object (its own random prefix) does not open in this one.
    other = await read_all(cipher.seal(chunks_of(data), b"doc-a"))
    spliced = sealed[:header] + other[header : header + sealed_chunk] + body[sealed_chunk:]
    with pytest.raises(CipherError):
        await read_all(cipher.open(chunks_of(spliced), b"doc-a"))


async def test_an_old_key_still_opens_what_it_sealed_after_a_rotation() -> None:
    old = StreamCipher.from_spec("d1:first-document-key-material-0123456789")
    sealed = await read_all(old.seal(chunks_of(b"sealed before the rotation"), b"k"))
    rotated = StreamCipher.from_spec(KEYS)
    assert rotated.active_kid == "d2" and old.key_id_of(sealed[:20]) == "d1"
    assert await read_all(rotated.open(chunks_of(sealed), b"k")) == b"sealed before the rotation"
    with pytest.raises(CipherError, match="no key"):
        await read_all(StreamCipher.from_spec("d3:another-key-material-0123456789ab").open(chunks_of(sealed), b"k"))


async def test_an_encrypted_store_keeps_no_plaintext_at_rest(tmp_path: Path, cipher: StreamCipher) -> None:
    store = EncryptedStore(LocalDiskStore(tmp_path), cipher)
    data = b"PLAINTEXT-MARKER " * 10_000
    assert await store.put("doc-1", chunks_of(data)) == len(data)
    at_rest = (tmp_path / "doc-1").read_bytes()
    assert b"PLAINTEXT-MARKER" not in at_rest
    assert await read_all(await store.get("doc-1")) == data


# --- S3: moto's S3 server, bound to 127.0.0.1 -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-protocol server (ThreadedMotoServer) on 127.0.0.1; skipped only when it cannot start."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - moto[server] is a dev dependency
        pytest.skip(f"moto's S3 server is not installed: {exc}")
    port = _free_port()
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
async def s3_store(s3_endpoint: str) -> AsyncIterator[S3Store]:
    store = S3Store(s3_endpoint, "talent-documents", access_key="testing", secret_key="testing", prefix="applicant")
    await store.create_bucket()
    await store.create_bucket()  # a bucket that exists already is fine
    try:
        yield store
    finally:
        await store.close()


async def test_the_s3_store_round_trips_small_and_multipart_objects(s3_store: S3Store) -> None:
    small = os.urandom(1000)
    assert await s3_store.put("ab/small", chunks_of(small)) == len(small)
    assert await read_all(await s3_store.get("ab/small")) == small

    large = os.urandom(2 * S3Store.MIN_PART_SIZE + 12_345)  # three parts: a multipart upload
    assert await s3_store.put("ab/large", chunks_of(large, 65_536)) == len(large)
    got = await read_all(await s3_store.get("ab/large"))
    assert hashlib.sha256(got).digest() == hashlib.sha256(large).digest()

    await s3_store.delete("ab/small")
    with pytest.raises(ObjectNotFound):
        await s3_store.get("ab/small")
    await s3_store.delete("ab/small")


async def test_an_encrypted_s3_store_keeps_no_plaintext_and_detects_tampering(
    s3_store: S3Store, cipher: StreamCipher
) -> None:
    store = EncryptedStore(s3_store, cipher)
    data = b"PLAINTEXT-MARKER " * 20_000
    await store.put("doc-s3", chunks_of(data))
    at_rest = await read_all(await s3_store.get("doc-s3"))
    assert b"PLAINTEXT-MARKER" not in at_rest
    assert await read_all(await store.get("doc-s3")) == data

    tampered = at_rest[:500] + bytes([at_rest[500] ^ 0xFF]) + at_rest[501:]
    await s3_store.put("doc-s3", chunks_of(tampered))
    with pytest.raises(CipherError):
        await read_all(await store.get("doc-s3"))
