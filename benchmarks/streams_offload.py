"""What moving parse+validate out of StreamSource's read path would give (a design study).

    python benchmarks/streams_offload.py [--events N] [--repeat R]

Not product code: numbers for deciding whether a worker *process* should read the stream
(XREAD), parse and validate each entry, and send the kernel compact batches (per entry a
summary tuple of the fields an Event holds, plus the raw bytes), the kernel only rebuilding
Events and buffering them. Two parts:

1. per batch of 1000 fake payloads, µs per entry, min of R: ``parse_event`` (what moves out);
   in the worker, summarising the events to tuples and serialising the batch (``marshal``,
   ``pickle``); in the kernel, deserialising and rebuilding the Events
   (:func:`~segment_debugger.core.event.parsed_event`), and ``EventBuffer.extend``;
2. end to end over a real redis-server, N entries, medians of R, rotating order: the bare loop
   of ``streams_ingest.py``, StreamSource as it is, and a prototype worker process (XREAD +
   parse + marshal, sent over a pipe) feeding an EventBuffer in this process.

Prints markdown tables, the end-to-end ratios last; always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import marshal
import multiprocessing as mp
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from itertools import starmap
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

from ingest import load_average, machine  # noqa: E402
from streams_ingest import STREAM, fill, run_bare, run_source  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.core.event import FROM_RAW, Event, parsed_event  # noqa: E402
from segment_debugger.core.segment import parse_event  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402
from segment_debugger.sources import _stream_replies as rep  # noqa: E402

BATCH = 1000


def summary(event: Event) -> tuple[Any, ...]:
    """What the worker sends per entry: the raw bytes and the fields parse_event found."""
    return (
        event.raw, event.size, event.type, event.event, event.name, event.userId,
        event.anonymousId, event.messageId, event.groupId, event.previousId, event.timestamp,
        event.sentAt, event.receivedAt, event._properties is not None,
        event._traits is not None, event._context is not None, event.valid,
        event._violations, event.stream_id,
    )


def rebuilt(channel: str, now: float, rows: list[tuple[Any, ...]]) -> list[Event]:
    """What the kernel does per entry: an Event from a summary (no parsing)."""
    def one(raw: bytes, size: int, typ: Any, ev: Any, name: Any, uid: Any, aid: Any,
            mid: Any, gid: Any, pid: Any, ts: Any, sent: Any, rcv: Any, props: bool,
            traits: bool, ctx: bool, valid: bool, violations: Any, sid: Any) -> Event:
        event = parsed_event(raw, channel, now, None, size, FROM_RAW, typ, ev, name, uid, aid,
                             mid, gid, pid, ts, sent, rcv, FROM_RAW if props else None,
                             FROM_RAW if traits else None, FROM_RAW if ctx else None, valid,
                             violations)
        event.stream_id = sid
        return event
    return list(starmap(one, rows))


def per_batch(payloads: list[bytes], repeat_n: int) -> dict[str, float]:
    """Part 1: µs per entry of each step on one batch, min of ``repeat_n``."""
    batch = payloads[:BATCH]
    now = time.time()
    events = [parse_event(p, STREAM, now) for p in batch]
    for i, event in enumerate(events):
        event.stream_id = f"1732780000000-{i}"
    rows = [summary(e) for e in events]
    packed_m, packed_p = marshal.dumps(rows), pickle.dumps(rows, protocol=5)
    steps: dict[str, Callable[[], Any]] = {
        "parse_event (moves to the worker)":
            lambda: [parse_event(p, STREAM, now) for p in batch],
        "worker: summarise to tuples": lambda: [summary(e) for e in events],
        "worker: marshal.dumps": lambda: marshal.dumps(rows),
        "worker: pickle.dumps": lambda: pickle.dumps(rows, protocol=5),
        "kernel: marshal.loads": lambda: marshal.loads(packed_m),
        "kernel: pickle.loads": lambda: pickle.loads(packed_p),
        "kernel: rebuild Events": lambda: rebuilt(STREAM, now, rows),
        "kernel: EventBuffer.extend (both designs)":
            lambda: EventBuffer(max_messages=BATCH).extend(events),
    }
    out = {}
    for name, step in steps.items():
        best = float("inf")
        for _ in range(repeat_n):
            started = time.perf_counter()
            for _ in range(10):
                step()
            best = min(best, (time.perf_counter() - started) / 10)
        out[name] = best * 1e6 / BATCH
    out["batch bytes per entry (marshal)"] = len(packed_m) / BATCH
    return out


def worker(url: str, n: int, conn: Connection) -> None:
    """The prototype worker: XREAD from the start, parse, summarise, marshal, send."""
    import redis

    client = redis.Redis.from_url(url)
    client.set_response_callback("XREAD", rep.raw_reply)
    conn.recv()  # go
    last, got = b"0-0", 0
    while got < n:
        for batch in rep.batches(client.xread({STREAM: last}, count=BATCH), None):
            now = time.time()
            events = [parse_event(v, STREAM, now) for v in batch.values]
            for event, sid in zip(events, batch.ids, strict=True):
                event.stream_id = sid
            conn.send_bytes(marshal.dumps([summary(e) for e in events]))
            got += len(batch.ids)
            last = batch.last
    client.close()


def run_offload(server: RedisServer, n: int) -> float:
    """Part 2: the worker process feeding an EventBuffer here; events/s."""
    here, there = mp.get_context("fork").Pipe()
    proc = mp.get_context("fork").Process(target=worker, args=(server.url, n, there))
    proc.start()
    buffer = EventBuffer(max_messages=n, max_bytes=2**34)
    started = time.perf_counter()
    here.send("go")
    while len(buffer) < n:
        rows = marshal.loads(here.recv_bytes())
        buffer.extend(rebuilt(STREAM, time.time(), rows))
    rate = n / (time.perf_counter() - started)
    proc.join(10)
    here.close()
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.events
    load_start = load_average()
    fake = FakeEventStream(seed=1)
    payloads = [fake.payload() for _ in range(n)]
    steps = per_batch(payloads, max(5, args.repeat))
    print(f"\n### Per batch of {BATCH} entries, µs per entry (min)\n")
    print("| step | µs/entry |")
    print("|---|---:|")
    for name, value in steps.items():
        print(f"| {name} | {value:.2f} |")
    rates: dict[str, list[float]] = {"bare": [], "StreamSource": [], "worker process": []}
    runs = {"bare": run_bare, "StreamSource": run_source, "worker process": run_offload}
    with RedisServer() as server:
        fill(server, payloads)
        for rep_no in range(args.repeat):
            order = list(runs.items())
            for name, consume in order if rep_no % 2 == 0 else order[::-1]:
                gc.collect()
                rates[name].append(consume(server, n))
                print(f"  run {rep_no + 1} {name}: {rates[name][-1]:,.0f} events/s",
                      file=sys.stderr)
    ratio = {name: statistics.median(r / b for r, b in zip(v, rates["bare"], strict=True))
             for name, v in rates.items()}
    print(f"\n### End to end: {n:,} entries, median of {args.repeat}\n")
    print("| consumer | events/s | ratio vs bare |")
    print("|---|---:|---:|")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):,.0f} | {ratio[name]:.2f} |")
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min): {load_start:.1f} "
          f"at the start, {load_average():.1f} at the end")
    print(f"\nStreamSource {ratio['StreamSource']:.2f}x, worker process "
          f"{ratio['worker process']:.2f}x the bare XREAD loop")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
