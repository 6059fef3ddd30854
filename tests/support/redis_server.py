"""A real ``redis-server`` on a free localhost port, for tests and benchmarks.

The server is tied to this process (:func:`~segment_debugger.playground.procs.spawn_tied`):
it dies, and its temp dir goes, even when pytest is killed with SIGKILL. Its dir is named
after its owner (``sd-test-redis-<pid>-*``), so a dir that survived anyway is swept at the
next start.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from segment_debugger.playground.procs import TiedProcess, owned_temp_dir, spawn_tied


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server child process, tied to this one.

    ``start()``/``stop()`` are idempotent; ``restart()`` keeps the port and the dir. ``proc``
    is the running server's ``Popen`` (None when stopped).
    """

    def __init__(self, port: int | None = None, *extra_args: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not on PATH: install it (apt-get install redis-server)"
            )
        self.binary = binary
        self.port = port or free_port()
        self.extra_args = extra_args
        self.dir = owned_temp_dir("test-redis")
        self.proc: subprocess.Popen[bytes] | None = None
        self._tied: TiedProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_socket(self) -> str:
        return str(Path(self.dir) / "redis.sock")

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, **kwargs)  # type: ignore[arg-type]

    def _port_args(self) -> list[str]:
        return ["--port", str(self.port)]

    def start(self, timeout: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            return
        self._untie()  # a server that died (or was killed by a test) leaves its watchdog
        self._tied = spawn_tied(
            [
                self.binary,
                *self._port_args(),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", self.dir,
                "--unixsocket", self.unix_socket,
                "--unixsocketperm", "700",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            remove=[self.dir],
        )
        self.proc = self._tied.proc
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.client(socket_timeout=1) as c:
                    if c.ping():
                        return
            except redis.ConnectionError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.proc.returncode}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server did not answer PING on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (SIGTERM, SIGKILL after 10 s) and its watchdog; keep the dir."""
        self._untie()
        self.proc = None

    def _untie(self) -> None:
        tied, self._tied = self._tied, None
        if tied is not None:
            tied.stop(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
