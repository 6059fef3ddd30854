"""People (issue 11): what the identity graph costs on ingest.

    python benchmarks/people_ingest.py [--events N] [--repeat R]

Two measurements, same payloads, same run:

1. The observer alone (CPU, steady): the fake stream parsed once, then appended in batches of
   100 to a default buffer (10,000 kept, so every batch evicts) with and without the identity
   graph attached; CPU µs per event, median of R.
2. End to end (benchmarks/ingest.py's setup: its own redis-server, a forked raw-socket
   publisher, N events): the bare redis-py loop, RedisSource into a default EventBuffer, the same
   with people attached, and (when the analysis modules are there) with people + inferred
   schemas + a tracking plan drawn from the traffic. Ratios against the bare loop of the same
   repetition; the issue's goal: people + schemas + plan >= 0.8x bare.

A benchmark, not a test: always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import ingest  # benchmarks/ingest.py, beside this file
from ingest import BARE, SOURCE_DEFAULT, Publishers, RedisServer, Run, run_bare, run_source

from segment_debugger.analysis.people import attach
from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.segment import parse_event
from segment_debugger.playground.fake import FakeEventStream

PEOPLE = "RedisSource -> EventBuffer + people"
ALL = "RedisSource -> EventBuffer + people + schemas + plan"


def observer_cpu(payloads: list[bytes], repeat: int) -> None:
    events_per_run = len(payloads)

    def one(with_people: bool) -> float:
        buffer = EventBuffer()
        if with_people:
            attach(buffer)
        events = [parse_event(p, "bench", 0.0) for p in payloads]
        start = time.process_time()
        for i in range(0, len(events), 100):
            buffer.extend(events[i : i + 100])
        return (time.process_time() - start) / events_per_run * 1e6

    rows = {False: [], True: []}  # type: dict[bool, list[float]]
    for _ in range(repeat):
        for flag in (False, True):
            rows[flag].append(one(flag))
    base, people = statistics.median(rows[False]), statistics.median(rows[True])
    print(f"\n### Observer alone: {events_per_run:,} parsed events appended in batches of 100 "
          f"(10,000 kept), median of {repeat}\n")
    print("| buffer | CPU µs/event |\n|---|---:|")
    print(f"| EventBuffer() | {base:.2f} |\n| + people | {people:.2f} |")
    print(f"\nThe identity graph adds {people - base:.2f} µs per event.")


def plan_buffer(payloads: list[bytes], n: int) -> Callable[[], EventBuffer] | None:
    """Return a maker of buffers with schemas inferred and a plan from the traffic, if possible."""
    try:
        from segment_debugger.analysis.plans import plan_from_traffic

        learner = EventBuffer(infer_schemas=True)  # type: ignore[call-arg]
        learner.extend(parse_event(p, "bench", 0.0) for p in payloads[:5000])
        plan = plan_from_traffic(learner.schema_inference())  # type: ignore[attr-defined]
    except Exception as exc:  # the analysis modules are moving; measure what exists
        print(f"(no schemas + plan variant: {exc!r})", file=sys.stderr)
        return None

    def make() -> EventBuffer:
        buffer = EventBuffer(infer_schemas=True, tracking_plan=plan)  # type: ignore[call-arg]
        attach(buffer)
        return buffer

    return make


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n = args.events
    stream = FakeEventStream(seed=args.seed)
    payloads = [stream.payload() for _ in range(n)]
    observer_cpu(payloads[:100_000], args.repeat)

    def with_people(server: RedisServer, pubs: Publishers, n: int) -> Run:
        buffer = EventBuffer()
        attach(buffer)
        return run_source(server, pubs, n, buffer, PEOPLE)

    make_all = plan_buffer(payloads, n)

    def with_all(server: RedisServer, pubs: Publishers, n: int) -> Run:
        assert make_all is not None
        return run_source(server, pubs, n, make_all(), ALL)

    consumers: list[Callable[[RedisServer, Publishers, int], Run]] = [
        run_bare, ingest.run_source_default, with_people]
    if make_all is not None:
        consumers.append(with_all)
    chunks, counts = [ingest.encode_publishes(payloads)], [n]
    runs: dict[str, list[Run]] = {}
    with RedisServer() as server:
        with server.client() as c:
            c.config_set("client-output-buffer-limit", "pubsub 0 0 0")
        for rep in range(args.repeat):
            shift = rep % len(consumers)
            for consume in consumers[shift:] + consumers[:shift]:
                pubs = Publishers(server.port, chunks, counts)
                run = consume(server, pubs, n)
                runs.setdefault(run.consumer, []).append(run)
                print(f"  run {rep + 1} {run.consumer}: {run.rate:,.0f} events/s "
                      f"({run.received}/{n})", file=sys.stderr)
    bare = runs[BARE]
    print(f"\n### End to end: {n:,} events, median of {args.repeat} runs\n")
    print("| consumer | events/s | ratio vs bare | CPU µs/event | ratio (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for name in (BARE, SOURCE_DEFAULT, PEOPLE, ALL):
        if name not in runs:
            continue
        rs = runs[name]
        ratio = statistics.median(r.rate / b.rate for r, b in zip(rs, bare, strict=True))
        cpu = statistics.median(b.cpu_us / r.cpu_us for r, b in zip(rs, bare, strict=True))
        print(f"| {name} | {statistics.median(r.rate for r in rs):,.0f} | {ratio:.2f} | "
              f"{statistics.median(r.cpu_us for r in rs):.1f} | {cpu:.2f} |")
    print("\nMachine:\n" + "\n".join(ingest.machine()) +
          f"\n- load average (1 min) at the end: {ingest.load_average():.1f}")
    if ALL in runs:
        cpu = statistics.median(b.cpu_us / r.cpu_us for r, b in zip(runs[ALL], bare, strict=True))
        print(f"\nRedisSource with people, schemas and a plan drawn from the traffic / bare loop: "
              f"{cpu:.2f}x by CPU")
    return 0


if __name__ == "__main__":
    args: Any = sys.argv[1:]
    try:
        main(args)
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
