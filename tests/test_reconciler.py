"""The reconciler: matching, latch, modify, drift, crossing, rounding and applying plans.

Prices sit around 100 on a perp with ``sz_decimals`` 2, so the tick is 0.01 and
one tick is one basis point: ``100.03`` is 3 bps from ``100``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from decimal import Decimal

import pytest
from conftest import Session

from lifecycle.config import ReconcilerConfig
from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder
from lifecycle.core.events import OrderCanceled, OrderFilled, OrderModified, OrphanSeen
from lifecycle.core.ids import Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.policy.pricing import AssetRules
from lifecycle.policy.reconciler import (
    SKIP_STALE_BOOK,
    Book,
    Decision,
    Ladder,
    Level,
    Modification,
    Placement,
    Plan,
    Reconciler,
)

D = Decimal
S = OrderState
RULES = AssetRules.perp(2)
BUY, SELL = Side.BUY, Side.SELL

LevelSpec = str | tuple[str, str]


def levels(specs: Sequence[LevelSpec]) -> tuple[Level, ...]:
    out = []
    for spec in specs:
        price, size = (spec, "1") if isinstance(spec, str) else spec
        out.append(Level(price=D(price), size=D(size)))
    return tuple(out)


def ladder(bids: Sequence[LevelSpec] = (), asks: Sequence[LevelSpec] = ()) -> Ladder:
    return Ladder(bids=levels(bids), asks=levels(asks))


def book(at: float, bid: str | None = "99", ask: str | None = "101") -> Book:
    return Book(
        best_bid=None if bid is None else D(bid),
        best_ask=None if ask is None else D(ask),
        at=at,
    )


#: Narrow level tolerances (the seed system's static test values), for the tests of
#: per-level matching: each level's window is then a few ticks wide.
NARROW = (5.0, 15.0, 22.5)


def reconciler(**changes: object) -> Reconciler:
    return Reconciler(ReconcilerConfig(**changes), RULES)  # type: ignore[arg-type]


def plan_for(
    rec: Reconciler,
    session: Session,
    target: Ladder,
    *,
    age: float = 0.0,
    **book_prices: str | None,
) -> Plan:
    now = session.now
    return rec.plan(target, session.engine.registry, book(now - age, **book_prices), now)


def place(side: Side, price: str, size: str = "1", level: int = 0) -> Placement:
    return Placement(side=side, price=D(price), size=D(size), level=level)


def tracked_at(session: Session, *specs: tuple[Side, str] | tuple[Side, str, str]) -> list[Order]:
    """TRACKED orders (side, price[, size]); protection is run out once for all of them."""
    orders = []
    for side, price, *size in specs:
        orders.append(session.resting(side, price, size[0] if size else "1"))
    session.engine.on_timer(session.advance(session.engine.config.orders.protection_s))
    assert all(o.state is S.TRACKED for o in orders)
    return orders


# --- placing and keeping --------------------------------------------------------------


def test_plan_without_orders_places_every_level_best_first(session: Session) -> None:
    plan = plan_for(reconciler(), session, ladder(["100", "99.9"], ["101.5"]))
    assert plan.bids.places == (place(BUY, "100"), place(BUY, "99.9", level=1))
    assert plan.asks.places == (place(SELL, "101.5"),)
    assert plan.bids.decision is Decision.UPDATE
    assert plan.cancels == () and plan.modifies == ()
    assert plan.skipped is None and not plan.cancel_all


def test_plan_orders_at_targets_are_kept_and_nothing_sent(session: Session) -> None:
    bid, ask = tracked_at(session, (BUY, "100"), (SELL, "101.5"))
    plan = plan_for(reconciler(), session, ladder(["100"], ["101.5"]))
    assert plan.bids.kept == (bid,) and plan.asks.kept == (ask,)
    assert plan.places == () and plan.modifies == () and plan.cancels == ()
    assert plan.bids.decision is Decision.KEEP and plan.asks.decision is Decision.KEEP


def test_plan_reads_orders_and_changes_nothing(session: Session) -> None:
    orders = tracked_at(session, (BUY, "100.04"), (BUY, "99"), (SELL, "102"))
    before = [(o.state, o.price, o.size, o.history) for o in orders]
    plan = plan_for(reconciler(), session, ladder(["100", "99.9"], ["101"]))
    assert plan.modifies and plan.cancels and plan.places
    assert [(o.state, o.price, o.size, o.history) for o in orders] == before
    assert session.engine.commands_to_send() == []


# --- matching -------------------------------------------------------------------------


def test_plan_far_order_does_not_claim_near_target(session: Session) -> None:
    # 99.92 is 8 bps from the best target (tolerance 5) and 2 bps from level 1.
    (order,) = tracked_at(session, (BUY, "99.92"))
    plan = plan_for(reconciler(level_tolerance_bps=NARROW), session, ladder(["100", "99.9"]))
    assert plan.bids.places == (place(BUY, "100"),)
    assert plan.bids.kept == (order,)
    assert plan.bids.cancels == () and plan.bids.modifies == ()


def test_plan_best_level_takes_order_first_even_when_next_level_is_nearer(
    session: Session,
) -> None:
    # 99.97 is 3 bps from level 0 and 1 bp from level 1: level 0 is served first.
    (order,) = tracked_at(session, (BUY, "99.97"))
    plan = plan_for(reconciler(), session, ladder(["100", "99.96"]))
    assert plan.bids.kept == (order,)
    assert plan.bids.places == (place(BUY, "99.96", level=1),)


def test_plan_target_takes_nearest_of_several_orders(session: Session) -> None:
    far, near = tracked_at(session, (BUY, "100.04"), (BUY, "100.01"))
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.kept == (near,)
    assert plan.bids.cancels == (far,)


def test_plan_level_two_and_beyond_use_last_tolerance(session: Session) -> None:
    # 99.20 is 20.2 bps from level 2 (tolerance 22.5) and 30 bps from level 1 (15).
    (order,) = tracked_at(session, (BUY, "99.2"))
    plan = plan_for(reconciler(level_tolerance_bps=NARROW), session, ladder(["100", "99.5", "99"]))
    assert plan.bids.modifies == (Modification(order=order, price=D("99"), size=D("1"), level=2),)
    assert plan.bids.places == (place(BUY, "100"), place(BUY, "99.5", level=1))


def test_plan_order_beyond_level_one_tolerance_is_cancelled_and_replaced(
    session: Session,
) -> None:
    (order,) = tracked_at(session, (BUY, "99.7"))  # 20.1 bps from 99.5, tolerance 15
    plan = plan_for(reconciler(level_tolerance_bps=NARROW), session, ladder(["100", "99.5"]))
    assert plan.bids.cancels == (order,)
    assert plan.bids.places == (place(BUY, "100"), place(BUY, "99.5", level=1))


def test_plan_duplicates_at_one_target_keep_one_and_cancel_the_others(
    session: Session,
) -> None:
    first, second, third = tracked_at(session, (BUY, "100"), (BUY, "100"), (BUY, "100"))
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.kept == (first,)
    assert plan.bids.cancels == (second, third)
    assert plan.bids.places == ()


# --- latch, modify, cancel and replace ------------------------------------------------


@pytest.mark.parametrize(
    ("price", "size"), [("100.02", "1.05"), ("100.03", "1.1"), ("99.97", "0.9")]
)
def test_plan_pair_within_latch_band_is_kept(session: Session, price: str, size: str) -> None:
    (order,) = tracked_at(session, (BUY, price, size))
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.kept == (order,)
    assert plan.bids.modifies == () and plan.bids.places == () and plan.bids.cancels == ()


def test_plan_price_beyond_latch_within_max_modify_is_modified(session: Session) -> None:
    (order,) = tracked_at(session, (BUY, "100.04", "1.02"))
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.modifies == (Modification(order=order, price=D("100"), size=D("1"), level=0),)
    assert plan.bids.cancels == () and plan.bids.places == ()


def test_plan_size_only_reduction_is_modify_at_current_price(session: Session) -> None:
    (order,) = tracked_at(session, (BUY, "100.01", "2"))
    plan = plan_for(reconciler(), session, ladder([("100", "1")]))
    assert plan.bids.modifies == (
        Modification(order=order, price=D("100.01"), size=D("1"), level=0),
    )


def test_plan_size_uses_remaining_after_partial_fill(session: Session) -> None:
    (order,) = tracked_at(session, (BUY, "100", "2"))
    fill = OrderFilled(
        cloid=order.cloid, oid=order.oid, tid=Tid(1), side=BUY, price=D("100"), size=D("1")
    )
    session.engine.handle(fill, session.now)
    plan = plan_for(reconciler(), session, ladder([("100", "1")]))
    assert plan.bids.kept == (order,)


def test_plan_pair_beyond_max_modify_is_cancelled_and_replaced(session: Session) -> None:
    # A tolerance wider than max_modify_bps lets a 60 bps pair match.
    rec = reconciler(level_tolerance_bps=(80.0,))
    (order,) = tracked_at(session, (BUY, "99.4"))
    plan = plan_for(rec, session, ladder(["100"]))
    assert plan.bids.cancels == (order,)
    assert plan.bids.places == (place(BUY, "100"),)
    assert plan.bids.modifies == ()
    assert not plan.cancel_all


def test_plan_pair_at_max_modify_is_modified(session: Session) -> None:
    rec = reconciler(level_tolerance_bps=(80.0,))
    (order,) = tracked_at(session, (BUY, "99.5"))
    plan = plan_for(rec, session, ladder(["100"]))
    assert [m.order for m in plan.bids.modifies] == [order]


def test_plan_finalized_protected_order_may_be_modified(session: Session) -> None:
    order = session.resting(BUY, "100.04")
    assert order.state is S.FINALIZED_PROTECTED
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert [m.order for m in plan.bids.modifies] == [order]


# --- states ---------------------------------------------------------------------------


def test_plan_expected_order_occupies_its_level(session: Session) -> None:
    order = session.sent(BUY, "100")
    assert order.state is S.EXPECTED
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.places == ()
    assert plan.bids.kept == (order,)
    assert plan.bids.working == 1


def test_plan_pending_order_occupies_its_level(session: Session) -> None:
    order = session.engine.place(BUY, D("100"), D("1"), session.now)
    assert order.state is S.PENDING
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.places == ()
    assert plan.bids.kept == (order,)


def test_plan_expected_order_beyond_latch_is_held_not_modified(session: Session) -> None:
    order = session.sent(BUY, "100.04")
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.kept == (order,)
    assert plan.bids.modifies == () and plan.bids.cancels == () and plan.bids.places == ()


def test_plan_unmatched_expected_order_is_cancelled_by_cloid(session: Session) -> None:
    order = session.sent(BUY, "99.5")
    rec = reconciler()
    plan = plan_for(rec, session, ladder(["100"]))
    assert plan.bids.cancels == (order,)
    rec.apply(plan, session.engine, session.now)
    assert order.state is S.CANCELLING
    commands = session.engine.commands_to_send()
    assert commands[0] == CancelOrder(cloid=order.cloid, oid=None)


def test_plan_unmatched_pending_order_is_abandoned(session: Session) -> None:
    order = session.engine.place(BUY, D("99.5"), D("1"), session.now)
    rec = reconciler()
    plan = plan_for(rec, session, ladder(["100"]))
    assert plan.bids.cancels == (order,)
    (new,) = rec.apply(plan, session.engine, session.now)
    assert order.state is S.GONE and order.reason is GoneReason.NEVER_PLACED
    assert session.engine.commands_to_send() == [
        PlaceOrder(cloid=new.cloid, side=BUY, price=D("100"), size=D("1"))
    ]


def test_plan_cancelling_order_is_ignored(session: Session) -> None:
    near, far = tracked_at(session, (BUY, "100"), (BUY, "90"))
    session.engine.cancel(near, session.now)
    session.engine.cancel(far, session.now)
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.bids.places == (place(BUY, "100"),)
    assert plan.cancels == ()
    assert plan.bids.working == 0
    assert not plan.cancel_all  # 90 is 1000 bps away but already cancelling


def test_plan_orphans_and_tombstones_are_never_touched(session: Session) -> None:
    engine = session.engine
    engine.handle(OrphanSeen(oid=Oid(9001), side=BUY, price=D("90"), size=D("1")), session.now)
    engine.handle(OrphanSeen(oid=Oid(9002), side=SELL, price=D("110"), size=D("1")), session.now)
    engine.on_timer(session.advance(engine.config.orders.orphan_grace_s))
    (gone,) = tracked_at(session, (BUY, "50"))
    canceled = OrderCanceled(cloid=gone.cloid, oid=gone.oid, exchange_initiated=True)
    engine.handle(canceled, session.now)
    states = sorted(o.state.value for o in engine.registry)
    assert states == ["aged_orphan", "aged_orphan", "gone"]
    engine.handle(OrphanSeen(oid=Oid(9003), side=BUY, price=D("80"), size=D("1")), session.now)

    plan = plan_for(reconciler(), session, ladder(["100"], ["101"]))
    assert plan.cancels == () and plan.modifies == ()
    assert not plan.cancel_all
    assert plan.places == (place(BUY, "100"), place(SELL, "101"))
    assert plan.bids.working == 0 and plan.asks.working == 0
    cleared = plan_for(reconciler(), session, ladder())
    assert cleared.cancels == ()


def test_plan_modifying_order_is_matched_at_the_price_it_asked_for(session: Session) -> None:
    rec = reconciler()
    (order,) = tracked_at(session, (BUY, "99.96"))
    first = plan_for(rec, session, ladder(["100"]))
    assert [m.price for m in first.bids.modifies] == [D("100")]
    rec.apply(first, session.engine, session.now)
    assert order.state is S.MODIFYING
    session.engine.commands_to_send()

    session.advance(1.0)
    # The target moved up: the old price (7 bps away) would be unmatched; the
    # asked price (3 bps away) is kept while the modify is in flight.
    plan = plan_for(rec, session, ladder(["100.03"]))
    assert plan.bids.kept == (order,)
    assert plan.bids.cancels == () and plan.bids.places == () and plan.bids.modifies == ()


def test_plan_modifying_order_unmatched_is_cancelled(session: Session) -> None:
    rec = reconciler()
    (order,) = tracked_at(session, (BUY, "99.96"))
    rec.apply(plan_for(rec, session, ladder(["100"])), session.engine, session.now)
    session.engine.commands_to_send()
    session.advance(1.0)
    plan = plan_for(rec, session, ladder(["100.5"]))  # 50 bps: its level is gone
    assert plan.bids.cancels == (order,)
    assert plan.bids.places == (place(BUY, "100.5"),)
    rec.apply(plan, session.engine, session.now)
    assert order.state is S.CANCELLING


def test_plan_modify_answered_order_matches_at_its_new_price(session: Session) -> None:
    rec = reconciler()
    (order,) = tracked_at(session, (BUY, "99.96"))
    rec.apply(plan_for(rec, session, ladder(["100"])), session.engine, session.now)
    session.engine.commands_to_send()
    modified = OrderModified(
        cloid=order.cloid, oid=Oid(7777), old_oid=order.oid, price=D("100"), size=D("1")
    )
    session.engine.handle(modified, session.advance(0.1))
    assert order.state is S.FINALIZED_PROTECTED and order.price == D("100")
    session.advance(1.0)
    plan = plan_for(rec, session, ladder(["100"]))
    assert plan.bids.kept == (order,)


# --- drift ----------------------------------------------------------------------------


def test_plan_drift_beyond_limit_cancels_all_and_replaces_ladder(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    near, drifted, ask = tracked_at(session, (BUY, "100"), (BUY, "98.5"), (SELL, "101"))
    rec = reconciler()
    plan = plan_for(rec, session, ladder(["100", "99.9"], ["101"]))
    assert plan.cancel_all
    assert plan.bids.cancels == (near, drifted) and plan.asks.cancels == (ask,)
    assert plan.bids.places == (place(BUY, "100"), place(BUY, "99.9", level=1))
    assert plan.asks.places == (place(SELL, "101"),)
    assert plan.bids.decision is Decision.REPLACE_ALL
    assert plan.bids.max_drift_bps == pytest.approx(140.14, abs=0.01)

    with caplog.at_level(logging.INFO, logger="lifecycle.reconciler"):
        placed = rec.apply(plan, session.engine, session.now)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "large drift forcing a full replace" in warnings[0].getMessage()
    assert warnings[0].__dict__["drift_bps"] == pytest.approx(140.14, abs=0.01)
    assert all(o.state is S.CANCELLING for o in (near, drifted, ask))
    commands = session.engine.commands_to_send()
    assert [type(c) for c in commands] == [CancelOrder] * 3 + [PlaceOrder] * 3
    assert [o.state for o in placed] == [S.EXPECTED] * 3
    assert rec.counters()["cancel_alls"] == 1


def test_plan_drift_exactly_at_limit_does_not_cancel_all(session: Session) -> None:
    near, at_limit = tracked_at(session, (BUY, "100"), (BUY, "99"))  # 100 bps from 100
    plan = plan_for(reconciler(), session, ladder(["100"], ["101"]))
    assert not plan.cancel_all
    assert plan.bids.kept == (near,)
    assert plan.bids.cancels == (at_limit,)
    assert plan.bids.max_drift_bps == pytest.approx(100.0)


def test_plan_drift_on_ask_side_cancels_bids_too(session: Session) -> None:
    bid, ask = tracked_at(session, (BUY, "100"), (SELL, "103"))  # ask 198 bps off
    plan = plan_for(reconciler(), session, ladder(["100"], ["101"]))
    assert plan.cancel_all
    assert plan.cancels == (bid, ask)


def test_plan_side_without_targets_contributes_no_drift(session: Session) -> None:
    far_bid, ask = tracked_at(session, (BUY, "50"), (SELL, "101"))
    plan = plan_for(reconciler(), session, ladder([], ["101"]))
    assert not plan.cancel_all
    assert plan.bids.cancels == (far_bid,)
    assert plan.asks.kept == (ask,)
    assert plan.bids.max_drift_bps is None


def test_plan_drift_counts_expected_orders(session: Session) -> None:
    (bid,) = tracked_at(session, (BUY, "100"))
    far = session.sent(BUY, "95")
    plan = plan_for(reconciler(), session, ladder(["100"]))
    assert plan.cancel_all
    assert plan.bids.cancels == (bid, far)


# --- empty ladder ---------------------------------------------------------------------


def test_plan_empty_ladder_cancels_every_order_of_ours(session: Session) -> None:
    bid, ask = tracked_at(session, (BUY, "100"), (SELL, "101"))
    cancelling = tracked_at(session, (BUY, "99"))[0]
    session.engine.cancel(cancelling, session.now)
    expected = session.sent(SELL, "102")
    pending = session.engine.place(BUY, D("98"), D("1"), session.now)
    rec = reconciler()
    plan = plan_for(rec, session, ladder())
    assert plan.bids.cancels == (bid, pending)
    assert plan.asks.cancels == (ask, expected)
    assert plan.bids.decision is Decision.CLEAR
    assert plan.places == () and not plan.cancel_all

    rec.apply(plan, session.engine, session.now)
    assert [o.state for o in (bid, ask, expected)] == [S.CANCELLING] * 3
    assert pending.state is S.GONE
    assert rec.counters()["clears"] == 1


def test_plan_empty_ladder_cancels_even_on_stale_book(session: Session) -> None:
    (bid,) = tracked_at(session, (BUY, "100"))
    plan = plan_for(reconciler(), session, ladder(), age=60.0)
    assert plan.skipped is None
    assert plan.bids.cancels == (bid,)


# --- crossing and staleness -----------------------------------------------------------

CROSSING_BIDS = ["100.05", "100.03", "100.02", "100.01", "100"]


@pytest.mark.parametrize(
    ("age", "kept"),
    [
        (0.0, ["100.02", "100.01", "100"]),  # margin 2 ticks: bids >= 100.03 cross
        (2.0, ["100.02", "100.01", "100"]),  # at the grace period: no extra tick
        (2.5, ["100.01", "100"]),  # a started second beyond grace: 3 ticks
        (3.0, ["100.01", "100"]),
        (3.2, ["100"]),  # 4 ticks
    ],
)
def test_plan_crossing_bids_dropped_one_by_one_with_book_age(
    session: Session, age: float, kept: list[str]
) -> None:
    plan = plan_for(reconciler(), session, ladder(CROSSING_BIDS), age=age, ask="100.05")
    assert [p.price for p in plan.bids.places] == [D(p) for p in kept]
    assert [p.level for p in plan.bids.places] == list(range(len(kept)))
    dropped = CROSSING_BIDS[: len(CROSSING_BIDS) - len(kept)]
    assert [lv.price for lv in plan.bids.dropped_crossing] == [D(p) for p in dropped]


def test_plan_rounds_again_whenever_the_book_or_its_age_changes(session: Session) -> None:
    # One reconciler, one ladder, cycle after cycle: a side's rounded targets are
    # reused only while the ladder, the book and the margin are unchanged.
    rec = reconciler()
    target = ladder(CROSSING_BIDS)
    cycles = [("100.05", 0.0), ("100.05", 0.0), ("100.10", 0.0), ("100.05", 3.2), ("100.05", 0.0)]
    kept = []
    for ask, age in cycles:
        plan = plan_for(rec, session, target, age=age, ask=ask)
        kept.append([str(p.price) for p in plan.bids.places])
    assert kept == [
        ["100.02", "100.01", "100"],
        ["100.02", "100.01", "100"],  # same inputs: same targets
        ["100.05", "100.03", "100.02", "100.01", "100"],  # the ask moved away: none crosses
        ["100"],  # an old book: 4 ticks of margin
        ["100.02", "100.01", "100"],
    ]


def test_plan_crossing_asks_dropped_against_best_bid(session: Session) -> None:
    # Margin 2 ticks of 0.01 above the best bid: asks <= 100.02 cross.
    target = ladder([], ["100", "100.02", "100.03", "100.1"])
    plan = plan_for(reconciler(), session, target, bid="100")
    assert [p.price for p in plan.asks.places] == [D("100.03"), D("100.1")]
    assert [lv.price for lv in plan.asks.dropped_crossing] == [D("100"), D("100.02")]


def test_plan_crossing_margin_zero_drops_only_levels_at_or_through_the_touch(
    session: Session,
) -> None:
    rec = reconciler(cross_margin_ticks=0)
    plan = plan_for(rec, session, ladder(["100.05", "100.04"]), ask="100.05")
    assert [p.price for p in plan.bids.places] == [D("100.04")]


def test_plan_missing_book_side_skips_crossing_check(session: Session) -> None:
    plan = plan_for(reconciler(), session, ladder(["101.5"]), ask=None)
    assert plan.bids.places == (place(BUY, "101.5"),)


def test_plan_every_level_dropped_cancels_what_rests(session: Session) -> None:
    # The target wants nothing resting (every level crosses): not a skip.
    (order,) = tracked_at(session, (BUY, "100"))
    rec = reconciler()
    plan = plan_for(rec, session, ladder(["100.05"], ["99.9"]), bid="100", ask="100.05")
    assert plan.skipped is None
    assert plan.cancels == (order,) and plan.places == ()
    assert plan.bids.targets == 0 and plan.bids.decision is Decision.UPDATE
    assert plan.asks.decision is Decision.KEEP
    rec.apply(plan, session.engine, session.now)
    assert order.state is S.CANCELLING
    counters = rec.counters()
    assert counters["cancels"] == 1 and counters["levels_dropped_crossing"] == 2


def test_plan_stale_book_skips_cycle_and_apply_sends_nothing(session: Session) -> None:
    (order,) = tracked_at(session, (BUY, "95"))
    rec = reconciler()
    plan = plan_for(rec, session, ladder(["100"]), age=5.1)
    assert plan.skipped == SKIP_STALE_BOOK
    assert plan.places == () and plan.cancels == () and plan.modifies == ()
    assert plan.bids.decision is Decision.SKIP
    assert rec.apply(plan, session.engine, session.now) == []
    assert order.state is S.TRACKED
    assert session.engine.commands_to_send() == []
    counters = rec.counters()
    assert counters["cycles"] == 1 and counters["cycles_skipped_stale_book"] == 1


def test_plan_book_exactly_stale_limit_old_skips_cycle(session: Session) -> None:
    plan = plan_for(reconciler(), session, ladder(["99"]), age=5.0)
    assert plan.skipped == SKIP_STALE_BOOK
    assert plan.bids.places == ()


def test_plan_book_just_younger_than_stale_limit_is_used(session: Session) -> None:
    plan = plan_for(reconciler(), session, ladder(["99"]), age=4.999)
    assert plan.skipped is None
    assert plan.bids.places == (place(BUY, "99"),)


# --- rounding and notional ------------------------------------------------------------


def test_plan_rounds_bids_down_asks_up_and_truncates_sizes(session: Session) -> None:
    plan = plan_for(
        reconciler(), session, ladder([("100.009", "1.239")], [("101.001", "0.999")])
    )
    assert plan.bids.places == (place(BUY, "100", "1.23"),)
    assert plan.asks.places == (place(SELL, "101.01", "0.99"),)


def test_plan_matches_orders_against_rounded_targets(session: Session) -> None:
    (order,) = tracked_at(session, (BUY, "100"))
    plan = plan_for(reconciler(), session, ladder([("100.0099", "1.0049")]))
    assert plan.bids.kept == (order,)
    assert plan.bids.modifies == ()


@pytest.mark.parametrize(
    ("size", "placed"), [("0.1", True), ("0.1099", True), ("0.0999", False), ("0.05", False)]
)
def test_plan_level_under_min_notional_is_skipped(
    session: Session, size: str, placed: bool
) -> None:
    rec = reconciler()
    plan = plan_for(rec, session, ladder([("100", size)], ["101"]))
    assert bool(plan.bids.places) is placed
    assert len(plan.bids.skipped_min_notional) == (0 if placed else 1)
    rec.apply(plan, session.engine, session.now)
    assert rec.counters()["levels_skipped_min_notional"] == (0 if placed else 1)


# --- modify latch ---------------------------------------------------------------------


def test_plan_modify_within_interval_is_latched_not_replaced(session: Session) -> None:
    rec = reconciler()
    bid, ask = tracked_at(session, (BUY, "99.96"), (SELL, "101.04"))
    first = plan_for(rec, session, ladder(["100"], ["101.04"]))
    assert [m.order for m in first.modifies] == [bid]
    rec.apply(first, session.engine, session.now)
    assert rec.last_modify_at == session.now
    session.engine.commands_to_send()

    session.advance(0.375)  # binary fractions keep the clock exact
    second = plan_for(rec, session, ladder(["100"], ["101"]))
    assert second.modifies == () and second.cancels == () and second.places == ()
    assert second.asks.latched == (
        Modification(order=ask, price=D("101"), size=D("1"), level=0),
    )
    assert second.asks.decision is Decision.KEEP
    rec.apply(second, session.engine, session.now)
    assert ask.state is S.TRACKED and ask.price == D("101.04")
    assert session.engine.commands_to_send() == []
    assert rec.counters()["modifies_latched"] == 1

    session.advance(0.125)  # 500 ms after the first batch
    third = plan_for(rec, session, ladder(["100"], ["101"]))
    assert [m.order for m in third.modifies] == [ask]
    rec.apply(third, session.engine, session.now)
    assert ask.state is S.MODIFYING
    assert rec.counters()["modify_batches"] == 2


def test_plan_cycle_without_modifies_does_not_restart_latch_interval(session: Session) -> None:
    rec = reconciler()
    tracked_at(session, (BUY, "99.96"))
    rec.apply(plan_for(rec, session, ladder(["100"])), session.engine, session.now)
    assert rec.last_modify_at == session.now
    started = rec.last_modify_at
    session.advance(0.3)
    rec.apply(plan_for(rec, session, ladder(["100"], ["101"])), session.engine, session.now)
    assert rec.last_modify_at == started


# --- apply ----------------------------------------------------------------------------


def test_apply_sends_cancels_then_modifies_then_places_through_engine(session: Session) -> None:
    rec = reconciler(level_tolerance_bps=NARROW)  # 99.5 is 40 bps from 99.9: unmatched
    to_modify, to_cancel = tracked_at(session, (BUY, "100.04"), (BUY, "99.5"))
    plan = plan_for(rec, session, ladder(["100", "99.9"]))
    placed = rec.apply(plan, session.engine, session.now)

    assert to_modify.state is S.MODIFYING
    assert to_cancel.state is S.CANCELLING
    assert [(o.state, o.side, o.price, o.size) for o in placed] == [
        (S.PENDING, BUY, D("99.9"), D("1"))
    ]
    assert session.engine.commands_to_send() == [
        CancelOrder(cloid=to_cancel.cloid, oid=to_cancel.oid),
        ModifyOrder(cloid=to_modify.cloid, oid=to_modify.oid, price=D("100"), size=D("1")),
        PlaceOrder(cloid=placed[0].cloid, side=BUY, price=D("99.9"), size=D("1")),
    ]
    assert placed[0].state is S.EXPECTED
    counters = rec.counters()
    assert (counters["cancels"], counters["modifies"], counters["places"]) == (1, 1, 1)
    assert counters["cycles"] == 1


def test_apply_skips_order_whose_state_changed_since_plan(session: Session) -> None:
    rec = reconciler()
    (order,) = tracked_at(session, (BUY, "99.5"))
    plan = plan_for(rec, session, ladder(["100"]))
    assert plan.bids.cancels == (order,)
    session.engine.handle(
        OrderCanceled(cloid=order.cloid, oid=order.oid, exchange_initiated=True), session.now
    )
    placed = rec.apply(plan, session.engine, session.now)
    assert order.state is S.GONE
    assert len(placed) == 1
    assert rec.counters()["requests_skipped_state_changed"] == 1


def test_apply_logs_one_info_line_per_side_with_structured_fields(
    session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    tracked_at(session, (BUY, "100.02"))
    rec = reconciler()
    plan = plan_for(rec, session, ladder(["100", "99.9"], ["101"]))
    with caplog.at_level(logging.INFO, logger="lifecycle.reconciler"):
        rec.apply(plan, session.engine, session.now)
    lines = [r for r in caplog.records if r.name == "lifecycle.reconciler"]
    assert [r.levelno for r in lines] == [logging.INFO, logging.INFO]
    fields = [
        (r.side, r.working, r.targets, r.max_drift_bps, r.decision)  # type: ignore[attr-defined]
        for r in lines
    ]
    assert fields == [
        ("buy", 1, 2, pytest.approx(2.0), "update"),
        ("sell", 0, 1, None, "update"),
    ]


def test_counters_start_at_zero_with_every_key() -> None:
    counters = reconciler().counters()
    assert set(counters) >= {
        "cycles",
        "cycles_skipped_stale_book",
        "places",
        "modifies",
        "cancels",
        "cancel_alls",
        "modifies_latched",
        "levels_dropped_crossing",
        "levels_skipped_min_notional",
    }
    assert set(counters.values()) == {0}


# --- input checks ---------------------------------------------------------------------


def test_plan_bids_not_best_first_raise_naming_field(session: Session) -> None:
    with pytest.raises(ValueError, match=r"ladder\.bids\[1\]\.price 100\.5"):
        plan_for(reconciler(), session, ladder(["100", "100.5"]))


def test_plan_asks_not_best_first_raise_naming_field(session: Session) -> None:
    with pytest.raises(ValueError, match=r"ladder\.asks\[1\]"):
        plan_for(reconciler(), session, ladder([], ["101", "100.9"]))


@pytest.mark.parametrize("price", ["0", "-1", "NaN", "Infinity"])
def test_level_non_positive_price_raises_naming_field(price: str) -> None:
    with pytest.raises(ValueError, match=r"Level\.price must be a finite Decimal > 0"):
        Level(price=D(price), size=D(1))


@pytest.mark.parametrize("size", ["0", "-1", "NaN"])
def test_level_non_positive_size_raises_naming_field(size: str) -> None:
    with pytest.raises(ValueError, match=r"Level\.size must be a finite Decimal > 0"):
        Level(price=D(100), size=D(size))


def test_level_price_not_a_decimal_raises_naming_field() -> None:
    with pytest.raises(ValueError, match=r"Level\.price"):
        Level(price=100.0, size=D(1))  # type: ignore[arg-type]


def test_plan_bid_rounding_to_zero_raises_naming_level(session: Session) -> None:
    with pytest.raises(ValueError, match=r"ladder\.bids\[0\]\.price: .*rounds down to 0"):
        plan_for(reconciler(), session, ladder(["0.0000001"]))


def test_plan_non_positive_book_price_raises_naming_field(session: Session) -> None:
    with pytest.raises(ValueError, match=r"book\.best_ask"):
        plan_for(reconciler(), session, ladder(["100"]), ask="0")
