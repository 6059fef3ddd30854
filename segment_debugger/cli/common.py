"""What the ``segment-debugger`` subcommands share: errors, signals, Redis URLs, source options.

``tail`` and ``record`` read the same sources, so they take the same flags
(:func:`add_source_options`) and build the source the same way (:func:`source_from_args`).
``replay`` and ``publish`` connect with :func:`connect`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL, redact

if TYPE_CHECKING:
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.io.publish import Target
    from segment_debugger.sources.base import ThreadedSource

#: Exit code for usage errors and an unreachable Redis.
EXIT_USAGE = 2


class CommandError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do.

    :func:`segment_debugger.cli.main` prints it after the subcommand's name and exits with
    :data:`EXIT_USAGE`.
    """


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``stop.set()`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---- Redis ----------------------------------------------------------------------------------


def redis_url(args: argparse.Namespace) -> str:
    """Return the Redis URL ``args.url`` gives, else ``REDIS_URL``, else localhost."""
    return args.url or os.environ.get("REDIS_URL") or DEFAULT_URL


def connect(url: str, *, socket_timeout: float = 10, flags: str = "--url / REDIS_URL") -> Any:
    """Return a redis-py client that answered PING, or raise :class:`CommandError`.

    A cluster (a seed list, or a node that says it is one) gets a ``RedisCluster``. ``flags``
    names, in the error, what points the command at another server.
    """
    import redis
    from redis.exceptions import RedisClusterException

    from segment_debugger.io.publish import connect as client_for

    try:
        client = client_for(url, socket_connect_timeout=3, socket_timeout=socket_timeout)
        client.ping()
    except (redis.RedisError, RedisClusterException, OSError, ValueError) as exc:
        raise CommandError(
            f"cannot reach Redis at {redact(url)}: {str(exc).rstrip('.')}. Start a Redis server "
            f"there, or point {flags} at a running one."
        ) from None
    return client


def failure_text(exc: BaseException, to: Target, plain: str) -> str:
    """Return what to print when Redis refused or failed writing to ``to``, saying why if known.

    ``plain`` says how to PUBLISH instead when the server does not know SPUBLISH.
    """
    text = str(exc)
    if to.kind == "sharded" and "unknown command" in text.lower():
        return f"this Redis does not know SPUBLISH ({text}): --sharded needs Redis >= 7; {plain}"
    if to.kind == "stream" and "WRONGTYPE" in text:
        return f"key {to.name!r} holds something other than a stream ({text}): name another"
    return text


# ---- the sources tail and record read -------------------------------------------------------

FROM_ACCEPTED = (
    "Accepted: $ (new entries only, the default), 0 or - (the whole stream), an entry id "
    "(1714564800000-0, or just its milliseconds; reading starts after it), an ISO time "
    "(2024-05-01T12:00:00Z; UTC when no offset is given), or a duration back from now "
    "(90s, 5m, 2h, 1d, 1h30m)."
)

_ENTRY_ID = re.compile(r"\d+(?:-\d+)?")
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def add_source_options(parser: argparse.ArgumentParser, verb: str = "read") -> None:
    """Add the flags of a command that reads Redis (``tail``, ``record``) to ``parser``.

    The URL, channels, patterns and shard channels, or streams with ``--from``, ``--group``
    and ``--consumer``; ``verb`` words the ``--stream`` help.
    """
    group = parser.add_argument_group(
        "what to read", "one server or a cluster; channels, patterns and shard channels, or streams"
    )
    group.add_argument(
        "url", nargs="?",
        help="Redis URL or a cluster's seed list (default: REDIS_URL or localhost)",
    )
    group.add_argument(
        "--channel", action="append", help=f"channel, repeatable (default: {DEFAULT_CHANNEL})"
    )
    group.add_argument("--pattern", action="append", help="channel pattern, repeatable")
    group.add_argument(
        "--shard-channel", action="append", metavar="NAME",
        help="sharded channel (SSUBSCRIBE, Redis >= 7), repeatable",
    )
    group.add_argument(
        "--stream", action="append", metavar="NAME",
        help=f"{verb} this stream instead of pub/sub (XREAD), repeatable",
    )
    group.add_argument(
        "--from", dest="start", type=parse_from, metavar="ID|TIME",
        help="with --stream: where to start. " + FROM_ACCEPTED,
    )
    group.add_argument(
        "--group", metavar="G",
        help="with --stream: read as a member of consumer group G (created if missing), "
        "acknowledging what was read",
    )
    group.add_argument(
        "--consumer", metavar="C",
        help="with --group: this consumer's name (default: host name and process id)",
    )


def parse_from(text: str) -> str | datetime | timedelta:
    """Turn a ``--from`` value into a StreamSource ``start``; raise ArgumentTypeError if bad.

    ``$``, ``0``, ``-`` and entry ids stay text; ``5m``/``90s``/``2h``/``1d``/``1h30m`` become
    a timedelta back from now; an ISO time (``2024-05-01T12:00:00Z``; naive means UTC) a
    datetime. The result is checked by
    :func:`~segment_debugger.sources.streams.parse_start` (a moment in the future is refused).
    """
    value = text.strip()
    start: str | datetime | timedelta
    if value in ("$", "0", "-") or _ENTRY_ID.fullmatch(value):
        start = value
    elif _DURATION.fullmatch(value):
        start = timedelta(seconds=sum(
            float(amount) * _UNITS[unit] for amount, unit in _DURATION_PART.findall(value)
        ))
    else:
        iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a stream position. {FROM_ACCEPTED}"
            ) from None
        start = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
    from segment_debugger.sources.streams import parse_start

    try:
        parse_start(start)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}. {FROM_ACCEPTED}") from None
    return start


def source_from_args(args: argparse.Namespace, buffer: EventBuffer) -> ThreadedSource:
    """Return the (unstarted) source the :func:`add_source_options` flags describe.

    ``--stream`` gives a StreamSource; else channels, patterns and shard channels a RedisSource
    (``events`` when none is given), reading into ``buffer``. The URL (:func:`redis_url`) is
    passed on unchanged: the sources check it and handle clusters. Raise
    :class:`CommandError` for flags that do not go together or a URL the source refuses.
    """
    channels = list(args.channel or [])
    patterns = list(args.pattern or [])
    shards = list(args.shard_channel or [])
    url = redis_url(args)
    if args.stream:
        if channels or patterns or shards:
            raise CommandError(
                "give --stream, or --channel/--pattern/--shard-channel: "
                f"one {getattr(args, 'command', None) or 'command'} reads one kind"
            )
        if args.consumer is not None and args.group is None:
            raise CommandError("--consumer names a member of a consumer group: add --group G")
        from segment_debugger.sources.streams import StreamSource

        try:
            return StreamSource(
                url, args.stream, start="$" if args.start is None else args.start,
                group=args.group, consumer=args.consumer, buffer=buffer,
            )
        except ValueError as exc:  # RedisURLError included: the source checked the URL
            raise CommandError(str(exc)) from None
    for flag, value in (("--from", args.start), ("--group", args.group),
                        ("--consumer", args.consumer)):
        if value is not None:
            raise CommandError(f"{flag} applies to streams: add --stream NAME")
    if not (channels or patterns or shards):
        channels = [DEFAULT_CHANNEL]
    from segment_debugger.sources.pubsub import RedisSource

    extra: dict[str, Any] = {"shard_channels": tuple(shards)} if shards else {}
    try:
        return RedisSource(
            url, channels=tuple(channels), patterns=tuple(patterns), buffer=buffer, **extra
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def describe_source(args: argparse.Namespace) -> str:
    """Return what the :func:`add_source_options` flags read, for a command's first line."""
    if args.stream:
        start = "$" if args.start is None else args.start
        where = f"from {start.isoformat() if isinstance(start, datetime) else start}"
        if isinstance(start, timedelta):
            where = f"from {start} ago"
        group = f", group {args.group}" if args.group else ""
        return ", ".join(f"stream {name}" for name in args.stream) + f" {where}{group}"
    parts = [
        *(args.channel or []),
        *(f"pattern {p}" for p in args.pattern or []),
        *(f"shard channel {c}" for c in args.shard_channel or []),
    ]
    return ", ".join(parts or [DEFAULT_CHANNEL])
