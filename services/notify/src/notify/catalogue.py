"""The rules of who hears what, loaded from the package's data files (data/catalogue.json, data/partners.json).

Categories, their default and locked channels, reminders before deadlines, partner payload allow-lists:
all of it is data an operator can read and change without touching code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from importlib.resources import files
from typing import Any, Literal

from contracts import EventData, model_for

Channel = Literal["in_app", "sms", "email"]
CHANNELS: tuple[Channel, ...] = ("in_app", "sms", "email")


@dataclass(frozen=True)
class Category:
    name: str
    critical: bool
    default_channels: tuple[Channel, ...]


@dataclass(frozen=True)
class Reminder:
    """A notification `before` the deadline named by `due_field` of the `on` event, unless a `cancel_on` event comes."""

    name: str
    on: str
    key_field: str
    due_field: str
    before: timedelta
    cancel_on: frozenset[str]
    category: str

    @property
    def template(self) -> str:
        return f"reminder.{self.name}"

    @property
    def timer_kind(self) -> str:
        return f"notify.reminder.{self.name}"


@dataclass(frozen=True)
class Catalogue:
    categories: dict[str, Category]
    event_categories: dict[str, str]
    # event type -> {data field: the values that make the event news}; a type not named here always is.
    event_conditions: dict[str, dict[str, frozenset[str]]]
    reminders: dict[str, Reminder]
    not_notified: dict[str, str]
    never_for_partners: frozenset[str]
    partner_payload_fields: dict[str, tuple[str, ...]]

    def category_of(self, event_type: str) -> Category:
        return self.categories[self.event_categories[event_type]]

    def notifies(self, event_type: str, data: EventData) -> bool:
        """Whether this event is news for its person: its type is notified and its data meets `only_when`."""
        if event_type not in self.event_categories:
            return False
        conditions = self.event_conditions.get(event_type, {})
        return all(str(getattr(data, field)) in values for field, values in conditions.items())

    def is_critical(self, category: str) -> bool:
        return self.categories[category].critical

    def reminders_started_by(self, event_type: str) -> list[Reminder]:
        return [r for r in self.reminders.values() if r.on == event_type]

    def reminders_cancelled_by(self, event_type: str) -> list[Reminder]:
        return [r for r in self.reminders.values() if event_type in r.cancel_on]


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(files("notify").joinpath("data", name).read_text(encoding="utf-8"))
    return data


@lru_cache
def load() -> Catalogue:
    """Read and check the data files once per process."""
    raw = _read("catalogue.json")
    partners = _read("partners.json")
    categories = {
        name: Category(name=name, critical=bool(spec["critical"]), default_channels=tuple(spec["default_channels"]))
        for name, spec in raw["categories"].items()
    }
    event_categories = {event_type: spec["category"] for event_type, spec in raw["events"].items()}
    event_conditions = {
        event_type: {field: frozenset(values) for field, values in spec["only_when"].items()}
        for event_type, spec in raw["events"].items()
        if "only_when" in spec
    }
    reminders = {
        name: Reminder(
            name=name,
            on=spec["on"],
            key_field=spec["key_field"],
            due_field=spec["due_field"],
            before=timedelta(hours=float(spec["before_hours"])),
            cancel_on=frozenset(spec["cancel_on"]),
            category=spec["category"],
        )
        for name, spec in raw["reminders"].items()
    }
    catalogue = Catalogue(
        categories=categories,
        event_categories=event_categories,
        event_conditions=event_conditions,
        reminders=reminders,
        not_notified=dict(raw["not_notified"]),
        never_for_partners=frozenset(partners["never"]),
        partner_payload_fields={t: tuple(fields) for t, fields in partners["payload_fields"].items()},
    )
    _check(catalogue)
    return catalogue


def _check(catalogue: Catalogue) -> None:
    """Refuse a data file that contradicts itself, at start-up rather than at the first event."""
    for category in catalogue.categories.values():
        if "in_app" not in category.default_channels or not set(category.default_channels) <= set(CHANNELS):
            raise ValueError(f"category {category.name}: default channels must include in_app and be known channels")
    for event_type, category_name in catalogue.event_categories.items():
        if category_name not in catalogue.categories:
            raise ValueError(f"{event_type}: unknown category {category_name!r}")
        if event_type in catalogue.not_notified:
            raise ValueError(f"{event_type} is both notified and not notified")
    for event_type, conditions in catalogue.event_conditions.items():
        fields = model_for(event_type).model_fields
        for field, values in conditions.items():
            if field not in fields or not values:
                raise ValueError(f"{event_type}: only_when names {field!r}, not a field of the event, or no value")
    for reminder in catalogue.reminders.values():
        if reminder.category not in catalogue.categories or reminder.on not in catalogue.event_categories:
            raise ValueError(f"reminder {reminder.name}: unknown category or start event")
