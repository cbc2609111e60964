"""Fuzzing the whole public API: schemathesis generates requests from the gateway's merged /openapi.json
and sends them as every role (each dev official, a partner, a talent, and nobody), to every operation.

Each response must be no server error (5xx) and must conform to the operation's OpenAPI description: a
documented status code, the documented media type (problem+json for errors), a body matching the schema.

Operations a role may call (routes.ACCESS_RULES) get valid and invalid examples, and, where the platform
holds real objects behind the path parameters (a certified talent's claim, a housing round with an offer, a
partner's subscription, …), valid examples aimed at those; operations a role may not call get one example
(the gateway's 403 must conform too). The run is deterministic (a fixed seed); FUZZ_EXAMPLES and FUZZ_SEED
make it longer or different (`make fuzz`).

The fuzzer creates policies, housing projects and rounds, changes partner visibility and rotates keys, so it
runs on a platform of its own (processes and broker), with the gateway's rate limits off (they would answer
429 to most of the run; tests/security checks them) and access tokens that outlive a long run.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import requests
import schemathesis
from gateway.routes import resolve_service
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from servicekit.testing import TansuBroker, eventually

from . import helpers
from .stack import Stack, running_stack

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))  # valid examples per operation, role and target
NEGATIVE_EXAMPLES = max(1, EXAMPLES // 2)  # invalid ones
SEED = int(os.environ.get("FUZZ_SEED", "20260501"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
IDENTITIES = ("anonymous", *helpers.ROLES)

pytestmark = pytest.mark.slow


# --- the stack and what is in it ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[Stack]:
    # A broker of its own too: on the session's broker, this platform's consumers would join the same
    # consumer groups as the shared platform's and take its events (and it theirs).
    broker = TansuBroker().start()
    env = {"gateway": {"GATEWAY_RATE_LIMIT_ENABLED": "false", "GATEWAY_ACCESS_TOKEN_TTL_S": "86400"}}
    try:
        with running_stack(broker, extra_env=env) as stack:
            yield stack
    finally:
        broker.stop()


@dataclass
class Scene:
    """Who calls (headers per identity) and which real objects the path parameters may name."""

    headers: dict[str, helpers.Headers]
    path_values: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
async def scene(fuzz_stack: Stack) -> Scene:
    async with httpx.AsyncClient(base_url=fuzz_stack.gateway_url, timeout=20.0) as gateway:
        headers: dict[str, helpers.Headers] = {"anonymous": {}, **await helpers.role_headers(gateway)}
        talent = headers["talent"]
        talent_id = await helpers.certify(gateway, talent, helpers.profile(helpers.fresh_id_number()))
        values = {"talent_id": talent_id, "code": "RENT_SUBSIDY", "partner_kind": "hospital"}

        member_id_number = helpers.fresh_id_number()
        member = await gateway.post(
            "/api/v1/me/family",
            json={
                "relation": "spouse",
                "name": "赵六",
                "id_type": "resident_id",
                "id_number": member_id_number,
                "birth_date": helpers.birth_date_of(member_id_number),
            },
            headers=talent,
        )
        assert member.status_code == 201, member.text
        values["member_id"] = member.json()["id"]
        certifications = (await gateway.get("/api/v1/me/certifications", headers=talent)).json()["items"]
        values["certification_id"] = certifications[0]["id"]
        values["claim_id"] = (await helpers.auto_granted_claim(gateway, talent))["id"]
        values["notification_id"] = (await helpers.first_notification(gateway, talent))["id"]

        subscription = await gateway.post(
            "/api/v1/partners/subscriptions",
            json={
                "event_types": ["talent.applicant.talent.certified.v1"],
                "url": "http://127.0.0.1:9/hook",
                "secret": "fuzz-webhook-secret-0123",
            },
            headers=headers["partner"],
        )
        assert subscription.status_code == 201, subscription.text
        values["subscription_id"] = subscription.json()["id"]

        values.update(await _housing_round_with_an_offer(gateway, headers["housing_officer"], talent))
        return Scene(headers=headers, path_values=values)


async def _housing_round_with_an_offer(
    gateway: httpx.AsyncClient, officer: helpers.Headers, talent: helpers.Headers
) -> dict[str, str]:
    """A project with two units; one round the talent applied to, drawn (an open offer); one round open."""
    project = await gateway.post(
        "/api/v1/housing/projects",
        json={"name": "模糊测试公寓", "region_code": "330402", "supply_model": "government", "address": "南湖路9号"},
        headers=officer,
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    units = await gateway.post(
        f"/api/v1/housing/projects/{project_id}/units",
        json={
            "units": [
                {"number": f"F-{n}", "unit_type": "1BR", "area_m2": 45.0, "monthly_rent_fen": 200000} for n in (1, 2)
            ]
        },
        headers=officer,
    )
    assert units.status_code == 201, units.text
    unit_ids = [u["id"] for u in units.json()["items"]]
    closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    rounds = []
    for name, unit_id in zip(("模糊测试第一批", "模糊测试第二批"), unit_ids, strict=True):
        created = await gateway.post(
            "/api/v1/housing/rounds",
            json={"name": name, "unit_ids": [unit_id], "closes_at": closes_at},
            headers=officer,
        )
        assert created.status_code == 201, created.text
        rounds.append(created.json()["id"])

    async def applied() -> bool:  # housing hears of the certification through Kafka
        response = await gateway.post(
            f"/api/v1/housing/rounds/{rounds[0]}/applications",
            json={"preferred_project_ids": [project_id], "household_size": 1},
            headers=talent,
        )
        return response.status_code == 201

    await eventually(applied, timeout=30, interval=0.2)
    for step in ("close", "draw"):
        response = await gateway.post(f"/api/v1/housing/rounds/{rounds[0]}/{step}", headers=officer)
        assert response.status_code == 200, response.text
    [offer] = (await gateway.get("/api/v1/me/housing", headers=talent)).json()["offers"]
    return {"project_id": project_id, "unit_id": unit_ids[1], "round_id": rounds[1], "offer_id": offer["id"]}


@pytest.fixture(scope="module")
def api(fuzz_stack: Stack, scene: Scene) -> schemathesis.BaseSchema:
    """The gateway's merged OpenAPI document, as every client sees it."""
    document = httpx.get(f"{fuzz_stack.gateway_url}/openapi.json", timeout=20.0).json()
    return schemathesis.openapi.from_dict(document)


# --- the run -------------------------------------------------------------------------------------------


def plan(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], identity: str, scene: Scene
) -> list[tuple[str, Any, int]]:
    """(label, strategy, examples) to run for one operation and identity."""
    method, path = operation.method.upper(), operation.path
    if resolve_service(path) is None:  # the gateway's own sign-in and key endpoints: no token involved
        return [("valid", operation.as_strategy(), EXAMPLES)] if identity == "anonymous" else []
    if not helpers.gateway_allows(identity, method, path):
        return [("refused", operation.as_strategy(), 1)]
    runs = [
        ("valid", operation.as_strategy(), EXAMPLES),
        ("invalid", operation.as_strategy(GenerationMode.NEGATIVE), NEGATIVE_EXAMPLES),
    ]
    names = [p.name for p in operation.path_parameters]
    if names and all(name in scene.path_values for name in names):
        real = {name: scene.path_values[name] for name in names}
        runs.append(("real ids", operation.as_strategy(path_parameters=real), EXAMPLES))
    return runs


def fuzz(
    strategy: Any, examples: int, send: Callable[[schemathesis.Case[Any]], None]
) -> None:  # a Hypothesis run per operation
    @hypothesis.seed(SEED)
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @hypothesis.given(case=strategy)
    def run(case: schemathesis.Case[Any]) -> None:
        send(case)

    run()


@pytest.mark.parametrize("identity", IDENTITIES)
def test_every_operation_answers_within_its_schema(
    identity: str, api: schemathesis.BaseSchema, scene: Scene, fuzz_stack: Stack
) -> None:
    failures: list[str] = []
    session = requests.Session()
    headers = scene.headers[identity]
    statuses: Counter[int] = Counter()  # a summary of the run, printed with -s

    def send(case: schemathesis.Case[Any]) -> None:
        response = case.call_and_validate(
            base_url=fuzz_stack.gateway_url, session=session, headers=headers, checks=CHECKS, timeout=30
        )
        statuses[response.status_code] += 1

    for result in api.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the merged document itself is broken
        operation = result.ok()
        for label, strategy, examples in plan(operation, identity, scene):
            try:
                fuzz(strategy, examples, send)
            except hypothesis.errors.Unsatisfiable:
                continue  # nothing to make invalid: an operation without parameters or body
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup: report them all at the end
                failures.append(f"{operation.method.upper()} {operation.path} [{label}]: {str(exc)[:3000]}")
    session.close()
    print(f"{identity}: {sum(statuses.values())} requests, by status {dict(sorted(statuses.items()))}")
    assert not failures, f"{len(failures)} failing operations as {identity}:\n\n" + "\n\n".join(failures)
