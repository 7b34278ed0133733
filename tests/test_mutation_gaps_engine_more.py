"""Engine behaviour that mutation testing (``make mutate``) found unpinned, second part.

Interpreter decisions (which order an event names, what a repeated fill
changes, what a late answer binds), the text of the anomalies and sync
requests the engine records, the fill ledger's time check, and the
checkpoint's plain data. Driven through the suite's ``session`` fixture
(``conftest.Session``: an engine with ``verify=True`` on a manual clock).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from conftest import Session

from lifecycle.config import LifecycleConfig, OrdersConfig
from lifecycle.core.anomalies import Anomaly, AnomalyKind
from lifecycle.core.commands import FetchOpenOrders
from lifecycle.core.errors import TimeWentBackwards
from lifecycle.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderStatusReport,
    OrphanSeen,
    StatusOutcome,
)
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.engine.ledger import FillLedger
from lifecycle.engine.state import capture, encode
from lifecycle.policy.snapshot import OpenOrder, OpenOrdersSnapshot

S = OrderState
D = Decimal


def state_of(order: Order) -> OrderState:
    """The order's state, read through a call (the engine changes it behind mypy's back)."""
    return order.state


def anomalies(session: Session, kind: AnomalyKind) -> list[Anomaly]:
    return [a for a in session.engine.anomalies if a.kind is kind]


def never_placed(session: Session, size: str = "1") -> Order:
    """An order sent, then declared never placed (its TTL's status query: not found)."""
    order = session.sent(size=size)
    engine = session.engine
    engine.on_timer(session.advance(engine.config.orders.expected_ttl_s))
    engine.commands_to_send()
    engine.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.NOT_FOUND),
                  session.advance(0.1))
    assert (order.state, order.reason) == (S.GONE, GoneReason.NEVER_PLACED)
    return order


def modifying(session: Session) -> tuple[Order, Oid]:
    """A TRACKED order with a modify to 99 x 1 in flight; returns it and its oid."""
    order = session.tracked()
    assert order.oid is not None
    session.engine.modify(order, D("99"), D("1"), session.now)
    session.engine.commands_to_send()
    return order, order.oid


# --- a parked fill reaches its order once its oid is bound -------------------------------


# A late placement answer gives the order the fills parked for its oid.
def test_a_late_placement_answer_takes_the_fills_parked_for_its_oid(session: Session) -> None:
    order = never_placed(session)
    engine = session.engine
    engine.handle(OrderFilled(oid=Oid(55), tid=Tid(1), side=order.side, price=order.price,
                              size=D("1")), session.advance(0.1))
    assert list(engine.parked_fills()) == [Oid(55)]
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(55)), session.advance(0.1))
    assert engine.parked_fills() == {}
    assert (order.oid, order.filled) == (Oid(55), D("1"))
    assert (state_of(order), order.reason) == (S.GONE, GoneReason.FILLED)


# A modify answer that reaches a tombstone gives it the fills parked for the new oid.
def test_a_late_modify_answer_gives_a_tombstone_the_fills_of_its_new_oid(
    session: Session,
) -> None:
    order, old = modifying(session)
    engine = session.engine
    engine.handle(OrderCanceled(cloid=order.cloid, oid=old, exchange_initiated=True),
                  session.advance(0.1))
    assert state_of(order) is S.GONE
    engine.handle(OrderFilled(oid=Oid(77), tid=Tid(1), side=order.side, price=D("99"),
                              size=D("0.4")), session.advance(0.1))
    engine.handle(OrderModified(cloid=order.cloid, oid=Oid(77), old_oid=old, price=D("99"),
                                size=D("1")), session.advance(0.1))
    assert engine.parked_fills() == {}
    assert (order.oid, order.filled) == (Oid(77), D("0.4"))
    assert engine.ledger.position == D("0.4")


# The engine's fill ledger takes its capacity and its memory from the configuration.
def test_the_fill_ledger_follows_the_configured_capacity_and_memory() -> None:
    config = LifecycleConfig(orders=OrdersConfig(fill_dedup_capacity=2, fill_memory_s=7200.0))
    engine = Engine(config, cloids=CloidFactory("test", run_id=1), verify=True)
    fills = [OrderFilled(oid=Oid(8), tid=Tid(t), side=Side.BUY, price=D(1), size=D(1))
             for t in (1, 2, 3)]
    for at, event in enumerate(fills, start=1):
        engine.handle(event, float(at))
    (full,) = [a for a in engine.anomalies if a.kind is AnomalyKind.FILL_MEMORY_FULL]
    assert (full.at, full.order_id) == (3.0, "oid:8")
    engine.handle(fills[2], 3.0 + 7200.0)  # still remembered: a repeat
    assert (engine.ledger.position, engine.ledger.duplicates) == (D(3), 1)
    engine.handle(fills[2], 3.0 + 7200.5)  # forgotten: counted again
    assert engine.ledger.position == D(4)


# A parked fill of an oid a modify replaced leaves the replacement its full size.
def test_a_parked_fill_of_a_replaced_oid_leaves_the_replacement_its_full_size(
    session: Session,
) -> None:
    engine = session.engine
    lost = CloidFactory("test", run_id=1, start=900).next()  # this run's, not registered
    engine.handle(OrderFilled(oid=Oid(22), tid=Tid(1), side=Side.BUY, price=D(100),
                              size=D("0.4")), session.advance(0.1))
    row = OpenOrder(coin=engine.sync.coin, oid=Oid(22), cloid=lost, side=Side.BUY,
                    price=D(100), size=D("0.6"))
    engine.handle_snapshot(OpenOrdersSnapshot(taken_at=session.now, orders=(row,)),
                           session.advance(0.1))
    order = engine.order(lost)
    assert state_of(order) is S.TRACKED
    engine.modify(order, D("99"), D("1"), session.now)
    engine.commands_to_send()
    engine.handle(OrderModified(cloid=lost, oid=Oid(23), old_oid=Oid(22), price=D("99"),
                                size=D("1")), session.advance(0.1))
    assert engine.parked_fills() == {}
    assert (order.filled, order.size, order.remaining) == (D("0.4"), D("1.4"), D("1"))


# An ack contradicting the oid an order holds leaves alone the candidate that oid names.
def test_a_contradicting_ack_keeps_the_orphan_candidate_of_its_oid(session: Session) -> None:
    order = session.resting()
    engine = session.engine
    engine.handle(OrphanSeen(oid=Oid(22), side=Side.BUY, price=D(100), size=D(1)),
                  session.advance(0.1))
    engine.handle(OrderFilled(oid=Oid(22), tid=Tid(1), side=Side.BUY, price=D(100),
                              size=D("0.4")), session.advance(0.1))
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(22)), session.advance(0.1))
    candidate = engine.order(Oid(22))
    assert (state_of(candidate), candidate.filled) == (S.ORPHAN_CANDIDATE, D("0.4"))
    assert engine.parked_fills() == {}
    assert order.oid == Oid(1001)
    (conflict,) = anomalies(session, AnomalyKind.OID_CONFLICT)
    assert conflict.detail == "exchange reported oid 22, which names oid:22"


# --- which order an event names; what a repeat changes ------------------------------------


# A modify answer's cloid names the order, whatever order its old oid names.
def test_a_modify_answer_goes_to_its_cloid_before_its_old_oid(session: Session) -> None:
    order, _ = modifying(session)
    other = session.resting(price="90")
    assert other.oid is not None
    session.engine.handle(OrderModified(cloid=order.cloid, oid=Oid(77), old_oid=other.oid,
                                        price=D("99"), size=D("1")), session.advance(0.1))
    assert (order.oid, order.price, state_of(order)) == (Oid(77), D("99"),
                                                          S.FINALIZED_PROTECTED)
    assert state_of(other) is S.FINALIZED_PROTECTED
    assert list(session.engine.anomalies) == []


# A repeat of a parked fill, now with its cloid, is only counted: it binds no oid.
def test_a_repeat_of_a_parked_fill_changes_nothing_but_the_duplicate_count(
    session: Session,
) -> None:
    order = session.sent()
    engine = session.engine
    first = OrderFilled(oid=Oid(55), tid=Tid(1), side=order.side, price=order.price,
                        size=D("0.4"))
    engine.handle(first, session.advance(0.1))
    engine.handle(OrderFilled(cloid=order.cloid, oid=Oid(55), tid=Tid(1), side=order.side,
                              price=order.price, size=D("0.4")), session.advance(0.1))
    assert (order.oid, order.filled, state_of(order)) == (None, D(0), S.EXPECTED)
    assert engine.parked_fills() == {Oid(55): (first,)}
    assert (engine.ledger.fills, engine.ledger.duplicates) == (1, 1)


# A late modify answer naming another order's oid: a conflict recorded at its time.
def test_a_late_modify_answer_naming_another_orders_oid_is_a_conflict(
    session: Session,
) -> None:
    order, old = modifying(session)
    other = session.resting(price="90")
    assert other.oid is not None
    engine = session.engine
    engine.handle(OrderCanceled(cloid=order.cloid, oid=old, exchange_initiated=True),
                  session.advance(0.1))
    engine.handle(OrderModified(cloid=order.cloid, oid=other.oid, old_oid=old, price=D("99"),
                                size=D("1")), session.advance(0.1))
    (conflict,) = anomalies(session, AnomalyKind.OID_CONFLICT)
    assert (conflict.at, conflict.order_id, conflict.detail) == (
        session.now, order.label, f"exchange reported oid {other.oid}, which names {other.label}")
    assert order.oid == old


# An ack with an oid other than the one the order holds: a conflict naming both oids.
def test_an_ack_with_a_second_oid_is_a_conflict_naming_both(session: Session) -> None:
    order = session.resting()
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(9)), session.advance(0.1))
    (conflict,) = anomalies(session, AnomalyKind.OID_CONFLICT)
    assert conflict.detail == f"exchange reported oid 9, the order has {order.oid}"


# A status FILLED for an order whose fills already cover its size reports none missing.
def test_status_filled_with_every_fill_seen_reports_no_missing_fill(session: Session) -> None:
    engine = session.engine
    order = engine.place(Side.BUY, D("100"), D("1"), session.now)  # PENDING: not drained
    engine.handle(OrderFilled(cloid=order.cloid, oid=Oid(5), tid=Tid(1), side=order.side,
                              price=order.price, size=D("1")), session.advance(0.1))
    assert (order.filled, order.size, state_of(order)) == (D("1"), D("1"), S.PENDING)
    engine.commands_to_send()
    engine.handle(OrderStatusReport(cloid=order.cloid, oid=Oid(5),
                                    outcome=StatusOutcome.FILLED), session.advance(0.1))
    assert anomalies(session, AnomalyKind.FILLS_MISSING) == []
    assert (state_of(order), order.reason) == (S.GONE, GoneReason.FILLED)


# --- what the engine records: anomaly texts, sync reasons, error messages -----------------


# An event for an order nobody knows names its event type, and asks for a snapshot.
def test_an_event_for_an_unknown_order_names_its_type(session: Session) -> None:
    engine = session.engine
    engine.handle(OrderAccepted(oid=Oid(9)), session.advance(0.1))
    (unknown,) = anomalies(session, AnomalyKind.UNKNOWN_ORDER)
    assert (unknown.order_id, unknown.detail) == (
        "oid:9", "OrderAccepted for an order we do not know")
    assert engine.commands_to_send() == [FetchOpenOrders(reason="unknown order")]


# A late placement's anomaly says what proved the order rests.
def test_a_late_placement_names_its_proof(session: Session) -> None:
    order = never_placed(session)
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(55)), session.advance(0.1))
    (late,) = anomalies(session, AnomalyKind.LATE_PLACEMENT)
    assert (late.order_id, late.detail) == (
        order.label,
        "its placement answer arrived after the order was declared never placed; tracked again")
    assert (state_of(order), order.oid) == (S.FINALIZED_PROTECTED, Oid(55))


# An unconfirmed "not found" records the exchange's word (or "not found") and asks a snapshot.
def test_an_unconfirmed_absence_records_the_status_word_and_asks_a_snapshot(
    session: Session,
) -> None:
    order = session.tracked()
    engine = session.engine
    engine.commands_to_send()
    for status in ("unknownOid", ""):
        engine.handle(OrderStatusReport(cloid=order.cloid, oid=order.oid, status=status,
                                        outcome=StatusOutcome.NOT_FOUND), session.advance(0.1))
        assert engine.commands_to_send() == [
            FetchOpenOrders(reason="status not found, absence unconfirmed")]
    assert [a.detail for a in anomalies(session, AnomalyKind.UNCONFIRMED_ABSENCE)] == [
        "status unknownOid while tracked; snapshots have not shown it absent",
        "status not found while tracked; snapshots have not shown it absent",
    ]
    assert state_of(order) is S.TRACKED


# A time earlier than the engine's latest is refused with both times in the message.
def test_a_time_going_back_names_both_times(session: Session) -> None:
    engine = session.engine
    engine.handle(OrderAccepted(oid=Oid(9)), 5.0)
    with pytest.raises(TimeWentBackwards,
                       match=r"^now=4\.0 is earlier than the previous now=5\.0$"):
        engine.handle(OrderAccepted(oid=Oid(9)), 4.0)


# Restoring parked fills over parked fills is refused, with the reason.
def test_restoring_parked_fills_over_parked_ones_is_refused(session: Session) -> None:
    engine = session.engine
    event = OrderFilled(oid=Oid(8), tid=Tid(1), side=Side.BUY, price=D(1), size=D(1))
    engine.handle(event, session.advance(0.1))
    with pytest.raises(ValueError, match=r"^restore needs no parked fills$"):
        engine.restore_parked({Oid(9): [event]})
    assert engine.parked_fills() == {Oid(8): (event,)}


# --- the fill ledger's time; the checkpoint's plain data ----------------------------------


# A fill event's time must be a finite float or int: a bool or a Decimal is refused.
@pytest.mark.parametrize("now", [True, D("1")])
def test_the_ledger_refuses_a_fill_event_time_of_another_type(now: object) -> None:
    ledger = FillLedger()
    event = OrderFilled(oid=Oid(8), tid=Tid(1), side=Side.BUY, price=D(1), size=D(1))
    with pytest.raises(TypeError, match="now must be a finite time"):
        ledger.apply_event(event, now)  # type: ignore[arg-type]
    assert (ledger.fills, ledger.position, len(ledger)) == (0, D(0), 0)
    assert ledger.apply_event(event, 1)  # an int is a time
    assert ledger.position == D(1)


# A capture is plain data: a queued command's cloid is a plain str, as every other cloid.
def test_a_capture_of_queued_commands_is_plain_data(session: Session) -> None:
    order = session.engine.place(Side.BUY, D("100"), D("1"), session.now)
    state = capture(session.engine)
    assert [(c.kind, c.cloid) for c in state.outbox] == [("PlaceOrder", order.cloid)]
    assert type(state.outbox[0].cloid) is str
    assert msgspec.json.encode(state) == encode(state)  # no hook needed
