"""``segment-debugger record``: capture a live stream to a recording file, losing nothing to caps.

Reads what ``tail`` reads (channels, patterns, shard channels or streams, on one server or a
cluster) and writes every event as it arrives (:mod:`segment_debugger.io.recorder`) to NDJSON,
gzipped NDJSON or Parquet (the ``--out`` name decides), with the gaps in ``FILE.gaps.json``.
Ctrl-C (or SIGTERM) stops it and closes the file cleanly.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TextIO

from segment_debugger.cli.common import (
    CommandError,
    add_source_options,
    describe_source,
    redis_url,
    source_from_args,
    stop_on_signals,
)
from segment_debugger.sources.url import redact


def add_parser(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register ``record`` on the ``segment-debugger`` command line."""
    rec = subparsers.add_parser(
        "record", help="capture events to a recording file (NDJSON, .gz or Parquet)",
        description="Capture every event arriving on Redis to a file, as it arrives: the "
        "payload byte-exact with its seq, receive time, channel, pattern and stream id. "
        "FILE ending in .parquet writes Parquet row groups, in .gz gzipped NDJSON, else NDJSON. "
        "Gaps (messages possibly lost) are written to FILE.gaps.json. Ctrl-C stops and closes "
        "the file cleanly.",
    )
    add_source_options(rec, verb="record")
    rec.add_argument("--out", "-o", required=True, metavar="FILE", help="the recording to write")
    rec.add_argument("--filter", default="", metavar="QUERY", help="record only matching events")
    rec.add_argument("--duration", type=_positive(float), metavar="S",
                     help="stop after S seconds")
    rec.add_argument("--count", type=_positive(int), metavar="N",
                     help="stop after recording N events")
    rec.add_argument(
        "--rotate-mb", type=_positive(float), metavar="M",
        help="start a new part once the current one holds M MB: FILE, then FILE's name with "
        ".1, .2, ... before its suffix (rec.ndjson.gz, rec.1.ndjson.gz, ...)",
    )
    rec.set_defaults(func=run)


def _positive(kind: type[int] | type[float]) -> type:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
        return value

    return parse  # type: ignore[return-value]


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover - the loop returns


def progress_line(p: object) -> str:
    """One progress line: events, rate, bytes, gaps, the source's state."""
    from segment_debugger.io.recorder import Progress

    assert isinstance(p, Progress)
    gaps = f"{p.gaps} gap{'s' if p.gaps != 1 else ''}"
    return (f"{p.events:,} events  {p.rate:,.0f}/s  {_size(p.bytes)}  {gaps}  [{p.state}]  "
            f"{p.elapsed:.0f} s")


def run(args: argparse.Namespace) -> int:
    """Run ``segment-debugger record``."""
    from segment_debugger.core.query import parse_query
    from segment_debugger.io.recorder import CaptureBuffer, RecordingWriter, Spool, record
    from segment_debugger.io.recording import gaps_path

    url = redis_url(args)
    query = parse_query(args.filter) if args.filter else None
    source = source_from_args(args, CaptureBuffer(Spool()))
    what = f"{redact(url)} ({describe_source(args)})"
    rotate = None if args.rotate_mb is None else max(1, int(args.rotate_mb * 2**20))
    try:
        writer = RecordingWriter(args.out, source=what, query=args.filter, rotate_bytes=rotate)
    except OSError as exc:
        raise CommandError(f"cannot write {args.out!r}: {exc}") from None
    err: TextIO = sys.stderr
    tty = err.isatty()
    print(f"recording {what} to {args.out}; Ctrl-C to stop", file=err, flush=True)

    def show(p: object) -> None:
        if tty:
            err.write("\r\x1b[K" + progress_line(p))
            err.flush()

    stop = threading.Event()
    with stop_on_signals(stop):
        last = record(source, writer, query=query, stop=stop, duration=args.duration,
                      count=args.count, on_progress=show)
    if tty:
        err.write("\n")
    parts = ", ".join(p.name for p in writer.parts)
    print(f"recorded {progress_line(last)} to {parts}", file=err)
    gaps = writer.gaps
    if gaps:
        print(f"{len(gaps)} gap(s): messages may be missing; see {gaps_path(args.out)}", file=err)
    err.flush()
    return 0
