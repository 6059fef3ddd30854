"""``segment-debugger publish``: a fake Segment event stream onto a Redis channel.

It stands in for the ``segment/fake-event-stream`` Docker image and reads the same environment
variables (``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_CHANNEL``, ``EVENTS_PER_SECOND``, plus
``REDIS_URL``); flags override them.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from segment_debugger.cli.common import CommandError, stop_on_signals
from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL, redact

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
        description="Publish realistic fake Segment events (all six types) to a Redis channel. "
        "Environment: REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_CHANNEL, EVENTS_PER_SECOND; "
        "flags override them.",
    )
    pub.add_argument("--url", help="Redis URL (default: REDIS_URL, else --host/--port)")
    pub.add_argument("--host", help=f"Redis host (default: REDIS_HOST or {DEFAULT_HOST})")
    pub.add_argument("--port", type=int, help=f"Redis port (default: REDIS_PORT or {DEFAULT_PORT})")
    pub.add_argument("--channel", help=f"channel (default: REDIS_CHANNEL or {DEFAULT_CHANNEL})")
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


def connect(url: str) -> Any:
    """Return a redis-py client that answered PING, or raise :class:`CommandError`."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        client.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise CommandError(
            f"cannot reach Redis at {redact(url)}: {str(exc).rstrip('.')}. Start a Redis server "
            "there, or point "
            "--url / REDIS_URL (or --host/--port, REDIS_HOST/REDIS_PORT) at a running one."
        ) from None
    return client


def run(args: argparse.Namespace) -> int:
    """Run ``segment-debugger publish``: fake Segment events onto a Redis channel."""
    import redis

    from segment_debugger.playground.publisher import publish

    url, channel, rate = resolve_publish_target(args, os.environ)
    if not 0.0 <= args.invalid <= 1.0:
        raise CommandError(f"--invalid {args.invalid} is out of range: give a fraction 0..1")
    client = connect(url)
    pace = f"{rate:g}/s" if rate > 0 else "full speed"
    limit = f", {args.count} events" if args.count is not None else ""
    print(
        f"publishing fake Segment events to {redact(url)} channel {channel!r} at {pace}"
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
                client, channel, rate=rate, count=args.count, invalid_fraction=args.invalid,
                seed=args.seed, stop=stop, on_progress=progress, progress_every=args.progress,
            )
        except (redis.RedisError, OSError) as exc:
            print(f"error: Redis at {redact(url)} failed: {exc}", file=sys.stderr)
            code = 1
        finally:
            client.close()
    elapsed = time.monotonic() - start
    print(f"published {published} events to {channel!r} in {elapsed:.1f} s", flush=True)
    return code
