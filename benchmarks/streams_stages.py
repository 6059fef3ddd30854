"""Where StreamSource's time goes: its read path cut into stages, µs per entry.

    python benchmarks/streams_stages.py [--events N] [--repeat R]

Starts its own redis-server and fills a stream with N fake Segment payloads (field ``data``),
like ``streams_ingest.py``. Each stage drains the whole stream again, one reply alive at a
time, the garbage collector on as in real life (its time is measured with ``gc.callbacks``);
each adds one step to the one before, so the differences are what each step costs:

1. read: what the source sends per batch (MULTI, XINFO STREAM, XREAD COUNT 1000, EXEC),
   replies kept as hiredis parsed them, nothing else;
2. + ``orjson.loads`` of each payload, dropped (the bare loop's work, without redis-py's
   reply callbacks);
3. + ``parse_event`` (parse and validate) instead, dropped;
4. + kept: every event (with its ``stream_id``) kept in one list;
5. + buffered: the least a source could do: one comprehension of ``parse_event``, the ids,
   ``EventBuffer.extend``;
6. ``_stream_store.store`` instead: the source's code (cursors, shapes, chunks);
7. StreamSource itself, in its thread;

and the bare loop of ``streams_ingest.py`` (redis-py ``xread`` + ``orjson.loads``). Medians of
R; wall time, and this process's CPU time (the server's is
not in it). A benchmark, not a test: prints a markdown table, the source's own share last; exits 0.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from ingest import load_average, machine  # noqa: E402
from streams_ingest import STREAM, fill, run_bare, run_source  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.core.segment import parse_event  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402
from segment_debugger.sources import _stream_replies as rep  # noqa: E402
from segment_debugger.sources._stream_store import store  # noqa: E402

#: What a stage does with one reply's entries (stream name, [[id, [field, value]], ...]).
Step = Callable[[str, list[Any], float], None]


def drain(server: RedisServer, n: int, step: Step | None) -> None:
    """Read the whole stream as the source does (MULTI XINFO + XREAD), ``step`` per reply."""
    client = server.client()
    client.set_response_callback("XREAD", rep.raw_reply)
    last, got = b"0-0", 0
    try:
        while got < n:
            pipe = client.pipeline(transaction=True)
            pipe.xinfo_stream(STREAM)
            pipe.xread({STREAM: last}, count=1000)
            info, reply = pipe.execute()
            rep.info_dict(info)
            for key, items in rep.groups(reply):
                if step is not None:
                    step(key.decode(), items, time.time())
                got += len(items)
                last = items[-1][0]
    finally:
        client.close()


def stages(n: int) -> dict[str, Callable[[RedisServer], Any]]:
    """Return each stage as a function of the server (its state lives until it returns)."""
    loads = orjson.loads

    def loaded(server: RedisServer) -> None:
        def step(_name: str, items: list[Any], _now: float) -> None:
            for _id, fields in items:
                loads(fields[1])
        drain(server, n, step)

    def parsed(server: RedisServer) -> None:
        def step(name: str, items: list[Any], now: float) -> None:
            for _id, fields in items:
                parse_event(fields[1], name, now)
        drain(server, n, step)

    def kept(server: RedisServer) -> list[Any]:
        out: list[Any] = []

        def step(name: str, items: list[Any], now: float) -> None:
            events = [parse_event(fields[1], name, now) for _id, fields in items]
            for event, (entry_id, _fields) in zip(events, items, strict=True):
                event.stream_id = entry_id.decode()
            out.extend(events)
        drain(server, n, step)
        return out

    def buffered(server: RedisServer) -> EventBuffer:
        buffer = EventBuffer(max_messages=n, max_bytes=2**34)

        def step(name: str, items: list[Any], now: float) -> None:
            events = [parse_event(fields[1], name, now) for _id, fields in items]
            for event, (entry_id, _fields) in zip(events, items, strict=True):
                event.stream_id = entry_id.decode()
            buffer.extend(events)
        drain(server, n, step)
        return buffer

    def stored(server: RedisServer) -> EventBuffer:
        buffer = EventBuffer(max_messages=n, max_bytes=2**34)
        cursors = {STREAM: rep.Cursor(b"0-0", 0)}
        names: dict[bytes, str] = {}

        def step(name: str, items: list[Any], _now: float) -> None:
            store(_no_client, rep.batches([(name.encode(), items)], None), buffer=buffer,
                  cursors=cursors, key_names=names, field=None, group=None)
        drain(server, n, step)
        return buffer

    return {
        "1. read (MULTI XINFO + XREAD, hiredis)": lambda server: drain(server, n, None),
        "2. + orjson.loads": loaded,
        "3. + parse_event (dropped)": parsed,
        "4. + kept (all N, with stream_id)": kept,
        "5. + EventBuffer.extend (least a source does)": buffered,
        "6. _stream_store.store (the source's code)": stored,
        "7. StreamSource (its thread)": lambda server: run_source(server, n),
        "bare: redis-py xread + orjson.loads": lambda server: run_bare(server, n),
    }


_no_client: Any = None  # store() only uses the client to ACK in a group


class GcClock:
    """Total time spent in the garbage collector while installed (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._started = 0.0

    def __call__(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


def measure(
    stage: Callable[[RedisServer], Any], server: RedisServer
) -> tuple[float, float, float]:
    """Run one stage; return (seconds, CPU seconds of this process, seconds in the GC)."""
    gc.collect()
    clock = GcClock()
    gc.callbacks.append(clock)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        kept = stage(server)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        gc.callbacks.remove(clock)
    del kept
    return took, cpu, clock.total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.events
    load_start = load_average()
    fake = FakeEventStream(seed=1)
    payloads = [fake.payload() for _ in range(n)]
    plan = stages(n)
    times: dict[str, list[float]] = {name: [] for name in plan}
    gcs: dict[str, list[float]] = {name: [] for name in plan}
    cpus: dict[str, list[float]] = {name: [] for name in plan}
    with RedisServer() as server:
        fill(server, payloads)
        for rep_no in range(args.repeat):
            order = list(plan.items())
            for name, stage in order if rep_no % 2 == 0 else order[::-1]:
                took, cpu, in_gc = measure(stage, server)
                times[name].append(took * 1e6 / n)
                cpus[name].append(cpu * 1e6 / n)
                gcs[name].append(in_gc * 1e6 / n)
                print(f"  run {rep_no + 1} {name}: {times[name][-1]:.2f} µs/entry",
                      file=sys.stderr)
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"\n### StreamSource stages: {n:,} entries, µs per entry, median of {args.repeat}\n")
    print("| stage | µs/entry | step costs | CPU µs/entry (this process) | of it in the GC |")
    print("|---|---:|---:|---:|---:|")
    previous = None
    for name in plan:
        step = "" if previous is None or name.startswith(("6", "7", "bare")) else \
            f"{med[name] - med[previous]:+.2f}"
        print(f"| {name} | {med[name]:.2f} | {step} | {statistics.median(cpus[name]):.2f} | "
              f"{statistics.median(gcs[name]):.2f} |")
        previous = name
    names = list(plan)
    own = med[names[5]] - med[names[4]]
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min): {load_start:.1f} "
          f"at the start, {load_average():.1f} at the end")
    print(f"\nStreamSource {med[names[6]]:.2f} µs/entry, bare loop {med[names[7]]:.2f}; the "
          f"source's own code beyond the least: {own:+.2f} µs/entry")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
