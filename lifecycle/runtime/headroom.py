"""The account's request headroom: :class:`HeadroomGate`, which holds placements and
modifies while it is exhausted, and :class:`HeadroomSync`, which reads it.

Theory of operation
-------------------
Hyperliquid allows an address one action per USDC traded, plus a buffer; once
that is spent it refuses all but one request every ten seconds, and cancels
alone keep a higher cap. An adapter offering
:class:`~lifecycle.runtime.adapter.HeadroomSource` (``userRateLimit``) lets the
runtime see the exhaustion coming. :class:`HeadroomSync` reads it every
``runtime.headroom_refresh_s`` and hands each reading to the gate.

:class:`HeadroomGate` holds new placements and modifies (never cancels) while a
reading younger than ``headroom_max_age_s`` shows less than
``headroom_min_pct`` of the cap free, and for a cumulative backoff after each
exhaustion it finds: ``exhaustion_backoff_initial_s`` (30 s), doubling per
consecutive exhaustion up to ``exhaustion_backoff_max_s`` (600 s), each scaled
by a jitter factor within ``exhaustion_jitter_pct`` of 1 drawn from the
runtime's seeded generator, so that bots sharing a limit do not come back in
step. An exhaustion is found when a low reading arrives, or when the gate is
consulted after a backoff ended while the low reading is still fresh; the
backoff runs its course even if a healthy reading arrives meanwhile (a cap
hovering at the threshold would otherwise let every cycle through), but a
healthy reading starts the count of consecutive exhaustions again. A reading
that aged out blocks nothing: without a fresh word from the exchange the
gate stays open, as it is for an adapter that offers no reading at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from lifecycle.runtime.adapter import HeadroomReading, HeadroomSource, HeadroomUnavailable
from lifecycle.runtime.backoff import Backoff
from lifecycle.runtime.ratelimit import HEADROOM_WEIGHT, WeightBudget
from lifecycle.runtime.stats import RuntimeStats
from lifecycle.runtime.vloop import current_time, sleep

__all__ = ["HeadroomGate", "HeadroomState", "HeadroomSync"]


@dataclass(frozen=True, slots=True)
class HeadroomState:
    """What the headroom gate knows at one time (for strategies and metrics).

    Attributes:
        reading: The latest reading, if any.
        read_at: When it was received (runtime clock).
        fresh: The reading is young enough to count.
        exhausted: A fresh reading shows headroom below the minimum.
        held_until: Placements and modifies are held until then (an exhaustion
            backoff; -inf when none).
        exhaustions: Consecutive exhaustions found since the last healthy reading.
    """

    reading: HeadroomReading | None
    read_at: float | None
    fresh: bool
    exhausted: bool
    held_until: float
    exhaustions: int

    @property
    def fraction(self) -> float | None:
        """The latest reading's free fraction of the cap, if any."""
        return None if self.reading is None else self.reading.fraction


class HeadroomGate:
    """Holds placements and modifies while the account's headroom is exhausted (see
    the module docstring).

    Args:
        min_fraction: Headroom below this fraction of the cap is exhausted.
        max_age_s: A reading older than this counts no more.
        backoff: The cumulative exhaustion backoff (with its jitter).
    """

    def __init__(self, min_fraction: float, max_age_s: float, backoff: Backoff) -> None:
        self.min_fraction = min_fraction
        self.max_age_s = max_age_s
        self.backoff = backoff
        self._reading: HeadroomReading | None = None
        self._read_at = -math.inf

    def observe(self, reading: HeadroomReading, now: float) -> None:
        """A reading arrived at ``now``."""
        self._reading = reading
        self._read_at = now
        if reading.fraction >= self.min_fraction:
            self.backoff.success(lift=False)  # a new count; the backoff runs its course
        self.holds(now)

    def holds(self, now: float) -> bool:
        """Whether placements and modifies are held at ``now`` (an exhaustion found
        now, outside a backoff, starts the next one)."""
        if self.backoff.holds(now):
            return True
        if self._exhausted(now):
            self.backoff.failure(now)
            return True
        return False

    def state(self, now: float) -> HeadroomState:
        """What the gate knows at ``now`` (consults it: see :meth:`holds`)."""
        self.holds(now)
        reading = self._reading
        return HeadroomState(
            reading=reading,
            read_at=None if reading is None else self._read_at,
            fresh=self._fresh(now),
            exhausted=self._exhausted(now),
            held_until=self.backoff.until,
            exhaustions=self.backoff.failures,
        )

    def _fresh(self, now: float) -> bool:
        return self._reading is not None and now - self._read_at < self.max_age_s

    def _exhausted(self, now: float) -> bool:
        reading = self._reading
        return reading is not None and self._fresh(now) and reading.fraction < self.min_fraction


class HeadroomSync:
    """Reads the account's headroom for the gate; a collaborator of
    :class:`~lifecycle.runtime.driver.Runtime`, which runs :meth:`run` as one of its
    tasks when the adapter is a :class:`~lifecycle.runtime.adapter.HeadroomSource`.

    Args:
        source: The adapter's headroom reading.
        gate: Told of every reading.
        refresh_s: Seconds between two readings.
        retry_s: Seconds before asking again after a failed reading.
        stats: The runtime's counters, which it updates.
        budget: The request-weight budget every request spends from.
        limiter: The runtime's bound on requests in flight.
        read: Told after each reading (the executor may send what the gate held).
        refused: Told when the exchange refused the reading for its rate limits.
    """

    def __init__(
        self,
        source: HeadroomSource,
        gate: HeadroomGate,
        *,
        refresh_s: float,
        retry_s: float,
        stats: RuntimeStats,
        budget: WeightBudget,
        limiter: anyio.Semaphore,
        read: Callable[[], None],
        refused: Callable[[float], None],
    ) -> None:
        self.source = source
        self.gate = gate
        self.refresh_s = refresh_s
        self.retry_s = retry_s
        self.stats = stats
        self.budget = budget
        self._limiter = limiter
        self._read = read
        self._refused = refused

    async def run(self) -> None:
        """Read every ``refresh_s`` (the runtime's task)."""
        while True:
            await sleep(self.refresh_s if await self.once() else self.retry_s)

    async def once(self) -> bool:
        """Read the headroom now and hand it to the gate; return whether it was read."""
        async with self._limiter:
            self.stats.throttled_s += await self.budget.take(HEADROOM_WEIGHT)
            self.stats.weight += HEADROOM_WEIGHT
            self.stats.requests["headroom"] += 1
            try:
                reading = await self.source.rate_limit_status()
            except HeadroomUnavailable as exc:
                self.stats.headroom_failed += 1
                if exc.rate_limited:
                    self.stats.rate_limited += 1
                    self._refused(current_time())
                return False
        self.gate.observe(reading, current_time())
        self._read()
        return True
