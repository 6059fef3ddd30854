"""Write Segment messages to Redis: where they go (:class:`Target`), a client, one batch.

A :class:`Target` is a pub/sub channel (``PUBLISH``), a sharded channel (``SPUBLISH``,
Redis >= 7) or a stream (``XADD``, field ``data``, optionally trimmed ``MAXLEN ~ N``); build one
with :func:`target`. :func:`connect` returns the right client for a URL: a plain one, or a
``RedisCluster`` for a seed list or a cluster node. :func:`publish_batch` sends a list of
payloads in one round trip. What is written is the caller's: :func:`~.replay.replay` sends a
recording back, the playground's fake stream (``playground/publisher.py``) paces made-up events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import redis
from redis.cluster import ClusterNode, RedisCluster

from segment_debugger.sources._redispy import default_node_client, send_packed
from segment_debugger.sources.url import DEFAULT_CHANNEL, split_seed_urls

#: The field of each stream entry that holds the message (the one StreamSource reads first).
STREAM_FIELD = "data"

Kind = Literal["channel", "sharded", "stream"]


@dataclass(frozen=True)
class Target:
    """Where messages go: the one place that decides between channel, sharded channel, stream.

    ``kind`` is ``"channel"`` (PUBLISH), ``"sharded"`` (SPUBLISH, Redis >= 7: on a cluster
    only the shard owning the channel's slot carries it) or ``"stream"`` (XADD, the message
    in field ``data``; with ``maxlen`` the stream is trimmed to about that many entries,
    ``MAXLEN ~ N``). Build one with :func:`target`.
    """

    name: str
    kind: Kind = "channel"
    maxlen: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(
                f"a channel or stream name must be a non-empty string, got {self.name!r}"
            )
        if self.kind not in ("channel", "sharded", "stream"):
            raise ValueError(f"kind must be 'channel', 'sharded' or 'stream', got {self.kind!r}")
        if self.maxlen is not None:
            if self.kind != "stream":
                raise ValueError("maxlen trims a stream: it needs kind='stream' (stream=True)")
            if isinstance(self.maxlen, bool) or not isinstance(self.maxlen, int) or self.maxlen < 1:
                raise ValueError(f"maxlen must be a positive int, got {self.maxlen!r}")

    @property
    def keyed(self) -> bool:
        """True when the command names a key (slot) a cluster routes by: SPUBLISH and XADD."""
        return self.kind != "channel"

    def command(self, payload: bytes) -> tuple[Any, ...]:
        """Return the Redis command that sends ``payload`` to this target."""
        if self.kind == "channel":
            return ("PUBLISH", self.name, payload)
        if self.kind == "sharded":
            return ("SPUBLISH", self.name, payload)
        trim = ("MAXLEN", "~", self.maxlen) if self.maxlen is not None else ()
        return ("XADD", self.name, *trim, "*", STREAM_FIELD, payload)

    def __str__(self) -> str:
        if self.kind == "channel":
            return f"channel {self.name!r}"
        if self.kind == "sharded":
            return f"shard channel {self.name!r}"
        trim = f" (MAXLEN ~ {self.maxlen})" if self.maxlen is not None else ""
        return f"stream {self.name!r}{trim}"


def target(
    name: str | Target = DEFAULT_CHANNEL,
    *,
    stream: bool = False,
    sharded: bool = False,
    maxlen: int | None = None,
) -> Target:
    """Return the :class:`Target` for ``name`` (a channel unless a flag says otherwise).

    With ``sharded`` a shard channel (SPUBLISH), with ``stream`` a stream (XADD, trimmed to
    about ``maxlen`` entries). A :class:`Target` is returned as it is (the flags must then
    be left at their defaults).
    """
    if isinstance(name, Target):
        if stream or sharded or maxlen is not None:
            raise ValueError("pass either a Target or a name with stream/sharded/maxlen")
        return name
    if stream and sharded:
        raise ValueError("a target is a stream or a sharded channel, not both")
    kind: Kind = "stream" if stream else "sharded" if sharded else "channel"
    return Target(name, kind, maxlen)


def connect(url: str, **options: Any) -> redis.Redis | RedisCluster:
    """Return a client for ``url``: a ``RedisCluster`` for a cluster, else a plain ``Redis``.

    ``url`` may be a seed list (``redis://h1:7000,h2:7001``, see
    :func:`~segment_debugger.sources.url.split_seed_urls`): that is always a cluster. One URL
    is a cluster when its server says so (``INFO cluster``). ``options`` (timeouts) go to the
    client. Raises ``RedisURLError`` (a ValueError) for a bad URL and Redis errors as they come.
    """
    seeds = split_seed_urls(url)
    if len(seeds) > 1:
        return _cluster(seeds, options)
    client = redis.Redis.from_url(seeds[0], **options)
    if seeds[0].lower().startswith("unix:"):
        return client
    try:
        info = client.info("cluster")
    except redis.ResponseError:  # a server without INFO cluster (fakeredis) is no cluster
        return client
    except BaseException:
        client.close()
        raise
    if not info.get("cluster_enabled"):
        return client
    client.close()
    return _cluster(seeds, options)


def _cluster(seeds: tuple[str, ...], options: dict[str, Any]) -> RedisCluster:
    others = []
    for seed in seeds[1:]:
        parsed = redis.connection.parse_url(seed)
        others.append(ClusterNode(parsed["host"], parsed.get("port", 6379)))
    return RedisCluster(url=seeds[0], startup_nodes=others, **options)


def publish_batch(
    client: redis.Redis | RedisCluster, channel: str | Target, payloads: list[bytes]
) -> None:
    """Send every payload to ``channel`` (a channel name or a :class:`Target`) in one round trip.

    On one server the commands are packed on a pooled connection and the replies read: about
    twice as fast as a redis-py pipeline, which matters at tens of thousands of messages per
    second. On a cluster, SPUBLISH and XADD go through a cluster pipeline (routed to the slot's
    owner, redirects followed); PUBLISH, which a cluster broadcasts, goes to one node.
    A command the server refuses raises its ``ResponseError``.
    """
    if not payloads:
        return
    to = target(channel)
    commands = [to.command(p) for p in payloads]
    if isinstance(client, RedisCluster):
        if to.keyed:
            pipe = client.pipeline()
            for command in commands:
                pipe.execute_command(*command)
            pipe.execute()
            return
        client = default_node_client(client)
    send_packed(client, commands)
