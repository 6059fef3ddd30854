"""DataFrame benchmark: EventBuffer.to_pandas() vs pd.json_normalize, and a million events.

    python benchmarks/pandas_frames.py [--events N] [--big M] [--repeat R] [--no-python-big]

Typical events: ``FakeEventStream(seed=1).payload()`` (~730 bytes), parsed by ``parse_event``
into an ``EventBuffer``. Two measurements:

- N events (default 10,000): ``to_pandas()`` (a first call: ``events_to_frame`` of the snapshot,
  no cache), ``to_pandas()`` again on a full buffer after 100 new events (100 evicted: the
  buffer's cache of Arrow reads in use) and on an unchanged buffer, against
  ``pd.json_normalize([orjson.loads(raw) for each event])`` (the obvious baseline: parse every
  payload, let pandas flatten it), and
  against frame.py's own Python path (what ``to_pandas()`` did before it read payloads through
  pyarrow: forced here by raising ``_frame_arrow._ARROW_MIN_ROWS``). Same events, same process,
  interleaved, R repetitions: best and median wall time; ratios are baseline / ``to_pandas``
  per repetition, median.
- M events (default 1,000,000; ``max_messages=M``, ``max_bytes`` raised): each measurement in a
  fresh child process that builds its own buffer, then times one ``to_pandas()``; its peak
  extra memory is the rise of the child's peak RSS (VmHWM, reset just before through
  ``/proc/self/clear_refs``; a 5 ms RSS sampler where that is not allowed) over its RSS before
  the call, compared with the frame's own size (``df.memory_usage(deep=True).sum()``). The
  payloads are 100,000 generated ones repeated, each event holding its own copy of the bytes.

A benchmark, not a test: prints a markdown table, the machine, and the headline figure last;
always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from _which_code import code_line, use_checkout

use_checkout()  # this checkout's code unless PYTHONPATH names another tree

from segment_debugger.core import _frame_arrow as frame_module  # noqa: E402
from segment_debugger.core.buffer import EventBuffer  # noqa: E402
from segment_debugger.core.frame import events_to_frame  # noqa: E402
from segment_debugger.core.segment import parse_event  # noqa: E402
from segment_debugger.playground.fake import FakeEventStream  # noqa: E402

POOL = 100_000  # distinct payloads generated for the big run (generation costs ~28 µs each)
CHILD_TIMEOUT_S = 600


def payloads(n: int, seed: int) -> list[bytes]:
    stream = FakeEventStream(seed=seed)
    pool = [stream.payload() for _ in range(min(n, POOL))]
    # bytes(memoryview) copies: every event owns its payload, as if received from Redis
    return [bytes(memoryview(pool[i % len(pool)])) for i in range(n)]


def fill(raws: list[bytes]) -> EventBuffer:
    buffer = EventBuffer(max_messages=max(len(raws), 1), max_bytes=1 << 40)
    buffer.extend(parse_event(raw, "events", 1_700_000_000.0 + i / 1000)
                  for i, raw in enumerate(raws))
    return buffer


def python_path(buffer: EventBuffer) -> pd.DataFrame:
    """to_pandas() through frame.py's Python path only (the implementation before Arrow)."""
    saved = frame_module._ARROW_MIN_ROWS
    frame_module._ARROW_MIN_ROWS = sys.maxsize
    try:
        return buffer.to_pandas()
    finally:
        frame_module._ARROW_MIN_ROWS = saved


def timed(fn: Any) -> tuple[float, float]:
    """Return the wall time and the process CPU time (every thread, Arrow's included) of fn()."""
    start = time.perf_counter()
    cpu = time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


# ---- N events: in this process --------------------------------------------------------------


def small(n: int, repeat: int, seed: int) -> dict[str, Any]:
    raws = payloads(n, seed)
    buffer = fill(raws)
    events = buffer.snapshot()
    frame = buffer.to_pandas()
    normalized = pd.json_normalize([orjson.loads(e.raw) for e in events])
    same = frame.equals(python_path(buffer)) and all(
        a == b for a, b in zip(frame.dtypes, python_path(buffer).dtypes, strict=True)
    )
    live = fill(raws)  # a full buffer that keeps receiving: 100 new events, 100 evicted
    live.to_pandas()
    more = iter(payloads(n + 100 * 4 * repeat, seed + 1)[n:])

    def live_call() -> pd.DataFrame:
        live.extend(parse_event(next(more), "events", time.time()) for _ in range(100))
        return live.to_pandas()

    contenders = {
        "to_pandas()": lambda: events_to_frame(events),
        "to_pandas() again, +100 events": live_call,
        "to_pandas() again, unchanged": buffer.to_pandas,
        "Python path (before)": lambda: python_path(buffer),
        "json_normalize(orjson.loads)": lambda: pd.json_normalize(
            [orjson.loads(e.raw) for e in events]
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for rep in range(repeat):
        names = list(contenders)
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            wall, used = timed(contenders[name])
            times[name].append(wall)
            cpu[name].append(used)
    return {
        "n": n,
        "mean_size": sum(map(len, raws)) / n,
        "columns": frame.shape[1],
        "normalize_columns": normalized.shape[1],
        "same": same,
        "times": times,
        "cpu": cpu,
    }


# ---- M events: one child process per measurement --------------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(m: int, seed: int, python: bool, out: Any) -> None:
    try:
        buffer = fill(payloads(m, seed))
        gc.collect()
        before = _rss_kib("VmRSS")
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            sampler = None
        except OSError:
            sampler = _Sampler()
        start = time.perf_counter()
        frame = python_path(buffer) if python else buffer.to_pandas()
        seconds = time.perf_counter() - start
        peak = sampler.stop() if sampler else _rss_kib("VmHWM")
        out.send({
            "events": len(frame),
            "seconds": seconds,
            "extra": (peak - before) * 1024,
            "frame": int(frame.memory_usage(deep=True).sum()),
            "columns": frame.shape[1],
        })
    except BaseException as exc:  # report it to the parent, which prints it
        out.send({"error": repr(exc)})


class _Sampler:
    def __init__(self) -> None:
        self.peak = _rss_kib("VmRSS")
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.005):
            self.peak = max(self.peak, _rss_kib("VmRSS"))

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return max(self.peak, _rss_kib("VmRSS"))


def big(m: int, seed: int, python: bool) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=child, args=(m, seed, python, send), daemon=True)
    proc.start()
    send.close()
    try:
        if not receive.poll(CHILD_TIMEOUT_S):
            return {"error": f"no answer in {CHILD_TIMEOUT_S} s"}
        result: dict[str, Any] = receive.recv()
        return result
    except EOFError:
        return {"error": f"child died (exit code {proc.exitcode})"}
    finally:
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()


# ---- report ---------------------------------------------------------------------------------


def machine() -> list[str]:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import pyarrow

        arrow = pyarrow.__version__
    except ImportError:
        arrow = "absent"
    return [
        f"- CPU: {model}, {os.cpu_count()} cores",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
        f"- pandas {pd.__version__}, numpy {np.__version__}, pyarrow {arrow}, orjson "
        f"{orjson.__version__}",
    ]


def load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="events for the first table")
    parser.add_argument("--big", type=int, default=1_000_000, help="events for the big run")
    parser.add_argument("--repeat", type=int, default=7, help="repetitions (N events)")
    parser.add_argument("--no-python-big", action="store_true",
                        help="skip the Python path on the big run (~30 s more)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    load_start = load_average()

    print(f"{args.events:,} events in this process...", file=sys.stderr)
    s = small(args.events, args.repeat, args.seed)
    times = s["times"]
    ours = times["to_pandas()"]
    print(f"\n### to_pandas(): {s['n']:,} typical events of {s['mean_size']:.0f} bytes, "
          f"{args.repeat} interleaved repetitions\n")
    print(f"{code_line()}\n")
    print("| | best | median | baseline / to_pandas() (median) | CPU time (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, ts in times.items():
        ratio = statistics.median(t / o for t, o in zip(ts, ours, strict=True))
        print(f"| {name} | {min(ts) * 1000:.0f} ms | {statistics.median(ts) * 1000:.0f} ms "
              f"| {ratio:.2f} | {statistics.median(s['cpu'][name]) * 1000:.0f} ms |")
    print("\nCPU time: the process's, every thread included (Arrow reads on every core); on a "
          "loaded machine wall time waits for the cores, CPU time much less.")
    print(f"\nto_pandas(): {s['columns']} columns, identical (values and dtypes) to the Python "
          f"path: {s['same']}; json_normalize: {s['normalize_columns']} columns (no datetimes, "
          "no seq/received_at/valid/violations/raw).")

    runs = [("to_pandas()", False)] + ([] if args.no_python_big else [("Python path", True)])
    results: dict[str, dict[str, Any]] = {}
    for name, python in runs:
        print(f"{args.big:,} events, {name}, in a child process...", file=sys.stderr)
        results[name] = big(args.big, args.seed, python)
    print(f"\n### to_pandas(): {args.big:,} events (max_messages={args.big:,}), one child process "
          "per row\n")
    print("| | events | time | peak extra RSS | frame's own size | extra / frame |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        if "error" in r:
            print(f"| {name} | failed: {r['error']} | | | | |")
            continue
        print(f"| {name} | {r['events']:,} | {r['seconds']:.2f} s | {mib(r['extra'])} | "
              f"{mib(r['frame'])} | {r['extra'] / r['frame']:.2f} |")
    print("\nPeak extra RSS: the child's peak resident memory during the call minus its resident "
          "memory just before (the buffer already built). Frame's own size: "
          "memory_usage(deep=True), which counts each raw payload's bytes object (shared with "
          "the buffer, so not part of the extra).")
    print("\nMachine:\n" + "\n".join(machine()) + f"\n- load average (1 min) at the start: "
          f"{load_start:.1f}, at the end: {load_average():.1f}")

    normalize = statistics.median(
        t / o for t, o in zip(times["json_normalize(orjson.loads)"], ours, strict=True)
    )
    headline = (f"\nFigure: {args.events:,} events in {statistics.median(ours) * 1000:.0f} ms "
                f"(median; {normalize:.1f}x faster than json_normalize)")
    r = results.get("to_pandas()", {})
    if "error" not in r and r:
        headline += (f"; {r['events']:,} events in {r['seconds']:.1f} s, peak extra memory "
                     f"{r['extra'] / r['frame']:.2f}x the frame's size")
    print(headline)
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
