"""The dead man's switch: Hyperliquid's ``scheduleCancel``, kept armed while the bot runs.

Theory of operation
-------------------
``scheduleCancel`` with a ``time`` asks the exchange to cancel every open
order of the account at that time, unless a later ``scheduleCancel`` moves it.
:class:`DeadMansSwitch` keeps it ``after_s`` ahead of the clock: it arms the
switch at once, then again every ``after_s / 3``, so two refreshes can fail
(a timeout, a 5xx) before the switch fires. If the process dies or hangs, the
orders are cancelled ``after_s`` later at most. :meth:`DeadMansSwitch.clear`
sends ``scheduleCancel`` without a time at shutdown, after the bot cancelled
its own orders, so a stopped bot leaves no switch behind.

The exchange refuses the action until the account has traded $1,000,000
("Cannot set scheduled cancel time until enough volume traded. Required:
$1000000. Traded: $373.47."; the protocol reference, §3.7 and §10): that
refusal is logged once, as a warning, and the refresher stops for good,
without touching anything else: trading goes on without a switch. Any other
failure (an ambiguous outcome, a rate limit, another refusal) is logged and
the next refresh is tried as scheduled; one that fires in between is
harmless, since the bot's own safety sync sees its orders gone.

Time: the refresh interval is slept on the runtime's clock; the switch's
``time`` is the exchange's milliseconds, from ``epoch_ms`` (Unix time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from lifecycle.runtime.vloop import sleep

from .actions import schedule_cancel_action
from .rest import ActionSigner, RestClient, RestOutcome
from .statuses import BatchError, batch_error

__all__ = ["MIN_AFTER_S", "DeadMansSwitch"]

log = logging.getLogger("lifecycle.hyperliquid.deadman")

#: The exchange wants the time at least 5 s ahead.
MIN_AFTER_S = 5.0


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class DeadMansSwitch:
    """Keeps ``scheduleCancel`` armed ``after_s`` ahead (see the module docstring).

    Args:
        rest: The REST transport.
        sign: Signs each action with a fresh nonce.
        after_s: How far ahead the switch is set (>= 5); refreshed every third of it.
        epoch_ms: The exchange's clock, in milliseconds since the epoch.

    Raises:
        ValueError: ``after_s`` is below 5 s (the exchange would refuse every refresh).
    """

    def __init__(
        self,
        rest: RestClient,
        sign: ActionSigner,
        *,
        after_s: float = 60.0,
        epoch_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        if not after_s >= MIN_AFTER_S:
            raise ValueError(f"after_s must be >= {MIN_AFTER_S:g} (seconds), got {after_s}")
        self.rest = rest
        self.sign = sign
        self.after_s = after_s
        self._epoch_ms = epoch_ms
        #: Refreshes the exchange accepted.
        self.armed = 0
        #: Refreshes that failed (anything but the volume gate).
        self.failures = 0
        #: Why the refresher stopped for good (the volume gate's words), if it did.
        self.stopped: str | None = None

    @property
    def interval_s(self) -> float:
        """Seconds between two refreshes: a third of ``after_s``."""
        return self.after_s / 3

    async def refresh(self) -> bool:
        """Arm the switch once, ``after_s`` from now; return whether the exchange accepted.

        The volume gate's refusal stops the refresher (:attr:`stopped`), logged once.
        """
        if self.stopped is not None:
            return False
        deadline = self._epoch_ms() + round(self.after_s * 1000)
        outcome = await self.rest.exchange(schedule_cancel_action(deadline), self.sign)
        if outcome.answered:
            self.armed += 1
            log.debug("dead man's switch armed for %d (ms)", deadline)
            return True
        if outcome.refused and batch_error(outcome.error) is BatchError.SCHEDULE_CANCEL_LOCKED:
            self.stopped = outcome.error
            log.warning("dead man's switch not available, running without it: %s",
                        outcome.error)
            return False
        self.failures += 1
        log.warning("dead man's switch refresh failed (%s): %s; trying again in %.1f s",
                    outcome.kind.value, outcome.error, self.interval_s)
        return False

    async def run(self) -> None:
        """Refresh every :attr:`interval_s` until cancelled or stopped by the volume gate."""
        while True:
            await self.refresh()
            if self.stopped is not None:
                return
            await sleep(self.interval_s)

    async def clear(self) -> RestOutcome | None:
        """Remove the switch (``scheduleCancel`` without a time); None when it was never
        armed, as the exchange would refuse it (the volume gate) or has nothing to remove."""
        if not self.armed:
            return None
        outcome = await self.rest.exchange(schedule_cancel_action(None), self.sign)
        if outcome.answered:
            log.info("dead man's switch cleared")
        else:
            log.warning("dead man's switch not cleared (%s): %s", outcome.kind.value,
                        outcome.error)
        return outcome
