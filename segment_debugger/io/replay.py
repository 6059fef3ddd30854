"""Replay a recording into Redis: the payloads byte-exact, at the recorded pacing times a speed.

:func:`load_replay` reads a recording (:func:`~.recording.open_recording`) and keeps the events
a query matches, judged exactly as the widget judges them (duplicate messageIds included).
:func:`replay` publishes them to a :class:`~.publish.Target`
(a channel, a shard channel or a stream) on the schedule ``received_at`` gives, divided by
``speed`` (None: as fast as possible); events due together go in one pipelined batch. When
Redis goes away, or refuses the payloads (a key of another type, a command it does not know),
it raises :class:`ReplayError` saying how many were replayed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import redis
from redis.exceptions import RedisClusterException

from segment_debugger.io.publish import publish_batch
from segment_debugger.io.recording import open_recording

if TYPE_CHECKING:
    from redis.cluster import RedisCluster

    from segment_debugger.core.event import Event
    from segment_debugger.io.publish import Target

#: The most payloads sent in one round trip.
MAX_BATCH = 1000
#: The longest single wait while pacing (bounds how late ``stop`` is noticed).
MAX_WAIT_S = 0.1


class ReplayError(Exception):
    """Redis went away or refused during a replay; ``replayed`` events had been sent (confirmed).

    The Redis error is its ``__cause__``.
    """

    def __init__(self, message: str, replayed: int) -> None:
        super().__init__(message)
        self.replayed = replayed


def load_replay(path: str | os.PathLike[str], query: str = "") -> list[Event]:
    """Return the recording's events that ``query`` matches (all when empty), in order.

    A damaged recording loads as far as it is good (see
    :func:`~.recording.open_recording`: a :class:`~.recording.RecordingWarning` names the bad
    lines).
    """
    buffer = open_recording(path)
    return buffer.filter(query) if query.strip() else buffer.snapshot()


def replay(
    client: redis.Redis | RedisCluster,
    target: Target,
    events: Sequence[Event],
    *,
    speed: float | None = 1.0,
    loop: bool = False,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Publish every event's payload to ``target``, paced by ``received_at`` / ``speed``.

    Event *i* is sent ``(received_at[i] - received_at[0]) / speed`` seconds after the first
    (``speed=None``: no pacing). With ``loop`` the events are replayed again and again, each
    pass starting when the previous one ends, until ``stop`` is set. ``on_progress(sent,
    pass_number)`` is called after each batch. Returns how many payloads were sent; raises
    :class:`ReplayError` (with that count) when Redis goes away or refuses them.
    """
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be more than 0 (or None for no pacing), got {speed!r}")
    stop = stop or threading.Event()
    sent = 0
    passes = 0
    if not events:
        return 0
    origin = events[0].received_at
    start = clock()
    while not stop.is_set():
        passes += 1
        i = 0
        while i < len(events) and not stop.is_set():
            now = clock()
            if speed is not None:
                due = start + (events[i].received_at - origin) / speed
                if due > now:
                    stop.wait(min(MAX_WAIT_S, due - now))
                    continue
                horizon = (now - start) * speed + origin
                j = i
                while j < len(events) and j - i < MAX_BATCH and events[j].received_at <= horizon:
                    j += 1
            else:
                j = min(len(events), i + MAX_BATCH)
            try:
                publish_batch(client, target, [event.raw for event in events[i:j]])
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                raise ReplayError(
                    f"Redis went away after {sent:,} payload(s) were replayed "
                    f"({type(exc).__name__}: {exc}); the batch of {j - i} in flight may be "
                    "partly delivered",
                    sent,
                ) from exc
            except (redis.RedisError, RedisClusterException) as exc:
                raise ReplayError(
                    f"Redis refused the payloads after {sent:,} were replayed "
                    f"({type(exc).__name__}: {exc})",
                    sent,
                ) from exc
            sent += j - i
            i = j
            if on_progress is not None:
                on_progress(sent, passes)
        if not loop:
            break
        start = clock()  # the next pass begins once the last event of this one is sent
    return sent
