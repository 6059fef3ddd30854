"""An embedded Redis for the demo, and ``demo()``: a live debugger on a fake event stream.

:class:`EmbeddedRedis` runs a real ``redis-server`` (or ``valkey-server``) found on PATH, as a
child process in its own process group on a free 127.0.0.1 port with persistence off. When no
such binary exists it falls back to fakeredis's in-process TCP server, which needs nothing
installed by hand and carries pub/sub for redis-py clients. ``SEGMENT_DEBUGGER_EMBEDDED=fakeredis``
(or ``EmbeddedRedis(kind="fakeredis")``) forces the fallback.

:func:`demo` starts such a server plus a background publisher of the fake Segment stream and
returns a live :class:`~segment_debugger.widget.SegmentDebugger` whose ``close()`` stops all three.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import redis

if TYPE_CHECKING:
    from segment_debugger.widget.widget import SegmentDebugger

log = logging.getLogger(__name__)

Kind = Literal["redis-server", "fakeredis"]

#: Environment variable that forces a backend: ``redis-server``, ``fakeredis`` or ``auto``.
ENV_EMBEDDED = "SEGMENT_DEBUGGER_EMBEDDED"

#: Binaries tried, in order, when looking for a real server on PATH.
SERVER_BINARIES = ("redis-server", "valkey-server")

_live: weakref.WeakSet[Any] = weakref.WeakSet()
"""Everything started here that must be stopped at interpreter exit."""


def _stop_all_at_exit() -> None:
    # Demo bundles first (publisher, debugger, then server), then anything left on its own.
    for thing in sorted(_live, key=lambda t: not isinstance(t, _Resources)):
        try:
            thing.stop()
        except Exception:  # at exit, report and go on stopping the rest
            log.exception("could not stop %r at exit", thing)


atexit.register(_stop_all_at_exit)


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


def _ping(url: str, timeout: float = 0.5) -> bool:
    try:
        with redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout) as c:
            return bool(c.ping())
    except (redis.RedisError, OSError):
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
        self._proc: subprocess.Popen[bytes] | None = None
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
            _live.add(self)
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
            self._dir = tempfile.mkdtemp(prefix="sd-embedded-redis-")
            self.port = free_port()
            logfile = Path(self._dir) / "redis.log"
            with open(logfile, "wb") as out:
                self._proc = subprocess.Popen(
                    [
                        binary,
                        "--port", str(self.port),
                        "--bind", "127.0.0.1",
                        "--save", "",
                        "--appendonly", "no",
                        "--dir", self._dir,
                        "--daemonize", "no",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + self.startup_timeout
            while time.monotonic() < deadline and self._proc.poll() is None:
                if _ping(self.url, timeout=0.5):
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
        self._fake_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sd-fakeredis",
            daemon=True,
        )
        self._fake_thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not _ping(self.url):
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
            _live.discard(self)

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
            else:  # the leader is gone; make sure nothing else lingers in its group
                _signal_group(proc.pid, signal.SIGKILL)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _stop_fake(self) -> None:
        server, self._fake = self._fake, None
        if server is not None:
            server.shutdown()  # stops serve_forever and tells every handler loop to end
            server.server_close()  # closes the socket and joins the handler threads
        if self._fake_thread is not None:
            self._fake_thread.join(timeout=5)
            self._fake_thread = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "stopped"
        return f"EmbeddedRedis(kind={self.kind!r}, {where})"


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


class Publisher:
    """A background thread publishing the fake Segment stream to one channel at ``rate``/s.

    ``start()``/``stop()`` are idempotent; ``stop()`` joins. Connection errors are logged and
    retried every second until stopped, so a Redis restart does not kill the stream.
    """

    def __init__(
        self,
        url: str,
        channel: str = "events",
        *,
        rate: float = 100.0,
        invalid_fraction: float = 0.02,
        seed: int | None = None,
    ) -> None:
        self.url = url
        self.channel = channel
        self.rate = rate
        self.invalid_fraction = invalid_fraction
        self.seed = seed
        self.published = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the publishing thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Publisher:
        """Start publishing in a daemon thread."""
        if self.running:
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sd-demo-publisher", daemon=True)
        self._thread.start()
        _live.add(self)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop publishing and join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("demo publisher thread did not stop within %.1f s", timeout)
            self._thread = None
        _live.discard(self)

    def _run(self) -> None:
        from segment_debugger.playground.publisher import publish

        seed = self.seed
        while not self._stop.is_set():
            try:
                with redis.Redis.from_url(self.url, socket_timeout=5) as client:
                    self.published += publish(
                        client,
                        self.channel,
                        rate=self.rate,
                        invalid_fraction=self.invalid_fraction,
                        seed=seed,
                        stop=self._stop,
                    )
            except (redis.RedisError, OSError) as exc:
                if self._stop.is_set():
                    return
                log.warning("demo publisher: %s; retrying in 1 s", exc)
                self._stop.wait(1.0)
            seed = None if seed is None else seed + 1  # a restart must not replay the same ids

    def __enter__(self) -> Publisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Publisher({self.channel!r}, rate={self.rate}, {state}, published={self.published})"


class _Resources:
    """What a demo debugger owns: stopped once, publisher first, then the debugger, then Redis.

    Registered for interpreter exit, so a kernel shutting down without ``dbg.close()`` stops
    the debugger's listener before its Redis goes away (no reconnect noise) and leaves no
    redis-server behind.
    """

    def __init__(self, publisher: Publisher, server: EmbeddedRedis | None) -> None:
        self.publisher = publisher
        self.server = server
        self.widget: weakref.ref[Any] | None = None
        self._stopped = False

    def stop(self) -> None:
        """Stop everything (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        self.publisher.stop()
        widget = self.widget() if self.widget is not None else None
        if widget is not None:
            try:
                widget.close()
            except Exception:  # at exit the comm may already be gone; Redis must stop anyway
                log.exception("could not close the demo debugger")
        if self.server is not None:
            self.server.stop()
        _live.discard(self)


def demo(
    rate: float = 100.0,
    invalid_fraction: float = 0.02,
    channel: str = "events",
    *,
    url: str | None = None,
    seed: int | None = None,
    **widget_kwargs: Any,
) -> SegmentDebugger:
    """Return a live SegmentDebugger on a fake Segment stream, with zero set-up.

    Without ``url`` an :class:`EmbeddedRedis` is started (a redis-server on PATH, else
    fakeredis); with ``url`` that Redis is used as it is. A background thread publishes the fake
    stream to ``channel`` at ``rate`` events/s, ``invalid_fraction`` of them invalid.
    ``widget_kwargs`` go to :class:`~segment_debugger.widget.SegmentDebugger`. The debugger's
    ``close()`` also stops the publisher and the embedded server; so does interpreter exit.
    """
    server = EmbeddedRedis().start() if url is None else None
    target = server.url if server is not None else str(url)
    try:
        dbg = _demo_class()(url=target, channels=[channel], **widget_kwargs)
    except BaseException:
        if server is not None:
            server.stop()
        raise
    publisher = Publisher(
        target, channel, rate=rate, invalid_fraction=invalid_fraction, seed=seed
    ).start()
    resources = _Resources(publisher, server)
    resources.widget = weakref.ref(dbg)
    dbg._demo_resources = resources
    _live.add(resources)
    dbg.embedded = server
    dbg.publisher = publisher
    return dbg


_DEMO_CLASS: type | None = None


def _demo_class() -> type:
    """Build (once) the SegmentDebugger subclass whose close() also stops the demo's resources."""
    global _DEMO_CLASS
    if _DEMO_CLASS is None:
        from segment_debugger.widget.widget import SegmentDebugger

        class DemoDebugger(SegmentDebugger):  # type: ignore[misc, valid-type]
            """A SegmentDebugger that owns a fake publisher and, maybe, an embedded Redis."""

            _demo_resources: _Resources | None = None
            embedded: EmbeddedRedis | None = None
            publisher: Publisher | None = None

            def close(self) -> None:
                """Stop the publisher, the debugger, then the embedded server."""
                resources, self._demo_resources = self._demo_resources, None
                if resources is not None:
                    resources.widget = None  # closing here; stop() must not close again
                    resources.publisher.stop()
                super().close()
                if resources is not None:
                    resources.stop()

        DemoDebugger.__qualname__ = "DemoDebugger"
        _DEMO_CLASS = DemoDebugger
    return _DEMO_CLASS
