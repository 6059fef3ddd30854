"""ThreadedSource, the base every source builds on: tested with a scripted session, no Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from support.sources import SECRET, ScriptedSource
from support.waiting import wait_until

from segment_debugger.sources import base
from segment_debugger.sources.base import Source
from segment_debugger.sources.pubsub import RedisSource


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(base, "BACKOFF_BASE_S", 0.001)
    monkeypatch.setattr(base, "BACKOFF_CAP_S", 0.01)
    yield


def test_sources_satisfy_the_source_protocol() -> None:
    assert isinstance(RedisSource(), Source)
    assert isinstance(ScriptedSource([]), Source)


def test_failures_retry_until_live_and_the_secret_never_shows() -> None:
    src = ScriptedSource(["fail", "fail", "live"])
    states: list[str] = []
    with src:
        wait_until(lambda: src.status.state == "live")
        states.append(src.status.state)
    assert src.sessions == 3
    assert src.closed == 3  # every session is closed, the failed ones too
    assert src.finished.is_set()
    assert src.status.state == "stopped"
    assert src.buffer.stats["gaps"] == 0  # never live before: nothing could be lost
    assert SECRET not in repr(src.status) and SECRET not in src.url


def test_a_lost_connection_after_going_live_records_one_gap() -> None:
    src = ScriptedSource(["live", "fail", "live"])
    with src:
        wait_until(lambda: src.sessions >= 3 and src.status.state == "live")
    gaps = src.buffer.gaps
    assert len(gaps) == 1
    assert gaps[0].reason == "lost it"
    assert gaps[0].after_seq == 1


def test_authentication_failure_is_an_error_state_that_says_what_to_do() -> None:
    src = ScriptedSource(["auth"] * 1000)
    with src:
        wait_until(lambda: src.status.state == "error")
        assert "check the URL's credentials" in src.status.reason


def test_start_and_stop_are_idempotent() -> None:
    src = ScriptedSource([])
    src.stop()
    assert src.start() is src.start()
    wait_until(lambda: src.status.state == "live")
    src.stop()
    src.stop()
    assert not src.running
    assert not [t for t in threading.enumerate() if t.name == ScriptedSource.thread_name]
