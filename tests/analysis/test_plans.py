"""Tracking plans: violations that name the event, the path and the rule; starter plans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from segment_debugger.analysis.plans import TrackingPlan
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event

PLAN: dict[str, Any] = {
    "allow_unplanned_events": True,
    "events": {
        "Order Completed": {
            "properties": {
                "type": "object",
                "properties": {"revenue": {"type": "number"}, "currency": {"type": "string"}},
                "required": ["revenue"],
            }
        }
    },
    "identify": {"traits": {"type": "object", "properties": {"email": {"type": "string"}}}},
}


def ev(payload: dict[str, Any]) -> Event:
    return parse_event(orjson.dumps({"userId": "u", **payload}), "events", 0.0)


def track(name: str, **properties: Any) -> Event:
    return ev({"type": "track", "event": name, "properties": properties})


def test_events_that_break_the_plan_get_violations_and_count_as_invalid() -> None:
    buf = EventBuffer(tracking_plan=PLAN)
    good = buf.append(track("Order Completed", revenue=10, currency="USD"))
    bad = buf.append(track("Order Completed", revenue="abc"))
    missing = buf.append(track("Order Completed", currency="USD"))
    unplanned = buf.append(track("Something Else", x=1))
    person = buf.append(ev({"type": "identify", "traits": {"email": 5}}))
    assert good.valid and good.violations == []
    assert not bad.valid
    assert bad.violations == ["Order Completed: properties.revenue: 'abc' is not of type 'number'"]
    assert missing.violations == ["Order Completed: properties: 'revenue' is a required property"]
    assert unplanned.valid
    assert person.violations == ["identify: traits.email: 5 is not of type 'string'"]
    assert buf.stats["invalid"] == 3
    assert [e.seq for e in buf.filter("violation:revenue")] == [2, 3]


def test_unplanned_events_are_violations_when_not_allowed() -> None:
    buf = EventBuffer(tracking_plan={**PLAN, "allow_unplanned_events": False})
    event = buf.append(track("Something Else"))
    assert event.violations == ["Something Else: event not in the tracking plan"]
    assert buf.append(ev({"type": "page", "name": "Home"})).valid


def test_plans_load_from_json_and_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_bytes(orjson.dumps(PLAN))
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(PLAN))
    for name in ("plan.json", "plan.yaml"):
        buf = EventBuffer(tracking_plan=tmp_path / name)
        assert not buf.append(track("Order Completed", revenue="abc")).valid
        assert buf.tracking_plan.events == ("Order Completed",)


def test_bad_plans_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="unknown key"):
        TrackingPlan({"evnts": {}})
    with pytest.raises(ValueError, match="not a valid JSON Schema"):
        TrackingPlan({"events": {"E": {"properties": {"type": "numbr"}}}})
    with pytest.raises(TypeError, match="tracking_plan"):
        TrackingPlan.load(42)  # type: ignore[arg-type]


def test_many_errors_are_named_up_to_three() -> None:
    plan = {"events": {"E": {"properties": {
        "type": "object", "properties": {k: {"type": "number"} for k in "abcde"}}}}}
    event = EventBuffer(tracking_plan=plan).append(track("E", a="x", b="x", c="x", d="x", e="x"))
    assert len(event.violations) == 4
    assert event.violations[-1] == "E: 2 more tracking plan violations"


def test_plan_from_traffic_is_a_plan_the_traffic_passes(tmp_path: Path) -> None:
    buf = EventBuffer()
    events = [track("Order Completed", revenue=i, currency="USD", cart={"items": i})
              for i in range(30)]
    events.append(ev({"type": "identify", "traits": {"email": "a@b.c"}}))
    buf.extend(events)
    plan = buf.plan_from_traffic(tmp_path / "starter.yaml")
    schema = plan["events"]["Order Completed"]["properties"]
    assert schema["properties"]["revenue"] == {"type": "number"}
    assert schema["properties"]["cart"]["properties"]["items"] == {"type": "number"}
    assert sorted(schema["required"]) == ["cart", "currency", "revenue"]
    assert plan["identify"]["traits"]["properties"]["email"] == {"type": "string"}
    again = EventBuffer(tracking_plan=tmp_path / "starter.yaml")
    again.extend([track("Order Completed", revenue=1, currency="EUR", cart={"items": 2}),
                  track("Order Completed", revenue="1", currency="EUR", cart={"items": 2})])
    assert again.stats["invalid"] == 1


def test_fast_validation_agrees_with_jsonschema() -> None:
    """A schema compiled with fastjsonschema too judges exactly as jsonschema alone."""
    from jsonschema.validators import validator_for

    from segment_debugger.analysis.plans import _fast_safe, _fast_validator, _Validator

    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {
            "a": {"type": "string", "minLength": 2, "enum": ["ab", "abc", None]},
            "q": {"type": "integer", "minimum": 1},
            "n": {"type": ["number", "null"], "exclusiveMaximum": 10},
            "xs": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            "o": {"anyOf": [{"type": "boolean"}, {"type": "object", "maxProperties": 1}]},
        },
    }
    assert _fast_safe(schema, 0)
    full = validator_for(schema)(schema)
    both = _Validator(full, _fast_validator(schema))
    values: list[object] = [
        {"a": "ab"}, {"a": "a"}, {"a": 1}, {}, {"a": "ab", "q": True}, {"a": "ab", "q": 1.0},
        {"a": "ab", "q": 0}, {"a": "ab", "n": None}, {"a": "ab", "n": 10}, {"a": "ab", "n": True},
        {"a": "ab", "xs": ["x", 1]}, {"a": "ab", "xs": ["x"] * 3}, {"a": "ab", "o": True},
        {"a": "ab", "o": {"k": 1, "l": 2}}, {"a": "ab", "o": 1}, {"a": "zz"}, [], "x", None,
    ]
    for value in values:
        assert both.is_valid(value) == full.is_valid(value), value
    assert not _fast_safe({"type": "string", "pattern": "^a"}, 0)
    assert not _fast_safe({"enum": [1, 2]}, 0)
    assert not _fast_safe({"properties": {"a": {"$ref": "#/x"}}}, 0)
