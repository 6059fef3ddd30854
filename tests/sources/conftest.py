"""Fixtures of the source tests: a real Redis Cluster shared by the session."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support.cluster import LocalCluster
from support.sources import source_threads

from segment_debugger.sources.pubsub import RedisSource


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


@pytest.fixture
def make_source() -> Iterator[Callable[..., RedisSource]]:
    """Build sources that are always stopped at teardown."""
    made: list[RedisSource] = []

    def make(*args: object, **kwargs: object) -> RedisSource:
        source = RedisSource(*args, **kwargs)  # type: ignore[arg-type]
        made.append(source)
        return source

    yield make
    for source in made:
        source.stop()
    assert not source_threads()
