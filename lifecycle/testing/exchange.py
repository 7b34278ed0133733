"""The scripted exchange of a scenario: its resting book, its trades and its position.

Theory of operation
-------------------
:class:`ScriptedExchange` is the truth a :class:`~lifecycle.testing.Scenario`
script makes: which orders rest under which oid with what is left, every trade
the exchange executed (by trade id) and the position those trades add up to.
It never talks to the engine; the scenario changes it first and delivers the
message second, so a snapshot built from it always shows what the script made.

Ids are handed out in order (oids from ``first_oid + 1``, trade ids from 2);
an id a script chose (``oid=``, ``tid=``) is remembered, and the counters skip
it, so chosen and handed-out ids never collide.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.policy.safety_sync import OpenOrder
from lifecycle.testing.values import ScenarioError

__all__ = ["BookEntry", "ScriptedExchange"]


@dataclass(slots=True)
class BookEntry:
    """One order resting on the scripted exchange."""

    oid: Oid
    cloid: Cloid | None
    side: Side
    price: Decimal
    remaining: Decimal
    coin: str


class ScriptedExchange:
    """The exchange's truth in a scenario: the resting book, the trades and the position.

    Args:
        coin: The coin rows are listed under (canonical form).
        first_oid: The first oid handed out is one more than this.
    """

    def __init__(self, coin: str, *, first_oid: int = 1000) -> None:
        self.coin = coin
        #: Resting orders by oid, in the order they were booked.
        self.book: dict[Oid, BookEntry] = {}
        #: The exchange's position from every trade it executed.
        self.position = Decimal(0)
        #: Every trade the exchange executed, in order, as its fill message
        #: states it (with the order's cloid): re-deliver one with
        #: :meth:`Scenario.deliver <lifecycle.testing.Scenario.deliver>`.
        self.fills: list[OrderFilled] = []
        self._next_oid = first_oid
        self._next_tid = 1
        self._oids: set[Oid] = set()
        self._tids: set[Tid] = set()
        self._executed: dict[Tid, OrderFilled] = {}

    # --- ids ------------------------------------------------------------------------------

    def new_oid(self) -> Oid:
        """Return a fresh exchange order id (never one handed out or chosen before)."""
        self._next_oid += 1
        while Oid(self._next_oid) in self._oids:
            self._next_oid += 1
        oid = Oid(self._next_oid)
        self._oids.add(oid)
        return oid

    def new_tid(self) -> Tid:
        """Return a fresh trade id (never one handed out, chosen or executed before)."""
        self._next_tid += 1
        while Tid(self._next_tid) in self._tids:
            self._next_tid += 1
        tid = Tid(self._next_tid)
        self._tids.add(tid)
        return tid

    def executed(self, tid: Tid) -> OrderFilled | None:
        """The fill of the trade the exchange executed with id ``tid``, or None."""
        return self._executed.get(tid)

    # --- the book -------------------------------------------------------------------------

    def add(
        self, side: Side, price: Decimal, size: Decimal, *, cloid: Cloid | None = None,
        oid: Oid | None = None, coin: str | None = None,
    ) -> BookEntry:
        """Rest an order: under ``oid`` if given (it must not rest already), else a fresh one.

        Raises:
            ScenarioError: ``oid`` rests already.
        """
        if oid is None:
            oid = self.new_oid()
        elif oid in self.book:
            raise ScenarioError(f"oid {oid} rests on the exchange already")
        else:
            self._oids.add(oid)
        entry = BookEntry(
            oid=oid, cloid=cloid, side=side, price=price, remaining=size,
            coin=self.coin if coin is None else coin,
        )
        self.book[oid] = entry
        return entry

    def find(self, order: Order) -> BookEntry | None:
        """The entry ``order`` rests under: by cloid when it has one, else by any of its oids."""
        cloid = order.cloid
        for entry in self.book.values():
            if (cloid is not None and entry.cloid == cloid) or (
                cloid is None and order.knows_oid(entry.oid)
            ):
                return entry
        return None

    def take(self, order: Order) -> BookEntry | None:
        """Take ``order`` off the book; return the entry it rested under (None if none)."""
        entry = self.find(order)
        if entry is not None:
            del self.book[entry.oid]
        return entry

    def rows(self, omit: Iterable[Oid] = ()) -> tuple[OpenOrder, ...]:
        """The open-orders rows, without the oids in ``omit``."""
        skip = set(omit)
        return tuple(
            OpenOrder(
                coin=e.coin, oid=e.oid, cloid=e.cloid, side=e.side, price=e.price, size=e.remaining
            )
            for e in self.book.values()
            if e.oid not in skip
        )

    # --- trades ---------------------------------------------------------------------------

    def trade(
        self, entry: BookEntry, size: Decimal, *, price: Decimal | None = None,
        tid: Tid | None = None,
    ) -> OrderFilled:
        """Execute ``size`` of a resting order; return its fill message.

        The position moves, the entry shrinks (and leaves the book when nothing
        is left), and the fill joins :attr:`fills`.

        Raises:
            ScenarioError: ``size`` is more than rests, or ``tid`` was executed already.
        """
        if size > entry.remaining:
            raise ScenarioError(f"oid {entry.oid}: fill of {size} > resting {entry.remaining}")
        fill = OrderFilled(
            cloid=entry.cloid, oid=entry.oid, tid=self._trade_id(tid), side=entry.side,
            price=entry.price if price is None else price, size=size,
        )
        entry.remaining -= size
        if entry.remaining == 0:
            self.book.pop(entry.oid, None)
        self._record(fill)
        return fill

    def record(self, fill: OrderFilled) -> bool:
        """Take a fill message as a trade the exchange executed, unless its tid was.

        The position moves by it; the order it names (by oid, else by cloid),
        if it rests, shrinks by it (and leaves the book when nothing is left).

        Returns:
            True if it was a new trade, False for a trade id executed before.
        """
        if fill.tid in self._executed:
            return False
        self._tids.add(fill.tid)
        entry = self.book.get(fill.oid) if fill.oid is not None else None
        if entry is None and fill.cloid is not None:
            entry = next((e for e in self.book.values() if e.cloid == fill.cloid), None)
        if entry is not None:
            entry.remaining -= min(fill.size, entry.remaining)
            if entry.remaining == 0:
                del self.book[entry.oid]
        self._record(fill)
        return True

    def _trade_id(self, tid: Tid | None) -> Tid:
        if tid is None:
            return self.new_tid()
        if tid in self._executed:
            raise ScenarioError(f"trade {tid} was executed already")
        self._tids.add(tid)
        return tid

    def _record(self, fill: OrderFilled) -> None:
        self.position += fill.size * fill.side.sign
        self.fills.append(fill)
        self._executed[fill.tid] = fill
