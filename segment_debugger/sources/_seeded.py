"""What the Redis sources share on top of the base: seed URLs, and one server or a cluster.

:class:`SeededSource` takes one URL or a cluster's seed nodes, checks ``cluster=``, opens one
pool per seed, and at each session decides the mode (``INFO cluster`` when detecting) before
running either the single-server read loop or a cluster session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources import cluster as _cluster
from segment_debugger.sources.base import ThreadedSource
from segment_debugger.sources.url import parse_seed_urls, split_seed_urls


class ClusterRun(Protocol):
    """One cluster-mode session: runs in the reader thread until stopped, then is closed."""

    def run(self, stop: threading.Event) -> None:
        """Read until ``stop`` is set; raise when no node answers."""

    def close(self) -> None:
        """Release every connection (idempotent)."""


class SeededSource(ThreadedSource):
    """A source reading one server or a Redis Cluster, from one URL or several seed nodes.

    Subclasses implement :meth:`_single_session` and :meth:`_cluster_run`, and call
    :meth:`_open_pools` once their own arguments are checked.
    """

    def __init__(
        self,
        url: str | Sequence[str],
        buffer: EventBuffer | None,
        *,
        cluster: bool | None,
        connect_timeout: float,
    ) -> None:
        self._seeds = split_seed_urls(url)
        super().__init__(parse_seed_urls(url), buffer, connect_timeout=connect_timeout)
        self._probe = _cluster.check_cluster_option(cluster, self._seeds)
        self.cluster = cluster
        """``None`` (detect on every connect), ``True`` or ``False``, as given."""
        self._seed_pools: list[Any] = []
        self._mode: str | None = None
        self._cluster_session: ClusterRun | None = None  # the current session's

    def _open_pools(self, options: Callable[[str], dict[str, Any]]) -> None:
        """Make one pool per seed node with ``options(seed)``; the first serves single mode."""
        self._seed_pools = [self._make_pool(seed, **options(seed)) for seed in self._seeds]

    @property
    def mode(self) -> str | None:
        """``"cluster"`` or ``"single"`` once a session has decided, else None."""
        return self._mode

    def _single_session(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def _cluster_run(self) -> ClusterRun:
        raise NotImplementedError

    def _session(self, stop: threading.Event) -> None:
        try:
            if not _cluster.on_cluster(self._seed_pools, self.cluster, self._probe):
                self._mode = "single"
                self._single_session(stop)
                return
            self._mode = "cluster"
            self._cluster_session = self._cluster_run()
            self._cluster_session.run(stop)
        except _cluster.NotAClusterError as exc:
            # A configuration mistake, not an outage: say what to do; the base retries later
            # (with backoff) in case the server is reconfigured.
            self._set_status("error", str(exc))

    def _close_session(self) -> None:
        session, self._cluster_session = self._cluster_session, None
        if session is not None:
            session.close()

    def _finish(self) -> None:
        for pool in self._seed_pools:
            pool.disconnect()
