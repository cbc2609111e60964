"""Which webhook URLs notify will call: http(s) only, and outside dev never a loopback, private or link-local host.

The rule and the pinned connection are servicekit.safe_http's; here they get notify's message keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from servicekit.messages import EN, render
from servicekit.safe_http import REAL_NETWORK, Network, UnsafeUrl, parse_url
from servicekit.safe_http import check_url as check_safe_url


class InvalidTarget(ValueError):
    """A webhook URL notify refuses to call; `key` (notify.invalid.url_*) and `params` say why."""

    def __init__(self, key: str, params: Mapping[str, Any] | None = None) -> None:
        self.key, self.params = key, dict(params or {})
        super().__init__(render(key, self.params, EN))


# The kit's reasons (servicekit.safe_http.UnsafeUrl) in notify's words.
REFUSAL_KEYS = {
    "malformed": "notify.invalid.url_malformed",
    "scheme": "notify.invalid.url_scheme",
    "no_host": "notify.invalid.url_no_host",
    "credentials": "notify.invalid.url_credentials",
    "unresolved": "notify.invalid.url_unresolved",
    "private": "notify.invalid.url_private",
}


def refusal(exc: UnsafeUrl) -> InvalidTarget:
    """The kit's refusal as notify's InvalidTarget."""
    return InvalidTarget(REFUSAL_KEYS[exc.reason], exc.params)


def check_form(url: str) -> None:
    """Raise InvalidTarget unless `url` is an absolute http(s) URL with a host and no credentials."""
    try:
        parse_url(url)
    except UnsafeUrl as exc:
        raise refusal(exc) from exc


async def check_url(url: str, *, allow_private: bool, network: Network = REAL_NETWORK) -> None:
    """Raise InvalidTarget unless `url` is an absolute http(s) URL whose host resolves only to public addresses.

    Resolving (not only parsing) is what stops a name that points at 127.0.0.1 or 169.254.169.254 when a partner
    subscribes; each delivery's connection is checked again, and made to the address checked (the worker's
    pinned client), since the name may answer differently by then.
    """
    try:
        await check_safe_url(url, allow_private=allow_private, network=network)
    except UnsafeUrl as exc:
        raise refusal(exc) from exc
