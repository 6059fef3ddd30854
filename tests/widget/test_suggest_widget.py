"""The filter box's suggest_request -> suggestions round trip, the test playing the front end."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import comm
import orjson
import pytest
from comm import DummyComm
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.core.segment import parse_event
from segment_debugger.widget.widget import SegmentDebugger
from segment_debugger.widget.wire import MESSAGES, SuggestionItem


class FrontEnd(DummyComm):
    """Records the custom messages the widget sends; sends front-end messages in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if msg_type == "comm_msg" and (data or {}).get("method") == "custom":
            with self.lock:
                self.sent.append(data["content"])

    def custom(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.sent if m["type"] == kind]

    def request(self, content: Any) -> None:
        self.handle_msg({"content": {"comm_id": self.comm_id,
                                     "data": {"method": "custom", "content": content}},
                         "buffers": []})


@pytest.fixture
def debugger(monkeypatch: pytest.MonkeyPatch) -> Iterator[SegmentDebugger]:
    monkeypatch.setattr(comm, "create_comm", FrontEnd)
    dbg = SegmentDebugger(url=None)
    try:
        yield dbg
    finally:
        dbg.close()


def front_end(dbg: SegmentDebugger) -> FrontEnd:
    assert isinstance(dbg.comm, FrontEnd)
    return dbg.comm


def feed(dbg: SegmentDebugger, payloads: list[dict[str, Any]]) -> None:
    dbg.buffer.extend(parse_event(orjson.dumps(p), "events", 1.0) for p in payloads)


def orders(n: int) -> list[dict[str, Any]]:
    return [{"type": "track", "event": "Order Completed" if i % 4 else "Signed Up",
             "userId": f"u{i}", "properties": {"revenue": i, "currency": "USD"}}
            for i in range(n)]


def test_suggest_request_gets_suggestions_for_its_text(debugger: SegmentDebugger) -> None:
    fe = front_end(debugger)
    feed(debugger, orders(20))
    fe.request({"type": "suggest_request", "text": "type:track properties.",
                "caret": 22, "request_id": "q1"})
    (reply,) = fe.custom("suggestions")
    assert set(reply) == set(MESSAGES["suggestions"].__annotations__)
    assert reply["request_id"] == "q1"
    assert (reply["start"], reply["end"]) == (11, 22)
    assert [i["label"] for i in reply["items"]] == ["properties.currency", "properties.revenue"]
    assert set(reply["items"][0]) == set(SuggestionItem.__annotations__)
    assert reply["hint"] is None

    fe.request({"type": "suggest_request", "text": "event:", "caret": 6, "request_id": "q2"})
    reply = fe.custom("suggestions")[-1]
    assert [(i["insert"], i["detail"]) for i in reply["items"]] == [
        ('event:"Order Completed"', "15"), ('event:"Signed Up"', "5")]

    fe.request({"type": "suggest_request", "text": "userid:u1", "caret": 9, "request_id": "q3"})
    assert "did you mean userId:u1?" in fe.custom("suggestions")[-1]["hint"]


@pytest.mark.parametrize(
    "content",
    [
        {"type": "suggest_request", "text": 5, "caret": 0, "request_id": "b1"},
        {"type": "suggest_request", "text": "x", "caret": True, "request_id": "b2"},
        {"type": "suggest_request", "text": "x", "request_id": "b3"},
    ],
)
def test_bad_suggest_requests_get_error_replies(
    debugger: SegmentDebugger, content: dict[str, Any]
) -> None:
    fe = front_end(debugger)
    fe.request(content)
    (error,) = fe.custom("error")
    assert "suggest_request needs" in error["message"]
    assert error["request_id"] == content["request_id"]
    assert fe.custom("suggestions") == []


@pytest.mark.redis
def test_suggestions_follow_live_traffic(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(comm, "create_comm", FrontEnd)
    with SegmentDebugger(redis_server.url, channels=["events"]) as dbg:
        source = dbg.source
        assert source is not None
        wait_until(lambda: source.status.state == "live")
        with redis_server.client() as client:
            for p in orders(8):
                client.publish("events", orjson.dumps(p))
        wait_until(lambda: len(dbg.buffer) == 8)
        fe = front_end(dbg)
        fe.request({"type": "suggest_request", "text": "properties.re", "caret": 13,
                    "request_id": "r"})
        (reply,) = fe.custom("suggestions")
        assert [(i["insert"], i["detail"]) for i in reply["items"]] == [
            ("properties.revenue:", "number · 8")]
