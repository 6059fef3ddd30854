"""Schemas inferred from traffic (equal to a recount of the buffer), and drift warnings."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.analysis.schemas import Schemas, json_type
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event


def ev(typ: str = "track", name: str | None = "Order", at: float = 1.0, **group: Any) -> Event:
    payload: dict[str, Any] = {"type": typ, "userId": "u"}
    if typ == "track":
        payload["event"] = name
    elif typ in ("page", "screen"):
        payload["name"] = name
    if typ in ("identify", "group"):
        payload["traits"] = group
        payload["groupId"] = "g"
    else:
        payload["properties"] = group
    return parse_event(orjson.dumps(payload), "events", at)


def recount(events: list[Event]) -> dict[tuple[str, str | None, str], tuple[dict[str, int], int]]:
    """What the schema must be: every buffered event counted again from its payload."""
    out: dict[tuple[str, str | None, str], tuple[Counter[str], int]] = {}
    counts: dict[tuple[str, str | None, str], int] = defaultdict(int)
    types: dict[tuple[str, str | None, str], Counter[str]] = defaultdict(Counter)

    def walk(obj: dict[str, Any], prefix: str, key: tuple[str, str | None]) -> None:
        for k, v in obj.items():
            path = f"{prefix}.{k}"
            counts[(*key, path)] += 1
            types[(*key, path)][json_type(v)] += 1
            if isinstance(v, dict) and v:
                walk(v, path, key)

    for e in events:
        assert e.type is not None
        if e.type == "alias":  # no properties or traits in Segment's spec: not learned
            continue
        name = e.event if e.type == "track" else e.name if e.type in ("page", "screen") else None
        group = "traits" if e.type in ("identify", "group") else "properties"
        obj = e.traits if group == "traits" else e.properties
        if obj:
            walk(obj, group, (e.type, name))
    for k in counts:
        out[k] = (types[k], counts[k])
    return {k: (dict(t), c) for k, (t, c) in out.items()}


values = st.one_of(st.integers(0, 9), st.text("ab", max_size=2), st.booleans(), st.none(),
                   st.lists(st.integers(0, 1), max_size=1))
groups = st.dictionaries(
    st.sampled_from(["price", "sku", "a"]),
    st.one_of(values, st.dictionaries(st.sampled_from(["b", "c"]), values, max_size=2)),
    max_size=3,
)
@settings(max_examples=60, deadline=None)
@given(
    max_messages=st.integers(1, 12),
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.sampled_from(["track", "page", "identify", "alias"]),
                      st.sampled_from(["Order", "Home"]), groups),
            st.tuples(st.just("clear"), st.none(), st.none(), st.none()),
        ),
        max_size=40,
    ),
    attach_after=st.integers(0, 10),
)
def test_schema_inference_equals_a_direct_recount(
    max_messages: int, ops: list[tuple[str, Any, Any, Any]], attach_after: int
) -> None:
    buf = EventBuffer(max_messages=max_messages)
    for i, (op, typ, name, group) in enumerate(ops):
        if i == attach_after:
            buf.schema_inference()  # learning starts from what is buffered
        if op == "clear":
            buf.clear()
        else:
            buf.append(ev(typ, name, float(i), **group))
    schemas = buf.schema_inference()
    got = {
        (r["type"], r["event"], r["path"]): (r["types"], r["count"]) for r in schemas.rows()
    }
    expected = recount(buf.snapshot())
    assert {k: c for k, (_, c) in got.items()} == {k: c for k, (_, c) in expected.items()}
    for key, (type_names, _) in got.items():
        assert sorted(type_names) == sorted(expected[key][0])
    keys = {(e.type, e.event if e.type == "track" else e.name if e.type == "page" else None)
            for e in buf.snapshot()}
    for typ, name in keys:
        assert schemas.occurrences(typ or "", name) == sum(
            1 for e in buf.snapshot() if e.type == typ and
            (e.event if typ == "track" else e.name if typ == "page" else None) == name)
    for row in schemas.rows():
        assert 0 < row["share"] <= 1 and row["first_seen"] <= row["last_seen"]


def test_every_string_price_after_numbers_is_flagged_until_the_numbers_are_gone() -> None:
    buf = EventBuffer(max_messages=300, infer_schemas=True)
    numbers = [buf.append(ev(price=i)) for i in range(200)]
    assert not any(e.warnings for e in numbers)
    strings = [buf.append(ev(price=str(i))) for i in range(50)]
    assert all(
        e.warnings == ["Order: properties.price is a string, established as number"]
        for e in strings
    ), "every string price is flagged, not only the first"
    assert all(e.valid for e in strings)
    assert buf.stats["warnings"] == 50
    assert buf.query("warning:price").shape[0] == 50
    buf2 = EventBuffer(max_messages=10, infer_schemas=True)
    for i in range(10):
        buf2.append(ev(price=i))
    late = [buf2.append(ev(price=str(i))) for i in range(20)]
    assert late[0].warnings and not late[-1].warnings, "learned once the numbers left"


def test_new_and_missing_properties() -> None:
    schemas = Schemas(new_after=20, missing_after=100)
    buf = EventBuffer(max_messages=1000)
    buf.add_observer(schemas)
    early_new = [buf.append(ev(price=1)) for _ in range(5)] + [buf.append(ev(price=1, x=1))]
    assert not early_new[-1].warnings, "new properties count only after N occurrences"
    for _ in range(120):
        buf.append(ev(price=1, sku="s", address={"city": "Oslo"}))
    new = buf.append(ev(price=1, sku="s", address={"city": "Oslo"}, coupon={"code": "X"}))
    assert new.warnings == [
        "Order: new property properties.coupon (not in 126 earlier occurrences)"
    ]
    missing = buf.append(ev(price=1))
    assert sorted(missing.warnings) == [
        "Order: properties.address missing (present in 95% of the last 127 occurrences)",
        "Order: properties.sku missing (present in 95% of the last 127 occurrences)",
    ]
    assert not buf.append(ev("page", "Home", p=1)).warnings  # another event: its own schema


def test_freeze_pins_the_baseline_and_the_frame() -> None:
    buf = EventBuffer(max_messages=50)
    for i in range(50):
        buf.append(ev(price=i, at=float(i)))
    frame = buf.schemas(freeze=True)
    assert list(frame.columns) == ["type", "event", "path", "types", "count", "share",
                                   "first_seen", "last_seen"]
    row = frame.iloc[0]
    assert (row["type"], row["event"], row["path"], row["types"], row["count"], row["share"]) == (
        "track", "Order", "properties.price", ["number"], 50, 1.0)
    assert str(row["last_seen"]) == "1970-01-01 00:00:49+00:00"
    flagged = [buf.append(ev(price="x")) for _ in range(100)]  # the numbers all leave
    assert all(e.warnings for e in flagged), "the frozen baseline still says number"
    buf.schema_inference().unfreeze()
    assert not buf.append(ev(price="y")).warnings


def test_drift_over_a_real_redis_stream(redis_server: RedisServer) -> None:
    from segment_debugger.sources.streams import StreamSource

    buf = EventBuffer(infer_schemas=True)
    with redis_server.client() as client:
        for i in range(300):
            price: Any = i if i < 150 else f"{i}.00"
            payload = {"type": "track", "event": "Order Completed", "userId": "u",
                       "messageId": f"m{i}", "properties": {"price": price, "n": i}}
            client.xadd("orders", {"data": orjson.dumps(payload)})
    with StreamSource(redis_server.url, streams=["orders"], start="0", buffer=buf):
        wait_until(lambda: len(buf) == 300, what="300 entries read")
    events = buf.snapshot()
    assert [bool(e.warnings) for e in events] == [False] * 150 + [True] * 150
    assert events[150].warnings == [
        "Order Completed: properties.price is a string, established as number"
    ]
    assert all(e.valid for e in events)


def test_interned_signatures_stay_bounded_and_counts_stay_true(monkeypatch: Any) -> None:
    """Every event with properties of its own (hostile traffic): the tables of interned
    signatures and shapes are forgotten when full, and the schema still equals a recount."""
    import segment_debugger.analysis._learning as module

    monkeypatch.setattr(module, "MAX_SIGNATURES", 8)
    buf = EventBuffer(max_messages=30, infer_schemas=True)
    schemas = buf.schema_inference()
    for i in range(100):
        buf.append(ev(**{f"p{i}": i, "price": 1.0 if i % 3 else "x"}))
        assert len(schemas._signatures) <= 8 and len(schemas._shapes) <= 8
        assert len(schemas._fast) <= 8
    got = {(r["type"], r["event"], r["path"]): r["count"] for r in schemas.rows()}
    assert got == {k: c for k, (_, c) in recount(buf.snapshot()).items()}


@settings(max_examples=80, deadline=None)
@given(
    max_messages=st.integers(3, 40),
    ops=st.lists(
        st.tuples(st.sampled_from(["track", "identify"]), st.sampled_from(["Order", "Home"]),
                  st.dictionaries(st.sampled_from(["price", "sku", "a"]),
                                  st.one_of(values, st.dictionaries(
                                      st.sampled_from(["b"]), values, max_size=1)),
                                  max_size=3)),
        max_size=120,
    ),
    freeze_at=st.integers(0, 200),
)
def test_settled_signatures_judge_as_the_full_check_does(
    max_messages: int, ops: list[tuple[str, str, dict[str, Any]]], freeze_at: int
) -> None:
    """Events whose signature is settled skip the per-path judgement: the warnings and the
    learnt schema are exactly those of judging every event in full."""
    def run(settle: bool) -> tuple[list[list[str]], list[dict[str, Any]]]:
        schemas = Schemas(new_after=3, missing_after=6, min_established=2)
        if not settle:
            schemas._settle = lambda *args: None  # type: ignore[method-assign]
        buf = EventBuffer(max_messages=max_messages, checks=None)
        buf.add_observer(schemas)
        events = []
        for i, (typ, name, group) in enumerate(ops):
            if i == freeze_at:
                schemas.freeze()
            if i == freeze_at + 30:
                schemas.unfreeze()
            e = ev(typ, name, float(i), **group)
            buf.append(e)
            events.append(e)
        return [list(e.warnings_view()) for e in events], schemas.rows()

    assert run(True) == run(False)


def test_settled_signatures_on_typical_traffic_with_drift() -> None:
    """The fake stream (most events settled) with prices turning into strings and a property
    dropped midway: the same warnings as judging every event in full, and most events took
    the settled path."""
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=5)
    payloads = []
    for i in range(3000):
        data = orjson.loads(stream.payload())
        props = data.get("properties")
        if i > 1500 and isinstance(props, dict) and "price" in props:
            props["price"] = str(props["price"])
        if i > 2200 and isinstance(props, dict):
            props.pop("currency", None)
        payloads.append(orjson.dumps(data))

    def run(settle: bool) -> tuple[list[list[str]], list[dict[str, Any]], int]:
        schemas = Schemas()
        fast = 0
        full = schemas._judge

        def judge(*args: Any) -> Any:
            nonlocal fast
            fast -= 1
            return full(*args)

        schemas._judge = judge  # type: ignore[method-assign]
        if not settle:
            schemas._settle = lambda *args: None  # type: ignore[method-assign]
        buf = EventBuffer(max_messages=500, checks=None)
        buf.add_observer(schemas)
        events = [parse_event(p, "events", float(i)) for i, p in enumerate(payloads)]
        for start in range(0, len(events), 100):
            buf.extend(events[start:start + 100])
        return [list(e.warnings_view()) for e in events], schemas.rows(), fast + len(events)

    warned, rows, settled = run(True)
    assert (warned, rows) == run(False)[:2]
    assert any(warned) and settled > len(payloads) // 2


def _judged_and_warnings(
    payloads: list[bytes], settle: bool, max_messages: int = 500, **thresholds: Any
) -> tuple[list[list[str]], list[dict[str, Any]], int]:
    """Append ``payloads`` (100 at a time); return the warnings, the rows, and how many events
    the full judgement saw (``settle=False``: every one)."""
    schemas = Schemas(**thresholds)
    judged = 0
    full = schemas._judge

    def judge(*args: Any) -> Any:
        nonlocal judged
        judged += 1
        return full(*args)

    schemas._judge = judge  # type: ignore[method-assign]
    if not settle:
        schemas._settle = lambda *args: None  # type: ignore[method-assign]
    buf = EventBuffer(max_messages=max_messages, checks=None)
    buf.add_observer(schemas)
    events = [parse_event(p, "events", float(i)) for i, p in enumerate(payloads)]
    for start in range(0, len(events), 100):
        buf.extend(events[start:start + 100])
    return [list(e.warnings_view()) for e in events], schemas.rows(), judged


def test_identify_with_two_trait_shapes_and_a_nested_object_is_settled() -> None:
    """The fake stream's identify calls: anonymous ones ({plan, locale}) and known ones (with
    a nested ``company`` object), so neither shape holds every path of the schema. They skip
    the full judgement (every one was judged before), with the same warnings and schema."""
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=3)
    payloads = [p for p in (stream.payload() for _ in range(20_000)) if b'"identify"' in p]
    assert len(payloads) > 1000
    warned, rows, judged = _judged_and_warnings(payloads, True)
    assert (warned, rows) == _judged_and_warnings(payloads, False)[:2]
    assert judged < len(payloads) // 10


def test_a_settled_shape_that_gets_another_value_type_still_warns() -> None:
    """A shape learnt and settled, then the same keys with another value type (also inside a
    nested object): each such event is flagged, as the full judgement does."""
    def payload(price: Any, employees: Any) -> bytes:
        return orjson.dumps({"type": "identify", "userId": "u", "traits": {
            "price": price, "company": {"name": "Acme", "employees": employees}}})

    payloads = [payload(1.5, 10) for _ in range(60)] + [payload("1.5", 10), payload(2, 10),
                                                        payload(2.5, "10"), payload(3.5, 10)]
    warned, rows, judged = _judged_and_warnings(payloads, True)
    assert warned[:60] == [[]] * 60
    assert warned[60:] == [
        ["identify: traits.price is a string, established as number"], [],
        ["identify: traits.company.employees is a string, established as number"], [],
    ]
    assert (warned, rows) == _judged_and_warnings(payloads, False)[:2]
    assert judged < 20


@settings(max_examples=80, deadline=None)
@given(
    runs=st.lists(st.tuples(st.integers(1, 40), st.sampled_from(["both", "a", "q", "a+b"])),
                  max_size=12),
    max_messages=st.integers(5, 120),
    missing_after=st.integers(1, 30),
)
def test_settled_shapes_lacking_a_path_judge_as_the_full_check_does(
    runs: list[tuple[int, str]], max_messages: int, missing_after: int
) -> None:
    """Shapes that lack a path the schema holds stay settled only while that path cannot
    become missing (its share below 95 %, or too few occurrences): runs of each shape push
    shares across the line, with evictions; the warnings and the schema equal judging every
    event in full."""
    shapes = {"both": {"a": 1, "q": "x"}, "a": {"a": 2}, "q": {"q": "y"},
              "a+b": {"a": 3, "b": {"c": True}}}
    payloads = [orjson.dumps({"type": "track", "event": "E", "userId": "u",
                              "properties": shapes[shape]})
                for n, shape in runs for _ in range(n)]
    thresholds = {"new_after": 5, "missing_after": missing_after, "min_established": 2}
    got = _judged_and_warnings(payloads, True, max_messages, **thresholds)
    assert got[:2] == _judged_and_warnings(payloads, False, max_messages, **thresholds)[:2]


#: Leaf values of the groups below: a group sent again may hold other types at each leaf.
LEAVES = (1, "a", True, None, 1.5, [1], {})
#: A group's keys, nesting and leaves (0); filled with LEAVES per event (see _filled).
templates = st.dictionaries(st.sampled_from(["p", "q"]), st.one_of(
    st.just(0),
    st.dictionaries(st.sampled_from(["b", "c"]),
                    st.one_of(st.just(0), st.fixed_dictionaries({"d": st.just(0)})),
                    min_size=1, max_size=2)),
    max_size=2)


def _filled(template: dict[str, Any], flavour: int, count: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in template.items():
        if value.__class__ is dict:
            out[key] = _filled(value, flavour, count)
        else:
            count[0] += 1
            out[key] = LEAVES[(flavour * count[0]) % len(LEAVES)]
    return out


@settings(max_examples=100, deadline=None)
@given(
    pool=st.lists(templates, min_size=1, max_size=3),  # a few shapes, each sent many times
    ops=st.lists(
        st.tuples(st.sampled_from(["track", "identify", "page", "alias"]),
                  st.sampled_from(["A", "B"]), st.integers(0, 2),
                  st.sampled_from([0, 0, 0, 1, 2, 3])),  # mostly the same leaf types
        min_size=2, max_size=80,
    ),
    max_messages=st.integers(2, 30),
    chunks=st.lists(st.integers(1, 10), min_size=1, max_size=12),
    max_signatures=st.sampled_from([2, 5, 10_000]),
    freeze_at=st.integers(0, 100),
    handed=st.booleans(),
)
def test_chunks_with_evictions_inside_them_judge_as_the_full_check_does(
    pool: list[dict[str, Any]], ops: list[tuple[str, str, int, int]], max_messages: int,
    chunks: list[int], max_signatures: int, freeze_at: int, handed: bool,
) -> None:
    """Events appended a chunk at a time (extend, extend_handed), some evicted within their
    own chunk, shapes whose value types change (nested ones too), the interned and fast
    tables bounded small, a freeze and unfreeze: the warnings and the schema equal judging
    every event in full, and the paths, types and counts a recount of the buffer."""
    import segment_debugger.analysis._learning as module

    def run(settle: bool) -> tuple[list[list[str]], list[dict[str, Any]], EventBuffer]:
        schemas = Schemas(new_after=3, missing_after=4, min_established=2)
        if not settle:
            schemas._settle = lambda *args: None  # type: ignore[method-assign]
        buf = EventBuffer(max_messages=max_messages, checks=None)
        buf.add_observer(schemas)
        events = []
        for i, (typ, name, which, flavour) in enumerate(ops):
            payload: dict[str, Any] = {"type": typ, "userId": "u", "previousId": "x",
                                       "event": name, "name": name}
            group = _filled(pool[which % len(pool)], flavour, [0])
            payload["traits" if typ == "identify" else "properties"] = group
            events.append(parse_event(orjson.dumps(payload), "events", float(i), keep=handed))
        start = 0
        for n in chunks * (len(events) // len(chunks) + 1):
            if start >= len(events):
                break
            if start <= freeze_at < start + n:
                schemas.freeze()
            if start <= freeze_at + 20 < start + n:
                schemas.unfreeze()
            piece = events[start:start + n]
            if handed:
                buf.extend_handed([piece])
            else:
                buf.extend(piece)
            start += n
        return [list(e.warnings_view()) for e in events], schemas.rows(), buf

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "MAX_SIGNATURES", max_signatures)
        warned, rows, buf = run(True)
        assert (warned, rows) == run(False)[:2]
    got = {(r["type"], r["event"], r["path"]): (sorted(r["types"]), r["count"]) for r in rows}
    assert got == {k: (sorted(t), c) for k, (t, c) in recount(buf.snapshot()).items()}
