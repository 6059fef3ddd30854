"""Widget test fixtures without Redis: a debugger fed by hand and a comm that records it.

``offline_debugger(**kwargs)`` builds ``SegmentDebugger(url=None, autostart=False, ...)`` whose
comm is a :class:`support.frontend.FrontEnd`: it keeps what the widget publishes and sends
what a front end would. Every debugger made is closed after the test. (``test_widget.py``
has its own ``make_debugger``, on a real redis-server.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import comm
import pytest
from support.frontend import FrontEnd

from segment_debugger.widget.widget import SegmentDebugger


@pytest.fixture
def offline_debugger(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., SegmentDebugger]]:
    """Build debuggers with no source (fed by hand) and a :class:`FrontEnd` comm."""
    monkeypatch.setattr(comm, "create_comm", FrontEnd)
    made: list[SegmentDebugger] = []

    def make(**kwargs: Any) -> SegmentDebugger:
        dbg = SegmentDebugger(url=None, autostart=False, **kwargs)
        made.append(dbg)
        return dbg

    yield make
    for dbg in made:
        dbg.close()
