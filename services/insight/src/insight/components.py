"""What insight builds once per process from its settings: the pseudonymiser and the answers' short cache."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from insight.config import InsightSettings
from insight.pseudonyms import Pseudonymiser


@dataclass
class AnswerCache:
    """Computed answers kept `ttl_s` seconds: a dashboard's burst of identical reads costs one GROUP BY each."""

    ttl_s: float
    _entries: dict[Hashable, tuple[float, Any]] = field(default_factory=dict)

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = await compute()
        if self.ttl_s > 0:
            if len(self._entries) > 1024:  # bounded: filters are free text, so keys are not
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            self._entries[key] = (now + self.ttl_s, value)
        return value


@dataclass
class Components:
    settings: InsightSettings
    pseudonymise: Pseudonymiser
    cache: AnswerCache

    @classmethod
    def from_settings(cls, settings: InsightSettings) -> Components:
        return cls(
            settings=settings,
            pseudonymise=Pseudonymiser(settings.pseudonym_key.get_secret_value()),
            cache=AnswerCache(settings.cache_ttl_s),
        )
