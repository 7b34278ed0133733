"""The simulated exchange's rate limits: an IP weight budget and an address budget.

* IP: every request that reaches the exchange spends its weight (actions
  ``1 + n // 40``, ``orderStatus`` 2, ``openOrders`` 20) from a budget per
  rolling minute. Over budget, the request is refused with HTTP 429.
* Address: every action spends one request per order or cancel in it, from a
  budget of ``buffer + 1 per USDC traded`` (cancels may go up to
  ``min(cap + 100000, 2 * cap)``). Over budget, one request per 10 s still
  passes; the others are refused with the venue's "Too many cumulative
  requests sent" message.

A refused request is not executed: the refusal is definitive.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from .wire import IP_RATE_LIMITED, address_rate_limited

__all__ = ["RateLimiter"]

_WINDOW_S = 60.0
_OVER_CAP_INTERVAL_S = 10.0


class RateLimiter:
    """Admits or refuses requests by weight and by action count.

    Args:
        ip_weight_per_min: Weight budget per rolling minute; None = unlimited.
        address_buffer: Actions allowed beyond one per USDC traded; None = unlimited.
    """

    def __init__(self, ip_weight_per_min: int | None, address_buffer: int | None) -> None:
        self._ip_cap = ip_weight_per_min
        self._buffer = address_buffer
        self._window: deque[tuple[float, int]] = deque()
        self._window_weight = 0
        self._used = 0
        self._last_over_cap: float | None = None

    @property
    def address_used(self) -> int:
        """Actions counted against the address budget so far."""
        return self._used

    def admit(
        self, t: float, weight: int, actions: int, *, cancels: bool, volume_usd: Decimal
    ) -> str | None:
        """Spend a request's budgets at ``t``.

        Args:
            t: When the request reaches the exchange.
            weight: Its IP weight.
            actions: Orders, cancels or modifies in it (0 for info requests).
            cancels: It is a cancel (whose address cap is higher).
            volume_usd: The account's traded value so far.

        Returns:
            None if admitted, else the refusal in the exchange's words.
        """
        if self._ip_cap is not None:
            window = self._window
            while window and window[0][0] <= t - _WINDOW_S:
                self._window_weight -= window.popleft()[1]
            if self._window_weight + weight > self._ip_cap:
                return IP_RATE_LIMITED
            window.append((t, weight))
            self._window_weight += weight
        if self._buffer is None or actions == 0:
            return None
        cap = self._buffer + int(volume_usd)
        if cancels:
            cap = min(cap + 100_000, 2 * cap)
        if self._used + actions > cap:
            last = self._last_over_cap
            if last is not None and t - last < _OVER_CAP_INTERVAL_S:
                return address_rate_limited(self._used + actions, cap, volume_usd)
            self._last_over_cap = t
        self._used += actions
        return None
