"""Streams on a Redis Cluster: each stream read on the primary owning its key's slot.

A stream is a key, and a cluster serves a key on the primary owning its hash slot. One XREAD
cannot name keys of two slots, even on one node (CROSSSLOT), so :class:`StreamClusterSession`
reads slot by slot: the streams of one slot (usually one stream, or several sharing a
``{hash tag}``) are a :class:`_SlotReader`, read with the source's exact trim accounting (XINFO
in the read's MULTI). Caught up, a reader sends a blocking ``XREAD ... BLOCK`` on a connection
of its own and the session polls all those sockets at once (``select.poll``, as the pub/sub
cluster session does): a new entry on any shard wakes the reader at once, whichever node it
is on, and the other shards are never kept waiting behind it.

A reader whose node fails, or whose slot answers MOVED (failover, resharding), is put back in
a pending list and re-placed on the slot's current owner (topology asked again, retried with
the source's backoff while a replica is being promoted), resuming after its last entry read;
the other readers keep reading meanwhile. Replication is asynchronous, so the promoted replica
may lack entries the failed primary had accepted: the source checks each stream's last id on
the new owner and records what was lost (see ``StreamSource._check_kept``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import redis

from segment_debugger.sources._redispy import GuardedPool, read_reply, socket_fileno
from segment_debugger.sources.base import State
from segment_debugger.sources.cluster import (
    LOST,
    POLL_TIMEOUT_S,
    REDIRECTS,
    Address,
    NodePools,
    channel_slot,
    readable,
    show,
)

if TYPE_CHECKING:
    from segment_debugger.sources.streams import StreamSource

__all__ = ["StreamClusterSession"]


class _SlotReader:
    """The streams of one hash slot, read on the primary that owns it."""

    def __init__(
        self, slot: int, names: Sequence[str], address: Address, pool: GuardedPool,
        client: redis.Redis,
    ) -> None:
        self.slot = slot
        self.names = tuple(names)
        self.address = address
        self.pool = pool
        self.client = client
        """Runs the counted reads (and acknowledgements), a pool connection at a time."""
        self.waiting: Any = None
        """The connection a blocking read was sent on, until its reply is taken."""

    def begin_wait(self, command: Sequence[Any]) -> None:
        """Send a blocking read on a connection of its own; the reply is taken later."""
        connection: Any = self.pool.get_connection()
        try:
            connection.send_command(*command)
        except BaseException:
            connection.disconnect()
            self.pool.release(connection)
            raise
        self.waiting = connection

    def fileno(self) -> int | None:
        """Return the waiting connection's socket (None: not waiting, or unknown)."""
        return socket_fileno(self.waiting)

    def end_wait(self) -> Any:
        """Take the blocking read's reply (waits for it unless polled readable first)."""
        connection, self.waiting = self.waiting, None
        try:
            return read_reply(connection)
        except BaseException:
            connection.disconnect()
            raise
        finally:
            self.pool.release(connection)

    def close(self) -> None:
        """Drop the waiting connection, if any (its blocked read is abandoned)."""
        connection, self.waiting = self.waiting, None
        if connection is not None:
            connection.disconnect()
            self.pool.release(connection)


class StreamClusterSession:
    """One cluster-mode session of a StreamSource: slot readers, polled together, repaired.

    Runs entirely in the source's reader thread; ``close()`` releases every connection.
    """

    def __init__(self, source: StreamSource, seeds: Sequence[GuardedPool]) -> None:
        self._source = source
        self._nodes = NodePools(seeds)
        self._readers: dict[int, _SlotReader] = {}
        self._pending: dict[int, list[str]] = {}
        for name in source.streams:
            self._pending.setdefault(channel_slot(name), []).append(name)
        self._retry_at = 0.0
        self._resumed = False

    def run(self, stop: threading.Event) -> None:
        """Place every stream on its slot's owner, then read until ``stop`` is set."""
        source = self._source
        while not stop.is_set():
            if self._pending and time.monotonic() >= self._retry_at:
                self._place()
            busy = False
            for reader in list(self._readers.values()):
                if reader.waiting is None:
                    busy = self._step(reader) or busy
            self._wait(stop, 0.0 if busy else POLL_TIMEOUT_S)
            if source.status.state != "live" and not self._pending and self._readers:
                shards = len({reader.address for reader in self._readers.values()})
                source._went_live(source._describe(self._resumed, shards))
            source._mark_ok()

    def close(self) -> None:
        """Close every reader and pool (idempotent)."""
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
        self._nodes.close()

    # ---- reading ---------------------------------------------------------------------------

    def _step(self, reader: _SlotReader) -> bool:
        """Read one batch of the reader's streams; caught up, start waiting. True if read."""
        source = self._source
        try:
            if source._read(reader.client, reader.names):
                return True
            reader.begin_wait(source._wait_command(reader.names))
        except LOST as exc:
            self._lost(reader, f"{type(exc).__name__}: {exc}")
        except REDIRECTS as exc:
            self._lost(reader, f"it answered {type(exc).__name__}: {exc}")
        return False

    def _wait(self, stop: threading.Event, timeout: float) -> None:
        """Wait up to ``timeout`` s for a blocked read to return; take the replies that did."""
        ready: list[_SlotReader] = []
        polled: dict[int, _SlotReader] = {}
        for reader in self._readers.values():
            if reader.waiting is not None:
                fd = reader.fileno()
                if fd is None:
                    ready.append(reader)  # cannot poll it: its read returns within BLOCK_MS
                else:
                    polled[fd] = reader
        timeout = 0.0 if ready else timeout
        if self._pending:
            timeout = max(0.0, min(timeout, self._retry_at - time.monotonic()))
        if polled:
            ready.extend(polled[fd] for fd in readable(list(polled), timeout))
        elif not ready and timeout > 0:
            stop.wait(timeout)
        for reader in ready:
            try:
                self._source._took(reader.client, reader.end_wait())
            except LOST as exc:
                self._lost(reader, f"{type(exc).__name__}: {exc}")
            except REDIRECTS as exc:
                self._lost(reader, f"it answered {type(exc).__name__}: {exc}")

    # ---- losing and placing slots ----------------------------------------------------------

    def _lost(self, reader: _SlotReader, reason: str) -> None:
        """Put a reader's streams back in the pending list; re-place them at once."""
        self._readers.pop(reader.slot, None)
        reader.close()
        self._pending[reader.slot] = list(reader.names)
        if all(other.address != reader.address for other in self._readers.values()):
            self._nodes.forget(reader.address)
        self._source._set_status(
            "reconnecting",
            f"cluster: stream {', '.join(reader.names)} on {show(reader.address)} lost "
            f"({reason}); reading on where its slot is served now",
        )
        self._retry_at = min(self._retry_at, time.monotonic())

    def _place(self) -> None:
        """Open a reader for each pending slot on its owner; retry later what fails."""
        source = self._source
        linked = [reader.address for reader in self._readers.values()]
        topology = self._nodes.discover(linked)
        problems = []
        for slot, names in list(self._pending.items()):
            owner = topology.owner(slot)
            if owner is None:
                problems.append(f"no node serves the slot of {', '.join(names)}")
                continue
            pool = self._nodes.get(owner)
            client = source._new_client(pool)
            try:
                self._resumed = source._prepare(client, names, show(owner)) or self._resumed
            except LOST as exc:
                problems.append(f"{show(owner)}: {type(exc).__name__}: {exc}")
                continue
            except REDIRECTS as exc:
                problems.append(f"{show(owner)} answered {type(exc).__name__}: {exc}")
                continue
            del self._pending[slot]
            self._readers[slot] = _SlotReader(slot, names, owner, pool, client)
        if self._pending:
            self._retry_at = time.monotonic() + source._next_backoff()
            state: State = "reconnecting" if source._ever_live else "connecting"
            source._set_status(
                state, f"cluster, {len(topology.primaries)} shards: waiting "
                f"({'; '.join(problems)})",
            )
