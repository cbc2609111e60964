"""Launch the whole platform as real processes (broker, every service, the gateway) on free ports.

Used by the cross-service tests; each process gets its own database (SQLite files by default, or
PostgreSQL databases when TEST_DATABASE_URL is set) and the stack is torn down completely afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from servicekit.testing import TansuBroker, create_database, drop_database, free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICES = ("applicant", "benefits", "housing", "notify", "insight")
# Shorter waits than production, so the cross-service tests see timers fire within seconds.
TEST_TIMINGS: dict[str, dict[str, str]] = {
    "benefits": {"BENEFITS_PUBLICITY_PERIOD_S": "2"},
    "notify": {
        "NOTIFY_DELIVERY_RETRY_BASE_S": "0.5",
        "NOTIFY_CHANNEL_RETRY_BASE_S": "0.5",
        "NOTIFY_DELIVERY_IDLE_POLL_S": "0.1",
    },
}
# The idle waits (issue 17) kept as short as before it: an event hop of the suite never waits on a consumer's
# long idle fetch or a fallback poll (split workers on SQLite have no NOTIFY). bench/bench_idle.py sets them back.
for _name in SERVICES:
    TEST_TIMINGS.setdefault(_name, {}).update(
        {
            f"{_name.upper()}_KAFKA_CONSUMER_IDLE_FETCH_WAIT_MS": "50",
            f"{_name.upper()}_OUTBOX_IDLE_POLL_S": "0.05",
            f"{_name.upper()}_TIMER_MAX_SLEEP_S": "0.5",
            f"{_name.upper()}_OUTBOX_IDLE_CHECK_EVERY_S": "15",
        }
    )


@dataclass
class Stack:
    broker: TansuBroker
    workdir: Path
    gateway_url: str = ""
    service_urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    env: dict[str, dict[str, str]] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    # Every replica's URL per service, the first being service_urls[name] (the one the gateway calls).
    replica_urls: dict[str, list[str]] = field(default_factory=dict)
    # With split_workers: the health/metrics URL of each service's separate `worker` process ("<svc>-worker").
    worker_urls: dict[str, str] = field(default_factory=dict)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_process(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        self.env[name] = env
        self.commands[name] = command
        self.processes[name] = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        process.send_signal(sig)
        process.wait(timeout=10)

    def url_of(self, name: str) -> str:
        """The base URL of a process: "gateway", a service, or a further replica ("applicant-2")."""
        if name == "gateway":
            return self.gateway_url
        if name.endswith("-worker"):
            return self.worker_urls[name.removesuffix("-worker")]
        service, _, number = name.partition("-")
        return self.replica_urls.get(service, [self.service_urls.get(service, "")])[int(number or 1) - 1]

    def restart(self, name: str, timeout: float | None = None) -> None:
        """Start a stopped (or killed) process again with the same command and environment (same database)."""
        if self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is still running")
        self.start_process(name, self.commands[name], self.env[name])
        wait_ready(self.url_of(name), timeout=timeout or READY_TIMEOUT_S, process=self.processes[name])

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _database_url(name: str, workdir: Path, created: list[str]) -> str:
    base = os.environ.get("TEST_DATABASE_URL", "")
    if base.startswith("postgresql"):
        db = f"stack_{name}_{uuid.uuid4().hex[:8]}"
        url = create_database(base, db)
        created.append(db)
        return url
    return f"sqlite+aiosqlite:///{workdir / f'{name}.db'}"


# How long a process may take to answer /readyz: a minute on a quiet machine; a busy one (a few stacks starting
# at once on two cores) needs more, so STACK_READY_TIMEOUT_S can say how long.
READY_TIMEOUT_S = float(os.environ.get("STACK_READY_TIMEOUT_S", "480"))


def wait_ready(url: str, timeout: float = READY_TIMEOUT_S, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s: {last}")


def _wait_all_ready(stack: Stack, names: list[str]) -> None:
    for name in names:
        try:
            wait_ready(stack.url_of(name), process=stack.processes[name])
        except (TimeoutError, RuntimeError) as exc:
            raise RuntimeError(f"{name} did not become ready: {exc}\n--- log ---\n{stack.log(name)[-4000:]}") from exc


@contextmanager
def running_stack(
    broker: TansuBroker,
    services: list[str] | None = None,
    replicas: int = 1,
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
    split_workers: bool = False,
) -> Iterator[Stack]:
    """The platform on free ports; with `replicas=N`, N `serve` processes per service share its database and
    consumer groups ("applicant", "applicant-2", …); the gateway calls the first replica of each. `extra_env`
    adds environment variables per process ("applicant", …, "gateway").

    `split_workers=True` is the production shape: each service's `serve` runs the API only
    (`<PREFIX>_WORKERS_IN_PROCESS=false`) and a separate `<svc> worker` process ("applicant-worker", …; same
    environment and database) runs its outbox relay, consumers and timers, with /readyz and /metrics on a port of
    its own (`stack.worker_urls`). The workers start once their `serve` has migrated the database."""
    services = services or list(SERVICES)
    extra = extra_env or {}
    workdir = Path(tempfile.mkdtemp(prefix="talent-stack-"))
    stack = Stack(broker=broker, workdir=workdir)
    gateway_port = free_port()
    stack.gateway_url = f"http://127.0.0.1:{gateway_port}"
    common = {
        "TALENT_ENV": "dev",
        "PYTHONUNBUFFERED": "1",
    }
    try:
        for name in services:
            port = free_port()
            stack.service_urls[name] = f"http://127.0.0.1:{port}"
            prefix = name.upper()
            env = {
                **common,
                f"{prefix}_DATABASE_URL": _database_url(name, workdir, stack.databases),
                f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                f"{prefix}_JWKS_URL": f"{stack.gateway_url}/.well-known/jwks.json",
                f"{prefix}_LOG_JSON": "true",
                # Replicas share one PostgreSQL server (100 connections here): size each process's pool so that
                # every replica's pool and wake-up listeners fit, as operations.md asks of a deployment.
                **({f"{prefix}_DATABASE_POOL_SIZE": "2"} if replicas > 1 else {}),
                # A consumer group join on Tansu takes half the session timeout.
                f"{prefix}_KAFKA_CONSUMER_SESSION_TIMEOUT_MS": "3000",
                f"{prefix}_KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
                **TEST_TIMINGS.get(name, {}),
                # Partners reach the platform at the gateway: applicant names its status list by that origin.
                **({"APPLICANT_PUBLIC_BASE_URL": stack.gateway_url} if name == "applicant" else {}),
                **extra.get(name, {}),
                **({f"{prefix}_WORKERS_IN_PROCESS": "false"} if split_workers else {}),
            }
            stack.start_process(name, [str(BIN / name), "serve", "--port", str(port)], env)
            stack.replica_urls[name] = [stack.service_urls[name]]
        gateway_env = {
            **common,
            # Every test signs in from 127.0.0.1: the per-IP sign-in limit would throttle the suite itself.
            "GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE": "100000",
            # A rotated talent-code key reaches /.well-known/talent-code/jwks.json within a second, not a minute.
            "GATEWAY_CODE_KEYS_CACHE_S": "1",
            "GATEWAY_DATABASE_URL": _database_url("gateway", workdir, stack.databases),
            **{f"GATEWAY_{name.upper()}_URL": url for name, url in stack.service_urls.items()},
            **extra.get("gateway", {}),
        }
        stack.start_process("gateway", [str(BIN / "gateway"), "serve", "--port", str(gateway_port)], gateway_env)
        _wait_all_ready(stack, [*stack.service_urls, "gateway"])
        if split_workers:
            for name in services:
                port = free_port()
                stack.worker_urls[name] = f"http://127.0.0.1:{port}"
                stack.start_process(f"{name}-worker", [str(BIN / name), "worker", "--port", str(port)], stack.env[name])
            _wait_all_ready(stack, [f"{name}-worker" for name in services])
        # Further replicas start once the first has migrated the shared database (migrations do not race).
        for number in range(2, replicas + 1):
            for name in services:
                port = free_port()
                stack.replica_urls[name].append(f"http://127.0.0.1:{port}")
                command = [str(BIN / name), "serve", "--port", str(port), "--no-migrate"]
                stack.start_process(f"{name}-{number}", command, stack.env[name])
            _wait_all_ready(stack, [f"{name}-{number}" for name in services])
        yield stack
    finally:
        stack.stop()
        base = os.environ.get("TEST_DATABASE_URL", "")
        for db in stack.databases:
            drop_database(base, db)
        if os.environ.get("KEEP_STACK_LOGS") is None:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
