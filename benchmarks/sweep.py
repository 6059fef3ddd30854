"""No-gap rate sweep: the highest steady input rate a SegmentDebugger takes with no gap.

    python benchmarks/sweep.py [--rates 25000,50000,75000,100000] [--duration 10] [--frontend]

Starts its own redis-server with Redis's default pub/sub output-buffer limit (32 MB hard,
8 MB for 60 s), so a consumer that falls behind is cut exactly as in production. For each
rate, a publisher process paces pre-encoded fake Segment events onto the channel for
``--duration`` seconds (pipelined PUBLISH on a raw socket, 100 slices a second), while a
headless ``SegmentDebugger`` (default 10,000-event buffer) reads them; with ``--frontend`` its
pump also sends deltas, as if a browser had asked for a snapshot. Per rate: sent, received,
gaps, the loss the debugger estimated (from the events on both sides of each gap) and the
true loss (sent - received). Each payload's ``timestamp`` is stamped with its publish time
(to the millisecond, spliced into the pre-encoded bytes), so the estimate, which reads the
publisher's timestamps, can be judged against the truth; its ``sentAt`` and ``receivedAt``
too (until 2026-12-01 they kept their generation time, so every event carried a clock
warning, an atypical 2 µs each: 75,000/s was then the debugger's highest rate with no gap).
The baseline, measured in the same run, is a bare redis-py + hiredis ``get_message`` +
``orjson.loads`` reader at the same rates.

Prints a markdown table; the figure, printed last, is the highest rate with no gap (goal:
100,000 events/s for 60 s). A benchmark, not a test: always exits 0.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import load_average, machine  # noqa: E402
from support.redis_server import RedisServer  # noqa: E402

from segment_debugger.playground.fake import FakeEventStream  # noqa: E402

CHANNEL = "sweep"
SLICES_PER_S = 100


#: A payload's dates as the fake stream writes them, side by side:
#: ``"timestamp":"2026-12-01T04:45:35.469Z","sentAt":"…","receivedAt":"…"``.
_STAMP_KEY = b'"timestamp":"'
_STAMP_LEN = 24
_SENT_AT = b'","sentAt":"'
_RECEIVED_AT = b'","receivedAt":"'
#: The three dates' span after ``"timestamp":"``: each date, and the keys between them.
_DATES_LEN = 3 * _STAMP_LEN + len(_SENT_AT) + len(_RECEIVED_AT)


def split_at_timestamp(payloads: list[bytes]) -> list[tuple[bytes, bytes]]:
    """Pre-encode ``PUBLISH`` commands, each cut around its payload's three dates.

    Returns (RESP up to the timestamp, RESP after receivedAt) per payload whose
    ``timestamp``, ``sentAt`` and ``receivedAt`` are millisecond ISO dates side by side;
    others are left out. Publishing is then three byte strings per event (:func:`stamp`).
    """
    head = b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n" % (len(CHANNEL), CHANNEL.encode())
    parts = []
    for p in payloads:
        at = p.find(_STAMP_KEY)
        if at < 0:
            continue
        start = at + len(_STAMP_KEY)
        dates = p[start:start + _DATES_LEN]
        one = _STAMP_LEN
        if (
            len(dates) != _DATES_LEN or p[start + _DATES_LEN:][:1] != b'"'
            or dates[one:one + len(_SENT_AT)] != _SENT_AT
            or dates[2 * one + len(_SENT_AT):2 * one + len(_SENT_AT) + len(_RECEIVED_AT)]
            != _RECEIVED_AT
        ):
            continue
        parts.append((head + b"$%d\r\n" % len(p) + p[:start], p[start + _DATES_LEN:] + b"\r\n"))
    return parts


def stamp(ms: int) -> bytes:
    """The three dates of an event published at ``ms``: all three that millisecond.

    Each event is stamped with its publish time (for judging the loss estimates), and so are
    its ``sentAt`` and ``receivedAt``, as one batch of a real pipeline shares them: a
    ``timestamp`` newer than the ``sentAt``/``receivedAt`` written when the payloads were
    generated would make every event a clock warning (2 µs each), which real traffic is not.
    """
    date = iso_ms(ms)
    return date + _SENT_AT + date + _RECEIVED_AT + date


def iso_ms(ms: int) -> bytes:
    """``ms`` (epoch milliseconds) as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (24 bytes)."""
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
            + f".{ms % 1000:03d}Z").encode()


def paced_publisher(port: int, payloads: list[bytes], rate: float, duration: float,
                    ready: Any, sent: Any) -> None:
    """Publish ``rate`` events/s for ``duration`` s, cycling through ``payloads``.

    Each event's dates are its scheduled publish time (the pace is kept to it).
    """
    encoded = split_at_timestamp(payloads)
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(True)
    ready.wait()
    t0 = time.perf_counter()
    wall0_ms = time.time() * 1000
    ms_per_event = 1000 / rate
    stamp_ms, dates = -1, b""
    count = 0
    i = 0
    total = int(rate * duration)
    while count < total:
        due = min(total, int((time.perf_counter() - t0) * rate) + 1)
        if due > count:
            chunk: list[bytes] = []
            for k in range(count, due):
                ms = int(wall0_ms + k * ms_per_event)
                if ms != stamp_ms:  # formatted once per millisecond
                    stamp_ms, dates = ms, stamp(ms)
                before, after = encoded[i]
                chunk += (before, dates, after)
                i = (i + 1) % len(encoded)
            sock.sendall(b"".join(chunk))
            count = due
        # drain replies so the server never blocks on our socket
        sock.setblocking(False)
        try:
            while sock.recv(1 << 20):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        sock.setblocking(True)
        time.sleep(1 / SLICES_PER_S)
    sent.value = count
    sock.close()


@dataclass
class Row:
    consumer: str
    rate: int
    sent: int
    received: int
    gaps: int
    lost_estimate: int | None  # None: the consumer does not estimate (the bare loop)
    basis: str = ""  # what the estimates rest on (the gaps' estimate_basis)


def run_debugger(port: int, payloads: list[bytes], rate: int, duration: float,
                 frontend: bool) -> Row:
    from segment_debugger import SegmentDebugger

    url = f"redis://127.0.0.1:{port}/0"
    dbg = SegmentDebugger(url, channels=[CHANNEL])
    try:
        deadline = time.monotonic() + 10
        while dbg.source is not None and dbg.source.status.state != "live":
            if time.monotonic() > deadline:
                raise RuntimeError("the debugger did not go live")
            time.sleep(0.01)
        if frontend:
            dbg.pump.snapshot()  # from now on the pump sends deltas, as to a browser
        sent = publish(port, payloads, rate, duration)
        settle(lambda: dbg.buffer.last_seq, sent)
        stats = dbg.buffer.stats
        name = "SegmentDebugger" + (" + deltas" if frontend else " (headless)")
        basis = ", ".join(sorted({g.estimate_basis or "none" for g in dbg.buffer.gaps}))
        return Row(name, rate, sent, stats["received"], stats["gaps"], stats["lost_estimate"],
                   basis)
    finally:
        dbg.close()


def run_bare(port: int, payloads: list[bytes], rate: int, duration: float) -> Row:
    client = redis.Redis(host="127.0.0.1", port=port)
    pubsub = client.pubsub()
    pubsub.subscribe(CHANNEL)
    while (m := pubsub.get_message(timeout=1.0)) is None or m["type"] != "subscribe":
        pass
    ctx = mp.get_context("fork")
    ready = ctx.Barrier(2)
    sent = ctx.Value("q", 0)
    proc = ctx.Process(target=paced_publisher, args=(port, payloads, rate, duration, ready,
                                                      sent), daemon=True)
    proc.start()
    ready.wait()
    received = 0
    reconnects = 0
    loads = orjson.loads
    last = time.monotonic()
    while proc.is_alive() or time.monotonic() - last < 1.0:
        try:
            message = pubsub.get_message(timeout=0.2)
        except redis.ConnectionError:
            reconnects += 1
            pubsub = client.pubsub()
            pubsub.subscribe(CHANNEL)
            continue
        if message is None:
            continue
        if message["type"] == "message":
            loads(message["data"])
            received += 1
            last = time.monotonic()
    proc.join()
    pubsub.close()
    client.close()
    total = int(sent.value)
    return Row("bare get_message + orjson", rate, total, received,
               reconnects + (1 if received < total and not reconnects else 0), None)


def publish(port: int, payloads: list[bytes], rate: int, duration: float) -> int:
    ctx = mp.get_context("fork")
    ready = ctx.Barrier(2)
    sent = ctx.Value("q", 0)
    proc = ctx.Process(target=paced_publisher, args=(port, payloads, rate, duration, ready,
                                                      sent), daemon=True)
    proc.start()
    ready.wait()
    proc.join()
    return int(sent.value)


def settle(value: Any, target: int, quiet_s: float = 1.0, limit_s: float = 30.0) -> None:
    """Wait until ``value()`` reaches ``target`` or stops changing for ``quiet_s``."""
    start = time.monotonic()
    last, changed = value(), time.monotonic()
    while value() < target and time.monotonic() - start < limit_s:
        now = value()
        if now != last:
            last, changed = now, time.monotonic()
        elif time.monotonic() - changed > quiet_s:
            return
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25000,50000,75000,100000")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--frontend", action="store_true", help="the pump sends deltas too")
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    load_start = load_average()
    stream = FakeEventStream(seed=1)
    payloads = [stream.payload() for _ in range(20_000)]
    mean = sum(map(len, payloads)) / len(payloads)
    rows: list[Row] = []
    with RedisServer() as server:
        for rate in rates:
            for consumer in ("bare", "debugger"):
                if consumer == "bare":
                    row = run_bare(server.port, payloads, rate, args.duration)
                else:
                    row = run_debugger(server.port, payloads, rate, args.duration,
                                       args.frontend)
                rows.append(row)
                print(f"  {row.consumer} at {rate:,}/s: {row.received:,}/{row.sent:,}, "
                      f"{row.gaps} gaps", file=sys.stderr)
    print(f"\n### No-gap sweep: {args.duration:g} s per rate, events of {mean:.0f} bytes, "
          "Redis's default pub/sub output-buffer limit\n")
    print("| consumer | rate (events/s) | sent | received | gaps | lost (estimate) "
          "| lost (truth) | estimate / truth | estimated from |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        truth = r.sent - r.received
        estimate = "n/a" if r.lost_estimate is None else f"{r.lost_estimate:,}"
        judged = (f"{r.lost_estimate / truth:.2f}" if r.lost_estimate is not None and truth
                  else "n/a")
        print(f"| {r.consumer} | {r.rate:,} | {r.sent:,} | {r.received:,} | {r.gaps} | "
              f"{estimate} | {truth:,} | {judged} | {r.basis or '-'} |")
    print("\nlost (estimate): what the debugger estimated from the events on both sides of its "
          "gaps (payload timestamps are publish times here); lost (truth): sent - received.")
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min): {load_start:.1f} "
          f"at the start, {load_average():.1f} at the end")
    ok = [r.rate for r in rows if r.consumer.startswith("SegmentDebugger") and r.gaps == 0
          and r.received == r.sent]
    base = [r.rate for r in rows if r.consumer.startswith("bare") and r.received == r.sent]
    print(f"\nHighest rate with no gap: SegmentDebugger {max(ok, default=0):,}/s, bare loop "
          f"{max(base, default=0):,}/s (goal: 100,000/s for 60 s)")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
