"""RedisSource: one background thread that reads Redis pub/sub into an EventBuffer.

Pub/sub is at-most-once, so the source's job is to make every loss visible: whenever the
subscription is interrupted (server restart, network error, or the server kicking a slow
subscriber over ``client-output-buffer-limit pubsub``, which redis-py papers over by
reconnecting and resubscribing inside ``get_message``) it records a gap in the buffer.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.retry import Retry

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.sources.url import RedisURL, RedisURLError, parse_redis_url

try:  # the hiredis parser lets us drain already-received replies without per-message overhead
    from redis._parsers.hiredis import NOT_ENOUGH_DATA as _NOT_ENOUGH_DATA
    from redis._parsers.hiredis import _HiredisParser
except ImportError:  # pragma: no cover - redis-py without the hiredis module layout
    _HiredisParser = None  # type: ignore[assignment,misc]
    _NOT_ENOUGH_DATA = object()

logger = logging.getLogger(__name__)

#: (channel, payload, pattern or None) as received, before parsing.
_Raw = tuple[bytes, bytes, "bytes | None"]

State = Literal["connecting", "live", "reconnecting", "stopped", "error"]

DEFAULT_URL = "redis://localhost:6379/0"

#: How long one wait for data lasts; bounds how late ``stop()`` is noticed.
POLL_TIMEOUT_S = 0.1
#: Once a reply has started arriving, how long its remainder may take (large payloads).
READ_TIMEOUT_S = 10.0
#: Most messages parsed and buffered per ``EventBuffer.extend`` call.
MAX_BATCH = 2000
#: Reconnect backoff: exponential from BASE, capped, with "equal jitter".
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 5.0
#: Channel/pattern names decoded and kept; reset when a pattern yields more distinct channels.
_NAME_CACHE_MAX = 10_000

# Socket options for the subscriber connection, and why:
# - socket_connect_timeout: a blackholed host fails within 5 s (then we back off and report
#   it) instead of hanging for the OS default of about two minutes.
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
    "socket_connect_timeout": 5.0,
    "socket_timeout": 10.0,
    "health_check_interval": 15,
    "retry": Retry(NoBackoff(), 1),
    "socket_read_size": 256 * 1024,
}


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Where a :class:`RedisSource` stands: ``state``, why, since when, for which URL."""

    state: State
    """One of ``connecting``, ``live``, ``reconnecting``, ``stopped``, ``error``."""
    reason: str
    """A short readable explanation (empty when there is nothing to say)."""
    since: float
    """Epoch seconds when this state was entered."""
    url: str
    """The Redis URL with its password redacted."""

    def as_dict(self) -> dict[str, Any]:
        """Return the status as a plain, JSON-friendly dict."""
        return asdict(self)


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


def _hint(exc: BaseException) -> str:
    """Say who may have closed the connection when the server did."""
    if "closed by server" not in str(exc):
        return ""
    return (
        " (the server dropped this subscriber: a restart, CLIENT KILL, or falling behind its "
        "client-output-buffer-limit pubsub)"
    )


def _identity(response: Any) -> Any:
    return response


def _names(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"RedisSource {what} must be non-empty strings, got {item!r}")
    return tuple(dict.fromkeys(items))


class RedisSource:
    """Read Redis pub/sub ``channels`` and ``patterns`` into ``buffer`` from one daemon thread.

    ``url`` is ``redis://``, ``rediss://`` (TLS) or ``unix://``, optionally with
    ``username:password@``; the password is redacted (``***``) everywhere the source shows the
    URL. ``channels`` and ``patterns`` accept one string or several. ``buffer`` defaults to a
    new :class:`~segment_debugger.core.buffer.EventBuffer`.

    ``start()`` and ``stop()`` are idempotent and the source is a context manager. Every
    interruption of the subscription is recorded with ``buffer.record_gap`` once receiving
    resumes; ``status`` says what the source is doing right now.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        channels: str | Iterable[str] = ("events",),
        patterns: str | Iterable[str] = (),
        buffer: EventBuffer | None = None,
    ) -> None:
        self._url: RedisURL = parse_redis_url(url)
        self.channels = _names(channels, "channels")
        self.patterns = _names(patterns, "patterns")
        if not self.channels and not self.patterns:
            raise ValueError("RedisSource needs at least one channel or pattern to subscribe to")
        try:
            options = dict(_CONNECTION_OPTIONS)
            if not url.lower().startswith("unix:"):
                options["socket_keepalive"] = True
            self._pool = redis.ConnectionPool.from_url(url, **options)
            # Build one connection object (no I/O) so bad options are rejected now, not later.
            self._pool.connection_class(**self._pool.connection_kwargs)
        except (ValueError, TypeError) as exc:
            raise RedisURLError(
                f"Redis URL {self._url.redacted!r} was rejected by redis-py: "
                f"{self._url.scrub(str(exc))}"
            ) from None
        self._buffer = buffer if buffer is not None else EventBuffer()
        self._expected = len(self.channels) + len(self.patterns)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._status = SourceStatus("stopped", "not started", time.time(), self._url.redacted)
        self._name_cache: dict[bytes, str] = {}
        # Read-loop state; touched only by the reader thread.
        self._attempt = 0
        self._last_ok = 0.0
        self._ever_live = False
        self._gap_start: float | None = None
        self._gap_reason = ""

    # ---- public API ------------------------------------------------------------------------

    @property
    def buffer(self) -> EventBuffer:
        """The :class:`~segment_debugger.core.buffer.EventBuffer` this source fills."""
        return self._buffer

    @property
    def status(self) -> SourceStatus:
        """The current :class:`SourceStatus` (a new immutable value on every change)."""
        return self._status

    @property
    def url(self) -> str:
        """The Redis URL with the password redacted."""
        return self._url.redacted

    def start(self) -> RedisSource:
        """Start the reader thread (no-op when it is already running); return ``self``."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop = threading.Event()
        self._set_status("connecting", "starting")
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="segment-debugger-source", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the reader thread, close the connection and wait up to ``timeout`` s for both.

        Idempotent. The thread notices within ``POLL_TIMEOUT_S``; only a connect attempt that
        is blocked in the OS (up to ``socket_connect_timeout``) can outlast ``timeout``, in
        which case a warning is logged and the daemon thread exits on its own when it returns.
        """
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout)
        if thread.is_alive():
            logger.warning(
                "RedisSource(%s): reader thread still blocked in a connect after %.1f s; "
                "it will exit when that returns",
                self.url,
                timeout,
            )
            return
        self._thread = None

    def __enter__(self) -> RedisSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (
            f"RedisSource({self.url!r}, channels={self.channels!r}, "
            f"patterns={self.patterns!r}, state={self._status.state!r})"
        )

    # ---- status and gaps -------------------------------------------------------------------

    def _set_status(self, state: State, reason: str = "") -> None:
        reason = self._url.scrub(reason)
        current = self._status
        if current.state == state and current.reason == reason:
            return
        self._status = SourceStatus(state, reason, time.time(), self._url.redacted)
        level = logging.WARNING if state in ("reconnecting", "error") else logging.INFO
        suffix = f" ({reason})" if reason else ""
        logger.log(level, "RedisSource(%s): %s%s", self.url, state, suffix)

    def _open_gap(self, reason: str) -> None:
        """Note that messages may be being lost from the last moment we know we were fine."""
        if self._ever_live and self._gap_start is None:
            self._gap_start = self._last_ok or time.time()
            self._gap_reason = self._url.scrub(reason)

    def _on_silent_reconnect(self) -> None:
        """Open a gap: redis-py reconnected by itself and is resubscribing (runs in our thread)."""
        self._open_gap(
            "the server closed the subscription and redis-py reconnected on its own "
            "(a subscriber that falls behind is disconnected over "
            "client-output-buffer-limit pubsub); messages published meanwhile are lost"
        )
        self._set_status("reconnecting", "resubscribing after the server closed the connection")

    def _subscriptions_confirmed(self, count: int) -> None:
        """Count a (p)subscribe confirmation: live once all of ours are in place."""
        if count < self._expected or self._status.state == "live":
            return
        now = time.time()
        self._last_ok = now
        self._attempt = 0
        self._ever_live = True
        if self._gap_start is not None:
            gap = self._buffer.record_gap(self._gap_start, now, self._gap_reason)
            self._gap_start = None
            logger.warning(
                "RedisSource(%s): gap of %.3f s recorded: %s", self.url, gap.duration, gap.reason
            )
        self._set_status("live", "subscribed to " + ", ".join(self.channels + self.patterns))

    # ---- the reader thread -----------------------------------------------------------------

    def _run(self, stop: threading.Event) -> None:
        """Connect, read until stopped, and on any failure back off and start over."""
        while not stop.is_set():
            pubsub: _WatchedPubSub | None = None
            try:
                pubsub = self._subscribe()
                self._read(pubsub, stop)
            except (redis.AuthenticationError, redis.exceptions.AuthorizationError) as exc:
                self._failed("error", f"authentication failed: {exc}; check the URL's credentials")
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self._open_gap(f"connection lost: {exc}{_hint(exc)}")
                state: State = "reconnecting" if self._ever_live else "connecting"
                self._failed(state, f"{type(exc).__name__}: {exc}")
            except redis.ResponseError as exc:
                self._failed("error", f"Redis refused the subscription: {exc}")
            except Exception as exc:
                self._open_gap(f"reader error: {type(exc).__name__}: {exc}")
                text = self._url.scrub("".join(traceback.format_exception(exc)))
                logger.error("RedisSource(%s): unexpected error in reader:\n%s", self.url, text)
                self._failed("error", f"unexpected {type(exc).__name__}: {exc}")
            finally:
                if pubsub is not None:
                    self._close(pubsub)
            if stop.is_set():
                break
            stop.wait(self._next_backoff())
        self._pool.disconnect()
        self._set_status("stopped", "stopped by stop()")

    def _failed(self, state: State, reason: str) -> None:
        if self._stop.is_set():
            return
        self._set_status(state, f"{reason}; retrying")

    def _next_backoff(self) -> float:
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 16)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _subscribe(self) -> _WatchedPubSub:
        pubsub = _WatchedPubSub(self._pool, self._on_silent_reconnect)
        if self.channels:
            pubsub.subscribe(*self.channels)
        if self.patterns:
            pubsub.psubscribe(*self.patterns)
        pubsub.armed = True
        return pubsub

    @staticmethod
    def _close(pubsub: _WatchedPubSub) -> None:
        pubsub.armed = False
        try:
            pubsub.close()
        except (redis.RedisError, OSError) as exc:
            logger.debug("closing the pubsub connection failed: %s", exc)

    def _read(self, pubsub: _WatchedPubSub, stop: threading.Event) -> None:
        """Wait for data, then drain everything already received into one ``extend``."""
        batch: list[_Raw] = []
        while not stop.is_set():
            conn = pubsub.connection
            if conn is None:
                raise redis.ConnectionError("the pubsub connection was released")
            if not conn.can_read(timeout=POLL_TIMEOUT_S):
                self._last_ok = time.time()
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
            self._last_ok = time.time()

    def _drain(self, pubsub: _WatchedPubSub, batch: list[_Raw]) -> None:
        """Take the replies already received and parsed into memory, up to MAX_BATCH."""
        conn = pubsub.connection
        parser = getattr(conn, "_parser", None)
        reader = getattr(parser, "_reader", None)
        if _HiredisParser is None or not isinstance(parser, _HiredisParser) or reader is None:
            while len(batch) < MAX_BATCH:
                message = pubsub.get_message(timeout=0)
                if message is None:
                    return
                self._take_message(message, batch)
            return
        append = batch.append
        while len(batch) < MAX_BATCH:
            reply = reader.gets()
            if reply is _NOT_ENOUGH_DATA:
                return
            kind = reply[0] if isinstance(reply, list) and reply else None
            if kind == b"message" or kind == b"smessage":
                append((reply[1], reply[2], None))
            elif kind == b"pmessage":
                append((reply[2], reply[3], reply[1]))
            else:
                self._take_control(pubsub, reply)

    def _take_message(
        self, message: dict[str, Any], batch: list[_Raw]
    ) -> None:
        kind = message["type"]
        if kind in ("message", "smessage"):
            batch.append((message["channel"], message["data"], None))
        elif kind == "pmessage":
            batch.append((message["channel"], message["data"], message["pattern"]))
        elif kind in ("subscribe", "psubscribe", "ssubscribe"):
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
            if kind in (b"subscribe", b"psubscribe", b"ssubscribe"):
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
