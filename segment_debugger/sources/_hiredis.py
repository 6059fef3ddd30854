"""redis-py internals, isolated: the hiredis reader behind a connection, when there is one.

Draining replies that hiredis already parsed into memory (``reader.gets()``) avoids a
``get_message`` round trip per message, which is most of the read loop's cost at high rates.
These names are private to redis-py and may move in a release: everything that touches them is
here, and every caller has a fallback for ``None``.
"""

from __future__ import annotations

from typing import Any

try:
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
    from redis._parsers.hiredis import _HiredisParser
except ImportError:  # pragma: no cover - redis-py without this module layout
    _HiredisParser = None  # type: ignore[assignment,misc]
    _NOT_ENOUGH_DATA = object()

#: What ``reader.gets()`` returns when no complete reply is buffered.
NOT_ENOUGH_DATA: Any = _NOT_ENOUGH_DATA


def buffered_reader(connection: Any) -> Any | None:
    """Return the hiredis reader holding ``connection``'s received bytes, or None.

    None when hiredis is not installed, not used by this connection, or redis-py changed.
    """
    if _HiredisParser is None:
        return None
    parser = getattr(connection, "_parser", None)
    if not isinstance(parser, _HiredisParser):
        return None
    return getattr(parser, "_reader", None)
