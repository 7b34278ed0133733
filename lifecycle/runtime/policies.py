"""The runtime's request policies: :class:`RuntimePolicies` says which command may be
sent now, and learns from every answer.

Theory of operation
-------------------
Three holds guard new exposure, each its own small class, all on the runtime's
clock (callers pass ``now``) and deterministic:

* the rejection backoff (:class:`~lifecycle.runtime.backoff.RejectionBackoff`)
  holds placements after a run of batches the exchange rejected whole;
* the rate-limit backoff (:class:`~lifecycle.runtime.backoff.RateLimitBackoff`)
  holds placements and modifies after a 429 or an address-limit refusal;
* the headroom gate (:class:`~lifecycle.runtime.headroom.HeadroomGate`) holds
  placements and modifies while the account's request headroom is spent.

Nothing else is ever held: cancels (stale, drift, orphan and shutdown cancels
alike: every cancel the engine asks for protects the book), status queries and
syncs always go. The executor keeps a held command (its order stays in its
asking state, and later commands for the order wait behind it) until the
policies let it go or its order no longer needs it, and wakes at
:meth:`RuntimePolicies.reopens_at`.

A strategy asks :meth:`RuntimePolicies.may_place` before planning new
quotes, and :meth:`RuntimePolicies.try_recovery` when none of its orders
rests: with headroom above the minimum (or no reading at all) and nothing
holding placements, the cycle should place at least one level per side; a
second such recovery waits ``runtime.recovery_cooldown_s``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from lifecycle.config.model import RuntimePolicyConfig
from lifecycle.core.commands import Command, ModifyOrder, PlaceOrder
from lifecycle.runtime.adapter import CommandResult, HeadroomReading
from lifecycle.runtime.backoff import Backoff, RateLimitBackoff, RejectionBackoff
from lifecycle.runtime.headroom import HeadroomGate, HeadroomState

__all__ = ["RuntimePolicies"]


class RuntimePolicies:
    """Which commands may go now (see the module docstring).

    Args:
        config: The ``runtime`` section of the configuration.
        rng: The seeded generator the exhaustion backoff's jitter is drawn from.
    """

    def __init__(self, config: RuntimePolicyConfig, rng: random.Random) -> None:
        c = config
        self.config = config
        #: Holds placements after consecutive rejected batches.
        self.rejections = RejectionBackoff(
            c.rejection_backoff_initial_s, c.rejection_backoff_factor,
            c.rejection_backoff_max_s, after=c.rejection_backoff_after,
        )
        #: Holds placements and modifies after rate-limit refusals.
        self.rate_limits = RateLimitBackoff(
            c.rate_limit_backoff_initial_s, c.rate_limit_backoff_factor,
            c.rate_limit_backoff_max_s,
        )
        #: Holds placements and modifies while the account's headroom is spent.
        self.headroom = HeadroomGate(
            c.headroom_min_pct / 100,
            c.headroom_max_age_s,
            Backoff(
                c.exhaustion_backoff_initial_s, c.exhaustion_backoff_factor,
                c.exhaustion_backoff_max_s, jitter=c.exhaustion_jitter_pct / 100, rng=rng,
            ),
        )
        self._last_recovery = -math.inf

    # --- asking -----------------------------------------------------------------------------

    def holds(self, command: Command, now: float) -> bool:
        """Whether ``command`` must wait at ``now`` (only placements and modifies ever do)."""
        if isinstance(command, PlaceOrder):
            return self._holds(now, placing=True)
        if isinstance(command, ModifyOrder):
            return self._holds(now, placing=False)
        return False

    def may_place(self, now: float) -> bool:
        """Whether a new placement would be sent at ``now``."""
        return not self._holds(now, placing=True)

    def try_recovery(self, now: float) -> bool:
        """Whether a quoting cycle that finds none of its orders resting may place at
        least one level per side now; a True answer counts as a recovery, and the
        next one waits ``recovery_cooldown_s``."""
        if not self.may_place(now) or now - self._last_recovery < self.config.recovery_cooldown_s:
            return False
        self._last_recovery = now
        return True

    def headroom_state(self, now: float) -> HeadroomState:
        """What the headroom gate knows at ``now``."""
        return self.headroom.state(now)

    def reopens_at(self, now: float) -> float | None:
        """The earliest time after ``now`` when a hold may end (None: nothing holds)."""
        untils = [
            b.until
            for b in (self.rejections, self.rate_limits, self.headroom.backoff)
            if b.holds(now)
        ]
        return min(untils) if untils else None

    # --- learning -----------------------------------------------------------------------

    def answered(self, batch: Sequence[CommandResult], now: float) -> None:
        """One request's answers arrived at ``now`` (a batch of one kind of command)."""
        if not batch:
            return
        if any(result.rate_limited for result in batch):
            self.refused(now)
            return
        first = batch[0].command
        if isinstance(first, PlaceOrder):
            self.rejections.place_batch(batch, now)
        if isinstance(first, (PlaceOrder, ModifyOrder)) and any(r.definitive for r in batch):
            self.rate_limits.answered()

    def refused(self, now: float) -> None:
        """A request (any kind, reads included) was refused for rate limits at ``now``."""
        self.rate_limits.refused(now)

    def headroom_read(self, reading: HeadroomReading, now: float) -> None:
        """A headroom reading arrived at ``now``."""
        self.headroom.observe(reading, now)

    def _holds(self, now: float, *, placing: bool) -> bool:
        # Every gate is consulted, so that the headroom gate finds an exhaustion
        # when it is due whatever else holds.
        headroom = self.headroom.holds(now)
        rate_limited = self.rate_limits.holds(now)
        return headroom or rate_limited or (placing and self.rejections.holds(now))
