"""TLS for real: a TLS-only redis-server with certificates made by openssl in the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.redis_server import RedisServer
from support.tls import Certs, TLSRedisServer, make_certs
from support.waiting import wait_until

from segment_debugger.sources.pubsub import RedisSource

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(certs: Certs) -> Iterator[TLSRedisServer]:
    with TLSRedisServer(certs) as server:
        yield server


def reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == RedisSource.thread_name]


@pytest.fixture(autouse=True)
def no_reader_left() -> Iterator[None]:
    yield
    assert reader_threads() == []


def test_rediss_with_the_ca_receives_and_survives_a_restart(tls_server: TLSRedisServer) -> None:
    with RedisSource(tls_server.url, channels="events") as src:
        wait_until(lambda: src.status.state == "live", what="TLS source live")
        with tls_server.client() as client:
            client.publish("events", b'{"type":"track","event":"A","userId":"u"}')
        wait_until(lambda: len(src.buffer) == 1)
        tls_server.restart()
        wait_until(lambda: src.status.state == "live" and len(src.buffer.gaps) == 1,
                   what="live again after the restart")
        with tls_server.client() as client:
            client.publish("events", b'{"type":"track","event":"B","userId":"u"}')
        wait_until(lambda: len(src.buffer) == 2)
        assert [e.event for e in src.buffer] == ["A", "B"]


def test_a_wrong_ca_says_the_certificate_is_not_trusted(tls_server: TLSRedisServer,
                                                        certs: Certs) -> None:
    url = f"rediss://127.0.0.1:{tls_server.port}/0?ssl_ca_certs={certs.other_ca}"
    with RedisSource(url) as src:
        wait_until(lambda: "certificate not trusted" in src.status.reason, timeout=10)
        assert "ssl_ca_certs" in src.status.reason
        assert src.status.state == "connecting"


def test_rediss_against_a_plain_server_says_tls_within_the_connect_timeout(
    redis_server: RedisServer,
) -> None:
    url = f"rediss://127.0.0.1:{redis_server.port}/0"
    started = time.monotonic()
    with RedisSource(url, connect_timeout=1.0) as src:
        wait_until(lambda: "TLS handshake failed" in src.status.reason, timeout=5)
        took = time.monotonic() - started
        assert "is the server TLS-enabled?" in src.status.reason
    assert took < 3.0, f"the status said TLS only after {took:.1f} s"


def test_stop_interrupts_a_blocked_handshake_and_leaves_no_client(
    redis_server: RedisServer,
) -> None:
    url = f"rediss://127.0.0.1:{redis_server.port}/0"
    src = RedisSource(url, connect_timeout=30.0).start()
    with redis_server.client() as client:
        wait_until(lambda: len(client.client_list()) >= 2, what="the handshake's connection")
        started = time.monotonic()
        src.stop()
        took = time.monotonic() - started
        assert reader_threads() == []
        assert took < 1.5, f"stop() took {took:.1f} s"
        wait_until(lambda: len(client.client_list()) == 1, what="no half-open client left")


def test_connect_timeout_is_checked() -> None:
    with pytest.raises(ValueError, match="connect_timeout"):
        RedisSource(connect_timeout=0)
    assert RedisSource(connect_timeout=0.5).connect_timeout == 0.5


def test_certificates_are_made_here(certs: Certs) -> None:
    assert all(Path(p).is_file() for p in (certs.ca, certs.cert, certs.key, certs.other_ca))
