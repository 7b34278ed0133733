"""Rate limits: the request weights of Hyperliquid's IP budget and the rolling budget
every request spends from.

Theory of operation
-------------------
:func:`request_weight` prices a request as the exchange does: actions (place,
cancel, modify) ``1 + n // 40`` for a batch of ``n``, ``orderStatus`` 2,
``openOrders`` and the fill history 20. :class:`WeightBudget` keeps what was
spent in a rolling window; a request that would overspend it waits, first come
first served, instead of being sent and refused.
"""

from __future__ import annotations

from collections import deque

import anyio

from lifecycle.core.commands import Command, FetchOpenOrders, QueryOrderStatus
from lifecycle.runtime.vloop import current_time

__all__ = ["WeightBudget", "request_weight"]

#: Weight of one fill-history request (``userFillsByTime``).
FILL_SYNC_WEIGHT = 20
#: Weight of one ``openOrders`` request.
OPEN_ORDERS_WEIGHT = 20


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
    """

    def __init__(self, per_min: int, window_s: float = 60.0) -> None:
        if per_min < 1:
            raise ValueError(f"per_min must be >= 1, got {per_min}")
        self.per_min = per_min
        self.window_s = window_s
        self._spent: deque[tuple[float, int]] = deque()
        self._used = 0
        self._lock = anyio.Lock()

    @property
    def used(self) -> int:
        """Weight spent in the current window (as of the last :meth:`take`)."""
        return self._used

    async def take(self, weight: int) -> float:
        """Spend ``weight``, waiting until the window has room; return seconds waited.

        Waiters are served first come, first served, so a heavy request is not
        starved by light ones.
        """
        weight = min(weight, self.per_min)  # a request heavier than the budget still goes
        waited = 0.0
        async with self._lock:
            while True:
                now = current_time()
                spent = self._spent
                while spent and spent[0][0] <= now - self.window_s:
                    self._used -= spent.popleft()[1]
                if self._used + weight <= self.per_min:
                    spent.append((now, weight))
                    self._used += weight
                    return waited
                delay = spent[0][0] + self.window_s - now
                waited += delay
                await anyio.sleep(delay)

