"""``segment-debugger replay``: publish a recording's payloads again, byte-exact, paced as recorded.

``--filter`` replays a subset (say, exactly the events that broke something), ``--speed``
scales the recorded pacing (``max``: as fast as Redis takes them), ``--loop`` repeats until
Ctrl-C. A progress bar shows on a terminal. When Redis goes away the command stops, says how
many events were replayed, and exits with status 1 (likewise when Redis refuses them: a key
of another type, SPUBLISH on Redis < 7).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import warnings
from typing import TextIO

from segment_debugger.cli.common import (
    CommandError,
    connect,
    failure_text,
    redis_url,
    stop_on_signals,
)

#: Exit status when Redis went away (or refused the payloads) during the replay.
EXIT_LOST = 1
BAR_WIDTH = 30


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``replay`` on the ``segment-debugger`` command line."""
    rp = subparsers.add_parser(
        "replay", help="publish a recording's payloads again, paced as recorded",
        description="Publish the payloads of a recording (segment-debugger record, or an "
        "NDJSON export) byte-exact to a channel, a shard channel or a stream, at the recorded "
        "pacing (receive times) scaled by --speed.",
    )
    rp.add_argument("file", metavar="FILE", help="the recording (its numbered parts follow)")
    rp.add_argument("--url", help="Redis URL or a cluster's seed list (default: REDIS_URL or "
                    "localhost)")
    where = rp.add_mutually_exclusive_group(required=True)
    where.add_argument("--channel", metavar="C", help="PUBLISH to channel C")
    where.add_argument("--stream", metavar="S", help="XADD to stream S (field data)")
    where.add_argument("--sharded", metavar="C", help="SPUBLISH to shard channel C")
    rp.add_argument(
        "--speed", type=parse_speed, default=1.0, metavar="1|10|max",
        help="pacing: 1 as recorded (default), 10 ten times faster, max as fast as possible",
    )
    rp.add_argument("--filter", default="", metavar="QUERY",
                    help="replay only the events matching QUERY (the widget's filter language)")
    rp.add_argument("--loop", action="store_true", help="replay again and again until Ctrl-C")
    rp.set_defaults(func=run)


def parse_speed(text: str) -> float | None:
    """``max`` -> None (no pacing); else a positive factor."""
    if text.strip().lower() in ("max", "inf", "0"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a factor (1, 10, 0.5) or max") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the speed must be more than 0")
    return value


def bar(sent: int, total: int, passes: int) -> str:
    """``[#######-------]  1,234/5,000  25%`` (and the pass number when looping)."""
    done = sent - (passes - 1) * total
    fraction = min(1.0, done / total) if total else 1.0
    filled = int(fraction * BAR_WIDTH)
    loop = f"  pass {passes}" if passes > 1 else ""
    return (f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}]  {done:,}/{total:,}  "
            f"{fraction:.0%}{loop}")


def run(args: argparse.Namespace) -> int:
    """Run ``segment-debugger replay``."""
    from segment_debugger.io.publish import Target
    from segment_debugger.io.recording import RecordingError
    from segment_debugger.io.replay import ReplayError, load_replay, replay
    from segment_debugger.sources.url import redact

    err: TextIO = sys.stderr
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            events = load_replay(args.file, args.filter)
        except (RecordingError, OSError) as exc:
            raise CommandError(str(exc)) from None
    for warning in caught:
        print(f"warning: {warning.message}", file=err)
    try:
        if args.stream is not None:
            target = Target(args.stream, "stream")
        elif args.sharded is not None:
            target = Target(args.sharded, "sharded")
        else:
            target = Target(args.channel, "channel")
    except ValueError as exc:  # an empty name
        raise CommandError(str(exc)) from None
    url = redis_url(args)
    client = connect(url, socket_timeout=5)
    speed = "max" if args.speed is None else f"x{args.speed:g}"
    print(f"replaying {len(events):,} events from {args.file} to {target} on {redact(url)} "
          f"(speed {speed}{', looping' if args.loop else ''}); Ctrl-C to stop", file=err,
          flush=True)
    tty = err.isatty()
    last_draw = 0.0

    def show(sent: int, passes: int) -> None:
        nonlocal last_draw
        now = time.monotonic()
        if tty and (now - last_draw > 0.1 or sent == passes * len(events)):
            last_draw = now
            err.write("\r\x1b[K" + bar(sent, len(events), passes))
            err.flush()

    stop = threading.Event()
    started = time.monotonic()
    try:
        with stop_on_signals(stop), client:
            sent = replay(client, target, events, speed=args.speed, loop=args.loop, stop=stop,
                          on_progress=show)
    except ReplayError as exc:
        if tty:
            err.write("\n")
        why = str(exc)
        if exc.__cause__ is not None:  # a known refusal is said in its own words
            hint = failure_text(exc.__cause__, target, "give --channel instead to PUBLISH")
            why = why if hint == str(exc.__cause__) else hint
        print(f"segment-debugger replay: stopped: {why}; "
              f"{exc.replayed:,} of {len(events):,} events replayed", file=err, flush=True)
        return EXIT_LOST
    if tty:
        err.write("\n")
    interrupted = " (interrupted)" if stop.is_set() else ""
    print(f"replayed {sent:,} events in {time.monotonic() - started:.1f} s{interrupted}",
          file=err, flush=True)
    return 0
