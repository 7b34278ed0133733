"""The matching engine's rules: what the exchange does with a request when it arrives.

:class:`Venue` acts at the instant a request reaches the exchange and at the
instants the market moves. It validates placements in the exchange's order
(size, tick, minimum value, reduce-only, post-only against the touch and the
account's own orders, then the account's condition), rests, fills, cancels and
cancel-replaces orders in the :class:`~lifecycle.adapters.simulated.book.Book`,
emits the websocket order updates and fills, and builds the REST answer as a
:class:`~lifecycle.runtime.adapter.CommandResult`. It knows nothing of latency,
timeouts or rate limits; :class:`~lifecycle.adapters.simulated.exchange.SimulatedExchange`
decides when the venue sees a request and whether the client hears back.

Answers follow the venue's words: ``resting`` -> ``OrderAccepted``;
``filled`` -> ``OrderFilled`` (carrying the trade ids the websocket fills
carry, so a client counts each trade once); an error -> ``OrderRejected`` with
the status word; a cancel of an order that does not rest -> ``CancelRejected``
(``order_gone``, "Order was never placed, already canceled, or filled."); a
modify of one -> ``ModifyRejected`` (``order_gone``, "Cannot modify canceled
or filled order"); a modify -> ``OrderModified`` with a new oid, the ``open``
of the new oid and the ``canceled`` of the old one sent in either order.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import (
    CancelRejected,
    ExchangeEvent,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.runtime import CommandResult, OpenOrder, OpenOrdersSnapshot

from .book import Book, BookOrder
from .market import MarketParams
from .prices import PricePath
from .profiles import FaultProfile
from .ticks import price_is_valid, round_price, size_is_valid
from .truth import Owner, TruthFill
from .websocket import WsFeed
from .wire import (
    CANCEL_GONE,
    INVALID_SIZE,
    MIN_NOTIONAL,
    MODIFY_GONE,
    REJECT_MESSAGES,
    TICK,
    bad_alo_px,
)

__all__ = ["DUPLICATE_CLOID", "Venue", "status_outcome"]

#: The venue's answer to a placement whose cloid it already holds. The
#: reference material gives no wording for this case; this text is assumed.
DUPLICATE_CLOID = "Duplicate cloid."

Schedule = Callable[[float, Callable[[float], None]], None]


def status_outcome(status: str) -> StatusOutcome:
    """Classify a status word the way an adapter must (unknown words included)."""
    if status in ("open", "triggered"):
        return StatusOutcome.OPEN
    if status == "filled":
        return StatusOutcome.FILLED
    if status.endswith("Canceled") or status in ("canceled", "scheduledCancel", "internalCancel"):
        return StatusOutcome.CANCELED
    if status.endswith("Rejected") or status == "rejected":
        return StatusOutcome.REJECTED
    return StatusOutcome.NOT_FOUND


class Venue:
    """The exchange's rules for one account on one market (see the module docstring).

    Args:
        book: The account's orders and trades.
        market: Instrument rules and the rest of the market.
        prices: The mid-price path.
        profile: Fault rates (rejects, same-instant fills, modify message order...).
        ws: The websocket the venue's updates go out on.
        rng: The venue's own random stream.
        coin: The exchange's coin name (``dex:COIN`` on a HIP-3 dex).
        schedule: Runs a callable at a later (or the same) instant.
        counts: Where produced faults are counted.
    """

    def __init__(
        self,
        *,
        book: Book,
        market: MarketParams,
        prices: PricePath,
        profile: FaultProfile,
        ws: WsFeed,
        rng: random.Random,
        coin: str,
        schedule: Schedule,
        counts: Counter[str],
    ) -> None:
        self.book = book
        self.market = market
        self.prices = prices
        self.profile = profile
        self.ws = ws
        self.coin = coin
        self._rng = rng
        self._schedule = schedule
        self._counts = counts
        self._half_spread = Decimal(repr(market.half_spread_bps)) / 10_000
        self._lot = Decimal(1).scaleb(-market.sz_decimals)
        self._forced_rejects: list[str] = []
        # The touch of the mid it was computed from: the mid moves about once a
        # second, the touch is read on every placement, taker and quote.
        self._touch_of: Decimal | None = None
        self._touch: tuple[Decimal, Decimal] = (Decimal(0), Decimal(0))
        # The latest price step: its time and the touch before it.
        self._moved_at = float("-inf")
        self._touch_before = self._touch

    # --- the market's touch -------------------------------------------------------------

    def bbo(self) -> tuple[Decimal, Decimal]:
        """The rest of the market's best bid and ask, around the current mid."""
        mid = self.prices.mid
        if mid is not self._touch_of:
            szd = self.market.sz_decimals
            bid = round_price(mid * (1 - self._half_spread), szd, rounding=ROUND_FLOOR)
            ask = round_price(mid * (1 + self._half_spread), szd, rounding=ROUND_CEILING)
            self._touch_of, self._touch = mid, (bid, ask)
        return self._touch

    def bbo_before(self, t: float) -> tuple[Decimal, Decimal]:
        """The touch as it stood just before ``t`` (the venue has run everything up to ``t``)."""
        return self._touch_before if self._moved_at == t else self.bbo()

    def force_reject(self, status: str, count: int) -> None:
        """Reject the next ``count`` well-formed placements with ``status``."""
        self._forced_rejects.extend([status] * count)

    # --- placements ---------------------------------------------------------------------

    def place(self, cmd: PlaceOrder, t: float) -> CommandResult:
        """A placement reaches the venue at ``t``."""
        problem = self._check_terms(cmd.side, cmd.price, cmd.size)
        if problem is None and cmd.cloid in self.book.by_cloid:
            problem = ("rejected", DUPLICATE_CLOID)
        if problem is None:
            problem = self._check_conditions(cmd, t)
        if problem is not None:
            status, message = problem
            if message != INVALID_SIZE:  # malformed sizes never become orders
                self._record_rejected(cmd, status, t)
            self._counts[status] += 1
            rejected = OrderRejected(cloid=cmd.cloid, status=status, message=message)
            return CommandResult(command=cmd, events=(rejected,), ambiguous=False)
        order = BookOrder(
            oid=self.book.new_oid(), cloid=cmd.cloid, owner=Owner.CLIENT, side=cmd.side,
            price=cmd.price, size=cmd.size, post_only=cmd.post_only, placed_at=t,
            visible_at=t + self.profile.snapshot_lag.draw(self._rng),
        )
        events = self._enter(order, t)
        rate = self.profile.immediate_fill_rate
        if order.resting and rate and self._rng.random() < rate:
            # A taker in the same instant: its fill races the placement response.
            self._counts["immediate_fill"] += 1
            oid = order.oid
            self._schedule(t, lambda at: self.hit(oid, None, at))
        return CommandResult(command=cmd, events=tuple(events), ambiguous=False)

    def _check_terms(self, side: Side, price: Decimal, size: Decimal) -> tuple[str, str] | None:
        m = self.market
        if not size_is_valid(size, m.sz_decimals):
            return "rejected", INVALID_SIZE
        if not price_is_valid(price, m.sz_decimals):
            return "tickRejected", TICK
        if price * size < m.min_notional:
            return "minTradeNtlRejected", MIN_NOTIONAL
        return None

    def _check_conditions(self, cmd: PlaceOrder, t: float) -> tuple[str, str] | None:
        if cmd.reduce_only:
            position = self.book.position
            reduces = position < 0 if cmd.side is Side.BUY else position > 0
            if not reduces:
                return "reduceOnlyRejected", REJECT_MESSAGES["reduceOnlyRejected"]
        if cmd.post_only and self._would_match(cmd.side, cmd.price):
            bid, ask = self.bbo()
            return "badAloPxRejected", bad_alo_px(bid, ask)
        if self._forced_rejects:
            status = self._forced_rejects.pop(0)
            return status, REJECT_MESSAGES.get(status, "")
        p = self.profile
        if p.reject_rate and p.reject_statuses and self._rng.random() < p.reject_rate:
            status = self._rng.choice(p.reject_statuses)
            return status, REJECT_MESSAGES.get(status, "")
        return None

    def _would_match(self, side: Side, price: Decimal) -> bool:
        """Whether an order at ``price`` would trade at once (market or own orders)."""
        bid, ask = self.bbo()
        if (side is Side.BUY and price >= ask) or (side is Side.SELL and price <= bid):
            return True
        return bool(self.book.reachable(side, price))

    def _record_rejected(self, cmd: PlaceOrder, status: str, t: float) -> None:
        order = BookOrder(
            oid=self.book.new_oid(), cloid=cmd.cloid, owner=Owner.CLIENT, side=cmd.side,
            price=cmd.price, size=cmd.size, post_only=cmd.post_only, placed_at=t, visible_at=t,
        )
        order.status = status
        order.ended_at = t
        if cmd.cloid is not None and cmd.cloid in self.book.by_cloid:
            # A duplicate must not take the cloid from the order that holds it.
            self.book.orders[order.oid] = order
        else:
            self.book.add(order)

    def _enter(self, order: BookOrder, t: float) -> list[ExchangeEvent]:
        """Put a validated order on the book: self-trade prevention, a taking part, the rest.

        Returns the REST events: the immediate fill, then the ``resting`` ack.
        """
        book = self.book
        book.add(order)
        for own in book.reachable(order.side, order.price):
            # Self-trade prevention cancels the resting side.
            self.exchange_cancel(own, "selfTradeCanceled", t)
        events: list[ExchangeEvent] = []
        bid, ask = self.bbo()
        takes = order.price >= ask if order.side is Side.BUY else order.price <= bid
        if takes:
            px = ask if order.side is Side.BUY else bid
            size = order.size
            if self._rng.random() < 0.5 and order.size > self._lot:
                # Only part of it finds liquidity; the rest rests (and stays crossed
                # until the next price step fills it).
                lots = int(order.size / self._lot)
                size = self._lot * self._rng.randrange(1, lots)
            events.append(self._trade(order, px, size, t))
        if order.resting:
            accepted = OrderAccepted(cloid=order.cloid, oid=order.oid)
            self.ws.send(accepted, t)
            events.append(accepted)
        return events

    # --- trades -------------------------------------------------------------------------

    def _trade(self, order: BookOrder, price: Decimal, size: Decimal, t: float) -> OrderFilled:
        """Trade, send the websocket fill, return the fill as a REST answer names it."""
        fill = self.book.trade(order, price, size, t)
        self.ws.send(self._fill_event(fill, self.profile.fills_carry_cloid), t)
        return self._fill_event(fill, True)

    @staticmethod
    def _fill_event(fill: TruthFill, with_cloid: bool) -> OrderFilled:
        return OrderFilled(
            cloid=fill.cloid if with_cloid else None, oid=fill.oid, tid=fill.tid,
            side=fill.side, price=fill.price, size=fill.size,
        )

    def hit(self, oid: Oid, size: Decimal | None, t: float) -> None:
        """A taker trades with order ``oid`` at ``t``: ``size``, or a random part or all."""
        order = self.book.resting.get(oid)
        if order is None:
            return
        if size is None:
            lots = int(order.remaining / self._lot)
            size = order.remaining if lots <= 1 or self._rng.random() < 0.5 else (
                self._lot * self._rng.randrange(1, lots)
            )
        self._trade(order, order.price, min(size, order.remaining), t)

    def taker(self, rng: random.Random, t: float) -> None:
        """One taker from the rest of the market sweeps the account's orders in its reach."""
        m = self.market
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        notional = rng.expovariate(1.0 / m.taker_notional_usd) if m.taker_notional_usd else 0.0
        reach_bps = m.half_spread_bps + (
            rng.expovariate(1.0 / m.taker_reach_bps) if m.taker_reach_bps else 0.0
        )
        mid = self.prices.mid
        qty = (Decimal(repr(notional)) / mid).quantize(self._lot, rounding=ROUND_FLOOR)
        reach = Decimal(repr(reach_bps)) / 10_000
        limit = mid * (1 + reach) if side is Side.BUY else mid * (1 - reach)
        for order in self.book.reachable(side, limit):
            if qty <= 0:
                break
            size = min(qty, order.remaining)
            self._trade(order, order.price, size, t)
            qty -= size

    def move_price(self, t: float) -> None:
        """Take the price steps due at ``t``; orders the touch moved through fill whole."""
        self._moved_at, self._touch_before = t, self.bbo()
        self.prices.advance(t)
        bid, ask = self.bbo()
        for order in self.book.crossed(bid, ask):
            self._trade(order, order.price, order.remaining, t)

    # --- cancels ------------------------------------------------------------------------

    def cancel(self, cmd: CancelOrder, t: float) -> CommandResult:
        """A cancel reaches the venue at ``t``."""
        target = self.book.find(cmd.cloid, cmd.oid)
        self.book.record_cancel(t, cmd.cloid, cmd.oid, target)
        if target is None or not target.resting:
            gone = CancelRejected(
                cloid=cmd.cloid, oid=cmd.oid, order_gone=True, message=CANCEL_GONE
            )
            return CommandResult(command=cmd, events=(gone,), ambiguous=False)
        self.book.end(target, "canceled", t)
        canceled = OrderCanceled(cloid=target.cloid, oid=target.oid, status="canceled")
        self.ws.send(canceled, t)
        return CommandResult(command=cmd, events=(canceled,), ambiguous=False)

    def exchange_cancel(self, order: BookOrder, status: str, t: float) -> None:
        """The venue cancels a resting order on its own (``marginCanceled``...)."""
        if not order.resting:
            return
        self.book.end(order, status, t)
        self._counts[status] += 1
        self.ws.send(
            OrderCanceled(cloid=order.cloid, oid=order.oid, status=status, exchange_initiated=True),
            t,
        )

    # --- modifies -----------------------------------------------------------------------

    def modify(self, cmd: ModifyOrder, t: float) -> CommandResult:
        """A modify reaches the venue at ``t``: a cancel-replace keeping the cloid."""
        old = self.book.find(cmd.cloid, cmd.oid)
        if old is None or not old.resting:
            gone = ModifyRejected(
                cloid=cmd.cloid, oid=cmd.oid, order_gone=True, message=MODIFY_GONE
            )
            return CommandResult(command=cmd, events=(gone,), ambiguous=False)
        problem = self._check_terms(old.side, cmd.price, cmd.size)
        if problem is None and old.post_only and self._would_match(old.side, cmd.price):
            problem = ("badAloPxRejected", bad_alo_px(*self.bbo()))
        if problem is not None:
            refused = ModifyRejected(
                cloid=old.cloid, oid=old.oid, order_gone=False, message=problem[1]
            )
            return CommandResult(command=cmd, events=(refused,), ambiguous=False)
        new = BookOrder(
            oid=self.book.new_oid(), cloid=old.cloid, owner=old.owner, side=old.side,
            price=cmd.price, size=cmd.size, post_only=old.post_only, placed_at=t,
            visible_at=t + self.profile.snapshot_lag.draw(self._rng),
        )
        new.replaces, old.replaced_by = old.oid, new.oid
        self.book.end(old, "canceled", t)
        canceled = OrderCanceled(cloid=old.cloid, oid=old.oid, status="canceled")
        cancel_first = self._rng.random() < self.profile.modify_cancel_first_rate
        if cancel_first:
            self._counts["modify_cancel_first"] += 1
            self.ws.send(canceled, t)
        fills = [e for e in self._enter(new, t) if isinstance(e, OrderFilled)]
        if not cancel_first:
            self.ws.send(canceled, t)
        modified = OrderModified(
            cloid=old.cloid, oid=new.oid, old_oid=old.oid, price=cmd.price, size=cmd.size
        )
        return CommandResult(command=cmd, events=(modified, *fills), ambiguous=False)

    # --- information --------------------------------------------------------------------

    def query(self, cmd: QueryOrderStatus, t: float, *, faults: bool) -> CommandResult:
        """A status query by cloid (when given) or oid; ``unknownOid`` if not found."""
        order = self.book.find(cmd.cloid, None) if cmd.cloid is not None else (
            self.book.find(None, cmd.oid)
        )
        rate = self.profile.status_unknown_oid_rate
        if order is not None and faults and rate and self._rng.random() < rate:
            self._counts["spurious_unknown_oid"] += 1
            order = None
        if order is None:
            report = OrderStatusReport(
                cloid=cmd.cloid, oid=cmd.oid, outcome=StatusOutcome.NOT_FOUND, status="unknownOid"
            )
        else:
            report = OrderStatusReport(
                cloid=order.cloid, oid=order.oid, outcome=status_outcome(order.status),
                status=order.status,
            )
        return CommandResult(command=cmd, events=(report,), ambiguous=False)

    def snapshot(self, t: float) -> OpenOrdersSnapshot:
        """The open orders at ``t``, without those placed too recently to show yet."""
        rows = tuple(
            OpenOrder(
                coin=self.coin, oid=o.oid, cloid=o.cloid, side=o.side, price=o.price,
                size=o.remaining,
            )
            for o in self.book.resting.values()
            if o.visible_at <= t
        )
        return OpenOrdersSnapshot(taken_at=t, orders=rows)

    # --- the account at the start ---------------------------------------------------------

    def seed_order(
        self, cloid: Cloid | None, owner: Owner, side: Side, level: int, placed_at: float
    ) -> BookOrder:
        """Rest an order placed before the start, ``level`` steps of 5 bps from the touch."""
        m = self.market
        bid, ask = self.bbo()
        step = Decimal(5 * (level + 1)) / 10_000
        if side is Side.BUY:
            price = round_price(bid * (1 - step), m.sz_decimals, rounding=ROUND_FLOOR)
        else:
            price = round_price(ask * (1 + step), m.sz_decimals, rounding=ROUND_CEILING)
        size = ((m.min_notional * 2) / price).quantize(self._lot, rounding=ROUND_CEILING)
        order = BookOrder(
            oid=self.book.new_oid(), cloid=cloid, owner=owner, side=side, price=price,
            size=size, post_only=True, placed_at=placed_at, visible_at=placed_at,
        )
        self.book.add(order)
        return order
