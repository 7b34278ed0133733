"""Backoffs on the runtime's clock: :class:`Backoff`, and the two the executor keeps for
placements, :class:`RejectionBackoff` and :class:`RateLimitBackoff`.

Theory of operation
-------------------
A :class:`Backoff` counts consecutive failures. From the ``after``-th on, each
failure holds the guarded requests for ``initial_s * factor ** k`` seconds
(``k`` counting from 0 at the ``after``-th failure), at most ``max_s``,
optionally scaled by a jitter factor drawn from a seeded generator; a success
resets the count (and, unless told otherwise, lifts the hold at once). It
keeps no clock and no task: callers pass ``now`` and ask :meth:`Backoff.holds`,
so it is deterministic on the virtual clock and testable on its own.

:class:`RejectionBackoff` holds placements after a run of rejected place
batches. A batch counts once, however many of its orders were rejected (one
bad parameter rejects the whole ladder alike, and counting each order would
turn one batch into a long backoff): a batch whose every order the exchange
rejected is one rejection event, a batch with any order accepted or filled is
a success, and a batch answered only ambiguously or refused for rate limits
is neither.

:class:`RateLimitBackoff` holds placements and modifies after the exchange
refused a request for its rate limits (HTTP 429, or the address limit's "Too
many cumulative requests sent"); once a whole request counts once, and an
answered placement or modify is the success that resets it. Cancels are never
held by either: they keep the book safe.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

from lifecycle.core.events import OrderRejected
from lifecycle.runtime.adapter import CommandResult

__all__ = ["Backoff", "RateLimitBackoff", "RejectionBackoff"]


class Backoff:
    """Holds requests after consecutive failures (see the module docstring).

    Args:
        initial_s: The hold after the ``after``-th consecutive failure.
        factor: Growth of the hold per further failure (>= 1).
        max_s: The longest hold (before jitter).
        after: Consecutive failures before the first hold.
        jitter: Each hold is scaled by a factor drawn uniformly from
            ``[1 - jitter, 1 + jitter]`` (0 <= jitter < 1); needs ``rng``.
        rng: The seeded generator the jitter is drawn from.
    """

    def __init__(
        self,
        initial_s: float,
        factor: float,
        max_s: float,
        *,
        after: int = 1,
        jitter: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        if not (initial_s > 0 and max_s >= initial_s and factor >= 1 and after >= 1):
            raise ValueError(
                f"need initial_s > 0, max_s >= initial_s, factor >= 1, after >= 1; got "
                f"{initial_s}, {max_s}, {factor}, {after}"
            )
        if not 0 <= jitter < 1 or (jitter and rng is None):
            raise ValueError(f"jitter must be in [0, 1), with an rng when > 0; got {jitter}")
        self.initial_s = initial_s
        self.factor = factor
        self.max_s = max_s
        self.after = after
        self.jitter = jitter
        self._rng = rng
        #: Consecutive failures since the last success.
        self.failures = 0
        #: Until when requests are held (-inf: not held).
        self.until = -math.inf

    def hold_for(self, failures: int) -> float:
        """The hold after ``failures`` consecutive failures, before jitter (0: none)."""
        if failures < self.after:
            return 0.0
        return float(min(self.initial_s * self.factor ** (failures - self.after), self.max_s))

    def failure(self, now: float) -> float:
        """A failure at ``now``: count it; return the hold it starts (0: none yet)."""
        self.failures += 1
        hold = self.hold_for(self.failures)
        if hold and self.jitter:
            assert self._rng is not None
            hold *= self._rng.uniform(1 - self.jitter, 1 + self.jitter)
        if hold:
            self.until = max(self.until, now + hold)
        return hold

    def success(self, *, lift: bool = True) -> None:
        """A success: the count starts again; with ``lift`` a hold ends at once."""
        self.failures = 0
        if lift:
            self.until = -math.inf

    def holds(self, now: float) -> bool:
        """Whether requests are held at ``now``."""
        return now < self.until


def place_batch_outcome(results: Iterable[CommandResult]) -> bool | None:
    """How a place batch's answers count: True a success (an order accepted or
    filled), False one rejection event (every order rejected, for one reason or
    several), None neither (some answer ambiguous or refused, none accepted)."""
    total = rejected = accepted = 0
    for result in results:
        total += 1
        if result.ambiguous or result.rate_limited:
            continue
        if any(isinstance(event, OrderRejected) for event in result.events):
            rejected += 1
        else:
            accepted += 1
    if accepted:
        return True
    return False if rejected and rejected == total else None


class RejectionBackoff(Backoff):
    """Holds placements after ``after`` consecutive rejection events (see the module
    docstring): ``initial_s``, then ``factor`` times more per event, up to ``max_s``."""

    def __init__(self, initial_s: float, factor: float, max_s: float, *, after: int) -> None:
        super().__init__(initial_s, factor, max_s, after=after)

    def place_batch(self, results: Iterable[CommandResult], now: float) -> None:
        """A place batch was answered at ``now``: count it."""
        outcome = place_batch_outcome(results)
        if outcome is True:
            self.success()
        elif outcome is False:
            self.failure(now)


class RateLimitBackoff(Backoff):
    """Holds placements and modifies after rate-limit refusals (see the module docstring)."""

    def refused(self, now: float) -> None:
        """A request was refused for rate limits at ``now``."""
        self.failure(now)

    def answered(self) -> None:
        """A placement or modify was answered (not refused): the count starts again."""
        self.success()
