"""Clock and delivery checks: warnings that leave an event valid.

:class:`Checks` holds the thresholds; ``EventBuffer(checks=Checks(...))`` applies them to every
event it appends (``checks=None`` turns them all off). Each finding is a short readable string in
``event.warnings``:

- ``timestamp`` in the future of ``receivedAt`` (or, when the payload has no ``receivedAt``, of
  the local receive time ``received_at``) by more than ``future_s`` (default 60 s): a device
  clock that runs ahead;
- ``sentAt`` earlier than ``timestamp`` by more than ``sent_before_s`` (default 0 s): an
  event cannot be sent before it happened, so one of the two clocks is wrong;
- ``timestamp`` older than ``max_age_s`` (default 24 h) when received: a replay, or a device
  queue that was stuck offline;
- a ``messageId`` already buffered (``duplicate_message_id``, default on). Segment's
  libraries retry, so a copy is normal delivery, not a broken event: it stays ``valid``.

Cost: nothing for an event without ``timestamp``; otherwise one ``datetime.fromisoformat`` per
date present (about 0.3-0.8 µs each). Dates that do not parse are left alone: the parser already
flagged them as violations.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from segment_debugger.core.event import Event

__all__ = ["Checks", "epoch_seconds", "seconds_text"]

_fromisoformat = datetime.fromisoformat
_UTC = timezone.utc
log = logging.getLogger("segment_debugger.core.buffer")  # where the buffer logs its checks


@dataclass(frozen=True, slots=True)
class Checks:
    """Thresholds of the clock and delivery checks; None (or False) turns one check off."""

    future_s: float | None = 60.0
    """Warn when ``timestamp`` is ahead of ``receivedAt`` (or the local receive time) by more."""
    sent_before_s: float | None = 0.0
    """Warn when ``sentAt`` is earlier than ``timestamp`` by more than this many seconds."""
    max_age_s: float | None = 24 * 3600.0
    """Warn when ``timestamp`` is older than this when received (a replay, a stuck queue)."""
    duplicate_message_id: bool = True
    """Warn when an event's ``messageId`` is already buffered (a retry; the event stays valid)."""

    def __post_init__(self) -> None:
        for name in ("future_s", "sent_before_s", "max_age_s"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(f"Checks {name} must be a number >= 0 or None, got {value!r}")

    def clock_check(self) -> Callable[[Event], None] | None:
        """Return the per-event clock check (adds warnings), or None when every one is off."""
        check_all = self.clock_checks()
        if check_all is None:
            return None

        def check(event: Event) -> None:
            check_all((event,))

        return check

    def clock_checks(self) -> Callable[[Iterable[Event]], None] | None:
        """Return the clock check of a chunk of events (one call per chunk), or None if off.

        An event whose check fails is logged and skipped; the others are still checked.
        """
        future, before, age = self.future_s, self.sent_before_s, self.max_age_s
        if future is None and before is None and age is None:
            return None

        future_td = None if future is None else timedelta(seconds=future)
        age_td = None if age is None else -timedelta(seconds=age)  # ahead >= it: not too old
        before_td = None if before is None else timedelta(seconds=before)

        def check_all(events: Iterable[Event]) -> None:
            # The common case in a few C calls: the dates parse, and differences of datetimes
            # (both with a zone, or both without: no zone means UTC) are compared as
            # timedeltas, without converting each date to epoch seconds. Anything else (a
            # missing receivedAt, mixed zones, "Z" on Python 3.10) takes slow_check.
            for event in events:
                try:
                    timestamp = event.timestamp
                    if timestamp is None:
                        continue
                    received = event.receivedAt
                    sent_at = event.sentAt
                    # the parser's datetimes of these very texts (see event.parsed_event)
                    moments = event._moments
                    try:
                        if (
                            moments is not None
                            and moments[0] is timestamp
                            and moments[2] is received
                            and moments[4] is sent_at
                        ):
                            at = moments[1]
                            ahead = at - moments[3]
                            sent_gap = None if sent_at is None else at - moments[5]
                        else:
                            at = _fromisoformat(timestamp)
                            ahead = at - _fromisoformat(received)  # type: ignore[arg-type]
                            sent_gap = None if sent_at is None else at - _fromisoformat(sent_at)
                    except (ValueError, TypeError):
                        slow_check(event)
                        continue
                    if (
                        (future_td is None or ahead <= future_td)
                        and (age_td is None or ahead >= age_td)
                        and (before_td is None or sent_gap is None or sent_gap <= before_td)
                    ):
                        continue
                    # something to say, from the differences found (not parsed again)
                    word(event, ahead.total_seconds(), "receivedAt",
                         None if sent_gap is None else sent_gap.total_seconds())
                except Exception:  # a check must never lose an event
                    log.exception("segment_debugger: checking event seq %d failed", event.seq)

        def slow_check(event: Event) -> None:
            timestamp = event.timestamp
            if timestamp is None:
                return
            at = epoch_seconds(timestamp)
            if at is None:
                return
            ahead: float | None = None
            label = "receivedAt"
            if future is not None or age is not None:
                received = event.receivedAt
                reference = None if received is None else epoch_seconds(received)
                if reference is None:
                    reference, label = event.received_at, "the local receive time"
                ahead = at - reference
            sent_at = event.sentAt
            sent = None if before is None or sent_at is None else epoch_seconds(sent_at)
            word(event, ahead, label, None if sent is None else at - sent)

        def word(event: Event, ahead: float | None, label: str, sent_gap: float | None) -> None:
            """Add the warnings that ``event``'s differences in seconds call for.

            ``ahead``: timestamp minus the reference named ``label``; ``sent_gap``: timestamp
            minus sentAt; None: not known.
            """
            found: list[str] | None = None
            if ahead is not None:
                if future is not None and ahead > future:
                    found = [f"timestamp is {seconds_text(ahead)} ahead of {label} (clock skew?)"]
                elif age is not None and -ahead > age:
                    found = [
                        f"timestamp is {seconds_text(-ahead)} older than {label} "
                        "(a replay or a stuck device queue?)"
                    ]
            if before is not None and sent_gap is not None and sent_gap > before:
                warning = f"sentAt is {seconds_text(sent_gap)} before timestamp"
                found = [warning] if found is None else [*found, warning]
            if found is not None:
                event.warnings = [*event.warnings_view(), *found]

        return check_all


def epoch_seconds(text: str) -> float | None:
    """Return an ISO-8601 date as epoch seconds (no zone means UTC), or None if unreadable."""
    try:
        moment = _fromisoformat(text)
    except (ValueError, TypeError):
        if not isinstance(text, str) or not text.endswith(("Z", "z")):
            return None
        try:  # Python 3.10's fromisoformat does not take "Z"
            moment = _fromisoformat(text[:-1] + "+00:00")
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return moment.timestamp()


def seconds_text(seconds: float) -> str:
    """Write a duration for a warning: ``75 s``, ``12 min``, ``5.0 h``, ``3.2 d``."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
