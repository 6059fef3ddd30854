"""RedisSource: Redis pub/sub (channels, patterns, shard channels) into an EventBuffer.

Pub/sub is at-most-once, so the source's job is to make every loss visible: whenever the
subscription is interrupted (server restart, network error, or the server kicking a slow
subscriber over ``client-output-buffer-limit pubsub``, which redis-py papers over by
reconnecting and resubscribing inside ``get_message``) it records a gap in the buffer. The
thread, backoff, status and gaps are :class:`~segment_debugger.sources.base.ThreadedSource`'s;
this module is the subscription and the read loop. On a Redis Cluster the subscriptions are
spread over the nodes and kept there through failovers by
:class:`~segment_debugger.sources.cluster.ClusterSession`; this module reads each connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.client import PubSub
from redis.retry import Retry

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.sources import _redispy
from segment_debugger.sources import cluster as _cluster
from segment_debugger.sources.base import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    CONNECT_TIMEOUT_S,
    SourceStatus,
    State,
    ThreadedSource,
)
from segment_debugger.sources.url import (
    DEFAULT_CHANNEL,
    DEFAULT_URL,
    RedisURLError,
    parse_seed_urls,
    split_seed_urls,
)

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
        return _socket_fileno(self.pubsub.connection)

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
        not_enough_data = _redispy.NOT_ENOUGH_DATA
        while len(batch) < MAX_BATCH:
            reply = reader.gets()
            if reply is not_enough_data:
                return False
            kind = reply[0] if isinstance(reply, list) and reply else None
            if kind == b"message":
                append((reply[1], reply[2], None))
            elif kind == b"pmessage":
                append((reply[2], reply[3], reply[1]))
            elif kind == b"smessage":
                append((reply[1], reply[2], None))
            else:
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


def _socket_fileno(connection: Any) -> int | None:
    # redis-py internals (Connection._sock has no public accessor): None when redis-py renames
    # it, and the cluster session then falls back to polling each link in turn.
    sock = getattr(connection, "_sock", None)
    try:
        return None if sock is None else int(sock.fileno())
    except (OSError, ValueError):
        return None


def _names(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"RedisSource {what} must be non-empty strings, got {item!r}")
    return tuple(dict.fromkeys(items))


class RedisSource(ThreadedSource):
    """Read Redis pub/sub into ``buffer`` from one daemon thread, on one server or a cluster.

    ``url`` is ``redis://``, ``rediss://`` (TLS) or ``unix://``, optionally with credentials;
    they are redacted (``***``) everywhere the source shows the URL. For a Redis Cluster it is
    the URL of any node, or several seed nodes: ``redis://h1:7000,h2:7001`` or a list of URLs.

    ``channels`` and ``patterns`` (SUBSCRIBE/PSUBSCRIBE) and ``shard_channels`` (SSUBSCRIBE,
    sharded pub/sub, Redis >= 7; also works on a single server) accept one string or several.
    ``channels`` defaults to ``"events"`` when no shard channel is given, else to none.
    Events keep the channel they came from in ``event.channel``. ``buffer`` defaults to a new
    :class:`~segment_debugger.core.buffer.EventBuffer`.

    ``cluster=None`` asks the server (``INFO cluster``) whether it is a cluster node and
    switches to cluster mode if so; ``True``/``False`` force the mode. In cluster mode classic
    subscriptions live on one node (the cluster broadcasts them) and move to another when it
    fails; each shard channel is subscribed on the primary owning its slot and re-subscribed
    on the new owner after a failover or resharding. ``unix://`` URLs are never probed.

    ``start()`` and ``stop()`` are idempotent and the source is a context manager. Every
    interruption of a subscription is recorded with ``buffer.record_gap`` once all of them are
    back; ``status`` says what the source is doing right now.
    """

    def __init__(
        self,
        url: str | Sequence[str] = DEFAULT_URL,
        channels: str | Iterable[str] | None = None,
        patterns: str | Iterable[str] = (),
        buffer: EventBuffer | None = None,
        *,
        shard_channels: str | Iterable[str] = (),
        cluster: bool | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        seeds = split_seed_urls(url)
        super().__init__(seeds[0], buffer, connect_timeout=connect_timeout)
        if len(seeds) > 1 or not isinstance(url, str):
            # Redact and scrub every seed, not only the first one the base was given.
            self._url = parse_seed_urls(url)
            self._status = replace(self._status, url=self._url.redacted)
        if cluster not in (None, True, False):
            raise ValueError(f"cluster must be None (detect), True or False, got {cluster!r}")
        tcp = all(not seed.lower().startswith("unix:") for seed in seeds)
        if len(seeds) > 1 and cluster is False:
            raise ValueError(
                f"{len(seeds)} seed nodes were given with cluster=False: give one URL for a "
                "single server, or leave cluster=None for a cluster"
            )
        if cluster and not tcp:
            raise ValueError(
                "cluster mode needs redis:// or rediss:// URLs (cluster nodes are reached over "
                "TCP at the addresses they announce), not unix://"
            )
        self.cluster = cluster
        """``None`` (detect on every connect), ``True`` or ``False``, as given."""
        self._probe = cluster is None and tcp
        self.shard_channels = _names(shard_channels, "shard_channels")
        default = () if self.shard_channels else (DEFAULT_CHANNEL,)
        self.channels = _names(default if channels is None else channels, "channels")
        self.patterns = _names(patterns, "patterns")
        if not (self.channels or self.patterns or self.shard_channels):
            raise ValueError(
                "RedisSource needs at least one channel, pattern or shard channel to subscribe to"
            )
        self._interrupter = _redispy.Interrupter()
        try:
            self._seed_pools = [self._make_pool(seed) for seed in seeds]
        except (ValueError, TypeError) as exc:
            raise RedisURLError(
                f"Redis URL {self._url.redacted!r} was rejected by redis-py: "
                f"{self._url.scrub(str(exc))}"
            ) from None
        self._pool = self._seed_pools[0]
        self._name_cache: dict[bytes, str] = {}
        self._mode: str | None = None
        # The current session's; reader thread only.
        self._link: _Link | None = None
        self._cluster_session: _cluster.ClusterSession | None = None

    def _make_pool(self, seed: str) -> _redispy.GuardedPool:
        options = dict(_CONNECTION_OPTIONS, socket_connect_timeout=self.connect_timeout)
        if not seed.lower().startswith("unix:"):
            options["socket_keepalive"] = True
        pool = _redispy.guarded_pool(seed, self._interrupter, **options)
        # Build one connection object (no I/O) so bad options are rejected now, not later.
        pool.connection_class(**pool.connection_kwargs)
        return pool

    @property
    def mode(self) -> str | None:
        """``"cluster"`` or ``"single"`` once a session has decided, else None."""
        return self._mode

    def start(self) -> RedisSource:
        """Start the reader thread (no-op when it is already running); return ``self``."""
        if not self.running:
            self._interrupter.reset()
        super().start()
        return self

    def __enter__(self) -> RedisSource:
        return self.start()

    def __repr__(self) -> str:
        shards = f", shard_channels={self.shard_channels!r}" if self.shard_channels else ""
        return (
            f"RedisSource({self.url!r}, channels={self.channels!r}, "
            f"patterns={self.patterns!r}{shards}, cluster={self.cluster!r}, "
            f"state={self._status.state!r})"
        )

    # ---- the session: decide the mode, subscribe, then read --------------------------------

    def _session(self, stop: threading.Event) -> None:
        try:
            on_cluster = _cluster.probe(self._seed_pools) if self._probe else bool(self.cluster)
            if not on_cluster:
                if len(self._seed_pools) > 1:
                    raise _cluster.NotAClusterError(
                        f"{len(self._seed_pools)} seed nodes were given but the server is not "
                        "a cluster node (INFO cluster: cluster_enabled:0); give one URL for a "
                        "single server, or the URLs of cluster nodes"
                    )
                self._mode = "single"
                self._single_session(stop)
                return
            self._mode = "cluster"
            self._cluster_session = _cluster.ClusterSession(self, self._seed_pools)
            self._cluster_session.run(stop)
        except _cluster.NotAClusterError as exc:
            # A configuration mistake, not an outage: say what to do; the base retries later
            # (with backoff) in case the server is reconfigured.
            self._set_status("error", str(exc))

    def _single_session(self, stop: threading.Event) -> None:
        self._link = link = self._open_link(self._pool, "server")
        link.add(self.channels, self.patterns, self.shard_channels)
        batch: list[_Raw] = []
        while not stop.is_set():
            if not link.wait(POLL_TIMEOUT_S):
                self._mark_ok()
                link.check_health()
                continue
            # Data (or EOF) is there: read what has arrived, buffer it in one call.
            link.read(batch)
            self._settle(link, batch)

    def _settle(self, link: _Link, batch: list[_Raw]) -> None:
        """After a read on a single server: buffer the batch, go live once all is confirmed."""
        if batch:
            self._store(batch)
            batch.clear()
        if link.moved:
            raise redis.ConnectionError(
                f"the server unsubscribed shard channels {', '.join(link.moved)}: it has "
                "become a cluster node; reconnecting to find where they are served"
            )
        if self._status.state != "live" and link.confirmed:
            self._went_live(self._describe_single())
        self._mark_ok()

    def _describe_single(self) -> str:
        parts = []
        if self.channels or self.patterns:
            parts.append("subscribed to " + ", ".join(self.channels + self.patterns))
        if self.shard_channels:
            parts.append("shard channels " + ", ".join(self.shard_channels))
        return "; ".join(parts)

    def _open_link(self, pool: redis.ConnectionPool, address: str) -> _Link:
        """Return a new, unconnected link through ``pool`` (cluster sessions use it too)."""
        return _Link(pool, address, self._on_silent_reconnect)

    def _close_session(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()
        session, self._cluster_session = self._cluster_session, None
        if session is not None:
            session.close()

    def _interrupt(self) -> None:
        self._interrupter.interrupt()

    def _finish(self) -> None:
        for pool in self._seed_pools:
            pool.disconnect()

    def _disconnect_hint(self, exc: BaseException) -> str:
        """Say who may have closed the connection when the server did."""
        if "closed by server" not in str(exc):
            return ""
        return (
            " (the server dropped this subscriber: a restart, CLIENT KILL, or falling behind its "
            "client-output-buffer-limit pubsub; a single message larger than that hard limit, "
            "32 MB by default, can never be delivered over pub/sub)"
        )

    def _on_silent_reconnect(self, link: _Link) -> None:
        """Open a gap: redis-py reconnected by itself and is resubscribing (runs in our thread)."""
        where = "" if self._mode != "cluster" else f" ({link.address})"
        self._open_gap(
            f"the server{where} closed the subscription and redis-py reconnected on its own "
            "(a subscriber that falls behind is disconnected over "
            "client-output-buffer-limit pubsub, and a single message larger than its hard "
            "limit, 32 MB by default, can never be delivered over pub/sub); messages "
            "published meanwhile are lost"
        )
        self._set_status(
            "reconnecting", f"resubscribing after the server{where} closed the connection"
        )

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
