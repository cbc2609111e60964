"""`X-Talent-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 of "<t>.<body>" with each valid secret.

During a secret rotation there are two v1 values, one per secret, so a partner may verify with either.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

HEADER = "X-Talent-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def sign(secrets: Sequence[str], body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` signed with every secret in `secrets` (current first)."""
    t = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={t}", *(f"v1={signature(s, t, body)}" for s in secrets)])


def verify(header: str, body: bytes, secret: str, *, tolerance_s: int = 300, now: float | None = None) -> bool:
    """What a partner does: some v1 matches the secret, and t is recent (which stops replays)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
