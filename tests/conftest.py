"""Shared fixtures: a real redis-server per test session, a private one per test when asked, and
subscribers that witness what is published (``collect``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from support.collector import ChannelCollector
from support.redis_server import RedisServer


@pytest.fixture(scope="session")
def _session_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def redis_server(_session_redis: RedisServer) -> Iterator[RedisServer]:
    """A running redis-server shared by the session, flushed before each test."""
    _session_redis.start()
    with _session_redis.client() as c:
        c.flushall()
    yield _session_redis


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, for tests that restart or reconfigure it."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def collect(redis_server: RedisServer) -> Iterator[Callable[[str], ChannelCollector]]:
    """``collect(channel)``: a subscriber on ``redis_server`` witnessing what is published."""
    collectors: list[ChannelCollector] = []

    def start(channel: str) -> ChannelCollector:
        collectors.append(ChannelCollector(redis_server, channel))
        return collectors[-1]

    yield start
    for c in collectors:
        c.stop()
