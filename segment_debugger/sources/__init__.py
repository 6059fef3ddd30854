"""Sources read Redis into an :class:`~segment_debugger.core.buffer.EventBuffer` from a thread.

``base`` owns what every source shares (thread, backoff, status, gaps, redaction); each other
module is one kind of source. Sources know nothing of the widget.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segment_debugger.core.buffer import EventBuffer
    from segment_debugger.sources.base import ThreadedSource


def open_source(
    url: str,
    *,
    channels: str | Iterable[str] = (),
    patterns: str | Iterable[str] = (),
    streams: str | Iterable[str] | None = None,
    start: str | datetime | timedelta = "$",
    group: str | None = None,
    buffer: EventBuffer | None = None,
) -> ThreadedSource:
    """Return the source the arguments describe (not started).

    ``streams`` (one name or several) opens a
    :class:`~segment_debugger.sources.streams.StreamSource` reading from ``start`` (optionally
    in consumer ``group``); otherwise ``channels``/``patterns`` open a
    :class:`~segment_debugger.sources.pubsub.RedisSource`. Mixing the two is a ValueError.
    """
    if streams is not None:
        names = (streams,) if isinstance(streams, str) else tuple(streams)
        if tuple((channels,) if isinstance(channels, str) else channels) or tuple(
            (patterns,) if isinstance(patterns, str) else patterns
        ):
            raise ValueError(
                "give either streams or channels/patterns: one source reads one kind"
            )
        from segment_debugger.sources.streams import StreamSource

        return StreamSource(url, names, start=start, group=group, buffer=buffer)
    if group is not None or start != "$":
        raise ValueError("start and group apply to streams: pass streams=[...] as well")
    from segment_debugger.sources.pubsub import RedisSource

    return RedisSource(url, channels=channels, patterns=patterns, buffer=buffer)
