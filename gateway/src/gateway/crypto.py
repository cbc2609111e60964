"""Keyed hashes, AES-GCM sealing and argon2id: the gateway's only cryptographic primitives."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_SEAL_VERSION = b"\x01"


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from a configured secret of any length."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"talent-gateway:{purpose}".encode()).derive(
        secret.encode()
    )


class KeyedHasher:
    """HMAC-SHA256 with domain separation: lookups and comparisons without storing the value."""

    def __init__(self, secret: str) -> None:
        self._key = derive_key(secret, "hash")

    def digest(self, purpose: str, value: str) -> str:
        return hmac.new(self._key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def matches(self, purpose: str, value: str, expected: str) -> bool:
        return hmac.compare_digest(self.digest(purpose, value), expected)


class SealError(ValueError):
    """A sealed value could not be opened (wrong key, or tampered)."""


class Sealer:
    """AES-256-GCM with a random nonce; the associated data binds a ciphertext to its row."""

    def __init__(self, secret: str, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret, purpose))

    def seal(self, plaintext: bytes, associated: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, associated.encode())
        return base64.urlsafe_b64encode(_SEAL_VERSION + nonce + sealed).decode()

    def open(self, token: str, associated: str) -> bytes:
        raw = base64.urlsafe_b64decode(token.encode())
        if raw[:1] != _SEAL_VERSION:
            raise SealError("unknown sealed-value version")
        try:
            return self._aead.decrypt(raw[1:13], raw[13:], associated.encode())
        except InvalidTag as exc:
            raise SealError("the value cannot be opened with the configured key") from exc


class SecretHasher:
    """argon2id for passwords and client secrets, run off the event loop."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
        # Verified against when the account does not exist, so both paths cost the same.
        self._dummy = self._hasher.hash(os.urandom(16).hex())

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    async def hash_async(self, secret: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, secret)

    async def verify(self, stored: str | None, secret: str) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored or self._dummy, secret) and stored is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
