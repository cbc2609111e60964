"""Notify's typed errors."""

from __future__ import annotations

from servicekit.problems import NotFound


class NotificationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such notification in your inbox.")
