"""StreamSource: Redis Streams into an EventBuffer, with no loss across reconnects.

Streams keep what was published, so unlike pub/sub nothing is lost while the source is away:
it remembers the last entry id it buffered per stream and resumes after it (``XREAD``), or,
in a consumer group, reads its own pending entries first and acknowledges a batch only once it
is buffered (``XREADGROUP`` + ``XACK``). The one real loss is trimming (``MAXLEN``/``MINID``)
past the last entry read; on Redis >= 7 the source counts the entries trimmed unread and
records them as a gap with that exact number. The other is a server that lost entries already
read (a cluster failover to a replica that had not received them, a restart without
persistence): the source notices when it reconnects, says so in a gap, and reads on.

On a Redis Cluster each stream lives on the primary owning its key's slot:
:class:`~segment_debugger.sources.stream_cluster.StreamClusterSession` reads each slot there.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources import _stream_replies as rep
from segment_debugger.sources._redispy import GuardedPool
from segment_debugger.sources._seeded import SeededSource
from segment_debugger.sources._stream_positions import StreamPositions
from segment_debugger.sources._stream_read import CountedRead
from segment_debugger.sources._stream_replies import DEFAULT_FIELDS, parse_start
from segment_debugger.sources._stream_store import store
from segment_debugger.sources.base import CONNECT_TIMEOUT_S

if TYPE_CHECKING:
    from segment_debugger.sources.stream_cluster import StreamClusterSession

__all__ = ["BLOCK_MS", "DEFAULT_FIELDS", "StreamSource", "parse_start"]

logger = logging.getLogger(__name__)

#: How long one blocking read waits (ms); bounds how late ``stop()`` is noticed. Far below
#: the socket timeout, so a quiet stream never trips redis-py's read timeout.
BLOCK_MS = 250
#: The socket timeout for every command (the blocking read included: see BLOCK_MS).
SOCKET_TIMEOUT_S = 10.0
#: After this many full reads in a row at a reduced COUNT, the COUNT doubles again (up to
#: ``batch``): see ``StreamSource._single_session``.
GROW_AFTER = 20

#: Stream name -> the id to read after, as redis-py's xread/xreadgroup take them.
_StreamIds = dict[bytes | str | memoryview, int | bytes | str | memoryview]


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items:
        raise ValueError("StreamSource needs at least one stream name")
    for item in items:
        if not isinstance(item, str) or not item:
            raise ValueError(f"StreamSource streams must be non-empty strings, got {item!r}")
    return tuple(dict.fromkeys(items))


class StreamSource(StreamPositions, SeededSource):
    """Read Redis Streams into ``buffer`` from one daemon thread, losing nothing on reconnect.

    ``streams``: one name or several. ``start``: where reading begins (see
    :func:`parse_start`): ``"$"`` new entries only (default), ``"0"`` the whole stream, an
    entry id (exclusive), a ``datetime``, or a ``timedelta`` back from now. Each entry holds a
    Segment message in one field: ``field`` names it; by default the source takes ``data``,
    else ``event``, else ``payload``, else the entry's only field; an entry with none of these
    is kept as an invalid event whose violation names its fields.

    With ``group`` the source reads as ``consumer`` (default: host name and pid) of that
    consumer group (created at ``start`` with MKSTREAM if missing), acknowledges each batch once
    it is buffered, and reads its own pending entries first, so a restarted debugger loses
    nothing; two sources in one group split the stream.

    ``url`` may name a Redis Cluster: any node, or seed nodes (``redis://h1:7000,h2:7001`` or a
    list of URLs). ``cluster=None`` asks the server (``INFO cluster``), ``True``/``False`` force
    the mode. On a cluster each stream is read on the primary owning its key's slot, and
    followed to the new owner after a failover or resharding, from its last entry read.

    Events keep their entry id in ``stream_id`` and their stream name in ``channel``.
    """

    thread_name = "segment-debugger-stream"
    resumes_without_loss = True

    def __init__(
        self,
        url: str | Sequence[str],
        streams: str | Iterable[str] = ("events",),
        *,
        start: str | datetime | timedelta = "$",
        group: str | None = None,
        consumer: str | None = None,
        field: str | None = None,
        batch: int = 1000,
        buffer: EventBuffer | None = None,
        cluster: bool | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
    ) -> None:
        super().__init__(url, buffer, cluster=cluster, connect_timeout=connect_timeout)
        self.streams = _names(streams)
        self.start_at = parse_start(start)
        if group is not None and (not isinstance(group, str) or not group):
            raise ValueError(f"StreamSource group must be a non-empty string, got {group!r}")
        self.group = group
        self.consumer = consumer or f"segment-debugger-{socket.gethostname()}-{os.getpid()}"
        if field is not None and (not isinstance(field, str) or not field):
            raise ValueError(f"StreamSource field must be a non-empty string, got {field!r}")
        self.field = field
        if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 100_000:
            raise ValueError(f"StreamSource batch must be an int in [1, 100000], got {batch!r}")
        self.batch = batch
        self._count = batch  # the COUNT read with now: halved after sessions that read nothing
        self._full_reads = 0
        timeout = SOCKET_TIMEOUT_S  # read now: tests change it
        self._open_pools(lambda _seed: {
            "socket_timeout": timeout, "health_check_interval": 0, "retry": Retry(NoBackoff(), 0)
        })
        for pool in self._seed_pools:  # entry ids and payloads are bytes, whatever the URL says
            pool.connection_kwargs["decode_responses"] = False  # (a cluster's pools copy these)
        self._cursors: dict[str, rep.Cursor] = {}
        self._keys = {name: name.encode() for name in self.streams}
        self._key_names: dict[bytes, str] = {}  # stream key in replies -> its name
        self._pending_done: set[str] = set()
        self._client: redis.Redis | None = None  # the current single-mode session's
        self._ahead: CountedRead | None = None  # its reads sent ahead (plain XREAD)

    def __repr__(self) -> str:
        group = f", group={self.group!r}" if self.group else ""
        return (
            f"StreamSource({self.url!r}, streams={self.streams!r}, start={self.start_at!r}"
            f"{group}, cluster={self.cluster!r}, state={self._status.state!r})"
        )

    @property
    def last_ids(self) -> dict[str, str]:
        """The last entry id buffered per stream (reads resume after it)."""
        return {name: c.last_id.decode() for name, c in self._cursors.items()}

    # ---- the session ---------------------------------------------------------------------

    def _close_session(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.close()
        client, self._client = self._client, None
        if client is not None:
            client.close()
        super()._close_session()

    def _cluster_run(self) -> StreamClusterSession:
        from segment_debugger.sources.stream_cluster import StreamClusterSession

        return StreamClusterSession(self, self._seed_pools)

    def _single_session(self, stop: threading.Event) -> None:
        """Connect, position the streams, then read until stopped.

        Plain reads are sent ahead (:class:`~._stream_read.CountedRead`): as soon as a reply
        has arrived the next read goes out, and this one is parsed while the server prepares
        it. A group reads one batch at a time (each is acknowledged once buffered).

        A session whose connection is lost during its first read completed none: if a reply
        of COUNT entries cannot arrive before the connection goes (a server that closes
        clients whose replies pass ``client-output-buffer-limit normal``, clients killed
        faster than a large reply crosses a loaded machine), reading again with the same
        COUNT would never progress. The COUNT is halved for the next session (down to 1),
        and doubles back towards ``batch`` after GROW_AFTER full reads in a row.
        """
        self._client = client = self._new_client(self._seed_pools[0])
        resumed = self._prepare(client, self.streams)
        self._went_live(self._describe(resumed))
        completed = False
        try:
            if self.group is None:
                self._ahead = CountedRead(client.connection_pool)
                for _ in self._read_ahead(client, self._ahead, self.streams, stop):
                    completed = True
                return
            while not stop.is_set():
                caught_up = not self._read(client, self.streams)
                completed = True
                if caught_up:  # wait for more
                    wait = self._wait_command(self.streams)
                    self._took(client, client.execute_command(*wait))  # type: ignore[no-untyped-call]
                self._mark_ok()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            if not completed and not stop.is_set() and self._count > 1:
                self._count //= 2
                self._full_reads = 0
                logger.info("StreamSource(%s): no read completed in the last session; reading "
                            "%d entries at a time", self.url, self._count)
            raise

    def _read_ahead(
        self, client: redis.Redis, ahead: CountedRead, names: Sequence[str],
        stop: threading.Event,
    ) -> Iterator[None]:
        """Read ``names`` with the next read always sent before a reply is parsed.

        Yields after each reply taken. A reply is buffered even when sending the next read
        failed (then the error is raised). Its trim accounting is done once the reply before
        it is buffered, so the count is exact as in :meth:`_read_counted`.
        """
        ahead.send(names, self._read_ids(names), self._count)
        while not stop.is_set():
            read = self._take_counted(client, names, ahead.take())
            yield
            if not read:  # caught up: wait for more, then read again
                self._counted_full(0)
                ahead.wait(self._wait_command(names))
                ahead.send(names, self._read_ids(names), self._count)
            else:
                ids = self._read_ids(names)
                ids.update((batch.key, batch.last) for batch in read)
                try:
                    ahead.send(names, ids, self._count)
                finally:
                    self._counted_full(self._store(client, read))
            self._mark_ok()

    def _counted_full(self, got: int) -> None:
        """Note a read of ``got`` entries: after enough full ones, read more at a time again."""
        if self._count >= self.batch:
            return
        if got < self._count:
            self._full_reads = 0
            return
        self._full_reads += 1
        if self._full_reads >= GROW_AFTER:
            self._count = min(self.batch, self._count * 2)
            self._full_reads = 0

    def _describe(self, resumed: bool, shards: int | None = None) -> str:
        where = ", ".join(f"{name} after {c.last_id.decode()}" for name, c in self._cursors.items())
        how = f"group {self.group} as {self.consumer}: " if self.group else ""
        on = "" if shards is None else f"on {shards} shard{'s' if shards != 1 else ''}: "
        return f"stream {how}{on}{where}" + (" (resumed)" if resumed else "")

    # ---- reading one set of streams on one connection (one server, or one cluster slot) ----

    def _new_client(self, pool: GuardedPool) -> redis.Redis:
        client = redis.Redis(connection_pool=pool)
        # Take XREAD/XREADGROUP replies as hiredis parsed them (nested lists): redis-py's
        # callbacks would build a dict per entry, which costs more than parsing the event.
        client.set_response_callback("XREAD", rep.raw_reply)
        client.set_response_callback("XREADGROUP", rep.raw_reply)
        return client

    def _prepare(self, client: redis.Redis, names: Sequence[str], where: str = "") -> bool:
        """Create the group if needed and position ``names``; True if any was read before."""
        if self.group is not None:
            self._ensure_group(client, names)
        resumed = any(name in self._cursors for name in names)
        self._position(client, names, where)
        return resumed

    def _read(self, client: redis.Redis, names: Sequence[str]) -> bool:
        """Read and buffer the next batch of ``names`` without waiting; False when none."""
        if self.group is None:
            read = self._read_counted(client, names)
        else:
            read = rep.batches(client.xreadgroup(
                self.group, self.consumer, self._group_ids(names), count=self._count
            ), self.field)
        stored = self._store(client, read) if read else 0
        self._counted_full(stored)
        if not stored and self.group is not None:
            self._pending_done.update(names)
        return stored > 0

    def _wait_command(self, names: Sequence[str]) -> tuple[Any, ...]:
        """Return the blocking read that waits (BLOCK_MS at most) for an entry of ``names``."""
        if self.group is None:
            ids = self._read_ids(names)
            head: tuple[Any, ...] = ("XREAD", "COUNT", 1)
        else:
            ids = self._group_ids(names)
            head = ("XREADGROUP", "GROUP", self.group, self.consumer, "COUNT", self._count)
        return (*head, "BLOCK", BLOCK_MS, "STREAMS", *ids, *ids.values())

    def _took(self, client: redis.Redis, reply: Any) -> None:
        """Handle the blocking read's reply: buffer a group's entries (they are ours now).

        A plain read's reply only said there is more, which the next counted read takes.
        """
        if self.group is not None:
            read = rep.batches(reply, self.field)
            if read:
                self._store(client, read)

    def _read_ids(self, names: Sequence[str]) -> _StreamIds:
        return {self._keys[name]: self._cursors[name].last_id for name in names}

    def _group_ids(self, names: Sequence[str]) -> _StreamIds:
        """Pending entries ("0"/after the last) until none are left, then new ones (">")."""
        return {
            self._keys[name]: (b">" if name in self._pending_done else self._cursors[name].last_id)
            for name in names
        }

    # ---- the counted read ------------------------------------------------------------------

    def _read_counted(self, client: redis.Redis, names: Sequence[str]) -> list[rep.Batch]:
        """Read the next entries of ``names`` and, in the same MULTI, each stream's XINFO.

        On a cluster ``names`` share one slot (a transaction cannot span slots).
        """
        read = CountedRead(client.connection_pool)
        try:
            read.send(names, self._read_ids(names), self._count)
            return self._take_counted(client, names, read.take())
        finally:
            read.close()

    def _take_counted(
        self, client: redis.Redis, names: Sequence[str], result: list[Any]
    ) -> list[rep.Batch]:
        """Account for trimming from a counted read's XINFO replies; return its entries.

        Entries leave a stream from its head, so it has lost ``entries-added - length`` in all
        (Redis >= 7); those past our last read (its ``ordinal``) were trimmed unread. Taken in
        one transaction with the read, the count is exact: the entries returned follow them.
        """
        *infos, reply = result
        del result
        if isinstance(reply, Exception):
            raise reply
        for name, info in zip(names, infos, strict=True):
            if isinstance(info, Exception):
                if "no such key" in str(info).lower():
                    continue
                self._info(client, name)  # raises the readable error (WRONGTYPE...)
                raise info
            self._account_trimming(name, self._cursors[name], rep.info_dict(info))
        return rep.batches(reply, self.field)  # the reply is freed before parsing

    # ---- storing ---------------------------------------------------------------------------

    def _store(self, client: redis.Redis, read: list[rep.Batch]) -> int:
        """Parse and buffer a read, move the cursors, ACK in a group; return how many.

        See :func:`~._stream_store.store`.
        """
        return store(
            client, read, buffer=self._buffer, cursors=self._cursors,
            key_names=self._key_names, field=self.field, group=self.group,
        )
