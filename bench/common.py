"""Shared pieces of the benchmarks: a closed-loop HTTP load generator, percentiles, and result files.

Every scenario runs in its own process (the load generator is never inside a service) against a stack
started by `tests.stack.running_stack`, and writes `bench/results/<scenario>.json` as a list of
`{"scenario", "figure", "unit", "value", "target", "met", "baseline", "ratio"}` rows; `make bench`
(issue 8) gathers them into bench/report.md and bench/report.json.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    scenario: str
    figure: str
    unit: str
    value: float
    target: float | None = None
    # True when a bigger value is better (throughput), False when smaller is (latency).
    higher_is_better: bool = True
    baseline: float | None = None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def ratio(self) -> float | None:
        if not self.baseline:
            return None
        return round(self.value / self.baseline, 3)

    def row(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("higher_is_better")
        data.update(value=round(self.value, 3), met=self.met, ratio=self.ratio)
        return data


@dataclass
class LoadStats:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        if len(self.latencies_ms) == 1:
            return self.latencies_ms[0]
        return statistics.quantiles(self.latencies_ms, n=1000, method="inclusive")[int(q * 1000) - 1]


async def closed_loop(
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    *,
    concurrency: int = 32,
    duration_s: float = 10.0,
    warmup_s: float = 1.0,
    ok: Callable[[httpx.Response], bool] = lambda r: r.status_code < 400,
) -> LoadStats:
    """`concurrency` workers send requests back to back for `duration_s` (after a warm-up)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        stop_warmup = time.perf_counter() + warmup_s
        while time.perf_counter() < stop_warmup:
            await request(client)
        latencies: list[float] = []
        errors = 0
        count = 0
        deadline = time.perf_counter() + duration_s

        async def worker() -> None:
            nonlocal errors, count
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    response = await request(client)
                    good = ok(response)
                except httpx.HTTPError:
                    good = False
                latencies.append((time.perf_counter() - started) * 1000)
                count += 1
                errors += 0 if good else 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return LoadStats(count, errors, time.perf_counter() - started, latencies)


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_results(scenario: str, figures: list[Figure]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{scenario}.json"
    path.write_text(json.dumps([f.row() for f in figures], indent=2, ensure_ascii=False) + "\n")
    print_table(figures)
    return path


def print_table(figures: list[Figure]) -> None:
    print(f"{'scenario':<28} {'figure':<44} {'value':>12} {'unit':<10} {'target':>10} {'met':<5} {'ratio':>7}")
    for f in figures:
        target = "" if f.target is None else f"{f.target:g}"
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
        print(f"{f.scenario:<28} {f.figure:<44} {f.value:>12.2f} {f.unit:<10} {target:>10} {f.met!s:<5} {ratio:>7}")
