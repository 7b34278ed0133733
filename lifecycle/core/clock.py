"""Clocks for drivers and tests. The core never reads one: time is an argument.

:class:`ManualClock` is for tests and simulations (time moves only when told,
and never backwards); :class:`MonotonicClock` is for a live driver.
"""

from __future__ import annotations

import time
from typing import Protocol

from lifecycle.core.errors import TimeWentBackwards

__all__ = ["Clock", "ManualClock", "MonotonicClock"]


class Clock(Protocol):
    """Something that tells the time in seconds."""

    def now(self) -> float:
        """Return the current time in seconds."""
        ...


class ManualClock:
    """A clock that moves only when told to.

    Args:
        start: The initial time in seconds.
    """

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        """Return the current time."""
        return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time.

        Raises:
            TimeWentBackwards: ``seconds`` is negative.
        """
        if seconds < 0:
            raise TimeWentBackwards(f"cannot advance by a negative amount: {seconds}")
        self._now += seconds
        return self._now

    def set(self, now: float) -> None:
        """Set the time; it may not move backwards.

        Raises:
            TimeWentBackwards: ``now`` is earlier than the current time.
        """
        if now < self._now:
            raise TimeWentBackwards(f"cannot set the clock back from {self._now} to {now}")
        self._now = float(now)


class MonotonicClock:
    """The process's monotonic clock (``time.monotonic``), for live drivers."""

    __slots__ = ()

    def now(self) -> float:
        """Return the monotonic time in seconds."""
        return time.monotonic()
