"""Pub/sub on a Redis Cluster: where each subscription lives, kept there through failovers.

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

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from segment_debugger.sources._link import _Link
from segment_debugger.sources._redispy import GuardedPool
from segment_debugger.sources.base import State
from segment_debugger.sources.cluster import (
    LOST,
    POLL_TIMEOUT_S,
    REDIRECTS,
    Address,
    NodePools,
    Topology,
    channel_slot,
    readable,
    show,
)

if TYPE_CHECKING:
    from segment_debugger.sources.pubsub import RedisSource

__all__ = ["ClusterSession"]


class ClusterSession:
    """One cluster-mode session of a RedisSource: links to nodes, polled together, repaired.

    Runs entirely in the source's reader thread; ``close()`` releases every connection.
    """

    def __init__(self, source: RedisSource, seeds: Sequence[GuardedPool]) -> None:
        self._source = source
        self._nodes = NodePools(seeds)
        self._links: dict[Address, _Link] = {}
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
                except LOST as exc:
                    self._lost(link, f"{type(exc).__name__}: {exc}")
                except REDIRECTS as exc:
                    self._lost(link, f"it answered {type(exc).__name__}: {exc}")
                else:
                    if link.moved:
                        self._moved(link)
            if (
                source.status.state != "live"
                and not self._pending()
                and all(link.confirmed for link in self._links.values())
            ):
                # Before buffering the batch: what came after the confirmations is after the gap.
                source._went_live(self._describe())
            if batch:
                source._store(batch)
                batch.clear()
            self._check_health()
            source._mark_ok()

    def close(self) -> None:
        """Close every link and pool (idempotent)."""
        for link in self._links.values():
            link.close()
        self._links.clear()
        self._nodes.close()

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
            ready.extend(polled[fd] for fd in readable(list(polled), timeout))
        return ready

    def _check_health(self) -> None:
        for link in list(self._links.values()):
            try:
                link.check_health()
            except LOST as exc:
                self._lost(link, f"health check failed: {type(exc).__name__}: {exc}")

    # ---- losing and finding subscriptions ----------------------------------------------------

    def _lost(self, link: _Link, reason: str) -> None:
        """Take a broken link's subscriptions back, open a gap, and repair at once."""
        address = self._drop(link)
        held = self._take_back(link)
        what = _listing(held)
        self._source._open_gap(
            f"cluster node {link.address} lost ({reason}); {what} re-subscribed on the node "
            "that took over",
            channels=held,
        )
        self._source._set_status(
            "reconnecting", f"cluster: node {link.address} lost ({reason}); moving {what}"
        )
        self._nodes.forget(address)
        self._retry_at = min(self._retry_at, time.monotonic())

    def _moved(self, link: _Link) -> None:
        """Re-subscribe shard channels the server dropped: their slot moved (failover...)."""
        moved, link.moved = link.moved, []
        self._shard_pending.extend(moved)
        self._source._open_gap(
            f"cluster: the slot of shard channel(s) {', '.join(moved)} moved away from "
            f"{link.address} (failover or resharding)",
            channels=moved,
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
        topology = self._nodes.discover(self._links)
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
            link = self._links[address] = _Link(
                self._nodes.get(address), show(address), source._on_silent_reconnect
            )
        existed = not link.empty
        try:
            if classic:
                self._classic_pending = False
                link.add(source.channels, source.patterns)
            else:
                link.add(shard_channels=shard_channels, one_per_command=True)
        except LOST as exc:
            problem = f"{show(address)}: {type(exc).__name__}: {exc}"
            if existed:  # it held live subscriptions: those are lost too
                self._lost(link, problem)
            else:
                self._drop(link)
                self._take_back(link)
            return problem
        return ""

    def _classic_candidates(self, topology: Topology) -> list[Address]:
        """Nodes for the classic subscriptions: one already linked, then any known node."""
        return list(dict.fromkeys([*self._links, *topology.nodes, *self._nodes.seeds]))

    def _describe(self) -> str:
        topology = self._nodes.topology
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


