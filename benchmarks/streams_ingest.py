"""Streams ingest benchmark: StreamSource -> EventBuffer vs a bare XREAD + orjson loop.

    python benchmarks/streams_ingest.py [--events N] [--repeat R]

Starts its own redis-server, fills a stream with N pre-generated fake Segment payloads (field
``data``), then drains it from the start with each consumer in turn, the order rotating:

- bare: ``XREAD COUNT 1000 STREAMS bench <last id>`` + ``orjson.loads`` of each payload;
- StreamSource(start="0") into an EventBuffer holding all N events (parse, validate, buffer,
  and the exact trim accounting that reads each stream's XINFO in the read's MULTI).

Each consumer's rate is N / (last event consumed - start); ratios against the bare loop of
the same repetition, median of R. The goal (issue 9): StreamSource >= 0.8x the bare loop.
A benchmark, not a test: prints a markdown table, the figure last, and always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import load_average, machine  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402
from segment_debugger.sources.streams import StreamSource  # noqa: E402

STREAM = "bench"


def fill(server: RedisServer, payloads: list[bytes]) -> None:
    with server.client() as c:
        c.delete(STREAM)
        for i in range(0, len(payloads), 1000):
            pipe = c.pipeline(transaction=False)
            for p in payloads[i:i + 1000]:
                pipe.xadd(STREAM, {b"data": p})
            pipe.execute()


def run_bare(server: RedisServer, n: int) -> float:
    loads = orjson.loads
    with server.client() as c:
        last = b"0-0"
        got = 0
        t0 = time.perf_counter()
        while got < n:
            reply = c.xread({STREAM: last}, count=1000)
            for _stream, entries in reply:
                for entry_id, fields in entries:
                    loads(fields[b"data"])
                    last = entry_id
                    got += 1
        return n / (time.perf_counter() - t0)


def run_source(server: RedisServer, n: int) -> float:
    buffer = EventBuffer(max_messages=n, max_bytes=2**34)
    src = StreamSource(server.url, STREAM, start="0", buffer=buffer)
    t0 = time.perf_counter()
    src.start()
    while len(buffer) < n:
        buffer.wait_for(n, timeout=0.5)
    rate = n / (time.perf_counter() - t0)
    src.stop()
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n = args.events
    load_start = load_average()
    stream = FakeEventStream(seed=1)
    payloads = [stream.payload() for _ in range(n)]
    mean = sum(map(len, payloads)) / n
    bare: list[float] = []
    source: list[float] = []
    with RedisServer() as server:
        fill(server, payloads)
        for rep in range(args.repeat):
            order = [(run_bare, bare), (run_source, source)]
            for consume, out in order if rep % 2 == 0 else order[::-1]:
                gc.collect()
                out.append(consume(server, n))
                print(f"  run {rep + 1} {consume.__name__}: {out[-1]:,.0f} events/s",
                      file=sys.stderr)
    ratio = statistics.median(s / b for s, b in zip(source, bare, strict=True))
    print(f"\n### Streams ingest: {n:,} entries of {mean:.0f} bytes, median of {args.repeat}\n")
    print("| consumer | events/s | ratio vs bare |")
    print("|---|---:|---:|")
    print(f"| bare XREAD COUNT 1000 + orjson | {statistics.median(bare):,.0f} | 1.00 |")
    print(f"| StreamSource -> EventBuffer (all kept) | {statistics.median(source):,.0f} | "
          f"{ratio:.2f} |")
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min): {load_start:.1f} "
          f"at the start, {load_average():.1f} at the end")
    print(f"\nStreamSource / bare XREAD loop: {ratio:.2f}x (goal >= 0.8x)")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
