"""The scenario: an engine on a manual clock facing a scripted exchange.

Theory of operation
-------------------
:class:`Scenario` owns an :class:`~lifecycle.engine.facade.Engine` (verifying
every fire against the machine of record), a
:class:`~lifecycle.core.clock.ManualClock` and a
:class:`~lifecycle.testing.exchange.ScriptedExchange`. Every call does one
step of the script at the scenario's current time and then drains the
engine's outbox into :attr:`Scenario.sent`, as a driver would send it, so the
commands a step caused are in ``sent`` when the call returns. Exchange-side
calls change the scripted book first and deliver the message second; time
moves only through :meth:`Scenario.advance` and :meth:`Scenario.advance_to`,
which run the engine's due timers.
"""

from __future__ import annotations

from collections.abc import Iterable
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
from lifecycle.policy.reconciler import Book, Ladder, Plan
from lifecycle.policy.safety_sync import OpenOrdersSnapshot, SyncReport
from lifecycle.testing.exchange import ScriptedExchange
from lifecycle.testing.values import (
    CloidLike,
    Levels,
    Number,
    ScenarioError,
    book_of,
    expect_state,
    ladder_of,
)
from lifecycle.testing.values import to_decimal as _dec

__all__ = ["Scenario"]

_C = TypeVar("_C")


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
        self,
        side: Side = Side.BUY,
        price: Number = "100",
        size: Number = "1",
        *,
        send: bool = True,
        cloid: CloidLike | None = None,
        fill: Number | None = None,
    ) -> Order:
        """Place an order; with ``send`` (default) drain it, so it is EXPECTED.

        Args:
            side: Buy or sell.
            price: The limit price.
            size: The size.
            send: Drain the placement (the order moves to EXPECTED).
            cloid: The order's cloid, in any form :class:`~lifecycle.core.ids.Cloid`
                accepts (a :class:`uuid.UUID`, a hyphenated UUID, 32 hex digits,
                ``0x``-hex in any case); the order carries it canonical. Default:
                the engine's next cloid.
            fill: Trade this much of the order on arrival and answer at once:
                :meth:`ack` with ``filled=fill`` (the whole size is Hyperliquid's
                ``filled`` status; see :meth:`ack` for what is delivered). Needs ``send``.

        Raises:
            ScenarioError: ``fill`` without ``send``.
            InvalidCloid: ``cloid`` is not a cloid.
        """
        if fill is not None and not send:
            raise ScenarioError("place(fill=...) answers the placement: it needs send=True")
        chosen = None if cloid is None else Cloid(cloid)
        order = self.engine.place(side, _dec(price), _dec(size), self.now, cloid=chosen)
        if send:
            self.drain()
            if fill is not None:
                self.ack(order, filled=fill)
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

    def cycle(
        self,
        targets: Ladder | tuple[Levels, Levels],
        book: Book | tuple[Number | None, Number | None] | None = None,
        *,
        age: float = 0.0,
    ) -> Plan:
        """One reconcile cycle: set ``targets`` against a book, drain, return the plan.

        Args:
            targets: A :class:`~lifecycle.policy.reconciler.Ladder`, or
                ``(bids, asks)``, each a sequence of levels or ``(price, size)``
                pairs, best level first.
            book: The top of the book: a :class:`~lifecycle.policy.reconciler.Book`
                (used as it is, with its own ``at``), or ``(best_bid, best_ask)``
                (either may be None), or None for a book with neither side (no
                level is dropped for crossing). Built books are stamped
                ``now - age``.
            age: How old a built book is (past ``reconciler.book_stale_s`` the
                cycle is skipped).
        """
        plan = self.engine.set_targets(ladder_of(targets), book_of(book, self.now - age), self.now)
        self.drain()
        return plan

    # --- the exchange's side ----------------------------------------------------------------

    def rest(self, order: Order, *, oid: Oid | None = None) -> Oid:
        """Book ``order`` on the exchange without telling the bot; return its oid.

        An order resting already keeps its oid. ``oid`` chooses the oid (it
        must not rest already; default: a fresh one).
        """
        entry = self.exchange.find(order)
        if entry is not None:
            return entry.oid
        return self.exchange.add(
            order.side, order.price, order.size - order.filled, cloid=order.cloid, oid=oid
        ).oid

    def ack(
        self,
        order: Order,
        *,
        oid: Oid | None = None,
        via: str = "rest",
        filled: Number | None = None,
        fill_price: Number | None = None,
    ) -> Oid:
        """Book ``order`` (if not yet) and deliver the exchange's answer; return its oid.

        ``via`` names the channel (``"rest"`` response or ``"ws"`` ``open``);
        both carry the same fact to the engine.

        ``filled`` makes ``filled`` of the order trade on arrival (at
        ``fill_price``, default the order's price): Hyperliquid answers the
        whole size with the ``filled`` status (``totalSz``, ``avgPx``, ``oid``).
        That status carries no trade id, and the engine counts a fill once per
        trade id, so the harness delivers what an adapter has to make of it:
        the trade as the fill message of the account's fills (websocket
        ``userFills``) states it, with the trade's id and the oid, so that the
        same fill arriving again later (:meth:`deliver` of
        ``exchange.fills[-1]``) counts once. The exchange executes the trade
        first (position, ``exchange.fills``); then the fill is delivered (it
        binds the oid, as any fill before the acknowledgement does) and, when
        part of the order is left, the acknowledgement (``resting``) follows.
        A wholly filled order ends GONE(filled) and no acknowledgement is
        delivered. For an answer the adapter does not pass on (it waits for
        the websocket), use :meth:`rest` and ``fill(order, deliver=False)``.

        Raises:
            ValueError: ``via`` is neither ``"rest"`` nor ``"ws"``.
            ScenarioError: ``filled`` is more than rests.
        """
        if via not in ("rest", "ws"):
            raise ValueError(f"via must be 'rest' or 'ws', got {via!r}")
        booked = self.rest(order, oid=oid)
        if filled is not None:
            self.fill(order, filled, price=fill_price)
            if booked not in self.exchange.book:
                return booked
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
        Repeating a ``tid`` re-delivers that fill without executing it again
        (for an order no longer resting: the trade as the exchange executed it).
        With ``deliver=False`` the exchange trades and the message is lost.
        """
        entry = self.exchange.find(order)
        fill: OrderFilled | None
        if entry is None:
            fill = self.exchange.executed(tid) if tid is not None else None
            if fill is None:
                raise ScenarioError(f"{order.label} does not rest on the exchange: nothing to fill")
        else:
            amount = entry.remaining if size is None else _dec(size)
            at = None if price is None else _dec(price)
            if tid is not None:  # a repeat: delivered, not executed
                fill = OrderFilled(
                    cloid=entry.cloid, oid=entry.oid, tid=tid, side=entry.side,
                    price=entry.price if at is None else at, size=amount,
                )
            elif amount > entry.remaining:
                raise ScenarioError(f"{order.label}: fill of {amount} > resting {entry.remaining}")
            else:
                fill = self.exchange.trade(entry, amount, price=at)
        if deliver:
            self._deliver(fill)
        return fill.tid

    def cancel_ack(self, order: Order, *, deliver: bool = True) -> None:
        """Take ``order`` off the book as cancelled at our request; deliver the answer."""
        entry = self.exchange.take(order)
        if deliver:
            self._deliver(OrderCanceled(cloid=order.cloid, oid=entry.oid if entry else order.oid))

    def exchange_cancel(self, order: Order, status: str = "marginCanceled") -> None:
        """The exchange cancels ``order`` on its own (``status`` is its word)."""
        entry = self.exchange.take(order)
        self._deliver(
            OrderCanceled(
                cloid=order.cloid, oid=entry.oid if entry else order.oid, status=status,
                exchange_initiated=True,
            )
        )

    def reject(self, order: Order, status: str = "tickRejected") -> None:
        """The exchange refuses the placement of ``order``."""
        self.exchange.take(order)
        self._deliver(OrderRejected(cloid=order.cloid, oid=None, status=status))

    def cancel_rejected(self, order: Order, *, gone: bool) -> None:
        """Refuse a cancel: ``gone`` for "never placed, already canceled, or filled"."""
        self._deliver(CancelRejected(cloid=order.cloid, oid=order.oid, order_gone=gone))

    def modify_ack(
        self, order: Order, price: Number | None = None, size: Number | None = None,
        *, new_oid: bool = True, oid: Oid | None = None,
    ) -> Oid:
        """Apply the requested modify on the book (cancel-replace: a new oid by default).

        Price and size default to those of the last :class:`ModifyOrder` sent
        for the order (else its price and what remains). As on Hyperliquid,
        ``size`` is what rests after the modify, whatever filled before.
        ``oid`` chooses the new oid (it must not rest already); ``new_oid=False``
        keeps the old one. Returns the oid the order rests under now.

        Raises:
            ValueError: ``oid`` with ``new_oid=False``.
            ScenarioError: The order does not rest, or ``oid`` rests already.
        """
        if oid is not None and not new_oid:
            raise ValueError("modify_ack(oid=...) names a new oid: it needs new_oid=True")
        requests = [
            c for c in self.sent if isinstance(c, ModifyOrder) and c.cloid == order.cloid
        ]
        last = requests[-1] if requests else None
        new_price = _dec(price) if price is not None else (last.price if last else order.price)
        new_size = _dec(size) if size is not None else (
            last.size if last else order.size - order.filled
        )
        if oid is not None and oid in self.exchange.book:
            raise ScenarioError(f"oid {oid} rests on the exchange already")
        entry = self.exchange.take(order)
        if entry is None:
            raise ScenarioError(f"{order.label} does not rest on the exchange: cannot modify")
        rested = self.exchange.add(
            order.side, new_price, new_size, cloid=order.cloid,
            oid=oid if new_oid else entry.oid, coin=entry.coin,
        )
        self._deliver(
            OrderModified(
                cloid=order.cloid, oid=rested.oid, old_oid=entry.oid, price=new_price,
                size=new_size,
            )
        )
        return rested.oid

    def modify_rejected(self, order: Order, *, gone: bool) -> None:
        """Refuse a modify: ``gone`` for "Cannot modify canceled or filled order"."""
        self._deliver(ModifyRejected(cloid=order.cloid, oid=order.oid, order_gone=gone))

    def answer_status(
        self, item: Order | Oid, outcome: StatusOutcome | None = None, status: str = ""
    ) -> StatusOutcome:
        """Deliver a status answer: ``outcome``, or the book's truth (open / not found).

        ``item`` is the order asked about, or an oid: the answer to a query by
        oid, for a row the snapshot shows without cloid (an orphan's) or an oid
        the engine may not know. The answer names the oid the order rests
        under (else the one asked about) and the cloid the exchange knows.
        """
        if isinstance(item, Order):
            entry = self.exchange.find(item)
            cloid, oid = item.cloid, entry.oid if entry is not None else item.oid
        else:
            entry = self.exchange.book.get(item)
            cloid, oid = (entry.cloid if entry is not None else None), item
        if outcome is None:
            outcome = StatusOutcome.OPEN if entry is not None else StatusOutcome.NOT_FOUND
        self._deliver(OrderStatusReport(cloid=cloid, oid=oid, outcome=outcome, status=status))
        return outcome

    def foreign(
        self, side: Side = Side.SELL, price: Number = "105", size: Number = "1",
        *, cloid: CloidLike | None = None, coin: str | None = None, oid: Oid | None = None,
    ) -> Oid:
        """Book an order the engine does not know (another bot's, or an earlier run's).

        ``cloid`` (any accepted form; default none) and ``oid`` (default: a
        fresh one; it must not rest already) choose its ids. Returns its oid.
        """
        return self.exchange.add(
            side, _dec(price), _dec(size), cloid=None if cloid is None else Cloid(cloid),
            oid=oid, coin=coin,
        ).oid

    def vanish(self, item: Order | Oid) -> None:
        """Take an order off the book silently (it ended elsewhere, or its message was lost)."""
        if isinstance(item, Order):
            self.exchange.take(item)
        else:
            self.exchange.book.pop(item, None)

    def deliver(self, event: object, *, execute: bool = True) -> list[Command]:
        """Deliver any exchange event (:mod:`lifecycle.core.events`); drain; return the commands.

        The message goes to the engine as it is: a late fill of an order that
        is off the book, a fill of an order never booked here, an
        acknowledgement under an oid of your choosing, an answer out of order,
        a message delivered twice. The scripted book does not change, except
        for a fill: with ``execute`` (default), an :class:`OrderFilled` whose
        trade id the exchange has not executed is taken as a trade it made
        (the position moves; the order it names shrinks if it rests; it joins
        ``exchange.fills``), so :meth:`expect_position` still compares the
        engine with the truth. ``execute=False`` delivers a fill the exchange
        never made (a forged or corrupted message).
        """
        if execute and isinstance(event, OrderFilled):
            self.exchange.record(event)
        return self._deliver(event)

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
                entry = self.exchange.find(item)
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
        """Fail with a clear message unless ``order`` is in ``state`` (:func:`expect_state`).

        ``reason`` and ``filled``, when given, must match too.
        """
        expect_state(order, state, reason=reason, filled=filled)

    def expect_position(self, position: Number) -> None:
        """Fail unless the engine's position is ``position`` and equals the exchange's."""
        expected = _dec(position)
        if self.engine.position != expected or self.exchange.position != expected:
            raise ScenarioError(
                f"position: engine {self.engine.position}, exchange {self.exchange.position}, "
                f"expected {expected}"
            )

    # --- internals --------------------------------------------------------------------------

    def _deliver(self, event: object) -> list[Command]:
        self.engine.handle(event, self.now)
        return self.drain()
