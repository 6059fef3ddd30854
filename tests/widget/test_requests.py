"""The widget's helpers on their own: the front end's requests (no widget, no Redis) and the
derived view, plus the one-lock rule that ties them to the widget."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import comm
import pytest
from comm import DummyComm
from support.events import make_event

from segment_debugger.analysis.people import attach as people_attach
from segment_debugger.analysis.suggest import Suggester
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.query import Criteria
from segment_debugger.widget.pump import Pump
from segment_debugger.widget.requests import Requests
from segment_debugger.widget.view import BoundCriteria, selected_value
from segment_debugger.widget.widget import SegmentDebugger


class Sent:
    """Records what the requests send (content and binary buffers)."""

    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, Any], list[bytes] | None]] = []

    def __call__(self, content: Mapping[str, Any], buffers: list[bytes] | None = None) -> None:
        self.messages.append((dict(content), buffers))

    def types(self) -> list[str]:
        return [m["type"] for m, _ in self.messages]


def requests_on(buffer: EventBuffer, criteria: Criteria | None = None) -> tuple[Requests, Sent]:
    sent = Sent()
    pump = Pump(buffer, sent)  # not started: snapshots and clears only
    requests = Requests(buffer=buffer, pump=pump, suggester=Suggester(buffer),
                        criteria=lambda: criteria or Criteria.of("", (), False, False),
                        send=sent)
    return requests, sent


def test_every_request_gets_its_answer_with_its_request_id() -> None:
    buffer = EventBuffer()
    buffer.append(make_event(type="track", event="Clicked", userId="u1"))
    buffer.append(make_event(type="page", name="Home", userId="u1"))
    requests, sent = requests_on(buffer, Criteria.of("type:track", (), False, False))
    for content in ({"type": "snapshot_request"}, {"type": "raw_request", "seq": 1},
                    {"type": "export_request"}, {"type": "suggest_request", "text": "ty",
                                                 "caret": 2}):
        requests.on_msg(None, {**content, "request_id": content["type"]}, [])
    assert sent.types() == ["snapshot", "raw", "export", "suggestions"]
    assert [m["request_id"] for m, _ in sent.messages] == [
        "snapshot_request", "raw_request", "export_request", "suggest_request"]
    export, data = sent.messages[2]
    assert export["count"] == 1 and data is not None and data[0].count(b"\n") == 1
    assert b"Clicked" in data[0]  # the view's criteria decide what is exported
    requests.on_msg(None, {"type": "clear_request", "request_id": "c"}, [])
    assert sent.types()[-1] == "snapshot" and len(buffer) == 0


@pytest.mark.parametrize(("content", "request_id", "says"), [
    ([1, 2], None, "must be a JSON object"),
    ({"type": "nope", "request_id": "r"}, "r", "unknown message type 'nope'"),
    ({"type": 3, "request_id": 7}, None, "unknown message type 3"),
    ({"type": "raw_request", "seq": True, "request_id": "r"}, "r", "integer 'seq'"),
    ({"type": "suggest_request", "text": "x", "request_id": "r"}, "r", "integer 'caret'"),
])
def test_bad_requests_are_answered_with_an_error(content: Any, request_id: str | None,
                                                 says: str) -> None:
    requests, sent = requests_on(EventBuffer())
    requests.on_msg(None, content, [])
    [(msg, _)] = sent.messages
    assert msg["type"] == "error" and msg["request_id"] == request_id and says in msg["message"]


def test_a_handler_that_raises_is_answered_with_an_error() -> None:
    requests, sent = requests_on(EventBuffer())

    def broken(_msg: dict[str, Any], _rid: str | None) -> None:
        raise ValueError("boom")

    requests.handlers["raw_request"] = broken
    requests.on_msg(None, {"type": "raw_request", "request_id": "r"}, [])
    [(msg, _)] = sent.messages
    assert msg == {"type": "error", "message": "ValueError while handling the request: boom",
                   "request_id": "r"}


def test_bound_criteria_are_reused_until_a_person_changes() -> None:
    buffer = EventBuffer()
    buffer.append(make_event(type="track", event="A", anonymousId="a1"))
    binding = BoundCriteria(people_attach(buffer), threading.RLock())
    plain = Criteria.of("type:track", (), False, False)
    assert binding.bind(plain) is plain  # no person: term, nothing to bind
    criteria = Criteria.of("person:a1", (), False, False)
    first = binding.bind(criteria)
    assert first is not criteria and first.query.persons == {"a1": ["a1"]}
    buffer.append(make_event(type="track", event="B", anonymousId="other"))
    assert binding.bind(criteria) is first  # the graph moved, a1's person did not
    buffer.append(make_event(type="identify", anonymousId="a1", userId="u1"))
    grown = binding.bind(criteria)
    assert grown is not first and grown.query.persons == {"a1": ["a1", "u1"]}


def test_selected_value_is_the_event_and_its_person_or_none() -> None:
    buffer = EventBuffer()
    event = buffer.append(make_event(type="track", event="A", userId="u1"))
    people = people_attach(buffer)
    value = selected_value(buffer, people, event.seq)
    assert value is not None and value["seq"] == event.seq
    assert value["person"]["person"] == "u1"
    assert selected_value(buffer, people, None) is None
    assert selected_value(buffer, people, event.seq + 1) is None


def test_the_widget_and_its_helpers_share_one_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The deadlock fix: the pump, the person binding and every send take the same lock."""
    monkeypatch.setattr(comm, "create_comm", DummyComm)
    with SegmentDebugger(url=None, autostart=False) as dbg:
        funnel = dbg._funnel
        assert dbg.pump._lock is funnel and dbg._binding._lock is funnel
