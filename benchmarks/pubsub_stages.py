"""Where RedisSource's CPU goes: thread CPU per stage of the pub/sub read loop, per event.

    python benchmarks/pubsub_stages.py [--events N] [--repeat R]

Same setup as ``ingest.py`` (its own redis-server, a forked publisher sending N pre-encoded
fake Segment payloads as fast as Redis takes them, a ``RedisSource`` into the default
``EventBuffer``). The source thread's CPU time (``time.thread_time``) is summed per batch
over three stages: reading (the hiredis drain), parsing (``parse_event`` per event) and
appending (``EventBuffer.extend``: seqs, clock checks, counters, eviction), each measured
around the call, once per batch of a few hundred events, so the timing itself costs nothing
per event. Also the garbage collector's wall time (inside the stages) and the batch size.
Prints one row per run (min over R by total); the figure, last, is the best run's split.
A benchmark, not a test: always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (  # noqa: E402
    Publishers,
    RedisServer,
    encode_publishes,
    load_average,
    run_source_default,
)

from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402
from segment_debugger.sources import pubsub  # noqa: E402
from segment_debugger.sources._link import _Link  # noqa: E402

STAGES = ("read", "parse", "append")


class Meter:
    """Wraps the three stage calls (class attributes, for the run) and sums their CPU."""

    def __init__(self) -> None:
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self.gc_wall = 0.0
        self.batches: list[int] = []
        self._gc_started = 0.0
        self._parse_started = 0.0

    def install(self) -> list[tuple[Any, str, Any]]:
        clock = time.thread_time
        read, extend, store = _Link.read, EventBuffer.extend, pubsub.RedisSource._store
        meter = self

        def timed_read(link: Any, batch: list[Any]) -> None:
            started = clock()
            read(link, batch)
            meter.cpu["read"] += clock() - started

        def timed_store(source: Any, batch: list[Any]) -> None:
            meter.batches.append(len(batch))
            meter._parse_started = clock()
            store(source, batch)

        def timed_extend(buffer: Any, events: Any) -> None:
            started = clock()
            meter.cpu["parse"] += started - meter._parse_started
            extend(buffer, events)
            meter.cpu["append"] += clock() - started

        setattr(_Link, "read", timed_read)  # noqa: B010 (patched for the run)
        setattr(pubsub.RedisSource, "_store", timed_store)  # noqa: B010
        setattr(EventBuffer, "extend", timed_extend)  # noqa: B010
        gc.callbacks.append(self._on_gc)
        return [(_Link, "read", read), (pubsub.RedisSource, "_store", store),
                (EventBuffer, "extend", extend)]

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_wall += time.perf_counter() - self._gc_started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs (the best is the figure)")
    args = parser.parse_args(argv)
    n = args.events
    stream = FakeEventStream(seed=1)
    payloads = [stream.payload() for _ in range(n)]
    chunks = [encode_publishes(payloads)]
    del payloads
    rows = []
    load_start = load_average()
    with RedisServer() as server:
        with server.client() as c:
            c.config_set("client-output-buffer-limit", "pubsub 0 0 0")
        for _ in range(args.repeat):
            meter = Meter()
            restore = meter.install()
            try:
                run = run_source_default(server, Publishers(server.port, chunks, [n]), n)
            finally:
                for owner, name, original in restore:
                    setattr(owner, name, original)
                gc.callbacks.remove(meter._on_gc)
            per = {k: v / run.received * 1e6 for k, v in meter.cpu.items()}
            rows.append((run.cpu_us, per, meter.gc_wall / run.received * 1e6,
                         statistics.median(meter.batches or [0]), run.received))
    print(f"\n### RedisSource stages: {n:,} events, default buffer, {args.repeat} runs\n")
    print("| process CPU µs/event | read | parse | append | other | GC (wall, inside) "
          "| batch (median) | received |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for total, per, gc_us, batch, received in rows:
        other = total - sum(per.values())
        print(f"| {total:.2f} | {per['read']:.2f} | {per['parse']:.2f} | {per['append']:.2f} "
              f"| {other:.2f} | {gc_us:.2f} | {batch:.0f} | {received:,} |")
    print(f"\nload average (1 min): {load_start:.1f} at the start, {load_average():.1f} "
          "at the end. Stages: the source thread's CPU; other: the rest of the process "
          "(the waiting main thread, thread switches).")
    total, per, gc_us, _batch, _received = min(rows, key=lambda r: r[0])
    print(f"\nRedisSource {total:.2f} µs/event: read {per['read']:.2f}, parse "
          f"{per['parse']:.2f}, append {per['append']:.2f} (GC {gc_us:.2f} inside)")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
