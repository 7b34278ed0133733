"""A scenario harness: test a bot's order handling without an exchange.

Theory of operation
-------------------
A :class:`Scenario` pairs an engine (verifying every fire against the
``transitions`` machine of record) on a :class:`~lifecycle.core.clock.ManualClock`
with a :class:`ScriptedExchange`: a book of what rests on the exchange, under
which oid, with what is left, and the exchange's own position. Nothing happens
unless the script says so, in the order it says:

* the bot's side: :meth:`Scenario.place`, :meth:`~Scenario.cancel`,
  :meth:`~Scenario.modify` (each drains the outbox into :attr:`Scenario.sent`,
  as a driver would send it);
* the exchange's side: :meth:`~Scenario.rest` books an order without telling
  the bot (a placement response still on its way), :meth:`~Scenario.ack`
  delivers the acknowledgement (REST response or websocket ``open``),
  :meth:`~Scenario.fill`, :meth:`~Scenario.cancel_ack`,
  :meth:`~Scenario.exchange_cancel`, :meth:`~Scenario.reject`,
  :meth:`~Scenario.cancel_rejected`, :meth:`~Scenario.modify_ack`,
  :meth:`~Scenario.answer_status`, :meth:`~Scenario.foreign`,
  :meth:`~Scenario.vanish` (off the book, nobody told);
* snapshots: :meth:`~Scenario.snapshot` builds an open-orders snapshot from
  the scripted book, optionally stale (``age``) or lagging (``omit``), and hands
  it to the safety sync;
* time: :meth:`~Scenario.advance` moves the clock and runs due timers.

Then assert with :meth:`~Scenario.expect` (state, reason, filled) and
:meth:`~Scenario.expect_position`. Every exchange-side call changes the book
first and delivers the message second, so snapshots always tell the truth the
script made, and a message can be withheld (``deliver=False``) to replay a lost
or late one.

Example::

    s = Scenario()
    order = s.place(Side.BUY, "100", "1")
    s.rest(order)                       # booked; the response is late
    s.snapshot()                        # the sync sees our cloid: no orphan
    s.expect(order, OrderState.FINALIZED_PROTECTED)
    s.fill(order, "1")
    s.expect(order, OrderState.GONE, reason=GoneReason.FILLED)
    s.expect_position("1")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from lifecycle.config import LifecycleConfig
from lifecycle.core.clock import ManualClock
from lifecycle.core.commands import Command, ModifyOrder
from lifecycle.core.events import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot, SyncReport

__all__ = ["BookEntry", "Scenario", "ScenarioError", "ScriptedExchange"]

Number = Decimal | str | int
_C = TypeVar("_C")


def _dec(value: Number) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


class ScenarioError(AssertionError):
    """A scenario step or expectation failed (the message says which and why)."""


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
    """The exchange's truth in a scenario: the resting book and the position.

    Args:
        coin: The coin rows are listed under (canonical form).
        first_oid: The first oid handed out.
    """

    def __init__(self, coin: str, *, first_oid: int = 1000) -> None:
        self.coin = coin
        #: Resting orders by oid, in the order they were booked.
        self.book: dict[Oid, BookEntry] = {}
        #: The exchange's position from every fill it executed.
        self.position = Decimal(0)
        self._next_oid = first_oid
        self._next_tid = 1

    def new_oid(self) -> Oid:
        """Return a fresh exchange order id."""
        self._next_oid += 1
        return Oid(self._next_oid)

    def new_tid(self) -> Tid:
        """Return a fresh trade id."""
        self._next_tid += 1
        return Tid(self._next_tid)

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


class Scenario:
    """An engine on a manual clock facing a scripted exchange.

    Args:
        config: The engine's configuration (defaults if None).
        namespace: The bot namespace of the cloids the engine makes.
        run_id: The run id of those cloids.
        start: The clock's start time.
        verify: Check every fire against the ``transitions`` machine of record.
    """

    def __init__(
        self,
        config: LifecycleConfig | None = None,
        *,
        namespace: str = "scenario",
        run_id: int = 1,
        start: float = 0.0,
        verify: bool = True,
    ) -> None:
        self.clock = ManualClock(start)
        self.engine = Engine(config, cloids=CloidFactory(namespace, run_id), verify=verify)
        self.exchange = ScriptedExchange(self.engine.config.coin_key)
        #: Every command drained from the engine, in order.
        self.sent: list[Command] = []

    # --- time ----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The scenario's current time."""
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        """Move time forward, run every due timer, drain; return the new time."""
        now = self.clock.advance(seconds)
        self.engine.on_timer(now)
        self.drain()
        return now

    def advance_to(self, when: float) -> float:
        """Move time to ``when`` (not before now), run due timers, drain; return it."""
        if when < self.now:
            raise ScenarioError(f"advance_to({when}) is before now ({self.now})")
        self.clock.set(when)  # exactly `when`: no drift from summed steps
        self.engine.on_timer(when)
        self.drain()
        return when

    def drain(self) -> list[Command]:
        """Drain the engine's outbox (as a driver would send it) into :attr:`sent`."""
        commands = self.engine.commands_to_send()
        self.sent.extend(commands)
        return commands

    def sent_of(self, kind: type[_C]) -> list[_C]:
        """The commands of type ``kind`` drained so far."""
        return [c for c in self.sent if isinstance(c, kind)]

    # --- the bot's side --------------------------------------------------------------------

    def place(
        self, side: Side = Side.BUY, price: Number = "100", size: Number = "1", *, send: bool = True
    ) -> Order:
        """Place an order; with ``send`` (default) drain it, so it is EXPECTED."""
        order = self.engine.place(side, _dec(price), _dec(size), self.now)
        if send:
            self.drain()
        return order

    def cancel(self, order: Order) -> Order:
        """Ask for ``order`` to be cancelled and drain the cancel."""
        self.engine.cancel(order, self.now)
        self.drain()
        return order

    def modify(self, order: Order, price: Number, size: Number) -> Order:
        """Ask for ``order`` to be modified and drain the modify."""
        self.engine.modify(order, _dec(price), _dec(size), self.now)
        self.drain()
        return order

    # --- the exchange's side ----------------------------------------------------------------

    def rest(self, order: Order, *, oid: Oid | None = None) -> Oid:
        """Book ``order`` on the exchange without telling the bot; return its oid."""
        entry = self._entry(order)
        if entry is not None:
            return entry.oid
        oid = oid if oid is not None else self.exchange.new_oid()
        self.exchange.book[oid] = BookEntry(
            oid=oid, cloid=order.cloid, side=order.side, price=order.price,
            remaining=order.size - order.filled, coin=self.exchange.coin,
        )
        return oid

    def ack(self, order: Order, *, oid: Oid | None = None, via: str = "rest") -> Oid:
        """Book ``order`` (if not yet) and deliver its acknowledgement.

        ``via`` names the channel (``"rest"`` response or ``"ws"`` ``open``);
        both carry the same fact to the engine.
        """
        if via not in ("rest", "ws"):
            raise ValueError(f"via must be 'rest' or 'ws', got {via!r}")
        booked = self.rest(order, oid=oid)
        self._deliver(OrderAccepted(cloid=order.cloid, oid=booked))
        return booked

    def fill(
        self,
        order: Order,
        size: Number | None = None,
        *,
        price: Number | None = None,
        tid: Tid | None = None,
        deliver: bool = True,
    ) -> Tid:
        """Execute ``size`` (default: all that rests) of ``order``; deliver the fill.

        The order must rest on the exchange (:meth:`rest` or :meth:`ack` first).
        Repeating a ``tid`` re-delivers that fill without executing it again.
        """
        entry = self._entry(order)
        if entry is None:
            raise ScenarioError(f"{order.label} does not rest on the exchange: nothing to fill")
        amount = entry.remaining if size is None else _dec(size)
        if tid is None:
            tid = self.exchange.new_tid()
            if amount > entry.remaining:
                raise ScenarioError(f"{order.label}: fill of {amount} > resting {entry.remaining}")
            entry.remaining -= amount
            self.exchange.position += amount * entry.side.sign
            if entry.remaining == 0:
                del self.exchange.book[entry.oid]
        if deliver:
            self._deliver(
                OrderFilled(
                    cloid=entry.cloid, oid=entry.oid, tid=tid, side=entry.side,
                    price=entry.price if price is None else _dec(price), size=amount,
                )
            )
        return tid

    def cancel_ack(self, order: Order, *, deliver: bool = True) -> None:
        """Take ``order`` off the book as cancelled at our request; deliver the answer."""
        entry = self._take(order)
        if deliver:
            self._deliver(OrderCanceled(cloid=order.cloid, oid=entry.oid if entry else order.oid))

    def exchange_cancel(self, order: Order, status: str = "marginCanceled") -> None:
        """The exchange cancels ``order`` on its own (``status`` is its word)."""
        entry = self._take(order)
        self._deliver(
            OrderCanceled(
                cloid=order.cloid, oid=entry.oid if entry else order.oid, status=status,
                exchange_initiated=True,
            )
        )

    def reject(self, order: Order, status: str = "tickRejected") -> None:
        """The exchange refuses the placement of ``order``."""
        self._take(order)
        self._deliver(OrderRejected(cloid=order.cloid, oid=None, status=status))

    def cancel_rejected(self, order: Order, *, gone: bool) -> None:
        """Refuse a cancel: ``gone`` for "never placed, already canceled, or filled"."""
        self._deliver(CancelRejected(cloid=order.cloid, oid=order.oid, order_gone=gone))

    def modify_ack(
        self, order: Order, price: Number | None = None, size: Number | None = None,
        *, new_oid: bool = True,
    ) -> Oid:
        """Apply the requested modify on the book (cancel-replace: a new oid by default).

        Price and size default to those of the last :class:`ModifyOrder` sent
        for the order (else its price and what remains). As on Hyperliquid,
        ``size`` is what rests after the modify, whatever filled before.
        Returns the oid the order rests under now.
        """
        requests = [
            c for c in self.sent if isinstance(c, ModifyOrder) and c.cloid == order.cloid
        ]
        last = requests[-1] if requests else None
        new_price = _dec(price) if price is not None else (last.price if last else order.price)
        new_size = _dec(size) if size is not None else (
            last.size if last else order.size - order.filled
        )
        entry = self._take(order)
        if entry is None:
            raise ScenarioError(f"{order.label} does not rest on the exchange: cannot modify")
        oid = self.exchange.new_oid() if new_oid else entry.oid
        self.exchange.book[oid] = BookEntry(
            oid=oid, cloid=order.cloid, side=order.side, price=new_price,
            remaining=new_size, coin=entry.coin,
        )
        self._deliver(
            OrderModified(
                cloid=order.cloid, oid=oid, old_oid=entry.oid, price=new_price, size=new_size
            )
        )
        return oid

    def modify_rejected(self, order: Order, *, gone: bool) -> None:
        """Refuse a modify: ``gone`` for "Cannot modify canceled or filled order"."""
        self._deliver(ModifyRejected(cloid=order.cloid, oid=order.oid, order_gone=gone))

    def answer_status(
        self, order: Order, outcome: StatusOutcome | None = None, status: str = ""
    ) -> StatusOutcome:
        """Deliver a status answer: ``outcome``, or the book's truth (open / not found)."""
        entry = self._entry(order)
        if outcome is None:
            outcome = StatusOutcome.OPEN if entry is not None else StatusOutcome.NOT_FOUND
        oid = entry.oid if entry is not None else order.oid
        self._deliver(OrderStatusReport(cloid=order.cloid, oid=oid, outcome=outcome, status=status))
        return outcome

    def foreign(
        self, side: Side = Side.SELL, price: Number = "105", size: Number = "1",
        *, cloid: Cloid | None = None, coin: str | None = None,
    ) -> Oid:
        """Book an order the engine does not know (another bot's, or an earlier run's)."""
        oid = self.exchange.new_oid()
        self.exchange.book[oid] = BookEntry(
            oid=oid, cloid=cloid, side=side, price=_dec(price), remaining=_dec(size),
            coin=coin if coin is not None else self.exchange.coin,
        )
        return oid

    def vanish(self, item: Order | Oid) -> None:
        """Take an order off the book silently (it ended elsewhere, or its message was lost)."""
        if isinstance(item, Order):
            self._take(item)
        else:
            self.exchange.book.pop(item, None)

    def snapshot(
        self, *, age: float = 0.0, omit: Iterable[Order | Oid] = (), drain: bool = True
    ) -> SyncReport:
        """Deliver an open-orders snapshot of the book to the safety sync.

        Args:
            age: How old the snapshot is (``taken_at = now - age``).
            omit: Orders (or oids) the snapshot lags behind on: not listed.
            drain: Drain the commands the sync caused into :attr:`sent`.
        """
        skip = []
        for item in omit:
            if isinstance(item, Order):
                entry = self._entry(item)
                if entry is not None:
                    skip.append(entry.oid)
            else:
                skip.append(item)
        snap = OpenOrdersSnapshot(taken_at=self.now - age, orders=self.exchange.rows(skip))
        report = self.engine.handle_snapshot(snap, self.now)
        if drain:
            self.drain()
        return report

    # --- expectations ----------------------------------------------------------------------

    def expect(
        self,
        order: Order,
        state: OrderState,
        *,
        reason: GoneReason | None = None,
        filled: Number | None = None,
    ) -> None:
        """Fail with a clear message unless ``order`` is in ``state``.

        ``reason`` and ``filled``, when given, must match too.
        """
        problems = []
        if order.state is not state:
            problems.append(f"state {order.state.value}, expected {state.value}")
        if reason is not None and order.reason is not reason:
            got = order.reason.value if order.reason else None
            problems.append(f"reason {got}, expected {reason.value}")
        if filled is not None and order.filled != _dec(filled):
            problems.append(f"filled {order.filled}, expected {_dec(filled)}")
        if problems:
            history = ", ".join(
                f"{r.source.value}-{r.trigger.value}->{r.dest.value}" for r in order.history
            )
            raise ScenarioError(f"{order.label}: {'; '.join(problems)} (history: {history})")

    def expect_position(self, position: Number) -> None:
        """Fail unless the engine's position is ``position`` and equals the exchange's."""
        expected = _dec(position)
        if self.engine.position != expected or self.exchange.position != expected:
            raise ScenarioError(
                f"position: engine {self.engine.position}, exchange {self.exchange.position}, "
                f"expected {expected}"
            )

    # --- internals --------------------------------------------------------------------------

    def _deliver(self, event: object) -> None:
        self.engine.handle(event, self.now)
        self.drain()

    def _entry(self, order: Order) -> BookEntry | None:
        for entry in self.exchange.book.values():
            if (order.cloid is not None and entry.cloid == order.cloid) or (
                order.cloid is None and order.knows_oid(entry.oid)
            ):
                return entry
        return None

    def _take(self, order: Order) -> BookEntry | None:
        entry = self._entry(order)
        if entry is not None:
            del self.exchange.book[entry.oid]
        return entry
