"""``segment-debugger publish``: a fake Segment event stream onto a Redis channel or stream.

It stands in for the ``segment/fake-event-stream`` Docker image and reads the same environment
variables (``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_CHANNEL``, ``EVENTS_PER_SECOND``, plus
``REDIS_URL``); flags override them. ``--sharded`` publishes with SPUBLISH, ``--stream NAME``
appends to a stream (XADD, field ``data``; ``--maxlen N`` trims it to about N entries). The URL
may name a Redis Cluster (any node, or a seed list ``redis://h1:7000,h2:7001``).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from segment_debugger.cli.common import CommandError, connect, failure_text, stop_on_signals
from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL, redact

if TYPE_CHECKING:
    from segment_debugger.io.publish import Target

DEFAULT_RATE = 100.0
#: The halves of :data:`~segment_debugger.sources.url.DEFAULT_URL` that REDIS_HOST/REDIS_PORT
#: replace.
DEFAULT_HOST = urlsplit(DEFAULT_URL).hostname or "localhost"
DEFAULT_PORT = urlsplit(DEFAULT_URL).port or 6379


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``publish`` on the ``segment-debugger`` command line."""
    pub = subparsers.add_parser(
        "publish",
        help="publish a fake Segment event stream to Redis",
        description="Publish realistic fake Segment events (all six types) to a Redis channel "
        "(PUBLISH), a sharded channel (--sharded: SPUBLISH, Redis >= 7) or a stream (--stream "
        "NAME: XADD, the event in field 'data'). "
        "Environment: REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_CHANNEL, EVENTS_PER_SECOND; "
        "flags override them. A cluster URL (any node, or redis://h1:7000,h2:7001) works too.",
    )
    pub.add_argument(
        "--url", help="Redis URL, or a cluster's seed list (default: REDIS_URL, else --host/--port)"
    )
    pub.add_argument("--host", help=f"Redis host (default: REDIS_HOST or {DEFAULT_HOST})")
    pub.add_argument("--port", type=int, help=f"Redis port (default: REDIS_PORT or {DEFAULT_PORT})")
    pub.add_argument("--channel", help=f"channel (default: REDIS_CHANNEL or {DEFAULT_CHANNEL})")
    pub.add_argument(
        "--sharded", action="store_true",
        help="publish to the channel with SPUBLISH (sharded pub/sub, Redis >= 7)",
    )
    pub.add_argument(
        "--stream", metavar="NAME", help="append to this stream (XADD) instead of publishing"
    )
    pub.add_argument(
        "--maxlen", type=int, metavar="N",
        help="with --stream: trim the stream to about N entries (XADD MAXLEN ~ N)",
    )
    pub.add_argument(
        "--rate", type=float, help="events per second, 0 = full speed (default: "
        f"EVENTS_PER_SECOND or {DEFAULT_RATE:g})"
    )
    pub.add_argument("--count", type=int, help="stop after N events (default: run until Ctrl-C)")
    pub.add_argument(
        "--invalid", type=float, default=0.0, metavar="FRACTION",
        help="fraction of bad messages, 0..1 (default 0)",
    )
    pub.add_argument("--seed", type=int, help="random seed, for a reproducible stream")
    pub.add_argument(
        "--progress", type=float, default=5.0, metavar="SECONDS",
        help="progress line on stderr every SECONDS (default 5)",
    )
    pub.set_defaults(func=run)


def _env_number(env: Mapping[str, str], name: str, kind: Callable[[str], float]) -> float | None:
    value = env.get(name)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        raise CommandError(f"{name}={value!r} is not a number: set it to e.g. 100") from None


def resolve_publish_target(
    args: argparse.Namespace, env: Mapping[str, str]
) -> tuple[str, str, float]:
    """Return ``(url, channel, rate)`` from flags, then environment variables, then defaults.

    A ``--url`` flag wins; else ``--host``/``--port`` flags (the other half from the
    environment); else ``REDIS_URL``; else ``REDIS_HOST``/``REDIS_PORT``; else localhost:6379.
    """
    if args.url:
        url = args.url
    elif args.host is None and args.port is None and env.get("REDIS_URL"):
        url = env["REDIS_URL"]
    else:
        host = args.host or env.get("REDIS_HOST") or DEFAULT_HOST
        port = args.port if args.port is not None else _env_number(env, "REDIS_PORT", int)
        url = f"redis://{host}:{int(port or DEFAULT_PORT)}/0"
    channel = args.channel or env.get("REDIS_CHANNEL") or DEFAULT_CHANNEL
    rate = args.rate
    if rate is None:
        rate = _env_number(env, "EVENTS_PER_SECOND", float)
    return url, channel, DEFAULT_RATE if rate is None else rate


def resolve_destination(args: argparse.Namespace, channel: str) -> Target:
    """Return where ``publish`` sends: ``channel``, its shard channel, or the ``--stream``.

    Raise :class:`CommandError` for flags that do not go together.
    """
    from segment_debugger.io.publish import target

    if args.stream is not None:
        if args.channel is not None:
            raise CommandError("give --channel or --stream, not both")
        if args.sharded:
            raise CommandError("--sharded applies to channels: drop it, or --stream")
        if not args.stream:
            raise CommandError("--stream needs a stream name, e.g. --stream events")
        if args.maxlen is not None and args.maxlen < 1:
            raise CommandError(f"--maxlen {args.maxlen} is out of range: give a count >= 1")
        return target(args.stream, stream=True, maxlen=args.maxlen)
    if args.maxlen is not None:
        raise CommandError("--maxlen trims a stream: give --stream NAME as well")
    return target(channel, sharded=args.sharded)


def run(args: argparse.Namespace) -> int:
    """Run ``segment-debugger publish``: fake Segment events onto a Redis channel or stream."""
    import redis
    from redis.exceptions import RedisClusterException

    from segment_debugger.playground.publisher import publish

    url, channel, rate = resolve_publish_target(args, os.environ)
    to = resolve_destination(args, channel)
    if not 0.0 <= args.invalid <= 1.0:
        raise CommandError(f"--invalid {args.invalid} is out of range: give a fraction 0..1")
    client = connect(url, flags="--url / REDIS_URL (or --host/--port, REDIS_HOST/REDIS_PORT)")
    pace = f"{rate:g}/s" if rate > 0 else "full speed"
    limit = f", {args.count} events" if args.count is not None else ""
    print(
        f"publishing fake Segment events to {redact(url)} {to} at {pace}"
        f"{limit}, {args.invalid:.0%} invalid (Ctrl-C to stop)",
        flush=True,
    )
    start = time.monotonic()

    def progress(published: int) -> None:
        elapsed = time.monotonic() - start
        print(f"published {published} ({published / elapsed:.0f}/s)", file=sys.stderr, flush=True)

    stop = threading.Event()
    published = 0
    code = 0
    with stop_on_signals(stop):
        try:
            published = publish(
                client, to, rate=rate, count=args.count, invalid_fraction=args.invalid,
                seed=args.seed, stop=stop, on_progress=progress, progress_every=args.progress,
            )
        except (redis.RedisError, RedisClusterException, OSError) as exc:
            why = failure_text(exc, to, "drop --sharded to PUBLISH")
            print(f"error: Redis at {redact(url)} failed: {why}", file=sys.stderr)
            code = 1
        finally:
            client.close()
    elapsed = time.monotonic() - start
    print(f"published {published} events to {to} in {elapsed:.1f} s", flush=True)
    return code
