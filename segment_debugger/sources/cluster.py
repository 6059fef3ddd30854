"""Redis Cluster: where each subscription lives, and keeping it there through failovers.

Classic pub/sub (SUBSCRIBE, PSUBSCRIBE) is broadcast over the cluster bus to every node, so a
source subscribes its channels and patterns on one node, any node, and moves them to another
when that one fails. Sharded pub/sub (SSUBSCRIBE, Redis >= 7) is not broadcast: a shard
channel belongs to the slot of its name (CRC16, hash tags included, as for keys) and is served
by the primary owning that slot, so each one is subscribed there, one connection per primary.

:class:`ClusterSession` runs one session of a :class:`~segment_debugger.sources.pubsub.RedisSource`
in cluster mode, in the source's reader thread: it maps slots to primaries (``CLUSTER SLOTS``),
opens one connection per node it needs, polls them together, and repairs what breaks without
touching the rest: a node that fails (connection lost), a ``MOVED`` reply, or the server
unsubscribing a shard channel (its slot moved: failover, resharding) opens a gap and puts the
affected subscriptions back in a pending list; they are re-subscribed on the current owner
(topology asked again, retried with the source's backoff while a replica is being promoted),
and the gap is recorded once every subscription is confirmed again. Only when no node at all
answers does the session fail, and the source starts a new one from the seed nodes.
"""

from __future__ import annotations

import bisect
import logging
import select
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import redis
from redis.crc import key_slot

from segment_debugger.sources._redispy import GuardedPool
from segment_debugger.sources.base import State

if TYPE_CHECKING:
    from segment_debugger.sources.pubsub import RedisSource, _Link

__all__ = ["ClusterSession", "NotAClusterError", "Topology", "channel_slot", "probe"]

logger = logging.getLogger(__name__)

#: ``(host, port)`` of a cluster node.
Address = tuple[str, int]

#: How long one wait for data on the nodes lasts; bounds how late ``stop()`` is noticed.
POLL_TIMEOUT_S = 0.1

#: Error replies that mean "subscribe these elsewhere, or one by one": the slot is not (or no
#: longer) served here, or redis-py resubscribed several slots' channels in one SSUBSCRIBE
#: after reconnecting by itself (CROSSSLOT). The link is then rebuilt from scratch.
_REDIRECTS = (
    redis.exceptions.AskError,  # and MovedError
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.ClusterCrossSlotError,
)
_LOST = (redis.ConnectionError, redis.TimeoutError, OSError)


class NotAClusterError(redis.RedisError):
    """Cluster mode was asked for (or implied) but the server is not a cluster node."""


def channel_slot(name: str) -> int:
    """Return the cluster hash slot of a shard channel (CRC16 of the name or its ``{hash tag}``)."""
    return int(key_slot(name.encode()))


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
        except _LOST as exc:
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


def _show(address: Address) -> str:
    return f"{address[0]}:{address[1]}"


class ClusterSession:
    """One cluster-mode session of a RedisSource: links to nodes, polled together, repaired.

    Runs entirely in the source's reader thread; ``close()`` releases every connection.
    """

    def __init__(self, source: RedisSource, seeds: Sequence[GuardedPool]) -> None:
        self._source = source
        self._template = seeds[0]
        self._pools: dict[Address, GuardedPool] = {}
        for seed in seeds:
            self._pools.setdefault(_pool_address(seed), _derived(seed, db=0))
        self._seeds = list(self._pools)
        self._links: dict[Address, _Link] = {}
        self._topology: Topology | None = None
        self._classic_pending = bool(source.channels or source.patterns)
        self._shard_pending: list[str] = list(source.shard_channels)
        self._retry_at = 0.0
        self._waiting_for = ""

    # ---- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Subscribe everything where it belongs, then read until ``stop`` is set."""
        source = self._source
        batch: list[Any] = []
        while not stop.is_set():
            if self._pending() and time.monotonic() >= self._retry_at:
                self._repair()
                continue
            for link in self._ready(stop):
                try:
                    link.read(batch)
                except _LOST as exc:
                    self._lost(link, f"{type(exc).__name__}: {exc}")
                except _REDIRECTS as exc:
                    self._lost(link, f"it answered {type(exc).__name__}: {exc}")
                else:
                    if link.moved:
                        self._moved(link)
            if batch:
                source._store(batch)
                batch.clear()
            self._check_health()
            if (
                source.status.state != "live"
                and not self._pending()
                and all(link.confirmed for link in self._links.values())
            ):
                source._went_live(self._describe())
            source._mark_ok()

    def close(self) -> None:
        """Close every link and pool (idempotent)."""
        for link in self._links.values():
            link.close()
        self._links.clear()
        for pool in self._pools.values():
            pool.disconnect()

    def _pending(self) -> bool:
        return self._classic_pending or bool(self._shard_pending)

    def _ready(self, stop: threading.Event) -> list[_Link]:
        """Return the links with something to read, after waiting up to POLL_TIMEOUT_S for one."""
        links = list(self._links.values())
        if not links:
            timeout = max(0.0, min(POLL_TIMEOUT_S, self._retry_at - time.monotonic()))
            stop.wait(timeout)
            return []
        ready = [link for link in links if link.more]
        polled: dict[int, _Link] = {}
        for link in links:
            fd = link.fileno()
            if fd is None:
                ready.append(link)  # not connected: reading reconnects or raises
            elif not link.more:
                polled[fd] = link
        timeout = 0.0 if ready else POLL_TIMEOUT_S
        if self._pending():
            timeout = max(0.0, min(timeout, self._retry_at - time.monotonic()))
        if polled:
            ready.extend(polled[fd] for fd in _readable(list(polled), timeout))
        return ready

    def _check_health(self) -> None:
        for link in list(self._links.values()):
            try:
                link.check_health()
            except _LOST as exc:
                self._lost(link, f"health check failed: {type(exc).__name__}: {exc}")

    # ---- losing and finding subscriptions ----------------------------------------------------

    def _lost(self, link: _Link, reason: str) -> None:
        """Take a broken link's subscriptions back, open a gap, and repair at once."""
        address = self._drop(link)
        held = self._take_back(link)
        what = _listing(held)
        self._source._open_gap(
            f"cluster node {link.address} lost ({reason}); {what} re-subscribed on the node "
            "that took over"
        )
        self._source._set_status(
            "reconnecting", f"cluster: node {link.address} lost ({reason}); moving {what}"
        )
        pool = self._pools.pop(address, None) if address not in self._seeds else None
        if pool is not None:
            pool.disconnect()
        self._retry_at = min(self._retry_at, time.monotonic())

    def _moved(self, link: _Link) -> None:
        """Re-subscribe shard channels the server dropped: their slot moved (failover...)."""
        moved, link.moved = link.moved, []
        self._shard_pending.extend(moved)
        self._source._open_gap(
            f"cluster: the slot of shard channel(s) {', '.join(moved)} moved away from "
            f"{link.address} (failover or resharding)"
        )
        self._source._set_status(
            "reconnecting", f"cluster: shard channel(s) {', '.join(moved)} moving to a new owner"
        )
        if link.empty:
            self._drop(link)
        self._retry_at = min(self._retry_at, time.monotonic())

    def _drop(self, link: _Link) -> Address:
        address = next((a for a, held in self._links.items() if held is link), ("", 0))
        self._links.pop(address, None)
        link.close()
        return address

    def _take_back(self, link: _Link) -> list[str]:
        held = list(link.shard_channels) + link.moved
        link.moved = []
        self._shard_pending.extend(held)
        if link.channels or link.patterns:
            self._classic_pending = True
            held = list(link.channels) + list(link.patterns) + held
        return held

    def _repair(self) -> None:
        """Subscribe what is pending on the nodes that serve it now; retry later what fails."""
        source = self._source
        topology = self._topology = self._discover()
        by_owner: dict[Address, list[str]] = {}
        unserved: list[str] = []
        for name in self._shard_pending:
            owner = topology.owner(channel_slot(name))
            if owner is None:
                unserved.append(name)
            else:
                by_owner.setdefault(owner, []).append(name)
        self._shard_pending = list(unserved)
        problems = [f"no node serves the slot of {', '.join(unserved)}"] if unserved else []
        for owner, names in by_owner.items():
            problem = self._subscribe_on(owner, shard_channels=names)
            if problem:
                problems.append(problem)
        if self._classic_pending:
            problem = ""
            for address in self._classic_candidates(topology):
                problem = self._subscribe_on(address, classic=True)
                if not problem:
                    break
            if problem:
                problems.append(problem)
        if self._pending():
            self._retry_at = time.monotonic() + source._next_backoff()
            self._waiting_for = "; ".join(problems)
            state: State = "reconnecting" if source._ever_live else "connecting"
            source._set_status(state, f"cluster, {len(topology.primaries)} shards: "
                                      f"waiting ({self._waiting_for})")
        else:
            self._waiting_for = ""

    def _subscribe_on(
        self, address: Address, shard_channels: Sequence[str] = (), classic: bool = False
    ) -> str:
        """Subscribe on ``address`` (connecting if needed); return what went wrong, or ''."""
        source = self._source
        link = self._links.get(address)
        if link is None:
            pool = self._pools.get(address)
            if pool is None:
                pool = self._pools[address] = _derived(
                    self._template, host=address[0], port=address[1], db=0
                )
            link = self._links[address] = source._open_link(pool, _show(address))
        existed = not link.empty
        try:
            if classic:
                self._classic_pending = False
                link.add(source.channels, source.patterns)
            else:
                link.add(shard_channels=shard_channels, one_per_command=True)
        except _LOST as exc:
            problem = f"{_show(address)}: {type(exc).__name__}: {exc}"
            if existed:  # it held live subscriptions: those are lost too
                self._lost(link, problem)
            else:
                self._drop(link)
                self._take_back(link)
            return problem
        return ""

    def _classic_candidates(self, topology: Topology) -> list[Address]:
        """Nodes for the classic subscriptions: one already linked, then any known node."""
        return list(dict.fromkeys([*self._links, *topology.nodes, *self._seeds]))

    def _discover(self) -> Topology:
        """Ask the nodes, linked ones first, then seeds, then others, for the slot map."""
        known = self._topology.nodes if self._topology is not None else ()
        errors = []
        for address in dict.fromkeys([*self._links, *self._seeds, *known]):
            pool = self._pools.get(address) or _derived(
                self._template, host=address[0], port=address[1], db=0
            )
            try:
                return fetch_topology(pool, address)
            except _LOST as exc:
                errors.append(f"{_show(address)}: {type(exc).__name__}: {exc}")
            finally:
                if address not in self._pools:
                    pool.disconnect()
        raise redis.ConnectionError("no cluster node answered: " + "; ".join(errors))

    def _describe(self) -> str:
        topology = self._topology
        shards = len(topology.primaries) if topology is not None else 0
        parts = [f"cluster, {shards} shards"]
        source = self._source
        classic = next((k for k in self._links.values() if k.channels or k.patterns), None)
        if classic is not None:
            parts.append(
                f"{', '.join(source.channels + source.patterns)} on {classic.address}"
            )
        if source.shard_channels:
            primaries = sum(1 for link in self._links.values() if link.shard_channels)
            parts.append(
                f"{len(source.shard_channels)} shard channel(s) on {primaries} primaries"
            )
        return ": ".join(parts[:2]) + ("; " + parts[2] if len(parts) > 2 else "")


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return shown or "nothing"


def _readable(fds: list[int], timeout: float) -> list[int]:
    """Return the descriptors among ``fds`` readable within ``timeout`` s (poll where available)."""
    if hasattr(select, "poll"):
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return [fd for fd, _ in poller.poll(timeout * 1000)]
    readable, _, _ = select.select(fds, [], [], timeout)  # pragma: no cover - Windows
    return list(readable)
