"""Subscribe to one Redis channel in a thread and keep what arrives: a test's witness."""

from __future__ import annotations

import threading
import time

from support.redis_server import RedisServer
from support.waiting import wait_until


class ChannelCollector:
    """Collect ``(arrival time, payload)`` pairs from ``channel``; ``stop()`` joins the thread."""

    def __init__(self, server: RedisServer, channel: str) -> None:
        self.client = server.client()  # kept: a collected client closes the pubsub's connection
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(channel)
        wait_until(lambda: self.pubsub.get_message(timeout=0.1) is not None, what="subscribed")
        self.received: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def payloads(self) -> list[bytes]:
        """The payloads received so far, in arrival order."""
        return [data for _, data in self.received]

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self.pubsub.get_message(timeout=0.05)
            if message is not None and message["type"] == "message":
                self.received.append((time.monotonic(), message["data"]))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.pubsub.close()
        self.client.close()
