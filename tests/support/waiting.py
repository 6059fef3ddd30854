"""Poll a condition with a deadline: the one way tests wait (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, what: str = "", interval: float = 0.01
) -> T:
    """Return ``predicate()``'s first truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def count_wakes(buffer: Any) -> list[int]:
    """Record ``buffer.last_seq`` each time the buffer wakes its waiting readers (from now on)."""
    wakes: list[int] = []
    notify = buffer._grew.notify_all

    def counted() -> None:
        wakes.append(buffer.last_seq)
        notify()

    buffer._grew.notify_all = counted
    return wakes
