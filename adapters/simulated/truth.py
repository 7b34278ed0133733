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

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side

if TYPE_CHECKING:
    from .book import Book

__all__ = ["CancelReceived", "Owner", "Truth", "TruthFill", "TruthOrder"]


class Owner(enum.Enum):
    """Who placed an order."""

    #: The client of this run (placed through :meth:`SimulatedExchange.submit`).
    CLIENT = "client"
    #: An earlier run of the same bot (its cloid namespace, another run id).
    PREVIOUS_RUN = "previous_run"
    #: Someone else trading the same account (another cloid namespace, or none).
    FOREIGN = "foreign"


@dataclass(frozen=True, kw_only=True, slots=True)
class TruthFill:
    """One trade of the account: the resting side of a taker's sweep, or an immediate fill."""

    tid: Tid
    oid: Oid
    cloid: Cloid | None
    owner: Owner
    side: Side
    price: Decimal
    size: Decimal
    at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CancelReceived:
    """A cancel request as the exchange processed it.

    ``oid``/``cloid`` are what the request named; ``target`` is the order it
    resolved to (None if none); ``was_resting`` says whether that order still
    rested, i.e. whether the cancel took effect.
    """

    at: float
    oid: Oid | None
    cloid: Cloid | None
    target: Oid | None
    target_owner: Owner | None
    was_resting: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class TruthOrder:
    """Everything the exchange knows about one order, at the time of the call.

    ``status`` is the exchange's word (``open``, ``filled``, ``canceled``,
    ``marginCanceled``, ``tickRejected``...). A modify ends the old order with
    ``canceled`` and ``replaced_by`` its successor, which has ``replaces``.
    ``visible_at`` is when the order starts to appear in open-orders snapshots.
    """

    oid: Oid
    cloid: Cloid | None
    owner: Owner
    side: Side
    price: Decimal
    size: Decimal
    filled: Decimal
    remaining: Decimal
    post_only: bool
    placed_at: float
    visible_at: float
    status: str
    ended_at: float | None
    fills: tuple[TruthFill, ...]
    replaces: Oid | None
    replaced_by: Oid | None

    @property
    def resting(self) -> bool:
        """True while the order is on the book."""
        return self.status == "open"


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
