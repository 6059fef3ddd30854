"""StreamSource on a real Redis Cluster: streams on every shard, failover, lost entries."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator

import orjson
import pytest
from support.cluster import LocalCluster, channels_on_every_shard
from support.redis_server import RedisServer
from support.waiting import wait_until

from segment_debugger.sources.cluster import channel_slot
from segment_debugger.sources.streams import StreamSource

pytestmark = pytest.mark.redis


def entry(name: str, i: int) -> dict[bytes, bytes]:
    return {b"data": orjson.dumps({"type": "track", "event": "E", "userId": "u",
                                   "messageId": f"{name}-{i}", "properties": {"i": i}})}


def by_stream(source: StreamSource) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for e in source.buffer.snapshot():
        assert e.data is not None
        out.setdefault(e.channel, []).append(e.data["properties"]["i"])
    return out


@pytest.fixture
def make_source() -> Iterator[Callable[..., StreamSource]]:
    made: list[StreamSource] = []

    def make(*args: object, **kwargs: object) -> StreamSource:
        source = StreamSource(*args, **kwargs)  # type: ignore[arg-type]
        made.append(source)
        return source

    yield make
    for source in made:
        source.stop()
    assert not [t for t in threading.enumerate() if t.name == StreamSource.thread_name]


def live(source: StreamSource, timeout: float = 10.0) -> StreamSource:
    source.start()
    wait_until(lambda: source.status.state == "live", timeout, f"live; last {source.status}")
    return source


def test_streams_on_different_shards_read_together_exactly_once_in_order(
    redis_cluster: LocalCluster, make_source: Callable[..., StreamSource]
) -> None:
    groups = channels_on_every_shard(redis_cluster, per_shard=2, prefix="st.order")
    tagged = ["{st.tag}.a", "{st.tag}.b"]  # one slot: read together in one XREAD
    owners = {name: port for port, names in groups.items() for name in names}
    owners.update({name: redis_cluster.owner_of(name) for name in tagged})  # type: ignore[misc]
    names = list(owners)
    assert len(groups) == 3 and len({channel_slot(n) for n in names}) == 7
    n = 300
    source = live(make_source(redis_cluster.seeds_url, names, start="$", batch=50))
    assert source.mode == "cluster"
    assert source.status.reason.startswith("stream on 3 shards: ")
    clients = {port: redis_cluster.client(port) for port in set(owners.values())}
    pipes = {port: c.pipeline(transaction=False) for port, c in clients.items()}
    for i in range(n):  # interleaved across streams and primaries
        for name in names:
            pipes[owners[name]].xadd(name, entry(name, i))
    for pipe in pipes.values():
        pipe.execute()
    for c in clients.values():
        c.close()
    assert source.buffer.wait_for(len(names) * n, timeout=20)
    assert by_stream(source) == {name: list(range(n)) for name in names}
    assert source.buffer.gaps == [] and source.status.state == "live"
    # Each stream's cursor is the last id its owner generated.
    for name in names:
        with redis_cluster.client(owners[name]) as c:
            assert source.last_ids[name] == c.xinfo_stream(name)["last-generated-id"].decode()


def test_a_failover_resumes_each_stream_and_reports_entries_the_replica_never_got(
    redis_cluster: LocalCluster, make_source: Callable[..., StreamSource]
) -> None:
    groups = channels_on_every_shard(redis_cluster, per_shard=1, prefix="st.fo")
    victim_port, (victim,) = next(iter(groups.items()))
    others = [names[0] for port, names in groups.items() if port != victim_port]
    source = live(make_source(redis_cluster.url, [victim, *others]))
    with redis_cluster.restoring():
        replica = _replica_of(redis_cluster, victim_port)
        with redis_cluster.client(victim_port) as c:
            for i in range(10):
                c.xadd(victim, entry(victim, i))
            assert c.execute_command("WAIT", 1, 2000) == 1  # the replica has these ten
            # Freeze the replica (SIGSTOP, well under the node timeout): the primary goes on
            # accepting entries (60 MB) that only the kernel buffers between them can hold.
            frozen = redis_cluster.node(replica).proc
            assert frozen is not None
            frozen.send_signal(signal.SIGSTOP)
            try:
                pipe = c.pipeline(transaction=False)
                n = 10 + 6000
                for i in range(10, n):
                    pipe.xadd(victim, dict(entry(victim, i), pad=b"x" * 10_000))
                pipe.execute()
                read_last = c.xinfo_stream(victim)["last-generated-id"].decode()
                wait_until(lambda: source.last_ids.get(victim) == read_last, 10, "all read")
                killed_at = time.time()
                redis_cluster.kill(victim_port)
            finally:
                frozen.send_signal(signal.SIGCONT)
        wait_until(lambda: source.status.state == "reconnecting", 5, "the loss noticed")
        # The other shards keep flowing while the victim's replica is being promoted.
        for i, name in enumerate(others):
            with redis_cluster.client(redis_cluster.owner_of(name)) as c:
                c.xadd(name, entry(name, i))
        wait_until(lambda: all(name in by_stream(source) for name in others), 5,
                   "the other shards read during the failover")
        assert source.status.state == "reconnecting"
        new_owner = redis_cluster.wait_promoted(victim_port, victim)
        assert new_owner == replica
        with redis_cluster.client(new_owner) as c:
            kept = c.xinfo_stream(victim)["last-generated-id"].decode()
        assert kept != read_last, "the replica got every entry: nothing was lost"
        wait_until(lambda: source.status.state == "live", 10, f"live again; {source.status}")
        resumed_in = source.status.since - killed_at
        with redis_cluster.client(new_owner) as c:
            gone = sum(1 for e in source.buffer.snapshot()
                       if e.channel == victim and _id(e.stream_id) > _id(kept))
            for i in range(n, n + 3):
                c.xadd(victim, entry(victim, i))
        wait_until(lambda: len(by_stream(source).get(victim, [])) == n + 3, 5, "the new entries")
    assert by_stream(source)[victim] == list(range(n + 3))  # once each, in order
    (gap,) = source.buffer.gaps
    assert gap.channels == (victim,) and gap.lost_estimate is None
    assert f"ends at {kept} but {read_last} had been read" in gap.reason
    assert f"{gone:,} entries read before are gone from the stream" in gap.reason
    assert gone >= 1
    assert source.status.reason.startswith("stream on 3 shards: ")
    print(f"\nstream failover: live again {resumed_in:.2f} s after the kill; gap: {gap.reason}")


def _id(stream_id: str | None) -> tuple[int, int]:
    ms, _, seq = (stream_id or "0-0").partition("-")
    return int(ms), int(seq)


def _replica_of(cluster: LocalCluster, primary: int) -> int:
    shard = next(s for s in cluster.shards() if s.primary == primary)
    return shard.replicas[0]


def test_cluster_true_on_a_plain_server_is_a_clear_error(
    redis_server: RedisServer, make_source: Callable[..., StreamSource]
) -> None:
    source = make_source(redis_server.url, cluster=True).start()
    wait_until(lambda: source.status.state == "error", 5, "an error status")
    assert "not a Redis Cluster node" in source.status.reason
    assert "cluster=False" in source.status.reason
    assert source.running  # retries, in case the server is reconfigured
    two = make_source(f"redis://127.0.0.1:{redis_server.port},127.0.0.1:1").start()
    wait_until(lambda: two.status.state == "error", 5, "an error status")
    assert "seed nodes" in two.status.reason
    on_plain = live(make_source(redis_server.url))
    assert on_plain.mode == "single" and "shard" not in on_plain.status.reason


def test_seed_lists_and_bad_cluster_arguments() -> None:
    source = StreamSource(["redis://:pw-a@h1:7000", "redis://h2:7001?password=pw-b"])
    assert "pw-" not in source.url and "pw-" not in repr(source)
    with pytest.raises(ValueError, match="cluster=False"):
        StreamSource("redis://h:1,h:2", cluster=False)
    with pytest.raises(ValueError, match="unix://"):
        StreamSource("unix:///run/redis.sock", cluster=True)
    with pytest.raises(ValueError, match="cluster must be"):
        StreamSource("redis://h", cluster="yes")  # type: ignore[arg-type]
