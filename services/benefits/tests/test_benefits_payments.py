"""Payment batches: claims whose 公示 ended go to the bank in one CSV file (control line, SHA-256), the bank's
result file pays or fails them line by line (the same file twice changes nothing, what cannot be applied is
reported), a failed payment goes into a later batch, and finance reconciles budgets against payments."""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.testing import TestKeys

from .conftest import Events, Statements, certified, fire_timers, registered

Headers = dict[str, str]
BATCHES = "/api/v1/finance/payment-batches"
CSV = {"Content-Type": "text/csv"}


async def _publicized_claim(
    client: httpx.AsyncClient, events: Events, test_keys: TestKeys, officials: dict[str, Headers]
) -> dict[str, Any]:
    """A talent's rent subsidy (6 months at tier D) on public notice: straight through, or by the two reviews."""
    talent_id = str(uuid.uuid4())
    await events.apply(registered(talent_id))
    await events.apply(certified(talent_id, "D"))
    headers = test_keys.headers(talent_id, ["talent"])
    filed = await client.post(
        "/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY", "details": {"months": 6}}, headers=headers
    )
    assert filed.status_code == 201, filed.text
    claim: dict[str, Any] = filed.json()
    for officer in ("reviewer.nanhu", "approver.city"):
        if claim["status"] == "publicized":
            break
        decided = await client.post(
            f"/api/v1/reviews/claims/{claim['id']}/decisions",
            json={"decision": "approve", "reason": "checked"},
            headers=officials[officer],
        )
        assert decided.status_code == 200, decided.text
        claim = decided.json()
    assert claim["status"] == "publicized"
    return claim


async def _payable_claims(
    n: int,
    client: httpx.AsyncClient,
    events: Events,
    test_keys: TestKeys,
    officials: dict[str, Headers],
    app: FastAPI,
) -> list[dict[str, Any]]:
    claims = [await _publicized_claim(client, events, test_keys, officials) for _ in range(n)]
    await fire_timers(app, utcnow() + timedelta(hours=2))  # the 公示 period (an hour in tests) ends
    return claims


async def _claim(client: httpx.AsyncClient, officials: dict[str, Headers], claim_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/reviews/claims/{claim_id}", headers=officials["auditor.city"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _bank_file(client: httpx.AsyncClient, headers: Headers, batch_id: str) -> tuple[bytes, list[list[str]]]:
    response = await client.get(f"{BATCHES}/{batch_id}/file", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return response.content, list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


def _results(*lines: tuple[str, ...], header: str = "line_ref,status,bank_reference") -> bytes:
    return ("\n".join([header, *(",".join(line) for line in lines)]) + "\n").encode()


async def _import(client: httpx.AsyncClient, headers: Headers, batch_id: str, content: bytes) -> httpx.Response:
    return await client.post(f"{BATCHES}/{batch_id}/results", content=content, headers={**headers, **CSV})


class TestPaymentBatch:
    async def test_round_trip_pays_and_fails_lines_and_the_same_file_twice_changes_nothing(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        finance = officials["finance.city"]
        claims = await _payable_claims(3, client, events, test_keys, officials, benefits_app)
        on_notice = await _publicized_claim(client, events, test_keys, officials)  # 公示 still running

        created = await client.post(BATCHES, json={}, headers=finance)
        assert created.status_code == 201, created.text
        batch = created.json()
        assert batch["status"] == "open" and batch["lines"] == 3
        assert batch["total_fen"] == sum(c["amount_fen"] for c in claims) == 3 * 6 * 200000

        content, rows = await _bank_file(client, finance, batch["id"])
        assert hashlib.sha256(content).hexdigest() == batch["file_sha256"]
        assert rows[0] == ["line_ref", "claim_id", "payee_reference", "policy_code", "year", "amount_fen"]
        assert rows[-1] == ["#control", "3", str(batch["total_fen"])]
        lines = rows[1:-1]
        assert {line[1] for line in lines} == {c["id"] for c in claims}
        assert on_notice["id"] not in content.decode()
        assert {line[2] for line in lines} == {c["talent_id"] for c in claims}  # the bank matches on it
        # A second download is the same file, byte for byte.
        assert (await _bank_file(client, finance, batch["id"]))[0] == content

        result_file = _results(
            (lines[0][0], "paid", "BANK-0001"), (lines[1][0], "failed", ""), (lines[2][0], "paid", "BANK-0003")
        )
        applied = await _import(client, finance, batch["id"], result_file)
        assert applied.status_code == 200, applied.text
        assert applied.json() == {"paid": 2, "failed": 1, "ignored": 0, "problems": []}

        paid = await _claim(client, officials, lines[0][1])
        assert paid["status"] == "disbursed" and paid["payment_reference"] == "BANK-0001"
        assert paid["history"][-1]["action"] == "disbursed" and lines[0][0] in paid["history"][-1]["reason"]
        failed = await _claim(client, officials, lines[1][1])
        assert failed["status"] == "payment_failed" and failed["history"][-1]["action"] == "payment_failed"
        settled = (await client.get(f"{BATCHES}/{batch['id']}", headers=finance)).json()
        assert settled["status"] == "settled" and (settled["paid"], settled["failed"]) == (2, 1)

        again = await _import(client, finance, batch["id"], result_file)
        assert again.status_code == 200
        assert again.json() == {"paid": 0, "failed": 0, "ignored": 3, "problems": []}
        assert (await _claim(client, officials, lines[0][1]))["history"] == paid["history"]

        audit = await client.get(f"/api/v1/audit/benefits?subject_id={batch['id']}", headers=officials["auditor.city"])
        assert [e["action"] for e in audit.json()["items"]].count("payment_batch.results") == 1

    async def test_a_failed_payment_goes_into_a_later_batch_and_is_paid_there(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        finance = officials["finance.city"]
        [claim, other] = await _payable_claims(2, client, events, test_keys, officials, benefits_app)
        first = (await client.post(BATCHES, json={}, headers=finance)).json()
        # Every due claim waits in the open batch: nothing is due for another.
        nothing = await client.post(BATCHES, json={}, headers=finance)
        assert nothing.status_code == 409 and nothing.headers["content-type"] == "application/problem+json"

        _, rows = await _bank_file(client, finance, first["id"])
        ref = {line[1]: line[0] for line in rows[1:-1]}
        await _import(client, finance, first["id"], _results((ref[claim["id"]], "failed", "")))
        assert (await client.get(f"{BATCHES}/{first['id']}", headers=finance)).json()["status"] == "open"

        later = await client.post(BATCHES, json={"policy_code": "RENT_SUBSIDY"}, headers=finance)
        assert later.status_code == 201, later.text
        assert later.json()["lines"] == 1 and later.json()["policy_code"] == "RENT_SUBSIDY"
        _, rows = await _bank_file(client, finance, later.json()["id"])
        assert [line[1] for line in rows[1:-1]] == [claim["id"]] and rows[1][0] != ref[claim["id"]]
        applied = await _import(client, finance, later.json()["id"], _results((rows[1][0], "paid", "BANK-RETRY-1")))
        assert applied.json()["paid"] == 1

        retried = await _claim(client, officials, claim["id"])
        assert retried["status"] == "disbursed" and retried["payment_reference"] == "BANK-RETRY-1"
        assert [h["action"] for h in retried["history"]][-2:] == ["payment_failed", "disbursed"]
        assert (await _claim(client, officials, other["id"]))["status"] == "publicized"  # still at the bank

    async def test_a_result_file_costs_at_most_one_statement_per_line(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        """A city's result file has thousands of lines: each line costs at most its claim's own UPDATE, and its
        history, audit, event and timer changes go out with the other lines' (a statement of each per line
        made a 4,740-line file outlast the gateway's timeout)."""
        finance = officials["finance.city"]
        claims = await _payable_claims(15, client, events, test_keys, officials, benefits_app)
        short = {c["id"] for c in claims[:3]}
        first = (await client.post(BATCHES, json={}, headers=finance)).json()
        _, rows = await _bank_file(client, finance, first["id"])
        by_claim = {line[1]: line[0] for line in rows[1:-1]}

        async def statements_to_import(claim_ids: list[str]) -> int:
            lines = [(by_claim[c], "paid" if n % 3 else "failed", f"BANK-{c[:8]}") for n, c in enumerate(claim_ids)]
            lines = [(ref, status, reference if status == "paid" else "") for ref, status, reference in lines]
            with Statements(benefits_app) as statements:
                applied = await _import(client, finance, first["id"], _results(*lines))
            assert applied.status_code == 200 and applied.json()["problems"] == [], applied.text
            return sum(statements.seen.values())

        three = await statements_to_import(sorted(short))
        twelve = await statements_to_import(sorted(c["id"] for c in claims if c["id"] not in short))
        assert twelve - three <= 9, (three, twelve)  # nine lines more: at most their nine claims' UPDATEs
        paid = [await _claim(client, officials, c["id"]) for c in claims]
        assert {c["status"] for c in paid} == {"disbursed", "payment_failed"}

    async def test_lines_that_cannot_be_applied_are_reported_and_change_nothing(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        finance = officials["finance.city"]
        claims = await _payable_claims(2, client, events, test_keys, officials, benefits_app)
        batch = (await client.post(BATCHES, json={}, headers=finance)).json()
        _, rows = await _bank_file(client, finance, batch["id"])
        [(ref_a, _, _, _, _, amount_a), (ref_b, *_)] = rows[1:-1]
        content = _results(
            ("PBUNKNOWN000001", "paid", "BANK-X1", "100"),
            (ref_a, "paid", "BANK-A", str(int(amount_a) + 1)),  # not the batch's amount
            (ref_b, "bounced", "BANK-B", "0"),
            (ref_b, "paid", "", "0"),
            (ref_b, "paid"),
            header="line_ref,status,bank_reference,amount_fen",
        )
        response = await _import(client, finance, batch["id"], content)
        assert response.status_code == 200, response.text
        outcome = response.json()
        assert (outcome["paid"], outcome["failed"], outcome["ignored"]) == (0, 0, 0)
        problems = {p["line"]: p for p in outcome["problems"]}
        assert sorted(problems) == [2, 3, 4, 5, 6]
        assert problems[2]["line_ref"] == "PBUNKNOWN000001" and "no line" in problems[2]["problem"]
        assert "amount_fen" in problems[3]["problem"] and "status" in problems[4]["problem"]
        assert "more than once" in problems[5]["problem"] and "fields" in problems[6]["problem"]
        assert {(await _claim(client, officials, c["id"]))["status"] for c in claims} == {"publicized"}
        assert (await client.get(f"{BATCHES}/{batch['id']}", headers=finance)).json()["status"] == "open"

        # A bank reference already recorded for another payment is reported too.
        await _import(client, finance, batch["id"], _results((ref_a, "paid", "BANK-SAME")))
        reused = (await _import(client, finance, batch["id"], _results((ref_b, "paid", "BANK-SAME")))).json()
        assert reused["paid"] == 0 and "already recorded" in reused["problems"][0]["problem"]
        # So is a different result for a line already settled.
        changed = (await _import(client, finance, batch["id"], _results((ref_a, "failed", "")))).json()
        assert changed["failed"] == 0 and "already recorded as paid" in changed["problems"][0]["problem"]

    async def test_a_file_that_is_not_a_result_file_is_refused_whole(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        finance = officials["finance.city"]
        await _payable_claims(1, client, events, test_keys, officials, benefits_app)
        batch = (await client.post(BATCHES, json={}, headers=finance)).json()
        as_json = await client.post(f"{BATCHES}/{batch['id']}/results", json={"paid": []}, headers=finance)
        assert as_json.status_code == 415
        no_header = await _import(client, finance, batch["id"], b"PB1,paid,BANK-1\n")
        assert no_header.status_code == 422 and no_header.json()["errors"][0]["field"] == "body"
        not_utf8 = await _import(client, finance, batch["id"], "line_ref,status,bank_reference\n".encode("utf-16"))
        assert not_utf8.status_code == 422
        assert (await _import(client, finance, "no-such-batch", _results())).status_code == 404
        assert (await client.get(f"{BATCHES}/no-such-batch/file", headers=finance)).status_code == 404

    async def test_idempotency_key_replays_the_batch_instead_of_making_a_second(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        await _payable_claims(1, client, events, test_keys, officials, benefits_app)
        headers = {**officials["finance.city"], "Idempotency-Key": "batch-1"}
        first = await client.post(BATCHES, json={}, headers=headers)
        second = await client.post(BATCHES, json={}, headers=headers)
        assert first.status_code == 201 and second.status_code == 201
        assert second.json() == first.json() and second.headers.get("idempotent-replayed") == "true"
        listed = (await client.get(BATCHES, headers=officials["finance.city"])).json()
        assert [b["id"] for b in listed["items"]] == [first.json()["id"]] and listed["next_cursor"] is None

    async def test_only_finance_makes_batches_and_auditors_may_read_them(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
        talent: Headers,
    ) -> None:
        await _payable_claims(1, client, events, test_keys, officials, benefits_app)
        assert (await client.post(BATCHES, json={})).status_code == 401
        for who in (talent, officials["approver.city"], officials["auditor.city"]):
            assert (await client.post(BATCHES, json={}, headers=who)).status_code == 403
        batch = (await client.post(BATCHES, json={}, headers=officials["finance.city"])).json()
        auditor = officials["auditor.city"]
        assert (await client.get(f"{BATCHES}/{batch['id']}", headers=auditor)).status_code == 200
        assert (await client.get(f"{BATCHES}/{batch['id']}/file", headers=auditor)).status_code == 200
        assert (await _import(client, auditor, batch["id"], _results())).status_code == 403
        assert (await client.get(BATCHES, headers=talent)).status_code == 403
        assert (await client.get("/api/v1/finance/budgets", headers=officials["reviewer.nanhu"])).status_code == 403

    async def test_an_officer_who_decided_a_claim_does_not_batch_it(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        [claim] = await _payable_claims(1, client, events, test_keys, officials, benefits_app)
        deciders = {h["actor"] for h in claim["history"] if h["action"] == "approved"}
        if not deciders:
            return  # approved straight through: no officer decided it
        [city] = [a for a in deciders if "approver" in a]
        both = test_keys.headers(city, ["city_approver", "finance_officer"])
        assert (await client.post(BATCHES, json={}, headers=both)).status_code == 409
        assert (await client.post(BATCHES, json={}, headers=officials["finance.city"])).status_code == 201


class TestBudgetReconciliation:
    async def test_committed_and_paid_per_policy_and_year_agree_with_the_claims(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        finance = officials["finance.city"]
        claims = await _payable_claims(2, client, events, test_keys, officials, benefits_app)
        batch = (await client.post(BATCHES, json={}, headers=finance)).json()
        _, rows = await _bank_file(client, finance, batch["id"])
        await _import(client, finance, batch["id"], _results((rows[1][0], "paid", "BANK-R1")))

        year = claims[0]["year"]
        response = await client.get(f"/api/v1/finance/budgets?year={year}", headers=officials["auditor.city"])
        assert response.status_code == 200, response.text
        [rent] = [i for i in response.json()["items"] if i["policy_code"] == "RENT_SUBSIDY"]
        each = claims[0]["amount_fen"]
        assert (rent["committed_fen"], rent["committed_count"]) == (2 * each, 2)
        assert (rent["paid_fen"], rent["paid_count"], rent["unpaid_fen"]) == (each, 1, each)
        assert rent["claims_committed_fen"] == 2 * each and rent["consistent"] is True
        assert (await client.get("/api/v1/finance/budgets?year=1999", headers=finance)).status_code == 422
