"""The account's orders on the simulated exchange: the book of record of the venue.

:class:`Book` holds every order that reached the exchange (resting or ended),
the account's trades and position, and every cancel request received. It
allocates oids and trade ids, rests and ends orders, applies trades and finds
the resting orders a taker reaches. It decides no policy (latency, faults,
rejections): :class:`~lifecycle.adapters.simulated.exchange.SimulatedExchange`
does, and :class:`~lifecycle.adapters.simulated.truth.Truth` reads it.
"""

from __future__ import annotations

import random
from decimal import Decimal

from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side

from .records import CancelReceived, Owner, TruthFill, TruthOrder

__all__ = ["Book", "BookOrder"]

_ZERO = Decimal(0)


class BookOrder:
    """One order as the exchange holds it (mutable; the model's own record)."""

    __slots__ = (
        "cloid", "ended_at", "fills", "oid", "owner", "placed_at", "post_only", "price",
        "remaining", "replaced_by", "replaces", "side", "size", "status", "visible_at",
    )

    def __init__(
        self,
        *,
        oid: Oid,
        cloid: Cloid | None,
        owner: Owner,
        side: Side,
        price: Decimal,
        size: Decimal,
        post_only: bool,
        placed_at: float,
        visible_at: float,
    ) -> None:
        self.oid = oid
        self.cloid = cloid
        self.owner = owner
        self.side = side
        self.price = price
        self.size = size
        self.remaining = size
        self.post_only = post_only
        self.placed_at = placed_at
        self.visible_at = visible_at
        self.status = "open"
        self.ended_at: float | None = None
        self.fills: list[TruthFill] = []
        self.replaces: Oid | None = None
        self.replaced_by: Oid | None = None

    @property
    def resting(self) -> bool:
        """True while the order is on the book."""
        return self.status == "open"

    def view(self) -> TruthOrder:
        """A frozen copy for :class:`~lifecycle.adapters.simulated.truth.Truth`."""
        return TruthOrder(
            oid=self.oid, cloid=self.cloid, owner=self.owner, side=self.side, price=self.price,
            size=self.size, filled=self.size - self.remaining, remaining=self.remaining,
            post_only=self.post_only, placed_at=self.placed_at, visible_at=self.visible_at,
            status=self.status, ended_at=self.ended_at, fills=tuple(self.fills),
            replaces=self.replaces, replaced_by=self.replaced_by,
        )


class Book:
    """Orders, trades and cancels of the account on one market.

    Args:
        rng: Draws the gaps between ids (other accounts take ids too).
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._next_oid = 40_000_000_000 + rng.randrange(1_000_000)
        self._next_tid = 900_000_000_000_000 + rng.randrange(1_000_000_000)
        #: Every order that reached the exchange, by oid (insertion = oid order).
        self.orders: dict[Oid, BookOrder] = {}
        #: The orders on the book, oldest first (time priority).
        self.resting: dict[Oid, BookOrder] = {}
        #: The latest order carrying each cloid (a modify keeps the cloid).
        self.by_cloid: dict[Cloid, BookOrder] = {}
        self.fills: list[TruthFill] = []
        self.fills_by_tid: dict[Tid, TruthFill] = {}
        self.cancels: list[CancelReceived] = []
        self.position = _ZERO
        self.volume_usd = _ZERO
        #: How many orders came to rest so far (the set of resting orders gained one).
        self.rests = 0

    # --- ids ---------------------------------------------------------------------------

    def new_oid(self) -> Oid:
        """Allocate an oid: increasing, with gaps."""
        oid = self._next_oid
        self._next_oid += 1 + self._rng.randrange(5)
        return Oid(oid)

    def new_tid(self) -> Tid:
        """Allocate a trade id: increasing, with gaps."""
        tid = self._next_tid
        self._next_tid += 1 + self._rng.randrange(50)
        return Tid(tid)

    # --- lookups -----------------------------------------------------------------------

    def find(self, cloid: Cloid | None, oid: Oid | None) -> BookOrder | None:
        """The order a request names: by oid when given, else the latest with the cloid."""
        if oid is not None:
            return self.orders.get(oid)
        if cloid is not None:
            return self.by_cloid.get(cloid)
        return None

    # --- changes -----------------------------------------------------------------------

    def add(self, order: BookOrder) -> None:
        """Record a new order; it rests if its status is ``open``."""
        self.orders[order.oid] = order
        if order.cloid is not None:
            self.by_cloid[order.cloid] = order
        if order.resting:
            self.resting[order.oid] = order
            self.rests += 1

    def end(self, order: BookOrder, status: str, t: float) -> None:
        """Take a resting order off the book with the exchange's status word."""
        if not order.resting:
            raise ValueError(f"order {order.oid} does not rest ({order.status})")
        order.status = status
        order.ended_at = t
        del self.resting[order.oid]

    def trade(self, order: BookOrder, price: Decimal, size: Decimal, t: float) -> TruthFill:
        """Fill ``size`` of a resting ``order`` at ``price``: one new trade id, the
        position moves once. The order ends ``filled`` when nothing remains.

        Raises:
            ValueError: The order does not rest, or ``size`` is not in (0, remaining].
        """
        if not (order.resting and 0 < size <= order.remaining):
            raise ValueError(
                f"cannot fill {size} of order {order.oid} ({order.status}, {order.remaining} left)"
            )
        fill = TruthFill(
            tid=self.new_tid(), oid=order.oid, cloid=order.cloid, owner=order.owner,
            side=order.side, price=price, size=size, at=t,
        )
        order.remaining -= size
        order.fills.append(fill)
        self.fills.append(fill)
        self.fills_by_tid[fill.tid] = fill
        self.position += size * order.side.sign
        self.volume_usd += price * size
        if order.remaining == 0:
            self.end(order, "filled", t)
        return fill

    def record_cancel(
        self, t: float, cloid: Cloid | None, oid: Oid | None, target: BookOrder | None
    ) -> None:
        """Remember a cancel request (before it acts on ``target``)."""
        self.cancels.append(
            CancelReceived(
                at=t, oid=oid, cloid=cloid,
                target=target.oid if target is not None else None,
                target_owner=target.owner if target is not None else None,
                was_resting=target is not None and target.resting,
            )
        )

    # --- matching ----------------------------------------------------------------------

    def reachable(self, taker_side: Side, limit: Decimal) -> list[BookOrder]:
        """Resting orders a taker on ``taker_side`` with ``limit`` trades with, in priority.

        A taker buy reaches asks at or below ``limit``, cheapest first; a taker
        sell reaches bids at or above it, dearest first; ties by age.
        """
        if taker_side is Side.BUY:
            found = [o for o in self.resting.values() if o.side is Side.SELL and o.price <= limit]
            found.sort(key=lambda o: o.price)
        else:
            found = [o for o in self.resting.values() if o.side is Side.BUY and o.price >= limit]
            found.sort(key=lambda o: -o.price)
        return found  # sort is stable: equal prices keep time priority

    def crossed(self, bid: Decimal, ask: Decimal) -> list[BookOrder]:
        """Resting orders the market's touch has moved through (bids >= ask, asks <= bid)."""
        return [
            o for o in self.resting.values()
            if (o.side is Side.BUY and o.price >= ask) or (o.side is Side.SELL and o.price <= bid)
        ]
