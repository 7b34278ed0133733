"""Rows of the table whose breakage the rest of the suite did not notice.

The transition mutation pass (``pytest --lifecycle-mutate``) removes each row of
the table in turn, then retargets it to another destination, and runs again the
tests that reached the row. For the rows below, every such test passed with the
row broken: they reached it without checking what it does (mostly the
exhaustive machine tests, which compare the machine with whatever the table
says). Each test here drives the engine into the row through the exchange
messages that really lead there, and checks what the row means: the state
after, the reason and status an ended order keeps, the position, and that no
anomaly was recorded and no status query sent (a refused trigger does both).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import Session

from lifecycle.core.commands import CancelOrder
from lifecycle.core.errors import UnknownOrder
from lifecycle.core.events import (
    ModifyRejected,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrphanSeen,
    OrphanVanished,
)
from lifecycle.core.ids import Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger

S = OrderState
D = Decimal
NEW_OID = Oid(9999)


def quiet(session: Session) -> None:
    """No anomaly was recorded and nothing is queued (no status query, no cancel)."""
    assert sum(session.engine.anomalies.counts.values()) == 0
    assert session.engine.commands_to_send() == []


def last_move(order: Order) -> tuple[OrderState, Trigger, OrderState] | None:
    """The order's last move as ``(source, trigger, dest)``; None if it never moved."""
    if not order.history:
        return None
    step = order.history[-1]
    return (step.source, step.trigger, step.dest)


# --- our orders -----------------------------------------------------------------------


def test_rejected_while_protected_ends_rejected_keeping_the_exchange_status(
    session: Session,
) -> None:
    # Row: FINALIZED_PROTECTED --reject--> GONE. Hyperliquid reports `...Rejected`
    # statuses on orderUpdates for orders it had accepted.
    order = session.resting()
    session.engine.handle(
        OrderRejected(cloid=order.cloid, oid=order.oid, status="perpMarginRejected"),
        session.advance(0.5),
    )
    assert (order.state, order.reason, order.status) == (
        S.GONE,
        GoneReason.REJECTED,
        "perpMarginRejected",
    )
    assert last_move(order) == (S.FINALIZED_PROTECTED, Trigger.REJECT, S.GONE)
    quiet(session)


def modified(session: Session) -> tuple[Order, Oid]:
    """A tracked order whose modify took effect under NEW_OID; returns it and its old oid."""
    order = session.tracked()
    old = order.oid
    assert old is not None
    session.engine.modify(order, D("99"), D("1"), session.advance(1))
    session.engine.commands_to_send()
    session.engine.handle(
        OrderModified(cloid=order.cloid, oid=NEW_OID, old_oid=old, price=D("99"), size=D("1")),
        session.advance(0.3),
    )
    return order, old


def test_old_legs_cancel_after_protection_leaves_the_modified_order_tracked(
    session: Session,
) -> None:
    # Row: TRACKED --superseded--> TRACKED. The cancel-replace's `canceled` for the
    # old oid arrives late, after the new oid's protection ran out.
    order, old = modified(session)
    session.engine.on_timer(session.advance(session.engine.config.orders.protection_s))
    assert order.state is S.TRACKED
    session.engine.handle(OrderCanceled(cloid=order.cloid, oid=old), session.advance(0.1))
    assert (order.state, order.oid, order.price) == (S.TRACKED, NEW_OID, D("99"))
    assert last_move(order) == (S.TRACKED, Trigger.SUPERSEDED, S.TRACKED)
    quiet(session)


def test_modify_refused_after_a_cancel_keeps_cancelling_and_forgets_the_request(
    session: Session,
) -> None:
    # Row: CANCELLING --modify_rejected--> CANCELLING. A modify was in flight when
    # the cancel went out; the modify's refusal changes nothing about the cancel.
    order = session.tracked()
    session.engine.modify(order, D("99"), D("1"), session.advance(1))
    session.engine.commands_to_send()
    session.engine.cancel(order, session.advance(0.1))
    assert order.state is S.CANCELLING
    session.engine.commands_to_send()
    session.engine.handle(
        ModifyRejected(cloid=order.cloid, oid=order.oid, order_gone=False, message="refused"),
        session.advance(0.1),
    )
    assert (order.state, order.requested, order.price) == (S.CANCELLING, None, D("100"))
    assert last_move(order) == (S.CANCELLING, Trigger.MODIFY_REJECTED, S.CANCELLING)
    quiet(session)


def filled_while_modifying(session: Session) -> tuple[Order, Oid]:
    """A tracked order that filled completely while its modify was in flight."""
    order = session.tracked()
    old = order.oid
    assert old is not None
    session.engine.modify(order, D("99"), D("1"), session.advance(1))
    session.engine.commands_to_send()
    session.engine.handle(
        OrderFilled(
            cloid=order.cloid, oid=old, tid=Tid(1), side=Side.BUY, price=D("100"), size=D("1")
        ),
        session.advance(0.1),
    )
    assert (order.state, order.reason) == (S.GONE, GoneReason.FILLED)
    return order, old


def test_modify_answer_after_the_fill_is_absorbed_and_teaches_the_new_oid(
    session: Session,
) -> None:
    # Row: GONE --modify_ack--> GONE. The replace went through after the old leg
    # had filled: the tombstone stays filled and learns the new oid, which late
    # messages may name.
    order, old = filled_while_modifying(session)
    session.engine.handle(
        OrderModified(cloid=order.cloid, oid=NEW_OID, old_oid=old, price=D("99"), size=D("1")),
        session.advance(0.1),
    )
    assert (order.state, order.reason) == (S.GONE, GoneReason.FILLED)
    assert session.engine.order(NEW_OID) is order
    assert last_move(order) == (S.GONE, Trigger.MODIFY_ACK, S.GONE)
    assert session.engine.position == D("1")
    quiet(session)


def test_modify_refused_after_the_fill_is_absorbed_by_the_tombstone(session: Session) -> None:
    # Row: GONE --modify_rejected--> GONE. The refusal of a modify whose order
    # already filled (not "cannot modify": that is modify_gone).
    order, old = filled_while_modifying(session)
    session.engine.handle(
        ModifyRejected(cloid=order.cloid, oid=old, order_gone=False, message="invalid price"),
        session.advance(0.1),
    )
    assert (order.state, order.reason) == (S.GONE, GoneReason.FILLED)
    assert last_move(order) == (S.GONE, Trigger.MODIFY_REJECTED, S.GONE)
    quiet(session)


# --- orders found on the exchange -----------------------------------------------------


def seen(session: Session, oid: int, state: OrderState) -> Order:
    """An order nobody here placed, listed with size 2, as a candidate or aged past its grace."""
    session.engine.handle(
        OrphanSeen(oid=Oid(oid), side=Side.SELL, price=D("105"), size=D("2")), session.now
    )
    order = session.engine.order(Oid(oid))
    if state is S.AGED_ORPHAN:
        session.engine.on_timer(session.advance(session.engine.config.orders.orphan_grace_s))
    assert order.state is state
    return order


def orphan_fill(oid: int, tid: int, size: str) -> OrderFilled:
    return OrderFilled(oid=Oid(oid), tid=Tid(tid), side=Side.SELL, price=D("105"), size=D(size))


DISCOVERED = pytest.mark.parametrize("state", [S.ORPHAN_CANDIDATE, S.AGED_ORPHAN], ids=str)


@DISCOVERED
def test_partial_fill_of_an_orphan_moves_the_position_and_keeps_its_state(
    session: Session, state: OrderState
) -> None:
    # Rows: ORPHAN_CANDIDATE and AGED_ORPHAN --fill_partial--> themselves.
    order = seen(session, 700, state)
    session.engine.handle(orphan_fill(700, 1, "0.5"), session.advance(1))
    assert (order.state, order.filled) == (state, D("0.5"))
    assert session.engine.position == D("-0.5")
    assert last_move(order) == (state, Trigger.FILL_PARTIAL, state)
    quiet(session)


@DISCOVERED
def test_complete_fill_of_an_orphan_ends_it_filled(session: Session, state: OrderState) -> None:
    # Rows: ORPHAN_CANDIDATE and AGED_ORPHAN --fill_complete--> GONE.
    order = seen(session, 701, state)
    session.engine.handle(orphan_fill(701, 1, "2"), session.advance(1))
    assert (order.state, order.reason) == (S.GONE, GoneReason.FILLED)
    assert session.engine.position == D("-2")
    quiet(session)


@DISCOVERED
def test_exchange_cancel_of_an_orphan_ends_it_canceled_with_the_status(
    session: Session, state: OrderState
) -> None:
    # Rows: ORPHAN_CANDIDATE and AGED_ORPHAN --exchange_canceled--> GONE.
    order = seen(session, 702, state)
    session.engine.handle(
        OrderCanceled(oid=Oid(702), status="marginCanceled", exchange_initiated=True),
        session.advance(1),
    )
    assert (order.state, order.reason, order.status) == (
        S.GONE,
        GoneReason.CANCELED,
        "marginCanceled",
    )
    quiet(session)


@DISCOVERED
def test_rejection_of_an_orphan_ends_it_rejected_with_the_status(
    session: Session, state: OrderState
) -> None:
    # Rows: ORPHAN_CANDIDATE and AGED_ORPHAN --reject--> GONE.
    order = seen(session, 703, state)
    session.engine.handle(
        OrderRejected(oid=Oid(703), status="reduceOnlyRejected"), session.advance(1)
    )
    assert (order.state, order.reason, order.status) == (
        S.GONE,
        GoneReason.REJECTED,
        "reduceOnlyRejected",
    )
    quiet(session)


def test_vanished_candidate_ends_unknown_and_its_grace_ages_nothing(session: Session) -> None:
    # Row: ORPHAN_CANDIDATE --orphan_vanished--> GONE.
    order = seen(session, 704, S.ORPHAN_CANDIDATE)
    session.engine.handle(OrphanVanished(oid=Oid(704)), session.advance(1))
    assert (order.state, order.reason) == (S.GONE, GoneReason.UNKNOWN)
    with pytest.raises(UnknownOrder):
        session.engine.order(Oid(704))
    session.engine.on_timer(session.advance(session.engine.config.orders.orphan_grace_s))
    assert order.state is S.GONE
    quiet(session)


def test_cancel_of_a_candidate_before_its_grace_ends_is_sent_by_oid(session: Session) -> None:
    # Row: ORPHAN_CANDIDATE --cancel_request--> CANCELLING (the shutdown and the
    # startup sweep cancel every listed order at once, grace or not).
    order = seen(session, 705, S.ORPHAN_CANDIDATE)
    session.engine.cancel(order, session.advance(1))
    assert order.state is S.CANCELLING
    assert session.engine.commands_to_send() == [CancelOrder(cloid=None, oid=Oid(705))]
    # Past the grace it is still a cancel in flight, not an aged orphan.
    session.engine.on_timer(session.advance(session.engine.config.orders.orphan_grace_s))
    assert order.state is S.CANCELLING
    session.engine.handle(OrderCanceled(oid=Oid(705)), session.advance(0.1))
    assert (order.state, order.reason) == (S.GONE, GoneReason.CANCELED)


def test_aged_orphan_seen_again_stays_aged_without_anomaly(session: Session) -> None:
    # Row: AGED_ORPHAN --orphan_seen--> AGED_ORPHAN (every fresh snapshot lists it).
    order = seen(session, 706, S.AGED_ORPHAN)
    session.engine.handle(
        OrphanSeen(oid=Oid(706), side=Side.SELL, price=D("105"), size=D("2")), session.advance(1)
    )
    assert order.state is S.AGED_ORPHAN
    assert last_move(order) == (S.AGED_ORPHAN, Trigger.ORPHAN_SEEN, S.AGED_ORPHAN)
    quiet(session)
