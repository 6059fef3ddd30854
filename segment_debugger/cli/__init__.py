"""The ``segment-debugger`` command line: ``publish`` fake events, ``tail`` them, ``demo``.

``publish`` stands in for the ``segment/fake-event-stream`` Docker image and reads the same
environment variables (``REDIS_HOST``, ``REDIS_PORT``, ``REDIS_CHANNEL``, ``EVENTS_PER_SECOND``,
plus ``REDIS_URL``); flags override them. ``tail`` prints one line per event, for use without a
notebook. ``demo`` is registered by :mod:`segment_debugger.cli.demo`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from segment_debugger.core.event import Event

#: Exit code for usage errors and an unreachable Redis.
EXIT_USAGE = 2

DEFAULT_RATE = 100.0
DEFAULT_CHANNEL = "events"
NAME_WIDTH = 36
NAME_LIMIT = 80
TYPE_WIDTH = 8
INVALID_MARK = "✗"


class CommandError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do."""


# ---- the one-line summary -------------------------------------------------------------------


def printable(text: str, limit: int | None = None) -> str:
    r"""Return ``text`` with control and other non-printable characters escaped (``\x1b``).

    A hostile payload can then not move the cursor, clear the screen or reorder the line.
    With ``limit``, the result is cut to that many characters, ending in ``…``.
    """
    cut = limit is not None and len(text) > limit
    if limit is not None:
        text = text[:limit]  # escape only what can be shown, even of a megabyte-long name
    if not text.isprintable():
        text = "".join(
            ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
        )
    if limit is not None and (cut or len(text) > limit):
        text = text[: limit - 1] + "…"
    return text


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def event_label(event: Event) -> str:
    """Return what identifies ``event`` at a glance: its name, email, group or alias pair.

    track: the event name; page/screen: the name; identify: the email trait, else userId;
    group: the groupId; alias: ``previousId -> userId``. A payload that is not a JSON object
    shows the start of its raw bytes.
    """
    if event.data is None:
        return repr(event.raw[:48])
    kind = event.type
    if kind == "track":
        return _text(event.event)
    if kind in ("page", "screen"):
        return _text(event.name)
    if kind == "identify":
        traits = event.traits if isinstance(event.traits, dict) else {}
        return _text(traits.get("email") or event.userId)
    if kind == "group":
        return _text(event.groupId)
    if kind == "alias":
        return f"{_text(event.previousId)} -> {_text(event.userId)}"
    return _text(event.event or event.name)


def format_line(event: Event) -> str:
    """Summarise ``event`` in one terminal-safe line.

    Local receive time, type (padded), label (see :func:`event_label`), userId or
    anonymousId, and for invalid events a mark followed by the violations.
    """
    t = event.received_at
    clock = time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"
    kind = printable(_text(event.type) or "?", TYPE_WIDTH)
    label = printable(event_label(event), NAME_LIMIT)
    who = printable(_text(event.userId or event.anonymousId) or "-", 40)
    line = f"{clock}  {kind:<{TYPE_WIDTH}}  {label:<{NAME_WIDTH}}  {who}"
    if not event.valid:
        line += f"  {INVALID_MARK} " + printable("; ".join(event.violations), 200)
    return line.rstrip()


# ---- connection settings --------------------------------------------------------------------


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
        host = args.host or env.get("REDIS_HOST") or "localhost"
        port = args.port if args.port is not None else _env_number(env, "REDIS_PORT", int)
        url = f"redis://{host}:{int(port or 6379)}/0"
    channel = args.channel or env.get("REDIS_CHANNEL") or DEFAULT_CHANNEL
    rate = args.rate
    if rate is None:
        rate = _env_number(env, "EVENTS_PER_SECOND", float)
    return url, channel, DEFAULT_RATE if rate is None else rate


def _redact(url: str) -> str:
    from segment_debugger.sources.url import redact

    return redact(url)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
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


# ---- publish --------------------------------------------------------------------------------


def _connect(url: str) -> Any:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)
        client.ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise CommandError(
            f"cannot reach Redis at {_redact(url)}: {str(exc).rstrip('.')}. Start a Redis server "
            "there, or point "
            "--url / REDIS_URL (or --host/--port, REDIS_HOST/REDIS_PORT) at a running one."
        ) from None
    return client


def cmd_publish(args: argparse.Namespace) -> int:
    """Run ``segment-debugger publish``: fake Segment events onto a Redis channel."""
    import redis

    from segment_debugger.playground.publisher import publish

    url, channel, rate = resolve_publish_target(args, os.environ)
    if not 0.0 <= args.invalid <= 1.0:
        raise CommandError(f"--invalid {args.invalid} is out of range: give a fraction 0..1")
    client = _connect(url)
    pace = f"{rate:g}/s" if rate > 0 else "full speed"
    limit = f", {args.count} events" if args.count is not None else ""
    print(
        f"publishing fake Segment events to {_redact(url)} channel {channel!r} at {pace}"
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
    with _stop_on_signals(stop):
        try:
            published = publish(
                client, channel, rate=rate, count=args.count, invalid_fraction=args.invalid,
                seed=args.seed, stop=stop, on_progress=progress, progress_every=args.progress,
            )
        except (redis.RedisError, OSError) as exc:
            print(f"error: Redis at {_redact(url)} failed: {exc}", file=sys.stderr)
            code = 1
        finally:
            client.close()
    elapsed = time.monotonic() - start
    print(f"published {published} events to {channel!r} in {elapsed:.1f} s", flush=True)
    return code


# ---- tail -----------------------------------------------------------------------------------


def _status_text(status: Any) -> str:
    """``state: reason`` of a :class:`SourceStatus`, terminal-safe."""
    state = getattr(status, "state", status)
    reason = getattr(status, "reason", "")
    return printable(f"{state}: {reason}" if reason else str(state))


def _gap_text(gap: Any) -> str:
    return printable(
        f"-- gap: up to {gap.duration:.1f} s of messages may be lost ({gap.reason}), "
        f"after seq {gap.after_seq}"
    )


def tail(
    url: str,
    channels: list[str],
    patterns: list[str],
    query: str,
    max_events: int | None,
    stop: threading.Event,
    out: TextIO,
) -> int:
    """Print one line per event arriving on ``channels``/``patterns`` until ``stop`` is set.

    Returns how many events were printed. Status changes, gaps and events evicted before they
    could be printed (a terminal slower than the stream) get lines of their own.
    """
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.query import parse_query
    from segment_debugger.sources.pubsub import RedisSource

    matcher = parse_query(query)
    buffer = EventBuffer(max_messages=50_000)
    shown = 0
    seen = 0
    gaps = 0
    status = ""
    with RedisSource(url, channels=tuple(channels), patterns=tuple(patterns), buffer=buffer) as src:
        while not stop.is_set() and (max_events is None or shown < max_events):
            buffer.wait_for(seen + 1, timeout=0.2)
            now_status = _status_text(src.status)
            if now_status != status:
                status = now_status
                print(f"-- status: {status}", file=out, flush=True)
            if buffer.stats["gaps"] != gaps:
                new = buffer.stats["gaps"] - gaps
                gaps += new
                for gap in buffer.gaps[-new:]:
                    print(_gap_text(gap), file=out)
            events = buffer.since(seen)
            if events and events[0].seq > seen + 1:
                missed = events[0].seq - seen - 1
                print(f"-- {missed} events not shown: terminal too slow", file=out)
            lines = []
            for event in events:
                if matcher.matches(event):
                    lines.append(format_line(event))
                    shown += 1
                    if max_events is not None and shown >= max_events:
                        break
            if events:
                seen = events[-1].seq
            if lines:
                out.write("\n".join(lines) + "\n")
            out.flush()
    return shown


def cmd_tail(args: argparse.Namespace) -> int:
    """Run ``segment-debugger tail``: a live one-line-per-event summary."""
    url = args.url or os.environ.get("REDIS_URL") or "redis://localhost:6379/0"
    channels = list(args.channel or [])
    patterns = list(args.pattern or [])
    if not channels and not patterns:
        channels = [DEFAULT_CHANNEL]
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    where = ", ".join([*channels, *(f"pattern {p}" for p in patterns)])
    print(f"tailing {_redact(url)} ({where}); Ctrl-C to stop", file=sys.stderr, flush=True)
    from segment_debugger.sources.url import RedisURLError

    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            shown = tail(url, channels, patterns, args.filter, args.max, stop, sys.stdout)
        except RedisURLError as exc:
            raise CommandError(str(exc)) from None
        except BrokenPipeError:  # e.g. piped into `head`: stop quietly
            return 0
    print(f"{shown} events shown", file=sys.stderr, flush=True)
    return 0


# ---- parser and entry point -----------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the ``segment-debugger`` argument parser with every subcommand registered."""
    from segment_debugger.cli import demo as demo_command

    parser = argparse.ArgumentParser(
        prog="segment-debugger", description="A live debugger for Segment events in Redis."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    pub = sub.add_parser(
        "publish",
        help="publish a fake Segment event stream to Redis",
        description="Publish realistic fake Segment events (all six types) to a Redis channel. "
        "Environment: REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_CHANNEL, EVENTS_PER_SECOND; "
        "flags override them.",
    )
    pub.add_argument("--url", help="Redis URL (default: REDIS_URL, else --host/--port)")
    pub.add_argument("--host", help="Redis host (default: REDIS_HOST or localhost)")
    pub.add_argument("--port", type=int, help="Redis port (default: REDIS_PORT or 6379)")
    pub.add_argument("--channel", help="channel (default: REDIS_CHANNEL or events)")
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
    pub.set_defaults(func=cmd_publish)

    tl = sub.add_parser(
        "tail", help="print a live one-line summary per event",
        description="Print one line per Segment event arriving on Redis.",
    )
    tl.add_argument("url", nargs="?", help="Redis URL (default: REDIS_URL or localhost)")
    tl.add_argument("--channel", action="append", help="channel, repeatable (default: events)")
    tl.add_argument("--pattern", action="append", help="channel pattern, repeatable")
    tl.add_argument("--filter", default="", metavar="QUERY", help="only events matching QUERY")
    tl.add_argument("--max", type=int, metavar="N", help="stop after printing N events")
    tl.set_defaults(func=cmd_tail)

    demo_command.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``segment-debugger`` command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(func(args) or 0)
    except CommandError as exc:
        print(f"segment-debugger {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
