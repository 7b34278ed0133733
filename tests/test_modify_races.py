"""A cancel asked while a modify is in flight, and status answers that say "not found".

Hyperliquid's modify is a cancel-replace: the old oid is canceled and a new oid
rests under the same cloid. Until the modify is answered, the old leg's
``canceled`` (or a refusal of a cancel naming the old oid) cannot be told
apart from the answer to our own cancel, so neither may end the order.

``orderStatus`` answers ``unknownOid`` even for orders ``openOrders`` just
listed, so one such answer ends an order only when fresh snapshots have also
shown it absent.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from seed_helpers import INTERVAL_S, MISSING_MIN_S, MISSING_SNAPSHOTS, syncs_until, tracked

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder, FetchOpenOrders, QueryOrderStatus
from lifecycle.core.events import (
    CancelRejected,
    OrderCanceled,
    OrderModified,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.testing import BookEntry, Scenario

S = OrderState


def modifying_then_cancelling(s: Scenario) -> tuple[Order, Oid]:
    """A TRACKED order, modified to 99, then cancelled before the modify's answer."""
    order = order_in(s, S.MODIFYING)
    old = order.oid
    assert old is not None
    s.cancel(order)
    s.expect(order, S.CANCELLING)
    return order, old


def replace_on_book(s: Scenario, order: Order, old: Oid) -> Oid:
    """The exchange executes the modify (old leg off, new leg on) without telling the bot."""
    entry = s.exchange.book.pop(old)
    new = s.exchange.new_oid()
    s.exchange.book[new] = BookEntry(
        oid=new, cloid=order.cloid, side=order.side, price=Decimal(99), remaining=Decimal(1),
        coin=entry.coin,
    )
    return new


def test_replaced_legs_canceled_before_the_modify_answer_does_not_end_the_order() -> None:
    s = Scenario()
    order, old = modifying_then_cancelling(s)
    new = replace_on_book(s, order, old)
    s.engine.handle(OrderCanceled(cloid=order.cloid, oid=old), s.advance(0.05))
    s.drain()
    s.expect(order, S.CANCELLING)
    assert s.sent[-1] == QueryOrderStatus(cloid=order.cloid, oid=None)  # by cloid: newest leg
    s.engine.handle(
        OrderModified(cloid=order.cloid, oid=new, old_oid=old, price=Decimal(99), size=Decimal(1)),
        s.advance(0.05),
    )
    s.drain()
    assert order.oid == new and order.price == Decimal(99) and order.requested is None
    assert s.sent[-1] == CancelOrder(cloid=order.cloid, oid=new)
    s.cancel_ack(order)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    assert not s.exchange.book


def test_status_by_cloid_showing_the_new_leg_binds_it_and_cancels_it() -> None:
    s = Scenario()
    order, old = modifying_then_cancelling(s)
    new = replace_on_book(s, order, old)
    s.engine.handle(OrderCanceled(cloid=order.cloid, oid=old), s.advance(0.05))
    s.drain()
    # The modify's REST answer is lost; the status query by cloid finds the new leg.
    s.answer_status(order)
    assert order.oid == new and old in order.prior_oids
    s.expect(order, S.CANCELLING)
    assert s.sent[-1] == CancelOrder(cloid=order.cloid, oid=new)


def test_our_cancel_winning_the_race_still_ends_the_order() -> None:
    s = Scenario()
    order, _ = modifying_then_cancelling(s)
    s.cancel_ack(order)  # our cancel hit the old leg first
    s.drain()
    s.expect(order, S.CANCELLING)  # cannot tell yet: it may be the modify's cancel leg
    s.modify_rejected(order, gone=True)  # "Cannot modify canceled or filled order"
    s.expect(order, S.GONE, reason=GoneReason.UNKNOWN)


def test_status_canceled_by_cloid_ends_the_order_when_the_modify_never_came() -> None:
    s = Scenario()
    order, _ = modifying_then_cancelling(s)
    s.cancel_ack(order)
    s.drain()
    s.answer_status(order, StatusOutcome.CANCELED, "canceled")
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)


def test_cancel_refused_as_gone_during_the_modify_asks_instead_of_ending() -> None:
    s = Scenario()
    order, old = modifying_then_cancelling(s)
    replace_on_book(s, order, old)
    s.engine.handle(
        CancelRejected(cloid=order.cloid, oid=old, order_gone=True), s.advance(0.05)
    )
    s.drain()
    s.expect(order, S.CANCELLING)
    assert s.sent[-1] == QueryOrderStatus(cloid=order.cloid, oid=None)


def test_cancel_refused_for_a_replaced_oid_cancels_the_new_one() -> None:
    s = Scenario()
    order = order_in(s, S.MODIFYING)
    old = order.oid
    new = s.modify_ack(order)
    s.advance(s.engine.config.orders.protection_s)
    s.cancel(order)
    # A cancel still naming the old oid (sent before the modify's answer) is refused.
    s.engine.handle(CancelRejected(cloid=order.cloid, oid=old, order_gone=True), s.advance(0.05))
    s.drain()
    s.expect(order, S.CANCELLING)
    assert s.sent[-1] == CancelOrder(cloid=order.cloid, oid=new)


# --- "not found" needs the snapshots' word ------------------------------------------------


def order_in(s: Scenario, state: S) -> Order:
    """A TRACKED order, then moved to MODIFYING or CANCELLING when ``state`` says so."""
    (order,) = tracked(s, (Side.BUY, "100", "1"))
    if state is S.MODIFYING:
        s.modify(order, "99", "1")
    elif state is S.CANCELLING:
        s.cancel(order)
    s.expect(order, state)
    return order


def absence_window(s: Scenario) -> None:
    """Scheduled snapshots until ``sync.missing_snapshots`` of them span ``sync.missing_min_s``."""
    syncs_until(s, s.now + MISSING_MIN_S + INTERVAL_S)  # at +5, +10 and +15 s


@pytest.mark.parametrize("state", [S.TRACKED, S.MODIFYING, S.CANCELLING])
def test_one_not_found_does_not_end_an_order_the_snapshots_list(state: S) -> None:
    s = Scenario()
    order = order_in(s, state)
    s.answer_status(order, StatusOutcome.NOT_FOUND, "unknownOid")
    s.expect(order, state)
    assert s.engine.anomalies.counts[AnomalyKind.UNCONFIRMED_ABSENCE] == 1
    assert isinstance(s.sent[-1], FetchOpenOrders)
    absence_window(s)  # the order is listed all along: still no proof
    assert not s.engine.sync.absence_confirmed(order)
    s.answer_status(order, StatusOutcome.NOT_FOUND, "unknownOid")
    s.expect(order, state)


@pytest.mark.parametrize("state", [S.TRACKED, S.MODIFYING, S.CANCELLING])
def test_not_found_ends_an_order_the_snapshots_show_absent(state: S) -> None:
    s = Scenario()
    order = order_in(s, state)
    s.vanish(order)
    absence_window(s)
    s.expect(order, state)  # absence alone never ends an order
    assert s.engine.sync.absence_confirmed(order)
    s.answer_status(order)
    s.expect(order, S.GONE, reason=GoneReason.UNKNOWN)


def test_absence_streak_too_short_in_time_is_not_proof() -> None:
    s = Scenario()
    order = order_in(s, S.TRACKED)
    s.vanish(order)
    for _ in range(MISSING_SNAPSHOTS + 2):
        s.advance(0.5)  # many snapshots, but over less than missing_min_s
        s.snapshot()
    assert not s.engine.sync.absence_confirmed(order)
    s.engine.handle(
        OrderStatusReport(cloid=order.cloid, oid=order.oid, outcome=StatusOutcome.NOT_FOUND),
        s.advance(0.1),
    )
    s.expect(order, S.TRACKED)


def test_expected_order_past_its_ttl_still_ends_on_not_found() -> None:
    s = Scenario()
    order = s.place()
    s.advance(s.engine.config.orders.expected_ttl_s)
    s.answer_status(order)
    s.expect(order, S.GONE, reason=GoneReason.NEVER_PLACED)


def test_modify_lost_is_ended_by_an_open_answer_under_the_old_oid_after_the_timeout() -> None:
    # A modify lost on the way (a crash, a dropped request): the order still rests
    # under the oid it had, and the timeout's status query says so.
    s = Scenario()
    order = order_in(s, S.MODIFYING)
    old = order.oid
    s.advance(s.engine.config.orders.cancel_timeout_s)
    assert s.sent_of(QueryOrderStatus)[-1] == QueryOrderStatus(cloid=order.cloid, oid=old)
    s.answer_status(order, StatusOutcome.OPEN, "open")
    s.expect(order, S.TRACKED)
    assert order.oid == old and order.requested is None
    assert order.price == Decimal(100)


def test_open_answer_under_the_old_oid_before_the_timeout_keeps_the_modify_waiting() -> None:
    s = Scenario()
    order = order_in(s, S.MODIFYING)
    s.advance(1)
    s.answer_status(order, StatusOutcome.OPEN, "open")
    s.expect(order, S.MODIFYING)
