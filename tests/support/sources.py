"""A scripted source for tests of the source base and of the widget: no Redis needed."""

from __future__ import annotations

import threading

import redis

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.segment import parse_event
from segment_debugger.sources.base import ThreadedSource

SECRET = "base-secret-pw"


class ScriptedSource(ThreadedSource):
    """A source whose sessions follow a script: 'fail' raises ConnectionError, 'live' reads."""

    def __init__(self, script: list[str], buffer: EventBuffer | None = None) -> None:
        super().__init__(f"redis://u:{SECRET}@127.0.0.1:1/0", buffer)
        self.script = list(script)
        self.sessions = 0
        self.closed = 0
        self.finished = threading.Event()

    def _session(self, stop: threading.Event) -> None:
        self.sessions += 1
        step = self.script.pop(0) if self.script else "live"
        if step == "fail":
            raise redis.ConnectionError(f"refused (password {SECRET})")
        if step == "auth":
            raise redis.AuthenticationError("WRONGPASS")
        self._went_live("reading")
        self.buffer.append(parse_event(b'{"type":"track"}', "c", 1.0))
        if self.script and self.script[0] == "fail":
            self._open_gap("lost it")
            raise redis.ConnectionError("cut")
        stop.wait()

    def _close_session(self) -> None:
        self.closed += 1

    def _finish(self) -> None:
        self.finished.set()


def source_threads() -> list[threading.Thread]:
    """The RedisSource reader threads alive now (a test must leave none behind)."""
    return [t for t in threading.enumerate() if t.name == "segment-debugger-source"]
