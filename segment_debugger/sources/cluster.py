"""Redis Cluster: which node serves what, for the sources that read a cluster.

A key, and a shard channel, belongs to the hash slot of its name (CRC16, ``{hash tags}``
included) and is served by the primary owning that slot. This module asks the cluster for its
slot map (:class:`Topology`, ``CLUSTER SLOTS``), decides whether a source talks to a cluster at
all (:func:`check_cluster_option`, :func:`probe`, :func:`on_cluster`), keeps one connection
pool per node made like the seeds' (:class:`NodePools`), and polls many connections at once
(:func:`readable`). The sessions that use it: pub/sub in
:mod:`~segment_debugger.sources.pubsub_cluster`, streams in
:mod:`~segment_debugger.sources.stream_cluster`.
"""

from __future__ import annotations

import bisect
import logging
import select
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.crc import key_slot

from segment_debugger.sources._redispy import GuardedPool

__all__ = [
    "Address",
    "NodePools",
    "NotAClusterError",
    "Topology",
    "channel_slot",
    "check_cluster_option",
    "on_cluster",
    "probe",
    "readable",
    "show",
]

logger = logging.getLogger(__name__)

#: ``(host, port)`` of a cluster node.
Address = tuple[str, int]

#: How long one wait for data on the nodes lasts; bounds how late ``stop()`` is noticed.
POLL_TIMEOUT_S = 0.1

#: Error replies that mean "do this elsewhere, or one slot at a time": the slot is not (or no
#: longer) served here, or a command named keys or channels of several slots (CROSSSLOT).
REDIRECTS = (
    redis.exceptions.AskError,  # and MovedError
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.ClusterCrossSlotError,
)
#: A node is out of reach.
LOST = (redis.ConnectionError, redis.TimeoutError, OSError)


class NotAClusterError(redis.RedisError):
    """Cluster mode was asked for (or implied) but the server is not a cluster node."""


def channel_slot(name: str) -> int:
    """Return the cluster hash slot of a shard channel (CRC16 of the name or its ``{hash tag}``)."""
    return int(key_slot(name.encode()))


def check_cluster_option(cluster: object, seeds: Sequence[str]) -> bool:
    """Check a source's ``cluster`` argument against its seed URLs; return whether to probe.

    ``None`` means detect (``INFO cluster`` on every connect, except over ``unix://``, which a
    cluster never announces); ``True``/``False`` force the mode. Raise ValueError, saying what
    to pass, for several seeds with ``cluster=False`` or cluster mode over ``unix://``.
    """
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
    return cluster is None and tcp


def on_cluster(pools: Sequence[GuardedPool], cluster: bool | None, detect: bool) -> bool:
    """Decide a session's mode: probe the seeds when ``detect``, else take ``cluster``.

    Raise :class:`NotAClusterError` when several seeds were given and they are no cluster.
    """
    if probe(pools) if detect else bool(cluster):
        return True
    if len(pools) > 1:
        raise NotAClusterError(
            f"{len(pools)} seed nodes were given but the server is not a cluster node "
            "(INFO cluster: cluster_enabled:0); give one URL for a single server, or the URLs "
            "of cluster nodes"
        )
    return False


def probe(pools: Sequence[GuardedPool]) -> bool:
    """Ask the first seed that answers whether it is a cluster node (``INFO cluster``).

    A server that refuses INFO (ACLs, renamed command) is asked ``CLUSTER INFO`` instead, and
    taken for a single server when it refuses that too. Raise the last connection error when
    no seed answers.
    """
    error: Exception | None = None
    for pool in pools:
        client = redis.Redis(connection_pool=_derived(pool, db=0))
        try:
            try:
                return bool(client.info("cluster").get("cluster_enabled"))
            except redis.ResponseError:
                try:
                    client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
                except redis.ResponseError:
                    return False
                return True
        except LOST as exc:
            error = exc
        finally:
            client.connection_pool.disconnect()
    assert error is not None
    raise error


@dataclass(frozen=True, slots=True)
class Topology:
    """Which primary serves which slots, and every node known (primaries first)."""

    starts: tuple[int, ...]
    """First slot of each range, sorted."""
    ranges: tuple[tuple[int, int, Address], ...]
    """``(first slot, last slot, primary)``, sorted by first slot."""
    nodes: tuple[Address, ...]
    """Every node named, primaries first, then replicas."""

    @property
    def primaries(self) -> tuple[Address, ...]:
        """The primaries that serve at least one slot."""
        return tuple(dict.fromkeys(primary for _, _, primary in self.ranges))

    def owner(self, slot: int) -> Address | None:
        """Return the primary serving ``slot``, or None when no node serves it."""
        i = bisect.bisect_right(self.starts, slot) - 1
        if i >= 0:
            first, last, primary = self.ranges[i]
            if first <= slot <= last:
                return primary
        return None

    @classmethod
    def from_slots(cls, reply: Any, asked: Address) -> Topology:
        """Parse a ``CLUSTER SLOTS`` reply (an empty host means the node that was asked)."""
        ranges = []
        primaries: list[Address] = []
        replicas: list[Address] = []
        for entry in sorted(reply, key=lambda entry: int(entry[0])):
            first, last, *nodes = entry
            addresses = [_address(node, asked) for node in nodes]
            ranges.append((int(first), int(last), addresses[0]))
            primaries.append(addresses[0])
            replicas.extend(addresses[1:])
        nodes_ = tuple(dict.fromkeys(primaries + replicas))
        return cls(tuple(r[0] for r in ranges), tuple(ranges), nodes_)


def _address(node: Sequence[Any], asked: Address) -> Address:
    host = node[0].decode() if isinstance(node[0], bytes) else str(node[0] or "")
    if host in ("", "?"):
        host = asked[0]
    return host, int(node[1])


def fetch_topology(pool: redis.ConnectionPool, asked: Address) -> Topology:
    """Ask one node for the slot map (``CLUSTER SLOTS``); NotAClusterError if it has none."""
    client = redis.Redis(connection_pool=pool)
    try:
        reply = client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
    except redis.ResponseError as exc:
        if "cluster support disabled" in str(exc) or "unknown command" in str(exc).lower():
            raise NotAClusterError(
                f"{asked[0]}:{asked[1]} is not a Redis Cluster node ({exc}) but cluster=True "
                "was given: pass cluster=False for a single server (or cluster=None to "
                "detect it), or the URL of a cluster node"
            ) from None
        raise
    return Topology.from_slots(reply, asked)


def _derived(template: GuardedPool, **overrides: Any) -> GuardedPool:
    """Return a pool like ``template`` (class, TLS, credentials, options), some options changed."""
    kwargs = dict(template.connection_kwargs, **overrides)
    pool = GuardedPool(connection_class=template.connection_class, **kwargs)
    pool.interrupter = template.interrupter
    return pool


def _pool_address(pool: redis.ConnectionPool) -> Address:
    kwargs = pool.connection_kwargs
    return str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379))


def show(address: Address) -> str:
    """Return ``host:port``."""
    return f"{address[0]}:{address[1]}"


class NodePools:
    """One connection pool per cluster node, each made like the first seed's (TLS, options).

    The seeds' pools are kept for the whole session; others are made on demand and dropped
    with :meth:`forget` when their node is lost. ``topology`` is the last slot map fetched.
    """

    def __init__(self, seeds: Sequence[GuardedPool]) -> None:
        self._template = seeds[0]
        self._pools: dict[Address, GuardedPool] = {}
        for seed in seeds:
            self._pools.setdefault(_pool_address(seed), _derived(seed, db=0))
        self.seeds: list[Address] = list(self._pools)
        """The seed nodes' addresses, in the order given."""
        self.topology: Topology | None = None
        """The slot map last fetched by :meth:`discover`, or None before."""

    def get(self, address: Address) -> GuardedPool:
        """Return the pool of ``address``, making it if needed."""
        pool = self._pools.get(address)
        if pool is None:
            pool = self._pools[address] = self._make(address)
        return pool

    def forget(self, address: Address) -> None:
        """Close and drop the pool of a lost node (seeds are kept: they may come back)."""
        if address not in self.seeds:
            pool = self._pools.pop(address, None)
            if pool is not None:
                pool.disconnect()

    def discover(self, first: Iterable[Address] = ()) -> Topology:
        """Fetch the slot map from ``first``, else the seeds, else any node known; keep it.

        Raise ConnectionError naming every node tried when none answers, and
        :class:`NotAClusterError` when one answers that it is no cluster node.
        """
        known = self.topology.nodes if self.topology is not None else ()
        errors = []
        for address in dict.fromkeys([*first, *self.seeds, *known]):
            pool = self._pools.get(address) or self._make(address)
            try:
                self.topology = fetch_topology(pool, address)
                return self.topology
            except LOST as exc:
                errors.append(f"{show(address)}: {type(exc).__name__}: {exc}")
            finally:
                if address not in self._pools:
                    pool.disconnect()
        raise redis.ConnectionError("no cluster node answered: " + "; ".join(errors))

    def close(self) -> None:
        """Disconnect every pool (idempotent)."""
        for pool in self._pools.values():
            pool.disconnect()

    def _make(self, address: Address) -> GuardedPool:
        return _derived(self._template, host=address[0], port=address[1], db=0)


def readable(fds: list[int], timeout: float) -> list[int]:
    """Return the descriptors among ``fds`` readable within ``timeout`` s (poll where available)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return [fd for fd, _ in poller.poll(timeout * 1000)]
    readable, _, _ = select.select(fds, [], [], timeout)  # pragma: no cover - Windows
    return list(readable)
