"""The wire format: rows, the selected dict, and spec/protocol.json (the contract with JS)."""

from __future__ import annotations

import json
import time
import typing

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import REPO_ROOT

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.widget import wire
from segment_debugger.widget.wire import (
    RAW_PREVIEW_CHARS,
    Row,
    event_to_row,
    preview_text,
    selected_dict,
)


def make_event(i: int, **extra: typing.Any) -> Event:
    payload = {"type": "track", "event": f"E{i}", "userId": f"u{i % 7}", "messageId": f"m{i}"}
    payload.update(extra)
    return parse_event(orjson.dumps(payload), "events", time.time())


def test_event_to_row_carries_the_summary_fields() -> None:
    buffer = EventBuffer()
    event = buffer.append(make_event(3, anonymousId="a-1", timestamp="2024-01-01T00:00:00Z"))
    row = event_to_row(event)
    assert row["seq"] == event.seq == 1
    assert row["t"] == pytest.approx(event.received_at * 1000)
    assert (row["type"], row["event"], row["userId"]) == ("track", "E3", "u3")
    assert (row["anonymousId"], row["messageId"]) == ("a-1", "m3")
    assert row["timestamp"] == "2024-01-01T00:00:00Z"
    assert row["raw"] == event.raw.decode()
    assert row["truncated"] is False
    assert row["size"] == len(event.raw)
    assert row["valid"] == event.valid
    assert row["violations"] == event.violations
    assert row["violations"] is not event.violations
    orjson.dumps(row)  # JSON-able as is


def test_invalid_payload_row_is_marked() -> None:
    row = event_to_row(parse_event(b"\xff not json", "events", time.time()))
    assert row["valid"] is False
    assert row["violations"]
    assert row["raw"].startswith("\ufffd")


def test_megabyte_payload_is_truncated_once() -> None:
    big = {"type": "track", "event": "Big", "properties": {"blob": "é" * 600_000}}
    event = parse_event(orjson.dumps(big), "events", time.time())
    assert event.size > 1_000_000
    row = event_to_row(event)
    assert row["truncated"] is True
    assert len(row["raw"]) == RAW_PREVIEW_CHARS
    assert row["raw"] == event.raw_text()[:RAW_PREVIEW_CHARS]
    assert row["size"] == event.size


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=12))
def test_preview_is_a_prefix_of_the_full_decode(raw: bytes, limit: int) -> None:
    text, truncated = preview_text(raw, limit)
    full = raw.decode("utf-8", "replace")
    assert text == full[:limit]
    assert truncated == (len(full) > limit)


# -- deltas and snapshots ------------------------------------------------------------------




def test_spec_protocol_json_is_generated_from_the_declarations() -> None:
    """spec/protocol.json is what the declarations say; regenerate it after changing them."""
    on_disk = json.loads((REPO_ROOT / "spec" / "protocol.json").read_text(encoding="utf-8"))
    assert on_disk == json.loads(wire.render_spec()), (
        "spec/protocol.json is stale: run `python -m segment_debugger.widget.wire`"
    )


def test_rows_have_exactly_the_declared_fields() -> None:
    row = event_to_row(parse_event(b'{"type":"track","event":"E","userId":"u"}', "c", 1.0))
    assert list(row) == list(typing.get_type_hints(Row))
    spec = wire.protocol_spec()
    assert list(spec["row"]) == list(row)
    for example in spec["example_rows"]:
        assert list(example) == list(row)


def test_the_declared_traits_are_the_widgets_synced_traits() -> None:
    from segment_debugger.widget.widget import SegmentDebugger

    own = set(SegmentDebugger.class_own_traits(sync=True))
    assert own == set(wire.TRAITS)
    for name, (_kind, sync) in wire.TRAITS.items():
        assert bool(SegmentDebugger.class_traits()[name].metadata.get("two_way")) == (
            sync == "two-way"
        ), name


def test_selected_dict_leaves_data_out_and_cuts_a_large_payload() -> None:
    small = parse_event(b'{"type":"identify","userId":"u","traits":{"a":1}}', "c", 2.0)
    small.seq = 3
    out = selected_dict(small)
    assert "data" not in out
    assert (out["seq"], out["traits"], out["truncated"]) == (3, {"a": 1}, False)
    assert json.loads(json.dumps(out)) == out

    big_props = {"blob": "x" * 1_000_000}
    big = parse_event(orjson.dumps({"type": "track", "event": "E", "userId": "u",
                                    "properties": big_props}), "c", 2.0)
    out = selected_dict(big)
    assert out["truncated"] is True
    assert len(out["raw"]) == RAW_PREVIEW_CHARS
    assert out["properties"] is None
    assert len(orjson.dumps(out)) < 2 * RAW_PREVIEW_CHARS


@pytest.mark.parametrize("name", list(wire.MESSAGES))
def test_every_message_declares_its_type_literal(name: str) -> None:
    assert wire.protocol_spec()["messages"][name]["type"] == repr(name)
