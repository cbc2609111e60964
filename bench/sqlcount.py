"""Per-event costs for the benchmarks: SQL statements sent (SQLAlchemy `before_cursor_execute`) and CPU time."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

from sqlalchemy import event


class StatementCounter:
    """Counts the SQL statements an engine sends while the block runs; an executemany counts once (one round
    trip). Also takes this process's CPU time, so per-event costs can be reported next to wall-clock figures."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine.sync_engine if hasattr(engine, "sync_engine") else engine
        self.by_statement: Counter[str] = Counter()
        self.cpu_s = 0.0
        self.load_average = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_statement.values())

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.by_statement[" ".join(statement.split())[:100]] += 1

    def __enter__(self) -> StatementCounter:
        self.load_average = os.getloadavg()[0]
        self._cpu = time.process_time()
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)
        self.cpu_s = time.process_time() - self._cpu

    def print_top(self, per: int, limit: int = 25) -> None:
        print(f"  {self.total / per:7.2f}  SQL statements in all, {self.cpu_s / per * 1000:.2f} ms CPU (per unit)")
        for statement, count in self.by_statement.most_common(limit):
            print(f"  {count / per:7.2f}  {statement}")


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (0.0 where there is no /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ProcessCpu:
    """CPU seconds each named process of a stack spends while the block runs."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}

    def __enter__(self) -> ProcessCpu:
        self._start = {name: process_cpu_s(pid) for name, pid in self.pids.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = {name: process_cpu_s(pid) - self._start[name] for name, pid in self.pids.items()}
