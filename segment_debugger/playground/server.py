"""An embedded Redis for demos, notebooks and tests: :class:`EmbeddedRedis`.

:class:`EmbeddedRedis` runs a real ``redis-server`` (or ``valkey-server``) found on PATH, as a
child process tied to this one (:func:`~.procs.spawn_tied`: it dies with this process, even
on SIGKILL) on a free 127.0.0.1 port with persistence off. When no
such binary exists it falls back to fakeredis's in-process TCP server, which needs nothing
installed by hand and carries pub/sub for redis-py clients. ``SEGMENT_DEBUGGER_EMBEDDED=fakeredis``
(or ``EmbeddedRedis(kind="fakeredis")``) forces the fallback.

:func:`ping` tells whether a Redis answers at a URL (used by ``segment-debugger demo`` too).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any, Literal

import redis

from segment_debugger.playground.procs import (
    TiedProcess,
    forget_at_exit,
    join_thread,
    owned_temp_dir,
    spawn_tied,
    start_thread,
    stop_at_exit,
)
from segment_debugger.sources.url import split_seed_urls

Kind = Literal["redis-server", "fakeredis"]

#: Environment variable that forces a backend: ``redis-server``, ``fakeredis`` or ``auto``.
ENV_EMBEDDED = "SEGMENT_DEBUGGER_EMBEDDED"

#: Binaries tried, in order, when looking for a real server on PATH.
SERVER_BINARIES = ("redis-server", "valkey-server")

def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that is free right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_server_binary() -> str | None:
    """Return the path of a ``redis-server`` or ``valkey-server`` on PATH, or None."""
    for name in SERVER_BINARIES:
        path = shutil.which(name)
        if path:
            return path
    return None


def ping(url: str, timeout: float = 0.5) -> bool:
    """Return True when a Redis at ``url`` answers PING within ``timeout`` seconds.

    For a cluster's seed list (``redis://h1:7000,h2:7001``) one answering seed is enough.
    Never raises: a refused connection, a timeout or an unusable URL all return False.
    """
    try:
        seeds = split_seed_urls(url)
    except ValueError:
        return False
    for seed in seeds:
        try:
            with redis.Redis.from_url(
                seed, socket_timeout=timeout, socket_connect_timeout=timeout
            ) as c:
                if c.ping():
                    return True
        except (redis.RedisError, OSError, ValueError):
            continue
    return False


class EmbeddedRedis:
    """A throw-away Redis on 127.0.0.1 for demos and notebooks.

    ``kind`` is ``"auto"`` (a real server when one is on PATH, else fakeredis), ``"redis-server"``
    or ``"fakeredis"``; the ``SEGMENT_DEBUGGER_EMBEDDED`` environment variable overrides
    ``"auto"``. ``start()`` and ``stop()`` are idempotent; ``stop()`` leaves no process behind
    and frees the port. Use it as a context manager, or rely on the atexit hook.
    """

    def __init__(self, kind: str = "auto", *, startup_timeout: float = 10.0) -> None:
        if kind == "auto":
            kind = os.environ.get(ENV_EMBEDDED, "auto") or "auto"
        if kind not in ("auto", "redis-server", "fakeredis"):
            raise ValueError(
                f"unknown embedded Redis kind {kind!r}: use 'auto', 'redis-server' or 'fakeredis'"
                f" (check {ENV_EMBEDDED})"
            )
        self._requested = kind
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._proc: TiedProcess | None = None
        self._dir: str | None = None
        self._fake: Any = None  # fakeredis.TcpFakeServer
        self._fake_thread: threading.Thread | None = None
        self._kind: Kind | None = None
        self._lock = threading.Lock()

    @property
    def kind(self) -> Kind:
        """``"redis-server"`` or ``"fakeredis"``: what runs (or would run) behind :attr:`url`."""
        if self._kind is not None:
            return self._kind
        if self._requested == "auto":
            return "redis-server" if find_server_binary() else "fakeredis"
        return self._requested  # type: ignore[return-value]

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``; raises if the server is not started."""
        if self.port is None:
            raise RuntimeError("EmbeddedRedis is not started: call start() first")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The redis-server's process id, or None (not started, or fakeredis)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def dir(self) -> str | None:
        """The redis-server's working directory (holds ``redis.log``), or None.

        Named ``sd-embedded-redis-<owner pid>-*``: removed by :meth:`stop`, or at the next
        start of any EmbeddedRedis once its owner is gone.
        """
        return self._dir

    @property
    def running(self) -> bool:
        """True while the server is up."""
        if self._proc is not None:
            return self._proc.poll() is None
        return self._fake is not None

    def start(self) -> EmbeddedRedis:
        """Start the server if it is not running and wait until it answers PING."""
        with self._lock:
            if self.running:
                return self
            kind = self.kind
            if kind == "redis-server":
                self._start_process()
            else:
                self._start_fake()
            self._kind = kind
            stop_at_exit(self)
            return self

    def _start_process(self) -> None:
        binary = find_server_binary()
        if binary is None:
            raise RuntimeError(
                "no redis-server or valkey-server on PATH: install one (apt-get install"
                " redis-server) or use EmbeddedRedis(kind='fakeredis')"
            )
        last_error = ""
        for _attempt in range(3):  # another process may grab the free port before we bind it
            self._dir = owned_temp_dir("embedded-redis")
            self.port = free_port()
            logfile = Path(self._dir) / "redis.log"
            with open(logfile, "wb") as out:
                self._proc = spawn_tied(
                    [
                        binary,
                        "--port", str(self.port),
                        "--bind", "127.0.0.1",
                        "--save", "",
                        "--appendonly", "no",
                        "--dir", self._dir,
                        "--daemonize", "no",
                    ],
                    stdout=out,
                )
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline and self._proc.poll() is None:
                if ping(self.url, timeout=0.5):
                    return
                time.sleep(0.02)
            last_error = logfile.read_text(errors="replace")[-2000:]
            self._stop_process()
        raise RuntimeError(f"{binary} did not start on 127.0.0.1 (log follows):\n{last_error}")

    def _start_fake(self) -> None:
        try:
            from fakeredis import TcpFakeServer
        except ImportError as exc:
            raise RuntimeError(
                "no redis-server on PATH and fakeredis is not installed: pip install"
                " 'segment-debugger[demo]' (or fakeredis), or install redis-server"
            ) from exc
        server = TcpFakeServer(("127.0.0.1", 0))
        self.port = int(server.server_address[1])
        self._fake = server
        self._fake_thread = start_thread(server.serve_forever, "sd-fakeredis", poll_interval=0.05)
        deadline = time.monotonic() + self.startup_timeout
        while not ping(self.url):
            if time.monotonic() > deadline:
                self._stop_fake()
                raise RuntimeError("fakeredis TCP server did not answer PING")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server, wait for it to be gone and free its port. Idempotent."""
        with self._lock:
            self._stop_process()
            self._stop_fake()
            self.port = None
            forget_at_exit(self)

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stop()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _stop_fake(self) -> None:
        server, self._fake = self._fake, None
        if server is not None:
            server.shutdown()  # stops serve_forever and tells every handler loop to end
            server.server_close()  # closes the socket and joins the handler threads
        join_thread(self._fake_thread)
        self._fake_thread = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "stopped"
        return f"EmbeddedRedis(kind={self.kind!r}, {where})"
