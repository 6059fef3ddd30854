"""What every source is, and the base class that owns what they share.

A source reads Redis into an :class:`~segment_debugger.core.buffer.EventBuffer` from one daemon
thread. :class:`Source` is the protocol the widget and the command line rely on;
:class:`ThreadedSource` implements everything but the reading: the thread's lifecycle,
reconnecting with capped, jittered backoff, the status, recording gaps, and keeping the URL's
secrets out of every status, log line and exception text. A new kind of source subclasses it
and writes one method, :meth:`ThreadedSource._session`: connect, then read until stopped.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import traceback
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

import redis

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources._redispy import GuardedPool, Interrupter, TLSError, guarded_pool
from segment_debugger.sources.url import RedisURL, RedisURLError, parse_redis_url

logger = logging.getLogger(__name__)

State = Literal["connecting", "live", "reconnecting", "stopped", "error"]

#: Reconnect backoff: exponential from BASE, capped, with "equal jitter" (half fixed, half
#: random), so many debuggers do not reconnect in lockstep after a server restart.
#: The cap keeps a source live again within about a second of its server's return, after an
#: outage of any length, at the price of one connect attempt per second while it is down.
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0
#: Default bound on one connect (TCP connect, and the TLS handshake for ``rediss://``).
CONNECT_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """Where a source stands: ``state``, why, since when, for which URL."""

    state: State
    """One of ``connecting``, ``live``, ``reconnecting``, ``stopped``, ``error``."""
    reason: str
    """A short readable explanation (empty when there is nothing to say)."""
    since: float
    """Epoch seconds when this state was entered."""
    url: str
    """The Redis URL with its secrets redacted."""

    def as_dict(self) -> dict[str, Any]:
        """Return the status as a plain, JSON-friendly dict."""
        return asdict(self)


@runtime_checkable
class Source(Protocol):
    """What the widget and the command line need from any source."""

    @property
    def buffer(self) -> EventBuffer:
        """The buffer the source fills (its gaps are ``buffer.gaps``)."""
        ...

    @property
    def status(self) -> SourceStatus:
        """The current status (a new immutable value on every change)."""
        ...

    @property
    def url(self) -> str:
        """The URL read from, secrets redacted."""
        ...

    def start(self) -> Source:
        """Start reading (idempotent); return the source."""
        ...

    def stop(self, timeout: float = 1.0) -> None:
        """Stop reading and join the thread (idempotent)."""
        ...


_S = TypeVar("_S", bound="ThreadedSource")


class ThreadedSource:
    """Base of the Redis sources: one reader thread, reconnects, status, gaps, redaction.

    Subclasses implement :meth:`_session` (connect, then read until ``stop`` is set or an
    exception says the connection is gone) and may override :meth:`_close_session`. They call
    :meth:`_went_live` once reading works, :meth:`_open_gap` when messages may be being lost,
    and :meth:`_mark_ok` whenever they know they are keeping up. ``start()`` and ``stop()`` are
    idempotent and the source is a context manager.

    ``url`` is one URL, or a :class:`~segment_debugger.sources.url.RedisURL` already checked
    (a cluster's seed list: :func:`~segment_debugger.sources.url.parse_seed_urls`), shown and
    scrubbed as a whole. Connections come from :meth:`_make_pool`, whose TLS handshakes
    ``stop()`` interrupts.
    """

    #: The reader thread's name (shown by debuggers and ``threading.enumerate()``).
    thread_name = "segment-debugger-source"
    #: True for sources that resume exactly where they stopped (Streams): a lost connection
    #: is then no gap. Pub/sub loses whatever is published while it is away.
    resumes_without_loss = False

    def __init__(
        self,
        url: str | RedisURL,
        buffer: EventBuffer | None,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        if isinstance(connect_timeout, bool) or not isinstance(connect_timeout, (int, float)) or (
            not 0 < connect_timeout <= 300
        ):
            raise ValueError(
                f"connect_timeout must be a number of seconds in (0, 300], got {connect_timeout!r}"
            )
        self.connect_timeout = float(connect_timeout)
        """Seconds one connect may take (TCP connect, and the TLS handshake)."""
        self._url: RedisURL = url if isinstance(url, RedisURL) else parse_redis_url(url)
        self._interrupter = Interrupter()
        self._buffer = buffer if buffer is not None else EventBuffer()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Set when the reader thread's work has ended. Waited on instead of Thread.join(): on
        # Python 3.11 a join interrupted by Ctrl-C marks the thread stopped while it still runs.
        self._done = threading.Event()
        self._done.set()
        self._status = SourceStatus("stopped", "not started", time.time(), self._url.redacted)
        # Read-loop state; touched only by the reader thread.
        self._attempt = 0
        self._last_ok = 0.0
        self._ever_live = False
        self._gap_start: float | None = None
        self._gap_reason = ""
        self._gap_channels: tuple[str, ...] | None = None

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
        """The Redis URL with its secrets redacted."""
        return self._url.redacted

    @property
    def running(self) -> bool:
        """True while the reader thread is alive."""
        return self._thread is not None and not self._done.is_set()

    def start(self: _S) -> _S:
        """Start the reader thread (no-op when it is already running); return ``self``."""
        if self.running:
            return self
        self._interrupter.reset()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._set_status("connecting", "starting")
        self._thread = threading.Thread(
            target=self._run_then_done, args=(self._stop, self._done), name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop the reader thread, close the connection and wait up to ``timeout`` s for both.

        Idempotent. The thread notices within a poll interval, and a TLS handshake in progress
        is interrupted. Only a TCP connect blocked in the OS (an unreachable host) can outlast
        ``timeout``: then ``stop()`` waits for it, at most ``connect_timeout`` more, so the
        thread has ended when ``stop()`` returns.
        """
        thread = self._thread
        if thread is None:
            return
        done = self._done
        self._stop.set()
        self._interrupt()
        if not done.wait(timeout):
            done.wait(self.connect_timeout + 0.5)
        if not done.is_set():
            logger.warning(
                "%s(%s): reader thread still blocked in a connect after %.1f s; "
                "it will exit when that returns",
                type(self).__name__,
                self.url,
                timeout + self.connect_timeout + 0.5,
            )
            return
        thread.join()  # its work is done: this returns at once
        self._thread = None

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- for subclasses --------------------------------------------------------------------

    def _session(self, stop: threading.Event) -> None:
        """Connect and read until ``stop`` is set; raise when the connection is lost."""
        raise NotImplementedError

    def _close_session(self) -> None:
        """Release what :meth:`_session` opened (called after every session, from the thread)."""

    def _make_pool(self, url: str, **options: Any) -> GuardedPool:
        """Return a connection pool for ``url`` (one node) with redis-py ``options``.

        Connects within ``connect_timeout``; ``stop()`` interrupts its TLS handshakes. One
        connection object is built (no I/O) so that options redis-py rejects fail now, as a
        :class:`~segment_debugger.sources.url.RedisURLError` with the URL's secrets scrubbed.
        """
        options.setdefault("socket_connect_timeout", self.connect_timeout)
        try:
            pool = guarded_pool(url, self._interrupter, **options)
            pool.connection_class(**pool.connection_kwargs)
        except (ValueError, TypeError) as exc:
            raise RedisURLError(
                f"Redis URL {self._url.redacted!r} was rejected by redis-py: "
                f"{self._url.scrub(str(exc))}"
            ) from None
        return pool

    def _interrupt(self) -> None:
        """Wake a reader blocked in I/O (called by ``stop()`` from another thread).

        The base closes the socket of a TLS handshake in progress; subclasses may do more.
        """
        self._interrupter.interrupt()

    def _finish(self) -> None:
        """Release everything when the thread ends (after the last session)."""

    def _mark_ok(self) -> None:
        """Note that, as of now, nothing has been lost."""
        self._last_ok = time.time()

    def _disconnect_hint(self, exc: BaseException) -> str:
        """Return words to append to a lost connection's reason (who may have closed it)."""
        return ""

    def _open_gap(self, reason: str, channels: Iterable[str] | None = None) -> None:
        """Note that messages may be being lost from the last moment we know we were fine.

        ``channels`` limits the loss to some channels (or patterns) while the others keep
        flowing (one node of a cluster lost): the loss estimate then looks at those only. A
        gap already open keeps its start and reason and widens to the union (None: all).
        """
        if self.resumes_without_loss or not self._ever_live:
            return
        scope = None if channels is None else tuple(channels)
        if self._gap_start is None:
            self._gap_start = self._last_ok or time.time()
            self._gap_reason = self._url.scrub(reason)
            self._gap_channels = scope
        elif self._gap_channels is not None:
            self._gap_channels = (
                None if scope is None else tuple(dict.fromkeys(self._gap_channels + scope))
            )

    def _went_live(self, reason: str) -> None:
        """Mark the source live (again): record any open gap, say so in the status."""
        now = time.time()
        self._last_ok = now
        self._attempt = 0
        self._ever_live = True
        if self._gap_start is not None:
            gap = self._buffer.record_gap(
                self._gap_start, now, self._gap_reason, channels=self._gap_channels
            )
            self._gap_start = self._gap_channels = None
            logger.warning(
                "%s(%s): gap of %.3f s recorded: %s",
                type(self).__name__,
                self.url,
                gap.duration,
                gap.reason,
            )
        self._set_status("live", reason)

    def _set_status(self, state: State, reason: str = "") -> None:
        reason = self._url.scrub(reason)
        current = self._status
        if current.state == state and current.reason == reason:
            return
        self._status = SourceStatus(state, reason, time.time(), self._url.redacted)
        level = logging.WARNING if state in ("reconnecting", "error") else logging.INFO
        suffix = f" ({reason})" if reason else ""
        logger.log(level, "%s(%s): %s%s", type(self).__name__, self.url, state, suffix)

    # ---- the reader thread -----------------------------------------------------------------

    def _run_then_done(self, stop: threading.Event, done: threading.Event) -> None:
        try:
            self._run(stop)
        finally:
            done.set()

    def _run(self, stop: threading.Event) -> None:
        """Run sessions until stopped; after each failure, say why, back off and start over."""
        while not stop.is_set():
            try:
                self._session(stop)
            except (redis.AuthenticationError, redis.exceptions.AuthorizationError) as exc:
                self._failed("error", f"authentication failed: {exc}; check the URL's credentials")
            except TLSError as exc:
                self._open_gap(f"connection lost: {exc}")
                self._failed("reconnecting" if self._ever_live else "connecting", str(exc))
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                self._open_gap(f"connection lost: {exc}{self._disconnect_hint(exc)}")
                state: State = "reconnecting" if self._ever_live else "connecting"
                self._failed(state, f"{type(exc).__name__}: {exc}")
            except redis.ResponseError as exc:
                self._failed("error", f"Redis refused the request: {exc}")
            except Exception as exc:
                self._open_gap(f"reader error: {type(exc).__name__}: {exc}")
                text = self._url.scrub("".join(traceback.format_exception(exc)))
                logger.error(
                    "%s(%s): unexpected error in reader:\n%s", type(self).__name__, self.url, text
                )
                self._failed("error", f"unexpected {type(exc).__name__}: {exc}")
            finally:
                self._close_session()
            if stop.is_set():
                break
            stop.wait(self._next_backoff())
        self._finish()
        self._set_status("stopped", "stopped by stop()")

    def _failed(self, state: State, reason: str) -> None:
        if self._stop.is_set():
            return
        self._set_status(state, f"{reason}; retrying")

    def _next_backoff(self) -> float:
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * float(2**self._attempt))
        self._attempt = min(self._attempt + 1, 16)
        return ceiling / 2 + random.uniform(0, ceiling / 2)
