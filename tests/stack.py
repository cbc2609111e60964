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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from servicekit.testing import TansuBroker, _pg_admin_dsn, _pg_execute, _run, _with_database, free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVICES = ("applicant", "benefits", "housing", "notify")
# Shorter waits than production, so the cross-service tests see timers fire within seconds.
TEST_TIMINGS: dict[str, dict[str, str]] = {
    "benefits": {"BENEFITS_PUBLICITY_PERIOD_S": "2"},
    "notify": {"NOTIFY_DELIVERY_RETRY_BASE_S": "0.5", "NOTIFY_CHANNEL_RETRY_BASE_S": "0.5"},
}


@dataclass
class Stack:
    broker: TansuBroker
    workdir: Path
    gateway_url: str = ""
    service_urls: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    env: dict[str, dict[str, str]] = field(default_factory=dict)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_process(self, name: str, command: list[str], env: dict[str, str]) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115  (kept open for the child's lifetime)
        self.env[name] = env
        self.processes[name] = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        process.send_signal(sig)
        process.wait(timeout=10)

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
        _run(_pg_execute(_pg_admin_dsn(base), f'CREATE DATABASE "{db}"'))
        created.append(db)
        return _with_database(base, db)
    return f"sqlite+aiosqlite:///{workdir / f'{name}.db'}"


def wait_ready(url: str, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None) -> None:
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


@contextmanager
def running_stack(broker: TansuBroker, services: list[str] | None = None) -> Iterator[Stack]:
    services = services or list(SERVICES)
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
                # A consumer group join on Tansu takes half the session timeout.
                f"{prefix}_KAFKA_CONSUMER_SESSION_TIMEOUT_MS": "3000",
                f"{prefix}_KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS": "500",
                **TEST_TIMINGS.get(name, {}),
            }
            stack.start_process(name, [str(BIN / name), "serve", "--port", str(port)], env)
        gateway_env = {
            **common,
            "GATEWAY_DATABASE_URL": _database_url("gateway", workdir, stack.databases),
            **{f"GATEWAY_{name.upper()}_URL": url for name, url in stack.service_urls.items()},
        }
        stack.start_process("gateway", [str(BIN / "gateway"), "serve", "--port", str(gateway_port)], gateway_env)
        for name, url in [*stack.service_urls.items(), ("gateway", stack.gateway_url)]:
            try:
                wait_ready(url, process=stack.processes[name])
            except (TimeoutError, RuntimeError) as exc:
                raise RuntimeError(
                    f"{name} did not become ready: {exc}\n--- log ---\n{stack.log(name)[-4000:]}"
                ) from exc
        yield stack
    finally:
        stack.stop()
        base = os.environ.get("TEST_DATABASE_URL", "")
        for db in stack.databases:
            _run(_pg_execute(_pg_admin_dsn(base), f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        if os.environ.get("KEEP_STACK_LOGS") is None:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
