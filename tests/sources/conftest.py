"""Fixtures of the source tests: a real Redis Cluster shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.cluster import LocalCluster


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """3 primaries + 3 replicas on free ports, started once (about 2 s), removed at the end.

    Tests that kill a node wrap it in ``redis_cluster.restoring()`` so the next test finds a
    healthy cluster again (a restarted primary rejoins as a replica).
    """
    cluster = LocalCluster(primaries=3, replicas=1)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
