"""Publish a flood of fake Segment events at a fixed rate, from payloads generated up front.

``segment-debugger publish`` generates each event as it goes, which costs most of a core at
20,000 events/s; on a 2-core machine that CPU is taken from the kernel and the browser under
test. This script generates ``--unique`` payloads first (more than the debugger buffers, so
no duplicate messageId is ever buffered twice), prints ``ready``, then publishes them in
rotation on the same monotonic schedule as the CLI, and prints ``published N`` at the end.

    python tests/browser/flood.py --url URL --channel C --rate 20000 --seconds 20

``--rare N`` makes every Nth payload a valid track event named ``--rare-event`` ("Rare
Event"), each with its own messageId: a rare match to filter on while the flood runs.
"""

from __future__ import annotations

import argparse
import datetime
import signal
import sys
import threading
import time

import orjson
import redis

from segment_debugger.io.publish import publish_batch
from segment_debugger.playground.fake import FakeEventStream


def main(argv: list[str] | None = None) -> int:
    """Run the flood; exit 0 after ``--seconds`` or on SIGINT/SIGTERM."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--url", required=True)
    ap.add_argument("--channel", required=True)
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--unique", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rare", type=int, default=0, help="every Nth payload is the rare event")
    ap.add_argument("--rare-event", default="Rare Event")
    args = ap.parse_args(argv)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stream = FakeEventStream(args.seed, 0.0)
    payloads = [stream.payload() for _ in range(args.unique)]
    if args.rare > 0:
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
        for i in range(args.rare - 1, len(payloads), args.rare):
            payloads[i] = orjson.dumps({
                "type": "track", "event": args.rare_event, "userId": f"rare-user-{i}",
                "messageId": f"rare-{args.seed}-{i}", "timestamp": now.replace("+00:00", "Z"),
                "properties": {"n": i},
            })
    client = redis.Redis.from_url(args.url)
    print("ready", flush=True)

    total = int(args.rate * args.seconds)
    sent = 0
    start = time.monotonic()
    while sent < total and not stop.is_set():
        due = min(total, int((time.monotonic() - start) * args.rate))
        if due <= sent:
            time.sleep(0.002)  # paces the publisher: nothing is due yet
            continue
        n = min(due - sent, 500)
        publish_batch(client, args.channel,
                      [payloads[(sent + i) % len(payloads)] for i in range(n)])
        sent += n
    elapsed = time.monotonic() - start
    print(f"published {sent} in {elapsed:.1f} s ({sent / elapsed:.0f}/s)", flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
