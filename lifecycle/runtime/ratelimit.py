"""Rate limits: the request weights of Hyperliquid's IP budget and the rolling budget
every request spends from.

Theory of operation
-------------------
:func:`request_weight` prices a request as the exchange does: actions (place,
cancel, modify) ``1 + n // 40`` for a batch of ``n``, ``orderStatus`` 2,
``openOrders`` and the fill history 20. :class:`WeightBudget` keeps what was
spent in a rolling window; a request that would overspend it waits, first come
first served, instead of being sent and refused.

Two lanes share the window. Ordinary requests may fill it only up to
``per_min - reserve``; safety requests (cancels) may fill all of it and queue
only among themselves, so a cancel never waits behind a placement or a
snapshot that is waiting for budget, and finds the reserve free unless cancels
alone spent it.

Each spend remembers when it leaves the window (its expiry), and a spend has
left the window exactly when its expiry is at or before the clock. A waiter
sleeps until the earliest expiry after which enough weight is free, so its
wait is always positive, and, because the sleep ends at that expiry, the
spends it waited for have left when it looks again: every wait makes
progress. (Testing ``spent_at <= now - window`` instead, and waiting
``spent_at + window - now``, can disagree by one rounding: the wait then
computes as exactly 0.0 while the spend still counts, and a virtual clock,
which moves only when every task sleeps, never moves again.)
"""

from __future__ import annotations

from collections import deque

import anyio

from lifecycle.core.commands import Command, FetchOpenOrders, QueryOrderStatus
from lifecycle.runtime.vloop import current_time, sleep

__all__ = ["WeightBudget", "request_weight"]

#: Weight of one fill-history request (``userFillsByTime``).
FILL_SYNC_WEIGHT = 20
#: Weight of one ``openOrders`` request.
OPEN_ORDERS_WEIGHT = 20
#: Weight of one ``userRateLimit`` request (the account's headroom).
HEADROOM_WEIGHT = 20


def request_weight(command: Command, count: int = 1) -> int:
    """Hyperliquid's IP weight of one request carrying ``count`` commands of this kind.

    Actions (place, cancel, modify) weigh ``1 + count // 40``; ``orderStatus``
    2; ``openOrders`` 20.
    """
    if isinstance(command, FetchOpenOrders):
        return OPEN_ORDERS_WEIGHT
    if isinstance(command, QueryOrderStatus):
        return 2 * count
    return 1 + count // 40


class WeightBudget:
    """A rolling one-minute request-weight budget; :meth:`take` waits when it is spent.

    Args:
        per_min: Weight allowed per rolling window.
        window_s: The window (Hyperliquid: one minute).
        reserve: Weight that only safety requests (``take(..., safety=True)``)
            may spend; ordinary requests fill the window up to
            ``per_min - reserve``.
    """

    def __init__(self, per_min: int, window_s: float = 60.0, *, reserve: int = 0) -> None:
        if per_min < 1:
            raise ValueError(f"per_min must be >= 1, got {per_min}")
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        if not 0 <= reserve < per_min:
            raise ValueError(f"reserve must be >= 0 and < per_min ({per_min}), got {reserve}")
        self.per_min = per_min
        self.window_s = window_s
        self.reserve = reserve
        # (expiry, weight), in order of expiry: spends are appended as time goes on.
        self._spent: deque[tuple[float, int]] = deque()
        self._used = 0
        self._lock = anyio.Lock(fast_acquire=True)
        self._safety_lock = anyio.Lock(fast_acquire=True)

    @property
    def used(self) -> int:
        """Weight spent in the current window (as of the last :meth:`take`)."""
        return self._used

    async def take(self, weight: int, *, safety: bool = False) -> float:
        """Spend ``weight``, waiting until the window has room; return seconds waited.

        Waiters of a lane are served first come, first served, so a heavy
        request is not starved by light ones. ``safety`` requests (cancels)
        have their own lane and may spend the reserve.
        """
        limit = self.per_min if safety else self.per_min - self.reserve
        weight = min(weight, limit)  # a request heavier than its lane still goes
        lock = self._safety_lock if safety else self._lock
        if not lock.locked() and self._spend(weight, limit, current_time()) is None:
            return 0.0  # nobody waits in this lane and it fits: the lock would order no one
        waited = 0.0
        async with lock:
            while True:
                delay = self._spend(weight, limit, current_time())
                if delay is None:
                    return waited
                waited += delay
                await sleep(delay)

    def _spend(self, weight: int, limit: int, now: float) -> float | None:
        """Spend ``weight`` now if it fits under ``limit`` (None), else change nothing
        and return the seconds until it may."""
        delay = self._wait_for(weight, limit, now)
        if delay is None:
            self._spent.append((now + self.window_s, weight))
            self._used += weight
        return delay

    def _wait_for(self, weight: int, limit: int, now: float) -> float | None:
        """Drop the spends that left the window; None if ``weight`` fits under ``limit``
        now, else the seconds until enough has left (always > 0)."""
        spent = self._spent
        while spent and spent[0][0] <= now:
            self._used -= spent.popleft()[1]
        excess = self._used + weight - limit
        if excess <= 0:
            return None
        for expiry, freed in spent:
            excess -= freed
            if excess <= 0:
                # Every expiry still queued is > now, so this is > 0.
                return expiry - now
        raise AssertionError("a weight within the limit always fits an empty window")
