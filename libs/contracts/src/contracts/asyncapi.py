"""The AsyncAPI 3.0 description of the platform's events: Kafka topics, every event type, the partner webhook.

Generated from the models in this package, so it cannot drift from what the services publish. The gateway
serves it at /asyncapi.json (and a readable page at /asyncapi).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from contracts.envelope import STRUCTURED_CONTENT_TYPE
from contracts.events import TOPICS
from contracts.examples import EXAMPLE_TIME, example_data, example_event, example_id
from contracts.registry import EVENT_TYPES, PARTNER_VISIBLE_TYPES

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
HTTP_BINDING_VERSION = "0.3.0"
_SCHEMAS = "#/components/schemas/"
# The webhook example is signed with this secret, so a partner can check its verifier against the example.
EXAMPLE_WEBHOOK_SECRET = "example-secret-do-not-use"  # noqa: S105  (published on purpose; no subscription has it)
EXAMPLE_WEBHOOK_TIMESTAMP = int(EXAMPLE_TIME.timestamp()) + 2

# The webhook headers, as notify sends them (the Standard Webhooks trio lets the `standardwebhooks`
# package verify a delivery; X-Talent-Signature is the platform's own, kept for existing partners).
WEBHOOK_HEADERS: Mapping[str, dict[str, Any]] = {
    "Content-Type": {"type": "string", "const": "application/cloudevents+json; charset=utf-8"},
    "X-Talent-Delivery": {"type": "string", "description": "The delivery's id (the same on every retry)."},
    "X-Talent-Signature": {
        "type": "string",
        "pattern": "^t=[0-9]+(,v1=[0-9a-f]{64})+$",
        "description": 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>; during a secret '
        "rotation one v1 per secret, so keep every v1 value when parsing (not the last or the first only).",
    },
    "webhook-id": {"type": "string", "description": "Standard Webhooks: the message id (the same on retries)."},
    "webhook-timestamp": {"type": "string", "pattern": "^[0-9]+$", "description": "Standard Webhooks: unix seconds."},
    "webhook-signature": {
        "type": "string",
        "description": 'Standard Webhooks: space-separated "v1,<base64 HMAC-SHA256 of id.timestamp.body>" values, '
        "one per valid secret.",
    },
}

_DESCRIPTION = """\
Events of the 人才码 talent platform. Each service publishes on its own Kafka topic; every record is one
CloudEvents 1.0 event in **structured mode** (CloudEvents Kafka protocol binding): the record value is the
whole event in JSON, the header `content-type` is `application/cloudevents+json; charset=UTF-8`, and there are
no `ce_*` headers. The record key is the event's `subject` (also its `partitionkey` extension): a talent's id,
or the id of the demand or housing round an event is about, so the events of one subject stay in order.
Consumers must ignore attributes, headers and data fields they do not know, and drop an event whose `id`
they have already applied (delivery is at least once).

Partners do not read Kafka: they subscribe over the REST API and receive the events they may see as signed
webhook deliveries (the `partnerWebhook` channel), pseudonymous and reduced to the fields allowed for their
kind."""


def _rewrite_refs(node: Any) -> Any:
    """pydantic's local `#/$defs/X` references, pointed at the document's shared component schemas."""
    if isinstance(node, dict):
        return {
            key: (
                _SCHEMAS + value.rsplit("/", 1)[-1]
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def _data_schemas() -> dict[str, dict[str, Any]]:
    """Component schemas: one per event type's data (named after the type), and the models they share."""
    schemas: dict[str, dict[str, Any]] = {}
    for event_type, model in EVENT_TYPES.items():
        schema = model.model_json_schema()
        for name, definition in schema.pop("$defs", {}).items():
            definition = _rewrite_refs(definition)
            if schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two event models define different schemas named {name!r}")
        schemas[event_type] = _rewrite_refs(schema)
    return schemas


def _envelope(data_ref: str, *, subject: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "data"],
        "properties": {
            "specversion": {"type": "string", "const": "1.0"},
            "id": {"type": "string", "minLength": 1, "description": "Unique per event; the deduplication key."},
            "source": {"type": "string", "minLength": 1, "description": "The publishing service."},
            "type": {"type": "string", "minLength": 1},
            "time": {"type": "string", "format": "date-time"},
            "subject": {"type": "string", "minLength": 1, "description": subject},
            "partitionkey": {"type": "string", "minLength": 1, "description": "The Kafka record key."},
            "datacontenttype": {"type": "string", "const": "application/json"},
            "data": {"$ref": data_ref},
        },
        "additionalProperties": True,
    }


def _kafka_message(event_type: str) -> dict[str, Any]:
    model = EVENT_TYPES[event_type]
    envelope = _envelope(_SCHEMAS + event_type, subject="The talent's id, else the id of what the event is about.")
    envelope["properties"]["type"] = {"type": "string", "const": event_type}
    envelope["properties"]["source"] = {"type": "string", "const": model.topic.removeprefix("talent.")}
    example = json.loads(example_event(event_type).to_json())
    return {
        "name": event_type,
        "title": model.__name__,
        "summary": (model.__doc__ or event_type).strip().splitlines()[0],
        "contentType": "application/cloudevents+json",
        "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
        "payload": envelope,
        "correlationId": {"$ref": "#/components/correlationIds/eventId"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The event's subject (its partitionkey)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {"name": "example", "headers": {"content-type": STRUCTURED_CONTENT_TYPE}, "payload": example},
        ],
    }


def _partner_types() -> list[str]:
    return sorted(set().union(*PARTNER_VISIBLE_TYPES.values()))


def _partner_data_schema(event_type: str) -> dict[str, Any]:
    """What a partner's `data` may hold: the pseudonym and some of the type's fields, none of them required."""
    base = _rewrite_refs(EVENT_TYPES[event_type].model_json_schema())
    base.pop("$defs", None)
    properties = {k: v for k, v in base.get("properties", {}).items() if k != "talent_id"}
    return {
        "type": "object",
        "description": f"A subset of the fields of {event_type}, as allowed for the partner's kind; never the "
        "talent's id, always the pseudonym when the event is about a talent.",
        "properties": {"pseudonym": {"type": "string"}, **properties},
        "additionalProperties": True,
    }


def _partner_envelope(event_type: str) -> dict[str, Any]:
    envelope = _envelope(_SCHEMAS + f"partner.{event_type}", subject="The talent's pseudonym.")
    envelope["properties"]["type"] = {"type": "string", "const": event_type}
    return {"title": event_type, **envelope}


def _webhook_example() -> dict[str, Any]:
    certified = example_event("talent.applicant.talent.certified.v1")
    allowed = ("pseudonym", "tier", "certified_until", "issuing_city")
    full = example_data(EVENT_TYPES[certified.type])
    body = {
        "specversion": "1.0",
        "id": certified.id,
        "source": certified.source,
        "type": certified.type,
        "time": EXAMPLE_TIME.isoformat().replace("+00:00", "Z"),
        "subject": full["pseudonym"],
        "datacontenttype": "application/json",
        "data": {name: full[name] for name in allowed},
    }
    raw = example_webhook_body(body)
    delivery, t, key = example_id("delivery"), EXAMPLE_WEBHOOK_TIMESTAMP, EXAMPLE_WEBHOOK_SECRET.encode()
    talent_signature = hmac.new(key, f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    standard = hmac.new(key, f"{delivery}.{t}.".encode() + raw, hashlib.sha256).digest()
    return {
        "name": "talent certified, delivered to a hospital",
        "summary": f"Signed with the secret {EXAMPLE_WEBHOOK_SECRET!r} over the body as compact JSON (UTF-8).",
        "headers": {
            "Content-Type": "application/cloudevents+json; charset=utf-8",
            "X-Talent-Delivery": delivery,
            "X-Talent-Signature": f"t={t},v1={talent_signature}",
            "webhook-id": delivery,
            "webhook-timestamp": str(t),
            "webhook-signature": "v1," + base64.b64encode(standard).decode(),
        },
        "payload": body,
    }


def example_webhook_body(payload: Mapping[str, Any]) -> bytes:
    """The bytes the webhook example's signatures cover: compact JSON, as notify sends the event."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def asyncapi_document(*, kafka_host: str = "kafka:9092") -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document (a fresh dict; callers may change it)."""
    schemas = _data_schemas()
    schemas["KafkaHeaders"] = {
        "type": "object",
        "required": ["content-type"],
        "properties": {
            "content-type": {"type": "string", "const": STRUCTURED_CONTENT_TYPE},
            "x-request-id": {"type": "string", "description": "The request that caused the event, for logs."},
            "traceparent": {"type": "string", "description": "W3C trace context, when tracing is on."},
        },
        "additionalProperties": True,
    }
    schemas["WebhookHeaders"] = {
        "type": "object",
        "required": list(WEBHOOK_HEADERS),
        "properties": {
            **copy.deepcopy(dict(WEBHOOK_HEADERS)),
            "traceparent": {"type": "string", "description": "W3C trace context, when tracing is on."},
        },
        "additionalProperties": True,
    }
    messages: dict[str, Any] = {event_type: _kafka_message(event_type) for event_type in sorted(EVENT_TYPES)}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in TOPICS:
        names = sorted(t for t, model in EVENT_TYPES.items() if model.topic == topic)
        channel_id = topic.replace(".", "_")
        channels[channel_id] = {
            "address": topic,
            "title": topic,
            "description": f"The events the {topic.removeprefix('talent.')} service publishes.",
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
            "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING_VERSION}},
        }
        operations[f"receive_{channel_id}"] = {
            "action": "receive",
            "title": f"Consume {topic}",
            "summary": "Read with any Kafka client and parse each record as a structured-mode CloudEvent.",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{name}"} for name in names],
        }

    partner_types = _partner_types()
    for event_type in partner_types:
        schemas[f"partner.{event_type}"] = _partner_data_schema(event_type)
    messages["partnerDelivery"] = {
        "name": "partnerDelivery",
        "title": "Partner webhook delivery",
        "summary": "One event a partner subscribed to, POSTed to its URL; a 2xx answer delivers it.",
        "description": "The body is a CloudEvent (structured, JSON). Verify a signature before trusting it: "
        "either X-Talent-Signature or, with the `standardwebhooks` package and the subscription's secret "
        "(base64-encoded with a `whsec_` prefix), the webhook-* headers. Reject a timestamp older than 5 minutes. "
        "Anything but a 2xx is retried with backoff for about a day.",
        "contentType": "application/cloudevents+json",
        "headers": {"$ref": "#/components/schemas/WebhookHeaders"},
        "payload": {"oneOf": [_partner_envelope(t) for t in partner_types]},
        "bindings": {"http": {"bindingVersion": HTTP_BINDING_VERSION}},
        "examples": [_webhook_example()],
    }
    channels["partnerWebhook"] = {
        "address": None,
        "title": "Partner webhook",
        "description": "The URL a partner gave when subscribing (POST /api/v1/partners/subscriptions); "
        "https outside development.",
        "servers": [{"$ref": "#/servers/partnerEndpoint"}],
        "messages": {"partnerDelivery": {"$ref": "#/components/messages/partnerDelivery"}},
    }
    operations["receivePartnerDelivery"] = {
        "action": "receive",
        "title": "Receive a webhook delivery",
        "summary": "The partner's endpoint receives a POST per delivery.",
        "channel": {"$ref": "#/channels/partnerWebhook"},
        "messages": [{"$ref": "#/channels/partnerWebhook/messages/partnerDelivery"}],
        "bindings": {"http": {"method": "POST", "bindingVersion": HTTP_BINDING_VERSION}},
    }

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:talent-platform:events",
        "info": {
            "title": "人才码 talent platform: events",
            "version": DOCUMENT_VERSION,
            "description": _DESCRIPTION,
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "kafka": {
                "host": kafka_host,
                "protocol": "kafka",
                "title": "Kafka",
                "description": "The deployment's Kafka bootstrap servers (kafka:9092 in docker-compose.yml).",
            },
            "partnerEndpoint": {
                "host": "{partnerHost}",
                "protocol": "https",
                "title": "A partner's webhook endpoint",
                "variables": {"partnerHost": {"description": "The host of the partner's subscription URL."}},
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "correlationIds": {
                "eventId": {"description": "The CloudEvent id.", "location": "$message.payload#/id"},
            },
        },
    }
