"""The insight command line (serve, worker, migrate, replay); filled in with the service."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("insight: not built yet")
