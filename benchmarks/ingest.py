"""Ingest benchmark: events/s into an EventBuffer via RedisSource vs a bare redis-py loop.

    python benchmarks/ingest.py [--events N] [--repeat R] [--publishers K]

Starts its own redis-server on a free port (pub/sub output buffer unlimited, so a consumer
slower than the publisher is measured at its own pace instead of being disconnected). For
each run, K publisher processes (forked before the consumer starts) send N pre-generated,
pre-encoded fake Segment payloads as pipelined PUBLISH commands over raw sockets, as fast as
Redis takes them, while one consumer reads:

- bare: redis-py + hiredis ``pubsub.get_message`` + ``orjson.loads``, the practical ceiling;
- RedisSource into the default EventBuffer (``max_messages=10_000``: what users run; the
  oldest events are evicted as new ones arrive);
- RedisSource into an EventBuffer that holds all N events (the worst case for memory and for
  Python's cyclic garbage collector, which scans every live container object).

Same payloads and publisher for all, measured in the same run, order rotating, median of
R repetitions; each ratio is against the bare loop of the same run. The process's garbage
collector is left as it is (on, default thresholds) for every consumer. A consumer's rate is
N / (last message consumed - publishing started). Prints a markdown table and the machine.
A benchmark, not a test: always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import hiredis
import orjson
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.redis_server import RedisServer  # noqa: E402

from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402
from segment_debugger.sources.pubsub import RedisSource  # noqa: E402

CHANNEL = "bench"
CHUNK = 1000  # PUBLISH commands per socket write
IDLE_TIMEOUT_S = 5.0  # a consumer gives up when nothing arrives for this long

BARE = "bare get_message + orjson"
SOURCE_DEFAULT = "RedisSource -> EventBuffer (default, 10,000 kept)"
SOURCE_ALL = "RedisSource -> EventBuffer (all kept)"
SOURCE_ANALYSIS = "RedisSource -> EventBuffer (default + checks, schemas, 20-event plan)"


# ---- publisher ------------------------------------------------------------------------------


def encode_publishes(payloads: list[bytes]) -> list[bytes]:
    """Pre-encode ``PUBLISH bench <payload>`` commands as RESP, CHUNK commands per buffer."""
    head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(CHANNEL), CHANNEL.encode())
    chunks = []
    for i in range(0, len(payloads), CHUNK):
        chunks.append(
            b"".join(head + b"$%d\r\n%s\r\n" % (len(p), p) for p in payloads[i : i + CHUNK])
        )
    return chunks


def publisher(
    port: int,
    chunks: list[bytes],
    commands: int,
    ready: Any,  # a multiprocessing Barrier
    started: Synchronized,  # type: ignore[type-arg]
    finished: Synchronized,  # type: ignore[type-arg]
) -> None:
    """Send pre-encoded chunks on a raw socket, reading the replies as they come back."""
    import threading

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ready.wait()  # everyone connected and the consumer subscribed
    with started.get_lock():
        if started.value == 0.0:
            started.value = time.time()

    def send() -> None:
        for chunk in chunks:
            sock.sendall(chunk)

    sender = threading.Thread(target=send)
    sender.start()
    replies = 0
    delivered_to_nobody = 0
    tail = b""
    while replies < commands:
        data = sock.recv(1 << 20)
        if not data:
            raise RuntimeError("redis-server closed the publisher connection")
        replies += data.count(b"\n")
        delivered_to_nobody += (tail + data).count(b":0\r\n")
        tail = data[-3:]  # a reply split across reads is counted once, when complete
    sender.join()
    sock.close()
    with finished.get_lock():
        finished.value = max(finished.value, time.time())
    if delivered_to_nobody:
        print(f"  warning: {delivered_to_nobody} PUBLISH reached no subscriber", file=sys.stderr)


@dataclass
class Run:
    consumer: str
    received: int
    seconds: float
    publish_seconds: float
    cpu_seconds: float
    gaps: int = 0

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        """CPU time the consumer process spent per event received, in microseconds."""
        return self.cpu_seconds / self.received * 1e6 if self.received else float("nan")


class Publishers:
    """K forked publisher processes sharing the N commands; started before the consumer."""

    def __init__(self, port: int, chunk_sets: list[list[bytes]], counts: list[int]) -> None:
        ctx = mp.get_context("fork")
        self.ready = ctx.Barrier(len(chunk_sets) + 1)
        self.started = ctx.Value("d", 0.0)
        self.finished = ctx.Value("d", 0.0)
        self.procs = [
            ctx.Process(
                target=publisher,
                args=(port, chunks, n, self.ready, self.started, self.finished),
                daemon=True,
            )
            for chunks, n in zip(chunk_sets, counts, strict=True)
        ]
        for p in self.procs:
            p.start()

    def go(self) -> None:
        self.ready.wait(timeout=30)

    def join(self) -> float:
        for p in self.procs:
            p.join(timeout=120)
            if p.is_alive():
                p.kill()
                p.join()
        return self.finished.value - self.started.value


# ---- consumers ------------------------------------------------------------------------------


def run_bare(server: RedisServer, pubs: Publishers, n: int) -> Run:
    """redis-py + hiredis ``get_message`` + ``orjson.loads``: the practical ceiling."""
    client = redis.Redis(host="127.0.0.1", port=server.port)
    pubsub = client.pubsub()
    pubsub.subscribe(CHANNEL)
    confirmed = None
    while confirmed is None or confirmed["type"] != "subscribe":
        confirmed = pubsub.get_message(timeout=1.0)
    cpu = time.process_time()
    pubs.go()
    received = 0
    last = time.time()
    loads = orjson.loads
    while received < n:
        message = pubsub.get_message(timeout=1.0)
        if message is None:
            if time.time() - last > IDLE_TIMEOUT_S:
                break
            continue
        if message["type"] != "message":
            continue
        loads(message["data"])
        received += 1
        last = time.time()
    cpu = time.process_time() - cpu
    publish_seconds = pubs.join()
    pubsub.close()
    client.close()
    return Run(BARE, received, last - pubs.started.value, publish_seconds, cpu)


def run_source_default(server: RedisServer, pubs: Publishers, n: int) -> Run:
    """RedisSource filling a default EventBuffer (oldest evicted beyond 10,000 events)."""
    return run_source(server, pubs, n, EventBuffer(), SOURCE_DEFAULT)


def run_source_all(server: RedisServer, pubs: Publishers, n: int) -> Run:
    """RedisSource filling an EventBuffer large enough for every event."""
    buffer = EventBuffer(max_messages=n + 1000, max_bytes=8 * 2**30)
    return run_source(server, pubs, n, buffer, SOURCE_ALL)


def analysis_plan() -> dict[str, Any]:
    """A 20-event tracking plan over the fake stream's track events (typed properties)."""
    from segment_debugger.playground.catalog import TRACK_EVENTS

    names = [name for name, _weight in TRACK_EVENTS][:20]
    names += [f"Planned Event {i}" for i in range(20 - len(names))]
    schema = {
        "type": "object",
        "properties": {
            "revenue": {"type": "number"}, "price": {"type": "number"},
            "currency": {"type": "string"}, "product_id": {"type": "string"},
            "quantity": {"type": "integer"},
        },
    }
    return {"allow_unplanned_events": True,
            "events": {name: {"properties": schema} for name in names}}


def run_source_analysis(server: RedisServer, pubs: Publishers, n: int) -> Run:
    """The default buffer with the clock checks, schema inference + drift, and a plan on
    (and the identity graph, when segment_debugger.analysis.people exists)."""
    buffer = EventBuffer(tracking_plan=analysis_plan(), infer_schemas=True)
    attach_people = getattr(buffer, "people", None)
    if attach_people is not None:
        attach_people()  # attaches the identity graph (analysis/people.py)
    return run_source(server, pubs, n, buffer, SOURCE_ANALYSIS)


def run_source(server: RedisServer, pubs: Publishers, n: int, buffer: EventBuffer,
               name: str) -> Run:
    """Start a RedisSource into ``buffer`` and time it until all N events are received."""
    source = RedisSource(server.url, channels=(CHANNEL,), buffer=buffer)
    source.start()
    deadline = time.monotonic() + 10
    while source.status.state != "live":
        if time.monotonic() > deadline:
            raise RuntimeError(f"RedisSource did not go live: {source.status}")
        time.sleep(0.005)
    cpu = time.process_time()
    pubs.go()
    last_seq = 0
    last = time.time()
    while last_seq < n:
        buffer.wait_for(n, timeout=0.5)  # by seq: counts evicted events too
        now_seq = buffer.last_seq
        if now_seq != last_seq:
            last_seq, last = now_seq, time.time()
        elif time.time() - last > IDLE_TIMEOUT_S:
            break
    cpu = time.process_time() - cpu
    publish_seconds = pubs.join()
    source.stop()
    stats = buffer.stats
    run = Run(name, stats["received"], last - pubs.started.value,
              publish_seconds, cpu, stats["gaps"])
    del buffer, source
    gc.collect()
    return run


# ---- report ---------------------------------------------------------------------------------


def machine() -> list[str]:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        server = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=False
        ).stdout.split()
        server_version = next((w[2:] for w in server if w.startswith("v=")), "?")
    except OSError:
        server_version = "?"
    return [
        f"- CPU: {model}, {os.cpu_count()} cores",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- redis-py {redis.__version__}, hiredis {hiredis.__version__}, orjson "
        f"{orjson.__version__}, redis-server {server_version}",
    ]


def load_average() -> float:
    """The 1-minute load average (NaN where the OS does not tell)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per consumer (median)")
    parser.add_argument("--publishers", type=int, default=1, help="publisher processes")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n, k = args.events, max(1, args.publishers)
    load_start = load_average()

    print(f"generating {n} fake Segment payloads...", file=sys.stderr)
    stream = FakeEventStream(seed=args.seed)
    payloads = [stream.payload() for _ in range(n)]
    mean_size = sum(map(len, payloads)) / n
    shares = [payloads[i::k] for i in range(k)]
    chunk_sets = [encode_publishes(share) for share in shares]
    counts = [len(share) for share in shares]
    del payloads, shares

    runs: dict[str, list[Run]] = {}
    with RedisServer() as server:
        with server.client() as c:
            c.config_set("client-output-buffer-limit", "pubsub 0 0 0")
        consumers = [run_bare, run_source_default, run_source_all, run_source_analysis]
        for rep in range(args.repeat):
            shift = rep % len(consumers)
            order = consumers[shift:] + consumers[:shift]
            for consume in order:
                gc.collect()
                pubs = Publishers(server.port, chunk_sets, counts)
                run = consume(server, pubs, n)
                runs.setdefault(run.consumer, []).append(run)
                print(
                    f"  run {rep + 1} {run.consumer}: {run.rate:,.0f} events/s, received "
                    f"{run.received}/{n}, publisher {n / run.publish_seconds:,.0f}/s",
                    file=sys.stderr,
                )

    bare_runs = runs[BARE]
    print(f"\n### Ingest: {n:,} events of {mean_size:.0f} bytes on average, "
          f"median of {args.repeat} runs, {k} publisher process(es)\n")
    print("| consumer | events/s | ratio vs bare | CPU µs/event | ratio (CPU) "
          "| lost (worst run) | gaps |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in (BARE, SOURCE_DEFAULT, SOURCE_ALL, SOURCE_ANALYSIS):
        rs = runs[name]
        # ratios are taken run by run against the bare loop of the same repetition
        ratio = statistics.median(r.rate / b.rate for r, b in zip(rs, bare_runs, strict=True))
        cpu_ratio = statistics.median(
            b.cpu_us / r.cpu_us for r, b in zip(rs, bare_runs, strict=True)
        )
        rate = statistics.median(r.rate for r in rs)
        cpu_us = statistics.median(r.cpu_us for r in rs)
        lost = max(n - r.received for r in rs)
        gaps = max(r.gaps for r in rs)
        print(f"| {name} | {rate:,.0f} | {ratio:.2f} | {cpu_us:.1f} | "
              f"{cpu_ratio:.2f} | {lost} | {gaps} |")
    print("\nevents/s: N / (last event consumed - publishing started), wall clock. CPU µs/event: "
          "CPU time of the consumer process per event. Ratios: this consumer / the bare loop "
          "(for CPU: bare / this) in the same repetition, median over repetitions; the CPU "
          "ratio is steadier than wall-clock rates when other work shares the cores. The "
          "garbage collector is on, with Python's defaults, for every consumer.")
    all_runs = [r for rs in runs.values() for r in rs]
    pub_rate = statistics.median(n / r.publish_seconds for r in all_runs)
    print(f"\nPublisher: {pub_rate:,.0f} events/s (median over all runs; raw-socket pipelined "
          "PUBLISH of pre-encoded payloads).")
    fastest = max(r.rate for r in all_runs)
    if fastest > 0.9 * pub_rate:
        print(f"WARNING: the fastest consumer ({fastest:,.0f}/s) is within 10% of the publisher: "
              "it may only be keeping up with it. Try --publishers 2.")
    else:
        print("The publisher is faster than every consumer: the rates above are the consumers' "
              "own (the backlog waits in Redis, whose pub/sub output buffer is unlimited here).")
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min) at the start: "
          f"{load_start:.1f}, at the end: {load_average():.1f}")
    default_ratio = statistics.median(
        r.rate / b.rate for r, b in zip(runs[SOURCE_DEFAULT], bare_runs, strict=True)
    )
    print(f"\nRedisSource (default buffer) / bare get_message loop: {default_ratio:.2f}x "
          "(goal >= 1.3x)")
    analysis_ratio = statistics.median(
        r.rate / b.rate for r, b in zip(runs[SOURCE_ANALYSIS], bare_runs, strict=True)
    )
    print(f"RedisSource with checks, schemas and a 20-event plan / bare loop: "
          f"{analysis_ratio:.2f}x (goal >= 0.8x)")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
