"""Sharded pub/sub and Redis Cluster URLs through the CLI: ``publish --sharded``,
``tail --shard-channel``, a seed list in ``publish``/``tail``, on one server and a real cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.cluster import LocalCluster
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.cli import main

pytestmark = pytest.mark.redis


def live(tail: Any) -> bool:
    return any(line.startswith("-- status: live") for line in tail.lines)


def test_tail_shard_channel_prints_spublished_events(
    redis_server: RedisServer, process: Callable[..., Any],
) -> None:
    tail = process("tail", redis_server.url, "--shard-channel", "orders")
    wait_until(lambda: live(tail), what="tail is live")
    assert main(["publish", "--url", redis_server.url, "--sharded", "--channel", "orders",
                 "--count", "15", "--rate", "0", "--seed", "2"]) == 0
    # A classic PUBLISH to the same name is another channel: it must not show.
    assert main(["publish", "--url", redis_server.url, "--channel", "orders", "--count", "5",
                 "--rate", "0"]) == 0
    wait_until(lambda: len(tail.events()) >= 15, what="15 event lines")
    code, err = tail.interrupt()
    assert code == 0
    assert len(tail.events()) == 15
    assert "shard channel orders" in err and "15 events shown" in err


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with LocalCluster(primaries=3, replicas=0) as running:
        yield running


def test_cluster_seed_list_sharded_publish_and_tail(
    cluster: LocalCluster, process: Callable[..., Any],
) -> None:
    # Two shard channels on different primaries: each published to its own shard.
    names = ["seg.0", "seg.1", "seg.2", "seg.3"]
    owners = {name: cluster.owner_of(name) for name in names}
    first, second = names[0], next(n for n in names if owners[n] != owners[names[0]])
    tail = process("tail", cluster.seeds_url, "--shard-channel", first,
                   "--shard-channel", second, "--max", "40")
    wait_until(lambda: live(tail), timeout=20, what="tail is live on the cluster")
    for name in (first, second):
        assert main(["publish", "--url", cluster.seeds_url, "--sharded", "--channel", name,
                     "--count", "20", "--rate", "0"]) == 0
    code, err = tail.finish()
    assert code == 0, err
    assert len(tail.events()) == 40
    assert "40 events shown" in err


def test_cluster_classic_publish_through_one_node_url(
    cluster: LocalCluster, process: Callable[..., Any],
) -> None:
    tail = process("tail", cluster.seeds_url, "--channel", "events", "--max", "25")
    wait_until(lambda: live(tail), timeout=20, what="tail is live on the cluster")
    assert main(["publish", "--url", cluster.url, "--count", "25", "--rate", "0"]) == 0
    code, err = tail.finish()
    assert code == 0, err
    assert len(tail.events()) == 25


def test_cluster_stream_publish_goes_to_the_owner_of_the_key(cluster: LocalCluster) -> None:
    names = [f"stream.{i}" for i in range(6)]
    assert len({cluster.owner_of(n) for n in names}) > 1  # keys on several primaries
    for name in names:
        assert main(["publish", "--url", cluster.seeds_url, "--stream", name, "--count", "30",
                     "--maxlen", "1000", "--rate", "0"]) == 0
    client = cluster.cluster_client()
    try:
        assert [client.xlen(n) for n in names] == [30] * len(names)
    finally:
        client.close()


def test_demo_on_a_cluster_seed_list(cluster: LocalCluster) -> None:
    from segment_debugger.playground.demo import start_demo
    from segment_debugger.playground.server import ping

    assert ping(cluster.seeds_url)
    started = start_demo(url=cluster.seeds_url, rate=300, channel="demo-cluster")
    try:
        assert started.server is None
        dbg = started.debugger
        assert dbg.buffer.wait_for(50, timeout=20), f"buffer did not fill: {dbg.status}"
        assert {e.channel for e in dbg.buffer.snapshot()} == {"demo-cluster"}
    finally:
        started.stop()
    assert not started.publisher.running
