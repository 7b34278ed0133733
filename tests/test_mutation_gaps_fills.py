"""Fills and orphan sightings: behaviour that mutation testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutants it kills: changes to
``lifecycle/engine/interpret.py`` and the fill ledger that every other test let pass.
Driven through the suite's ``session`` fixture (``conftest.Session``: an engine with
``verify=True`` on a manual clock).
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from conftest import Session

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.events import (
    OrderAccepted,
    OrderFilled,
    OrderStatusReport,
    OrphanSeen,
    StatusOutcome,
)
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import Fill, Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.engine.ledger import FillLedger

S = OrderState
D = Decimal


def fill(order: Order, tid: int, size: str, *, oid: Oid | None = None,
         cloid: bool = True) -> OrderFilled:
    return OrderFilled(cloid=order.cloid if cloid else None, oid=oid, tid=Tid(tid),
                       side=order.side, price=order.price, size=D(size))


def test_an_overfill_is_recorded_against_its_order(session: Session) -> None:
    # Kills `order.label` -> `None` in the OVERFILL anomaly of Interpreter._apply_fill.
    order = session.resting(size="1")
    session.engine.handle(fill(order, 1, "1.5", oid=order.oid), session.advance(1))
    (overfill,) = [a for a in session.engine.anomalies if a.kind is AnomalyKind.OVERFILL]
    assert (overfill.at, overfill.order_id, overfill.detail) == (
        session.now, order.label, "filled 1.5 of size 1")


def test_a_fill_for_an_unknown_order_names_its_cloid_else_its_oid(session: Session) -> None:
    # Kills the order-id mutants of the UNKNOWN_FILL anomaly in Interpreter.filled.
    cloid = CloidFactory("other", run_id=4).next()
    engine = session.engine
    engine.handle(OrderFilled(cloid=cloid, oid=Oid(8), tid=Tid(1), side=Side.BUY, price=D(1),
                              size=D(1)), session.advance(1))
    engine.handle(OrderFilled(oid=Oid(9), tid=Tid(2), side=Side.BUY, price=D(1), size=D(1)),
                  session.advance(1))
    assert [(a.kind, a.order_id) for a in engine.anomalies] == [
        (AnomalyKind.UNKNOWN_FILL, cloid), (AnomalyKind.UNKNOWN_FILL, "oid:9")]
    assert list(engine.parked_fills()) == [Oid(8), Oid(9)]


def test_a_fill_before_the_ack_under_an_oid_of_another_order_is_a_conflict(
    session: Session,
) -> None:
    # Kills `_bind(order, event.oid, now)` -> `..., None)` on the EXPECTED path of filled.
    other = session.resting(price="99")
    order = session.sent(price="100")
    assert other.oid is not None
    session.engine.handle(fill(order, 1, "0.5", oid=other.oid), session.advance(1))
    assert order.oid is None
    (conflict,) = [a for a in session.engine.anomalies if a.kind is AnomalyKind.OID_CONFLICT]
    assert (conflict.at, conflict.order_id) == (session.now, order.label)


def test_a_fill_after_never_placed_binds_its_oid(session: Session) -> None:
    # Kills `_late_placement(order, event.oid, ...)` -> `(order, None, ...)` in filled.
    order = session.sent()
    engine = session.engine
    engine.on_timer(session.advance(engine.config.orders.expected_ttl_s))
    engine.commands_to_send()
    engine.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.NOT_FOUND),
                  session.now)
    assert order.reason is GoneReason.NEVER_PLACED
    engine.handle(fill(order, 1, "0.5", oid=Oid(77)), session.advance(1))
    assert order.oid == Oid(77) and engine.registry.find(None, Oid(77)) is order
    assert order.state is S.FINALIZED_PROTECTED and order.filled == D("0.5")


def test_a_fill_naming_only_the_cloid_leaves_the_size_alone(session: Session) -> None:
    # Kills `... and oid in prior and oid != order.oid` -> `... or oid != order.oid` in
    # _apply_fill: a fill without an oid would grow the order, which then never completes.
    order = session.resting(size="1")
    session.engine.handle(fill(order, 1, "0.4"), session.advance(1))
    session.engine.handle(fill(order, 2, "0.6"), session.advance(1))
    assert (order.size, order.filled) == (D(1), D(1))
    assert order.state is S.GONE and order.reason is GoneReason.FILLED


# --- orphan sightings ----------------------------------------------------------------------


def test_an_orphan_sighting_under_our_cloid_moves_our_order_not_a_new_one(
    session: Session,
) -> None:
    # Kills `_find(event.cloid, event.oid)` -> `_find(None, event.oid)` in orphan_seen.
    order = session.tracked()
    engine = session.engine
    engine.handle(OrphanSeen(oid=Oid(555), cloid=order.cloid, side=order.side,
                             price=order.price, size=order.size), session.advance(1))
    assert engine.registry.find(None, Oid(555)) is None and len(engine.registry) == 1
    assert engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 1


def test_a_candidate_seen_again_records_when(session: Session) -> None:
    # Kills `move_remote(order, _ORPHAN_SEEN, now)` -> `..., None)` in orphan_seen.
    engine = session.engine
    seen = OrphanSeen(oid=Oid(555), side=Side.SELL, price=D(101), size=D(1))
    engine.handle(seen, session.advance(1))
    engine.handle(seen, session.advance(1))
    candidate = engine.registry.find(None, Oid(555))
    assert candidate is not None and candidate.state is S.ORPHAN_CANDIDATE
    (record,) = candidate.history
    assert (record.at, record.trigger) == (session.now, Trigger.ORPHAN_SEEN)
    assert candidate.state_since == session.now - 1  # a reflexive move keeps it


# --- times the ledger and fills accept -------------------------------------------------------


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_the_ledger_refuses_a_fill_event_at_no_finite_time(now: float) -> None:
    # Kills `or` -> `and` in FillLedger.apply_event's time check.
    ledger = FillLedger()
    event = OrderFilled(oid=Oid(1), tid=Tid(1), side=Side.BUY, price=D(1), size=D(1))
    with pytest.raises(ValueError, match=r"^FillLedger\.apply: now must be a finite time"):
        ledger.apply_event(event, now)
    assert ledger.fills == 0 and ledger.position == D(0)


def test_a_fill_of_trade_id_zero_at_an_int_time_is_valid() -> None:
    record = Fill(tid=Tid(0), price=D(1), size=D(1), at=0)
    assert (record.tid, record.at) == (0, 0)


# --- fills while a modify is in flight ----------------------------------------------------------


def modifying(session: Session) -> tuple[Order, Oid]:
    order = session.tracked(size="2")
    assert order.oid is not None
    session.engine.modify(order, D(99), D(2), session.now)
    session.engine.commands_to_send()
    return order, order.oid


def test_a_fill_of_the_old_leg_while_modifying_does_not_complete_the_modify(
    session: Session,
) -> None:
    # Kills `not order.knows_oid(event.oid)` -> `not order.knows_oid(None)` in filled.
    order, old = modifying(session)
    session.engine.handle(fill(order, 1, "0.5", oid=old), session.advance(1))
    assert order.state is S.MODIFYING and order.requested == (D(99), D(2))
    assert (order.oid, order.price, order.filled) == (old, D(100), D("0.5"))


def test_a_replacement_fill_under_an_oid_of_another_order_is_a_conflict(
    session: Session,
) -> None:
    # Kills `_bind(order, event.oid, now, replace=True)` -> `..., None, ...` in filled.
    other = session.resting(price="98")
    order, old = modifying(session)
    assert other.oid is not None
    session.engine.handle(fill(order, 1, "0.5", oid=other.oid), session.advance(1))
    assert order.state is S.MODIFYING and order.oid == old
    (conflict,) = [a for a in session.engine.anomalies if a.kind is AnomalyKind.OID_CONFLICT]
    assert (conflict.at, conflict.order_id) == (session.now, order.label)


def test_a_fill_parked_for_the_replacement_is_attached_when_its_open_comes(
    session: Session,
) -> None:
    # Kills `_attach_parked(order, now)` -> `(order, None)` on the modify's open in accepted.
    order, _old = modifying(session)
    engine = session.engine
    engine.handle(OrderFilled(oid=Oid(9001), tid=Tid(1), side=order.side, price=D(99),
                              size=D("0.5")), session.advance(1))
    assert list(engine.parked_fills()) == [Oid(9001)]
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(9001)), session.advance(1))
    assert order.oid == Oid(9001) and order.state is S.FINALIZED_PROTECTED
    assert order.filled == D("0.5") and engine.parked_fills() == {}
    assert [f.at for f in order.fills.values()] == [session.now]


def test_an_open_of_the_replacement_under_an_oid_of_another_order_is_a_conflict(
    session: Session,
) -> None:
    # Kills `_bind(order, oid, now, replace=True)` -> `..., None, ...` in accepted.
    other = session.resting(price="98")
    order, old = modifying(session)
    assert other.oid is not None
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=other.oid), session.advance(1))
    assert order.state is S.MODIFYING and order.oid == old
    (conflict,) = [a for a in session.engine.anomalies if a.kind is AnomalyKind.OID_CONFLICT]
    assert (conflict.at, conflict.order_id) == (session.now, order.label)


def test_a_fill_refused_by_the_table_is_recorded_when_and_why(session: Session) -> None:
    # Kills `_refused(order, exc, now)` -> `(order, None, now)` / `(order, exc, None)` in
    # Interpreter._remote_then_finalize.
    order = session.engine.place(Side.BUY, D(100), D(1), session.now)
    session.engine.handle(fill(order, 1, "0.5"), session.advance(1))
    (refused,) = list(session.engine.anomalies)
    assert (refused.kind, refused.at, refused.detail) == (
        AnomalyKind.ILLEGAL_EVENT, session.now,
        f"{order.label}: can't apply fill_partial in state pending")
