"""One subscriber connection to one node, and the books kept on it.

:class:`_Link` wraps a redis-py ``PubSub`` (:class:`_WatchedPubSub`, which reports the
reconnects redis-py performs silently) with what the connection should hold and what the server
confirmed, and drains the replies already received in one pass. A
:class:`~segment_debugger.sources.pubsub.RedisSource` on a single server reads one link; on a
cluster, :class:`~segment_debugger.sources.pubsub_cluster.ClusterSession` reads one link per node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import redis
from redis.client import PubSub

from segment_debugger.sources import _redispy

logger = logging.getLogger(__name__)

#: (channel, payload, pattern or None) as received, before parsing.
_Raw = tuple[bytes, bytes, "bytes | None"]

#: Once a reply has started arriving, how long its remainder may take (large payloads).
READ_TIMEOUT_S = 10.0
#: Most messages parsed and buffered per ``EventBuffer.extend`` call.
MAX_BATCH = 2000


class _WatchedPubSub(PubSub):
    """A PubSub that reports the reconnects redis-py performs by itself.

    redis-py calls ``on_connect`` (to resubscribe) every time its connection reconnects, which
    happens silently inside ``get_message`` after the server dropped us. Once ``armed`` (after
    the first subscribe), every call is such a reconnect and is reported to ``on_reconnect``.
    """

    def __init__(self, pool: redis.ConnectionPool, on_reconnect: Callable[[], None]) -> None:
        # An explicit push handler: redis-py's default one formats every RESP3 push message
        # into a debug log string, whether or not debug logging is on.
        super().__init__(pool, push_handler_func=_identity)
        self.armed = False
        self._on_reconnect = on_reconnect

    def on_connect(self, connection: Any) -> None:
        if self.armed:
            self._on_reconnect()
        super().on_connect(connection)


def _identity(response: Any) -> Any:
    return response


class _Link:
    """One subscriber connection to one node: what it should hold, what the server confirmed.

    ``read`` appends the messages already received to a batch and keeps the books: the
    server's subscription counts (classic channels and patterns share one, shard channels have
    their own), and the shard channels the server unsubscribed us from because their slot
    moved to another node (``moved``, a cluster's failover or resharding).
    """

    def __init__(
        self, pool: redis.ConnectionPool, address: str, on_reconnect: Callable[[_Link], None]
    ) -> None:
        self.address = address
        """``host:port`` of the node (for statuses and gap reasons)."""
        self.channels: list[str] = []
        self.patterns: list[str] = []
        self.shard_channels: list[str] = []
        self.classic_confirmed = 0
        self.shard_confirmed = 0
        self.moved: list[str] = []
        """Shard channels the server unsubscribed us from since the caller last emptied it."""
        self.more = False
        """The last ``read`` stopped at MAX_BATCH: more replies may wait in memory."""
        self._report = on_reconnect
        self.pubsub = _WatchedPubSub(pool, self._reconnected)

    @property
    def confirmed(self) -> bool:
        """The server confirmed every subscription this link should hold."""
        return (
            self.classic_confirmed >= len(self.channels) + len(self.patterns)
            and self.shard_confirmed >= len(self.shard_channels)
        )

    @property
    def empty(self) -> bool:
        """The link should hold no subscription at all."""
        return not (self.channels or self.patterns or self.shard_channels)

    def add(
        self,
        channels: Sequence[str] = (),
        patterns: Sequence[str] = (),
        shard_channels: Sequence[str] = (),
        *,
        one_per_command: bool = False,
    ) -> None:
        """Subscribe (connecting first if needed); raise if the connection fails.

        The names count as wanted from the start, so a caller that loses the link on an
        exception gets them all back from its lists. ``one_per_command`` sends one SSUBSCRIBE
        per shard channel (on a cluster, channels of different slots in one command fail with
        CROSSSLOT).
        """
        self.channels += channels
        self.patterns += patterns
        self.shard_channels += shard_channels
        pubsub = self.pubsub
        if channels:
            pubsub.subscribe(*channels)
        if patterns:
            pubsub.psubscribe(*patterns)
        if shard_channels:
            groups = [(c,) for c in shard_channels] if one_per_command else [shard_channels]
            for group in groups:
                pubsub.ssubscribe(*group)
        pubsub.armed = True

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for a reply (or EOF) to read; True when there is one."""
        conn = self.pubsub.connection
        if conn is None:
            raise redis.ConnectionError("the pubsub connection was released")
        return bool(conn.can_read(timeout=timeout))

    def fileno(self) -> int | None:
        """Return the socket's file descriptor for polling (None: not connected)."""
        return _redispy.socket_fileno(self.pubsub.connection)

    def check_health(self) -> None:
        """Let redis-py PING the connection when it has been idle for its interval."""
        self.pubsub.check_health()

    def read(self, batch: list[_Raw]) -> None:
        """Read one reply, letting a large one take its time, then drain what is in memory."""
        message = self.pubsub.get_message(timeout=READ_TIMEOUT_S)
        if message is not None:
            self._take_message(message, batch)
        self.more = self._drain(batch)

    def close(self) -> None:
        """Close the connection (errors are logged, not raised)."""
        self.pubsub.armed = False
        try:
            self.pubsub.close()
        except (redis.RedisError, OSError) as exc:
            logger.debug("closing the pubsub connection to %s failed: %s", self.address, exc)

    def _reconnected(self) -> None:
        self.classic_confirmed = self.shard_confirmed = 0
        self._report(self)

    def _drain(self, batch: list[_Raw]) -> bool:
        """Take the replies already received and parsed into memory; True if MAX_BATCH hit."""
        reader = _redispy.buffered_reader(self.pubsub.connection)
        if reader is None:
            while len(batch) < MAX_BATCH:
                message = self.pubsub.get_message(timeout=0)
                if message is None:
                    return False
                self._take_message(message, batch)
            return True
        append = batch.append
        gets = reader.gets
        not_enough_data = _redispy.NOT_ENOUGH_DATA
        room = MAX_BATCH - len(batch)
        while room > 0:
            reply = gets()
            if reply is not_enough_data:
                return False
            room -= 1
            kind = reply[0] if isinstance(reply, list) and reply else None
            if kind == b"message":
                append((reply[1], reply[2], None))
            elif kind == b"pmessage":
                append((reply[2], reply[3], reply[1]))
            elif kind == b"smessage":
                append((reply[1], reply[2], None))
            else:
                room += 1  # not a message: takes no room in the batch
                self._take_control(reply)
        return True

    def _take_message(self, message: dict[str, Any], batch: list[_Raw]) -> None:
        kind = message["type"]
        if kind in ("message", "smessage"):
            batch.append((message["channel"], message["data"], None))
        elif kind == "pmessage":
            batch.append((message["channel"], message["data"], message["pattern"]))
        elif kind in ("subscribe", "psubscribe", "ssubscribe", "sunsubscribe"):
            self._counted(kind.encode(), message["channel"], int(message["data"]))

    def _take_control(self, reply: Any) -> None:
        """Handle a drained reply that is not a message: confirmations, PONGs, errors."""
        if isinstance(reply, Exception):
            raise reply
        pubsub = self.pubsub
        if pubsub.is_health_check_response(reply):
            pubsub.health_check_response_counter -= 1
            return
        if isinstance(reply, list) and len(reply) == 3 and isinstance(reply[2], int):
            self._counted(reply[0], reply[1], reply[2])
            return
        logger.debug("RedisSource(%s): ignored reply %.200r", self.address, reply)

    def _counted(self, kind: bytes, channel: Any, count: int) -> None:
        if kind in (b"subscribe", b"psubscribe"):
            self.classic_confirmed = count
        elif kind == b"ssubscribe":
            self.shard_confirmed = count
        elif kind == b"sunsubscribe":
            # We never unsubscribe: the server did, because the channel's slot is no longer
            # served here. Forget it (redis-py would resubscribe it here on a reconnect).
            self.shard_confirmed = count
            raw = channel if isinstance(channel, bytes) else str(channel).encode()
            name = raw.decode("utf-8", "replace")
            self.pubsub.shard_channels.pop(raw, None)
            self.pubsub.shard_channels.pop(name, None)
            if name in self.shard_channels:
                self.shard_channels.remove(name)
                self.moved.append(name)
