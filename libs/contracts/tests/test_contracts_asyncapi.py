"""The AsyncAPI document validates against the official AsyncAPI 3.0.0 schema and describes every event type."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from contracts import EVENT_TYPES, PARTNER_VISIBLE_TYPES, TOPICS, CloudEvent, model_for
from contracts.asyncapi import EXAMPLE_WEBHOOK_SECRET, asyncapi_document, example_webhook_body
from standardwebhooks import Webhook

OFFICIAL_SCHEMA = Path(__file__).parent / "schemas" / "asyncapi" / "3.0.0.json"


@cache
def validator() -> jsonschema.Draft7Validator:
    schema = json.loads(OFFICIAL_SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def document() -> dict[str, Any]:
    """The document as a client receives it: through JSON."""
    return json.loads(json.dumps(asyncapi_document()))


def errors(doc: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator().iter_errors(doc)]


def resolved(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    """A validator of a schema from the document whose `#/components/...` references resolve in it."""
    root = {**schema, "components": doc["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def test_the_document_validates_against_the_official_asyncapi_3_schema() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    assert errors(doc) == []


@pytest.mark.parametrize(
    ("where", "breakage"),
    [
        ("an operation", lambda d: d["operations"]["receivePartnerDelivery"].update(action="listen")),
        ("a message payload", lambda d: d["components"]["messages"]["partnerDelivery"]["payload"].update(type=5)),
        ("a Kafka binding", lambda d: d["channels"]["talent_applicant"]["bindings"]["kafka"].update(partitions=-1)),
        ("a server", lambda d: d["servers"]["kafka"].pop("protocol")),
    ],
)
def test_the_official_schema_catches_a_broken_document(where: str, breakage: Any) -> None:
    doc = document()
    breakage(doc)
    assert errors(doc), f"a broken {where} went unnoticed"


def test_every_registered_type_is_a_message_on_its_topics_channel() -> None:
    doc = document()
    by_topic = {channel["address"]: channel for channel in doc["channels"].values()}
    assert set(TOPICS) <= set(by_topic)
    for event_type, model in EVENT_TYPES.items():
        assert event_type in doc["components"]["messages"], event_type
        assert event_type in by_topic[model.topic]["messages"], event_type
    received = {
        ref["$ref"].rsplit("/", 1)[-1]
        for operation in doc["operations"].values()
        if operation["action"] == "receive"
        for ref in operation["messages"]
    }
    assert set(EVENT_TYPES) <= received


def test_each_message_says_structured_mode_and_its_example_fits_its_schema() -> None:
    doc = document()
    headers_schema = resolved(doc, doc["components"]["schemas"]["KafkaHeaders"])
    for event_type in EVENT_TYPES:
        message = doc["components"]["messages"][event_type]
        [example] = message["examples"]
        assert example["headers"] == {"content-type": "application/cloudevents+json; charset=UTF-8"}
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        headers_schema.validate(example["headers"])
        resolved(doc, message["payload"]).validate(example["payload"])
        event = CloudEvent.from_json(json.dumps(example["payload"]))
        model_for(event.type).model_validate(event.data)
        with pytest.raises(jsonschema.ValidationError):  # the payload schema constrains the data
            resolved(doc, message["payload"]).validate({**example["payload"], "data": {"points": "many"}})


def test_a_kafka_record_without_the_structured_content_type_does_not_fit_the_headers() -> None:
    doc = document()
    with pytest.raises(jsonschema.ValidationError):
        resolved(doc, doc["components"]["schemas"]["KafkaHeaders"]).validate({"ce_type": "x"})


def test_the_partner_webhook_is_described_with_both_signature_schemes() -> None:
    doc = document()
    operation = doc["operations"]["receivePartnerDelivery"]
    assert operation["bindings"]["http"]["method"] == "POST"
    message = doc["components"]["messages"]["partnerDelivery"]
    headers = doc["components"]["schemas"]["WebhookHeaders"]
    assert {"X-Talent-Signature", "webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers["required"])
    partner_types = set().union(*PARTNER_VISIBLE_TYPES.values())
    assert {option["title"] for option in message["payload"]["oneOf"]} == partner_types
    [example] = message["examples"]
    resolved(doc, headers).validate(example["headers"])
    resolved(doc, message["payload"]).validate(example["payload"])
    assert "talent_id" not in example["payload"]["data"]  # partners see the pseudonym only


def test_the_webhook_examples_signatures_verify_with_the_published_example_secret() -> None:
    [example] = document()["components"]["messages"]["partnerDelivery"]["examples"]
    headers, body = example["headers"], example_webhook_body(example["payload"])
    assert CloudEvent.model_validate(example["payload"]).to_json() == body  # the bytes notify would send
    timestamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    # What a partner's `standardwebhooks` package computes (its verify() also checks the clock, so sign()).
    webhook = Webhook("whsec_" + base64.b64encode(EXAMPLE_WEBHOOK_SECRET.encode()).decode())
    assert webhook.sign(headers["webhook-id"], timestamp, body.decode()) == headers["webhook-signature"]
    t, v1 = headers["X-Talent-Signature"].split(",")
    signed = t.removeprefix("t=").encode() + b"." + body
    assert v1 == "v1=" + hmac.new(EXAMPLE_WEBHOOK_SECRET.encode(), signed, hashlib.sha256).hexdigest()
