"""The envelope round-trips, every documented type has a model, and bad input fails clearly."""

import json
import re
from datetime import UTC, date, datetime

import pytest
from contracts import (
    EVENT_TYPES,
    PARTNER_KINDS,
    PARTNER_VISIBLE_TYPES,
    TOPICS,
    ApplicantEvent,
    CloudEvent,
    EventData,
    InvalidEvent,
    LeaseStarted,
    TalentCertified,
    TalentRegistered,
    UnknownEventType,
    dead_letter_topic,
    make_event,
    parse_data,
    topic_for,
)
from pydantic import ValidationError

# The names docs/api.md fixes, spelled out so a rename here is a visible contract change.
API_EVENT_TYPES = [
    "talent.applicant.talent.registered.v1",
    "talent.applicant.certification.submitted.v1",
    "talent.applicant.certification.decided.v1",
    "talent.applicant.talent.certified.v1",
    "talent.applicant.talent.revoked.v1",
    "talent.benefits.claim.submitted.v1",
    "talent.benefits.claim.decided.v1",
    "talent.benefits.claim.publicized.v1",
    "talent.benefits.claim.disbursed.v1",
    "talent.housing.round.opened.v1",
    "talent.housing.round.drawn.v1",
    "talent.housing.offer.made.v1",
    "talent.housing.offer.accepted.v1",
    "talent.housing.offer.declined.v1",
    "talent.housing.offer.lapsed.v1",
    "talent.housing.lease.started.v1",
    "talent.housing.lease.ended.v1",
]

# Types the platform adds beyond the minimum of docs/api.md.
EXTRA_EVENT_TYPES = [
    "talent.applicant.talent.profile_updated.v1",
    "talent.applicant.talent.points_changed.v1",
    "talent.applicant.talent.expired.v1",
    "talent.benefits.housing_voucher.used.v1",
    "talent.benefits.claim.escalated.v1",
    "talent.notify.notification.created.v1",
    "talent.applicant.contact.updated.v1",
    "talent.applicant.code.verified.v1",
    "talent.benefits.policy.published.v1",
]


def _certified() -> TalentCertified:
    return TalentCertified(
        talent_id="t-1",
        pseudonym="p-1",
        tier="B",
        points=120,
        certified_until=date(2027, 6, 30),
        region_code="330402",
    )


def test_envelope_round_trip() -> None:
    event = make_event(_certified(), source="applicant", subject="t-1")
    back = CloudEvent.from_json(event.to_json())
    assert back == event
    assert back.specversion == "1.0"
    assert back.datacontenttype == "application/json"
    assert back.type == "talent.applicant.talent.certified.v1"
    assert back.time.tzinfo is not None
    assert parse_data(back) == _certified()


def test_envelope_wire_format_is_cloudevents_json() -> None:
    event = make_event(_certified(), source="applicant", subject="t-1")
    wire = json.loads(event.to_json())
    assert {"specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"} <= set(wire)
    assert wire["data"]["certified_until"] == "2027-06-30"
    assert wire["time"].endswith("Z")


def test_extension_attributes_survive() -> None:
    event = make_event(_certified(), source="applicant", subject="t-1")
    wire = json.loads(event.to_json())
    wire["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    back = CloudEvent.from_json(json.dumps(wire).encode())
    assert json.loads(back.to_json())["traceparent"] == wire["traceparent"]


def test_an_event_without_a_subject_leaves_it_out_rather_than_sending_null() -> None:
    event = make_event(_certified(), source="applicant", subject=None)
    assert "subject" not in json.loads(event.to_json())  # CloudEvents: a non-empty string or absent


@pytest.mark.parametrize("received_subject", [{}, {"subject": None}])
def test_a_received_event_without_a_subject_is_accepted(received_subject: dict[str, None]) -> None:
    wire = json.loads(make_event(_certified(), source="applicant", subject=None).to_json())
    assert CloudEvent.from_json(json.dumps({**wire, **received_subject}).encode()).subject is None


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"\xff\xfe\x00", b"[1, 2]", b"null", b"{}"],
)
def test_from_json_rejects_garbage(raw: bytes) -> None:
    with pytest.raises(InvalidEvent, match="invalid CloudEvent"):
        CloudEvent.from_json(raw)


@pytest.mark.parametrize("attribute", ["specversion", "id", "source", "type", "time", "data"])
def test_from_json_names_a_missing_attribute(attribute: str) -> None:
    wire = json.loads(make_event(_certified(), source="applicant", subject="t-1").to_json())
    del wire[attribute]
    with pytest.raises(InvalidEvent, match=attribute):
        CloudEvent.from_json(json.dumps(wire).encode())


@pytest.mark.parametrize(
    ("attribute", "value"),
    [("specversion", "0.3"), ("time", "2025-01-01T00:00:00"), ("data", [1]), ("source", ""), ("subject", "")],
)
def test_from_json_rejects_bad_attributes(attribute: str, value: object) -> None:
    wire = json.loads(make_event(_certified(), source="applicant", subject="t-1").to_json())
    wire[attribute] = value
    with pytest.raises(InvalidEvent, match=attribute):
        CloudEvent.from_json(json.dumps(wire).encode())


def test_every_documented_type_has_a_model() -> None:
    # Contracts only grow: every type docs/api.md names, and every extra type once published, stays.
    assert set(API_EVENT_TYPES) | set(EXTRA_EVENT_TYPES) <= set(EVENT_TYPES)


def test_type_names_are_unique_and_versioned() -> None:
    models = list(EVENT_TYPES.values())
    assert len({model.type for model in models}) == len(models)
    for name, model in EVENT_TYPES.items():
        assert model.type == name
        assert re.fullmatch(r".+\.v\d+", name), name


def test_topic_is_the_type_prefix() -> None:
    for name, model in EVENT_TYPES.items():
        assert model.topic in TOPICS
        assert name.startswith(model.topic + "."), name
        assert topic_for(name) == model.topic


def test_unknown_type_raises() -> None:
    event = CloudEvent(source="applicant", type="talent.applicant.nothing.v9", subject=None, data={})
    with pytest.raises(UnknownEventType):
        parse_data(event)
    with pytest.raises(UnknownEventType):
        topic_for("talent.applicant.nothing.v9")


def test_data_that_does_not_validate_raises_invalid_event() -> None:
    event = CloudEvent(
        source="applicant",
        type=TalentCertified.type,
        subject="t-1",
        data={"talent_id": "t-1", "tier": "Z"},
    )
    with pytest.raises(InvalidEvent, match="tier"):
        parse_data(event)


def test_data_is_tolerant_of_new_fields_and_defaults_optional_ones() -> None:
    registered = TalentRegistered.model_validate(
        {
            "talent_id": "t-1",
            "pseudonym": "p-1",
            "region_code": "330402",
            "locale": "en",
            "registered_at": "2025-03-01T08:00:00+08:00",
            "field_from_the_future": 1,
        }
    )
    assert registered.degree is None
    assert registered.works_in_city is True
    assert registered.social_insurance_months == 0
    assert not hasattr(registered, "field_from_the_future")


def test_data_rejects_naive_times_and_negative_money() -> None:
    with pytest.raises(ValidationError):
        TalentRegistered(
            talent_id="t-1",
            pseudonym="p-1",
            region_code="330402",
            locale="zh-CN",
            registered_at=datetime(2025, 3, 1, 8, 0),
        )
    with pytest.raises(ValidationError):
        LeaseStarted(
            lease_id="l-1",
            talent_id="t-1",
            unit_id="u-1",
            starts_on=date(2025, 1, 1),
            ends_on=date(2026, 1, 1),
            monthly_rent_fen=-1,
        )


def test_a_misnamed_type_is_refused_at_definition() -> None:
    with pytest.raises(TypeError):

        class WrongTopic(ApplicantEvent):
            type = "talent.housing.something.v1"

    with pytest.raises(TypeError):

        class Unversioned(ApplicantEvent):
            type = "talent.applicant.something"


def test_event_data_is_immutable_and_type_is_not_a_field() -> None:
    certified = _certified()
    with pytest.raises(ValidationError):
        certified.tier = "A"  # type: ignore[misc]
    assert "type" not in TalentCertified.model_fields
    assert "topic" not in EventData.model_fields


def test_partner_catalogue_defaults() -> None:
    assert set(PARTNER_VISIBLE_TYPES) == set(PARTNER_KINDS)
    basic = {
        "talent.applicant.talent.certified.v1",
        "talent.applicant.talent.revoked.v1",
        "talent.applicant.talent.reinstated.v1",
    }
    for kind in ("hospital", "transit", "school", "scenic", "partner_city"):
        assert PARTNER_VISIBLE_TYPES[kind] == basic
    assert PARTNER_VISIBLE_TYPES["bank"] == basic | {"talent.benefits.claim.disbursed.v1"}
    assert all(name in EVENT_TYPES for types in PARTNER_VISIBLE_TYPES.values() for name in types)


def test_dead_letter_topic() -> None:
    assert dead_letter_topic("benefits.applicant-events") == "benefits.applicant-events.dlq"


def test_time_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    event = make_event(_certified(), source="applicant", subject="t-1")
    assert before <= event.time <= datetime.now(UTC)
    assert event.id != make_event(_certified(), source="applicant", subject="t-1").id
