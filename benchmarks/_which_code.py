"""Which code a benchmark measures: the tree ``PYTHONPATH`` names, else this checkout.

Call :func:`use_checkout` before importing ``segment_debugger``: it puts this checkout first
on ``sys.path`` only when ``PYTHONPATH`` is unset or empty, so ``PYTHONPATH=<a git worktree>``
measures that tree's code (a plain insert would hide it, and "old" and "new" runs would
measure the same tree). :func:`code_line` names the code that ran, for the header.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""This checkout (the parent of ``benchmarks/``)."""


def use_checkout() -> None:
    """Put this checkout first on ``sys.path`` unless ``PYTHONPATH`` names the code to run."""
    if not os.environ.get("PYTHONPATH") and str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def code_line() -> str:
    """Return ``code: <the tree segment_debugger was imported from>`` for a header."""
    import segment_debugger

    return f"code: {Path(segment_debugger.__file__).resolve().parent.parent}"
