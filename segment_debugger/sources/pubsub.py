"""RedisSource: Redis pub/sub (channels, patterns, shard channels) into an EventBuffer.

Pub/sub is at-most-once, so the source's job is to make every loss visible: whenever the
subscription is interrupted (server restart, network error, or the server kicking a slow
subscriber over ``client-output-buffer-limit pubsub``, which redis-py papers over by
reconnecting and resubscribing inside ``get_message``) it records a gap in the buffer. The
thread, backoff, status and gaps are :class:`~segment_debugger.sources.base.ThreadedSource`'s;
this module is the subscription and the read loop. On a Redis Cluster the subscriptions are
spread over the nodes and kept there through failovers by
:class:`~segment_debugger.sources.pubsub_cluster.ClusterSession`; this module reads each connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from segment_debugger.core.buffer import SHARED_CHUNK, EventBuffer
from segment_debugger.core.event import Event
from segment_debugger.core.segment import parse_event
from segment_debugger.sources._link import _Link, _Raw
from segment_debugger.sources._seeded import SeededSource
from segment_debugger.sources.base import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    CONNECT_TIMEOUT_S,
    SourceStatus,
    State,
)
from segment_debugger.sources.pubsub_cluster import ClusterSession
from segment_debugger.sources.url import (
    DEFAULT_CHANNEL,
    DEFAULT_URL,
)

__all__ = ["BACKOFF_BASE_S", "BACKOFF_CAP_S", "RedisSource", "SourceStatus", "State"]

logger = logging.getLogger(__name__)

#: How long one wait for data lasts; bounds how late ``stop()`` is noticed.
POLL_TIMEOUT_S = 0.1
_CHANNEL, _PAYLOAD, _PATTERN = itemgetter(0), itemgetter(1), itemgetter(2)
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


def _connection_options(seed: str) -> dict[str, Any]:
    keepalive = {} if seed.lower().startswith("unix:") else {"socket_keepalive": True}
    return dict(_CONNECTION_OPTIONS, **keepalive)


def _names(value: str | Iterable[str], what: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"RedisSource {what} must be non-empty strings, got {item!r}")
    return tuple(dict.fromkeys(items))


class RedisSource(SeededSource):
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
        super().__init__(url, buffer, cluster=cluster, connect_timeout=connect_timeout)
        self.shard_channels = _names(shard_channels, "shard_channels")
        default = () if self.shard_channels else (DEFAULT_CHANNEL,)
        self.channels = _names(default if channels is None else channels, "channels")
        self.patterns = _names(patterns, "patterns")
        if not (self.channels or self.patterns or self.shard_channels):
            raise ValueError(
                "RedisSource needs at least one channel, pattern or shard channel to subscribe to"
            )
        self._open_pools(_connection_options)
        self._pool = self._seed_pools[0]
        self._name_cache: dict[bytes, str] = {}
        self._link: _Link | None = None  # the current single-mode session's

    def __repr__(self) -> str:
        shards = f", shard_channels={self.shard_channels!r}" if self.shard_channels else ""
        return (
            f"RedisSource({self.url!r}, channels={self.channels!r}, "
            f"patterns={self.patterns!r}{shards}, cluster={self.cluster!r}, "
            f"state={self._status.state!r})"
        )

    # ---- the session: decide the mode, subscribe, then read --------------------------------

    def _cluster_run(self) -> ClusterSession:
        return ClusterSession(self, self._seed_pools)

    def _single_session(self, stop: threading.Event) -> None:
        self._link = link = _Link(self._pool, "server", self._on_silent_reconnect)
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
        """After a read on a single server: go live once all is confirmed, buffer the batch.

        Live first: the gap is recorded before what arrived after the confirmations.
        """
        if self._status.state != "live" and link.confirmed and not link.moved:
            self._went_live(self._describe_single())
        if batch:
            self._store(batch)
            batch.clear()
        if link.moved:
            raise redis.ConnectionError(
                f"the server unsubscribed shard channels {', '.join(link.moved)}: it has "
                "become a cluster node; reconnecting to find where they are served"
            )
        self._mark_ok()

    def _describe_single(self) -> str:
        parts = []
        if self.channels or self.patterns:
            parts.append("subscribed to " + ", ".join(self.channels + self.patterns))
        if self.shard_channels:
            parts.append("shard channels " + ", ".join(self.shard_channels))
        return "; ".join(parts)

    def _close_session(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            link.close()
        super()._close_session()

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
        cluster = self._mode == "cluster"
        where = f" ({link.address})" if cluster else ""
        self._open_gap(
            f"the server{where} closed the subscription and redis-py reconnected on its own "
            "(a subscriber that falls behind is disconnected over "
            "client-output-buffer-limit pubsub, and a single message larger than its hard "
            "limit, 32 MB by default, can never be delivered over pub/sub); messages "
            "published meanwhile are lost",
            channels=[*link.channels, *link.patterns, *link.shard_channels] if cluster else None,
        )
        self._set_status(
            "reconnecting", f"resubscribing after the server{where} closed the connection"
        )

    def _store(self, batch: list[_Raw]) -> None:
        """Parse a batch (one timestamp: it was all read at once) and buffer it in one call."""
        now = time.time()
        buffer = self._buffer
        if buffer.shares_payloads:
            buffer.extend_handed(self._handed(batch, now))
            return
        if not batch:
            return
        parse = parse_event
        uniform = self._one_channel(batch)
        if uniform is not None:  # the usual read: its channel's name looked up once
            text, payloads = uniform
            events: list[Event] = [parse(data, text, now) for data in payloads]
        else:
            known = self._name_cache.get
            name = self._name
            events = [
                parse(data, known(channel) or name(channel), now)
                if pattern is None
                else parse(data, known(channel) or name(channel), now,
                           known(pattern) or name(pattern))
                for channel, data, pattern in batch
            ]
        buffer.extend(events)

    def _handed(self, batch: list[_Raw], now: float) -> Iterator[list[Event]]:
        """Parse ``batch`` a chunk at a time, each event keeping its parsed object.

        The analysis reads the objects; only a chunk's are alive at once.
        """
        known = self._name_cache.get
        name = self._name
        parse = parse_event
        uniform = self._one_channel(batch) if batch else None
        for start in range(0, len(batch), SHARED_CHUNK):
            if uniform is not None:
                one_name, payloads = uniform
                yield [parse(data, one_name, now, keep=True)
                       for data in payloads[start:start + SHARED_CHUNK]]
                continue
            events: list[Event] = []
            append = events.append
            for channel, data, pattern in batch[start:start + SHARED_CHUNK]:
                text = known(channel)
                if text is None:
                    text = name(channel)
                if pattern is None:
                    append(parse(data, text, now, keep=True))
                else:
                    append(parse(data, text, now, known(pattern) or name(pattern), keep=True))
            yield events

    def _one_channel(self, batch: list[_Raw]) -> tuple[str, list[bytes]] | None:
        """Return a read's channel name and payloads if all came on one channel, no pattern.

        Read column by column (C loops: ``zip(*batch)`` would make a tracked iterator per
        message, hundreds of allocations that set off the garbage collector), so the usual
        read is parsed without a name lookup per event.
        """
        size = len(batch)
        if list(map(_PATTERN, batch)).count(None) != size:
            return None
        channels = list(map(_CHANNEL, batch))
        if channels.count(channels[0]) != size:
            return None
        return self._name(channels[0]), list(map(_PAYLOAD, batch))

    def _name(self, raw: bytes) -> str:
        cache = self._name_cache
        text = cache.get(raw)
        if text is None:
            if len(cache) >= _NAME_CACHE_MAX:
                cache.clear()
            text = cache[raw] = raw.decode("utf-8", "replace")
        return text
