"""The only form in which a talent reaches insight's database: HMAC-SHA256(INSIGHT_PSEUDONYM_KEY, talent id)."""

from __future__ import annotations

import hashlib
import hmac


class Pseudonymiser:
    """Turns a talent id into insight's pseudonym; without the key the id cannot be recovered or guessed."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def __call__(self, talent_id: str) -> str:
        return hmac.new(self._key, talent_id.encode(), hashlib.sha256).hexdigest()
