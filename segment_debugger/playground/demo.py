"""``demo()``: a live debugger on a fake Segment stream, with zero set-up.

:func:`start_demo` starts an :class:`~.server.EmbeddedRedis` (unless given a URL), a
:class:`~.publisher.Publisher` of the fake stream (to a pub/sub channel, or with
``stream=True`` to a Redis stream) and a :class:`~segment_debugger.widget.SegmentDebugger` on
it, and returns them as a :class:`Demo`.
The debugger owns the other two through its public ``on_close`` hook: ``dbg.close()`` stops the
publisher, then the server. :func:`demo` (``segment_debugger.demo``) returns just the debugger.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from segment_debugger.io.publish import target
from segment_debugger.playground.procs import forget_at_exit, stop_at_exit
from segment_debugger.playground.publisher import Publisher
from segment_debugger.playground.server import EmbeddedRedis
from segment_debugger.sources.url import DEFAULT_CHANNEL

if TYPE_CHECKING:
    from segment_debugger.widget.widget import SegmentDebugger

log = logging.getLogger(__name__)

#: About how many entries a demo stream keeps (``XADD MAXLEN ~``): the demo runs for hours.
DEMO_STREAM_MAXLEN = 10_000


@dataclass(frozen=True, eq=False)
class Demo:
    """What :func:`start_demo` started: the debugger, the publisher and the embedded server.

    ``server`` is None when the demo was given a ``url``. ``stop()`` (or
    ``debugger.close()``) stops the publisher and the server after the debugger; so does
    interpreter exit.
    """

    debugger: SegmentDebugger
    publisher: Publisher
    server: EmbeddedRedis | None

    @property
    def url(self) -> str:
        """The Redis URL the demo publishes to and listens on."""
        return self.publisher.url

    def stop(self) -> None:
        """Close the debugger, then stop the publisher and the server (idempotent)."""
        try:
            self.debugger.close()  # runs the on_close callbacks registered by start_demo
        except Exception:  # at exit the comm may already be gone; Redis must stop anyway
            log.exception("could not close the demo debugger")
        self.publisher.stop()
        if self.server is not None:
            self.server.stop()
        forget_at_exit(self)


def start_demo(
    rate: float = 100.0,
    invalid_fraction: float = 0.02,
    channel: str = DEFAULT_CHANNEL,
    *,
    url: str | None = None,
    seed: int | None = None,
    stream: bool = False,
    maxlen: int | None = DEMO_STREAM_MAXLEN,
    **widget_kwargs: Any,
) -> Demo:
    """Start a live debugger on a fake Segment stream; return it with what feeds it.

    Without ``url`` an :class:`EmbeddedRedis` is started (a redis-server on PATH, else
    fakeredis); with ``url`` that Redis is used as it is. A background thread publishes the fake
    stream to ``channel`` at ``rate`` events/s, ``invalid_fraction`` of them invalid.

    With ``stream=True`` the events go to the Redis stream named ``channel`` instead (XADD,
    trimmed to about ``maxlen`` entries; None: never trimmed) and the debugger reads it with a
    :class:`~segment_debugger.sources.streams.StreamSource` (pass ``start="0"`` to read what
    the stream already holds). ``widget_kwargs`` go to
    :class:`~segment_debugger.widget.SegmentDebugger`.
    """
    from segment_debugger.widget.widget import SegmentDebugger

    destination = target(channel, stream=stream, maxlen=maxlen if stream else None)
    server = EmbeddedRedis().start() if url is None else None
    where = server.url if server is not None else str(url)
    reads: dict[str, Any] = {"streams": [channel]} if stream else {"channels": [channel]}
    try:
        dbg = SegmentDebugger(url=where, **reads, **widget_kwargs)
    except BaseException:
        if server is not None:
            server.stop()
        raise
    publisher = Publisher(
        where, destination, rate=rate, invalid_fraction=invalid_fraction, seed=seed
    ).start()
    started = Demo(dbg, publisher, server)
    # on_close runs callbacks newest first, after the debugger's threads stopped.
    if server is not None:
        dbg.on_close(server.stop)
    dbg.on_close(publisher.stop)
    dbg.on_close(lambda: forget_at_exit(started))
    stop_at_exit(started)
    return started


def demo(*args: Any, **kwargs: Any) -> SegmentDebugger:
    """Return a live SegmentDebugger on a fake Segment stream, with zero set-up.

    Takes :func:`start_demo`'s arguments (``rate``, ``invalid_fraction``, ``channel``, ``url``,
    ``seed``, ``stream``, ``maxlen``, then SegmentDebugger's keyword arguments). The debugger's
    ``close()`` also stops the publisher and the embedded server; so does interpreter exit.
    Use :func:`start_demo` to reach the publisher and the server as well.
    """
    return start_demo(*args, **kwargs).debugger


# help(demo) and notebook tooltips show start_demo's parameters, written once.
demo.__signature__ = inspect.signature(start_demo).replace(  # type: ignore[attr-defined]
    return_annotation="SegmentDebugger"
)
