"""Export benchmark: 1,000,000 buffered events to Parquet and NDJSON, against pandas.

    python benchmarks/export.py [--events N] [--quick]

Realistic fake-stream events (~730 bytes each) are generated once into a temporary file; every
measurement then runs in a fresh child process that parses them into an ``EventBuffer`` (with
``max_messages`` = N) and times one export. Memory is the step's own: the child's RSS sampled
every 5 ms while the step runs, less its RSS just before (the buffer itself is not counted).

Compared in the same run:

- ``buf.export("x.parquet")`` (Arrow columns built without pandas, payloads copied a row group
  at a time) against the baseline ``buf.to_pandas().to_parquet("y.parquet")``; goal: faster and
  less memory.
- ``buf.export("x.ndjson")``: MB/s of payload written; goal: at least 200 MB/s.

A benchmark, not a test: prints a markdown table, the figure last, and always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("PYTHONPATH"):  # PYTHONPATH=<a worktree> measures that code instead
    sys.path.insert(0, str(ROOT))

STEPS: dict[str, str] = {
    "parquet": '`buf.export("x.parquet")`',
    "pandas_parquet": '`buf.to_pandas().to_parquet("x.parquet")` (baseline)',
    "ndjson": '`buf.export("x.ndjson")`',
    "ndjson_gz": '`buf.export("x.ndjson.gz")`',
    "to_arrow": "`buf.to_arrow()`",
    "pandas_arrow": "`pa.Table.from_pandas(buf.to_pandas())` (baseline)",
}


def _rss() -> int:
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(step: str, payloads: str, events: int, out_dir: str) -> dict[str, object]:
    """Build the buffer from the payload file, then time ``step``; return its figures."""
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.segment import parse_event

    buf = EventBuffer(max_messages=events, max_bytes=1 << 40)
    now = time.time()
    with open(payloads, "rb") as file:
        batch = []
        for i, line in enumerate(file):
            batch.append(parse_event(line[:-1], "events", now + i * 1e-4))
            if len(batch) == 10_000:
                buf.extend(batch)
                batch = []
        buf.extend(batch)
    del batch
    # what every step imports, imported first: the step's memory is its work, not its imports
    import pandas  # noqa: F401
    import pyarrow.parquet

    import segment_debugger.io  # noqa: F401

    size = sum(e.size for e in buf.snapshot())
    before = _rss()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    target = Path(out_dir) / f"{step}"
    start = time.perf_counter()
    if step == "parquet":
        buf.export(target.with_suffix(".parquet"))
    elif step == "pandas_parquet":
        buf.to_pandas().to_parquet(target.with_suffix(".parquet"))
    elif step == "ndjson":
        buf.export(target.with_suffix(".ndjson"))
    elif step == "ndjson_gz":
        buf.export(target.with_suffix(".ndjson.gz"))
    elif step == "to_arrow":
        table = buf.to_arrow()
        del table
    elif step == "pandas_arrow":
        import pyarrow as pa

        table = pa.Table.from_pandas(buf.to_pandas())
        del table
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    peak[0] = max(peak[0], _rss())
    written = sum(p.stat().st_size for p in Path(out_dir).glob(f"{step}.*"))
    return {"seconds": seconds, "extra_mb": (peak[0] - before) / 2**20,
            "buffer_mb": before / 2**20, "payload_mb": size / 2**20, "file_mb": written / 2**20,
            "events": len(buf)}


def generate(path: Path, events: int) -> None:
    from segment_debugger.playground.fake import FakeEventStream

    fake = FakeEventStream(seed=12)
    with open(path, "wb") as file:
        for _ in range(events):
            file.write(fake.payload() + b"\n")


def run(step: str, payloads: Path, events: int, out_dir: str) -> dict[str, object] | str:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", step, "--payloads", str(payloads),
         "--events", str(events), "--out", out_dir],
        capture_output=True, text=True, check=False,
    )
    for p in Path(out_dir).glob(f"{step}.*"):
        p.unlink()
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1][:120]
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 events")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--payloads", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.payloads, args.events, args.out)))
        return 0
    events = 100_000 if args.quick else args.events
    with tempfile.TemporaryDirectory(prefix="sd-export-bench-") as tmp:
        payloads = Path(tmp) / "payloads.ndjson"
        print(f"generating {events:,} fake events...", file=sys.stderr, flush=True)
        generate(payloads, events)
        results: dict[str, dict[str, object] | str] = {}
        for step in STEPS:
            print(f"running {step}...", file=sys.stderr, flush=True)
            results[step] = run(step, payloads, events, tmp)
    import segment_debugger

    print(f"### Export of {events:,} buffered events (`EventBuffer(max_messages={events:_})`)\n")
    print(f"code: {Path(segment_debugger.__file__).parent.parent}\n")
    print("| step | seconds | extra peak RSS (MB) | file (MB) | payload MB/s |")
    print("|---|---:|---:|---:|---:|")
    for step, label in STEPS.items():
        r = results[step]
        if isinstance(r, str):
            print(f"| {label} | failed: {r} | | | |")
            continue
        seconds, extra = float(r["seconds"]), float(r["extra_mb"])  # type: ignore[arg-type]
        file_mb, payload_mb = float(r["file_mb"]), float(r["payload_mb"])  # type: ignore[arg-type]
        print(f"| {label} | {seconds:.2f} | {extra:,.0f} | {file_mb:,.0f} | "
              f"{payload_mb / seconds:,.0f} |")
    ours, base, nd = results["parquet"], results["pandas_parquet"], results["ndjson"]
    print()
    if isinstance(ours, dict) and isinstance(base, dict):
        first = next(r for r in results.values() if isinstance(r, dict))
        print(f"Buffer before each step: ~{float(first['buffer_mb']):,.0f} MB RSS "  # type: ignore[arg-type]
              f"({float(first['payload_mb']):,.0f} MB of payloads).")
        speed = float(base["seconds"]) / float(ours["seconds"])  # type: ignore[arg-type]
        memory = float(base["extra_mb"]) / max(float(ours["extra_mb"]), 1.0)  # type: ignore[arg-type]
        ndjson = (float(nd["payload_mb"]) / float(nd["seconds"])  # type: ignore[arg-type]
                  if isinstance(nd, dict) else float("nan"))
        print(f"NDJSON export: {ndjson:,.0f} MB/s (goal >= 200).")
        print(f"Parquet export vs to_pandas().to_parquet(): {speed:.2f}x faster, "
              f"{memory:.2f}x less extra memory")
    else:
        print("Parquet export vs to_pandas().to_parquet(): not measured (a step failed)")
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark, not a test: report and exit 0
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
