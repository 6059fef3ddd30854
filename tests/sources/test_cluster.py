"""RedisSource on a real Redis Cluster: sharded and classic pub/sub, detection, failover."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import orjson
import pytest
from support.cluster import LocalCluster, channels_on_every_shard
from support.redis_server import RedisServer, free_port
from support.waiting import wait_until

from segment_debugger.core.buffer import EventBuffer
from segment_debugger.sources.cluster import channel_slot
from segment_debugger.sources.pubsub import RedisSource

pytestmark = pytest.mark.redis


def live(source: RedisSource, timeout: float = 10.0) -> RedisSource:
    source.start()
    wait_until(lambda: source.status.state == "live", timeout, f"live; last {source.status}")
    return source


def event(channel: str, i: int) -> bytes:
    return orjson.dumps({"type": "track", "event": "Sharded", "userId": "u",
                         "messageId": f"{channel}-{i}", "properties": {"i": i}})


def spublish(cluster: LocalCluster, channel: str, payload: bytes) -> int:
    """SPUBLISH on the primary serving ``channel`` now; return how many subscribers got it."""
    with cluster.client(cluster.owner_of(channel)) as c:
        return int(c.spublish(channel, payload))


def by_channel(source: RedisSource) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for e in source.buffer.snapshot():
        assert e.data is not None
        out.setdefault(e.channel, []).append(e.data["properties"]["i"])
    return out


# ---- sharded pub/sub -------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_shard_channels_on_every_primary_arrive_complete_and_in_order(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource], protocol: int
) -> None:
    groups = channels_on_every_shard(redis_cluster, per_shard=2, prefix=f"order{protocol}")
    channels = [c for names in groups.values() for c in names]
    assert len(groups) == 3 and len({channel_slot(c) for c in channels}) == 6
    with redis_cluster.client() as c:  # our slot of a name is the server's
        assert [channel_slot(n) for n in channels] == [
            c.execute_command("CLUSTER", "KEYSLOT", n) for n in channels
        ]
    n = 300
    source = live(make_source(f"{redis_cluster.url}?protocol={protocol}", shard_channels=channels,
                              buffer=EventBuffer(max_messages=10 * n)))
    assert source.mode == "cluster" and source.channels == ()
    assert source.status.reason.startswith("cluster, 3 shards")
    clients = {port: redis_cluster.client(port) for port in groups}
    pipes = {port: c.pipeline(transaction=False) for port, c in clients.items()}
    for i in range(n):  # interleaved across channels and primaries
        for port, names in groups.items():
            for name in names:
                pipes[port].spublish(name, event(name, i))
    for pipe in pipes.values():
        assert pipe.execute() == [1] * (2 * n)  # each reached exactly our subscriber
    for c in clients.values():
        c.close()
    assert source.buffer.wait_for(6 * n, timeout=15)
    assert by_channel(source) == {name: list(range(n)) for name in channels}
    assert source.buffer.gaps == [] and source.status.state == "live"


def test_classic_channels_on_a_cluster_url_receive_from_every_node(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource]
) -> None:
    source = live(make_source(redis_cluster.url, channels="events", patterns="seg.*",
                              cluster=True))
    for i, port in enumerate(redis_cluster.ports):  # primaries and replicas alike
        with redis_cluster.client(port) as c:
            c.publish("events" if i % 2 else "seg.web", event("x", i))
    assert source.buffer.wait_for(6, timeout=5)
    got = sorted((e.channel, e.pattern, e.data["properties"]["i"])  # type: ignore[index]
                 for e in source.buffer.snapshot())
    assert got == sorted(("events" if i % 2 else "seg.web", None if i % 2 else "seg.*", i)
                         for i in range(6))
    # The cluster broadcasts classic messages: one subscription, on one node, is enough.
    subscribed = 0
    for port in redis_cluster.ports:
        with redis_cluster.client(port) as c:
            subscribed += int(c.execute_command("PUBSUB", "NUMSUB", "events")[1])
    assert subscribed == 1


def test_seed_lists_skip_a_dead_seed_and_redact_every_password(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource]
) -> None:
    dead = free_port()
    port = redis_cluster.ports[1]
    as_one = make_source(f"redis://:pw-one@127.0.0.1:{dead},127.0.0.1:{port}",
                         shard_channels="seeded")
    as_list = make_source([f"redis://127.0.0.1:{dead}?password=pw-two",
                           f"redis://127.0.0.1:{port}"], channels="events")
    # Password-protected URLs against a cluster without passwords: redis-py sends AUTH only
    # with a password, so use them for the redaction check and plain ones to read.
    for source in (as_one, as_list):
        assert "pw-" not in source.url and "pw-" not in repr(source)
    assert as_one.url == f"redis://:***@127.0.0.1:{dead},127.0.0.1:{port}"
    assert as_list.url == f"redis://127.0.0.1:{dead}?password=***, redis://127.0.0.1:{port}"
    source = live(make_source(f"redis://127.0.0.1:{dead},127.0.0.1:{port}",
                              shard_channels="seeded"))
    assert source.mode == "cluster"
    assert spublish(redis_cluster, "seeded", event("seeded", 1)) == 1
    assert source.buffer.wait_for(1, timeout=5)
    assert source.buffer.snapshot()[0].channel == "seeded"


def test_the_server_dropping_our_subscriptions_is_a_gap_and_every_channel_comes_back(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource]
) -> None:
    # Two channels of different slots per primary: redis-py's own resubscribe after its silent
    # reconnect sends them in one SSUBSCRIBE, which the cluster refuses (CROSSSLOT); the
    # source must rebuild the link instead of giving up on those channels.
    groups = channels_on_every_shard(redis_cluster, per_shard=2, prefix="kill")
    channels = [c for names in groups.values() for c in names]
    source = live(make_source(redis_cluster.url, channels="events", shard_channels=channels))
    for port in redis_cluster.ports:
        with redis_cluster.client(port) as c:
            c.client_kill_filter(_type="pubsub")
    wait_until(lambda: source.buffer.stats["gaps"] >= 1 and source.status.state == "live", 10,
               f"a gap, then live again; last {source.status}")
    for i, name in enumerate(channels):
        assert spublish(redis_cluster, name, event(name, i)) == 1
    with redis_cluster.client() as c:
        c.publish("events", event("events", 99))
    assert source.buffer.wait_for(len(channels) + 1, timeout=5)
    assert sorted(by_channel(source)) == sorted([*channels, "events"])
    assert "closed the subscription" in source.buffer.gaps[0].reason


# ---- detection and bad input -----------------------------------------------------------------


def test_detection_picks_cluster_mode_on_a_cluster_node_and_single_on_a_plain_server(
    redis_cluster: LocalCluster, redis_server: RedisServer,
    make_source: Callable[..., RedisSource],
) -> None:
    on_cluster = live(make_source(redis_cluster.url, channels="events"))
    on_plain = live(make_source(redis_server.url, channels="events", shard_channels="plain.s"))
    assert (on_cluster.mode, on_plain.mode) == ("cluster", "single")
    assert on_cluster.status.reason.startswith("cluster, 3 shards")
    assert "cluster" not in on_plain.status.reason
    # Shard channels work on a single Redis >= 7 server too, and keep their name.
    with redis_server.client() as c:
        assert c.spublish("plain.s", event("plain.s", 1)) == 1
        assert c.publish("events", event("events", 2)) == 1
    assert on_plain.buffer.wait_for(2, timeout=5)
    assert [(e.channel, e.pattern) for e in on_plain.buffer.snapshot()] == [
        ("plain.s", None), ("events", None)
    ]


def test_forcing_cluster_mode_on_a_plain_server_says_what_to_do(
    redis_server: RedisServer, make_source: Callable[..., RedisSource]
) -> None:
    source = make_source(redis_server.url, channels="events", cluster=True).start()
    wait_until(lambda: source.status.state == "error", 5, "an error status")
    reason = source.status.reason
    assert "not a Redis Cluster node" in reason and "cluster=False" in reason
    assert source.running  # the thread lives on, retrying in case the server changes
    two_seeds = make_source(f"redis://127.0.0.1:{redis_server.port},127.0.0.1:{free_port()}")
    two_seeds.start()
    wait_until(lambda: two_seeds.status.state == "error", 5, "an error status")
    assert "seed nodes" in two_seeds.status.reason
    with pytest.raises(ValueError, match="cluster=False"):
        RedisSource("redis://h:1,h:2", cluster=False)
    with pytest.raises(ValueError, match="unix://"):
        RedisSource("unix:///run/redis.sock", cluster=True)
    with pytest.raises(ValueError, match="cluster must be"):
        RedisSource(cluster="yes")  # type: ignore[arg-type]


# ---- failover and resharding -----------------------------------------------------------------


def test_failover_moves_the_shard_channel_to_the_promoted_replica_and_records_the_gap(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource]
) -> None:
    groups = channels_on_every_shard(redis_cluster, per_shard=1, prefix="fo")
    victim_port, (victim,) = next(iter(groups.items()))
    survivor = next(names[0] for port, names in groups.items() if port != victim_port)
    source = live(make_source(redis_cluster.url, channels="events",
                              shard_channels=[names[0] for names in groups.values()]))
    assert spublish(redis_cluster, victim, event(victim, 0)) == 1
    assert source.buffer.wait_for(1, timeout=5)
    with redis_cluster.restoring():
        killed_at = time.time()
        redis_cluster.kill(victim_port)
        wait_until(lambda: source.status.state == "reconnecting", 5, "the loss noticed")
        # The other shards keep delivering while the victim's replica is being promoted.
        assert spublish(redis_cluster, survivor, event(survivor, 1)) == 1
        assert source.buffer.wait_for(2, timeout=5)
        new_owner = redis_cluster.wait_promoted(victim_port, victim)
        wait_until(lambda: source.status.state == "live", 10, "live again")
        promoted_at = time.time()
        assert spublish(redis_cluster, victim, event(victim, 2)) == 1
        with redis_cluster.client(new_owner) as c:
            c.publish("events", event("events", 3))
        assert source.buffer.wait_for(4, timeout=5)
    assert by_channel(source) == {victim: [0, 2], survivor: [1], "events": [3]}
    (gap,) = source.buffer.gaps
    assert f"127.0.0.1:{victim_port}" in gap.reason and victim in gap.reason
    assert source.status.reason.startswith("cluster, 3 shards")
    # The switch-over: from the kill to live again (the status says when), within about a
    # second (the backoff cap) of the promotion being visible.
    switch_over = source.status.since - killed_at
    assert 0 < switch_over <= promoted_at - killed_at
    print(f"\nfailover: live again {switch_over:.2f} s after the kill (promotion seen by "
          f"polling at {promoted_at - killed_at:.2f} s); gap as recorded "
          f"{gap.duration:.2f} s, lost estimate {gap.lost_estimate}")


def test_resharding_a_subscribed_slot_follows_it_to_the_new_owner(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource]
) -> None:
    groups = channels_on_every_shard(redis_cluster, per_shard=1, prefix="reshard")
    (source_port, (channel,)), (target_port, _) = list(groups.items())[:2]
    source = live(make_source(redis_cluster.url, shard_channels=channel))
    assert spublish(redis_cluster, channel, event(channel, 0)) == 1
    assert source.buffer.wait_for(1, timeout=5)
    move_slot(redis_cluster, channel_slot(channel), source_port, target_port)
    wait_until(lambda: redis_cluster.owner_of(channel) == target_port, 5, "the slot moved")
    wait_until(lambda: source.buffer.stats["gaps"] == 1 and source.status.state == "live", 10,
               "re-subscribed on the new owner")
    assert spublish(redis_cluster, channel, event(channel, 1)) == 1
    assert source.buffer.wait_for(2, timeout=5)
    assert by_channel(source) == {channel: [0, 1]}
    assert "moved away" in source.buffer.gaps[0].reason


def move_slot(cluster: LocalCluster, slot: int, from_port: int, to_port: int) -> None:
    """Move an (empty) slot the way redis-cli --cluster reshard does, without keys to migrate."""
    ids = {}
    for port in (from_port, to_port):
        with cluster.client(port) as c:
            ids[port] = c.execute_command("CLUSTER", "MYID").decode()
    with cluster.client(to_port) as c:
        c.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[from_port])
    with cluster.client(from_port) as c:
        c.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[to_port])
    for port in (to_port, from_port):
        with cluster.client(port) as c:
            c.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[to_port])


def test_stop_while_no_seed_answers_ends_the_thread(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource]
) -> None:
    dead = free_port()
    source = make_source(f"redis://127.0.0.1:{dead}", cluster=True).start()
    wait_until(lambda: "connecting" in source.status.state and source.status.reason != "starting",
               5, "a failed connect")
    t0 = time.monotonic()
    source.stop()
    assert not source.running and time.monotonic() - t0 < 1.5


# ---- loss estimates scoped to the lost shard's channels ---------------------------------------


class NumberedPublisher:
    """SPUBLISH numbered, timestamped events to ``channels`` at ``rate`` per second each,
    to whichever primary serves them now. Numbers follow the clock (event ``i`` is due at
    ``i / rate`` s), so events due while a send was failing or stalled are skipped, as a
    steady producer would lose them."""

    def __init__(self, cluster: LocalCluster, channels: list[str], rate: float) -> None:
        self.cluster, self.channels, self.rate = cluster, channels, rate
        self.sent = {name: 0 for name in channels}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(name,), daemon=True)
                         for name in channels]  # one each: a dead node stalls only its own

    def __enter__(self) -> NumberedPublisher:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _run(self, name: str) -> None:
        import redis

        port: int | None = None
        clients: dict[int, redis.Redis] = {}
        t0, i = time.monotonic(), 0
        while not self._stop.is_set():
            i = max(i + 1, int((time.monotonic() - t0) * self.rate))
            payload = orjson.dumps({
                "type": "track", "event": "N", "userId": "u", "messageId": f"{name}-{i}",
                "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
                "properties": {"i": i},
            })
            try:
                port = port or self.cluster.owner_of(name)
                if port is not None:
                    if port not in clients:
                        clients[port] = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1,
                                                    socket_connect_timeout=0.2)
                    clients[port].spublish(name, payload)
                    self.sent[name] = i + 1
            except redis.RedisError:
                port = None
            self._stop.wait(max(0.0, t0 + (i + 1) / self.rate - time.monotonic()))
        for client in clients.values():
            client.close()


@pytest.mark.parametrize("victim_published", [False, True], ids=["idle-shard", "busy-shard"])
def test_a_lost_shard_estimates_loss_from_its_own_channels_only(
    redis_cluster: LocalCluster, make_source: Callable[..., RedisSource], victim_published: bool
) -> None:
    groups = channels_on_every_shard(redis_cluster, per_shard=1, prefix=f"est{victim_published}")
    victim_port, (victim,) = next(iter(groups.items()))
    survivors = [names[0] for port, names in groups.items() if port != victim_port]
    source = live(make_source(redis_cluster.url, shard_channels=[victim, *survivors],
                              buffer=EventBuffer(max_messages=100_000)))
    published = [*survivors, victim] if victim_published else survivors
    with NumberedPublisher(redis_cluster, published, rate=300), redis_cluster.restoring():
        wait_until(lambda: len(source.buffer) > 600, 10, "a rate to measure")
        redis_cluster.kill(victim_port)
        wait_until(lambda: source.status.state == "reconnecting", 5, "the loss noticed")
        redis_cluster.wait_promoted(victim_port, victim)
        wait_until(lambda: source.status.state == "live", 10, "live again")
        if victim_published:
            wait_until(lambda: source.buffer.gaps and source.buffer.gaps[0].lost_estimate, 10,
                       "the gap estimated from the victim's channel flowing again")
        else:
            seen = len(source.buffer)
            wait_until(lambda: len(source.buffer) > seen + 300, 10, "the survivors flowing on")
    (gap,) = source.buffer.gaps
    assert gap.channels == (victim,)
    got = by_channel(source)
    assert all(len(got[name]) > 300 for name in survivors)  # they kept flowing
    if not victim_published:
        # Nothing was ever published to the lost shard: nothing to estimate, nothing lost.
        assert gap.lost_estimate in (None, 0) and source.buffer.stats["lost_estimate"] == 0
        print(f"\nidle shard lost: estimate {gap.lost_estimate}")
        return
    numbers = got[victim]
    last = _before_hole(numbers)
    truth = numbers[numbers.index(last) + 1] - last - 1
    assert gap.lost_estimate is not None and gap.estimate_basis == "publisher timestamps"
    assert truth / 2 <= gap.lost_estimate <= truth * 2, (gap.lost_estimate, truth)
    print(f"\nbusy shard lost: estimate {gap.lost_estimate}, truth {truth} "
          f"({gap.duration:.2f} s hole)")


def _before_hole(numbers: list[int]) -> int:
    """The last number received before the largest jump in the sequence (the hole)."""
    jumps = [(b - a, a) for a, b in itertools.pairwise(numbers)]
    return max(jumps)[1] if jumps and max(jumps)[0] > 1 else numbers[-1]
