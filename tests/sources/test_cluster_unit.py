"""Cluster pieces that need no server: seed URLs, the slot map, slots of channel names."""

from __future__ import annotations

import pytest

from segment_debugger.sources.cluster import Topology, channel_slot
from segment_debugger.sources.pubsub import RedisSource
from segment_debugger.sources.url import RedisURLError, parse_seed_urls, split_seed_urls

SECRET = "seed-secret-pw"


@pytest.mark.parametrize(
    ("url", "seeds"),
    [
        ("redis://h:7000", ("redis://h:7000",)),
        ("redis://h1:7000,h2:7001", ("redis://h1:7000", "redis://h2:7001")),
        (f"rediss://u:{SECRET}@h1:7000, h2/0?ssl_ca_certs=/ca.pem",
         (f"rediss://u:{SECRET}@h1:7000/0?ssl_ca_certs=/ca.pem",
          f"rediss://u:{SECRET}@h2/0?ssl_ca_certs=/ca.pem")),
        ("redis://[::1]:7000,[::1]:7001", ("redis://[::1]:7000", "redis://[::1]:7001")),
        (["redis://h1:7000", "redis://h2:7001,h3:7002"],
         ("redis://h1:7000", "redis://h2:7001", "redis://h3:7002")),
    ],
)
def test_seed_urls_expand_to_one_url_per_node(url: str | list[str], seeds: tuple[str, ...]) -> None:
    assert split_seed_urls(url) == seeds


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis://h1:7000,,h2:7001", "empty entry"),
        ("unix:///a.sock,/b.sock", "only redis:// and rediss://"),
        ("redis://h1:7000,h2:notaport", "malformed"),
        ([], "non-empty list"),
        (b"redis://h:1", "non-empty list"),
        (["redis://h:1", "http://h:2"], "scheme 'http://'"),
    ],
)
def test_bad_seed_urls_say_what_is_wrong(url: object, complaint: str) -> None:
    with pytest.raises(RedisURLError, match=complaint):
        split_seed_urls(url)  # type: ignore[arg-type]


def test_a_seed_list_redacts_and_scrubs_every_secret() -> None:
    both = parse_seed_urls([f"redis://u:{SECRET}1@h1:7000", f"redis://h2:7001?password={SECRET}2"])
    assert both.redacted == "redis://u:***@h1:7000, redis://h2:7001?password=***"
    assert SECRET not in both.scrub(f"refused {SECRET}1 then {SECRET}2")
    one = parse_seed_urls(f"redis://u:{SECRET}@h1:7000,h2:7001")
    assert one.redacted == "redis://u:***@h1:7000,h2:7001"
    source = RedisSource(f"redis://u:{SECRET}@h1:7000,h2:7001", channels="events")
    for shown in (repr(source), source.url, str(source.status)):
        assert SECRET not in shown


def test_shard_channels_alone_subscribe_no_default_channel() -> None:
    assert RedisSource(shard_channels="s").channels == ()
    assert RedisSource(shard_channels=["s", "s", "t"]).shard_channels == ("s", "t")
    assert RedisSource().channels == ("events",)
    with pytest.raises(ValueError, match="at least one"):
        RedisSource(channels=())


SLOTS_REPLY = [
    [10923, 16383, [b"10.0.0.3", 7002, b"id3"], [b"10.0.0.6", 7005, b"id6"]],
    [0, 5460, [b"10.0.0.1", 7000, b"id1"], [b"10.0.0.4", 7003, b"id4"]],
    [5461, 10000, [b"", 7001, b"id2"]],  # empty host: the node that was asked
]


def test_topology_maps_slots_to_primaries_and_lists_every_node() -> None:
    topology = Topology.from_slots(SLOTS_REPLY, ("10.0.0.2", 7001))
    assert topology.owner(0) == ("10.0.0.1", 7000)
    assert topology.owner(5460) == ("10.0.0.1", 7000)
    assert topology.owner(5461) == ("10.0.0.2", 7001)
    assert topology.owner(10001) is None  # not served by anyone (cluster partly down)
    assert topology.owner(16383) == ("10.0.0.3", 7002)
    assert topology.primaries == (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("10.0.0.3", 7002))
    assert topology.nodes[3:] == (("10.0.0.4", 7003), ("10.0.0.6", 7005))


def test_channel_slots_follow_hash_tags() -> None:
    assert channel_slot("{user1000}.following") == channel_slot("{user1000}.followers")
    assert channel_slot("foo") == 12182  # the Redis cluster specification's example
    assert 0 <= channel_slot("événements") < 16384
