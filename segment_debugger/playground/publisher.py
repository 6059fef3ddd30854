"""The demo's fake stream onto Redis: paced by :func:`publish`, in a thread by :class:`Publisher`.

:func:`publish` stands in for the ``segment/fake-event-stream`` Docker image: it paces
:class:`~.fake.FakeEventStream` messages onto a target (a channel, a shard channel or a
stream: :func:`segment_debugger.io.publish.target`), whatever is due sent in one
:func:`~segment_debugger.io.publish.publish_batch`; :class:`Publisher` runs :func:`publish` in
a background thread that survives Redis restarts. Writing to Redis itself (targets, clients,
batches) is :mod:`segment_debugger.io.publish`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from redis.cluster import RedisCluster

from segment_debugger.io.publish import Target, connect, publish_batch, target
from segment_debugger.playground.fake import FakeEventStream
from segment_debugger.playground.procs import (
    forget_at_exit,
    join_thread,
    start_thread,
    stop_at_exit,
)
from segment_debugger.sources.url import DEFAULT_CHANNEL, split_seed_urls

log = logging.getLogger(__name__)


def publish(
    client: redis.Redis | RedisCluster,
    channel: str | Target,
    *,
    rate: float,
    count: int | None = None,
    invalid_fraction: float = 0.0,
    seed: int | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int], None] | None = None,
    progress_every: float = 5.0,
) -> int:
    """Publish fake events to ``channel`` at ``rate`` per second; return how many were published.

    ``channel`` is a channel name or a :class:`~segment_debugger.io.publish.Target` (a shard
    channel, a stream): see :func:`~segment_debugger.io.publish.target`.

    Pacing follows a monotonic-clock schedule (message ``n`` is due at ``start + n / rate``), so
    per-message overhead does not slow the rate down; whatever is due is sent in one pipelined
    batch. ``rate <= 0`` publishes as fast as possible. Stops after ``count`` messages (None:
    never), or when ``stop`` is set. ``on_progress(published)`` is called every
    ``progress_every`` seconds. Redis errors propagate.
    """
    to = target(channel)
    fake = FakeEventStream(seed, invalid_fraction)
    stop = stop or threading.Event()
    max_batch = 500 if rate <= 0 else max(1, min(500, int(rate / 50)))
    sent = 0
    start = time.monotonic()
    next_progress = start + progress_every
    while not stop.is_set() and (count is None or sent < count):
        now = time.monotonic()
        if on_progress is not None and now >= next_progress:
            on_progress(sent)
            next_progress = now + progress_every
        if rate > 0:
            due = int((now - start) * rate) + 1 - sent
            if due <= 0:
                stop.wait(min(0.1, (start + sent / rate) - now))
                continue
            if due > rate:  # more than a second behind: drop the debt rather than burst
                start = now - sent / rate
                due = 1
            n = min(due, max_batch)
        else:
            n = max_batch
        if count is not None:
            n = min(n, count - sent)
        publish_batch(client, to, [fake.payload() for _ in range(n)])
        sent += n
    return sent


class Publisher:
    """A background thread publishing the fake Segment stream to one target at ``rate``/s.

    The target is ``channel`` (a name or a :class:`~segment_debugger.io.publish.Target`), a
    shard channel with ``sharded``, a stream with ``stream`` (trimmed to about ``maxlen``
    entries): see :func:`~segment_debugger.io.publish.target`. ``url`` may name a cluster (see
    :func:`~segment_debugger.io.publish.connect`).
    ``start()``/``stop()`` are idempotent; ``stop()`` joins. Connection errors are logged and
    retried every second until stopped, so a Redis restart does not kill the stream.
    """

    def __init__(
        self,
        url: str,
        channel: str | Target = DEFAULT_CHANNEL,
        *,
        rate: float = 100.0,
        invalid_fraction: float = 0.02,
        seed: int | None = None,
        stream: bool = False,
        sharded: bool = False,
        maxlen: int | None = None,
    ) -> None:
        split_seed_urls(url)  # a bad URL fails here, not in the thread
        self.url = url
        self.target = target(channel, stream=stream, sharded=sharded, maxlen=maxlen)
        self.channel = self.target.name
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
        self._thread = start_thread(self._run, "sd-demo-publisher")
        stop_at_exit(self)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop publishing and join the thread."""
        self._stop.set()
        join_thread(self._thread, timeout)
        self._thread = None
        forget_at_exit(self)

    def _run(self) -> None:
        seed = self.seed
        while not self._stop.is_set():
            try:
                with connect(self.url, socket_timeout=5) as client:
                    self.published += publish(
                        client,
                        self.target,
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
        return f"Publisher({self.target}, rate={self.rate}, {state}, published={self.published})"
