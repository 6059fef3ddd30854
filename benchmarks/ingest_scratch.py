"""Scratch measurement (the real benchmark is benchmarks/ingest.py): RedisSource vs a bare loop.

The bare loop is the practical ceiling: redis-py + hiredis ``get_message`` + ``orjson.loads``.
Two modes, each run side by side in the same process and server:

- ``backlog``: N realistic events are published while the consumer is not reading (the server
  buffers them, output-buffer limit off), then the consumer's drain is timed. This isolates
  consumer cost from the publisher and redis-server competing for the 2 cores.
- ``live``: a separate process publishes N events pipelined while the consumer reads; timed
  from the first to the last message received.

Usage: .venv/bin/python benchmarks/ingest_scratch.py [-n 100000] [--repeat 3] [--protocol 3]
       [--mode backlog|live|both] [--no-gc]

Finding: the source's own read path costs ~3 us/msg against ~7+ for get_message, but
parse_event keeps every parsed payload alive in the buffer, and the cyclic GC's repeated scans
of those long-lived dicts roughly double the parse cost; the bare loop's dicts die young.
With --no-gc the source runs at 1.2-1.35x the bare loop; with the GC on, 0.5-1.0x.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import statistics
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import orjson
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from redis_server import RedisServer

from segment_debugger.buffer import EventBuffer
from segment_debugger.events import Event
from segment_debugger.fake import FakeEventStream
from segment_debugger.source import RedisSource

CHANNEL = "events"


def payloads(n: int) -> list[bytes]:
    stream = FakeEventStream(seed=7)
    return [stream.payload() for _ in range(n)]


def publish(port: int, n: int, ready: mp.synchronize.Event | None = None) -> None:
    data = payloads(n)
    client = redis.Redis(host="127.0.0.1", port=port)
    if ready is not None:
        ready.wait()
    pipe = client.pipeline(transaction=False)
    for i, payload in enumerate(data, 1):
        pipe.publish(CHANNEL, payload)
        if i % 1000 == 0:
            pipe.execute()
    pipe.execute()
    client.close()


def bare(server: RedisServer, n: int, protocol: int, mode: str) -> tuple[float, float]:
    client = redis.Redis(host="127.0.0.1", port=server.port, protocol=protocol)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(CHANNEL)
    while pubsub.get_message(timeout=1) is None and not pubsub.subscribed:
        pass
    time.sleep(0.05)  # let the subscribe confirmation arrive before timing anything
    while pubsub.get_message(timeout=0.05) is not None:
        pass
    proc, _ = start_publisher(server, n, mode)
    got = 0
    t0 = time.perf_counter() if mode == "backlog" else 0.0
    c0 = time.thread_time()
    while got < n:
        message = pubsub.get_message(timeout=1)
        if message is None or message["type"] != "message":
            continue
        orjson.loads(message["data"])
        if got == 0 and mode == "live":
            t0 = time.perf_counter()
        got += 1
    elapsed = time.perf_counter() - t0
    cpu = time.thread_time() - c0
    proc.join()
    pubsub.close()
    client.close()
    return n / elapsed, n / cpu


class GatedBuffer(EventBuffer):
    """Blocks the source's first extend until released, so a backlog can build up."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.gate = threading.Event()
        self.first_at = 0.0

    def extend(self, events: Iterable[Event]) -> None:
        if not self.gate.is_set():
            self.gate.wait()
        super().extend(events)
        if not self.first_at:
            self.first_at = time.perf_counter()


def thread_cpu(thread: threading.Thread | None) -> float:
    assert thread is not None and thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def source(server: RedisServer, n: int, protocol: int, mode: str) -> tuple[float, float]:
    buffer = GatedBuffer(max_messages=n + 1)
    src = RedisSource(f"{server.url}?protocol={protocol}", CHANNEL, buffer=buffer).start()
    deadline = time.monotonic() + 10
    while src.status.state != "live":
        if time.monotonic() > deadline:
            raise RuntimeError(f"source not live: {src.status}")
        time.sleep(0.01)
    if mode == "backlog":
        with server.client() as c:
            c.publish(CHANNEL, b"{}")  # the primer: the source blocks in extend on it
        proc, _ = start_publisher(server, n, mode)
        c0 = thread_cpu(src._thread)
        t0 = time.perf_counter()
        buffer.gate.set()
        total = n + 1
    else:
        buffer.gate.set()
        c0 = thread_cpu(src._thread)
        proc, _ = start_publisher(server, n, mode)
        total = n
    if not buffer.wait_for(total, timeout=300):
        raise RuntimeError(f"only {buffer.last_seq} of {total} arrived")
    end = time.perf_counter()
    cpu = thread_cpu(src._thread) - c0
    if mode == "live":
        t0 = buffer.first_at
    src.stop()
    proc.join()
    return n / (end - t0), n / cpu


def start_publisher(server: RedisServer, n: int, mode: str) -> tuple[mp.Process, None]:
    proc = mp.Process(target=publish, args=(server.port, n))
    proc.start()
    if mode == "backlog":
        proc.join()  # everything is now queued in the server for the consumer
        with server.client() as c:  # and make sure the server has written it
            c.ping()
    return proc, None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--protocol", type=int, default=3)
    parser.add_argument("--mode", choices=["backlog", "live", "both"], default="both")
    parser.add_argument(
        "--no-gc", action="store_true",
        help="disable the cyclic GC: shows what its scans of the buffered events cost",
    )
    args = parser.parse_args()
    if args.no_gc:
        gc.disable()
    sample = payloads(1000)
    print(f"payload mean {statistics.mean(map(len, sample)):.0f} B; n={args.n}; "
          f"RESP{args.protocol}; redis-py {redis.__version__}; gc {'off' if args.no_gc else 'on'}")
    modes = ["backlog", "live"] if args.mode == "both" else [args.mode]
    with RedisServer() as server:
        with server.client() as c:
            c.config_set("client-output-buffer-limit", "pubsub 0 0 0")
        for mode in modes:
            runs: dict[str, list[tuple[float, float]]] = {"bare": [], "source": []}
            for _ in range(args.repeat):
                runs["bare"].append(bare(server, args.n, args.protocol, mode))
                runs["source"].append(source(server, args.n, args.protocol, mode))
            for i, clock in enumerate(("wall", "cpu")):
                b = max(r[i] for r in runs["bare"])
                s = max(r[i] for r in runs["source"])
                print(f"{mode:8s} {clock:4s} bare {b:>10,.0f} ev/s   RedisSource {s:>10,.0f} ev/s"
                      f"   ratio {s / b:.2f}   (bare {[round(r[i]) for r in runs['bare']]}, "
                      f"source {[round(r[i]) for r in runs['source']]})")


if __name__ == "__main__":
    main()
