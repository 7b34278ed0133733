"""The exchange's own knowledge, read-only: the truth a client's view is checked against.

The simulated exchange knows, for every order that reached it, who placed it
(its cloid and :class:`Owner`), when, whether it rests now, how it ended and
its fills; the account's position from every trade; and every cancel request
it received. :class:`Truth` exposes that knowledge as frozen records, so a
simulation driver can compare it with what a client believes (see
:mod:`lifecycle.adapters.simulated.invariants` for the counters).

Nothing here is what a client could learn through the exchange's API: it is
the referee's view, free of latency, lag and loss.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from lifecycle.core.ids import Cloid, Oid, Tid

# The records live in their own module so that the book can write them without
# importing this view of it; they are re-exported here, where readers look.
from .records import CancelReceived, Owner, TruthFill, TruthOrder

if TYPE_CHECKING:
    from .book import Book

__all__ = ["CancelReceived", "Owner", "Truth", "TruthFill", "TruthOrder"]


class Truth:
    """Read-only view of the simulated exchange's state (see the module docstring)."""

    __slots__ = ("_book",)

    def __init__(self, book: Book) -> None:
        self._book = book

    @property
    def position(self) -> Decimal:
        """The account's signed position from every trade (buys positive)."""
        return self._book.position

    @property
    def volume_usd(self) -> Decimal:
        """The account's traded value since the start (for the address rate limit)."""
        return self._book.volume_usd

    @property
    def rests(self) -> int:
        """How many orders came to rest so far: it moves whenever an order starts
        resting, so a reader can tell that the resting orders gained one since it looked."""
        return self._book.rests

    @property
    def fills(self) -> tuple[TruthFill, ...]:
        """Every trade of the account, in time order; each trade id once."""
        return tuple(self._book.fills)

    @property
    def cancels(self) -> tuple[CancelReceived, ...]:
        """Every cancel request the exchange processed, in time order."""
        return tuple(self._book.cancels)

    def position_as_of(self, t: float) -> Decimal:
        """The position from the trades at or before ``t``."""
        return sum(
            (f.size * f.side.sign for f in self._book.fills if f.at <= t), Decimal(0)
        )

    def orders(self, owner: Owner | None = None) -> tuple[TruthOrder, ...]:
        """Every order that reached the exchange (rejected ones included), by oid."""
        return tuple(
            o.view() for o in self._book.orders.values() if owner is None or o.owner is owner
        )

    def order(self, oid: Oid) -> TruthOrder:
        """The order with this oid.

        Raises:
            KeyError: The exchange never had such an order.
        """
        return self._book.orders[oid].view()

    def orders_with_cloid(self, cloid: Cloid) -> tuple[TruthOrder, ...]:
        """Every order that carried ``cloid``: the placement and its modify successors."""
        return tuple(o.view() for o in self._book.orders.values() if o.cloid == cloid)

    def resting(self, owner: Owner | None = None) -> tuple[TruthOrder, ...]:
        """The orders on the book now, oldest first; only ``owner``'s if given."""
        return tuple(
            o.view() for o in self._book.resting.values() if owner is None or o.owner is owner
        )

    def resting_cloids(self, owner: Owner | None = None) -> list[Cloid]:
        """The cloids of the orders on the book now (those that have one), oldest
        first; only ``owner``'s if given. Cheaper than :meth:`resting` (no copies)."""
        return [
            o.cloid for o in self._book.resting.values()
            if o.cloid is not None and (owner is None or o.owner is owner)
        ]

    def fill(self, tid: Tid) -> TruthFill:
        """The trade with this id.

        Raises:
            KeyError: No such trade.
        """
        return self._book.fills_by_tid[tid]
