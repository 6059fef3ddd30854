"""Estimate what a hole in an at-most-once stream lost, from the events on both sides of it.

When Redis cuts a slow pub/sub subscriber, the client notices only after reading what was
already in its socket, so the moment the source records the gap says little about the hole.
The events themselves say more: the publisher-side ``timestamp`` (else ``sentAt``) of the last
event before the hole and of the first after it bound the hole in the publisher's clock, and the
recent rate (from the same timestamps) says how many events fit in it. Without usable
timestamps the local receive times stand in, which over-state nothing but blur the edges.

Everything here is an estimate, and is labelled as such wherever it is shown.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from segment_debugger.core.event import Event

#: How many events before the hole are used to measure the rate: enough for seconds of traffic,
#: so a publisher's catch-up burst just before the hole does not pass for its rate (seen: 500
#: events measured 76k/s for a 10k/s stream). Read once per gap, outside the buffer's lock.
RATE_SAMPLE = 20_000


@dataclass(frozen=True, slots=True)
class HoleEstimate:
    """The estimated hole: how many events it swallowed, and when it was (local clock)."""

    lost: int
    """Estimated number of events published inside the hole and never received."""
    started_at: float
    """Local epoch seconds when the hole began (mapped from the publisher's clock)."""
    ended_at: float
    """Local epoch seconds when it ended."""
    basis: str
    """What the estimate rests on: ``"publisher timestamps"`` or ``"receive times"``."""


def publisher_time(event: Event) -> float | None:
    """Return the event's ``timestamp`` (else ``sentAt``) in epoch seconds, or None."""
    for text in (event.timestamp, event.sentAt):
        if text:
            moment = _parse(text)
            if moment is not None:
                return moment
    return None


def _parse(text: str) -> float | None:
    """Parse an ISO-8601 date-time the way Segment libraries write it (Z, 0-9 fraction digits)."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:  # keep at most 6 fraction digits: fromisoformat on Python 3.10 wants 3 or 6
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction = (rest[:digits] + "000000")[:6]
        text = f"{head}.{fraction}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def estimate_hole(before: Sequence[Event], after: Event) -> HoleEstimate | None:
    """Estimate the hole between ``before`` (oldest first, ending at the hole) and ``after``.

    Returns None when there is nothing to measure a rate from (fewer than two events before).
    """
    sample = list(before[-RATE_SAMPLE:])
    if len(sample) < 2:
        return None
    estimate = _from_publisher_times(sample, after)
    if estimate is not None:
        return estimate
    return _from_receive_times(sample, after)


def _rate(times: Sequence[float]) -> float | None:
    span = max(times) - min(times)
    return (len(times) - 1) / span if span > 0 else None


def _from_publisher_times(sample: list[Event], after: Event) -> HoleEstimate | None:
    pairs = [(t, e.received_at) for e in sample if (t := publisher_time(e)) is not None]
    t_after = publisher_time(after)
    if len(pairs) < 2 or t_after is None:
        return None
    rate = _rate([t for t, _ in pairs])
    t_before = pairs[-1][0]
    if rate is None or t_after < t_before:
        return None
    if not _track_each_other(pairs, t_after - t_before, after.received_at - sample[-1].received_at):
        return None
    # How late events normally arrive: maps the publisher's clock onto ours.
    skew = statistics.median(received - published for published, received in pairs)
    return HoleEstimate(
        lost=max(0, round(rate * (t_after - t_before)) - 1),
        started_at=t_before + skew,
        ended_at=t_after + skew,
        basis="publisher timestamps",
    )


#: Publisher timestamps are trusted only when at most this share of them goes backwards ...
_MAX_BACKWARDS = 0.05
#: ... and the hole they show is at least this share of the silence we saw (less a latency).
_MIN_HOLE_SHARE = 0.5
_LATENCY_S = 0.05


def _track_each_other(pairs: list[tuple[float, float]], hole: float, silence: float) -> bool:
    """Tell whether the publisher timestamps look like publish times (else receive times win).

    Segment's ``timestamp`` is when the event happened on the device: a replay, a queue that
    held events for hours, or a load test cycling canned payloads give timestamps that say
    nothing about the publish rate. Such timestamps go backwards often, or show a hole far
    shorter than the silence the source saw (a real hole is at least that long, give or take
    the latency: the last event before it may have been read late, never early).
    """
    published = [t for t, _ in pairs]
    backwards = sum(1 for a, b in itertools.pairwise(published) if b < a - 0.001)
    if backwards > _MAX_BACKWARDS * (len(published) - 1):
        return False
    return hole >= _MIN_HOLE_SHARE * silence - _LATENCY_S


def _from_receive_times(sample: list[Event], after: Event) -> HoleEstimate | None:
    rate = _rate([e.received_at for e in sample])
    last = sample[-1].received_at
    if rate is None or after.received_at < last:
        return None
    return HoleEstimate(
        lost=max(0, round(rate * (after.received_at - last)) - 1),
        started_at=last,
        ended_at=after.received_at,
        basis="receive times",
    )
