"""Messages in the caller's language: catalogues as data, Accept-Language negotiation, city-time formatting.

Each service ships `data/messages.json` — `{"<key>": {"zh-CN": "…{param}…", "en": "…{param}…"}}` — and
registers it once (`register_package("benefits")`); the kit's own catalogue (titles, validation errors,
auth and rate-limit problems) is always loaded. Keys are namespaced by service (`benefits.claim_not_found`),
so the catalogues of every service imported into one process merge without clashing.

Placeholders are `str.format` fields; a format spec names a formatter for values that must read well in
either language: `{until:datetime}` and `{on:date}` render an aware datetime (or its ISO text, as stored
in JSON) in city time, `{amount:fen}` renders fen as yuan, `{amount:yuan}` a yuan amount, and
`{cause:message}` renders a parameter that is itself a catalogue key.
"""

from __future__ import annotations

import json
import logging
import re
import string
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

logger = logging.getLogger("servicekit.messages")

ZH_CN = "zh-CN"
EN = "en"
LOCALES: tuple[str, ...] = (ZH_CN, EN)
# A caller that names no language is an API client reading the English API documentation (and every
# existing integration); the city's apps always send Accept-Language from their UI language.
DEFAULT_LOCALE = EN
CITY_TIME_ZONE = ZoneInfo("Asia/Shanghai")

Catalogue = dict[str, dict[str, str]]


@dataclass
class _RequestLocale:
    """The request's negotiated locale, and whether a localized text was sent (so the response says so)."""

    locale: str = DEFAULT_LOCALE
    rendered: bool = False


_request: ContextVar[_RequestLocale | None] = ContextVar("servicekit_request_locale", default=None)

# --- negotiation -------------------------------------------------------------------------------------------

_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+)\s*)?$")


def _supported(language_range: str) -> str | None:
    primary = language_range.lower().split("-", 1)[0]
    if primary == "zh":  # zh, zh-CN, zh-Hans, zh-Hans-CN, and zh-TW too: simplified beats English for them
        return ZH_CN
    if primary == "en":
        return EN
    return None


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The supported locale the caller prefers most (RFC 9110 §12.5.4 q-values), else `default`."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    refused: set[str] = set()
    wildcard: float | None = None
    for position, part in enumerate(accept_language.split(",")):
        match = _RANGE.match(part)
        if not match:
            continue
        try:
            q = float(match.group(2)) if match.group(2) is not None else 1.0
        except ValueError:
            continue
        if match.group(1) == "*":
            wildcard = q
            continue
        locale = _supported(match.group(1))
        if locale is None:
            continue
        if q <= 0:
            refused.add(locale)
        else:
            ranked.append((-q, position, locale))
    for _, _, locale in sorted(ranked):
        if locale not in refused:
            return locale
    if wildcard is not None and wildcard > 0:
        return next((loc for loc in (default, *LOCALES) if loc not in refused), default)
    return default


def current_locale() -> str:
    """The locale of the request being served (the default outside a request)."""
    state = _request.get()
    return state.locale if state else DEFAULT_LOCALE


def begin_request(accept_language: str | None) -> tuple[_RequestLocale, Any]:
    """Negotiate the request's locale and make it current; returns the state and the ContextVar token."""
    state = _RequestLocale(locale=negotiate(accept_language))
    return state, _request.set(state)


def end_request(token: Any) -> None:
    _request.reset(token)


def use_locale(locale: str) -> Any:
    """Make `locale` current (a worker rendering for a known reader; tests); reset with `end_request`."""
    return _request.set(_RequestLocale(locale=locale if locale in LOCALES else DEFAULT_LOCALE))


def language_headers(state: _RequestLocale | None = None) -> dict[str, str]:
    """Content-Language and Vary for a response whose text was rendered in the request's locale."""
    state = state or _request.get()
    return {"Content-Language": state.locale if state else DEFAULT_LOCALE, "Vary": "Accept-Language"}


# --- catalogues --------------------------------------------------------------------------------------------

_registry: Catalogue = {}
_loaded: set[str] = set()


def load_catalogue(package: str, name: str = "data/messages.json") -> Catalogue:
    """Read a package's catalogue file (not registered)."""
    raw = json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{package}/{name}: a catalogue is an object of keys")
    return {str(k): dict(v) for k, v in raw.items() if not str(k).startswith("$")}


def register_catalogue(owner: str, catalogue: Mapping[str, Mapping[str, str]]) -> None:
    """Add `owner`'s keys to the process-wide registry (a later registration of the same owner replaces)."""
    _registry.update({key: dict(entry) for key, entry in catalogue.items()})
    _loaded.add(owner)


def register_package(package: str, name: str = "data/messages.json") -> Catalogue:
    """Load a package's catalogue into the process-wide registry (once) and return it."""
    catalogue = load_catalogue(package, name)
    if package not in _loaded:
        register_catalogue(package, catalogue)
    return catalogue


def registry() -> Catalogue:
    """Every registered key (the kit's and each registered service's)."""
    if "servicekit" not in _loaded:
        register_package("servicekit")
    return _registry


def has_key(key: str) -> bool:
    return key in registry()


# --- formatting --------------------------------------------------------------------------------------------

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise TypeError(f"not a datetime: {type(value).__name__}")
    if moment.tzinfo is None:  # stored naive means UTC throughout the platform (SQLite drops the offset)
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(CITY_TIME_ZONE)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return _as_datetime(value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return _as_datetime(value).date() if "T" in value else date.fromisoformat(value)
    raise TypeError(f"not a date: {type(value).__name__}")


def format_date(value: date | datetime | str, locale: str | None = None) -> str:
    """A calendar day as a reader writes it: 2026年12月7日 / 7 Dec 2026 (datetimes in city time)."""
    day = _as_date(value)
    if (locale or current_locale()) == ZH_CN:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def format_datetime(value: datetime | str, locale: str | None = None) -> str:
    """A moment in city time (Asia/Shanghai), to the minute: 2026年12月7日 05:44 / 7 Dec 2026, 05:44 (UTC+8)."""
    moment = _as_datetime(value)
    if (locale or current_locale()) == ZH_CN:
        return f"{format_date(moment, ZH_CN)} {moment:%H:%M}"
    return f"{format_date(moment, EN)}, {moment:%H:%M} (UTC+8)"


def format_yuan(amount: int | float | Decimal | str, locale: str | None = None) -> str:
    """An amount in yuan: 1,234.50元 / CNY 1,234.50."""
    text = f"{Decimal(str(amount)):,.2f}"
    return f"{text}元" if (locale or current_locale()) == ZH_CN else f"CNY {text}"


def format_fen(amount: int | str, locale: str | None = None) -> str:
    """An amount stored in fen, shown in yuan."""
    return format_yuan(Decimal(int(amount)) / 100, locale)


def format_message(key: str, locale: str | None = None) -> str:
    """A parameter that is itself a catalogue key (a cause inside a sentence), in the same language."""
    return render(str(key), None, locale)


_SPECS = {
    "datetime": format_datetime,
    "date": format_date,
    "yuan": format_yuan,
    "fen": format_fen,
    "message": format_message,
}


class _Formatter(string.Formatter):
    def __init__(self, locale: str) -> None:
        self.locale = locale

    def format_field(self, value: Any, format_spec: str) -> str:
        named = _SPECS.get(format_spec)
        if named is not None:
            return str(named(value, self.locale))
        return str(super().format_field(value, format_spec))


def render(
    key: str, params: Mapping[str, Any] | None = None, locale: str | None = None, *, fallback: str | None = None
) -> str:
    """The text of `key` in `locale` (default: the request's), its placeholders filled from `params`.

    An unknown key, or params that do not fit, give `fallback` (or the key itself) and a warning: a missing
    message must not turn a helpful 4xx into a 500.
    """
    chosen = locale or current_locale()
    entry = registry().get(key)
    if entry is None:
        logger.warning("no message for key %s", key)
        return fallback if fallback is not None else key
    template = entry.get(chosen) or entry.get(DEFAULT_LOCALE) or next(iter(entry.values()), key)
    try:
        text = _Formatter(chosen).vformat(template, (), dict(params or {}))
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        logger.warning("message %s could not be filled: %s", key, type(exc).__name__)
        return fallback if fallback is not None else template
    state = _request.get()
    if state is not None:
        state.rendered = True
    return text


def both(key: str, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The text in every locale (for payloads stored or sent once, read in either language)."""
    return {loc: render(key, params, loc) for loc in LOCALES}


@dataclass(frozen=True)
class Message:
    """A text kept as key + params (JSON-able: times as ISO text) and rendered when, and in the language in
    which, it is read — for texts stored now and read later (history lines, reasons)."""

    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def render(self, locale: str | None = None) -> str:
        return render(self.key, self.params, locale)

    def english(self) -> str:
        """For logs, audit records and partner events, whose language is fixed."""
        return render(self.key, self.params, EN)

    def stored(self) -> dict[str, Any]:
        return {"key": self.key, "params": dict(self.params)}

    @classmethod
    def from_stored(cls, value: Mapping[str, Any] | None) -> Message | None:
        if not value or not isinstance(value.get("key"), str):
            return None
        return cls(value["key"], dict(value.get("params") or {}))


# --- the catalogue check every service's tests run ---------------------------------------------------------


def _fields(template: str) -> set[str]:
    return {f"{name}:{spec}" for _, name, spec, _ in string.Formatter().parse(template) if name is not None}


def _domain_error_classes(module: ModuleType) -> Iterator[type]:
    from servicekit.problems import DomainError

    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, DomainError) and value.__module__ == module.__name__:
            yield value


def check_catalogue(
    catalogue: Mapping[str, Mapping[str, str]],
    *,
    exceptions: Iterable[ModuleType] | ModuleType = (),
    locales: Iterable[str] = LOCALES,
    keys: Iterable[str] = (),
) -> list[str]:
    """What is wrong with a catalogue, as sentences (empty when complete): a key without every locale, a
    placeholder (name and format) in one locale but not another, a template that does not parse, a
    DomainError subclass of `exceptions` without a key in the catalogue (or the kit's), and any of `keys`
    (e.g. every reason code a service can give) missing."""
    wanted = tuple(locales)
    found: list[str] = []
    for name, entry in sorted(catalogue.items()):
        missing = [loc for loc in wanted if not entry.get(loc)]
        if missing:
            found.append(f"{name}: no text for {', '.join(missing)}")
            continue
        try:
            fields = {loc: _fields(entry[loc]) for loc in wanted}
        except ValueError as exc:
            found.append(f"{name}: malformed template ({exc})")
            continue
        first = fields[wanted[0]]
        for loc in wanted[1:]:
            if fields[loc] != first:
                found.append(f"{name}: placeholders differ: {wanted[0]} {sorted(first)} vs {loc} {sorted(fields[loc])}")
        for spec in {f.split(":", 1)[1] for f in first} - {""} - set(_SPECS):
            found.append(f"{name}: unknown format {spec!r}")
    known = set(catalogue) | set(registry())
    modules = [exceptions] if isinstance(exceptions, ModuleType) else list(exceptions)
    for module in modules:
        for cls in _domain_error_classes(module):
            key: str | None = getattr(cls, "key", None)
            if not key:
                found.append(f"{module.__name__}.{cls.__name__}: no message key")
            elif key not in known:
                found.append(f"{module.__name__}.{cls.__name__}: key {key} not in the catalogue")
    for wanted_key in keys:
        if wanted_key not in known:
            found.append(f"{wanted_key}: not in the catalogue")
    return found


__all__ = [
    "CITY_TIME_ZONE",
    "DEFAULT_LOCALE",
    "EN",
    "LOCALES",
    "ZH_CN",
    "Message",
    "begin_request",
    "both",
    "check_catalogue",
    "current_locale",
    "end_request",
    "format_date",
    "format_datetime",
    "format_fen",
    "format_message",
    "format_yuan",
    "has_key",
    "language_headers",
    "load_catalogue",
    "negotiate",
    "register_catalogue",
    "register_package",
    "registry",
    "render",
    "use_locale",
]
