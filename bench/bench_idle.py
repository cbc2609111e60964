"""Idle CPU (issue 17): the whole platform with no traffic, as `make run` starts it, in % of ONE core.

Starts every service, the gateway and its own Tansu (tests.stack.running_stack) with the production waits
(the test stack's short-wait overrides, see IDLE_WAIT_OVERRIDES, are set back to the production defaults),
waits until the stack is ready and settled (every service's consumer groups assigned, then the adaptive waits
have had their quiet spell), and measures for `--duration` seconds the CPU time (utime + stime from
/proc/<pid>/stat, children included) of every process. Target: the total <= 2 % of one core.

    uv run --frozen python -m bench.bench_idle --duration 30
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from servicekit.testing import TansuBroker

from bench.common import Figure, write_results
from tests.stack import SERVICES, Stack, running_stack

SCENARIO = "idle_cpu"
TARGET_PERCENT = 2.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The test stack (tests.stack.TEST_TIMINGS) keeps the event hops short; an idle platform in production runs with
# the kit's defaults, so the bench sets these back to them.
IDLE_WAIT_OVERRIDES: dict[str, str] = {
    "KAFKA_CONSUMER_IDLE_FETCH_WAIT_MS": "1000",
    "OUTBOX_IDLE_POLL_S": "5",
    "TIMER_MAX_SLEEP_S": "5",
    "OUTBOX_IDLE_CHECK_EVERY_S": "60",
    # The test stack's consumer-group timings (a join on Tansu takes half the session timeout) sent a heartbeat
    # per group every 500 ms: six times `make run`'s (servicekit.settings: 10 s session, 3 s heartbeat).
    "KAFKA_CONSUMER_SESSION_TIMEOUT_MS": "10000",
    "KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS": "3000",
}
NOTIFY_OVERRIDES = {"NOTIFY_DELIVERY_IDLE_POLL_S": "5"}


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def cpu_seconds(pid: int, tree: dict[int, list[int]]) -> float:
    """utime + stime of a process and its live descendants (plus what its reaped children spent)."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
        total += sum(int(v) for v in fields[11:15]) / CLK_TCK
        stack.extend(tree.get(current, []))
    return total


def processes(stack: Stack) -> dict[str, int]:
    pids = {name: p.pid for name, p in stack.processes.items()}
    pids["tansu"] = stack.broker.pid
    return pids


def sample(pids: dict[str, int]) -> dict[str, float]:
    tree = _children()
    return {name: cpu_seconds(pid, tree) for name, pid in pids.items()}


def assigned_groups(stack: Stack) -> tuple[int, int]:
    """(consumer groups that logged an assignment, consumer tasks started), over every service's log."""
    assigned: set[str] = set()
    started: set[str] = set()
    for name in stack.processes:
        for line in stack.log(name).splitlines():
            if "partitions assigned" in line:
                assigned.add(line.split("partitions assigned")[0].split()[-1].rstrip(":"))
            if "consumer:" in line:
                started.add(line.split("consumer:")[1].split()[0])
    return len(assigned), len(started)


def settle(stack: Stack, pids: dict[str, int], quiet_s: float, timeout_s: float) -> None:
    """Wait until every consumer group logged an assignment, then for the quiet spell the idle waits back off
    after (a platform with no traffic is idle for longer than that)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got, _ = assigned_groups(stack)
        if got >= 1 and all(p.poll() is None for p in stack.processes.values()):
            break
        time.sleep(1)
    time.sleep(quiet_s)


def run(stack: Stack, args: argparse.Namespace) -> list[Figure]:
    pids = processes(stack)
    settle(stack, pids, args.quiet, args.settle_timeout)
    start_wall = time.monotonic()
    before = sample(pids)
    time.sleep(args.duration)
    after = sample(pids)
    elapsed = time.monotonic() - start_wall
    percent = {name: 100 * (after[name] - before[name]) / elapsed for name in pids}
    figures = [
        Figure(
            SCENARIO,
            "idle CPU, all processes (% of one core)",
            "%",
            sum(percent.values()),
            target=TARGET_PERCENT,
            higher_is_better=False,
        )
    ]
    for name in sorted(percent, key=lambda n: -percent[n]):
        figures.append(
            Figure(SCENARIO, f"idle CPU, {name} (% of one core)", "%", percent[name], higher_is_better=False)
        )
    load = os.getloadavg()[0]
    figures.append(Figure(SCENARIO, "load average (1 min) at the end", "load", load, higher_is_better=False))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds measured")
    parser.add_argument("--quiet", type=float, default=45.0, help="seconds of no traffic before measuring")
    parser.add_argument("--settle-timeout", type=float, default=300.0, help="longest wait for the consumer groups")
    args = parser.parse_args(argv)
    os.environ.setdefault("TALENT_ENV", "dev")
    os.environ.setdefault("STACK_READY_TIMEOUT_S", "600")
    extra = {name: {f"{name.upper()}_{k}": v for k, v in IDLE_WAIT_OVERRIDES.items()} for name in SERVICES}
    extra["notify"].update(NOTIFY_OVERRIDES)
    broker = TansuBroker().start()
    try:
        with running_stack(broker, extra_env=extra) as stack:
            figures = run(stack, args)
    finally:
        broker.stop()
    write_results(SCENARIO, figures)


if __name__ == "__main__":
    main()
