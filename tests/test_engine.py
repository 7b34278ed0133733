"""The engine: events in, commands out, timers on a manual clock."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import Session

from lifecycle.config import LifecycleConfig, OrdersConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import (
    CancelOrder,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import IllegalTransition, TimeWentBackwards, UnknownOrder
from lifecycle.core.events import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    OrphanSeen,
    OrphanVanished,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.engine.facade import Engine

S = OrderState


def fill(order: Order, tid: int, size: str, side: Side = Side.BUY) -> OrderFilled:
    return OrderFilled(
        cloid=order.cloid,
        oid=order.oid,
        tid=Tid(tid),
        side=side,
        price=Decimal("100"),
        size=Decimal(size),
    )


# --- placement ----------------------------------------------------------------------


def test_place_queues_placement_and_drain_moves_to_expected(session: Session) -> None:
    assert not session.engine.has_commands()
    order = session.engine.place(Side.BUY, Decimal("100"), Decimal("2"), 0.0)
    assert order.state is S.PENDING
    assert session.engine.has_commands()
    commands = session.engine.commands_to_send()
    assert not session.engine.has_commands()
    assert commands == [
        PlaceOrder(cloid=order.cloid, side=Side.BUY, price=Decimal("100"), size=Decimal("2"))
    ]  # type: ignore[arg-type]
    assert order.state is S.EXPECTED
    assert session.engine.commands_to_send() == []


def test_accept_binds_oid_and_protects(session: Session) -> None:
    order = session.sent()
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(7)), 0.5)
    assert order.state is S.FINALIZED_PROTECTED
    assert order.oid == Oid(7)
    assert session.engine.order(Oid(7)) is order
    assert [r.trigger for r in order.history] == [Trigger.SUBMIT, Trigger.ACCEPT, Trigger.FINALIZE]


def test_accept_by_oid_only_after_cloid_ack_resolves_same_order(session: Session) -> None:
    order = session.resting()
    session.engine.handle(OrderAccepted(oid=order.oid), 1.0)  # type: ignore[arg-type]
    assert order.state is S.FINALIZED_PROTECTED
    assert order.history[-1].trigger is Trigger.ACCEPT
    assert not session.engine.anomalies.counts


def test_cloid_lookup_uses_canonical_form(session: Session) -> None:
    order = session.sent()
    assert order.cloid is not None
    upper = Cloid("0X" + order.cloid[2:].upper())
    session.engine.handle(OrderAccepted(cloid=upper, oid=Oid(9)), 0.1)
    assert order.state is S.FINALIZED_PROTECTED


def test_rejected_ends_with_reason_and_exchange_status(session: Session) -> None:
    order = session.sent()
    session.engine.handle(OrderRejected(cloid=order.cloid, status="tickRejected"), 0.2)
    assert (order.state, order.reason, order.status) == (
        S.GONE,
        GoneReason.REJECTED,
        "tickRejected",
    )


def test_cancel_pending_abandons_and_never_sends(session: Session) -> None:
    order = session.engine.place(Side.SELL, Decimal("101"), Decimal("1"), 0.0)
    session.engine.cancel(order.cloid, 0.1)  # type: ignore[arg-type]
    assert (order.state, order.reason) == (S.GONE, GoneReason.NEVER_PLACED)
    assert session.engine.commands_to_send() == []


# --- fills ----------------------------------------------------------------------------


def test_fill_partial_then_complete_moves_position_and_ends_filled(session: Session) -> None:
    order = session.tracked()
    session.engine.handle(fill(order, 1, "0.4"), session.advance(1))
    assert (order.state, order.filled, order.remaining) == (
        S.TRACKED,
        Decimal("0.4"),
        Decimal("0.6"),
    )
    session.engine.handle(fill(order, 2, "0.6"), session.advance(1))
    assert (order.state, order.reason) == (S.GONE, GoneReason.FILLED)
    assert session.engine.position == Decimal("1.0")


def test_fill_duplicate_trade_id_changes_nothing(session: Session) -> None:
    order = session.tracked()
    event = fill(order, 1, "0.4")
    session.engine.handle(event, session.advance(1))
    history = order.history
    session.engine.handle(event, session.advance(1))
    assert session.engine.position == Decimal("0.4")
    assert order.filled == Decimal("0.4")
    assert order.history == history
    assert session.engine.ledger.duplicates == 1


def test_fill_sell_moves_position_down(session: Session) -> None:
    order = session.tracked(side=Side.SELL)
    session.engine.handle(fill(order, 1, "0.25", Side.SELL), session.advance(1))
    assert session.engine.position == Decimal("-0.25")


def test_fill_before_ack_binds_oid_and_protects(session: Session) -> None:
    order = session.sent()
    session.engine.handle(
        OrderFilled(
            cloid=order.cloid,
            oid=Oid(55),
            tid=Tid(1),
            side=Side.BUY,
            price=Decimal("100"),
            size=Decimal("0.3"),
        ),
        0.2,
    )
    assert (order.state, order.oid) == (S.FINALIZED_PROTECTED, Oid(55))
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(55)), 0.4)  # late REST ack
    assert order.state is S.FINALIZED_PROTECTED
    assert session.engine.position == Decimal("0.3")
    assert not session.engine.anomalies.counts


def test_fill_complete_before_ack_ends_filled_and_late_ack_is_absorbed(session: Session) -> None:
    order = session.sent()
    session.engine.handle(
        OrderFilled(
            cloid=order.cloid,
            oid=Oid(56),
            tid=Tid(1),
            side=Side.BUY,
            price=Decimal("100"),
            size=Decimal("1"),
        ),
        0.2,
    )
    assert (order.state, order.reason, order.oid) == (S.GONE, GoneReason.FILLED, Oid(56))
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(56)), 0.3)
    assert order.history[-1].trigger is Trigger.ACCEPT
    assert not session.engine.anomalies.counts


def test_fill_while_cancelling_keeps_cancelling(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.advance(1))
    session.engine.handle(fill(order, 1, "0.5"), session.advance(0.1))
    assert order.state is S.CANCELLING
    session.engine.handle(OrderCanceled(cloid=order.cloid, oid=order.oid), session.advance(0.1))
    assert (order.state, order.reason, order.filled) == (
        S.GONE,
        GoneReason.CANCELED,
        Decimal("0.5"),
    )


def test_late_fill_on_tombstone_moves_position_once(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.advance(1))
    session.engine.handle(OrderCanceled(cloid=order.cloid, oid=order.oid), session.advance(0.1))
    late = fill(order, 77, "0.2")
    session.engine.handle(late, session.advance(0.5))
    session.engine.handle(late, session.advance(0.1))
    assert (order.state, order.reason) == (S.GONE, GoneReason.CANCELED)
    assert order.history[-1].trigger is Trigger.LATE_FILL
    assert session.engine.position == Decimal("0.2")
    assert not session.engine.anomalies.counts


def test_fill_for_unknown_order_moves_position_records_anomaly_and_asks_sync(
    session: Session,
) -> None:
    event = OrderFilled(
        oid=Oid(424242), tid=Tid(5), side=Side.SELL, price=Decimal("100"), size=Decimal("0.7")
    )
    session.engine.handle(event, 1.0)
    session.engine.handle(event, 1.1)
    assert session.engine.position == Decimal("-0.7")
    assert session.engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 1
    assert session.engine.commands_to_send() == [
        FetchOpenOrders(reason="fill for an unknown order")
    ]


def test_overfill_records_anomaly_without_crashing(session: Session) -> None:
    order = session.tracked()
    session.engine.handle(fill(order, 1, "1"), session.advance(1))
    session.engine.handle(fill(order, 2, "0.5"), session.advance(0.1))
    assert (order.state, order.filled) == (S.GONE, Decimal("1.5"))
    assert session.engine.position == Decimal("1.5")
    assert session.engine.anomalies.counts[AnomalyKind.OVERFILL] == 1


def test_repeat_older_than_dedup_window_is_caught_by_the_order(session: Session) -> None:
    engine = Engine(LifecycleConfig(orders=OrdersConfig(fill_dedup_capacity=1)), verify=True)
    order = engine.place(Side.BUY, Decimal("100"), Decimal("10"), 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(1)), 0.0)
    engine.handle(fill(order, 1, "1"), 1.0)
    engine.handle(fill(order, 2, "1"), 1.0)  # evicts tid 1 from the window
    engine.handle(fill(order, 1, "1"), 2.0)
    assert engine.position == Decimal("2")
    assert engine.ledger.duplicates == 1


# --- timers ---------------------------------------------------------------------------


def test_protection_expires_exactly_at_protection_s(session: Session) -> None:
    order = session.resting()
    protection = session.engine.config.orders.protection_s
    assert session.engine.next_deadline() == pytest.approx(protection)
    session.engine.on_timer(protection - 0.001)
    assert order.state is S.FINALIZED_PROTECTED
    session.engine.on_timer(protection)
    assert order.state is S.TRACKED


def test_expected_ttl_queries_status_and_never_ends_the_order(session: Session) -> None:
    order = session.sent()
    ttl = session.engine.config.orders.expected_ttl_s
    assert session.engine.next_deadline() == ttl
    session.engine.on_timer(session.advance(ttl))
    assert order.state is S.EXPECTED
    assert session.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=None)]
    session.engine.on_timer(session.advance(ttl))  # asks again, still no end
    assert session.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=None)]
    assert order.state is S.EXPECTED


def test_not_found_before_ttl_is_ignored_after_ttl_is_never_placed(session: Session) -> None:
    order = session.sent()
    report = OrderStatusReport(
        cloid=order.cloid, outcome=StatusOutcome.NOT_FOUND, status="unknownOid"
    )
    session.engine.handle(report, session.advance(1))
    assert order.state is S.EXPECTED
    session.engine.handle(report, session.advance(session.engine.config.orders.expected_ttl_s))
    assert (order.state, order.reason) == (S.GONE, GoneReason.NEVER_PLACED)


def test_tombstone_evicted_after_tombstone_s(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.advance(1))
    session.engine.handle(OrderCanceled(cloid=order.cloid, oid=order.oid), session.advance(0.1))
    tombstone = session.engine.config.orders.tombstone_s
    session.engine.on_timer(session.advance(tombstone - 0.01))
    assert session.engine.order(order.cloid) is order  # type: ignore[arg-type]
    session.engine.on_timer(session.advance(0.01))
    with pytest.raises(UnknownOrder):
        session.engine.order(order.cloid)  # type: ignore[arg-type]
    with pytest.raises(UnknownOrder):
        session.engine.order(order.oid)  # type: ignore[arg-type]
    assert len(session.engine.registry) == 0


def test_cancel_timeout_queries_status_and_keeps_cancelling(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.advance(1))
    session.engine.commands_to_send()
    session.engine.on_timer(session.advance(session.engine.config.orders.cancel_timeout_s))
    assert order.state is S.CANCELLING
    assert session.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]


def test_next_deadline_none_when_nothing_is_timed(session: Session) -> None:
    assert session.engine.next_deadline() is None
    session.tracked()
    assert session.engine.next_deadline() is None


def test_time_going_backwards_raises(session: Session) -> None:
    session.engine.on_timer(10.0)
    with pytest.raises(TimeWentBackwards):
        session.engine.on_timer(9.0)


@pytest.mark.parametrize("call", ["on_timer", "handle", "place", "cancel", "modify"])
def test_nan_now_is_refused_and_changes_nothing(session: Session, call: str) -> None:
    engine = session.engine
    order = session.tracked()
    before = (engine.now, order.state, engine.counters())
    nan = float("nan")
    actions = {
        "on_timer": lambda: engine.on_timer(nan),
        "handle": lambda: engine.handle(OrderCanceled(cloid=order.cloid, oid=order.oid), nan),
        "place": lambda: engine.place(Side.BUY, Decimal("1"), Decimal("1"), nan),
        "cancel": lambda: engine.cancel(order, nan),
        "modify": lambda: engine.modify(order, Decimal("2"), Decimal("1"), nan),
    }
    with pytest.raises(ValueError, match="now must be a time in seconds, got nan"):
        actions[call]()
    assert (engine.now, order.state, engine.counters()) == before
    engine.on_timer(session.advance(1))  # the time check still works afterwards
    with pytest.raises(TimeWentBackwards):
        engine.on_timer(engine.now - 1)


# --- cancels and modifies -------------------------------------------------------------


def test_cancel_queues_cancel_by_oid_or_cloid(session: Session) -> None:
    early = session.sent()
    session.engine.cancel(early, session.advance(0.1))
    assert session.engine.commands_to_send() == [CancelOrder(cloid=early.cloid, oid=None)]
    acked = session.tracked()
    session.engine.cancel(acked, session.advance(0.1))
    assert session.engine.commands_to_send() == [CancelOrder(cloid=acked.cloid, oid=acked.oid)]


def test_cancel_rejected_still_resting_returns_to_tracked(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.advance(1))
    session.engine.handle(CancelRejected(cloid=order.cloid, order_gone=False), session.advance(1))
    assert order.state is S.TRACKED


def test_cancel_answer_gone_ends_unknown_and_queries(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.advance(1))
    session.engine.commands_to_send()
    message = "Order was never placed, already canceled, or filled. asset=0"
    session.engine.handle(
        CancelRejected(cloid=order.cloid, oid=order.oid, order_gone=True, message=message),
        session.advance(1),
    )
    assert (order.state, order.reason) == (S.GONE, GoneReason.UNKNOWN)
    assert session.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]


def test_exchange_initiated_cancel_keeps_exchange_status(session: Session) -> None:
    order = session.tracked()
    session.engine.handle(
        OrderCanceled(
            cloid=order.cloid, oid=order.oid, status="marginCanceled", exchange_initiated=True
        ),
        session.advance(1),
    )
    assert (order.state, order.reason, order.status) == (
        S.GONE,
        GoneReason.CANCELED,
        "marginCanceled",
    )
    assert order.history[-1].trigger is Trigger.EXCHANGE_CANCELED


def test_modify_new_oid_rebinds_and_old_oid_still_resolves(session: Session) -> None:
    order = session.tracked()
    old = order.oid
    session.engine.modify(order, Decimal("99"), Decimal("1"), session.advance(1))
    assert session.engine.commands_to_send() == [
        ModifyOrder(cloid=order.cloid, oid=old, price=Decimal("99"), size=Decimal("1"))  # type: ignore[arg-type]
    ]
    session.engine.handle(
        OrderModified(
            cloid=order.cloid, oid=Oid(9999), old_oid=old, price=Decimal("99"), size=Decimal("1")
        ),
        session.advance(0.3),
    )
    assert (order.state, order.oid, order.price) == (
        S.FINALIZED_PROTECTED,
        Oid(9999),
        Decimal("99"),
    )
    assert session.engine.order(old) is order  # type: ignore[arg-type]
    session.engine.handle(OrderCanceled(cloid=order.cloid, oid=old), session.advance(0.1))
    assert order.state is S.FINALIZED_PROTECTED  # the old leg, not our order
    assert order.history[-1].trigger is Trigger.SUPERSEDED


def test_modify_old_leg_cancel_then_new_oid_open_completes_modify(session: Session) -> None:
    order = session.tracked()
    old = order.oid
    session.engine.modify(order, Decimal("99"), Decimal("1"), session.advance(1))
    session.engine.handle(OrderCanceled(cloid=order.cloid, oid=old), session.advance(0.1))
    assert order.state is S.MODIFYING
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(8888)), session.advance(0.1))
    assert (order.state, order.oid, order.prior_oids) == (S.FINALIZED_PROTECTED, Oid(8888), (old,))


def test_modify_gone_ends_unknown(session: Session) -> None:
    order = session.tracked()
    session.engine.modify(order, Decimal("99"), Decimal("1"), session.advance(1))
    session.engine.handle(
        ModifyRejected(
            cloid=order.cloid, order_gone=True, message="Cannot modify canceled or filled order"
        ),
        session.advance(0.2),
    )
    assert (order.state, order.reason) == (S.GONE, GoneReason.UNKNOWN)


def test_modify_rejected_returns_to_tracked(session: Session) -> None:
    order = session.tracked()
    session.engine.modify(order, Decimal("99"), Decimal("1"), session.advance(1))
    session.engine.handle(ModifyRejected(cloid=order.cloid, order_gone=False), session.advance(0.2))
    assert (order.state, order.price) == (S.TRACKED, Decimal("100"))


def test_cancel_during_modify_resends_cancel_for_new_oid(session: Session) -> None:
    order = session.tracked()
    session.engine.modify(order, Decimal("99"), Decimal("1"), session.advance(1))
    session.engine.cancel(order, session.advance(0.1))
    session.engine.commands_to_send()
    session.engine.handle(
        OrderModified(cloid=order.cloid, oid=Oid(7777), price=Decimal("99"), size=Decimal("1")),
        session.advance(0.1),
    )
    assert order.state is S.CANCELLING
    assert session.engine.commands_to_send() == [CancelOrder(cloid=order.cloid, oid=Oid(7777))]


def test_modify_tracked_order_without_oid_goes_by_cloid(session: Session) -> None:
    order = session.sent()
    session.engine.cancel(order, session.advance(0.1))  # by cloid, before the ack
    session.engine.handle(CancelRejected(cloid=order.cloid, order_gone=False), session.advance(0.1))
    assert (order.state, order.oid) == (S.TRACKED, None)
    session.engine.commands_to_send()
    session.engine.modify(order, Decimal("99"), Decimal("1"), session.advance(0.1))
    assert order.state is S.MODIFYING
    assert session.engine.commands_to_send() == [
        ModifyOrder(cloid=order.cloid, oid=None, price=Decimal("99"), size=Decimal("1"))
    ]


def test_modify_without_oid_is_local_misuse(session: Session) -> None:
    order = session.sent()
    with pytest.raises(IllegalTransition):
        session.engine.modify(order, Decimal("99"), Decimal("1"), 0.1)
    assert order.state is S.EXPECTED


def test_cancel_gone_order_is_local_misuse_and_changes_nothing(session: Session) -> None:
    order = session.sent()
    session.engine.handle(OrderRejected(cloid=order.cloid), 0.1)
    with pytest.raises(IllegalTransition, match="can't apply cancel_request in state gone"):
        session.engine.cancel(order, 0.2)
    assert session.engine.commands_to_send() == []


def test_unknown_key_raises_unknown_order(session: Session) -> None:
    with pytest.raises(UnknownOrder):
        session.engine.cancel(Oid(123), 0.0)


# --- remote inconsistencies ----------------------------------------------------------


def test_illegal_remote_event_is_anomaly_not_applied_and_queried(session: Session) -> None:
    order = session.resting()
    session.engine.handle(
        OrderModified(cloid=order.cloid, oid=Oid(5), price=Decimal("1"), size=Decimal("1")),
        session.advance(0.1),
    )
    assert (order.state, order.oid, order.price) == (
        S.FINALIZED_PROTECTED,
        Oid(1001),
        Decimal("100"),
    )
    [anomaly] = list(session.engine.anomalies)
    assert anomaly.kind is AnomalyKind.ILLEGAL_EVENT
    assert "modify_ack" in anomaly.detail
    assert session.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]


def test_event_for_unknown_order_is_anomaly(session: Session) -> None:
    session.engine.handle(OrderCanceled(oid=Oid(31337)), 1.0)
    assert session.engine.anomalies.counts[AnomalyKind.UNKNOWN_ORDER] == 1


def test_conflicting_oid_is_anomaly(session: Session) -> None:
    order = session.resting()
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(42)), 0.2)
    assert order.oid == Oid(1001)
    assert session.engine.anomalies.counts[AnomalyKind.OID_CONFLICT] == 1


def test_handle_rejects_non_events(session: Session) -> None:
    with pytest.raises(TypeError, match="not an exchange event"):
        session.engine.handle("filled", 0.0)


# --- status reports --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "reason"),
    [
        (StatusOutcome.CANCELED, "canceled", GoneReason.CANCELED),
        (StatusOutcome.CANCELED, "reduceOnlyCanceled", GoneReason.CANCELED),
        (StatusOutcome.FILLED, "filled", GoneReason.FILLED),
    ],
)
def test_status_answer_ends_tracked_order(
    session: Session, outcome: StatusOutcome, status: str, reason: GoneReason
) -> None:
    order = session.tracked()
    session.engine.handle(
        OrderStatusReport(cloid=order.cloid, oid=order.oid, outcome=outcome, status=status),
        session.advance(1),
    )
    assert (order.state, order.reason, order.status) == (S.GONE, reason, status)


def test_status_filled_without_fills_records_fills_missing(session: Session) -> None:
    order = session.tracked()
    session.engine.handle(
        OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.FILLED), session.advance(1)
    )
    assert session.engine.anomalies.counts[AnomalyKind.FILLS_MISSING] == 1
    assert session.engine.position == 0


def test_status_open_acknowledges_expected_order(session: Session) -> None:
    order = session.sent()
    session.engine.handle(
        OrderStatusReport(cloid=order.cloid, oid=Oid(3), outcome=StatusOutcome.OPEN), 1.0
    )
    assert (order.state, order.oid) == (S.FINALIZED_PROTECTED, Oid(3))


def test_status_canceled_while_cancelling_is_cancel_ack(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.advance(1))
    session.engine.handle(
        OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.CANCELED, status="canceled"),
        session.advance(1),
    )
    assert order.history[-1].trigger is Trigger.CANCEL_ACK


# --- orphans ----------------------------------------------------------------------------


def orphan(oid: int) -> OrphanSeen:
    return OrphanSeen(oid=Oid(oid), side=Side.SELL, price=Decimal("105"), size=Decimal("2"))


def test_orphan_grace_ages_candidate(session: Session) -> None:
    session.engine.handle(orphan(500), 0.0)
    candidate = session.engine.order(Oid(500))
    assert candidate.state is S.ORPHAN_CANDIDATE
    grace = session.engine.config.orders.orphan_grace_s
    session.engine.handle(orphan(500), session.advance(grace / 2))
    assert candidate.state is S.ORPHAN_CANDIDATE
    session.engine.on_timer(session.advance(grace / 2))
    assert candidate.state is S.AGED_ORPHAN


def test_orphan_vanished_is_dropped_and_grace_restarts_on_return(session: Session) -> None:
    session.engine.handle(orphan(501), 0.0)
    session.engine.handle(OrphanVanished(oid=Oid(501)), session.advance(3))
    with pytest.raises(UnknownOrder):
        session.engine.order(Oid(501))
    session.engine.handle(orphan(501), session.advance(1))
    again = session.engine.order(Oid(501))
    session.engine.on_timer(session.advance(session.engine.config.orders.orphan_grace_s - 0.5))
    assert again.state is S.ORPHAN_CANDIDATE
    assert session.engine.commands_to_send() == []


def test_orphan_fill_moves_position(session: Session) -> None:
    session.engine.handle(orphan(502), 0.0)
    session.engine.handle(
        OrderFilled(
            oid=Oid(502), tid=Tid(1), side=Side.SELL, price=Decimal("105"), size=Decimal("2")
        ),
        1.0,
    )
    assert session.engine.position == Decimal("-2")
    assert session.engine.order(Oid(502)).reason is GoneReason.FILLED


def test_counters_report_states_fills_and_anomalies(session: Session) -> None:
    order = session.tracked()
    session.engine.handle(fill(order, 1, "0.1"), session.advance(1))
    session.engine.handle(fill(order, 1, "0.1"), session.advance(1))
    session.engine.handle(OrderCanceled(oid=Oid(1)), session.advance(1))
    counters = session.engine.counters()
    assert counters["orders_tracked"] == 1
    assert counters["fills"] == 1
    assert counters["duplicate_fills"] == 1
    assert counters["anomaly_unknown_order"] == 1


def test_accept_with_oid_of_another_order_is_anomaly_not_a_crash(session: Session) -> None:
    first = session.resting()
    second = session.sent()
    session.engine.commands_to_send()
    session.engine.handle(OrderAccepted(cloid=second.cloid, oid=first.oid), session.now)  # type: ignore[arg-type]
    assert second.state is S.EXPECTED and second.oid is None
    assert session.engine.order(first.oid) is first  # type: ignore[arg-type]
    assert session.engine.anomalies.counts[AnomalyKind.OID_CONFLICT] == 1
    assert QueryOrderStatus(cloid=second.cloid, oid=None) in session.engine.commands_to_send()


def test_modify_timeout_queries_status_and_keeps_modifying(session: Session) -> None:
    order = session.tracked()
    session.engine.modify(order, Decimal("101"), Decimal("1"), session.now)
    session.engine.commands_to_send()
    timeout = session.engine.config.orders.cancel_timeout_s
    session.engine.on_timer(session.advance(timeout / 2))
    assert session.engine.commands_to_send() == []
    session.engine.on_timer(session.advance(timeout / 2))
    assert order.state is S.MODIFYING
    assert session.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]


def test_status_open_while_cancelling_resends_the_cancel(session: Session) -> None:
    order = session.tracked()
    session.engine.cancel(order, session.now)
    session.engine.commands_to_send()
    report = OrderStatusReport(cloid=order.cloid, oid=order.oid, outcome=StatusOutcome.OPEN)
    session.engine.handle(report, session.now)
    assert order.state is S.CANCELLING
    assert session.engine.commands_to_send() == [CancelOrder(cloid=order.cloid, oid=order.oid)]


def test_set_targets_places_the_ladder_and_keeps_it_next_cycle(session: Session) -> None:
    from lifecycle.policy.reconciler import Book, Ladder, Level

    ladder = Ladder(
        bids=(Level(price=Decimal("99"), size=Decimal("1")),),
        asks=(Level(price=Decimal("101"), size=Decimal("1")),),
    )
    book = Book(best_bid=Decimal("99.5"), best_ask=Decimal("100.5"), at=session.now)
    session.engine.set_targets(ladder, book, session.now)
    placed = session.engine.commands_to_send()
    assert sorted((c.side.value, c.price) for c in placed if isinstance(c, PlaceOrder)) == [
        ("buy", Decimal("99")),
        ("sell", Decimal("101")),
    ]
    session.engine.set_targets(ladder, book, session.now)  # EXPECTED orders hold their levels
    assert session.engine.commands_to_send() == []
    assert session.engine.counters()["reconciler_places"] == 2


def _fill(order: Order, oid: int, tid: int, size: str, *, cloid: bool = True) -> OrderFilled:
    return OrderFilled(
        cloid=order.cloid if cloid else None, oid=Oid(oid), tid=Tid(tid), side=order.side,
        price=order.price, size=Decimal(size),
    )


def test_modify_of_partly_filled_order_rests_the_requested_size(session: Session) -> None:
    order = session.tracked(size="3")
    old = order.oid
    assert old is not None
    session.engine.handle(_fill(order, old, 1, "1"), session.now)
    session.engine.modify(order, Decimal("99"), Decimal("2"), session.now)
    modified = OrderModified(
        cloid=order.cloid, oid=Oid(5000), old_oid=old, price=Decimal("99"), size=Decimal("2")
    )
    session.engine.handle(modified, session.now)
    assert (order.size, order.filled, order.remaining) == (Decimal(3), Decimal(1), Decimal(2))
    session.engine.handle(_fill(order, 5000, 2, "2"), session.now)
    assert order.state is S.GONE and order.reason is GoneReason.FILLED
    assert session.engine.anomalies.counts[AnomalyKind.OVERFILL] == 0


def test_late_fill_of_the_replaced_leg_grows_the_total_not_the_rest(session: Session) -> None:
    order = session.tracked(size="2")
    old = order.oid
    assert old is not None
    session.engine.modify(order, Decimal("99"), Decimal("2"), session.now)
    modified = OrderModified(
        cloid=order.cloid, oid=Oid(5000), old_oid=old, price=Decimal("99"), size=Decimal("2")
    )
    session.engine.handle(modified, session.now)
    session.engine.handle(_fill(order, old, 1, "1"), session.now)  # executed before the replace
    assert (order.size, order.filled, order.remaining) == (Decimal(3), Decimal(1), Decimal(2))
    assert order.state is S.FINALIZED_PROTECTED
    assert session.engine.position == Decimal(1)


def test_rest_modify_answer_after_new_oid_open_is_absorbed(session: Session) -> None:
    order = session.tracked()
    old = order.oid
    session.engine.modify(order, Decimal("99"), Decimal("1"), session.now)
    session.engine.commands_to_send()
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(5000)), session.now)
    assert order.state is S.FINALIZED_PROTECTED and order.price == Decimal("99")
    modified = OrderModified(
        cloid=order.cloid, oid=Oid(5000), old_oid=old, price=Decimal("99"), size=Decimal("1")
    )
    session.engine.handle(modified, session.now)
    assert order.state is S.FINALIZED_PROTECTED
    assert len(session.engine.anomalies) == 0
    assert session.engine.commands_to_send() == []


def test_fill_without_cloid_before_the_ack_is_given_to_the_order(session: Session) -> None:
    order = session.sent(size="2")
    session.engine.handle(_fill(order, 7000, 1, "2", cloid=False), session.now)
    assert session.engine.position == Decimal(2)
    assert session.engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 1
    session.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(7000)), session.now)
    assert order.state is S.GONE and order.reason is GoneReason.FILLED
    assert order.filled == Decimal(2) and session.engine.position == Decimal(2)
