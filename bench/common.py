"""Shared pieces of the benchmarks: HTTP load (wrk, or a closed-loop fallback), the bare-endpoint
baseline, CPU cost per request, percentiles, and result files.

Every scenario runs in its own process (the load generator is never inside a service) against a stack
started by `tests.stack.running_stack`, and writes its figures with `write_results(scenario, figures)` to
`bench/results/<scenario>.<database>[.production].json`: the database (`sqlite` or `postgresql`, from
BENCH_DATABASE, else TEST_DATABASE_URL), the shape (BENCH_SHAPE=production: `running_stack(...,
split_workers=production_shape())`), the git commit and whether the working tree was clean, and the
`{"scenario", "figure", "unit", "value", "target", "met", "baseline", "ratio"}` rows; `make bench`
(bench/run_all.py) runs each scenario once per database and shape and gathers them into bench/report.md and
bench/report.json.

HTTP load: `http_load()` runs `wrk` (C, one thread, keep-alive connections; `apt-get install wrk`) when it
is on the PATH, else `closed_loop()` (httpx in this Python process, which costs the machine several times
the CPU of the requests it sends, so on a small machine it starves the services it measures). Set
BENCH_GENERATOR=closed_loop to force the fallback. Each result says which generator ran, the load average
when it started, and the CPU time the named server processes spent per request (from /proc): on a shared,
busy machine that cost is a steadier figure than requests/s.

    uv run python -m bench.common bare-server --port 8099   # the bare endpoint alone (used by the baseline)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = RESULTS.parents[1]
DATABASES = ("sqlite", "postgresql")
# "dev": each service's workers inside its `serve` (as `make run` and the tests); "production": `serve` without
# workers plus a separate `worker` process per service (tests.stack.running_stack(split_workers=True)).
SHAPES = ("dev", "production")


def bench_database() -> str:
    """The database this scenario run uses: BENCH_DATABASE (set by run_all), else what TEST_DATABASE_URL says."""
    named = os.environ.get("BENCH_DATABASE", "")
    if named:
        return named
    return "postgresql" if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql") else "sqlite"


def bench_shape() -> str:
    shape = os.environ.get("BENCH_SHAPE", "") or "dev"
    if shape not in SHAPES:
        raise SystemExit(f"BENCH_SHAPE={shape!r}: expected one of {', '.join(SHAPES)}")
    return shape


def production_shape() -> bool:
    """True when run_all asks for the production shape: pass it as `running_stack(..., split_workers=...)`."""
    return bench_shape() == "production"


def result_path(scenario: str, database: str | None = None, shape: str | None = None) -> Path:
    database = database or bench_database()
    shape = shape or bench_shape()
    return RESULTS / f"{scenario}.{database}{'' if shape == 'dev' else '.' + shape}.json"


def git_commit() -> str:
    """The checked-out commit, read from .git without running git (BENCH_COMMIT when run_all set it)."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
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


BENCH_OUTPUTS = ("bench/results", "bench/report.md", "bench/report.json")


def git_dirty() -> bool | None:
    """True when tracked files differ from the commit (the figures are then not exactly that commit's); None
    when git cannot tell (no git, not a checkout)."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(
            # The bench's own outputs (results, report) do not make the measured code differ from its commit.
            [git, "status", "--porcelain", "--untracked-files=no", "--", ".", *(f":!{p}" for p in BENCH_OUTPUTS)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(done.stdout.strip())


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
    # Only for a scenario that covers both databases in one run (insight): the database of this figure.
    database: str | None = None

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
        if data["database"] is None:
            data.pop("database")
        data.update(value=round(self.value, 3), met=self.met, ratio=self.ratio)
        return data


@dataclass
class LoadStats:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    generator: str = "closed_loop"
    # Percentiles computed by the generator itself (wrk keeps its own histogram), by quantile.
    quantiles_ms: dict[float, float] = field(default_factory=dict)
    # CPU time (user + system) each named server process spent per request during the run.
    cpu_us_per_request: dict[str, float] = field(default_factory=dict)
    load_average: tuple[float, float, float] | None = None

    @property
    def rps(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if q in self.quantiles_ms:
            return self.quantiles_ms[q]
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


@dataclass(frozen=True)
class HttpCall:
    """One request, sent over and over: `expect` is a substring a good response's body must hold."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    expect: str | None = None


def wrk_path() -> str | None:
    if os.environ.get("BENCH_GENERATOR", "wrk") == "closed_loop":
        return None
    return shutil.which("wrk")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and all its threads (Linux /proc), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


async def http_load(
    call: HttpCall,
    *,
    concurrency: int = 32,
    duration_s: float = 10.0,
    warmup_s: float = 1.0,
    cpu_pids: Mapping[str, int] | None = None,
) -> LoadStats:
    """Load one endpoint with wrk when installed (else closed_loop); measure the servers' CPU per request."""
    wrk = wrk_path()
    if wrk is not None and warmup_s > 0:
        await asyncio.to_thread(_run_wrk, wrk, call, concurrency, warmup_s)
    pids = dict(cpu_pids or {})
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    loadavg = load_average()
    if wrk is not None:
        stats = await asyncio.to_thread(_run_wrk, wrk, call, concurrency, duration_s)
    else:
        stats = await closed_loop(
            lambda client: client.request(call.method, call.url, headers=dict(call.headers), content=call.body),
            concurrency=concurrency,
            duration_s=duration_s,
            warmup_s=warmup_s,
            ok=lambda r: r.status_code < 400 and (call.expect is None or call.expect in r.text),
        )
    for name, pid in pids.items():
        start, end = before[name], cpu_seconds(pid)
        if start is not None and end is not None and stats.requests:
            stats.cpu_us_per_request[name] = (end - start) / stats.requests * 1e6
    stats.load_average = loadavg
    return stats


def _lua(text: str) -> str:
    level = "=" * 4
    if f"]{level}]" in text:
        raise ValueError("the text cannot be quoted as a Lua long string")
    return f"[{level}[{text}]{level}]"


_WRK_SCRIPT = r"""
wrk.method = {method}
{body}
{headers}
expect = {expect}
bad = 0
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body)
  if status >= 400 or (expect ~= nil and not string.find(body, expect, 1, true)) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local failed = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  for _, t in ipairs(threads) do failed = failed + t:get("bad") end
  io.write(string.format('WRK_JSON {{"requests": %d, "errors": %d, "seconds": %f, "p50": %f, "p99": %f}}\n',
    summary.requests, failed, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def _run_wrk(wrk: str, call: HttpCall, concurrency: int, duration_s: float) -> LoadStats:
    script = _WRK_SCRIPT.format(
        method=_lua(call.method),
        body=f"wrk.body = {_lua(call.body.decode())}" if call.body is not None else "",
        headers="\n".join(f"wrk.headers[ {_lua(k)} ] = {_lua(v)}" for k, v in call.headers.items()),
        expect=_lua(call.expect) if call.expect is not None else "nil",
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        command = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(duration_s))}s", "--timeout", "10s"]
        done = subprocess.run([*command, "-s", file.name, call.url], capture_output=True, text=True, check=True)
    finally:
        os.unlink(file.name)
    found = re.search(r"WRK_JSON (\{.*\})", done.stdout)
    if found is None:
        raise RuntimeError(f"wrk printed no summary:\n{done.stdout}\n{done.stderr}")
    summary = json.loads(found.group(1))
    return LoadStats(
        summary["requests"],
        summary["errors"],
        summary["seconds"],
        [],
        generator="wrk",
        quantiles_ms={0.5: summary["p50"], 0.99: summary["p99"]},
    )


BARE_PATH = "/bare"


def serve_bare(port: int) -> None:
    """A bare FastAPI endpoint (no middleware, database or auth), with uvicorn started as servicekit.cli
    starts every service (one process, uvloop + httptools when installed, no access log)."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get(BARE_PATH)
    async def bare() -> dict[str, str]:
        return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


def _start_bare(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.common", "bare-server", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def bare_endpoint_baseline(*, concurrency: int = 32, duration_s: float = 10.0) -> LoadStats:
    """The ceiling of one HTTP hop on this machine, now: a bare endpoint in a process of its own, loaded by the
    same generator at the same concurrency as the scenario; `cpu_us_per_request["bare"]` is its CPU cost."""
    from servicekit.testing import free_port

    port = free_port()
    server = _start_bare(port)
    url = f"http://127.0.0.1:{port}{BARE_PATH}"
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient() as client:
            while True:
                try:
                    if (await client.get(url)).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                await asyncio.sleep(0.1)
        return await http_load(
            HttpCall("GET", url, expect="ok"),
            concurrency=concurrency,
            duration_s=duration_s,
            cpu_pids={"bare": server.pid},
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_results(scenario: str, figures: list[Figure]) -> Path:
    """Write bench/results/<scenario>.<database>[.<shape>].json: the rows with the commit, database and shape."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = result_path(scenario)
    document = {
        "scenario": scenario,
        "database": bench_database(),
        "shape": bench_shape(),
        "commit": git_commit(),
        "dirty": git_dirty(),
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        # Set by run_all for each scenario run, so it finds the files this run wrote (whatever their names).
        "run": os.environ.get("BENCH_RUN", ""),
        "rows": [f.row() for f in figures],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print_table(figures)
    print(f"wrote {path}")
    return path


def read_results(path: Path) -> tuple[dict[str, object], list[dict[str, object]]]:
    """(what the file says about its run, its rows); a file of the old format (a bare list of rows) has no
    commit, database or shape."""
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return {"commit": "unknown", "dirty": None}, data
    rows = data.pop("rows")
    return data, rows


def print_table(figures: list[Figure]) -> None:
    print(f"{'scenario':<28} {'figure':<44} {'value':>12} {'unit':<10} {'target':>10} {'met':<5} {'ratio':>7}")
    for f in figures:
        target = "" if f.target is None else f"{f.target:g}"
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
        print(f"{f.scenario:<28} {f.figure:<44} {f.value:>12.2f} {f.unit:<10} {target:>10} {f.met!s:<5} {ratio:>7}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="bench.common helpers")
    commands = parser.add_subparsers(dest="command", required=True)
    bare = commands.add_parser("bare-server", help="serve the bare endpoint of bare_endpoint_baseline()")
    bare.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "bare-server":
        serve_bare(args.port)


if __name__ == "__main__":
    main()
