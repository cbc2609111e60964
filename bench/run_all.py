"""`make bench`: every bench/bench_*.py scenario on SQLite and on PostgreSQL (and selected ones in the
production shape), each run in its own process, the two ceilings, one report.

    uv run python -m bench.run_all                        # quick sizes, both databases (PostgreSQL when reachable)
    BENCH_FULL=1 uv run python -m bench.run_all           # the sizes the issues name (much longer)
    uv run python -m bench.run_all --only notify_inbox    # some scenarios only (the report still covers all
                                                          # results found in bench/results/, marked when older)
    uv run python -m bench.run_all --database sqlite      # one database only (or BENCH_DATABASES=sqlite)
    uv run python -m bench.run_all --no-production-shape  # skip the production-shape runs (BENCH_PRODUCTION_SHAPE=0)

PostgreSQL: TEST_DATABASE_URL when set, else postgresql+asyncpg://postgres@127.0.0.1:5432/postgres when
`pg_isready` (or a TCP connect) reaches it; skipped, and said so in the report, when it cannot be reached.

Each scenario run gets BENCH_DATABASE (sqlite | postgresql), BENCH_SHAPE (dev | production), BENCH_COMMIT and
TEST_DATABASE_URL (set for PostgreSQL, removed for SQLite); it starts its own broker and stack
(tests.stack.running_stack) and writes bench/results/<scenario>.<database>[.production].json with
bench.common.write_results. A scenario declares, as module-level literals that this script reads without
importing it (ast):

    BENCH_DATABASES = ("postgresql",)   # which databases to run it on (default: both); ("self",) = it covers
                                        # both itself in one run (insight), naming the database in its figures
    BENCH_PRODUCTION_SHAPE = True       # also run it on PostgreSQL in the production shape (default: False)

Then the ceilings of bench/baselines.py are measured once, in this process (a bare FastAPI endpoint in a
subprocess, raw aiokafka on a fresh Tansu); every figure gets the ceiling that bounds it as `baseline` (unless
its scenario measured a closer baseline itself), and bench/report.json and bench/report.md are written: one
table per scenario, SQLite | PostgreSQL | PostgreSQL in the production shape side by side. See bench/README.md.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.baselines import Ceilings, measure
from bench.common import DATABASES, RESULTS, SHAPES, git_commit, git_dirty, read_results, result_path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LOGS = ROOT / "var" / "bench"
REPORT_JSON = BENCH / "report.json"
REPORT_MD = BENCH / "report.md"
KEYS = ("scenario", "figure", "unit", "value", "target", "met", "baseline", "ratio")
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"

# Per scenario: (arguments, environment) for the quick run and for BENCH_FULL=1. A scenario not named here
# runs with no arguments (its own defaults) in both modes.
QUICK: dict[str, tuple[list[str], dict[str, str]]] = {
    "applicant_code": ([], {"BENCH_SECONDS": "3"}),
    "benefits_autogrant": (["--events", "2000", "--talents", "20"], {}),
    "notify_inbox": (["--duration", "10", "--webhook-events", "300"], {}),
    # A tenth of the city: the load takes a minute; BENCH_FULL=1 loads the whole city (1.7 million talents).
    "city": (["--talents", "170000"], {}),
}
FULL: dict[str, tuple[list[str], dict[str, str]]] = {
    "applicant_code": ([], {"BENCH_SECONDS": "10"}),
    "benefits_autogrant": (["--events", "100000"], {}),
    "benefits_straight_through": (["--talents", "100000"], {}),
    "notify_inbox": (["--duration", "60", "--webhook-events", "2000"], {}),
    "insight": (["--events", "20000", "--talents", "1700000"], {}),
    "city": (["--talents", "1700000"], {}),
}


# What a scenario file does not declare itself (BENCH_DATABASES / BENCH_PRODUCTION_SHAPE, read with ast): insight
# runs SQLite then PostgreSQL inside one run; city measures a PostgreSQL-only path.
DECLARED: dict[str, dict[str, Any]] = {
    "insight": {"BENCH_DATABASES": ("self",)},
    "city": {"BENCH_DATABASES": ("postgresql",)},
}
# The report's columns: (database, shape) → heading.
COLUMNS: dict[tuple[str, str], str] = {
    ("sqlite", "dev"): "SQLite",
    ("postgresql", "dev"): "PostgreSQL",
    ("postgresql", "production"): "PostgreSQL, production shape",
}


@dataclass(frozen=True)
class Declaration:
    databases: tuple[str, ...] = DATABASES
    production_shape: bool = False

    @property
    def covers_both_itself(self) -> bool:
        return self.databases == ("self",)


def declaration(name: str) -> Declaration:
    """The scenario's BENCH_DATABASES and BENCH_PRODUCTION_SHAPE: module-level literals, read without importing
    the module (its imports are heavy); DECLARED fills in what the file does not say."""
    found: dict[str, Any] = dict(DECLARED.get(name, {}))
    path = BENCH / f"bench_{name}.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError):
        tree = ast.Module(body=[], type_ignores=[])
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        for target in targets:
            if isinstance(target, ast.Name) and target.id in ("BENCH_DATABASES", "BENCH_PRODUCTION_SHAPE") and value:
                found[target.id] = ast.literal_eval(value)
    databases = tuple(found.get("BENCH_DATABASES", DATABASES))
    unknown = set(databases) - {*DATABASES, "self"}
    if unknown or not databases or ("self" in databases and len(databases) > 1):
        raise SystemExit(
            f"bench_{name}.py: BENCH_DATABASES = {databases!r}: expected a subset of {DATABASES} or ('self',)"
        )
    return Declaration(databases, bool(found.get("BENCH_PRODUCTION_SHAPE", False)))


@dataclass
class Run:
    scenario: str
    database: str = "sqlite"  # sqlite | postgresql | both (a scenario that covers both itself)
    shape: str = "dev"
    seconds: float = 0.0
    exit_code: int | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    @property
    def label(self) -> str:
        database = {"sqlite": "SQLite", "postgresql": "PostgreSQL", "both": "SQLite + PostgreSQL"}[self.database]
        return database + (", production shape" if self.shape == "production" else "")

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.rows)


def scenarios() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH.glob("bench_*.py"))


def plan(selected: list[str], databases: list[str], production: bool) -> tuple[list[Run], list[tuple[str, str, str]]]:
    """The runs to make, in order, and what is skipped: (scenario, database and shape, why), said in the report."""
    runs: list[Run] = []
    skipped: list[tuple[str, str, str]] = []
    for name in selected:
        declared = declaration(name)
        if declared.covers_both_itself:
            runs.append(Run(name, "both"))
            continue
        for database in declared.databases:
            if database in databases:
                runs.append(Run(name, database))
            else:
                skipped.append((name, COLUMNS[(database, "dev")], "this database is not run now"))
        if declared.production_shape:
            if production and "postgresql" in databases:
                runs.append(Run(name, "postgresql", "production"))
            else:
                why = "PostgreSQL is not run now" if production else "production shape off"
                skipped.append((name, COLUMNS[("postgresql", "production")], why))
    return runs, skipped


def redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def postgres_reachable(url: str) -> bool:
    parts = urlsplit(url.replace("+asyncpg", "").replace("+psycopg", ""))
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    pg_isready = shutil.which("pg_isready")
    if pg_isready is not None:
        command = [pg_isready, "-q", "-h", host, "-p", str(port), "-t", "3"]
        return subprocess.run(command, check=False, capture_output=True).returncode == 0
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=3):
        return True
    return False


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def run_scenario(run: Run, full: bool, timeout_s: float, postgres_url: str, commit: str, step: str) -> Run:
    name = run.scenario
    args, env = (FULL if full else QUICK).get(name, ([], {}))
    stored = "both" if run.database == "both" else run.database
    result = result_path(name, stored, run.shape)
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / result.with_suffix(".log").name
    command = [sys.executable, "-m", f"bench.bench_{name}", *args]
    token = uuid.uuid4().hex
    environment = {
        **os.environ,
        **env,
        "BENCH_DATABASE": stored,
        "BENCH_SHAPE": run.shape,
        "BENCH_COMMIT": commit,
        "BENCH_RUN": token,
    }
    if run.database == "sqlite" or (run.database == "both" and not postgres_url):
        environment.pop("TEST_DATABASE_URL", None)
    else:
        environment["TEST_DATABASE_URL"] = postgres_url
    shown = " ".join(f"{k}={v}" for k, v in env.items())
    print(f"== {step} {name} · {run.label}: {' '.join(command[1:])} {shown}".rstrip(), flush=True)
    started_wall = time.time()
    started = time.perf_counter()
    with log.open("wb") as out:
        # Its own process group: on a time-out or Ctrl-C the scenario's stack and broker go down with it.
        process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
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
    # The results file is named by the scenario's SCENARIO, usually its file's name: the files written meanwhile
    # that carry this run's BENCH_RUN token are this run's.
    written = [f for f in results_files() if f[1:3] == (stored, run.shape) and f[3].stat().st_mtime >= started_wall]
    for _, _, _, path in written:
        meta, rows = read_results(path)
        if meta.get("run") == token:
            run.rows += rows
    if not run.rows and not run.note:
        run.note = f"wrote no {result.relative_to(ROOT)}"
    print(f"   {run.seconds:.0f} s, {len(run.rows)} figures {run.note} (log: {log.relative_to(ROOT)})", flush=True)
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


# A figure of a scenario that covers both databases itself names its database: "(SQLite)", "(PostgreSQL, …)".
_DATABASE_IN_NAME = re.compile(r"\b(SQLite|PostgreSQL)\b(, )?")


def split_database(figure: str) -> tuple[str | None, str]:
    """("sqlite" | "postgresql" | None, the figure's name without the database)."""
    found = _DATABASE_IN_NAME.search(figure)
    if found is None:
        return None, figure
    name = (figure[: found.start()] + figure[found.end() :]).replace(" ()", "").replace("()", "").strip()
    return found.group(1).lower(), name


@dataclass
class Source:
    """One results file: which column it fills and from which run."""

    scenario: str
    database: str
    shape: str
    commit: str
    dirty: bool | None
    written_at: str
    rows: list[dict[str, Any]]


def results_files() -> list[tuple[str, str, str, Path]]:
    """(scenario, database, shape, path) of every bench/results/<scenario>.<database>[.<shape>].json; files of
    the old format (<scenario>.json, no database) and the standalone baselines are left out."""
    found: list[tuple[str, str, str, Path]] = []
    for path in sorted(RESULTS.glob("*.json")):
        parts = path.name.removesuffix(".json").split(".")
        if len(parts) not in (2, 3) or parts[0] == "baselines" or parts[1] not in (*DATABASES, "both"):
            continue
        shape = parts[2] if len(parts) == 3 else "dev"
        if shape in SHAPES:
            found.append((parts[0], parts[1], shape, path))
    return found


def gather() -> list[Source]:
    """Every results file (run now or kept from an earlier run), in column order within each scenario."""
    order = {key: i for i, key in enumerate([*COLUMNS, ("both", "dev")])}
    sources: list[Source] = []
    for name, database, shape, path in sorted(results_files(), key=lambda f: (f[0], order.get(f[1:3], 99))):
        meta, rows = read_results(path)
        written = str(meta.get("written_at") or datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat())
        dirty = meta.get("dirty")
        sources.append(
            Source(
                name,
                database,
                shape,
                str(meta.get("commit") or "unknown"),
                dirty if isinstance(dirty, bool) else None,
                written,
                rows,
            )
        )
    return sources


def report_rows(sources: list[Source], ceilings: Ceilings) -> list[dict[str, Any]]:
    """Flat rows for report.json: KEYS plus database, shape and commit (a "both" file split by figure name)."""
    rows: list[dict[str, Any]] = []
    for source in sources:
        for raw in source.rows:
            row = dict(raw)
            database = source.database
            if database == "both":
                named, figure = split_database(str(row["figure"]))
                database = str(row.get("database") or named or "sqlite").lower()
                row["figure"] = figure
            out = with_baseline(row, ceilings)
            rows.append(out | {"database": database, "shape": source.shape, "commit": source.commit})
    return rows


def _heading(row: dict[str, Any]) -> str:
    return COLUMNS.get((row["database"], row["shape"]), "value")


def _met(cells: dict[str, dict[str, Any]]) -> str:
    verdicts = {heading: row["met"] for heading, row in cells.items() if row.get("met") is not None}
    if not verdicts:
        return ""
    missed = [heading for heading, met in verdicts.items() if not met]
    if not missed:
        return "yes"
    return "**no**" + ("" if len(missed) == len(verdicts) else f" ({', '.join(missed)})")


def write_report(
    rows: list[dict[str, Any]],
    runs: list[Run],
    machine: dict[str, str],
    ceilings: Ceilings,
    sources: list[Source],
    commit: str,
    skipped: list[tuple[str, str, str]],
    output: Path = BENCH,
) -> None:
    (output / REPORT_JSON.name).write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    other = [s for s in sources if s.commit != commit]
    dirty = [s for s in sources if s.dirty]
    lines = [
        "# Benchmark report",
        "",
        "Written by `make bench` (bench/run_all.py); see bench/README.md for what each figure measures.",
        "",
    ]
    if other:
        lines += [
            f"> **WARNING: not every result is from commit {commit[:12]}.** These results were kept from an earlier",
            "> run (`--only`, a skipped database, or a scenario run by hand) and are marked † in the tables:",
            *(
                f"> - † {s.scenario} · {COLUMNS.get((s.database, s.shape), s.database)}: commit {s.commit[:12]}, "
                f"written {s.written_at}"
                for s in other
            ),
            "",
        ]
    else:
        lines += [f"Every result below is from commit {commit[:12]}.", ""]
    if dirty:
        lines += [
            "> **Uncommitted changes** were in the working tree when these results were written, so they are not",
            "> exactly their commit's: " + ", ".join(f"{s.scenario} ({s.database}, {s.shape})" for s in dirty),
            "",
        ]
    lines += [
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in machine.items()),
        "",
        "Baselines measured once in this run (bench/baselines.py): the HTTP hop ceiling is a bare FastAPI endpoint on",
        f"the services' uvicorn settings ({ceilings.http_rps:,.0f} req/s, p50 {ceilings.http_p50_ms:.1f} ms, "
        f"p99 {ceilings.http_p99_ms:.1f} ms at the same concurrency);",
        f"the event hop ceiling is raw aiokafka produce → consume on Tansu ({ceilings.event_rps:,.0f} events/s; "
        f"one at a time p50 {ceilings.event_p50_ms:.1f} ms, p99 {ceilings.event_p99_ms:.1f} ms).",
        "A figure whose scenario measured a closer baseline itself (the same request straight to the service)",
        "keeps that one. `ratio` = value / baseline: the share of the ceiling reached for a throughput, how many",
        "times the ceiling's latency for a latency. Columns: **SQLite** and **PostgreSQL** are the development",
        "shape (each service's workers inside its `serve`, as `make run`); **PostgreSQL, production shape** runs",
        "each service as `serve` (API only) plus a separate `worker` process. A blank cell: not measured there.",
        "`met` names the columns that miss when not all do.",
        "",
        "| scenario | database, shape | run time | result |",
        "|---|---|---|---|",
        *(f"| {r.scenario} | {r.label} | {r.seconds:.0f} s | {'ok' if r.ok else r.note or 'failed'} |" for r in runs),
        *(f"| {scenario} | {what} | | not run: {why} |" for scenario, what, why in skipped),
    ]
    for scenario in dict.fromkeys(row["scenario"] for row in rows):
        own = [row for row in rows if row["scenario"] == scenario]
        # The baselines (measured once, for every column) have one column of their own: "value".
        present = {_heading(r) for r in own}
        headings = [h for h in [*COLUMNS.values(), "value"] if h in present]
        lines += [
            "",
            f"## {scenario}",
            "",
            "| figure | unit | " + " | ".join(f"{h} | ratio" for h in headings) + " | target | met |",
            "|---|---|" + "---:|---:|" * len(headings) + "---:|---|",
        ]
        figures: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        for row in own:
            heading = _heading(row)
            figures.setdefault((row["figure"], row["unit"]), {})[heading] = row
        for (figure, unit), cells in figures.items():
            values: list[str] = []
            for heading in headings:
                cell = cells.get(heading)
                if cell is None:
                    values += ["", ""]
                    continue
                stale = " †" if cell["commit"] != commit else ""
                values += [_cell(cell["value"]) + stale, _cell(cell["ratio"])]
            target = next((row["target"] for row in cells.values() if row["target"] is not None), None)
            lines.append("| " + " | ".join([figure, _cell(unit), *values, _cell(target), _met(cells)]) + " |")
    missed = [r for r in rows if r["met"] is False]
    lines += ["", f"Targets: {sum(1 for r in rows if r['met'])} met, {len(missed)} missed (counted per column)."]
    lines += [
        f"- missed: {r['scenario']} / {r['figure']} ({COLUMNS.get((r['database'], r['shape']), r['database'])}): "
        f"{_cell(r['value'])} vs {_cell(r['target'])}"
        for r in missed
    ]
    # The causes of missed targets are measured and written down by hand; kept next to the figures.
    gaps = BENCH / "GAPS.md"
    if missed and gaps.exists():
        lines += ["", gaps.read_text(encoding="utf-8").strip()]
    (output / REPORT_MD.name).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", default=[], help="run only this scenario (repeatable)")
    parser.add_argument(
        "--database",
        action="append",
        choices=DATABASES,
        default=[],
        help="run on this database only (repeatable; default both, or BENCH_DATABASES=sqlite,postgresql)",
    )
    parser.add_argument(
        "--no-production-shape", action="store_true", help="skip the production-shape runs (BENCH_PRODUCTION_SHAPE=0)"
    )
    parser.add_argument(
        "--output", type=Path, default=BENCH, help="directory of report.md and report.json (default bench/)"
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per scenario run (900 quick, 7200 full)")
    args = parser.parse_args(argv)
    full = os.environ.get("BENCH_FULL", "") not in ("", "0", "false")
    timeout = args.timeout or (7200.0 if full else 900.0)
    names = scenarios()
    unknown = [n for n in args.only if n not in names]
    if unknown:
        parser.error(f"no bench/bench_{unknown[0]}.py (scenarios: {', '.join(names)})")
    selected = [n for n in names if not args.only or n in args.only]
    databases = args.database or [
        d.strip() for d in os.environ.get("BENCH_DATABASES", ",".join(DATABASES)).split(",") if d.strip()
    ]
    if set(databases) - set(DATABASES):
        parser.error(f"BENCH_DATABASES={','.join(databases)}: expected some of {', '.join(DATABASES)}")
    production = not args.no_production_shape and os.environ.get("BENCH_PRODUCTION_SHAPE", "1") not in ("0", "false")

    postgres_url = os.environ.get("TEST_DATABASE_URL", "")
    postgres_note = ""
    if "postgresql" in databases:
        if not postgres_url.startswith("postgresql"):
            postgres_url = DEFAULT_POSTGRES_URL
            if not postgres_reachable(postgres_url):
                postgres_note = f"not reachable at {postgres_url}: PostgreSQL runs skipped (set TEST_DATABASE_URL)"
                print(f"!! PostgreSQL {postgres_note}", flush=True)
                databases = [d for d in databases if d != "postgresql"]
                postgres_url = ""
    else:
        postgres_url = ""

    commit = git_commit()
    runs, skipped = plan(selected, databases, production)
    print(f"== {len(runs)} runs at commit {commit[:12]}: {', '.join(f'{r.scenario} ({r.label})' for r in runs)}")
    load_before = load_average()
    started = time.perf_counter()
    for number, run in enumerate(runs, 1):
        elapsed = time.perf_counter() - started
        run_scenario(run, full, timeout, postgres_url, commit, f"[{number}/{len(runs)}, {elapsed:.0f} s in]")
    print("== baselines (once, for every column)", flush=True)
    ceilings = measure(seconds=10.0 if full else 3.0)
    load_after = load_average()

    sources = gather()
    rows = report_rows(sources, ceilings)
    rows += [
        with_baseline(f.row(), ceilings)
        | {"baseline": None, "ratio": None, "database": "", "shape": "", "commit": commit}
        for f in ceilings.figures()
    ]
    dirty = git_dirty()
    machine = {
        "when (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "mode": "BENCH_FULL=1 (the issues' sizes)" if full else "quick (BENCH_FULL=1 for the issues' sizes)",
        "cores": str(os.cpu_count()),
        "load average before (1/5/15 min)": load_before,
        "load average after (1/5/15 min)": load_after,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "git commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "databases": ", ".join(
            ["SQLite"] * ("sqlite" in databases) + [f"PostgreSQL ({redact(postgres_url)})"] * bool(postgres_url)
        )
        + (f"; PostgreSQL {postgres_note}" if postgres_note else ""),
        "production shape": "run for "
        + (", ".join(sorted({r.scenario for r in runs if r.shape == "production"})) or "none"),
        "total run time": f"{time.perf_counter() - started:.0f} s",
    }
    if args.only:
        machine["scenarios not run now"] = ", ".join(n for n in names if n not in selected) or "none"
    args.output.mkdir(parents=True, exist_ok=True)
    write_report(rows, runs, machine, ceilings, sources, commit, skipped, args.output)
    print(f"wrote {args.output / REPORT_MD.name} and {args.output / REPORT_JSON.name}")
    return 0 if all(r.ok for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
