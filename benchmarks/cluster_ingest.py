"""Cluster ingest benchmark: sharded pub/sub over 3 shards vs single-node pub/sub, same run.

    python benchmarks/cluster_ingest.py [--events N] [--repeat R]

Starts a redis-server and a local Redis Cluster (3 primaries + 3 replicas) on free ports, both
with the pub/sub output buffer unlimited (a consumer slower than the publishers is measured at
its own pace instead of being disconnected). Each run has 3 publisher processes (forked before
the consumer starts) sending N pre-generated, pre-encoded fake Segment payloads in all, as
pipelined commands over raw sockets, as fast as Redis takes them:

- single: 3 publishers PUBLISH to one channel of the single server; one RedisSource reads it;
- cluster: one publisher per primary SPUBLISHes to a shard channel that primary owns; one
  RedisSource in cluster mode reads the 3 shard channels (3 connections, polled together).

Both consumers fill an EventBuffer holding every event. Same payloads for both, order
alternating, median of R repetitions; the ratio is taken run by run (cluster / single of the
same repetition). A consumer's rate is N / (last message consumed - publishing started).
Prints a markdown table, the machine, and the ratio last. A benchmark, not a test: exits 0.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import CHUNK, IDLE_TIMEOUT_S, load_average, machine, publisher  # noqa: E402
from support.cluster import LocalCluster, channels_on_every_shard  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402
from segment_debugger.sources.pubsub import RedisSource  # noqa: E402

PUBLISHERS = 3
SINGLE = "single node: PUBLISH -> RedisSource(channels=...)"
CLUSTER = "cluster, 3 shards: SPUBLISH -> RedisSource(shard_channels=...)"


def encode(command: bytes, channel: str, payloads: list[bytes]) -> list[bytes]:
    """Pre-encode ``<command> <channel> <payload>`` as RESP, CHUNK commands per buffer."""
    head = b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
        len(command), command, len(channel), channel.encode()
    )
    return [
        b"".join(head + b"$%d\r\n%s\r\n" % (len(p), p) for p in payloads[i : i + CHUNK])
        for i in range(0, len(payloads), CHUNK)
    ]


class Publishers:
    """One forked publisher process per (port, chunks), held at a barrier until ``go()``."""

    def __init__(self, jobs: list[tuple[int, list[bytes], int]]) -> None:
        ctx = mp.get_context("fork")
        self.ready = ctx.Barrier(len(jobs) + 1)
        self.started = ctx.Value("d", 0.0)
        self.finished = ctx.Value("d", 0.0)
        self.procs = [
            ctx.Process(target=publisher,
                        args=(port, chunks, n, self.ready, self.started, self.finished),
                        daemon=True)
            for port, chunks, n in jobs
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
        return float(self.finished.value - self.started.value)


@dataclass
class Run:
    mode: str
    received: int
    seconds: float
    publish_seconds: float
    cpu_seconds: float
    gaps: int

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float:
        return self.cpu_seconds / self.received * 1e6 if self.received else float("nan")


def consume(mode: str, source: RedisSource, pubs: Publishers, n: int) -> Run:
    """Start ``source``, release the publishers, time it until all N events are buffered."""
    source.start()
    deadline = time.monotonic() + 15
    while source.status.state != "live":
        if time.monotonic() > deadline:
            pubs.go()
            pubs.join()
            source.stop()
            raise RuntimeError(f"{mode}: the source did not go live: {source.status}")
        time.sleep(0.005)
    buffer = source.buffer
    cpu = time.process_time()
    pubs.go()
    last_seq, last = 0, time.time()
    while last_seq < n:
        buffer.wait_for(n, timeout=0.5)
        now_seq = buffer.last_seq
        if now_seq != last_seq:
            last_seq, last = now_seq, time.time()
        elif time.time() - last > IDLE_TIMEOUT_S:
            break
    cpu = time.process_time() - cpu
    publish_seconds = pubs.join()
    source.stop()
    stats = buffer.stats
    return Run(mode, stats["received"], last - pubs.started.value, publish_seconds, cpu,
               stats["gaps"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per mode (median)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    n = args.events
    load_start = load_average()

    print(f"generating {n} fake Segment payloads...", file=sys.stderr)
    stream = FakeEventStream(seed=args.seed)
    payloads = [stream.payload() for _ in range(n)]
    mean_size = sum(map(len, payloads)) / n
    shares = [payloads[i::PUBLISHERS] for i in range(PUBLISHERS)]
    del payloads

    runs: dict[str, list[Run]] = {SINGLE: [], CLUSTER: []}
    t0 = time.monotonic()
    with RedisServer() as server, LocalCluster(primaries=3, replicas=1) as cluster:
        print(f"cluster up in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        for port in [server.port, *cluster.ports]:
            with server.client() if port == server.port else cluster.client(port) as c:
                c.config_set("client-output-buffer-limit", "pubsub 0 0 0")
        owners = channels_on_every_shard(cluster, per_shard=1, prefix="bench")
        shard_jobs = [
            (port, encode(b"SPUBLISH", names[0], share), len(share))
            for (port, names), share in zip(owners.items(), shares, strict=True)
        ]
        single_jobs = [(server.port, encode(b"PUBLISH", "bench", share), len(share))
                       for share in shares]
        shard_channels = [names[0] for names in owners.values()]

        def single() -> Run:
            buffer = EventBuffer(max_messages=n + 1000, max_bytes=8 * 2**30)
            source = RedisSource(server.url, channels="bench", buffer=buffer, cluster=False)
            return consume(SINGLE, source, Publishers(single_jobs), n)

        def sharded() -> Run:
            buffer = EventBuffer(max_messages=n + 1000, max_bytes=8 * 2**30)
            source = RedisSource(cluster.url, shard_channels=shard_channels, buffer=buffer)
            return consume(CLUSTER, source, Publishers(shard_jobs), n)

        for rep in range(args.repeat):
            for run_mode in ((single, sharded) if rep % 2 == 0 else (sharded, single)):
                gc.collect()
                run = run_mode()
                runs[run.mode].append(run)
                print(f"  run {rep + 1} {run.mode}: {run.rate:,.0f} events/s, received "
                      f"{run.received}/{n}, publishers {n / run.publish_seconds:,.0f}/s",
                      file=sys.stderr)

    print(f"\n### Cluster ingest: {n:,} events of {mean_size:.0f} bytes on average, "
          f"median of {args.repeat} runs, {PUBLISHERS} publisher processes\n")
    print("| mode | events/s | CPU µs/event | publishers events/s | lost (worst run) | gaps |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, rs in runs.items():
        print(f"| {mode} | {statistics.median(r.rate for r in rs):,.0f} | "
              f"{statistics.median(r.cpu_us for r in rs):.1f} | "
              f"{statistics.median(n / r.publish_seconds for r in rs):,.0f} | "
              f"{max(n - r.received for r in rs)} | {max(r.gaps for r in rs)} |")
    print("\nevents/s: N / (last event consumed - publishing started), wall clock. CPU "
          "µs/event: CPU time of the benchmark process (the consumer) per event.")
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min) at the start: "
          f"{load_start:.1f}, at the end: {load_average():.1f}")
    ratio = statistics.median(
        c.rate / s.rate for c, s in zip(runs[CLUSTER], runs[SINGLE], strict=True)
    )
    cpu_ratio = statistics.median(
        s.cpu_us / c.cpu_us for c, s in zip(runs[CLUSTER], runs[SINGLE], strict=True)
    )
    print(f"\nRatio cluster (3 shards) / single node: {ratio:.2f} events/s "
          f"({cpu_ratio:.2f} by CPU per event; median of per-repetition ratios)")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
