"""Filter-box suggestions and hints from the traffic (analysis/suggest.py, analysis/hints.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segment_debugger.analysis import suggest as suggest_module
from segment_debugger.analysis.hints import hint, spans
from segment_debugger.analysis.suggest import Suggester, Suggestions
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.query import parse_query
from segment_debugger.core.segment import parse_event


def track(event: str, i: int = 0, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": f"u{i % 3}", "messageId": f"m{i}",
            "properties": properties, "context": {"library": {"name": "analytics.js"}}}


def buffer_of(*payloads: dict[str, Any] | bytes) -> EventBuffer:
    buf = EventBuffer(infer_schemas=True)
    buf.extend(parse_event(p if isinstance(p, bytes) else orjson.dumps(p), "events", 1.0 + i)
               for i, p in enumerate(payloads))
    return buf


@pytest.fixture
def traffic() -> Suggester:
    payloads = []
    for i in range(30):
        props: dict[str, Any] = {"revenue": i, "currency": "USD" if i % 3 else "EUR"}
        if i % 5 == 0:
            props["coupon"] = "SPRING"
        payloads.append(track("Order Completed" if i % 2 else "Signed Up", i, **props))
    payloads += [track("Product Viewed", 40, sku="A-1"),
                 {"type": "identify", "userId": "u9", "traits": {"email": "a@b.example"}}]
    return Suggester(buffer_of(*payloads))


def labels(answer: Suggestions) -> list[str]:
    return [item.label for item in answer.items]


def test_properties_lists_the_seen_paths_most_frequent_first_with_types(
    traffic: Suggester,
) -> None:
    answer = traffic.suggest("properties.")
    assert labels(answer) == ["properties.currency", "properties.revenue", "properties.coupon",
                              "properties.sku"]
    by_label = {item.label: item for item in answer.items}
    assert by_label["properties.revenue"].detail == "number · 30"
    assert by_label["properties.coupon"].detail == "string · 6"
    assert by_label["properties.revenue"].insert == "properties.revenue:"
    assert (answer.start, answer.end) == (0, len("properties."))
    assert labels(traffic.suggest("properties.c")) == ["properties.currency", "properties.coupon"]
    assert labels(traffic.suggest("traits.")) == ["traits.email"]


def test_top_level_fields_and_pseudo_fields(traffic: Suggester) -> None:
    answer = traffic.suggest("")
    top = labels(answer)
    assert top[:2] == ["type", "userId"]  # every event has them; then by count and name
    assert {"properties", "context", "event", "traits"} <= set(top)
    assert {"valid:", "violation:", "warning:", "person:"} <= set(top)
    inserts = {item.label: item.insert for item in answer.items}
    assert inserts["properties"] == "properties."  # an object continues with its keys
    assert inserts["event"] == "event:"
    assert labels(traffic.suggest("-v")) == ["valid:", "violation:"]
    assert labels(traffic.suggest("context.")) == ["context.library", "context.library.name"]


def test_values_with_counts(traffic: Suggester) -> None:
    answer = traffic.suggest("event:")
    assert [(i.label, i.detail) for i in answer.items] == [
        ("Order Completed", "15"), ("Signed Up", "15"), ("Product Viewed", "1")]
    assert answer.items[0].insert == 'event:"Order Completed"'  # quoted: it has a space
    assert labels(traffic.suggest("event:sig")) == ["Signed Up"]
    assert labels(traffic.suggest('event:"Order C')) == ["Order Completed"]
    assert labels(traffic.suggest("event:viewed")) == ["Product Viewed"]  # contains, after prefix
    assert [(i.label, i.detail) for i in traffic.suggest("type:").items] == [
        ("track", "31"), ("identify", "1")]
    assert [(i.insert, i.detail) for i in traffic.suggest("properties.currency:").items] == [
        ("properties.currency:USD", "20"), ("properties.currency:EUR", "10")]
    assert labels(traffic.suggest("properties.revenue:2"))[:3] == ["20", "21", "22"]  # "2" typed
    assert traffic.suggest("valid:").items[0].insert == "valid:true"
    assert sorted(labels(traffic.suggest("person:"))) == ["u0", "u1", "u2", "u9"]
    assert traffic.suggest("properties.revenue:>1").items == ()  # a comparison: nothing to offer


def test_the_term_at_the_caret_is_the_one_completed(traffic: Suggester) -> None:
    text = "type:track properties.cu -valid:false"
    answer = traffic.suggest(text, caret=text.index(" -valid"))
    assert labels(answer) == ["properties.currency"]
    assert text[answer.start : answer.end] == "properties.cu"
    between = traffic.suggest("type:track ", caret=11)
    assert (between.start, between.end) == (11, 11) and "properties" in labels(between)
    typed = traffic.suggest('event:"Signed Up"')
    assert typed.items == ()  # exactly what is typed already: nothing to add
    assert traffic.suggest('"free text').items == ()


def test_hostile_values_are_typable_and_bounded() -> None:
    long = "x" * 500
    buf = buffer_of(
        track("A", 1, note='say "hi" \\ <img src=x onerror=alert(1)>'),
        track("A", 2, note="line\nbreak\u202ereversed\u200b"),
        track("A", 3, note=long),
        track("A", 4, note=">5"),
    )
    answer = Suggester(buf).suggest("properties.note:")
    inserts = {item.label: item.insert for item in answer.items}
    assert inserts['say "hi" \\ <img src=x onerror=alert(1)>'] == (
        'properties.note:"say \\"hi\\" \\\\ <img src=x onerror=alert(1)>"')
    assert inserts["line\nbreak\u202ereversed\u200b"] == "properties.note:line*break*reversed*"
    assert inserts[">5"] == 'properties.note:">5"'  # not a comparison
    (cut,) = [item for item in answer.items if item.label.startswith("xxx")]
    assert cut.label == "x" * suggest_module.MAX_VALUE_CHARS + "…"
    assert cut.insert == "properties.note:" + "x" * suggest_module.MAX_VALUE_CHARS + "*"
    for item in answer.items:  # each insert, as a query, matches the event it came from
        assert buf.filter(item.insert), item.insert


def test_person_ids_are_inserted_exactly() -> None:
    buf = buffer_of(
        {"type": "identify", "userId": "ann lee", "traits": {}},
        {"type": "identify", "userId": "ann\u202e", "traits": {}},
        {"type": "identify", "userId": "two\nlines", "traits": {}},
        {"type": "track", "event": "E", "anonymousId": "a-1"},
    )
    inserts = sorted(i.insert for i in Suggester(buf).suggest("person:").items)
    assert inserts == ['person:"ann lee"', "person:a-1", "person:ann\u202e"]  # no * for an id
    for insert in inserts:
        assert buf.filter(insert), insert


def test_garbage_and_non_objects_never_crash() -> None:
    buf = buffer_of(b"\xff\xfe not json", b"[1, 2]", b'{"type": 5, "event": {"a": 1}}',
                    b'{"type":"track","event":"E","userId":"u","properties":"nope"}')
    s = Suggester(buf)
    for text in ("", "type:", "event:", "properties.", "a.b.c:", "-", '"', "\\", ":x",
                 "x" * 10_000):
        s.suggest(text)
    assert [i.label for i in s.suggest("type:").items] == ["5", "track"]  # type:5 matches 5
    assert [i.label for i in s.suggest("event:").items] == ["E"]  # an object is no value
    assert s.suggest("anything", caret=-5).start == 0
    assert s.suggest(None, caret="x").items  # type: ignore[arg-type]


def test_bounded_work_values_and_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = buffer_of(*(track("E", i, n=f"v{i}") for i in range(50)))
    answer = Suggester(buf, scan=20).suggest("messageId:")
    assert {i.label for i in answer.items} == {f"m{i}" for i in range(30, 50)}  # the newest 20
    monkeypatch.setattr(suggest_module, "MAX_VALUES", 10)
    counted = suggest_module._count_values(buf.snapshot(), "properties.n")
    assert counted == [(f"v{i}", 1) for i in sorted(range(10), key=str)]  # the first 10 seen


def test_the_summary_is_cached_per_buffer_version() -> None:
    now = [0.0]
    buf = buffer_of(track("A", 1))
    s = Suggester(buf, clock=lambda: now[0], refresh_s=1.0)
    for _ in range(5):
        s.suggest("event:")
        s.suggest("properties.")
    assert s.builds == 1
    buf.append(parse_event(orjson.dumps(track("B", 2)), "events", 2.0))
    assert labels(s.suggest("event:")) == ["A"]  # changed, but built less than 1 s ago
    now[0] = 1.5
    assert labels(s.suggest("event:")) == ["A", "B"]
    assert s.builds == 2
    buf.clear()
    assert s.suggest("event:").items == ()  # emptied: rebuilt at once
    buf.append(parse_event(orjson.dumps(track("C", 3)), "events", 3.0))
    assert labels(s.suggest("event:")) == ["C"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://example.com", 'quote it: "http://example.com"'),
        ("type:track userid:u1", "case-sensitive: no event has 'userid'; did you mean userId:u1?"),
        ("properties.Revenue:>3", "did you mean properties.revenue:>3?"),
        ("Valid:false", "did you mean valid:false?"),
        ("type:track OR type:identify", "OR is searched as text"),
        ("event=Signup x", "a field term is written event:Signup"),
        ("event!=Signup x", "a field term is written -event:Signup"),
        ("!type:page x", "exclude a term with a leading - (-type:page)"),
        ('properties.revenue:">5" x', "to compare numbers write properties.revenue:>5"),
        ("properties.revenue:>abc x", "a comparison needs a number"),
        ("valid:yes x", "valid: takes true or false"),
        ("valid:>1 x", "valid: takes no comparison"),
        ("type: x", "has no value, so it is searched as text"),
        ("--x y", "only the first - negates"),
        ("type:track\u00a0event:A", "a no-break space does not separate terms"),
        ("properties.prénom:x", "a field name has only ASCII letters"),
    ],
)
def test_hints(traffic: Suggester, text: str, expected: str) -> None:
    found = traffic.suggest(text).hint
    assert found is not None and expected in found, found


@pytest.mark.parametrize(
    "text",
    ["", "type:track", "userId:u1", '"http://x"', "properties.revenue:>3", "event:Order*",
     "-type:page", "valid:false", "OR", "type:", "properties.rev", "nosuchfield:1"],
)
def test_no_hint_for_what_reads_as_meant(traffic: Suggester, text: str) -> None:
    # "OR" and "type:" at the caret are still being typed
    assert traffic.suggest(text).hint is None


def test_hints_without_traffic_knowledge() -> None:
    assert hint("userid:u1") is None  # nothing known: no case to suggest
    assert hint("http://x") is not None


@given(st.text(alphabet=st.sampled_from(list('ab:-" \\\t.>*\u00a0xé')), max_size=30))
def test_spans_read_terms_exactly_as_the_parser(text: str) -> None:
    assert tuple(s.term for s in spans(text) if s.term is not None) == parse_query(text).terms
    for s in spans(text):
        assert 0 <= s.start <= s.body <= s.end <= len(text)


def test_hostile_shapes_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(suggest_module, "MAX_PATHS", 300)
    deep: dict[str, Any] = {}
    node = deep
    for i in range(50):
        node[f"k{i}"] = node = {}
    payloads = [{"type": "track", "event": "E", "userId": "u", "context": deep,
                 **{f"f{j}_{i}": j for j in range(400)}} for i in range(40)]
    s = Suggester(buffer_of(*payloads))
    answer = s.suggest("")
    assert len(answer.items) == suggest_module.MAX_ITEMS
    summary = s._summary
    assert summary is not None
    assert len(summary.top) <= 300 + 2 and len(summary.nested) <= 300  # + the schema groups
    assert max(p.count(".") for p in summary.nested) < suggest_module.MAX_DEPTH
    # each event gave at most MAX_PATHS_PER_EVENT paths: the first 200 keys, no nesting reached
    assert sum(stats.count for stats in summary.top.values()) <= 40 * 200
