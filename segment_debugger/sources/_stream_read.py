"""A StreamSource's counted read, sent ahead: MULTI, XINFO STREAM per stream, XREAD, EXEC.

The read and each stream's XINFO go in one transaction (so the trim count is exact, see
``StreamSource._account_trimming``), packed into one write on a connection of its own. Sending
and taking the reply are separate steps, so the read loop can send the next read as soon as a
reply has arrived and parse that reply while the server prepares the next one: the wait for
the server overlaps the parsing instead of adding to it.

Replies are taken as hiredis parsed them (no redis-py callbacks): EXEC's is a list holding
each XINFO's reply (a map, or RESP2's flat list) then XREAD's; a command that failed at run
time is an exception instance in it. An error reply outside EXEC (a command refused while
queued, MOVED on a cluster) is raised, and the connection dropped (replies may be half read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import redis

from segment_debugger.sources._redispy import read_reply, send_commands

__all__ = ["CountedRead"]


class CountedRead:
    """Counted reads (and blocking waits) on one connection of ``pool``, a reply at a time.

    At most one request is in flight. :meth:`close` gives the connection back to the pool,
    or drops it when a reply is still unread.
    """

    def __init__(self, pool: redis.ConnectionPool) -> None:
        self._pool = pool
        self._connection: Any = None  # redis-py leaves Connection's methods untyped
        self._replies = 0  # replies still to read for the request in flight

    @property
    def in_flight(self) -> bool:
        """Whether a request was sent whose reply has not been taken."""
        return self._replies > 0

    def send(
        self, names: Sequence[str], ids: Mapping[Any, Any], count: int
    ) -> None:
        """Send the counted read of ``names`` after ``ids`` (stream key -> last id read)."""
        commands: list[tuple[Any, ...]] = [("MULTI",)]
        commands.extend(("XINFO", "STREAM", name) for name in names)
        commands.append(("XREAD", "COUNT", count, "STREAMS", *ids, *ids.values()))
        commands.append(("EXEC",))
        self._send(commands)

    def take(self) -> list[Any]:
        """Return EXEC's reply to the read in flight: each XINFO's reply, then XREAD's."""
        result = self._read()
        if not isinstance(result, list):
            raise redis.ResponseError(f"EXEC answered {result!r} instead of the read's replies")
        return result

    def wait(self, command: Sequence[Any]) -> Any:
        """Send a blocking read (``XREAD ... BLOCK``) and return its reply, as parsed."""
        self._send([tuple(command)])
        return self._read()

    def close(self) -> None:
        """Give the connection back (dropped first when a reply is unread). Idempotent."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._replies:
            self._replies = 0
            connection.disconnect()
        self._pool.release(connection)

    def _send(self, commands: list[tuple[Any, ...]]) -> None:
        if self._replies:
            raise RuntimeError("CountedRead: a reply is still unread")
        if self._connection is None:
            self._connection = self._pool.get_connection()
        connection = self._connection
        try:
            send_commands(connection, commands)
        except BaseException:
            self._replies = 1  # unknown: what was written may be answered
            self.close()
            raise
        self._replies = len(commands)

    def _read(self) -> Any:
        connection = self._connection
        if connection is None or not self._replies:
            raise RuntimeError("CountedRead: no request in flight")
        try:
            while self._replies > 1:
                read_reply(connection)  # OK, QUEUED...
                self._replies -= 1
            result = read_reply(connection)
        except BaseException:
            self.close()
            raise
        self._replies = 0
        return result
