"""Order rules, request weights and the exchange's words for refusing.

Theory of operation
-------------------
An order's terms are checked when the action reaches the loopback, in this
order: size (a multiple of the lot, not zero), price (positive, at most 5
significant figures and ``6 - szDecimals`` decimals, integers always allowed),
minimum value ($10), then the price band around the market's mid (at most 95%
away). The first failure answers that order with Hyperliquid's text (the
protocol reference, section 3.2 and section 10 rows 4 and 6); the order never
reaches the simulated exchange, which applies the same rules again to the
orders that pass, along with everything that depends on the market and the
account (post-only, reduce-only, random rejects of the fault profile).

Every request spends its weight from one budget per rolling minute
(:class:`WeightLimiter`, the profile's ``ip_weight_per_min``): an action
weighs ``1 + n // 40`` for a batch of ``n``; info requests 2, 20 or 60 by
type, plus 1 per 20 items returned by the list requests. A request over budget
gets HTTP 429 and is not performed.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal
from typing import Final

from ...simulated import price_is_valid, size_is_valid
from ...simulated.wire import (
    IP_RATE_LIMITED,
    MIN_NOTIONAL,
    REJECT_MESSAGES,
    TICK,
)
from .markets import MarketSpec

__all__ = [
    "ALREADY_EXPIRED",
    "BAD_JSON",
    "BUILDER_NOT_APPROVED",
    "INVALID_PRICE",
    "INVALID_SIZE",
    "IP_RATE_LIMITED",
    "MIN_NOTIONAL",
    "PRICE_BAND",
    "TRIGGER_UNSUPPORTED",
    "ZERO_SIZE",
    "WeightLimiter",
    "action_weight",
    "check_order",
    "info_weight",
    "reject_text",
    "schedule_cancel_unfunded",
    "unknown_asset",
]

#: The body of an HTTP 422: the request does not fit the schema (text/plain).
BAD_JSON: Final = "Failed to deserialize the JSON body into the target type"
#: A price off the tick grid (section 10 row 6: not the documented tick text).
INVALID_PRICE: Final = "Order has invalid price."
INVALID_SIZE: Final = "Order has invalid size."
ZERO_SIZE: Final = "Order has zero size."
#: An order priced too far from the market (section 10 row 4).
PRICE_BAND: Final = "Order price cannot be more than 95% away from the reference price"
ALREADY_EXPIRED: Final = "Action already expired"
BUILDER_NOT_APPROVED: Final = "Builder fee has not been approved"
#: Trigger orders (TP/SL): the simulated exchange has none.
TRIGGER_UNSUPPORTED: Final = "Trigger orders are not supported by the loopback exchange."
#: How far from the mid a price may be, as a fraction of the mid.
BAND: Final = Decimal("0.95")

_INFO_WEIGHT_2: Final = frozenset(
    {"l2Book", "allMids", "clearinghouseState", "orderStatus", "spotClearinghouseState",
     "exchangeStatus"}
)
_INFO_PER_ITEM: Final = frozenset(
    {"historicalOrders", "userFills", "userFillsByTime", "recentTrades", "fundingHistory",
     "userFunding"}
)
_WINDOW_S: Final = 60.0


def unknown_asset(asset: object) -> str:
    """The answer to an order or cancel naming an asset the loopback does not list."""
    return f"Asset {asset} does not exist on the loopback exchange."


def schedule_cancel_unfunded(traded: Decimal, required: int) -> str:
    """The refusal of a dead man's switch before enough volume traded (section 3.7)."""
    return (
        "Cannot set scheduled cancel time until enough volume traded. "
        f"Required: ${required}. Traded: ${format(traded.normalize(), 'f')}."
    )


def check_order(
    market: MarketSpec, price: Decimal, size: Decimal, mid: Decimal
) -> tuple[str, str] | None:
    """Check an order's terms; return ``(status, text)`` for the first failure, else None."""
    szd = market.sz_decimals
    if size == 0:
        return "rejected", ZERO_SIZE
    if not size_is_valid(size, szd):
        return "rejected", INVALID_SIZE
    if not price_is_valid(price, szd):
        return "tickRejected", INVALID_PRICE
    if price * size < market.params.min_notional:
        return "minTradeNtlRejected", MIN_NOTIONAL
    if abs(price - mid) > mid * BAND:
        return "rejected", PRICE_BAND
    return None


def reject_text(status: str, message: str) -> str:
    """The text of a sim's rejection as the loopback answers it (the sim gives no text
    for some statuses; the loopback then names the status)."""
    if message == TICK:
        return INVALID_PRICE
    if message:
        return message
    return REJECT_MESSAGES.get(status, f"Order rejected ({status}).")


def action_weight(batch: int) -> int:
    """The IP weight of an action carrying ``batch`` orders, cancels or modifies."""
    return 1 + batch // 40


def info_weight(request_type: str, items: int = 0) -> int:
    """The IP weight of an info request that returned ``items`` list items."""
    if request_type in _INFO_WEIGHT_2:
        return 2
    if request_type == "userRole":
        return 60
    extra = items // 20 if request_type in _INFO_PER_ITEM else 0
    return 20 + extra


class WeightLimiter:
    """A weight budget per rolling minute (None: unlimited).

    Args:
        per_minute: The budget, or None for no limit.
    """

    def __init__(self, per_minute: int | None) -> None:
        self._cap = per_minute
        self._window: deque[tuple[float, int]] = deque()
        self._spent = 0

    def admit(self, now: float, weight: int) -> bool:
        """Spend ``weight`` at ``now`` if the budget allows; False (nothing spent) if not."""
        if self._cap is None:
            return True
        window = self._window
        while window and window[0][0] <= now - _WINDOW_S:
            self._spent -= window.popleft()[1]
        if self._spent + weight > self._cap:
            return False
        window.append((now, weight))
        self._spent += weight
        return True

    def charge(self, now: float, weight: int) -> None:
        """Spend ``weight`` whatever the budget (the extra weight of a long answer)."""
        if self._cap is not None and weight > 0:
            self._window.append((now, weight))
            self._spent += weight
