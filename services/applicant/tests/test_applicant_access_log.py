"""The read log (访问记录): officials' reads of a talent's personal data and partners' verifications of their
code, shown to the talent and queried by auditors; the scan log's recorder that writes verifications off the
verify path (batched, bounded, counted, flushed at shutdown)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from applicant.access_log import ActorKind, entry_values
from applicant.config import ApplicantSettings
from applicant.main import build_app
from applicant.models import AccessLogEntry
from applicant.scan_log import ENTRIES, ScanRecorder
from contracts.events import CodeVerified
from fastapi import FastAPI
from servicekit.auth import StaticJwks
from servicekit.db import Database, utcnow
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys, eventually, serve_in_process
from sqlmodel import col, select

from .conftest import Officials, certify, register, resident_id, submit, verified_talent

LOG = "/api/v1/me/access-log"
AUDIT = "/api/v1/audit/applicant/access-log"
PHONE = "+8613712345678"


@pytest.fixture
def talent(test_keys: TestKeys, talent_id: str) -> dict[str, str]:
    """The talents here signed in with PHONE: their tokens vouch for it, so their profiles may name it."""
    return verified_talent(test_keys, talent_id, PHONE)


async def _log(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = await client.get(LOG, headers=headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def _audit(client: httpx.AsyncClient, officials: Officials, **params: Any) -> dict[str, Any]:
    response = await client.get(AUDIT, headers=officials.auditor, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _talent_id(client: httpx.AsyncClient, headers: dict[str, str]) -> str:
    return str((await client.get("/api/v1/me/talent", headers=headers)).json()["talent_id"])


async def _verify(client: httpx.AsyncClient, officials: Officials, code: str, scene: str = "hospital") -> Any:
    response = await client.post(
        "/api/v1/codes/verify", json={"code": code, "scene": scene}, headers=officials.partner(scene)
    )
    assert response.status_code == 200, response.text
    return response.json()


def _recorder(app: FastAPI) -> ScanRecorder:
    recorder: ScanRecorder = app.state.scan_recorder
    return recorder


async def _rows(database_url: str) -> list[AccessLogEntry]:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            return list((await session.exec(select(AccessLogEntry).order_by(col(AccessLogEntry.id)))).all())
    finally:
        await database.dispose()


def _metric(outcome: str) -> float:
    return float(ENTRIES.labels(outcome)._value.get())


@pytest.fixture
def other_talent(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("talent-other-0001", ["talent"])


@pytest.fixture
async def code(client: httpx.AsyncClient, talent: dict[str, str], officials: Officials) -> str:
    """A certified (tier D) talent's fresh code; registered with a phone number, to look for it in the log."""
    await certify(client, talent, officials, tier="D", phone=PHONE)
    response = await client.get("/api/v1/me/code", headers=talent)
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


class TestOfficialReads:
    async def test_an_official_opening_a_case_shows_in_the_talents_access_log(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        assert await _log(client, talent) == []

        opened = await client.get(f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.nanhu)
        assert opened.status_code == 200 and opened.json()["applicant"]["name"] == "张三"

        [entry] = await _log(client, talent)
        assert entry["actor_kind"] == "official"
        assert entry["actor"] == "county_reviewer 330402 (official-reviewer-nanhu)"
        assert entry["action"] == "certification.read"
        assert entry["scene"] is None
        assert abs(utcnow().timestamp() - _at(entry)) < 60

    async def test_a_case_the_official_may_not_see_is_not_a_read(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        other_county = await client.get(
            f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.xiuzhou
        )
        assert other_county.status_code == 404
        assert await _log(client, talent) == []

    async def test_a_queue_page_records_one_read_per_talent_shown(
        self, client: httpx.AsyncClient, talent: dict[str, str], other_talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        await submit(client, talent)
        await register(client, other_talent, id_number=resident_id(sequence="456"), name="李四")
        await submit(client, other_talent)

        queue = await client.get("/api/v1/reviews/certifications", headers=officials.nanhu)
        assert queue.status_code == 200 and len(queue.json()["items"]) == 2

        for headers in (talent, other_talent):
            [entry] = await _log(client, headers)
            assert (entry["action"], entry["actor_kind"]) == ("certification.list", "official")
        # An official of another county sees neither in their queue: nothing is logged for them.
        assert (await client.get("/api/v1/reviews/certifications", headers=officials.xiuzhou)).json()["items"] == []
        assert len(await _log(client, talent)) == 1

    async def test_deciding_shows_the_case_again_and_is_logged_with_the_decision(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        entries = await _log(client, talent)
        # Newest first: the city approver's decision, then the county reviewer's.
        assert [(e["action"], e["actor"]) for e in entries] == [
            ("certification.decide", "city_approver (official-approver-city)"),
            ("certification.decide", "county_reviewer 330402 (official-reviewer-nanhu)"),
        ]


class TestPartnerVerifications:
    async def test_a_verification_shows_the_partner_the_scene_and_the_result(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, code: str, applicant_app: FastAPI
    ) -> None:
        assert (await _verify(client, officials, code, "hospital"))["valid"] is True
        assert (await _verify(client, officials, code, "transit"))["valid"] is True
        await _recorder(applicant_app).flush()

        verifications = [e for e in await _log(client, talent) if e["action"] == "code.verify"]
        assert [(e["actor_kind"], e["actor"], e["scene"], e["result"]) for e in verifications] == [
            ("partner", "transit (partner-transit)", "transit", "valid"),
            ("partner", "hospital (partner-hospital)", "hospital", "valid"),
        ]

    async def test_the_recorder_writes_on_its_own_after_its_interval(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, code: str
    ) -> None:
        await _verify(client, officials, code)

        async def logged() -> bool:
            return any(e["action"] == "code.verify" for e in await _log(client, talent))

        await eventually(logged, timeout=10, what="the verification in the talent's access log")

    async def test_a_revoked_talents_verification_is_logged_with_its_result(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, code: str, applicant_app: FastAPI
    ) -> None:
        talent_id = await _talent_id(client, talent)
        revoked = await client.post(
            f"/api/v1/admin/talents/{talent_id}/revoke", json={"reason": "left the city"}, headers=officials.admin
        )
        assert revoked.status_code == 200, revoked.text
        assert (await _verify(client, officials, code))["reason"] == "revoked"
        await _recorder(applicant_app).flush()
        [entry] = [e for e in await _log(client, talent) if e["action"] == "code.verify"]
        assert (entry["scene"], entry["result"]) == ("hospital", "revoked")

    async def test_a_code_that_names_no_talent_logs_nothing(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, code: str, applicant_app: FastAPI
    ) -> None:
        head, payload, signature = code.split(".")
        tampered = f"{head}.{payload}.{signature[:-4]}AAAA"
        assert (await _verify(client, officials, tampered))["valid"] is False
        assert (await _verify(client, officials, "TC1:a.b.c"))["valid"] is False
        recorder = _recorder(applicant_app)
        assert recorder.queued == 2  # the statistics events only (see the next test)
        await recorder.flush()
        assert [e for e in await _log(client, talent) if e["action"] == "code.verify"] == []

    async def test_every_verification_sends_a_statistics_event_that_names_no_talent(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        officials: Officials,
        code: str,
        applicant_app: FastAPI,
        applicant_settings: ApplicantSettings,
    ) -> None:
        talent_id = await _talent_id(client, talent)
        assert (await _verify(client, officials, code, "hospital"))["valid"] is True
        assert (await _verify(client, officials, "TC1:a.b.c", "transit"))["valid"] is False
        await _recorder(applicant_app).flush()

        database = Database(applicant_settings.database_url)
        try:
            async with database.read() as connection:
                rows = (
                    await connection.execute(
                        select(OutboxEvent.key, OutboxEvent.payload).where(OutboxEvent.event_type == CodeVerified.type)
                    )
                ).all()
        finally:
            await database.dispose()
        events = sorted((json.loads(payload) for _, payload in rows), key=lambda e: e["data"]["scene"])
        assert [(e["data"]["scene"], e["data"]["partner_kind"], e["data"]["valid"]) for e in events] == [
            ("hospital", "hospital", True),
            ("transit", "transit", False),
        ]
        assert events[0]["data"]["tier"] == "D" and events[0]["data"]["issuing_city"] == "330400"
        assert events[1]["data"]["reason"] and events[1]["data"]["tier"] is None
        # Each subject is a fresh verification id; nothing in the event names or points at the talent.
        assert len({key for key, _ in rows}) == 2
        for _, payload in rows:
            assert talent_id not in payload and PHONE not in payload and "pseudonym" not in payload


class TestWhoSeesWhat:
    async def test_talents_see_only_their_own_log(
        self, client: httpx.AsyncClient, talent: dict[str, str], other_talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        await client.get(f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.nanhu)
        assert len(await _log(client, talent)) == 1
        assert await _log(client, other_talent) == []

    @pytest.mark.parametrize("who", ["talent", "nanhu", "city", "partner"])
    async def test_only_auditors_and_admins_query_across_talents(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, who: str
    ) -> None:
        headers = {
            "talent": talent,
            "nanhu": officials.nanhu,
            "city": officials.city,
            "partner": officials.partner("hospital"),
        }[who]
        assert (await client.get(AUDIT, headers=headers)).status_code == 403
        assert (await client.get(AUDIT, headers=officials.auditor)).status_code == 200
        assert (await client.get(AUDIT, headers=officials.admin)).status_code == 200

    async def test_the_talents_endpoint_is_for_talents(self, client: httpx.AsyncClient, officials: Officials) -> None:
        assert (await client.get(LOG, headers=officials.auditor)).status_code == 403
        assert (await client.get(LOG)).status_code == 401

    async def test_auditors_filter_by_talent_actor_kind_action_and_time(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        other_talent: dict[str, str],
        officials: Officials,
        code: str,
        applicant_app: FastAPI,
    ) -> None:
        # `talent` is certified (two decisions) and verified once; `other_talent` is opened by the city.
        talent_id = await _talent_id(client, talent)
        await register(client, other_talent, id_number=resident_id(sequence="456"), name="李四")
        other = await submit(client, other_talent)
        await client.get(f"/api/v1/reviews/certifications/{other['id']}", headers=officials.city)
        await _verify(client, officials, code)
        await _recorder(applicant_app).flush()

        everything = (await _audit(client, officials))["items"]
        assert len(everything) == 4
        # Just before the first entry (the fixture's decisions), read from the log rather than the clock: the
        # fixture may have run any time before this test's body on a busy machine.
        started = min(datetime.fromisoformat(e["at"]) for e in everything) - timedelta(milliseconds=1)
        assert [e["at"] for e in everything] == sorted((e["at"] for e in everything), reverse=True)

        mine = (await _audit(client, officials, talent_id=talent_id))["items"]
        assert {e["talent_id"] for e in mine} == {talent_id} and len(mine) == 3
        [verified] = (await _audit(client, officials, actor_kind="partner"))["items"]
        assert verified | {"actor_id": "partner-hospital", "actor_role": "hospital", "talent_id": talent_id} == verified
        by_city = (await _audit(client, officials, actor="official-approver-city"))["items"]
        assert [(e["action"], e["talent_id"] == talent_id) for e in by_city] == [
            ("certification.read", False),
            ("certification.decide", True),
        ]
        [read] = (await _audit(client, officials, action="certification.read"))["items"]
        assert read["actor_region"] is None and read["actor_role"] == "city_approver"
        assert len((await _audit(client, officials, since=started.isoformat()))["items"]) == 4
        assert (await _audit(client, officials, until=started.isoformat()))["items"] == []
        combined = await _audit(client, officials, talent_id=talent_id, actor_kind="official", action="code.verify")
        assert combined["items"] == []

    async def test_auditors_page_through_the_log_newest_first(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await register(client, talent)
        certification = await submit(client, talent)
        for _ in range(5):
            await client.get(f"/api/v1/reviews/certifications/{certification['id']}", headers=officials.nanhu)
        seen: list[int] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = await _audit(client, officials, **params)
            seen += [e["id"] for e in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert len(seen) == 5 and seen == sorted(seen, reverse=True)
        talent_page = (await client.get(LOG, headers=talent, params={"limit": 3})).json()
        assert len(talent_page["items"]) == 3 and talent_page["next_cursor"]

    @pytest.mark.parametrize(
        "params",
        [{"cursor": "eyJ4IjoxfQ"}, {"since": "2026-01-01T00:00:00"}, {"actor_kind": "robot"}, {"limit": 0}],
    )
    async def test_bad_filters_and_cursors_are_422(
        self, client: httpx.AsyncClient, officials: Officials, params: dict[str, Any]
    ) -> None:
        assert (await client.get(AUDIT, headers=officials.auditor, params=params)).status_code == 422

    async def test_the_log_holds_no_names_phones_or_identity_numbers(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        officials: Officials,
        code: str,
        applicant_app: FastAPI,
        applicant_settings: ApplicantSettings,
    ) -> None:
        queue = await client.get("/api/v1/reviews/certifications?status=certified", headers=officials.city)
        assert queue.json()["items"][0]["applicant"]["name"] == "张三"
        await _verify(client, officials, code)
        await _recorder(applicant_app).flush()

        rows = await _rows(applicant_settings.database_url)
        assert len(rows) == 4  # two decisions, one queue page, one verification
        stored = json.dumps([row.model_dump(mode="json") for row in rows], ensure_ascii=False)
        shown = json.dumps([await _log(client, talent), (await _audit(client, officials))["items"]], ensure_ascii=False)
        profile = (await client.get("/api/v1/me/profile", headers=talent)).json()
        secrets = ["张三", PHONE, resident_id(), profile["id_number_masked"], "浙江大学", "1995-03-07"]
        for text in (stored, shown):
            for secret in secrets:
                assert secret not in text


class TestScanRecorder:
    async def test_an_overflowing_queue_counts_what_it_drops(self) -> None:
        recorder = ScanRecorder(batch_size=2, capacity=3)  # not started: nothing is written meanwhile
        dropped_before = _metric("dropped")
        for n in range(5):
            recorder.record(_entry(f"talent-{n}"))
        assert (recorder.queued, recorder.dropped) == (3, 2)
        assert _metric("dropped") - dropped_before == 2

    async def test_written_entries_are_counted_and_batched(
        self, applicant_app: FastAPI, applicant_settings: ApplicantSettings, client: httpx.AsyncClient
    ) -> None:
        recorder = ScanRecorder(batch_size=3, interval_s=60, capacity=100)
        written_before = _metric("written")
        async with recorder.running(applicant_app.state.database):
            for n in range(7):
                recorder.record(_entry(f"talent-{n}"))

            # Two full batches go without waiting for the (minute-long) interval; the seventh waits.
            async def two_batches() -> bool:
                return recorder.written == 6

            await eventually(two_batches, timeout=10, what="two full batches written")
            assert recorder.queued == 1
        assert recorder.written == 7 and _metric("written") - written_before == 7
        assert len(await _rows(applicant_settings.database_url)) == 7

    async def test_an_idle_writer_waits_without_a_timeout(self, applicant_app: FastAPI) -> None:
        recorder = ScanRecorder(batch_size=10, interval_s=0.05, capacity=100)
        async with recorder.running(applicant_app.state.database):
            await eventually(lambda: recorder.idle, what="the writer waiting for an entry")
            assert recorder._task is not None
            # What the writer awaits, outermost first: the event's wait itself, not a wait_for with a timeout.
            chain, awaited = [], cast(Any, recorder._task.get_coro())
            while hasattr(awaited, "cr_code"):
                chain.append(awaited.cr_code.co_qualname)
                awaited = awaited.cr_await
            assert chain == ["ScanRecorder._run", "Event.wait"]
            recorder.record(_entry("talent-1"))
            await eventually(lambda: recorder.written == 1 and recorder.idle, what="written, then idle again")

    async def test_a_disabled_scan_log_records_nothing(self) -> None:
        recorder = ScanRecorder(enabled=False)
        recorder.record(_entry("talent-1"))
        assert recorder.queued == 0 and recorder.dropped == 0


class TestShutdown:
    async def test_shutdown_writes_the_waiting_verifications(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        officials: Officials,
        code: str,
        applicant_settings: ApplicantSettings,
        test_keys: TestKeys,
    ) -> None:
        # A replica that would wait a minute (or 1,000 entries) before writing: only its shutdown writes them.
        slow = applicant_settings.model_copy(update={"scan_log_interval_s": 60.0, "scan_log_batch_size": 1_000})
        app = build_app(slow, key_source=StaticJwks(test_keys.jwks()), run_workers=False)
        async with serve_in_process(app) as replica:
            for scene in ("hospital", "transit", "scenic"):
                assert (await _verify(replica, officials, code, scene))["valid"] is True
            assert _recorder(app).queued == 3
            assert [e for e in await _log(replica, talent) if e["action"] == "code.verify"] == []
        verifications = [e for e in await _log(client, talent) if e["action"] == "code.verify"]
        assert sorted(e["scene"] for e in verifications) == ["hospital", "scenic", "transit"]

    async def test_the_switch_turns_the_scan_log_off(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        officials: Officials,
        code: str,
        applicant_settings: ApplicantSettings,
        test_keys: TestKeys,
    ) -> None:
        off = applicant_settings.model_copy(update={"scan_log_enabled": False})
        app = build_app(off, key_source=StaticJwks(test_keys.jwks()), run_workers=False)
        async with serve_in_process(app) as replica:
            assert (await _verify(replica, officials, code))["valid"] is True
        assert [e for e in await _log(client, talent) if e["action"] == "code.verify"] == []


def _entry(talent_id: str) -> dict[str, Any]:
    return entry_values(
        talent_id, actor_kind=ActorKind.PARTNER, actor="partner-x", actor_role="hospital", action="code.verify"
    )


def _at(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["at"]).timestamp()
