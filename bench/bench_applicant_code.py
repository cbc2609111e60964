"""Talent code: code refresh (GET /api/v1/me/code) and partner verify (POST /api/v1/codes/verify), through
the gateway and straight to the applicant service with the same token and the same worker count; plus
offline verifications per second per core (a pure python-jose loop over the published JWKS).

Figures: requests/s, p50 and p99 of each, the gateway/direct throughput ratio (target ≥ 0.6) and
verify through the gateway (target ≥ 1,000 requests/s); the CPU time the gateway and the applicant service
spend per request (µs, from /proc: steadier than requests/s on a shared machine); and, measured in the
same run with the same generator and concurrency, a bare FastAPI endpoint on the same uvicorn settings
(`bench.common.bare_endpoint_baseline`, the ceiling of one HTTP hop). The stack is the real one of the
cross-service tests (every process on this machine, SQLite unless TEST_DATABASE_URL points at PostgreSQL,
the Tansu broker); the gateway's rate limits are switched off because this measures throughput, not the
limits. The load generator is `wrk` when installed (one C thread; else the closed loop of bench.common in
this process, which needs several times the CPU of the requests it sends): it shares the machine's cores
with the gateway and the service, so the figures are a floor for a deployment where they have their own.

The scan log (the talents' read log of verifications, written in batches off the verify path) is measured
on against off in the same run: two more applicant processes on the same database, alike but for
APPLICANT_SCAN_LOG_ENABLED, both loaded straight (no gateway) in alternating phases; the figure is the
verify throughput with the log as a share of the throughput without (target ≥ 0.9: the log costs ≤ 10 %),
with the applicant's CPU per verify of each. On a busy machine requests/s swing more than 10 % between
phases, so the run also measures the log's own CPU per verification (queue an entry, write it in a batch)
against a verify's CPU in the applicant: the steady form of the same target (≤ 0.1).

Run: `uv run python -m bench.bench_applicant_code` (BENCH_SECONDS=10 and BENCH_CONCURRENCY=32 by default;
BENCH_GENERATOR=closed_loop forces the fallback). Writes bench/results/applicant_code.<database>[.production].json.
BENCH_PROFILE_DIR=<dir> also loads each endpoint straight to the applicant once more, after the measured runs,
under `py-spy record` (when on PATH or at ~/.local/bin), and writes <dir>/applicant-{code,verify}.txt (collapsed
stacks) for the top frames; the figures above are measured without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

import httpx
from jose import jwk, jws
from servicekit.testing import TansuBroker, free_port

from bench.common import (
    Figure,
    HttpCall,
    LoadStats,
    bare_endpoint_baseline,
    cpu_seconds,
    http_load,
    production_shape,
    write_results,
)
from tests.stack import BIN, Stack, running_stack, wait_ready
from tests.test_e2e_registration import resident_id, sign_in_with_otp

SCENARIO = "applicant_code"
# make bench also runs it on PostgreSQL in the production shape (each service's workers in a process of their own).
BENCH_PRODUCTION_SHAPE = True
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
OFFLINE_VERIFICATIONS = 5_000
VERIFY_TARGET_RPS = 1_000.0
# The dev accounts of docs/api.md (the stack runs with TALENT_ENV=dev).
DEV_PASSWORD = "dev-password"  # noqa: S105
DEV_PARTNER_SECRET = "dev-secret"  # noqa: S105
GATEWAY_RATIO_TARGET = 0.6
# Verify throughput with the scan log on, as a share of it off: the log may cost at most 10 %.
SCAN_LOG_RATIO_TARGET = 0.9
# On, off, off, on …: alternating phases spread a busy machine's drift over both.
SCAN_LOG_PHASES = 4
# Entries queued and written through a ScanRecorder in this process to measure its CPU per verification.
SCAN_LOG_ENTRIES = 20_000

PROFILE: dict[str, Any] = {
    "name": "基准测试",
    "id_type": "resident_id",
    "birth_date": "1990-05-17",
    "locale": "zh-CN",
    "region_code": "330402",
    "education": {"degree": "doctor", "school": "浙江大学", "graduated_on": "2020-07-01"},
    "employer": {"name": "嘉兴某研究院", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
    "social_insurance_months": 24,
    "owns_home_in_city": False,
}


async def _token(client: httpx.AsyncClient, **form: str) -> str:
    response = await client.post("/api/v1/auth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


async def prepare(gateway_url: str) -> tuple[str, str, str]:
    """A certified talent's token, a hospital partner's token, and one fresh code."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        talent = await sign_in_with_otp(client, f"+86137{random.randrange(10**8):08d}")
        auth = {"Authorization": f"Bearer {talent}"}
        profile = {**PROFILE, "id_number": resident_id(birth="19900517", sequence=f"{random.randrange(1000):03d}")}
        (await client.put("/api/v1/me/profile", json=profile, headers=auth)).raise_for_status()
        evidence = [{"kind": "diploma", "reference": "bench", "sha256": "0" * 64}]
        submitted = await client.post(
            "/api/v1/me/certifications",
            json={"route": "degree", "claimed_tier": "D", "evidence": evidence},
            headers=auth,
        )
        submitted.raise_for_status()
        decisions = f"/api/v1/reviews/certifications/{submitted.json()['id']}/decisions"
        for official in ("reviewer.nanhu", "approver.city"):
            token = await _token(client, grant_type="password", username=official, password=DEV_PASSWORD)
            decided = await client.post(
                decisions, json={"decision": "approve", "reason": "bench"}, headers={"Authorization": f"Bearer {token}"}
            )
            decided.raise_for_status()
        partner = await _token(
            client, grant_type="client_credentials", client_id="partner.hospital", client_secret=DEV_PARTNER_SECRET
        )
        code = (await client.get("/api/v1/me/code", headers=auth)).json()["code"]
        return talent, partner, str(code)


async def measure(base_url: str, talent: str, partner: str, code: str, pids: dict[str, int]) -> dict[str, LoadStats]:
    refresh = HttpCall("GET", f"{base_url}/api/v1/me/code", {"Authorization": f"Bearer {talent}"}, expect='"code"')
    verify = HttpCall(
        "POST",
        f"{base_url}/api/v1/codes/verify",
        {"Authorization": f"Bearer {partner}", "Content-Type": "application/json"},
        json.dumps({"code": code, "scene": "hospital"}).encode(),
        expect='"valid":true',
    )
    async with httpx.AsyncClient() as client:  # one checked request each before the load
        for call in (refresh, verify):
            response = await client.request(call.method, call.url, headers=dict(call.headers), content=call.body)
            assert call.expect and call.expect in response.text, response.text
    return {
        "code": await http_load(refresh, concurrency=CONCURRENCY, duration_s=SECONDS, cpu_pids=pids),
        "verify": await http_load(verify, concurrency=CONCURRENCY, duration_s=SECONDS, cpu_pids=pids),
    }


def _verify_call(base_url: str, partner: str, code: str) -> HttpCall:
    return HttpCall(
        "POST",
        f"{base_url}/api/v1/codes/verify",
        {"Authorization": f"Bearer {partner}", "Content-Type": "application/json"},
        json.dumps({"code": code, "scene": "hospital"}).encode(),
        expect='"valid":true',
    )


def start_twin(stack: Stack, scan_log: bool) -> tuple[str, int]:
    """Another applicant process on the stack's database with the scan log on or off; its URL and pid.

    Both twins are started, warmed and loaded the same way, and run no workers (joining the applicant's consumer
    groups would rebalance them during the load; the relay's and timers' polls would add noise): they differ in
    APPLICANT_SCAN_LOG_ENABLED only."""
    name = f"applicant-scan-log-{'on' if scan_log else 'off'}"
    port = free_port()
    env = {
        **stack.env["applicant"],
        "APPLICANT_SCAN_LOG_ENABLED": str(scan_log).lower(),
        "APPLICANT_WORKERS_IN_PROCESS": "false",
    }
    stack.start_process(name, [str(BIN / "applicant"), "serve", "--port", str(port), "--no-migrate"], env)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process=stack.processes[name])
    return url, stack.processes[name].pid


async def measure_scan_log(stack: Stack, partner: str, code: str) -> dict[str, LoadStats]:
    """Verify straight to the twin with the scan log on and to the one with it off, in alternating phases."""
    targets: dict[str, tuple[HttpCall, int]] = {}
    for name, enabled in (("on", True), ("off", False)):
        url, pid = start_twin(stack, enabled)
        targets[name] = (_verify_call(url, partner, code), pid)
    for call, _ in targets.values():  # both start cold: warm them up alike
        await http_load(call, concurrency=CONCURRENCY, duration_s=SECONDS)
    phases: dict[str, list[LoadStats]] = {"on": [], "off": []}
    for phase in range(SCAN_LOG_PHASES):
        for name in ("on", "off") if phase % 2 == 0 else ("off", "on"):
            call, pid = targets[name]
            phases[name].append(
                await http_load(call, concurrency=CONCURRENCY, duration_s=SECONDS, cpu_pids={"applicant": pid})
            )
    return {name: _combined(runs) for name, runs in phases.items()}


def _combined(runs: list[LoadStats]) -> LoadStats:
    """Phases of one load as one: requests and seconds summed, latencies pooled, CPU per request averaged."""
    total = LoadStats(
        requests=sum(r.requests for r in runs),
        errors=sum(r.errors for r in runs),
        seconds=sum(r.seconds for r in runs),
        latencies_ms=[x for r in runs for x in r.latencies_ms],
        generator=runs[0].generator,
        load_average=runs[0].load_average,
    )
    # wrk reports percentiles, not latencies: the phases' worst, a conservative figure for the whole.
    shared = set.intersection(*(set(r.quantiles_ms) for r in runs))
    total.quantiles_ms = {q: max(r.quantiles_ms[q] for r in runs) for q in shared}
    if all("applicant" in r.cpu_us_per_request for r in runs) and total.requests:
        spent = sum(r.cpu_us_per_request["applicant"] * r.requests for r in runs)
        total.cpu_us_per_request["applicant"] = spent / total.requests
    return total


async def scan_log_cpu_us(database_url: str, entries: int = SCAN_LOG_ENTRIES) -> float:
    """The CPU (µs) the scan log spends per verification — build and queue the entry (what a verify does),
    then its share of a batched multi-row INSERT — measured in this process (CPU time, all threads: steady on
    a busy machine, unlike requests/s) with the applicant's own recorder against the stack's database."""
    from applicant.access_log import CODE_VERIFY, ActorKind, entry_values
    from applicant.scan_log import ScanRecorder
    from servicekit.db import Database

    database = Database(database_url)
    recorder = ScanRecorder(batch_size=200, interval_s=0.5, capacity=entries)
    try:
        started = time.process_time()
        async with recorder.running(database):
            for n in range(entries):
                recorder.record(
                    entry_values(
                        f"bench-talent-{n % 1000}",
                        actor_kind=ActorKind.PARTNER,
                        actor="partner.hospital",
                        actor_role="hospital",
                        action=CODE_VERIFY,
                        scene="hospital",
                        result="valid",
                    )
                )
                if n % 200 == 199:
                    await asyncio.sleep(0)  # a stream of verifications: the writer takes batches as they fill
        spent = time.process_time() - started
    finally:
        await database.dispose()
    assert recorder.written == entries and recorder.dropped == 0, (recorder.written, recorder.dropped)
    return spent / entries * 1e6


def scan_log_figures(on: LoadStats, off: LoadStats, cpu_us: float, verify_cpu_us: float | None) -> list[Figure]:
    figures = [
        Figure(SCENARIO, "POST /codes/verify direct, scan log on", "req/s", on.rps, baseline=off.rps),
        Figure(SCENARIO, "POST /codes/verify direct, scan log off", "req/s", off.rps),
        Figure(
            SCENARIO,
            "POST /codes/verify with/without scan log throughput",
            "ratio",
            on.rps / off.rps if off.rps else 0.0,
            SCAN_LOG_RATIO_TARGET,
        ),
        Figure(SCENARIO, "POST /codes/verify scan log on p99", "ms", on.percentile(0.99), None, False),
        Figure(SCENARIO, "POST /codes/verify scan log off p99", "ms", off.percentile(0.99), None, False),
        Figure(SCENARIO, "scan log errors (on + off)", "requests", float(on.errors + off.errors), 0, False),
    ]
    # The steady figure: the log's CPU per verification as a share of a verify's CPU in the applicant.
    figures.append(Figure(SCENARIO, "scan log CPU per verification", "µs/req", cpu_us, None, False, verify_cpu_us))
    if verify_cpu_us:
        figures.append(
            Figure(
                SCENARIO, "scan log CPU / verify CPU", "ratio", cpu_us / verify_cpu_us, 1 - SCAN_LOG_RATIO_TARGET, False
            )
        )
    on_cpu, off_cpu = on.cpu_us_per_request.get("applicant"), off.cpu_us_per_request.get("applicant")
    if on_cpu is not None and off_cpu is not None:
        figures.append(
            Figure(SCENARIO, "POST /codes/verify scan log on: applicant CPU", "µs/req", on_cpu, None, False, off_cpu)
        )
        figures.append(
            Figure(SCENARIO, "POST /codes/verify scan log off: applicant CPU", "µs/req", off_cpu, None, False)
        )
    return figures


def offline_rate(jwks: dict[str, Any], code: str) -> float:
    """Verifications per second on one core: header, key by kid (built once), signature, claims, expiry."""
    keys = {k["kid"]: jwk.construct(k, "ES256") for k in jwks["keys"] if k.get("kid", "").startswith("tc-")}
    started = time.perf_counter()
    for _ in range(OFFLINE_VERIFICATIONS):
        token = code.removeprefix("TC1:")
        key = keys[jws.get_unverified_header(token)["kid"]]
        claims = json.loads(jws.verify(token, key, algorithms=["ES256"]))
        assert claims["exp"] > time.time()
    return OFFLINE_VERIFICATIONS / (time.perf_counter() - started)


def figures_of(
    name: str, via: LoadStats, direct: LoadStats, target_rps: float | None, bare_cpu_us: float | None = None
) -> list[Figure]:
    ratio = via.rps / direct.rps if direct.rps else 0.0
    figures = [
        Figure(SCENARIO, f"{name} via gateway", "req/s", via.rps, target_rps, baseline=direct.rps),
        Figure(SCENARIO, f"{name} via gateway p50", "ms", via.percentile(0.5), None, False),
        Figure(SCENARIO, f"{name} via gateway p99", "ms", via.percentile(0.99), None, False),
        Figure(SCENARIO, f"{name} direct", "req/s", direct.rps),
        Figure(SCENARIO, f"{name} direct p50", "ms", direct.percentile(0.5), None, False),
        Figure(SCENARIO, f"{name} direct p99", "ms", direct.percentile(0.99), None, False),
        Figure(SCENARIO, f"{name} gateway/direct throughput", "ratio", ratio, GATEWAY_RATIO_TARGET),
        Figure(SCENARIO, f"{name} errors (via + direct)", "requests", float(via.errors + direct.errors), 0, False),
    ]
    # CPU per request, against the bare endpoint's: the ratio says how many bare HTTP hops a request costs.
    costs = [(f"via gateway: {p}", via, p) for p in ("gateway", "applicant")] + [
        ("direct: applicant", direct, "applicant")
    ]
    for label, stats, process in costs:
        if process in stats.cpu_us_per_request:
            value = stats.cpu_us_per_request[process]
            figures.append(Figure(SCENARIO, f"{name} {label} CPU", "µs/req", value, None, False, bare_cpu_us))
    return figures


def describe(label: str, stats: LoadStats) -> None:
    load = "n/a" if stats.load_average is None else " ".join(f"{x:.2f}" for x in stats.load_average)
    cpu = ", ".join(f"{k} {v:.0f} µs/req" for k, v in stats.cpu_us_per_request.items())
    print(
        f"{label:<34} {stats.generator:<11} {stats.rps:8.1f} req/s  p50 {stats.percentile(0.5):7.2f} ms"
        f"  p99 {stats.percentile(0.99):7.2f} ms  errors {stats.errors}  [{cpu}]  load {load}"
    )


PROFILE_DIR = os.environ.get("BENCH_PROFILE_DIR")


def _py_spy() -> str | None:
    import shutil

    found = shutil.which("py-spy") or os.path.expanduser("~/.local/bin/py-spy")
    return found if os.path.exists(found) else None


async def profile_direct(base_url: str, talent: str, partner: str, code: str, pid: int, out_dir: str) -> None:
    """Each endpoint loaded straight to the applicant under py-spy (collapsed stacks, idle frames left out)."""
    spy = _py_spy()
    if spy is None:
        print("BENCH_PROFILE_DIR: py-spy not found, no profile taken")
        return
    os.makedirs(out_dir, exist_ok=True)
    refresh = HttpCall("GET", f"{base_url}/api/v1/me/code", {"Authorization": f"Bearer {talent}"}, expect='"code"')
    for name, call in (("code", refresh), ("verify", _verify_call(base_url, partner, code))):
        out = os.path.join(out_dir, f"applicant-{name}.txt")
        seconds = str(max(1, int(SECONDS)))
        args = ["record", "--pid", str(pid), "--rate", "200", "--format", "raw", "-o", out, "-d", seconds]
        spying = await asyncio.create_subprocess_exec(
            spy, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
        )
        await asyncio.sleep(0.5)  # py-spy attaches
        await http_load(call, concurrency=CONCURRENCY, duration_s=SECONDS + 1, warmup_s=0)
        await spying.wait()


async def run() -> list[Figure]:
    os.environ.setdefault("GATEWAY_RATE_LIMIT_ENABLED", "false")
    broker = TansuBroker().start()
    try:
        with running_stack(broker, split_workers=production_shape()) as stack:
            talent, partner, code = await prepare(stack.gateway_url)
            pids = {name: stack.processes[name].pid for name in ("gateway", "applicant")}
            # The ceiling of one HTTP hop, now, on this machine (the stack is idle meanwhile). The applicant's own
            # CPU meanwhile is its idle cost (relay, consumers, timers): a floor under every CPU-per-request row.
            idle_from, idle_started = cpu_seconds(pids["applicant"]), time.perf_counter()
            bare = await bare_endpoint_baseline(concurrency=CONCURRENCY, duration_s=SECONDS)
            idle_to, idle_wall = cpu_seconds(pids["applicant"]), time.perf_counter() - idle_started
            idle_ms_per_s = None if idle_from is None or idle_to is None else (idle_to - idle_from) / idle_wall * 1e3
            via = await measure(stack.gateway_url, talent, partner, code, pids)
            direct = await measure(stack.service_urls["applicant"], talent, partner, code, pids)
            for kind in ("code", "verify"):  # at once: a later failure (e.g. the database full) keeps them
                describe(f"{kind} direct (as measured)", direct[kind])
            if PROFILE_DIR:
                applicant_url = stack.service_urls["applicant"]
                await profile_direct(applicant_url, talent, partner, code, pids["applicant"], PROFILE_DIR)
            scan_log = await measure_scan_log(stack, partner, code)
            scan_log_cpu = await scan_log_cpu_us(stack.env["applicant"]["APPLICANT_DATABASE_URL"])
            async with httpx.AsyncClient() as client:
                jwks = (await client.get(f"{stack.gateway_url}/.well-known/talent-code/jwks.json")).json()
    finally:
        broker.stop()
    describe("bare FastAPI endpoint", bare)
    for kind, label in (("code", "GET /me/code"), ("verify", "POST /codes/verify")):
        describe(f"{label} via gateway", via[kind])
        describe(f"{label} direct", direct[kind])
    describe("verify direct, scan log on", scan_log["on"])
    describe("verify direct, scan log off", scan_log["off"])
    bare_cpu = bare.cpu_us_per_request.get("bare")
    figures = figures_of("GET /me/code", via["code"], direct["code"], None, bare_cpu)
    figures += figures_of("POST /codes/verify", via["verify"], direct["verify"], VERIFY_TARGET_RPS, bare_cpu)
    verify_cpu = direct["verify"].cpu_us_per_request.get("applicant")
    print(f"scan log CPU per verification: {scan_log_cpu:.1f} µs (a verify direct: {verify_cpu or 0:.0f} µs)")
    figures += scan_log_figures(scan_log["on"], scan_log["off"], scan_log_cpu, verify_cpu)
    figures.append(
        Figure(SCENARIO, f"bare FastAPI endpoint (HTTP hop ceiling, load by {bare.generator})", "req/s", bare.rps)
    )
    if bare_cpu is not None:
        figures.append(Figure(SCENARIO, "bare FastAPI endpoint CPU", "µs/req", bare_cpu, None, False))
    if idle_ms_per_s is not None:
        print(f"applicant idle CPU (stack idle, during the bare run): {idle_ms_per_s:.1f} ms/s")
        figures.append(Figure(SCENARIO, "applicant idle CPU (no requests)", "ms/s", idle_ms_per_s, None, False))
    if bare.load_average is not None:
        figures.append(Figure(SCENARIO, "load average (1 min) at the start", "load", bare.load_average[0], None, False))
    figures.append(Figure(SCENARIO, "offline verifications per core", "verif/s", offline_rate(jwks, code)))
    return figures


def main() -> None:
    write_results(SCENARIO, asyncio.run(run()))


if __name__ == "__main__":
    main()
