"""A valid example of every event type, built from its model's JSON Schema (for the AsyncAPI document and tests).

Built, not hand-written, so a new type or field has an example the day it is added; the tests validate each
example against its model, so a schema this builder cannot satisfy fails there rather than in a partner's hands.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from contracts.envelope import CloudEvent
from contracts.events import EventData
from contracts.registry import EVENT_TYPES

EXAMPLE_TIME = datetime(2026, 1, 15, 8, 30, tzinfo=UTC)
_NAMESPACE = uuid.UUID("6f1c2a4e-9d3b-4c1e-8a55-0d7e3b9f2c10")
# Values a reader recognises for the fields whose shape is a convention rather than a schema constraint.
_NAMED_STRINGS = {
    "pseudonym": "tp_7Kq2mX9vR4",
    "region_code": "330102",
    "employer_region_code": "330106",
    "issuing_city": "330100",
    "employer_credit_code": "91330100MA27XK1T5N",
    "locale": "zh-CN",
    "time_zone": "Asia/Shanghai",
}


def example_id(name: str) -> str:
    """A stable, UUID-shaped example id for a field name."""
    return str(uuid.uuid5(_NAMESPACE, name))


def _string(schema: dict[str, Any], name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return EXAMPLE_TIME.isoformat().replace("+00:00", "Z")
    if fmt == "date":
        return EXAMPLE_TIME.date().isoformat()
    if name in _NAMED_STRINGS:
        value = _NAMED_STRINGS[name]
    elif name.endswith("_id"):
        value = example_id(name)
    else:
        value = name or "example"
    low, high = schema.get("minLength", 0), schema.get("maxLength")
    value = value.ljust(low, "x")
    return value[:high] if high is not None else value


def _number(schema: dict[str, Any]) -> int:
    value = 1
    if "minimum" in schema:
        value = max(value, int(schema["minimum"]))
    if "exclusiveMinimum" in schema:
        value = max(value, int(schema["exclusiveMinimum"]) + 1)
    if "maximum" in schema:
        value = min(value, int(schema["maximum"]))
    return value


def example_value(schema: dict[str, Any], defs: dict[str, Any], name: str = "") -> Any:
    """An example instance of a JSON Schema (the subset pydantic generates)."""
    if "$ref" in schema:
        return example_value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs, name)
    if "examples" in schema:
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            options = [s for s in schema[combinator] if s.get("type") != "null"] or schema[combinator]
            return example_value(options[0], defs, name)
    kind = schema.get("type")
    if kind == "string":
        return _string(schema, name)
    if kind in ("integer", "number"):
        return _number(schema)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if kind == "array":
        return [example_value(schema.get("items", {}), defs, name)] * max(1, schema.get("minItems", 1))
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        if properties:
            return {key: example_value(sub, defs, key) for key, sub in properties.items()}
        # A map (today only `provenance`, fact name → source): one entry, keyed by a fact's name.
        extra = schema.get("additionalProperties")
        return {"degree": example_value(extra, defs, "degree")} if isinstance(extra, dict) else {}
    return name or "example"


def example_data(model: type[EventData]) -> dict[str, Any]:
    """Example `data` of an event type: every field filled (optional ones too), in its JSON form."""
    schema = model.model_json_schema()
    value = example_value(schema, schema.get("$defs", {}))
    # Through the model, so the example is exactly what a producer would publish.
    return model.model_validate(value).model_dump(mode="json")


def example_subject(data: dict[str, Any]) -> str:
    """The subject the producers give an event: the talent, else the thing the event is about."""
    if isinstance(data.get("talent_id"), str):
        return str(data["talent_id"])
    ids = [key for key, value in data.items() if key.endswith("_id") and isinstance(value, str)]
    return str(data[ids[0]]) if ids else "example"


def example_event(event_type: str) -> CloudEvent:
    """A complete, valid CloudEvent of a registered type, as it travels on its topic."""
    model = EVENT_TYPES[event_type]
    data = example_data(model)
    subject = example_subject(data)
    return CloudEvent(
        id=example_id(event_type),
        source=model.topic.removeprefix("talent."),
        type=event_type,
        time=EXAMPLE_TIME,
        subject=subject,
        data=data,
        partitionkey=subject,
    )
