"""Run every benchmark and print one table of their figures (``make bench``).

    python benchmarks/run_all.py [--quick]

Each benchmark runs as its own process (so one's memory or threads never colour another's),
with its full output saved under ``benchmarks/results/`` and its last line — each benchmark
prints its figure last — collected into one markdown table, printed last with the machine.
``--quick`` passes smaller sizes where a benchmark takes them. Benchmarks are not tests: this
always exits 0, and a benchmark that fails is reported as such in the table.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest import machine  # noqa: E402

#: (script, full arguments, --quick arguments, what it compares)
BENCHMARKS: list[tuple[str, list[str], list[str], str]] = [
    ("parse.py", [], [], "parse_event vs orjson.loads"),
    ("ingest.py", [], ["--events", "50000", "--repeat", "1"], "pub/sub ingest vs bare loop"),
    ("people_ingest.py", [], ["--events", "50000", "--repeat", "1"],
     "pub/sub ingest with people, schemas, a plan from traffic"),
    ("streams_ingest.py", [], ["--events", "50000", "--repeat", "1"],
     "Streams ingest vs bare XREAD loop"),
    ("cluster_ingest.py", [], ["--events", "50000", "--repeat", "1"],
     "sharded pub/sub (3 shards) vs one node"),
    ("sweep.py", ["--duration", "60"], ["--duration", "5"], "no-gap rate sweep"),
    ("pandas_frames.py", [], ["--big", "100000", "--repeat", "3"], "to_pandas vs json_normalize"),
    ("filter.py", [], [], "filter over 10k events"),
    ("suggest.py", [], ["--repeat", "3"], "filter-box suggestions vs a filter pass"),
    ("hostile.py", [], [], "hostile payloads (1M properties)"),
    ("export.py", [], ["--quick"], "Parquet/NDJSON export vs to_pandas().to_parquet()"),
    ("latency.py", [], ["--quick"], "PUBLISH -> row visible (Voila + Chromium)"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    out_dir = HERE / "results"
    out_dir.mkdir(exist_ok=True)
    rows = []
    for script, full, quick, what in BENCHMARKS:
        path = HERE / script
        if not path.is_file():
            rows.append((script, what, "not present", 0.0))
            continue
        started = time.monotonic()
        print(f"running {script}...", file=sys.stderr, flush=True)
        proc = subprocess.run(
            [sys.executable, str(path), *(quick if args.quick else full)],
            capture_output=True, text=True, check=False,
        )
        took = time.monotonic() - started
        (out_dir / f"{path.stem}.md").write_text(proc.stdout + "\n<!-- stderr -->\n" +
                                                 proc.stderr)
        lines = [line for line in proc.stdout.strip().splitlines() if line.strip()]
        figure = lines[-1] if lines else f"no output (exit {proc.returncode})"
        if "benchmark failed" in proc.stderr:
            figure = "failed: " + proc.stderr.strip().splitlines()[-1]
        rows.append((script, what, figure, took))
    print("\n### Benchmarks (`make bench`)\n")
    print("| benchmark | compares | figure | s |")
    print("|---|---|---|---:|")
    for script, what, figure, took in rows:
        print(f"| `{script}` | {what} | {figure.replace('|', '/')} | {took:.0f} |")
    print("\nFull outputs: benchmarks/results/. Machine:\n" + "\n".join(machine()))
    return 0


if __name__ == "__main__":
    try:
        main()
    except Exception as exc:  # a benchmark reports, it does not fail the caller
        print(f"benchmarks failed: {exc!r}", file=sys.stderr)
    sys.exit(0)
