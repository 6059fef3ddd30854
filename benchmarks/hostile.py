"""Hostile-payload benchmark: one huge event through parse, to_pandas and the filter.

    python benchmarks/hostile.py [--keys N] [--depth D] [--what all|parse|frame|filter|query]

Builds one Segment event whose ``properties`` hold N keys (default 1,000,000: about 17 MB),
accepted by an EventBuffer with a raised ``max_bytes``, plus ``--others`` typical events; then
times each step in a fresh child process, so each peak RSS (``ru_maxrss`` of that child, via
psutil for the baseline) is the step's own, with its CPU time (less sensitive to a loaded machine
than wall time; the header says the load). Also a D-deep nested payload through the filter.
``PYTHONPATH=<a git worktree>`` measures that tree's code (the header names the code run).
A benchmark, not a test: always exits 0.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH=<a worktree> measures that code instead
    sys.path.insert(0, str(ROOT))

STEPS = ("parse", "frame", "filter_field", "filter_text", "filter_deep", "query")


def huge_payload(keys: int) -> bytes:
    """A track event whose properties hold ``keys`` distinct keys (compact JSON)."""
    properties = ",".join(f'"key{i:07d}":{i}' for i in range(keys))
    return (
        '{"type":"track","event":"Huge","userId":"u1","messageId":"m-huge",'
        '"timestamp":"2024-05-01T12:34:56.789Z","properties":{' + properties + "}}"
    ).encode()


def deep_payload(depth: int) -> bytes:
    """A track event whose properties nest ``depth`` objects deep."""
    inner = '{"leaf":1}'
    for _ in range(depth):
        inner = '{"n":' + inner + "}"
    return (
        '{"type":"track","event":"Deep","userId":"u1","messageId":"m-deep",'
        '"properties":' + inner + "}"
    ).encode()


def typical_payload(i: int) -> bytes:
    return json.dumps({
        "type": "track", "event": "Order Completed", "userId": f"user-{i % 97}",
        "messageId": f"msg-{i:012d}", "timestamp": "2024-05-01T12:34:56.789Z",
        "properties": {"orderId": f"order-{i}", "revenue": 10 + i * 0.25, "currency": "USD"},
        "context": {"library": {"name": "analytics.js", "version": "4.1.0"}},
    }, separators=(",", ":")).encode()


def run_step(step: str, keys: int, depth: int, others: int, out: Any) -> None:
    """In a child process: build the input, then time one step and report its peak RSS."""
    import resource

    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.segment import parse_event

    raw = deep_payload(depth) if step == "filter_deep" else huge_payload(keys)
    buffer = EventBuffer(max_bytes=1 << 30)
    for i in range(others):
        buffer.append(parse_event(typical_payload(i), "bench", 0.0))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu = time.perf_counter(), time.process_time()
    detail = ""
    if step == "parse":
        event = parse_event(raw, "bench", 0.0)
        detail = f"valid={event.valid} violations={event.violations_view()[:2]}"
    else:
        buffer.append(parse_event(raw, "bench", 0.0))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start, cpu = time.perf_counter(), time.process_time()
        if step == "frame":
            frame = buffer.to_pandas()
            detail = f"{frame.shape[1]:,} columns, attrs={dict(frame.attrs) or '{}'}"
        elif step == "filter_field":
            found = buffer.filter("properties.key0000007:7")
            detail = f"{len(found)} matched"
        elif step == "filter_text":
            found = buffer.filter("key0999999")
            detail = f"{len(found)} matched"
        elif step == "filter_deep":
            found = buffer.filter("properties.n.n.n.n.n.n.n.n.n.n:*")
            detail = f"{len(found)} matched"
        elif step == "query":
            frame = buffer.query("userId:u1")
            detail = f"{frame.shape[1]:,} columns"
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.send((seconds, cpu, before / 1024, peak / 1024, detail))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--depth", type=int, default=300)
    parser.add_argument("--others", type=int, default=100, help="typical events buffered too")
    parser.add_argument("--what", default="all", help="a step name, or all: " + ", ".join(STEPS))
    args = parser.parse_args(argv)
    steps = STEPS if args.what == "all" else tuple(args.what.split(","))
    size = len(huge_payload(args.keys))
    print(f"### One event with {args.keys:,} properties ({size / 1e6:.1f} MB) + {args.others} "
          f"typical events; deep case {args.depth} levels\n")
    import segment_debugger

    print(f"code: {Path(segment_debugger.__file__).parent.parent}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (compare wall times in one run)\n")
    print("| step | seconds | CPU s | RSS before (MB) | peak RSS (MB) | result |")
    print("|---|---:|---:|---:|---:|---|")
    ctx = mp.get_context("fork")
    results: dict[str, tuple[float, float, float, float, str]] = {}
    for step in steps:
        mine, theirs = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=run_step, args=(step, args.keys, args.depth, args.others, theirs))
        proc.start()
        seconds, cpu, before, peak, detail = results[step] = mine.recv()
        proc.join()
        print(f"| {step} | {seconds:.3f} | {cpu:.3f} | {before:,.0f} | {peak:,.0f} | "
              f"{detail[:90]} |")
    print()
    figures = [f"{step} {seconds:.2f} s (peak RSS {peak:,.0f} MB)"
               for step, (seconds, _cpu, _before, peak, _detail) in results.items()]
    print(f"One event with {args.keys:,} properties among {args.others} typical: "
          + "; ".join(figures))
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
