"""Every playground test must stop the threads it started."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.leftovers import our_threads


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Fail a test that leaves a debugger, publisher or fakeredis thread running."""
    yield
    assert our_threads() == [], "threads still running after the test"
