"""The public scenario harness, tested through itself."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from seed_helpers import INTERVAL_S, MISSING_MIN_S, syncs_until

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import (
    CancelOrder,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import InvalidCloid
from lifecycle.core.events import OrderAccepted, OrderFilled, StatusOutcome
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.policy.reconciler import SKIP_STALE_BOOK, Book, Ladder, Level
from lifecycle.testing import Scenario, ScenarioError, ScriptedExchange, expect_state

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


# --- chosen ids, immediate fills, any message, reconcile cycles -----------------------------


def test_scenario_place_takes_a_chosen_cloid_in_any_form() -> None:
    s = Scenario()
    chosen = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    forms = [chosen, str(chosen).upper(), chosen.hex, "0X" + chosen.hex.upper()]
    first = s.place(cloid=forms[0])
    assert first.cloid == Cloid(chosen) == "0x123456789abcdef0123456789abcdef0"
    assert s.sent_of(PlaceOrder)[-1].cloid == first.cloid
    for form in forms[1:]:  # every form names the same order
        assert s.engine.order(Cloid(form)) is first
    with pytest.raises(InvalidCloid):
        s.place(cloid="not-a-cloid")


def test_scenario_place_with_whole_fill_ends_filled_without_an_ack() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "2", fill="2")
    s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="2")
    assert [r.trigger for r in order.history] == [Trigger.SUBMIT, Trigger.FILL_COMPLETE]
    assert order.oid is not None and not s.exchange.book
    (fill,) = s.exchange.fills
    assert (fill.cloid, fill.oid, fill.size) == (order.cloid, order.oid, Decimal(2))
    s.expect_position("2")
    # The same trade arriving again (websocket userFills) counts once.
    s.deliver(fill)
    assert s.engine.ledger.duplicates == 1
    s.expect_position("2")


def test_scenario_partial_fill_on_arrival_then_rests() -> None:
    s = Scenario()
    order = s.place(Side.SELL, "101", "3")
    oid = s.ack(order, filled="1", fill_price="101.5", oid=Oid(77))
    assert oid == order.oid == 77
    s.expect(order, S.FINALIZED_PROTECTED, filled="1")
    assert s.exchange.book[oid].remaining == Decimal(2)
    assert s.exchange.fills[-1].price == Decimal("101.5")
    s.expect_position("-1")
    with pytest.raises(ScenarioError, match="needs send=True"):
        s.place(fill="1", send=False)


def test_scenario_fill_with_a_known_tid_redelivers_after_the_order_left_the_book() -> None:
    s = Scenario()
    order = s.place(fill="1")
    tid = s.exchange.fills[0].tid
    assert s.fill(order, tid=tid) == tid
    assert s.engine.ledger.duplicates == 1
    with pytest.raises(ScenarioError, match="does not rest"):
        s.fill(order, tid=Tid(999))


def test_scenario_modify_ack_and_foreign_take_chosen_oids() -> None:
    s = Scenario()
    order = s.place()
    s.ack(order)
    s.modify(order, "99", "1")
    assert s.modify_ack(order, oid=Oid(5000)) == order.oid == 5000
    assert s.exchange.book[Oid(5000)].price == Decimal(99)
    orphan = s.foreign(Side.BUY, "98", "1", oid=Oid(6000), cloid=uuid.UUID(int=7))
    assert orphan == 6000 and s.exchange.book[orphan].cloid == Cloid(uuid.UUID(int=7))
    with pytest.raises(ScenarioError, match="rests on the exchange already"):
        s.foreign(oid=Oid(6000))
    with pytest.raises(ValueError, match="new_oid"):
        s.modify_ack(order, oid=Oid(7000), new_oid=False)
    # Chosen oids are never handed out again.
    exchange = ScriptedExchange("BTC", first_oid=4999)
    exchange.add(Side.BUY, Decimal(1), Decimal(1), oid=Oid(5000))
    assert exchange.new_oid() == 5001


def test_scenario_deliver_a_late_fill_of_a_cancelled_order() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "2")
    s.ack(order)
    s.cancel(order)
    s.cancel_ack(order)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    late = OrderFilled(cloid=order.cloid, oid=order.oid, tid=Tid(500), side=Side.BUY,
                       price=Decimal(100), size=Decimal("0.5"))
    s.deliver(late)  # traded before the cancel took effect; its message came last
    s.expect(order, S.GONE, filled="0.5")
    assert order.history[-1].trigger is Trigger.LATE_FILL
    s.expect_position("0.5")
    assert s.exchange.fills == [late]


def test_scenario_deliver_a_fill_of_an_order_never_booked_here() -> None:
    s = Scenario()
    stranger = OrderFilled(cloid=None, oid=Oid(4242), tid=Tid(9), side=Side.SELL,
                           price=Decimal(100), size=Decimal(1))
    commands = s.deliver(stranger)
    assert s.engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 1
    assert any(isinstance(c, FetchOpenOrders) for c in commands)  # a sync is asked for
    s.expect_position("-1")


def test_scenario_deliver_shrinks_a_resting_order_and_can_forge() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "3")
    oid = s.ack(order)
    s.deliver(OrderFilled(cloid=None, oid=oid, tid=Tid(31), side=Side.BUY,
                          price=Decimal(100), size=Decimal(1)))
    assert s.exchange.book[oid].remaining == Decimal(2)
    s.expect(order, S.FINALIZED_PROTECTED, filled="1")
    forged = OrderFilled(cloid=order.cloid, oid=oid, tid=Tid(32), side=Side.BUY,
                         price=Decimal(100), size=Decimal(1))
    s.deliver(forged, execute=False)
    with pytest.raises(ScenarioError, match="engine 2, exchange 1"):
        s.expect_position("2")
    s.deliver(OrderAccepted(cloid=order.cloid, oid=oid))  # any event, repeated
    s.expect(order, S.FINALIZED_PROTECTED)


def test_scenario_answer_status_by_oid_for_a_row_without_cloid() -> None:
    s = Scenario()
    oid = s.foreign(Side.SELL, "105", "1")  # a row without cloid
    s.snapshot()
    orphan = s.engine.order(oid)
    s.advance(s.engine.config.orders.orphan_grace_s)
    s.snapshot()
    s.expect(orphan, S.CANCELLING)
    assert s.answer_status(oid) is StatusOutcome.OPEN  # still rests: nothing ends
    s.expect(orphan, S.CANCELLING)
    s.advance(s.engine.config.orders.cancel_timeout_s)
    assert s.sent[-1] == QueryOrderStatus(cloid=None, oid=oid)  # asked by oid
    s.vanish(oid)
    assert s.answer_status(oid, StatusOutcome.CANCELED, "canceled") is StatusOutcome.CANCELED
    s.expect(orphan, S.GONE, reason=GoneReason.CANCELED)
    # An oid nobody knows: the exchange's "not found" for it.
    assert s.answer_status(Oid(31337)) is StatusOutcome.NOT_FOUND


def test_scenario_cycle_places_a_ladder_from_pairs_against_a_fresh_book() -> None:
    s = Scenario(start=50.0)
    plan = s.cycle(([("99", "1"), ("98", "1")], [("101", "1")]), ("99.5", "100.5"))
    assert plan.skipped is None
    placed = s.sent_of(PlaceOrder)
    assert [(p.side, p.price) for p in placed] == [
        (Side.BUY, Decimal(99)), (Side.BUY, Decimal(98)), (Side.SELL, Decimal(101)),
    ]
    assert all(s.engine.order(p.cloid).state is S.EXPECTED for p in placed)


def test_scenario_cycle_with_a_stale_book_is_skipped_and_an_empty_ladder_clears() -> None:
    s = Scenario(start=100.0)
    stale = s.cycle(([("99", "1")], []), ("99.5", "100.5"),
                    age=s.engine.config.reconciler.book_stale_s + 1)
    assert stale.skipped == SKIP_STALE_BOOK and not s.sent
    s.cycle(Ladder(bids=(Level(price=Decimal(99), size=Decimal(1)),)))
    (order,) = [s.engine.order(p.cloid) for p in s.sent_of(PlaceOrder)]
    s.ack(order)
    s.cycle(((), ()), Book(best_bid=None, best_ask=None, at=s.now))
    s.expect(order, S.CANCELLING)


def test_scenario_chosen_ids_are_never_handed_out_and_never_double_booked() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "2")
    s.deliver(OrderFilled(cloid=order.cloid, oid=None, tid=Tid(3), side=Side.BUY,
                          price=Decimal(100), size=Decimal(1)))  # a fill before the ack
    s.ack(order)
    s.expect(order, S.FINALIZED_PROTECTED, filled="1")
    assert s.exchange.book[order.oid].remaining == Decimal(1)  # type: ignore[index]
    assert s.fill(order) == Tid(2)
    s.expect_position("2")
    s.place(fill="1")
    assert [f.tid for f in s.exchange.fills] == [3, 2, 4]  # the chosen 3 is skipped
    with pytest.raises(ScenarioError, match="rests on the exchange already"):
        s.rest(s.place(), oid=s.foreign())


def test_expect_state_is_public_and_checks_any_order() -> None:
    s = Scenario()
    order = s.place()
    expect_state(order, S.EXPECTED)
    with pytest.raises(ScenarioError, match="reason None, expected filled"):
        expect_state(order, S.EXPECTED, reason=GoneReason.FILLED)
