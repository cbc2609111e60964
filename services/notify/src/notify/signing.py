"""How partner deliveries are signed, in two forms carried side by side on every delivery:

- `X-Talent-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 of "<t>.<body>" with each valid secret;
- Standard Webhooks (standardwebhooks.com), so partners can verify with an off-the-shelf library:
  `webhook-id` (the delivery's id, the same on every retry), `webhook-timestamp` (unix seconds) and
  `webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">[ v1,<...>]`.

Both use the same key bytes: the UTF-8 bytes of the secret the partner chose. Standard Webhooks libraries take
the key as `whsec_<base64 of those bytes>`, which partners are shown when they subscribe or rotate.
During a secret rotation each form carries two signatures, one per secret, so a partner may verify with either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

HEADER = "X-Talent-Signature"
STANDARD_ID = "webhook-id"
STANDARD_TIMESTAMP = "webhook-timestamp"
STANDARD_SIGNATURE = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix, not a secret)


def standard_secret(secret: str) -> str:
    """The partner's secret in the form Standard Webhooks libraries take: the same key bytes, base64 encoded."""
    return STANDARD_SECRET_PREFIX + base64.b64encode(secret.encode()).decode()


def standard_signature(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>` per secret (current first), space separated, over "<id>.<timestamp>.<body>"."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(s.encode(), signed, hashlib.sha256).digest()).decode() for s in secrets
    )


def headers(secrets: Sequence[str], message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Every signature header of one delivery attempt, both forms signed at the same moment."""
    t = int(time.time()) if timestamp is None else timestamp
    return {
        HEADER: sign(secrets, body, t),
        STANDARD_ID: message_id,
        STANDARD_TIMESTAMP: str(t),
        STANDARD_SIGNATURE: standard_signature(secrets, message_id, t, body),
    }


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
