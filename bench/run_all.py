"""`make bench`: every bench/bench_*.py scenario in its own process, the two ceilings, one report.

    uv run python -m bench.run_all                      # quick sizes (a few minutes)
    BENCH_FULL=1 uv run python -m bench.run_all         # the sizes the issues name (much longer)
    uv run python -m bench.run_all --only notify_inbox  # some scenarios only (the report still covers all
                                                        # rows found in bench/results/, marked stale if old)

Each scenario starts its own broker and stack (tests.stack.running_stack) and writes
bench/results/<scenario>.json; this script never starts a service itself and runs no load inside one.
Then the ceilings of bench/baselines.py are measured in this process (a bare FastAPI endpoint in a
subprocess, raw aiokafka on a fresh Tansu), every figure gets the ceiling that bounds it as `baseline`
(unless its scenario measured a closer baseline itself, e.g. the same request straight to the service),
and bench/report.json and bench/report.md are written. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baselines import Ceilings, measure
from bench.common import RESULTS

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOGS = ROOT / "var" / "bench"
REPORT_JSON = BENCH / "report.json"
REPORT_MD = BENCH / "report.md"
KEYS = ("scenario", "figure", "unit", "value", "target", "met", "baseline", "ratio")

# Per scenario: (arguments, environment) for the quick run and for BENCH_FULL=1. A scenario not named here
# runs with no arguments (its own defaults) in both modes.
QUICK: dict[str, tuple[list[str], dict[str, str]]] = {
    "applicant_code": ([], {"BENCH_SECONDS": "3"}),
    "benefits_autogrant": (["--events", "2000", "--talents", "20"], {}),
    "notify_inbox": (["--duration", "10", "--webhook-events", "300"], {}),
}
FULL: dict[str, tuple[list[str], dict[str, str]]] = {
    "applicant_code": ([], {"BENCH_SECONDS": "10"}),
    "benefits_autogrant": (["--events", "100000"], {}),
    "benefits_straight_through": (["--talents", "100000"], {}),
    "notify_inbox": (["--duration", "60", "--webhook-events", "2000"], {}),
    "insight": (["--events", "20000", "--talents", "1700000"], {}),
}


@dataclass
class Run:
    scenario: str
    seconds: float = 0.0
    exit_code: int | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""


def scenarios() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py"))


def git_commit() -> str:
    """The checked-out commit, read from .git without running git."""
    git = ROOT / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        for base in (git, Path(str(git).split("/worktrees/")[0])):
            if (base / ref).exists():
                return (base / ref).read_text().strip()
            packed = base / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0]
    except (OSError, IndexError):
        pass
    return "unknown"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run_scenario(name: str, full: bool, timeout_s: float) -> Run:
    args, env = (FULL if full else QUICK).get(name, ([], {}))
    result = RESULTS / f"{name}.json"
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    command = [sys.executable, "-m", f"bench.bench_{name}", *args]
    print(f"== {name}: {' '.join(command[1:])} {' '.join(f'{k}={v}' for k, v in env.items())}", flush=True)
    started_wall = time.time()
    started = time.perf_counter()
    run = Run(name)
    with log.open("wb") as out:
        # Its own process group: on a time-out or Ctrl-C the scenario's stack and broker go down with it.
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            run.exit_code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            run.note = f"timed out after {timeout_s:.0f} s"
            _end_group(process)
        except KeyboardInterrupt:
            _end_group(process)
            raise
    run.seconds = time.perf_counter() - started
    if run.exit_code not in (0, None):
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
        run.note = f"exit {run.exit_code}: {tail[0][:200]}"
    if result.exists() and result.stat().st_mtime >= started_wall:
        run.rows = json.loads(result.read_text())
    elif not run.note:
        run.note = "wrote no results"
    print(f"   {run.seconds:.0f} s, {len(run.rows)} figures {run.note}", flush=True)
    return run


def _end_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
            return
        except subprocess.TimeoutExpired:
            continue


def ceiling_for(row: dict[str, Any], ceilings: Ceilings) -> float | None:
    """The ceiling that bounds a figure: HTTP for requests through an API, the event hop for events."""
    figure = str(row["figure"]).lower()
    unit = row["unit"]
    if "bare" in figure or "baseline" in figure:  # a scenario's own measure of a ceiling
        return None
    if unit in ("req/s", "claims/s"):
        return ceilings.http_rps
    if unit == "events/s":
        return ceilings.event_rps
    if unit != "ms" or "max" in figure or figure.startswith("webhook"):
        return None
    quantile = "p99" if "p99" in figure else "p50" if "p50" in figure else None
    if quantile is None:
        return None
    if "event" in figure or "inbox" in figure:
        return ceilings.event_p99_ms if quantile == "p99" else ceilings.event_p50_ms
    if "gateway" in figure or "direct" in figure or "/" in figure:
        return ceilings.http_p99_ms if quantile == "p99" else ceilings.http_p50_ms
    return None


def with_baseline(row: dict[str, Any], ceilings: Ceilings) -> dict[str, Any]:
    out = {key: row.get(key) for key in KEYS}
    if out["baseline"] is None:
        out["baseline"] = ceiling_for(row, ceilings)
    value, baseline = out["value"], out["baseline"]
    if isinstance(value, int | float) and isinstance(baseline, int | float) and baseline and math.isfinite(value):
        out["baseline"] = round(float(baseline), 3)
        out["ratio"] = round(value / baseline, 3)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def write_report(rows: list[dict[str, Any]], runs: list[Run], machine: dict[str, str], ceilings: Ceilings) -> None:
    REPORT_JSON.write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    lines = [
        "# Benchmark report",
        "",
        "Written by `make bench` (bench/run_all.py); see bench/README.md for what each figure measures.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine.items()),
        "",
        "Baselines measured in this run (bench/baselines.py): the HTTP hop ceiling is a bare FastAPI endpoint on",
        f"the services' uvicorn settings ({ceilings.http_rps:,.0f} req/s, p50 {ceilings.http_p50_ms:.1f} ms, "
        f"p99 {ceilings.http_p99_ms:.1f} ms at the same concurrency);",
        f"the event hop ceiling is raw aiokafka produce → consume on Tansu ({ceilings.event_rps:,.0f} events/s; "
        f"one at a time p50 {ceilings.event_p50_ms:.1f} ms, p99 {ceilings.event_p99_ms:.1f} ms).",
        "A figure whose scenario measured a closer baseline itself (the same request straight to the service)",
        "keeps that one. `ratio` = value / baseline: the share of the ceiling reached for a throughput, how many",
        "times the ceiling's latency for a latency.",
        "",
        "| scenario | run time | result |",
        "|---|---|---|",
        *(
            f"| {r.scenario} | {r.seconds:.0f} s | {'ok' if r.exit_code == 0 and r.rows else r.note or 'failed'} |"
            for r in runs
        ),
    ]
    for scenario in dict.fromkeys(row["scenario"] for row in rows):
        lines += [
            "",
            f"## {scenario}",
            "",
            "| figure | value | unit | target | met | baseline | ratio |",
            "|---|---:|---|---:|---|---:|---:|",
        ]
        for row in rows:
            if row["scenario"] == scenario:
                cells = [_cell(row[k]) for k in ("figure", "value", "unit", "target", "met", "baseline", "ratio")]
                lines.append("| " + " | ".join(cells) + " |")
    missed = [r for r in rows if r["met"] is False]
    lines += ["", f"Targets: {sum(1 for r in rows if r['met'])} met, {len(missed)} missed."]
    lines += [f"- missed: {r['scenario']} / {r['figure']}: {_cell(r['value'])} vs {_cell(r['target'])}" for r in missed]
    # The causes of missed targets are measured and written down by hand; kept next to the figures.
    gaps = REPORT_MD.parent / "GAPS.md"
    if missed and gaps.exists():
        lines += ["", gaps.read_text(encoding="utf-8").strip()]
    REPORT_MD.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], help="run only this scenario (repeatable)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per scenario (900 quick, 7200 full)")
    args = parser.parse_args(argv)
    full = os.environ.get("BENCH_FULL", "") not in ("", "0", "false")
    timeout = args.timeout or (7200.0 if full else 900.0)
    names = scenarios()
    selected = [n for n in names if not args.only or n in args.only]

    load_before = load_average()
    started = time.perf_counter()
    runs = [run_scenario(name, full, timeout) for name in selected]
    print("== baselines", flush=True)
    ceilings = measure(seconds=10.0 if full else 3.0)
    load_after = load_average()

    rows: list[dict[str, Any]] = []
    for name in names:
        run = next((r for r in runs if r.scenario == name), None)
        found = run.rows if run is not None else []
        if run is None and (RESULTS / f"{name}.json").exists():
            found = json.loads((RESULTS / f"{name}.json").read_text())  # not run now: the last results
        rows += [with_baseline(row, ceilings) for row in found]
    rows += [with_baseline(f.row(), ceilings) | {"baseline": None, "ratio": None} for f in ceilings.figures()]

    machine = {
        "when (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "mode": "BENCH_FULL=1 (the issues' sizes)" if full else "quick (BENCH_FULL=1 for the issues' sizes)",
        "cores": str(os.cpu_count()),
        "load average before (1/5/15 min)": load_before,
        "load average after (1/5/15 min)": load_after,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "git commit": git_commit(),
        "database": "PostgreSQL (TEST_DATABASE_URL)" if os.environ.get("TEST_DATABASE_URL") else "SQLite",
        "total run time": f"{time.perf_counter() - started:.0f} s",
    }
    if args.only:
        machine["scenarios not run now"] = ", ".join(n for n in names if n not in selected) or "none"
    write_report(rows, runs, machine, ceilings)
    print(f"wrote {REPORT_MD.relative_to(ROOT)} and {REPORT_JSON.relative_to(ROOT)}")
    return 0 if all(r.exit_code == 0 and r.rows for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
