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


class _SlowToStop(ScriptedSource):
    """A source whose session, once stopped, takes a while to notice (until ``release``)."""

    def __init__(self) -> None:
        super().__init__([])
        self.release = threading.Event()

    def _session(self, stop: threading.Event) -> None:
        self._went_live("reading")
        stop.wait()
        self.release.wait(10)


def test_ctrl_c_in_stop_leaves_the_source_running_until_its_thread_ends() -> None:
    """Ctrl-C while stop() waits: the thread still counts, and the next stop() waits for it.

    On Python 3.11 an interrupted ``Thread.join()`` marks the thread stopped while it still
    runs; a source trusting it said it was not running and a second ``stop()`` returned at
    once, so a ``start()`` then ran two readers on one buffer.
    """
    import signal
    import sys

    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    src = _SlowToStop().start()
    wait_until(lambda: src.status.state == "live")
    main = threading.main_thread()

    def in_stop() -> bool:
        frame = sys._current_frames().get(main.ident or 0)
        while frame is not None:
            if frame.f_code is base.ThreadedSource.stop.__code__:
                return True
            frame = frame.f_back
        return False

    def interrupt() -> None:
        wait_until(in_stop, what="the main thread waiting in stop()")
        signal.pthread_kill(main.ident or 0, signal.SIGINT)

    helper = threading.Thread(target=interrupt)
    helper.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            src.stop(timeout=10)
        helper.join(10)
        readers = [t for t in threading.enumerate() if t.name == ScriptedSource.thread_name]
        assert readers, "the reader should still be running: its session has not returned"
        assert src.running  # it is: a start() now must not add a second reader
        assert src.start() is src and len(
            [t for t in threading.enumerate() if t.name == ScriptedSource.thread_name]
        ) == 1
        threading.Timer(0.2, src.release.set).start()
        src.stop(timeout=10)  # waits for the thread this time
        assert not src.running
        assert not [t for t in threading.enumerate() if t.name == ScriptedSource.thread_name]
    finally:
        src.release.set()
        helper.join(10)
        src.stop(timeout=10)
