"""Events built by hand, for tests that need exact field values (no parser in between)."""

from __future__ import annotations

import json
from typing import Any

import orjson

from segment_debugger.core.event import Event

_SEGMENT_FIELDS = (
    "type",
    "event",
    "name",
    "userId",
    "anonymousId",
    "messageId",
    "groupId",
    "previousId",
    "timestamp",
    "sentAt",
    "receivedAt",
    "properties",
    "traits",
    "context",
)


def make_event(
    seq: int = -1,
    channel: str = "events",
    received_at: float = 1_700_000_000.0,
    valid: bool = True,
    violations: list[str] | None = None,
    **data: Any,
) -> Event:
    """Build an Event the way the parser would for a JSON object payload ``data``."""
    try:
        raw = orjson.dumps(data)
    except TypeError:  # orjson refuses very deep nesting; the stdlib does not
        raw = json.dumps(data).encode()
    event = Event(
        raw=raw,
        channel=channel,
        received_at=received_at,
        seq=seq,
        size=len(raw),
        data=data,
        valid=valid,
        violations=list(violations or []),
    )
    for name in _SEGMENT_FIELDS:
        setattr(event, name, data.get(name))
    return event


def typical_event(i: int) -> Event:
    """A realistic ~500-byte track event, as analytics.js would send it."""
    return make_event(
        seq=i + 1,
        received_at=1_700_000_000.0 + i / 1000,
        type="track",
        event="Order Completed" if i % 3 else "Product Viewed",
        userId=f"user-{i % 97}",
        anonymousId=f"anon-{i:08d}-4f1c-9a2b-3c4d5e6f7a8b",
        messageId=f"msg-{i:012d}",
        timestamp="2024-05-01T12:34:56.789Z",
        sentAt="2024-05-01T12:34:57.001Z",
        properties={
            "orderId": f"order-{i}",
            "revenue": round(10 + i * 0.25, 2),
            "currency": "USD",
            "products": [{"sku": "sku-1", "price": 9.99}, {"sku": "sku-2", "price": 0.26}],
            "coupon": None if i % 2 else "SPRING",
        },
        context={
            "library": {"name": "analytics.js", "version": "4.1.0"},
            "page": {"path": "/checkout"},
            "ip": "203.0.113.7",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
        },
    )


def shared_devices(count: int = 80) -> list[Event]:
    """``count`` events of 7 devices and a few users: identifies, aliases and tracks.

    Devices are shared between users and aliased across them, so persons join and conflict;
    fed to a buffer smaller than ``count`` it also evicts ids a person had.
    """
    events = []
    for i in range(count):
        who = i % 7
        at = 1_700_000_000.0 + i
        if i % 5 == 0:
            events.append(make_event(type="identify", received_at=at, anonymousId=f"dev{who}",
                                     userId=f"user{who % 3}"))
        elif i % 11 == 0:
            events.append(make_event(type="alias", received_at=at, previousId=f"dev{who}",
                                     userId=f"user{who % 4}"))
        else:
            events.append(make_event(type="track", received_at=at, event="Clicked",
                                     anonymousId=f"dev{who}"))
    return events


def segment_call(n: int, kind: str, id_prefix: str = "m", **fields: Any) -> dict[str, Any]:
    """A Segment call of ``kind`` with messageId ``{id_prefix}{n:02d}`` and ``fields``.

    A track gets ``event`` "Clicked" and a page ``name`` "Home" unless given.
    """
    body: dict[str, Any] = {"type": kind, "messageId": f"{id_prefix}{n:02d}", **fields}
    if kind == "track":
        body.setdefault("event", "Clicked")
    if kind == "page":
        body.setdefault("name", "Home")
    return body
