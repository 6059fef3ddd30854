"""``segment-debugger tail``: one terminal-safe line per event, for use without a notebook.

It reads pub/sub channels and patterns, sharded channels (``--shard-channel``), or streams
(``--stream NAME --from ID|TIME``, optionally in a consumer group), on one server or a cluster:
the URL goes to the source as it is given (:func:`~.common.source_from_args`). The lines
themselves are :mod:`.format`'s; this module is the loop that prints them.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

from segment_debugger.cli.common import (
    add_source_options,
    describe_source,
    redis_url,
    source_from_args,
    stop_on_signals,
)
from segment_debugger.cli.format import format_line, printable
from segment_debugger.sources.url import redact

if TYPE_CHECKING:
    from segment_debugger.sources.base import ThreadedSource


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``tail`` on the ``segment-debugger`` command line."""
    tl = subparsers.add_parser(
        "tail", help="print a live one-line summary per event",
        description="Print one line per Segment event arriving on Redis: pub/sub channels and "
        "patterns, sharded channels, or streams. The URL goes to the source unchanged: for "
        "channels and shard channels it may name a Redis Cluster (any node, or a seed list "
        "redis://h1:7000,h2:7001).",
    )
    add_source_options(tl)
    tl.add_argument("--filter", default="", metavar="QUERY", help="only events matching QUERY")
    tl.add_argument("--max", type=int, metavar="N", help="stop after printing N events")
    tl.set_defaults(func=run)


def _status_text(status: Any) -> str:
    """``state: reason`` of a :class:`SourceStatus`, terminal-safe."""
    state = getattr(status, "state", status)
    reason = getattr(status, "reason", "")
    return printable(f"{state}: {reason}" if reason else str(state))


def _gap_text(gap: Any) -> str:
    if gap.estimate_basis == "exact" and gap.lost_estimate is not None:
        return printable(
            f"-- gap: {gap.lost_estimate} messages lost ({gap.reason}), after seq {gap.after_seq}"
        )
    return printable(
        f"-- gap: up to {gap.duration:.1f} s of messages may be lost ({gap.reason}), "
        f"after seq {gap.after_seq}"
    )


def tail(
    source: ThreadedSource,
    query: str,
    max_events: int | None,
    stop: threading.Event,
    out: TextIO,
    positions: dict[str, str] | None = None,
) -> int:
    """Start ``source`` and print one line per event it buffers until ``stop`` is set.

    Returns how many events were printed. Status changes, gaps and events evicted before they
    could be printed (a terminal slower than the stream) get lines of their own. For stream
    events, ``positions`` (if given) receives the entry id of the last event printed per stream.
    """
    from segment_debugger.core.query import parse_query

    matcher = parse_query(query)
    buffer = source.buffer
    shown = 0
    seen = 0
    gaps = 0
    status = ""
    with source as src:
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
                    if positions is not None and event.stream_id is not None:
                        positions[event.channel] = event.stream_id
                    shown += 1
                    if max_events is not None and shown >= max_events:
                        break
            if events:
                seen = events[-1].seq
            if lines:
                out.write("\n".join(lines) + "\n")
            out.flush()
    return shown


def run(args: argparse.Namespace) -> int:
    """Run ``segment-debugger tail``: a live one-line-per-event summary."""
    from segment_debugger.core.buffer import EventBuffer

    url = redis_url(args)
    source = source_from_args(args, EventBuffer(max_messages=50_000))
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    print(f"tailing {redact(url)} ({describe_source(args)}); Ctrl-C to stop", file=sys.stderr,
          flush=True)
    stop = threading.Event()
    positions: dict[str, str] = {}
    with stop_on_signals(stop):
        try:
            shown = tail(source, args.filter, args.max, stop, sys.stdout, positions)
        except BrokenPipeError:  # e.g. piped into `head`: stop quietly
            return 0
    print(f"{shown} events shown", file=sys.stderr, flush=True)
    for name, entry_id in positions.items():
        print(f"last entry shown of stream {name}: {entry_id} (continue with --from {entry_id})",
              file=sys.stderr, flush=True)
    return 0
