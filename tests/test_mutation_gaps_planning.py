"""Reconciler planning and applying behaviour that mutation testing found unpinned.

Covers what the other reconciler tests left open: a ladder side handed over as
a list (not the tuple the type names), a plan skipped for a reason of its
caller's, the log lines of a skipped cycle, and which side the cancel-all
warning names when the drift that forced it is below one basis point.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, cast

import pytest

from lifecycle.config import LifecycleConfig, ReconcilerConfig
from lifecycle.core.events import OrderAccepted
from lifecycle.core.ids import CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine
from lifecycle.policy.pricing import AssetRules
from lifecycle.policy.reconciler import (
    Book,
    Decision,
    Ladder,
    Level,
    Plan,
    Reconciler,
    SidePlan,
)

D = Decimal
S = OrderState


def engine(config: LifecycleConfig | None = None) -> Engine:
    return Engine(config, cloids=CloidFactory("test", run_id=1), verify=True)


def tracked(live: Engine, side: Side, price: str) -> Order:
    order = live.place(side, D(price), D(1), 0.0)
    live.commands_to_send()
    live.handle(OrderAccepted(cloid=order.cloid, oid=Oid(10)), 0.0)
    live.on_timer(live.config.orders.protection_s)
    assert order.state is S.TRACKED
    return order


# --- targets ------------------------------------------------------------------------------------


# A ladder side given as a list changed in place between cycles is rounded again,
# never answered from the targets of the list's earlier contents.
def test_a_ladder_side_given_as_a_list_is_read_afresh_each_cycle() -> None:
    reconciler = Reconciler(ReconcilerConfig(), AssetRules.perp(2))
    book = Book(best_bid=D(99), best_ask=D(101), at=0.0)
    levels = [Level(price=D(99), size=D(1))]
    first = reconciler.plan(Ladder(bids=cast(Any, levels)), [], book, 0.0)
    assert [p.price for p in first.bids.places] == [D(99)]
    levels[0] = Level(price=D(98), size=D(1))
    second = reconciler.plan(Ladder(bids=cast(Any, levels)), [], book, 0.0)
    assert [p.price for p in second.bids.places] == [D(98)]


# --- applying a plan ----------------------------------------------------------------------------


# A plan skipped for a reason the reconciler does not produce itself is still
# counted, once per cycle, under its own `cycles_skipped_<reason>` key, and sends nothing.
def test_a_plan_skipped_for_another_reason_is_counted_under_its_own_key() -> None:
    reconciler = Reconciler(ReconcilerConfig(), AssetRules.perp(2))
    live = engine()
    plan = Plan(
        bids=SidePlan(side=Side.BUY, decision=Decision.SKIP),
        asks=SidePlan(side=Side.SELL, decision=Decision.SKIP),
        skipped="paused",
    )
    assert reconciler.apply(plan, live, 0.0) == []
    assert reconciler.apply(plan, live, 1.0) == []
    counters = reconciler.counters()
    assert counters["cycles_skipped_paused"] == 2
    assert counters["cycles"] == 2 and counters["cycles_skipped_stale_book"] == 0
    assert live.commands_to_send() == []


# A skipped cycle logs its one line per side too, naming the decision and the reason.
def test_a_skipped_cycle_logs_one_line_per_side(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="lifecycle.reconciler")
    live = engine()
    plan = live.set_targets(Ladder(bids=(Level(price=D(99), size=D(1)),)),
                            Book(best_bid=D(99), best_ask=D(101), at=0.0), 60.0)
    assert plan.skipped == "stale_book"
    records = [r for r in caplog.records if r.name == "lifecycle.reconciler"]
    assert [(r.__dict__["side"], r.__dict__["decision"], r.__dict__["skipped"])
            for r in records] == [("buy", "skip", "stale_book"), ("sell", "skip", "stale_book")]


# The cancel-all warning names the side whose drift forced it, also when that drift is
# below one basis point and the other side has no working order (no drift at all).
def test_the_cancel_all_warning_names_the_side_that_drifted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = LifecycleConfig(reconciler=ReconcilerConfig(
        latch_bps=0.1, max_modify_bps=0.25, drift_cancel_all_bps=0.5
    ))
    live = engine(config)
    order = tracked(live, Side.SELL, "10001")
    now = live.now
    caplog.set_level(logging.WARNING, logger="lifecycle.reconciler")
    plan = live.set_targets(Ladder(asks=(Level(price=D(10000), size=D(1)),)),
                            Book(best_bid=D(9990), best_ask=D(10001), at=now), now)
    assert plan.cancel_all and plan.cancels == (order,)
    assert (plan.bids.max_drift_bps, plan.asks.max_drift_bps) == (None, 1.0)
    warnings = [r for r in caplog.records
                if r.name == "lifecycle.reconciler" and r.levelno == logging.WARNING]
    assert [(r.__dict__["side"], r.__dict__["drift_bps"]) for r in warnings] == [("sell", 1.0)]
    assert warnings[0].getMessage().startswith(
        "large drift forcing a full replace: sell orders 1.00 bps from every target"
    )


# A plan hands out each side's plan by the side's name.
def test_a_plan_gives_the_bids_plan_for_buy_and_the_asks_plan_for_sell() -> None:
    plan = Plan(
        bids=SidePlan(side=Side.BUY, decision=Decision.SKIP),
        asks=SidePlan(side=Side.SELL, decision=Decision.SKIP),
    )
    assert plan.side(Side.BUY) is plan.bids and plan.side(Side.SELL) is plan.asks
