"""What every ``segment-debugger`` subcommand shares: the usage error and signal handling."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Exit code for usage errors and an unreachable Redis.
EXIT_USAGE = 2


class CommandError(Exception):
    """A problem the user can fix; the message says what was wrong and what to do.

    :func:`segment_debugger.cli.main` prints it after the subcommand's name and exits with
    :data:`EXIT_USAGE`.
    """


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into ``stop.set()`` while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
