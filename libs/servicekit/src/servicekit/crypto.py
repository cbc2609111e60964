"""Field encryption (AES-GCM with key ids, so keys rotate) and keyed hashes for look-ups of personal data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class CipherError(ValueError):
    """A ciphertext that cannot be decrypted with any configured key."""


def derive_key(material: str) -> bytes:
    """A 256-bit key from configured material (base64 of 32 bytes, or any passphrase of 32+ characters)."""
    try:
        raw = base64.b64decode(material, validate=True)
        if len(raw) == 32:
            return raw
    except ValueError:
        pass
    return hashlib.sha256(material.encode()).digest()


def parse_keyring(spec: str) -> dict[str, bytes]:
    """Parse ``kid1:material1,kid2:material2``; the first key encrypts, every key decrypts."""
    ring: dict[str, bytes] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        kid, sep, material = part.partition(":")
        if not sep or not kid or not material:
            raise ValueError("a keyring entry must look like 'kid:material'")
        ring[kid] = derive_key(material)
    if not ring:
        raise ValueError("the keyring is empty")
    return ring


class FieldCipher:
    """Encrypts one field value as ``<kid>:<base64(nonce|ciphertext)>``; the kid says which key decrypts it."""

    def __init__(self, keyring: dict[str, bytes], *, associated_data: bytes = b"") -> None:
        self._keys = {kid: AESGCM(key) for kid, key in keyring.items()}
        self.active_kid = next(iter(keyring))
        self._aad = associated_data

    @classmethod
    def from_spec(cls, spec: str, *, associated_data: bytes = b"") -> FieldCipher:
        return cls(parse_keyring(spec), associated_data=associated_data)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self.active_kid].encrypt(nonce, plaintext.encode(), self._aad)
        return f"{self.active_kid}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        kid, _, body = token.partition(":")
        key = self._keys.get(kid)
        if key is None:
            raise CipherError(f"no key with id {kid!r} is configured")
        raw = base64.b64decode(body)
        try:
            return key.decrypt(raw[:12], raw[12:], self._aad).decode()
        except Exception as exc:
            raise CipherError("the ciphertext does not decrypt") from exc

    def needs_rotation(self, token: str) -> bool:
        return not token.startswith(f"{self.active_kid}:")


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 hex digest: equal inputs match, and the value cannot be guessed without the key."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
