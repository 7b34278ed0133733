"""The public scenario harness, tested through itself."""

from __future__ import annotations

from decimal import Decimal

import pytest
from seed_helpers import INTERVAL_S, MISSING_MIN_S, syncs_until

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import StatusOutcome
from lifecycle.core.order import Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.testing import Scenario, ScenarioError

S = OrderState


def test_scenario_docstring_example_runs() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "1")
    s.rest(order)
    s.snapshot()
    s.expect(order, S.FINALIZED_PROTECTED)
    s.fill(order, "1")
    s.expect(order, S.GONE, reason=GoneReason.FILLED)
    s.expect_position("1")


def test_scenario_place_sends_and_ack_books_the_order() -> None:
    s = Scenario()
    order = s.place(Side.SELL, "101", "2")
    placed = PlaceOrder(cloid=order.cloid, side=Side.SELL, price=Decimal(101), size=Decimal(2))  # type: ignore[arg-type]
    assert s.sent == [placed]
    oid = s.ack(order, via="ws")
    s.expect(order, S.FINALIZED_PROTECTED)
    assert order.oid == oid and oid in s.exchange.book


def test_scenario_advance_runs_timers() -> None:
    s = Scenario()
    order = s.place()
    s.ack(order)
    s.advance(s.engine.config.orders.protection_s)
    s.expect(order, S.TRACKED)


def test_scenario_partial_then_complete_fill_moves_both_positions() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "3")
    s.ack(order)
    s.fill(order, "1")
    s.expect(order, S.FINALIZED_PROTECTED, filled="1")
    s.fill(order)
    s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="3")
    s.expect_position("3")
    assert not s.exchange.book


def test_scenario_repeated_tid_is_delivered_but_not_executed_twice() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "3")
    s.ack(order)
    tid = s.fill(order, "1")
    s.fill(order, "1", tid=tid)
    s.expect(order, S.FINALIZED_PROTECTED, filled="1")
    s.expect_position("1")
    assert s.engine.ledger.duplicates == 1


def test_scenario_cancel_and_ack_ends_canceled() -> None:
    s = Scenario()
    order = s.place()
    s.ack(order)
    s.cancel(order)
    assert s.sent_of(CancelOrder) == [CancelOrder(cloid=order.cloid, oid=order.oid)]
    s.cancel_ack(order)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)


def test_scenario_exchange_cancel_and_reject_keep_the_exchange_word() -> None:
    s = Scenario()
    first, second = s.place(), s.place()
    s.ack(first)
    s.exchange_cancel(first, "reduceOnlyCanceled")
    s.reject(second, "badAloPxRejected")
    s.expect(first, S.GONE, reason=GoneReason.CANCELED)
    s.expect(second, S.GONE, reason=GoneReason.REJECTED)
    assert (first.status, second.status) == ("reduceOnlyCanceled", "badAloPxRejected")


def test_scenario_modify_ack_gives_new_oid_at_requested_terms() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "1")
    old = s.ack(order)
    s.modify(order, "99", "1")
    assert s.sent_of(ModifyOrder)[-1] == ModifyOrder(
        cloid=order.cloid, oid=old, price=Decimal(99), size=Decimal(1)
    )
    new = s.modify_ack(order)
    assert new != old and order.oid == new and old in order.prior_oids
    assert order.price == Decimal(99) and s.exchange.book[new].price == Decimal(99)


def test_scenario_lagging_snapshot_omits_an_order() -> None:
    s = Scenario()
    order = s.place()
    s.rest(order)
    report = s.snapshot(omit=[order])
    s.expect(order, S.EXPECTED)
    assert report.exchange_orders == 0


def test_scenario_stale_snapshot_is_ignored() -> None:
    s = Scenario()
    s.advance(60)
    order = s.place()
    s.rest(order)
    report = s.snapshot(age=s.engine.config.sync.snapshot_max_age_s + 1)
    assert report.stale
    s.expect(order, S.EXPECTED)


def test_scenario_foreign_order_becomes_candidate_then_cancelled_by_default() -> None:
    s = Scenario()
    oid = s.foreign(Side.SELL, "105", "1")
    s.snapshot()
    orphan = s.engine.order(oid)
    s.expect(orphan, S.ORPHAN_CANDIDATE)
    s.advance(s.engine.config.orders.orphan_grace_s)
    s.snapshot()
    s.expect(orphan, S.CANCELLING)
    assert CancelOrder(cloid=None, oid=oid) in s.sent


def test_scenario_answer_status_from_the_book() -> None:
    s = Scenario()
    order = s.place()
    s.ack(order)
    s.advance(s.engine.config.orders.protection_s)
    s.vanish(order)
    # "Not found" ends an order only once fresh snapshots have shown it absent.
    syncs_until(s, s.now + MISSING_MIN_S + INTERVAL_S)
    assert s.answer_status(order) is StatusOutcome.NOT_FOUND
    s.expect(order, S.GONE, reason=GoneReason.UNKNOWN)


def test_scenario_expiry_of_expected_ttl_queries() -> None:
    s = Scenario()
    order = s.place()
    s.advance(s.engine.config.orders.expected_ttl_s)
    assert QueryOrderStatus(cloid=order.cloid, oid=None) in s.sent
    s.expect(order, S.EXPECTED)


def test_scenario_expect_failure_names_state_reason_and_history() -> None:
    s = Scenario()
    order = s.place()
    expected = r"state expected, expected tracked .*pending-submit->expected"
    with pytest.raises(ScenarioError, match=expected):
        s.expect(order, S.TRACKED)
    with pytest.raises(ScenarioError, match="filled 0, expected 1"):
        s.expect(order, S.EXPECTED, filled="1")


def test_scenario_expect_position_checks_engine_and_exchange() -> None:
    s = Scenario()
    order = s.place()
    s.ack(order)
    s.fill(order, deliver=False)  # executed, message lost
    with pytest.raises(ScenarioError, match="engine 0, exchange 1"):
        s.expect_position("1")


def test_scenario_fill_of_unbooked_order_is_a_scenario_error() -> None:
    s = Scenario()
    order = s.place()
    with pytest.raises(ScenarioError, match="does not rest"):
        s.fill(order)


def test_scenario_ack_bad_channel_is_rejected() -> None:
    s = Scenario()
    order = s.place()
    with pytest.raises(ValueError, match="via must be"):
        s.ack(order, via="fax")


def test_scenario_fill_of_orphan_candidate_moves_position_without_anomaly() -> None:
    s = Scenario()
    oid = s.foreign(Side.BUY, "100", "1")
    s.snapshot()
    orphan = s.engine.order(oid)
    s.fill(orphan, "1")
    s.expect(orphan, S.GONE, reason=GoneReason.FILLED)
    assert s.engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 0
    s.expect_position("1")


def test_scenario_advance_to_lands_exactly_and_runs_timers() -> None:
    s = Scenario()
    order = s.place()
    s.ack(order)
    for _ in range(3):
        s.advance(0.1)
    assert s.advance_to(10.0) == 10.0 == s.now
    s.expect(order, S.TRACKED)
    assert s.sent_of(PlaceOrder)[0].cloid == order.cloid
    with pytest.raises(ScenarioError, match="before now"):
        s.advance_to(9.0)


def test_scenario_modify_after_a_partial_fill_rests_the_requested_size() -> None:
    s = Scenario()
    order = s.place(price="100", size="3")
    s.ack(order)
    s.fill(order, "1")
    s.modify(order, "99", "2")
    new = s.modify_ack(order)
    assert s.exchange.book[new].remaining == Decimal(2)
    assert order.remaining == Decimal(2) and order.size == Decimal(3)
    s.fill(order)  # all that rests
    s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="3")
    s.expect_position("3")
