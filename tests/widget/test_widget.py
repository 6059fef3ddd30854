"""SegmentDebugger against a real redis-server, with the test playing the front end's part.

Every comm message the widget publishes (custom messages and trait updates alike) is recorded
by a comm that stands in for the kernel's; front-end messages go in through ``handle_msg``,
the same entry point the kernel uses.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import comm
import orjson
import pytest
from comm import DummyComm
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.widget.widget import SegmentDebugger

pytestmark = pytest.mark.redis



@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Fail a test that leaves a pump or source thread running."""
    yield
    left = [t.name for t in threading.enumerate() if t.name.startswith("segment-debugger")]
    assert left == [], f"threads still running after the test: {left}"


class RecordingComm(DummyComm):
    """A comm whose every published message is recorded with its time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.log: list[tuple[float, str, dict[str, Any]]] = []
        self.buffers: list[list[Any]] = []  # the binary buffers of each published message
        self.log_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, *args: Any, **kwargs: Any) -> None:
        with self.log_lock:
            self.log.append((time.monotonic(), msg_type, data or {}))
            self.buffers.append(list(kwargs.get("buffers") or []))

    # -- what the front end would see -----------------------------------------------------

    def comm_msgs(self, since: float = 0.0) -> list[tuple[float, dict[str, Any]]]:
        with self.log_lock:
            return [(t, d) for t, kind, d in self.log if kind == "comm_msg" and t >= since]

    def custom(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [
            d["content"]
            for _, d in self.comm_msgs()
            if d.get("method") == "custom" and kind in (None, d["content"]["type"])
        ]

    def updates(self, trait: str) -> list[Any]:
        return [
            d["state"][trait]
            for _, d in self.comm_msgs()
            if d.get("method") == "update" and trait in d["state"]
        ]

    # -- what the front end would send ----------------------------------------------------

    def from_front_end(self, data: dict[str, Any]) -> None:
        self.handle_msg({"content": {"comm_id": self.comm_id, "data": data}, "buffers": []})

    def request(self, content: Any) -> None:
        self.from_front_end({"method": "custom", "content": content})

    def set_traits(self, **state: Any) -> None:
        self.from_front_end({"method": "update", "state": state, "buffer_paths": []})


@pytest.fixture
def make_debugger(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., SegmentDebugger]]:
    """Build SegmentDebuggers on the test's redis-server; every one is closed afterwards."""
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    made: list[SegmentDebugger] = []

    def make(**kwargs: Any) -> SegmentDebugger:
        kwargs.setdefault("url", redis_server.url)
        dbg = SegmentDebugger(**kwargs)
        made.append(dbg)
        return dbg

    yield make
    for dbg in made:
        dbg.close()


def comm_of(dbg: SegmentDebugger) -> RecordingComm:
    assert isinstance(dbg.comm, RecordingComm)
    return dbg.comm


def live(dbg: SegmentDebugger) -> SegmentDebugger:
    source = dbg.source
    assert source is not None
    wait_until(lambda: source.status.state == "live")
    return dbg


def payload(i: int, kind: str = "track", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "messageId": f"m{i}", "userId": f"user-{i}"}
    body.update({"track": {"event": f"Event {i}"}, "page": {"name": f"Page {i}"}}.get(kind, {}))
    body.update(extra)
    return body


def publish(redis_server: RedisServer, payloads: list[Any], channel: str = "events") -> None:
    with redis_server.client() as client, client.pipeline(transaction=False) as pipe:
        for p in payloads:
            pipe.publish(channel, p if isinstance(p, bytes) else orjson.dumps(p))
        pipe.execute()


def seqs(msg: dict[str, Any]) -> list[int]:
    return [row["seq"] for row in msg["rows"]]


# -- construction --------------------------------------------------------------------------


def test_unknown_keyword_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*chanels"):
        SegmentDebugger(url=None, chanels=("x",))


@pytest.mark.parametrize(
    ("kwargs", "error", "expected"),
    [
        ({"url": "http://127.0.0.1:1"}, ValueError, "http"),
        ({"url": None, "throttle_ms": 5}, ValueError, "throttle_ms=5 is too small"),
    ],
)
def test_a_failed_construction_leaves_nothing_running(
    kwargs: dict[str, Any], error: type[Exception], expected: str
) -> None:
    before = set(threading.enumerate())
    with pytest.raises(error, match=expected):
        SegmentDebugger(**kwargs)
    gc.collect()  # __del__ of the half-built widget must not raise either
    assert set(threading.enumerate()) <= before


def test_initial_traits_and_repr(make_debugger: Callable[..., SegmentDebugger]) -> None:
    dbg = make_debugger(
        url="redis://:hunter2@127.0.0.1:1/0", autostart=False, query="type:track",
        type_filter=["track"], max_messages=500, throttle_ms=200,
    )
    assert (dbg.query, dbg.type_filter, dbg.max_rows, dbg.pump.throttle_ms) == (
        "type:track", ["track"], 500, 200,
    )
    assert dbg.buffer.max_messages == 500
    assert dbg.status["state"] == "stopped"
    assert "hunter2" not in repr(dbg) and "hunter2" not in str(dbg.status)
    assert "buffered=0" in repr(dbg)


# -- the protocol, played from the front end ----------------------------------------------


def test_requests_get_replies(make_debugger: Callable[..., SegmentDebugger],
                              redis_server: RedisServer) -> None:
    dbg = live(make_debugger())
    fe = comm_of(dbg)
    big = payload(99, properties={"blob": "x" * 40_000})
    publish(redis_server, [payload(1), payload(2), big])
    wait_until(lambda: len(dbg.buffer) == 3)
    assert fe.custom("delta") == []  # nothing before the front end asks

    fe.request({"type": "snapshot_request", "request_id": "s1"})
    (snap,) = fe.custom("snapshot")
    assert (seqs(snap), snap["last_seq"], snap["request_id"]) == ([1, 2, 3], 3, "s1")
    assert snap["rows"][2]["truncated"] is True

    publish(redis_server, [payload(4), payload(5)])
    wait_until(lambda: fe.custom("delta"))
    wait_until(lambda: fe.custom("delta")[-1]["last_seq"] == 5)
    deltas = fe.custom("delta")
    assert deltas[0]["after_seq"] == 3
    assert [s for d in deltas for s in seqs(d)] == [4, 5]

    fe.request({"type": "raw_request", "seq": 3, "request_id": "r1"})
    raw = fe.custom("raw")[-1]
    assert (raw["seq"], raw["request_id"]) == (3, "r1")
    assert orjson.loads(raw["raw"]) == big

    fe.request({"type": "raw_request", "seq": 10_000, "request_id": "r2"})
    assert fe.custom("raw")[-1] == {"type": "raw", "seq": 10_000, "raw": None, "request_id": "r2"}

    fe.request({"type": "clear_request", "request_id": "c1"})
    cleared = fe.custom("snapshot")[-1]
    assert (cleared["rows"], cleared["last_seq"], cleared["request_id"]) == ([], 5, "c1")
    assert len(dbg.buffer) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"type": "bogus", "request_id": "b1"}, "unknown message type 'bogus'"),
        ({"request_id": "b2"}, "unknown message type None"),
        (["snapshot_request"], "must be a JSON object"),
        ({"type": "raw_request", "seq": "3", "request_id": "b3"}, "integer 'seq'"),
    ],
)
def test_bad_requests_get_error_replies(
    make_debugger: Callable[..., SegmentDebugger], content: Any, expected: str
) -> None:
    dbg = make_debugger(autostart=False)
    fe = comm_of(dbg)
    fe.request(content)
    (error,) = fe.custom("error")
    assert expected in error["message"]
    if isinstance(content, dict):
        assert error["request_id"] == content["request_id"]


def test_a_failing_handler_replies_instead_of_raising(
    make_debugger: Callable[..., SegmentDebugger], monkeypatch: pytest.MonkeyPatch
) -> None:
    dbg = make_debugger(autostart=False)

    def broken(request_id: str | None = None) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dbg.pump, "snapshot", broken)
    comm_of(dbg).request({"type": "snapshot_request", "request_id": "x"})
    (error,) = comm_of(dbg).custom("error")
    assert "disk on fire" in error["message"] and error["request_id"] == "x"


def test_widget_messages_stay_under_the_rate_limit(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    """About 2 s of publishing as fast as one client can: <= ~25 comm messages per second."""
    dbg = live(make_debugger())
    fe = comm_of(dbg)
    fe.request({"type": "snapshot_request", "request_id": "s"})
    started = time.monotonic()
    published = 0
    while time.monotonic() - started < 2.0:
        publish(redis_server, [payload(published + i) for i in range(1000)])
        published += 1000
    wait_until(lambda: dbg.buffer.stats["received"] == published)
    wait_until(lambda: fe.custom()[-1]["last_seq"] == dbg.buffer.last_seq)
    elapsed = time.monotonic() - started

    times = [t for t, _ in fe.comm_msgs(since=started)]
    busiest, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        busiest = max(busiest, hi - lo + 1)
    deltas = fe.custom("delta")
    sent = sum(len(d["rows"]) for d in deltas)
    skipped = sum(d["skipped"] for d in deltas)
    print(
        f"\npublished {published} in {elapsed:.1f} s ({published / elapsed:.0f}/s); "
        f"{len(times)} comm messages, busiest second {busiest}; rows sent {sent}, "
        f"skipped {skipped}"
    )
    assert published >= 10_000
    assert busiest <= 25
    assert sent + skipped == published


# -- traits ----------------------------------------------------------------------------------


def test_status_and_stats_traits_follow_the_source(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    dbg = live(make_debugger())
    wait_until(lambda: dbg.status.get("state") == "live")
    publish(redis_server, [payload(i) for i in range(3)])
    wait_until(lambda: dbg.stats.get("received") == 3)
    assert {"displayed_rate_per_s", "skipped", "by_type", "evicted"} <= set(dbg.stats)
    assert comm_of(dbg).updates("stats")[-1]["received"] == 3


def test_stats_trait_carries_the_rates_per_type_and_rates_returns_them(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    dbg = live(make_debugger())
    publish(redis_server, [payload(i) for i in range(3)] + [payload(9, "page")])
    wait_until(lambda: (dbg.stats.get("rates") or {}).get("by_type", {}).get("page") is not None)
    rates = dbg.stats["rates"]
    assert set(rates) == {"t0", "by_type"}
    assert set(rates["by_type"]) == {"track", "page"}
    assert all(len(v) == 60 for v in rates["by_type"].values())
    assert sum(rates["by_type"]["track"]) == 3 and sum(rates["by_type"]["page"]) == 1
    assert isinstance(rates["t0"], int) and abs(rates["t0"] + 59 - time.time()) < 5
    sent = comm_of(dbg).updates("stats")[-1]
    assert sent["rates"]["by_type"].keys() == rates["by_type"].keys()
    frame = dbg.rates()
    assert len(frame) == 60 and str(frame.index.tz) == "UTC"
    assert int(frame["track"].sum()) == 3 and int(frame["page"].sum()) == 1
    assert int(frame["identify"].sum()) == 0


def test_pause_and_resume_set_the_trait(make_debugger: Callable[..., SegmentDebugger]) -> None:
    dbg = make_debugger(autostart=False)
    dbg.pause()
    assert dbg.paused is True
    dbg.resume()
    assert dbg.paused is False
    assert comm_of(dbg).updates("paused") == [True, False]
    comm_of(dbg).set_traits(paused=True)  # the front end's Live | Pause toggle
    assert dbg.paused is True


def test_selected_round_trip(make_debugger: Callable[..., SegmentDebugger],
                             redis_server: RedisServer) -> None:
    dbg = live(make_debugger())
    fe = comm_of(dbg)
    publish(redis_server, [payload(1), payload(2, "identify", traits={"email": "a@b.c"})])
    wait_until(lambda: len(dbg.buffer) == 2)

    fe.set_traits(selected_seq=2)  # the front end writes the seq only
    assert dbg.selected is not None
    assert (dbg.selected["seq"], dbg.selected["messageId"]) == (2, "m2")
    assert dbg.selected["traits"] == {"email": "a@b.c"}
    assert "data" not in dbg.selected
    assert orjson.loads(dbg.selected["raw"])["userId"] == "user-2"
    assert [s["messageId"] for s in fe.updates("selected")] == ["m2"]  # derived once, no echo
    assert fe.updates("selected_seq") == []  # Python never writes back what the front end set

    dbg.select(1)
    assert (dbg.selected_seq, dbg.selected["messageId"]) == (1, "m1")
    assert fe.updates("selected_seq") == [1]
    dbg.select(None)
    assert dbg.selected is None
    with pytest.raises(KeyError, match="seq 77"):
        dbg.select(77)
    fe.set_traits(selected_seq=77)  # evicted meanwhile: nothing to show
    assert dbg.selected is None
    fe.set_traits(selected={"seq": 1})  # read-only from the front end: ignored
    assert dbg.selected is None


def test_filtered_matches_query_type_filter_and_invalid_only(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    dbg = live(make_debugger())
    fe = comm_of(dbg)
    kinds = ["track", "identify", "page", "track", "identify", "screen"]
    sent = [payload(i, kind) for i, kind in enumerate(kinds)]
    sent[3]["timestamp"] = "not a date"  # an invalid track event
    publish(redis_server, [*sent, b"not json"])
    wait_until(lambda: len(dbg.buffer) == len(sent) + 1)
    invalid = {e.messageId for e in dbg.buffer.snapshot() if not e.valid}
    assert "m3" in invalid and None in invalid

    def shown() -> set[Any]:
        frame = dbg.filtered()
        return {m if isinstance(m, str) else None for m in frame["messageId"]}

    assert shown() == {p["messageId"] for p in sent} | {None}
    fe.set_traits(query="type:track")
    assert shown() == {p["messageId"] for p in sent if p["type"] == "track"}
    fe.set_traits(query="", type_filter=["identify", "page"])
    assert shown() == {p["messageId"] for p in sent if p["type"] in ("identify", "page")}
    fe.set_traits(type_filter=[], invalid_only=True)
    assert shown() == invalid
    fe.set_traits(query="type:track", invalid_only=True)
    assert shown() == {"m3"}
    assert len(dbg.to_pandas()) == len(sent) + 1


# -- lifecycle -----------------------------------------------------------------------------


def client_names(redis_server: RedisServer) -> list[str]:
    with redis_server.client() as client:
        return [c["cmd"] for c in client.client_list() if c["cmd"] != "client|list"]


def test_close_stops_threads_and_connections(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    before = set(threading.enumerate())
    dbg = live(make_debugger())
    assert client_names(redis_server)  # the subscriber is connected
    threads = set(threading.enumerate()) - before
    assert threads
    dbg.close()
    assert not any(t.is_alive() for t in threads)
    assert client_names(redis_server) == []
    assert dbg.comm is None
    dbg.close()  # idempotent
    assert dbg.source is not None and dbg.source.status.state == "stopped"


def test_context_manager_and_headless_use(redis_server: RedisServer) -> None:
    before = set(threading.enumerate())
    with SegmentDebugger(redis_server.url) as dbg:
        live(dbg)
        publish(redis_server, [payload(i) for i in range(4)])
        wait_until(lambda: len(dbg.buffer) == 4)
        frame = dbg.to_pandas()
    assert list(frame["messageId"]) == ["m0", "m1", "m2", "m3"]
    wait_until(lambda: set(threading.enumerate()) <= before, timeout=2)


def test_a_caller_owned_buffer_fed_by_hand(make_debugger: Callable[..., SegmentDebugger]) -> None:
    from segment_debugger.core.segment import parse_event

    buffer = EventBuffer()
    dbg = make_debugger(url=None, buffer=buffer)
    assert dbg.buffer is buffer and dbg.source is None
    fe = comm_of(dbg)
    fe.request({"type": "snapshot_request", "request_id": "s"})
    buffer.append(parse_event(orjson.dumps(payload(1)), "events", time.time()))
    wait_until(lambda: fe.custom("delta"))
    assert seqs(fe.custom("delta")[0]) == [1]
    dbg.clear()
    assert fe.custom()[-1]["type"] == "snapshot" and len(buffer) == 0


# -- a real kernel ---------------------------------------------------------------------------


KERNEL_SETUP = """
import threading, time
from segment_debugger.widget.widget import SegmentDebugger
dbg = SegmentDebugger({url!r})
display(dbg)
deadline = time.monotonic() + 10
while dbg.source.status.state != "live" and time.monotonic() < deadline:
    time.sleep(0.01)
print("state", dbg.source.status.state)
"""

KERNEL_CLOSE = """
dbg.close()
print("left", sorted(t.name for t in threading.enumerate() if t.name.startswith("segment-")))
"""


@pytest.mark.slow
def test_in_a_real_kernel(redis_server: RedisServer) -> None:
    """ipykernel's own comm, sends from the pump thread, counted on the IOPub channel."""
    import queue

    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute(KERNEL_SETUP.format(url=redis_server.url))
        comm_id, lines = None, []
        messages: list[tuple[float, dict[str, Any]]] = []

        def pump_iopub(until: Callable[[], bool], timeout: float = 20.0) -> None:
            deadline = time.monotonic() + timeout
            while not until():
                assert time.monotonic() < deadline, f"kernel did not get there; output {lines}"
                try:
                    msg = kc.get_iopub_msg(timeout=0.1)
                except queue.Empty:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "comm_open" and content["target_name"] == "jupyter.widget":
                    nonlocal comm_id
                    comm_id = content["comm_id"]
                elif kind == "comm_msg":
                    messages.append((time.monotonic(), content["data"]))
                elif kind == "stream":
                    lines.extend(content["text"].splitlines())
                elif kind == "error":
                    raise AssertionError(f"kernel error: {content['evalue']}")

        pump_iopub(lambda: "state live" in lines)
        assert comm_id is not None
        request = {"type": "snapshot_request", "request_id": "k1"}
        kc.shell_channel.send(kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": request}}
        ))
        published = [0]

        def publisher_loop() -> None:
            while time.monotonic() - started < 2.0:
                publish(redis_server, [payload(published[0] + i) for i in range(1000)])
                published[0] += 1000

        publisher = threading.Thread(target=publisher_loop, daemon=True)
        started = time.monotonic()
        publisher.start()
        pump_iopub(lambda: not publisher.is_alive())
        publisher.join()
        total = published[0]
        pump_iopub(lambda: any(m.get("content", {}).get("last_seq") == total
                               for _, m in messages))
        elapsed = time.monotonic() - started

        customs = [m["content"] for _, m in messages if m.get("method") == "custom"]
        assert customs[0]["type"] == "snapshot" and customs[0]["request_id"] == "k1"
        deltas = [c for c in customs if c["type"] == "delta"]
        assert sum(len(d["rows"]) + d["skipped"] for d in deltas) == total - customs[0]["last_seq"]
        times = [t for t, _ in messages if t >= started]
        busiest = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
        print(f"\nreal kernel: {total} events in {elapsed:.1f} s, {len(times)} comm messages, "
              f"busiest second {busiest}")
        assert busiest <= 25

        kc.execute(KERNEL_CLOSE)
        pump_iopub(lambda: any(line.startswith("left") for line in lines))
        assert "left []" in lines
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


# -- the front-end bundle ------------------------------------------------------------------


def test_widget_ships_the_built_bundle_or_a_notice(
    make_debugger: Callable[..., SegmentDebugger],
) -> None:
    from segment_debugger.widget.widget import ESM_PATH, FALLBACK_ESM, frontend_built

    esm = make_debugger(url=None)._esm
    assert esm == (ESM_PATH.read_text(encoding="utf-8") if frontend_built() else FALLBACK_ESM)


def test_the_not_built_notice_renders_the_build_command(tmp_path: Any) -> None:
    import shutil
    import subprocess

    from segment_debugger.widget.widget import BUILD_HINT, FALLBACK_ESM

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    (tmp_path / "fallback.mjs").write_text(FALLBACK_ESM, encoding="utf-8")
    (tmp_path / "run.mjs").write_text(
        "globalThis.document = { createElement: (tag) => ({ tag }) };\n"
        "const { default: widget } = await import('./fallback.mjs');\n"
        "let shown;\n"
        "widget.render({ el: { replaceChildren: (child) => { shown = child; } } });\n"
        "console.log(JSON.stringify(shown));\n",
        encoding="utf-8",
    )
    out = subprocess.run([node, "run.mjs"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=30, check=True)
    shown = orjson.loads(out.stdout)
    assert shown["tag"] == "pre"
    assert BUILD_HINT in shown["textContent"]


def test_channel_and_pattern_given_as_plain_strings(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    dbg = live(make_debugger(channels="orders", patterns="app.*"))
    publish(redis_server, [payload(1)], channel="orders")
    publish(redis_server, [payload(2)], channel="app.web")
    publish(redis_server, [payload(3)], channel="elsewhere")
    wait_until(lambda: len(dbg.buffer) == 2)
    frame = dbg.to_pandas()
    assert list(frame["channel"]) == ["orders", "app.web"]
    assert list(frame["pattern"].fillna("-")) == ["-", "app.*"]


def test_a_caller_owned_source_outlives_the_widget(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    from segment_debugger.sources.pubsub import RedisSource

    with RedisSource(redis_server.url) as source:
        dbg = live(make_debugger(source=source))
        assert dbg.buffer is source.buffer
        dbg.close()
        assert source.status.state == "live"
        publish(redis_server, [payload(1)])
        wait_until(lambda: len(source.buffer) == 1)
    assert source.status.state == "stopped"


# -- the layout's seams: any source, on_close, criteria, collectable when closed -----------


def test_any_source_drives_the_widget(make_debugger: Callable[..., SegmentDebugger]) -> None:
    from support.sources import ScriptedSource

    source = ScriptedSource([])
    dbg = make_debugger(source=source)
    assert dbg.source is source and dbg.buffer is source.buffer
    wait_until(lambda: dbg.status.get("state") == "live" and len(dbg.buffer) == 1)
    dbg.close()
    assert source.running  # a source passed in belongs to its owner
    source.stop()


def test_only_two_way_traits_are_keyword_arguments() -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument.*status.*accepts the traits"):
        SegmentDebugger(url=None, status={"state": "live"})


def test_on_close_callbacks_run_once_in_reverse_order(
    make_debugger: Callable[..., SegmentDebugger],
) -> None:
    dbg = make_debugger(url=None)
    ran: list[str] = []
    dbg.on_close(lambda: ran.append("first"))
    dbg.on_close(lambda: 1 / 0)  # a failing one is logged; the rest still run
    dbg.on_close(lambda: ran.append("last"))
    dbg.close()
    dbg.close()
    assert ran == ["last", "first"]
    dbg.on_close(lambda: ran.append("late"))  # already closed: runs at once
    assert ran[-1] == "late"


def test_criteria_is_the_conjunction_of_the_three_traits(
    make_debugger: Callable[..., SegmentDebugger],
) -> None:
    dbg = make_debugger(url=None, query="user", type_filter=["track"], invalid_only=True)
    criteria = dbg.criteria
    assert (criteria.query.text, criteria.types, criteria.invalid_only) == (
        "user", frozenset({"track"}), True,
    )


def test_closed_debuggers_are_garbage_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    """A closed debugger and its buffer are freed (anywidget's file watcher held them)."""
    import weakref

    from segment_debugger.core.segment import parse_event

    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    event = orjson.dumps(payload(1))
    import psutil

    refs: list[weakref.ref[Any]] = []
    rss_after_5 = 0
    for i in range(20):
        if i == 5:
            gc.collect()
            rss_after_5 = psutil.Process().memory_info().rss
        dbg = SegmentDebugger(url=None)
        dbg.buffer.extend([parse_event(event, "events", 1.0) for _ in range(10_000)])
        refs.append(weakref.ref(dbg))
        refs.append(weakref.ref(dbg.buffer))
        dbg.close()
        del dbg
    gc.collect()
    assert [r for r in refs if r() is not None] == []
    growth = psutil.Process().memory_info().rss - rss_after_5
    assert growth < 100 * 2**20, f"RSS grew {growth / 2**20:.0f} MB over 15 closed debuggers"


def test_the_streams_shortcut_opens_a_stream_source(
    make_debugger: Callable[..., SegmentDebugger], redis_server: RedisServer
) -> None:
    from segment_debugger.sources.streams import StreamSource

    with redis_server.client() as client:
        client.xadd("orders", {"data": orjson.dumps(payload(1))})
    dbg = make_debugger(streams=["orders"], start="0")
    assert isinstance(dbg.source, StreamSource)
    wait_until(lambda: len(dbg.buffer) == 1 and dbg.status.get("state") == "live")
    assert "stream orders" in dbg.status["reason"]
    assert dbg.buffer.snapshot()[0].stream_id is not None
    with pytest.raises(ValueError, match="either streams or channels"):
        SegmentDebugger(redis_server.url, channels=["a"], streams=["b"], autostart=False)
    with pytest.raises(ValueError, match="apply to streams"):
        SegmentDebugger(redis_server.url, start="0", autostart=False)


def test_the_export_button_gets_the_filtered_view_as_ndjson(
    make_debugger: Callable[..., SegmentDebugger],
) -> None:
    """export_request -> one 'export' message whose buffer is exactly dbg.filtered()'s lines."""
    from segment_debugger.core.segment import parse_event

    dbg = make_debugger(url=None, query="type:identify")
    fe = comm_of(dbg)
    dbg.buffer.extend([parse_event(orjson.dumps(payload(i, "identify" if i % 3 else "track")),
                                   "events", 1.0) for i in range(30)])
    dbg.buffer.append(parse_event(b'{"type":"identify","userId":"u",\n "x": 1}', "events", 1.0))
    fe.request({"type": "export_request", "request_id": "x1"})
    [reply] = fe.custom("export")
    with fe.log_lock:
        [data] = fe.buffers[[d for _, _, d in fe.log].index(
            next(d for _, k, d in fe.log if d.get("content", {}).get("type") == "export"))]
    lines = bytes(data).splitlines()
    expected = [e.raw for e in dbg.buffer if e.type == "identify"]
    assert reply["request_id"] == "x1" and reply["count"] == len(expected) == len(lines)
    assert reply["filename"].startswith("segment-events-") and reply["filename"].endswith(".ndjson")
    assert reply["size"] == len(bytes(data))
    assert lines[:-1] == expected[:-1]  # byte-exact where the payload can be a line
    assert orjson.loads(lines[-1]).keys() == {"$raw_base64"}  # the wrapper for the last


def test_the_kernel_version_goes_to_the_front_end(
    make_debugger: Callable[..., SegmentDebugger],
) -> None:
    dbg = make_debugger(url=None)
    assert dbg._version == segment_debugger_version()


def segment_debugger_version() -> str:
    import segment_debugger

    return segment_debugger.__version__



# -- locking ---------------------------------------------------------------------------------


def test_front_end_filter_changes_during_a_flood_never_deadlock(
    make_debugger: Callable[..., SegmentDebugger],
) -> None:
    """A query written by the front end while the pump thread sends a delta must not deadlock.

    Seen in JupyterLab at 20k events/s (the kernel stopped answering): the front end's
    ``set_state`` held the widget's lock and its criteria observer waited for the pump's, while
    the pump thread held its own lock and waited for the widget's to send the delta.
    """
    from segment_debugger.core.segment import parse_event

    buffer = EventBuffer(max_messages=5_000)
    dbg = make_debugger(url=None, buffer=buffer, throttle_ms=50)
    fe = comm_of(dbg)
    fe.request({"type": "snapshot_request", "request_id": "s"})
    raw = [orjson.dumps(payload(i)) for i in range(500)]
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            for body in raw:
                buffer.append(parse_event(body, "events", time.time()))

    def front_end() -> None:
        for i in range(300):
            fe.set_traits(query=f"userId:user-{i % 7}*")

    feeder = threading.Thread(target=flood, daemon=True)
    writer = threading.Thread(target=front_end, daemon=True)
    feeder.start()
    writer.start()
    writer.join(timeout=30)
    stop.set()
    feeder.join(timeout=5)
    assert not writer.is_alive(), "the front end's trait write deadlocked with the pump thread"
    assert dbg.query == "userId:user-5*"
