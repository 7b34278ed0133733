"""The simulated market: its instrument rules and the taker flow that trades with us.

The rest of the market is not modelled order by order. Its best bid and ask
sit ``half_spread_bps`` around the mid; takers arrive as a Poisson process,
each with a side, a size and a reach (how far past the touch it sweeps), and
trade with the account's resting orders within that reach, best price first,
then oldest. A mid that jumps through a resting order fills it whole, as an
arbitrageur would.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

__all__ = ["MarketParams"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketParams:
    """The instrument's rules and the behaviour of the rest of the market."""

    #: The mid price at the start.
    mid: Decimal = Decimal("97000")
    #: Size decimals of the instrument (prices get ``6 - sz_decimals`` decimals).
    sz_decimals: int = 5
    #: Minimum order value in USD ("Order must have minimum value of $10.").
    min_notional: Decimal = Decimal(10)
    #: Half the market's spread around the mid, in basis points.
    half_spread_bps: float = 1.0
    #: Seconds between two moves of the random-walk mid.
    price_step_s: float = 1.0
    #: Standard deviation of one mid move, in basis points.
    volatility_bps: float = 1.5
    #: Jumps of the mid per hour, each of about ``jump_bps`` either way.
    jumps_per_hour: float = 4.0
    jump_bps: float = 40.0
    #: Taker arrivals per second.
    takers_per_s: float = 0.5
    #: Mean value of one taker, in USD (exponentially distributed).
    taker_notional_usd: float = 400.0
    #: Mean reach of a taker past the market's touch, in basis points.
    taker_reach_bps: float = 3.0

    def __post_init__(self) -> None:
        if not (self.mid.is_finite() and self.mid > 0):
            raise ValueError(f"mid must be > 0, got {self.mid}")
        if not 0 <= self.sz_decimals <= 6:
            raise ValueError(f"sz_decimals must be in [0, 6], got {self.sz_decimals}")
        if self.price_step_s <= 0:
            raise ValueError("price_step_s must be > 0")
        for name in ("half_spread_bps", "volatility_bps", "jumps_per_hour", "jump_bps",
                     "takers_per_s", "taker_notional_usd", "taker_reach_bps"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
