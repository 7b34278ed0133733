"""Lifecycle behaviours found missing by acceptance scenarios, one named test each.

Written through the public harness (:mod:`lifecycle.testing`), as an embedder's
own tests would be.
"""

from __future__ import annotations

from lifecycle import (
    AnomalyKind,
    GoneReason,
    Order,
    OrderAccepted,
    OrderRejected,
    OrderState,
    QueryOrderStatus,
    Side,
    StatusOutcome,
)
from lifecycle.testing import Scenario

S = OrderState


def never_placed(s: Scenario) -> Order:
    """An order that rests on the book, declared never placed by the TTL's query."""
    order = s.place(Side.BUY, "100", "2")
    s.rest(order)  # on the book; its answer is still on the way
    s.advance(s.engine.config.orders.expected_ttl_s)
    assert s.sent_of(QueryOrderStatus)[-1].cloid == order.cloid
    s.answer_status(order, StatusOutcome.NOT_FOUND, "unknownOid")  # a spurious answer
    s.expect(order, S.GONE, reason=GoneReason.NEVER_PLACED)
    return order


def test_placement_answer_after_never_placed_tracks_the_order_again() -> None:
    s = Scenario()
    order = never_placed(s)
    s.ack(order)  # the REST answer arrives after all
    s.expect(order, S.FINALIZED_PROTECTED)
    assert order.reason is None
    assert s.engine.anomalies.counts[AnomalyKind.LATE_PLACEMENT] == 1
    # It is ours and rests: snapshots acknowledge it, it never becomes an orphan,
    # and it outlives the tombstone's eviction.
    s.advance(s.engine.config.orders.tombstone_s + s.engine.config.orders.protection_s)
    s.snapshot()
    s.advance(s.engine.config.orders.orphan_grace_s)
    s.snapshot()
    s.expect(order, S.TRACKED)
    assert s.engine.counters()["orders_orphan_candidate"] == 0
    assert s.engine.counters()["orders_aged_orphan"] == 0
    s.fill(order, "2")
    s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="2")
    s.expect_position("2")


def test_fill_after_never_placed_tracks_the_order_again_with_its_fill() -> None:
    s = Scenario()
    order = never_placed(s)
    s.fill(order, "0.5")  # the fill proves it rests, before any answer
    s.expect(order, S.FINALIZED_PROTECTED, filled="0.5")
    assert s.engine.anomalies.counts[AnomalyKind.LATE_PLACEMENT] == 1
    s.ack(order)  # the answer too, later: repeated, absorbed
    s.expect(order, S.FINALIZED_PROTECTED, filled="0.5")
    s.expect_position("0.5")


def test_answer_for_a_canceled_tombstone_is_still_absorbed() -> None:
    # Only a never-placed tombstone is tracked again: a cancelled order stays ended.
    s = Scenario()
    order = s.place(Side.BUY, "100", "1")
    s.ack(order)
    s.cancel(order)
    s.cancel_ack(order)
    s.deliver(OrderAccepted(cloid=order.cloid, oid=order.oid))  # a repeated answer
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    assert s.engine.anomalies.counts[AnomalyKind.LATE_PLACEMENT] == 0


def tracked(s: Scenario) -> Order:
    order = s.place(Side.SELL, "101", "1")
    s.ack(order)
    s.advance(s.engine.config.orders.protection_s)
    s.expect(order, S.TRACKED)
    return order


def test_rejection_of_an_accepted_order_ends_it_rejected() -> None:
    s = Scenario()
    order = tracked(s)
    s.vanish(order)
    s.deliver(OrderRejected(cloid=order.cloid, oid=order.oid,
                            status="positionIncreaseAtOpenInterestCapRejected"))
    s.expect(order, S.GONE, reason=GoneReason.REJECTED)
    assert s.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 0
    assert not s.sent_of(QueryOrderStatus)


def test_post_only_reject_after_a_cancel_by_cloid_ends_it_rejected() -> None:
    s = Scenario()
    order = s.place(Side.BUY, "100", "1")
    s.cancel(order)  # by cloid, before any answer
    s.expect(order, S.CANCELLING)
    s.deliver(OrderRejected(cloid=order.cloid, status="badAloPxRejected"))
    s.expect(order, S.GONE, reason=GoneReason.REJECTED)
    assert s.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 0


def test_rejected_status_answer_ends_a_tracked_order_without_a_query_loop() -> None:
    s = Scenario()
    order = tracked(s)
    s.vanish(order)
    s.answer_status(order, StatusOutcome.REJECTED, "perpMarginRejected")
    s.expect(order, S.GONE, reason=GoneReason.REJECTED)
    s.advance(60)
    assert not s.sent_of(QueryOrderStatus)
    assert s.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 0


def test_rejection_while_modifying_ends_it_and_a_repeat_is_absorbed() -> None:
    s = Scenario()
    order = tracked(s)
    s.modify(order, "102", "1")
    s.vanish(order)
    rejected = OrderRejected(cloid=order.cloid, oid=order.oid, status="perpMarginRejected")
    s.deliver(rejected)
    s.expect(order, S.GONE, reason=GoneReason.REJECTED)
    s.deliver(rejected)
    s.expect(order, S.GONE, reason=GoneReason.REJECTED)
    assert s.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 0
