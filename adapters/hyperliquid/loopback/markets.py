"""The loopback's markets: their rules, and the simulated exchange behind each desk.

Theory of operation
-------------------
The simulated exchange models one account on one market. The loopback runs
one :class:`LoopbackSim` per (account, coin), its *desk*, plus one per coin
with no account, which only quotes. Every sim of a coin is built from the same
start time and a price path drawn from the same seeded stream
(:func:`price_path`), so every account sees the same mid at the same instant;
the sims' other streams (takers, ids, faults) are seeded per account.

:class:`LoopbackSim` adds what Hyperliquid has and the simulated exchange does
not: immediate-or-cancel orders (:class:`IocOrder`). At the instant it reaches
the venue, an Ioc order trades what it can against the market's touch; the
rest is cancelled instead of resting (status ``canceled`` after a partial
fill, ``iocCancelRejected`` when nothing traded), and no ``open`` update is
sent for it.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from lifecycle.core.commands import Command, PlaceOrder
from lifecycle.core.events import (
    ExchangeEvent,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
)
from lifecycle.runtime import CommandResult

from ...simulated import MarketParams, RandomWalk, SimulatedExchange
from ...simulated.websocket import WsFeed
from ...simulated.wire import REJECT_MESSAGES

__all__ = [
    "DEFAULT_MARKETS",
    "IOC_CANCEL",
    "IocOrder",
    "LoopbackSim",
    "MarketSpec",
    "derive_seed",
    "price_path",
]

#: The answer to an Ioc order that found nothing to trade with.
IOC_CANCEL = REJECT_MESSAGES["iocCancelRejected"]


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketSpec:
    """One perp market of the loopback: its name, leverage cap and simulated market."""

    name: str
    max_leverage: int
    params: MarketParams

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name or not self.name.isascii():
            raise ValueError(f"market name must be a bare ASCII coin name, got {self.name!r}")
        if self.max_leverage < 1:
            raise ValueError(f"max_leverage must be >= 1, got {self.max_leverage}")

    @property
    def sz_decimals(self) -> int:
        """Size decimals (prices get ``6 - sz_decimals`` decimals)."""
        return self.params.sz_decimals


#: The markets a loopback lists unless told otherwise: asset 0, 1 and 2.
DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    MarketSpec(name="BTC", max_leverage=40,
               params=MarketParams(mid=Decimal("97000"), sz_decimals=5)),
    MarketSpec(name="ETH", max_leverage=25,
               params=MarketParams(mid=Decimal("3500"), sz_decimals=4)),
    MarketSpec(name="SOL", max_leverage=20,
               params=MarketParams(mid=Decimal("150"), sz_decimals=2)),
)


def derive_seed(*parts: object) -> int:
    """A stable 64-bit seed from ``parts`` (the same parts give the same seed in any process)."""
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def price_path(seed: int, market: MarketSpec, start: float) -> RandomWalk:
    """The mid-price path of ``market``: the same for every sim built with the same seed."""
    rng = random.Random(f"{seed}/{market.name}/prices")
    return RandomWalk(rng, market.params, start)


class IocOrder(PlaceOrder, frozen=True, kw_only=True):
    """A placement whose unfilled part is cancelled at once instead of resting (Ioc)."""


class _HoldOpen:
    """Passes the venue's websocket messages on, except the ``open`` of an Ioc order."""

    def __init__(self, feed: WsFeed) -> None:
        self._feed = feed

    def send(self, event: ExchangeEvent, t: float) -> None:
        if not isinstance(event, OrderAccepted):
            self._feed.send(event, t)


class LoopbackSim(SimulatedExchange):
    """A :class:`SimulatedExchange` that also takes :class:`IocOrder` placements."""

    def _act(self, command: Command, t: float) -> CommandResult:
        if isinstance(command, IocOrder):
            return self._ioc(command, t)
        return super()._act(command, t)

    def _ioc(self, cmd: IocOrder, t: float) -> CommandResult:
        venue = self.venue
        feed = venue.ws
        venue.ws = cast(WsFeed, _HoldOpen(feed))
        try:
            result = venue.place(cmd, t)
        finally:
            venue.ws = feed
        fills = tuple(e for e in result.events if isinstance(e, OrderFilled))
        accepted = [e for e in result.events if isinstance(e, OrderAccepted)]
        if not accepted:
            return result  # refused, or filled whole
        order = self.book.resting.get(accepted[0].oid)
        if order is not None:
            status = "canceled" if fills else "iocCancelRejected"
            self.book.end(order, status, t)
            if fills:
                feed.send(OrderCanceled(cloid=order.cloid, oid=order.oid, status=status), t)
        if fills:
            return CommandResult(command=cmd, events=fills, ambiguous=False)
        refused = OrderRejected(
            cloid=cmd.cloid, status="iocCancelRejected", message=IOC_CANCEL
        )
        return CommandResult(command=cmd, events=(refused,), ambiguous=False)

