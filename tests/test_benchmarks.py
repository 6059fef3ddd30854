"""``make bench`` / ``make bench-quick`` hand each benchmark only options it accepts.

Benchmarks are not tests; this only checks their wiring, cheaply: every option ``run_all.py``
passes (full and ``--quick``) appears in that script's ``--help``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from run_all import BENCHMARKS as RUNS  # noqa: E402


@pytest.mark.parametrize("script, full, quick", [(s, f, q) for s, f, q, _ in RUNS],
                         ids=[s for s, *_ in RUNS])
def test_run_all_passes_options_the_benchmark_accepts(
    script: str, full: list[str], quick: list[str]
) -> None:
    assert (BENCHMARKS / script).is_file()
    options = {arg for arg in full + quick if arg.startswith("--")}
    if not options:
        return
    help_text = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    missing = sorted(o for o in options if o not in help_text.split())
    assert missing == [], f"{script} --help does not offer {missing}"


def test_the_sweep_stamps_typical_events_not_clock_warnings() -> None:
    """The sweep publishes the fake stream's events with their dates set to the publish time:
    every one of them must still be a typical event (valid, no warning). Its dates once
    disagreed (a new timestamp, old sentAt/receivedAt): every event carried clock warnings,
    which cost the debugger 2 µs each and made it look slower than on real traffic."""
    import time

    import sweep

    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.core.segment import parse_event
    from segment_debugger.playground.fake import FakeEventStream

    stream = FakeEventStream(seed=3)
    payloads = [stream.payload() for _ in range(500)]
    parts = sweep.split_at_timestamp(payloads)
    assert len(parts) == len(payloads)
    now_ms = int(time.time() * 1000)
    buffer = EventBuffer()
    for before, after in parts:
        command = before + sweep.stamp(now_ms) + after
        payload = command[command.index(b"{"):-2]  # the PUBLISH command's last bulk string
        buffer.append(parse_event(payload, "sweep", now_ms / 1000 + 0.002))
    stats = buffer.stats
    assert stats["received"] == 500 and stats["warnings"] == 0
    assert stats["invalid"] == sum(not parse_event(p, "c", time.time()).valid for p in payloads)
