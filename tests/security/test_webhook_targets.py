"""OWASP API7, server-side request forgery: in production a partner cannot point notify's webhook deliveries
at the platform's own network. The notify service is built in-process with production settings and real
(non-placeholder) secrets; every URL that reaches a loopback, private, link-local, shared or metadata
address, however it is spelled, is a 422, and a public address is accepted (so the 422s are the check's).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from notify.config import NotifySettings
from notify.main import build_app
from servicekit.auth import StaticJwks
from servicekit.testing import TansuBroker, TestDatabases, TestKeys, serve_in_process

NOTIFY_ALEMBIC_INI = Path(__file__).resolve().parents[2] / "services" / "notify" / "alembic.ini"
SUBSCRIPTIONS = "/api/v1/partners/subscriptions"

INTERNAL_TARGETS = [
    "http://127.0.0.1/hooks",
    "http://127.1/hooks",  # short form of 127.0.0.1
    "http://2130706433/hooks",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/hooks",  # … in hexadecimal
    "http://0177.0.0.1/hooks",  # … in octal
    "http://localhost:8001/api/v1/admin",  # a name that resolves to loopback
    "http://0.0.0.0:8000/",
    "http://[::1]/hooks",
    "http://[::ffff:127.0.0.1]/hooks",  # IPv4-mapped IPv6
    "http://[2002:7f00:1::1]/hooks",  # 6to4 around 127.0.0.1
    "http://10.0.0.5/hooks",
    "http://172.16.0.1/hooks",
    "http://192.168.1.1/hooks",
    "http://169.254.169.254/latest/meta-data/",  # the cloud metadata service (AWS, Tencent Cloud)
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud ECS metadata, in shared address space
    "http://100.64.0.1/hooks",  # carrier-grade NAT, shared address space
    "http://[fe80::1]/hooks",
    "http://[fd00::1]/hooks",
    "http://example.org@127.0.0.1/hooks",  # credentials in the URL (and a loopback host behind them)
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://93.184.216.34/",
    "/relative/hooks",
]


@pytest.fixture(scope="module")
def notify_databases() -> Iterator[TestDatabases]:
    databases = TestDatabases(NOTIFY_ALEMBIC_INI, "notify")
    yield databases
    databases.close()


@pytest.fixture
async def production_notify(
    notify_databases: TestDatabases, broker: TansuBroker, test_keys: TestKeys
) -> AsyncIterator[httpx.AsyncClient]:
    with notify_databases.fresh() as url:
        settings = NotifySettings(
            TALENT_ENV="production",
            database_url=url,
            kafka_bootstrap_servers=broker.bootstrap_servers,
            contact_keys="c1:" + secrets.token_urlsafe(32),
            store_keys="n1:" + secrets.token_urlsafe(32),
        )
        assert not settings.is_dev and not settings.allow_private_targets
        app = build_app(settings, key_source=StaticJwks(test_keys.jwks()), run_workers=False)
        async with serve_in_process(app) as client:
            yield client


@pytest.fixture
def partner(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("partner-transit", ["partner"], partner_kind="transit")


def subscription(url: str) -> dict[str, object]:
    return {"event_types": ["talent.applicant.talent.certified.v1"], "url": url, "secret": secrets.token_hex(16)}


async def test_internal_targets_are_refused_in_production(
    production_notify: httpx.AsyncClient, partner: dict[str, str]
) -> None:
    accepted = {}
    for url in INTERNAL_TARGETS:
        response = await production_notify.post(SUBSCRIPTIONS, json=subscription(url), headers=partner)
        if response.status_code != 422 or not response.headers["content-type"].startswith("application/problem"):
            accepted[url] = response.status_code
    assert accepted == {}, f"internal webhook targets not refused: {accepted}"
    listed = (await production_notify.get(SUBSCRIPTIONS, headers=partner)).json()["items"]
    assert listed == []


async def test_a_public_target_is_accepted_in_production(
    production_notify: httpx.AsyncClient, partner: dict[str, str]
) -> None:
    response = await production_notify.post(
        SUBSCRIPTIONS, json=subscription("https://93.184.216.34/webhooks/talent"), headers=partner
    )
    assert response.status_code == 201, response.text
