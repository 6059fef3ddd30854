"""The fake Segment event stream: realistic, reproducible, flagged where bad, paced."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from support.collector import ChannelCollector
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.segment import EVENT_TYPES, parse_event
from segment_debugger.playground.fake import BAD_KINDS, FLAGGED_KINDS, FakeEventStream, iso_utc
from segment_debugger.playground.publisher import publish

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")



def fixed_clock() -> float:
    return 1_764_000_000.25


def buffered(payloads: list[bytes]) -> EventBuffer:
    buf = EventBuffer(max_messages=len(payloads) + 1)
    for raw in payloads:
        buf.append(parse_event(raw, "events", time.time()))
    return buf


def test_every_type_is_produced_with_its_fields() -> None:
    stream = FakeEventStream(seed=1)
    by_type: dict[str, list[dict]] = {}
    for _ in range(3000):
        message = stream.event()
        by_type.setdefault(message["type"], []).append(message)
    assert set(by_type) == set(EVENT_TYPES)
    assert len(by_type["alias"]) >= 30 and len(by_type["group"]) >= 30
    for track in by_type["track"]:
        assert track["event"] and isinstance(track["properties"], dict)
    orders = [t for t in by_type["track"] if t["event"] == "Order Completed"]
    assert orders, "no Order Completed in 3000 events"
    for order in orders:
        props = order["properties"]
        assert props["revenue"] > 0 and props["currency"] in ("USD", "EUR", "GBP")
        assert props["products"] and all("sku" in p and "price" in p for p in props["products"])
    assert len({t["event"] for t in by_type["track"]}) >= 10
    identified = [m for m in by_type["identify"] if "userId" in m]
    assert identified and all({"email", "name", "plan"} <= set(m["traits"]) for m in identified)
    for kind in ("page", "screen"):
        assert all(m["name"] for m in by_type[kind])
    assert all(m["context"]["page"]["url"].startswith("https://") for m in by_type["page"])
    assert all(m["groupId"] and m["traits"]["name"] for m in by_type["group"])
    assert all(m["previousId"] and m["userId"] for m in by_type["alias"])


def test_common_fields_follow_the_segment_spec() -> None:
    stream = FakeEventStream(seed=2)
    libraries = Counter()
    for _ in range(1000):
        message = stream.event()
        assert UUID4.match(message["messageId"])
        for key in ("timestamp", "sentAt", "receivedAt"):
            assert ISO_MS_Z.match(message[key]), (key, message[key])
        assert message["timestamp"] <= message["sentAt"] <= message["receivedAt"]
        assert message["anonymousId"]
        context = message["context"]
        assert context["ip"] and context["userAgent"] and context["locale"]
        libraries[context["library"]["name"]] += 1
        assert context["library"]["version"]
    assert set(libraries) == {"analytics.js", "analytics-ios", "analytics-node"}


def test_iso_utc_formats_milliseconds_with_z() -> None:
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso_utc(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"


def test_a_few_users_are_much_more_active_than_the_rest() -> None:
    stream = FakeEventStream(seed=3)
    messages = [stream.event() for _ in range(5000)]
    users = Counter(m.get("userId") or m["anonymousId"] for m in messages)
    top_share = users.most_common(1)[0][1] / 5000
    assert 0.05 < top_share < 0.4
    assert 50 < len(users) <= 400


def test_valid_events_parse_with_no_violations() -> None:
    stream = FakeEventStream(seed=4)
    payloads = [stream.payload() for _ in range(3000)]
    buf = buffered(payloads)
    problems = [(e.raw[:80], e.violations) for e in buf if not e.valid or e.violations]
    assert problems == []
    assert {e.type for e in buf} == set(EVENT_TYPES)
    assert stream.kinds == Counter(valid=3000)


def test_typical_size_is_400_to_800_bytes() -> None:
    stream = FakeEventStream(seed=5)
    sizes = sorted(len(stream.payload()) for _ in range(3000))
    assert 400 <= statistics.median(sizes) <= 800
    assert sizes[0] >= 250
    assert sizes[int(len(sizes) * 0.95)] <= 1200


def test_same_seed_same_stream_different_seed_different_stream() -> None:
    def run(seed: int) -> list[bytes]:
        stream = FakeEventStream(seed=seed, invalid_fraction=0.2, clock=fixed_clock)
        return [stream.payload() for _ in range(300)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_invalid_fraction_gives_flagged_messages_at_that_rate() -> None:
    fraction = 0.25
    stream = FakeEventStream(seed=6, invalid_fraction=fraction)
    payloads = [stream.payload() for _ in range(4000)]
    bad = sum(n for kind, n in stream.kinds.items() if kind != "valid")
    assert abs(bad / 4000 - fraction) < 0.03
    assert set(stream.kinds) == {"valid", *BAD_KINDS}
    flagged_expected = sum(stream.kinds[kind] for kind in FLAGGED_KINDS)
    invalid = sum(1 for e in buffered(payloads) if not e.valid)
    assert invalid == flagged_expected


@pytest.mark.parametrize("kind", sorted(FLAGGED_KINDS))
def test_each_bad_kind_is_flagged(kind: str) -> None:
    stream = FakeEventStream(seed=9)
    payloads = [stream.payload() for _ in range(5)] + [stream.bad_payload(kind)]
    events = list(buffered(payloads))
    assert all(e.valid for e in events[:-1])
    assert not events[-1].valid and events[-1].violations


def test_hostile_kind_is_valid_but_carries_markup() -> None:
    stream = FakeEventStream(seed=10)
    names = set()
    for _ in range(40):
        raw = stream.bad_payload("html")
        event = parse_event(raw, "events", time.time())
        assert event.valid, event.violations
        names.add(event.event)
    assert "<img src=x onerror=alert(1)>" in names


def test_invisible_kind_is_flagged_for_what_it_hides() -> None:
    stream = FakeEventStream(seed=11)
    for _ in range(20):
        event = parse_event(stream.bad_payload("invisible"), "events", time.time())
        assert not event.valid
        assert any("invisible or reordering" in v for v in event.violations), event.violations


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FakeEventStream(invalid_fraction=1.5)
    with pytest.raises(ValueError, match="unknown bad kind"):
        FakeEventStream().bad_payload("nonsense")


# ---- publish against a real redis-server ----------------------------------------------------


@pytest.fixture
def subscriber(redis_server) -> Iterator[ChannelCollector]:  # type: ignore[no-untyped-def]
    sub = ChannelCollector(redis_server, "events")
    yield sub
    sub.stop()


@pytest.mark.redis
def test_publish_count_delivers_exactly_that_many(redis_server, subscriber) -> None:  # type: ignore[no-untyped-def]
    with redis_server.client() as client:
        sent = publish(client, "events", rate=0, count=1234, invalid_fraction=0.1, seed=1)
    assert sent == 1234
    wait_until(lambda: len(subscriber.received) >= 1234)
    assert len(subscriber.received) == 1234


@pytest.mark.redis
def test_publish_is_paced_evenly_at_the_rate(redis_server, subscriber) -> None:  # type: ignore[no-untyped-def]
    rate, duration = 200, 1.0
    stop = threading.Event()
    timer = threading.Timer(duration, stop.set)
    with redis_server.client() as client:
        started = time.monotonic()
        timer.start()
        sent = publish(client, "events", rate=rate, stop=stop, seed=2)
        elapsed = time.monotonic() - started
    timer.join()
    assert rate * elapsed * 0.9 <= sent <= rate * elapsed * 1.05 + 2
    wait_until(lambda: len(subscriber.received) >= sent)
    # Even pacing, not a burst: each quarter second of the run got about a quarter of them.
    arrivals = [t - subscriber.received[0][0] for t, _ in subscriber.received]
    quarters = Counter(min(int(t / 0.25), 3) for t in arrivals)
    for q in range(4):
        assert 0.6 * rate / 4 <= quarters[q] <= 1.4 * rate / 4, quarters


@pytest.mark.redis
def test_publish_reaches_high_rates_by_batching(redis_server) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    with redis_server.client() as client:
        timer.start()
        sent = publish(client, "events", rate=5000, stop=stop, seed=3)
    timer.join()
    assert sent >= 4500


@pytest.mark.redis
def test_publish_returns_at_once_when_stopped(redis_server) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    stop.set()
    with redis_server.client() as client:
        assert publish(client, "events", rate=100, stop=stop) == 0
