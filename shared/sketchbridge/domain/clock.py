"""The one place Sketchbridge reads the calendar.

Whatever asks "what time, what day is it?" — job stamps, TTLs, model retirement flags,
health and latency windows, budget periods, token lifetimes, the providers' stand-ins —
reads ``utc_now()`` here (use cases receive it as ``Dependencies.clock``, which defaults to
it). Elapsed time (deadlines, back-off, durations) is ``time.monotonic`` and is not a
calendar reading.

Tests and the local stack move the calendar with ``pin``; it ticks by default, so a
deadline computed from a pinned clock still arrives::

    with pinned(datetime(2026, 12, 1, tzinfo=UTC)):
        ...                     # utc_now() starts at 2026-12-01T00:00Z and runs on
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta


class _Calendar:
    """The wall clock, or a pinned instant that runs on (``tick``) or stands still."""

    def __init__(self) -> None:
        self._pinned_at: datetime | None = None
        self._pinned_on_monotonic = 0.0
        self._tick = True

    def now(self) -> datetime:
        if self._pinned_at is None:
            return datetime.now(UTC)
        if not self._tick:
            return self._pinned_at
        # Monotonic, not the wall clock: a pinned calendar must not follow the wall
        # clock's own jumps (or a test's time travel) away from the pinned instant.
        elapsed = time.monotonic() - self._pinned_on_monotonic
        return self._pinned_at + timedelta(seconds=elapsed)

    def pin(self, at: datetime | None, *, tick: bool = True) -> None:
        if at is not None and at.tzinfo is None:
            raise ValueError("pin the clock to an aware datetime (UTC)")
        self._pinned_at = at.astimezone(UTC) if at is not None else None
        self._pinned_on_monotonic = time.monotonic()
        self._tick = tick

    def state(self) -> tuple[datetime | None, float, bool]:
        return self._pinned_at, self._pinned_on_monotonic, self._tick

    def restore(self, state: tuple[datetime | None, float, bool]) -> None:
        self._pinned_at, self._pinned_on_monotonic, self._tick = state


_CALENDAR = _Calendar()


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return _CALENDAR.now()


def today() -> date:
    """The current UTC day (never the machine's local day)."""
    return _CALENDAR.now().date()


def epoch_seconds() -> float:
    """The current instant as Unix seconds, for stores keyed by epoch time."""
    return _CALENDAR.now().timestamp()


def pin(at: datetime | None, *, tick: bool = True) -> None:
    """Move the calendar to ``at`` (``None``: back to the wall clock)."""
    _CALENDAR.pin(at, tick=tick)


@contextmanager
def pinned(at: datetime, *, tick: bool = True) -> Iterator[None]:
    """``pin`` for a block, restoring what was pinned before."""
    before = _CALENDAR.state()
    _CALENDAR.pin(at, tick=tick)
    try:
        yield
    finally:
        _CALENDAR.restore(before)
