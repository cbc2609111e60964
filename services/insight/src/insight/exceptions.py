"""Insight's typed errors, each a problem+json status."""

from __future__ import annotations

from collections.abc import Iterable

from servicekit.problems import NotFound, Unprocessable


class UnknownTable(NotFound):
    def __init__(self, table: str, known: Iterable[str]) -> None:
        super().__init__(f"No statistics table {table!r}; the tables are: {', '.join(sorted(known))}.")


class UnknownMetric(NotFound):
    def __init__(self, metric: str, known: Iterable[str]) -> None:
        super().__init__(f"No time series {metric!r}; the series are: {', '.join(sorted(known))}.")


class InvalidFilter(Unprocessable):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])
