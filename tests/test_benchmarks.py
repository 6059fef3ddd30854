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
