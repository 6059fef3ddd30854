"""A real Redis Cluster on free localhost ports (primaries + replicas), for tests and benchmarks.

Each node is a :class:`~support.redis_server.RedisServer` in its own temporary folder, started
with ``--cluster-enabled yes`` and a node timeout of 1 s (a killed primary's replica is
promoted within about two seconds); ``redis-cli --cluster create`` joins them. ``stop()``
terminates every node and removes every folder, whatever state the cluster is in. Like every
``RedisServer``, the nodes and their folders go with this process even when it is SIGKILLed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis.crc import key_slot

from support.redis_server import RedisServer, free_port
from support.waiting import wait_until


class LocalCluster:
    """``primaries`` primary nodes with ``replicas`` replicas each, all on 127.0.0.1."""

    def __init__(self, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 1000) -> None:
        if shutil.which("redis-cli") is None:
            raise RuntimeError("redis-cli is not on PATH: install it (apt-get install redis-tools)")
        self.replicas = replicas
        self.nodes = [
            RedisServer(
                None,
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout_ms),
                # The bus port defaults to port + 10000, which may be taken or above 65535.
                "--cluster-port", str(free_port()),
                # Kill a node and the cluster keeps serving the slots of the other shards.
                "--cluster-require-full-coverage", "no",
                # Replicas sync at once (the default waits 5 s for more replicas to join).
                "--repl-diskless-sync-delay", "0",
            )
            for _ in range(primaries * (1 + replicas))
        ]
        self.started_in = 0.0
        """Seconds ``start()`` took (processes up, cluster created, every node ok)."""

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """The URL of one node (any node is a way into the cluster)."""
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    @property
    def seeds_url(self) -> str:
        """All nodes as one seed-list URL: ``redis://127.0.0.1:P1,127.0.0.1:P2,...``."""
        return "redis://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def node(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    def client(self, port: int | None = None) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port or self.nodes[0].port, socket_timeout=5)

    def cluster_client(self) -> redis.RedisCluster:
        """A redis-py cluster client (SPUBLISH to the right primary, topology refresh)."""
        return redis.RedisCluster(host="127.0.0.1", port=self.alive()[0].port)

    def alive(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        t0 = time.monotonic()
        try:
            for node in self.nodes:
                node.start()
            subprocess.run(
                ["redis-cli", "--cluster", "create",
                 *(f"127.0.0.1:{p}" for p in self.ports),
                 "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                check=True, capture_output=True, timeout=timeout,
            )
            self.created_in = time.monotonic() - t0
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - t0

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.kill()
        for node in self.nodes:
            node.stop()
            shutil.rmtree(node.dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- state -------------------------------------------------------------------------------

    def shards(self, port: int | None = None) -> list[Shard]:
        """``CLUSTER SHARDS`` as seen by one node (live nodes only)."""
        port = port or self.alive()[0].port
        with self.client(port) as c:
            reply = c.execute_command("CLUSTER", "SHARDS")
        out = []
        for shard in reply:
            info = _pairs(shard)
            nodes = [_pairs(n) for n in info[b"nodes"]]
            slots = [int(s) for s in info[b"slots"]]
            out.append(Shard(
                slots=[(slots[i], slots[i + 1]) for i in range(0, len(slots), 2)],
                primary=next((int(n[b"port"]) for n in nodes if n[b"role"] == b"master"
                              and n[b"health"] == b"online"), None),
                # A fresh replica shows "loading" until its offset moves: not failed is enough.
                replicas=[int(n[b"port"]) for n in nodes if n[b"role"] == b"replica"
                          and n[b"health"] != b"fail"],
            ))
        return out

    def owner_of(self, channel: str, port: int | None = None) -> int | None:
        """Port of the primary serving ``channel``'s slot, as one node sees it."""
        slot = key_slot(channel.encode())
        for shard in self.shards(port):
            if shard.serves(slot):
                return shard.primary
        return None

    def healthy(self) -> bool:
        """Every live node says cluster_state:ok and every primary with slots has a replica."""
        try:
            for node in self.alive():
                with self.client(node.port) as c:
                    if c.execute_command("CLUSTER", "INFO").find(b"cluster_state:ok") < 0:
                        return False
            for port in [n.port for n in self.alive()]:
                shards = [s for s in self.shards(port) if s.slots]
                if len(shards) != len(self.nodes) // (1 + self.replicas):
                    return False
                if any(s.primary is None or len(s.replicas) < self.replicas for s in shards):
                    return False
            for node in self.alive():
                with self.client(node.port) as c:
                    info = c.info("replication")
                if info["role"] == "slave" and info.get("master_link_status") != "up":
                    return False
        except redis.RedisError:
            return False
        return True

    def wait_healthy(self, timeout: float = 30.0) -> None:
        wait_until(self.healthy, timeout, "every node ok, every replica in sync", 0.02)

    @contextmanager
    def restoring(self) -> Iterator[LocalCluster]:
        """Restart any node killed inside the block, then wait until the cluster is healthy.

        A restarted primary rejoins as a replica of the node promoted in its place.
        """
        try:
            yield self
        finally:
            for node in self.nodes:
                if node.proc is None or node.proc.poll() is not None:
                    node.proc = None
                    node.start()
            self.wait_healthy()

    def kill(self, port: int) -> None:
        """SIGKILL one node (no goodbye to the cluster, like a crash)."""
        node = self.node(port)
        assert node.proc is not None
        node.proc.kill()
        node.proc.wait()

    def wait_promoted(self, dead_port: int, slot_channel: str, timeout: float = 15.0) -> int:
        """Wait until another node serves ``slot_channel``'s slot; return that node's port."""
        observer = next(n.port for n in self.alive())

        def promoted() -> int:
            try:
                owner = self.owner_of(slot_channel, observer)
            except redis.RedisError:
                return 0
            return owner if owner is not None and owner != dead_port else 0

        return wait_until(promoted, timeout, f"a replica of {dead_port} to be promoted", 0.02)


@dataclass
class Shard:
    """One shard as ``CLUSTER SHARDS`` shows it: slot ranges, primary and replica ports."""

    slots: list[tuple[int, int]]
    primary: int | None
    replicas: list[int]

    def serves(self, slot: int) -> bool:
        return any(lo <= slot <= hi for lo, hi in self.slots)


def _pairs(flat: Any) -> dict[bytes, Any]:
    if isinstance(flat, dict):
        return flat
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


def channels_on_every_shard(cluster: LocalCluster, per_shard: int = 2,
                            prefix: str = "seg") -> dict[int, list[str]]:
    """Channel names grouped by the primary port that owns them, ``per_shard`` on each."""
    shards = [s for s in cluster.shards() if s.slots and s.primary is not None]
    found: dict[int, list[str]] = {s.primary: [] for s in shards}  # type: ignore[misc]
    i = 0
    while any(len(v) < per_shard for v in found.values()):
        name = f"{prefix}.{i}"
        slot = key_slot(name.encode())
        for shard in shards:
            if shard.serves(slot):
                owned = found[shard.primary]  # type: ignore[index]
                if len(owned) < per_shard:
                    owned.append(name)
        i += 1
    return found
