"""RedisSource: Redis pub/sub (channels and patterns) into an EventBuffer.

Pub/sub is at-most-once, so the source's job is to make every loss visible: whenever the
subscription is interrupted (server restart, network error, or the server kicking a slow
subscriber over ``client-output-buffer-limit pubsub``, which redis-py papers over by
reconnecting and resubscribing inside ``get_message``) it records a gap in the buffer. The
thread, backoff, status and gaps are :class:`~segment_debugger.sources.base.ThreadedSource`'s;
this module is the subscription and the read loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.retry import Retry

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.sources import _redispy
from segment_debugger.sources.base import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    CONNECT_TIMEOUT_S,
    SourceStatus,
    State,
    ThreadedSource,
)
from segment_debugger.sources.url import DEFAULT_CHANNEL, DEFAULT_URL, RedisURLError

__all__ = ["BACKOFF_BASE_S", "BACKOFF_CAP_S", "RedisSource", "SourceStatus", "State"]

logger = logging.getLogger(__name__)

#: (channel, payload, pattern or None) as received, before parsing.
_Raw = tuple[bytes, bytes, "bytes | None"]

#: How long one wait for data lasts; bounds how late ``stop()`` is noticed.
POLL_TIMEOUT_S = 0.1
#: Once a reply has started arriving, how long its remainder may take (large payloads).
READ_TIMEOUT_S = 10.0
#: Most messages parsed and buffered per ``EventBuffer.extend`` call.
MAX_BATCH = 2000
#: Channel/pattern names decoded and kept; reset when a pattern yields more distinct channels.
_NAME_CACHE_MAX = 10_000

# Socket options for the subscriber connection, and why:
# - socket_connect_timeout (the source's connect_timeout, 3 s by default): a blackholed host
#   fails within it (then we back off and report it) instead of hanging for the OS default of
#   about two minutes; it also bounds the TLS handshake (see _redispy).
# - socket_timeout: bounds *sends* (SUBSCRIBE, the health-check PING). It never fires on an
#   idle channel: the read loop waits with poll() for POLL_TIMEOUT_S and only reads when data
#   is there, so a quiet subscription can stay open for days.
# - socket_keepalive (+ redis-py's options: idle 30 s, 3 probes 5 s apart; TCP only, so not
#   for unix://): a subscriber never sends on its own, so without keepalive a peer that
#   vanished without a FIN (NAT timeout, host gone) would leave us waiting on a dead socket.
# - health_check_interval: redis-py PINGs an idle subscription every 15 s, so a dead
#   connection is also noticed by a failed write and idle proxies see traffic.
# - retry: one immediate in-place retry. When the server closes *this* connection (output
#   buffer limit, CLIENT KILL, timeout) redis-py reconnects and resubscribes inside
#   get_message; we notice that in on_connect and record a gap. Anything longer (server down)
#   surfaces as an exception and is ours to handle: status, backoff with jitter, gap.
# - socket_read_size: bigger reads mean fewer syscalls and fewer get_message round trips
#   per drained batch.
_CONNECTION_OPTIONS: dict[str, Any] = {
    "socket_timeout": 10.0,
    "health_check_interval": 15,
    "retry": Retry(NoBackoff(), 1),
    "socket_read_size": 256 * 1024,
}


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


def _names(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"RedisSource {what} must be non-empty strings, got {item!r}")
    return tuple(dict.fromkeys(items))


class RedisSource(ThreadedSource):
    """Read Redis pub/sub ``channels`` and ``patterns`` into ``buffer`` from one daemon thread.

    ``url`` is ``redis://``, ``rediss://`` (TLS) or ``unix://``, optionally with credentials;
    they are redacted (``***``) everywhere the source shows the URL. ``channels`` and
    ``patterns`` accept one string or several. ``buffer`` defaults to a new
    :class:`~segment_debugger.core.buffer.EventBuffer`.

    ``start()`` and ``stop()`` are idempotent and the source is a context manager. Every
    interruption of the subscription is recorded with ``buffer.record_gap`` once receiving
    resumes; ``status`` says what the source is doing right now.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        channels: str | Iterable[str] = (DEFAULT_CHANNEL,),
        patterns: str | Iterable[str] = (),
        buffer: EventBuffer | None = None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        super().__init__(url, buffer, connect_timeout=connect_timeout)
        self.channels = _names(channels, "channels")
        self.patterns = _names(patterns, "patterns")
        if not self.channels and not self.patterns:
            raise ValueError("RedisSource needs at least one channel or pattern to subscribe to")
        try:
            options = dict(_CONNECTION_OPTIONS, socket_connect_timeout=self.connect_timeout)
            if not url.lower().startswith("unix:"):
                options["socket_keepalive"] = True
            self._interrupter = _redispy.Interrupter()
            self._pool = _redispy.guarded_pool(url, self._interrupter, **options)
            # Build one connection object (no I/O) so bad options are rejected now, not later.
            self._pool.connection_class(**self._pool.connection_kwargs)
        except (ValueError, TypeError) as exc:
            raise RedisURLError(
                f"Redis URL {self._url.redacted!r} was rejected by redis-py: "
                f"{self._url.scrub(str(exc))}"
            ) from None
        self._expected = len(self.channels) + len(self.patterns)
        self._name_cache: dict[bytes, str] = {}
        self._pubsub: _WatchedPubSub | None = None  # the current session's; reader thread only

    def start(self) -> RedisSource:
        """Start the reader thread (no-op when it is already running); return ``self``."""
        if not self.running:
            self._interrupter.reset()
        super().start()
        return self

    def __enter__(self) -> RedisSource:
        return self.start()

    def __repr__(self) -> str:
        return (
            f"RedisSource({self.url!r}, channels={self.channels!r}, "
            f"patterns={self.patterns!r}, state={self._status.state!r})"
        )

    # ---- the session: subscribe, then read -------------------------------------------------

    def _session(self, stop: threading.Event) -> None:
        self._pubsub = pubsub = self._subscribe()
        self._read(pubsub, stop)

    def _close_session(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is None:
            return
        pubsub.armed = False
        try:
            pubsub.close()
        except (redis.RedisError, OSError) as exc:
            logger.debug("closing the pubsub connection failed: %s", exc)

    def _interrupt(self) -> None:
        self._interrupter.interrupt()

    def _finish(self) -> None:
        self._pool.disconnect()

    def _on_silent_reconnect(self) -> None:
        """Open a gap: redis-py reconnected by itself and is resubscribing (runs in our thread)."""
        self._open_gap(
            "the server closed the subscription and redis-py reconnected on its own "
            "(a subscriber that falls behind is disconnected over "
            "client-output-buffer-limit pubsub, and a single message larger than its hard "
            "limit, 32 MB by default, can never be delivered over pub/sub); messages "
            "published meanwhile are lost"
        )
        self._set_status("reconnecting", "resubscribing after the server closed the connection")

    def _subscriptions_confirmed(self, count: int) -> None:
        """Count a (p)subscribe confirmation: live once all of ours are in place."""
        if count < self._expected or self._status.state == "live":
            return
        self._went_live("subscribed to " + ", ".join(self.channels + self.patterns))

    def _subscribe(self) -> _WatchedPubSub:
        pubsub = _WatchedPubSub(self._pool, self._on_silent_reconnect)
        if self.channels:
            pubsub.subscribe(*self.channels)
        if self.patterns:
            pubsub.psubscribe(*self.patterns)
        pubsub.armed = True
        return pubsub

    def _read(self, pubsub: _WatchedPubSub, stop: threading.Event) -> None:
        """Wait for data, then drain everything already received into one ``extend``."""
        batch: list[_Raw] = []
        while not stop.is_set():
            conn = pubsub.connection
            if conn is None:
                raise redis.ConnectionError("the pubsub connection was released")
            if not conn.can_read(timeout=POLL_TIMEOUT_S):
                self._mark_ok()
                pubsub.check_health()
                continue
            # Data (or EOF) is there: read one reply, letting the rest of a large one take time.
            message = pubsub.get_message(timeout=READ_TIMEOUT_S)
            if message is not None:
                self._take_message(message, batch)
            self._drain(pubsub, batch)
            if batch:
                self._store(batch)
                batch.clear()
            self._mark_ok()

    def _drain(self, pubsub: _WatchedPubSub, batch: list[_Raw]) -> None:
        """Take the replies already received and parsed into memory, up to MAX_BATCH."""
        reader = _redispy.buffered_reader(pubsub.connection)
        if reader is None:
            while len(batch) < MAX_BATCH:
                message = pubsub.get_message(timeout=0)
                if message is None:
                    return
                self._take_message(message, batch)
            return
        append = batch.append
        not_enough_data = _redispy.NOT_ENOUGH_DATA
        while len(batch) < MAX_BATCH:
            reply = reader.gets()
            if reply is not_enough_data:
                return
            kind = reply[0] if isinstance(reply, list) and reply else None
            if kind == b"message":
                append((reply[1], reply[2], None))
            elif kind == b"pmessage":
                append((reply[2], reply[3], reply[1]))
            else:
                self._take_control(pubsub, reply)

    def _take_message(self, message: dict[str, Any], batch: list[_Raw]) -> None:
        kind = message["type"]
        if kind == "message":
            batch.append((message["channel"], message["data"], None))
        elif kind == "pmessage":
            batch.append((message["channel"], message["data"], message["pattern"]))
        elif kind in ("subscribe", "psubscribe"):
            self._subscriptions_confirmed(int(message["data"]))

    def _take_control(self, pubsub: _WatchedPubSub, reply: Any) -> None:
        """Handle a drained reply that is not a message: confirmations, PONGs, errors."""
        if isinstance(reply, Exception):
            raise reply
        if pubsub.is_health_check_response(reply):
            pubsub.health_check_response_counter -= 1
            return
        if isinstance(reply, list) and len(reply) == 3:
            kind = reply[0]
            if kind in (b"subscribe", b"psubscribe"):
                self._subscriptions_confirmed(int(reply[2]))
                return
        logger.debug("RedisSource(%s): ignored reply %.200r", self.url, reply)

    def _store(self, batch: list[_Raw]) -> None:
        """Parse a batch (one timestamp: it was all read at once) and buffer it in one call."""
        now = time.time()
        name = self._name
        events: list[Event] = [
            parse_event(data, name(channel), now, None if pattern is None else name(pattern))
            for channel, data, pattern in batch
        ]
        self._buffer.extend(events)

    def _name(self, raw: bytes) -> str:
        cache = self._name_cache
        text = cache.get(raw)
        if text is None:
            if len(cache) >= _NAME_CACHE_MAX:
                cache.clear()
            text = cache[raw] = raw.decode("utf-8", "replace")
        return text
