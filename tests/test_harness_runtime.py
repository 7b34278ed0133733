"""The runtime harness: a runtime on the virtual clock, refusals scripted by the test."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from lifecycle.adapters.simulated import Owner

from lifecycle.config import LifecycleConfig, SyncConfig
from lifecycle.core.commands import (
    CancelOrder,
    FetchOpenOrders,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import IllegalTransition
from lifecycle.core.ids import Cloid
from lifecycle.core.order import Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.sim.harness import QUIET_MARKET, RuntimeHarness
from lifecycle.testing import ScenarioError

S = OrderState
#: Scheduled syncs far apart, so a test sees only the requests it causes.
RARE_SYNCS = LifecycleConfig(
    sync=SyncConfig(interval_s=1000.0, snapshot_max_age_s=1000.0, missing_min_s=1000.0)
)


def test_harness_places_and_records_what_was_sent_when() -> None:
    with RuntimeHarness(start=100.0) as h:
        assert h.now == 100.0
        order = h.place(Side.BUY)
        assert h.sent_of(PlaceOrder) == []  # sent when the loop runs
        assert h.run_for(1.0) == 101.0
        h.expect(order, S.FINALIZED_PROTECTED)
        ((at, placed),) = h.sent_of(PlaceOrder)
        assert at == 100.0 and placed.cloid == order.cloid
        assert placed.price == h.price(Side.BUY) and placed.price * placed.size >= 20
        answered = [(t, r) for t, r in h.answers if r.command == placed]
        assert len(answered) == 1 and answered[0][0] > at and answered[0][1].definitive
        assert [o.oid for o in h.exchange.truth.resting(Owner.CLIENT)] == [order.oid]
        assert h.stats.requests["place"] == 1


def test_harness_rate_limited_placement_is_sent_again_later() -> None:
    with RuntimeHarness(RARE_SYNCS) as h:
        h.run_for(1.0)
        h.refuse_next("rate_limit", request="order")
        order = h.place()
        h.run_for(0.5)
        h.expect(order, S.EXPECTED)  # refused: nothing happened, nothing ended
        first = h.answers[-1][1]
        assert first.rate_limited and not first.ambiguous and first.error.startswith("429")
        h.run_until(lambda: order.state is S.FINALIZED_PROTECTED, timeout_s=30.0)
        (t1, _), (t2, _) = h.sent_of(PlaceOrder)
        assert t2 > t1 + 0.2  # after the refusal's round trip, and a backoff
        assert h.stats.rate_limited == 1
        assert len(list(h.exchange.truth.resting(Owner.CLIENT))) == 1


def test_harness_address_limit_refusal_uses_the_exchange_words() -> None:
    with RuntimeHarness(RARE_SYNCS) as h:
        h.run_for(1.0)
        h.refuse_next("address_limit", request="order")
        h.place()
        h.run_for(0.5)
        assert h.answers[-1][1].error.startswith("Too many cumulative requests sent")
        assert h.answers[-1][1].rate_limited


def test_harness_reject_ends_the_placement_rejected() -> None:
    with RuntimeHarness() as h:
        h.refuse_next("reject", status="perpMarginRejected")
        order = h.place()
        h.run_for(1.0)
        h.expect(order, S.GONE, reason=GoneReason.REJECTED)
        assert order.status == "perpMarginRejected"
        second = h.place()
        h.run_for(1.0)
        h.expect(second, S.FINALIZED_PROTECTED)


def test_harness_timeout_executed_is_resolved_without_a_second_placement() -> None:
    with RuntimeHarness(RARE_SYNCS) as h:
        h.run_for(1.0)
        h.refuse_next("timeout", request="order", executed=True)
        order = h.place()
        h.run_until(lambda: order.state is S.FINALIZED_PROTECTED, timeout_s=30.0)
        assert not any(isinstance(r.command, PlaceOrder) for _, r in h.answers)  # no answer yet
        h.run_for(h.exchange.profile.request_timeout_s)
        ((sent_at, _),) = h.sent_of(PlaceOrder)  # a placement is never sent twice
        (gave_up_at, lost), = [(t, r) for t, r in h.answers if isinstance(r.command, PlaceOrder)]
        assert lost.ambiguous and gave_up_at == sent_at + h.exchange.profile.request_timeout_s
        assert h.stats.ambiguous == 1
        h.expect(order, S.TRACKED)


def test_harness_timeout_not_executed_ends_never_placed_after_the_ttl() -> None:
    with RuntimeHarness(RARE_SYNCS) as h:
        h.refuse_next("timeout", request="order")
        order = h.place()
        ttl = h.engine.config.orders.expected_ttl_s
        h.run_for(ttl + 5.0)
        h.expect(order, S.GONE, reason=GoneReason.NEVER_PLACED)
        assert h.sent_of(QueryOrderStatus)  # the placement's fate was asked for
        assert order.state_since >= ttl  # only the TTL's query decides, never the lost answer
        assert Trigger.REJECT not in [r.trigger for r in order.history]


def test_harness_refusal_aimed_at_snapshots_spares_placements() -> None:
    with RuntimeHarness() as h:
        h.refuse_next("server_error", 2, request="openOrders")
        order = h.place()
        h.run_for(12.0)
        h.expect(order, S.TRACKED)
        assert h.stats.syncs_failed == 2 and h.stats.syncs >= 1
        failed = [r for _, r in h.answers if isinstance(r.command, FetchOpenOrders) and r.ambiguous]
        assert len(failed) == 2


def test_harness_refusal_of_any_request_takes_the_next_one() -> None:
    with RuntimeHarness(RARE_SYNCS) as h:
        h.run_for(1.0)
        order = h.place()
        h.run_for(1.0)
        h.refuse_next("rate_limit")
        h.cancel(order)
        h.run_until(lambda: order.state is S.GONE, timeout_s=30.0)
        cancels = h.sent_of(CancelOrder)
        assert len(cancels) == 2 and h.stats.rate_limited == 1


def test_harness_refuse_next_checks_its_arguments() -> None:
    with RuntimeHarness() as h:
        with pytest.raises(ValueError, match="kind must be one of"):
            h.refuse_next("teapot")
        with pytest.raises(ValueError, match="request must be one of"):
            h.refuse_next("timeout", request="withdraw")
        with pytest.raises(ValueError, match="count"):
            h.refuse_next("timeout", 0)


def test_harness_cycle_quotes_around_the_touch_and_fill_trades() -> None:
    with RuntimeHarness() as h:
        bid, ask = h.exchange.bbo()
        plan = h.cycle(([(h.price(Side.BUY), "0.001")], [(h.price(Side.SELL), "0.001")]))
        assert plan.skipped is None
        h.run_for(1.0)
        placed = [c for _, c in h.sent_of(PlaceOrder)]
        assert {c.side for c in placed} == {Side.BUY, Side.SELL}
        assert all(c.price < ask for c in placed if c.side is Side.BUY)
        buy = h.engine.order(next(c.cloid for c in placed if c.side is Side.BUY))
        h.fill(buy, "0.001")
        h.run_for(1.0)
        h.expect(buy, S.GONE, reason=GoneReason.FILLED)
        assert h.engine.position == Decimal("0.001")
        assert bid < ask and h.exchange.market == QUIET_MARKET


def test_harness_place_with_a_chosen_cloid_and_explicit_terms() -> None:
    chosen = uuid.UUID(int=42)
    with RuntimeHarness() as h:
        order = h.place(Side.SELL, h.price(Side.SELL, 30), "0.002", cloid=str(chosen))
        h.run_for(1.0)
        assert order.cloid == Cloid(chosen)
        assert h.sent_of(PlaceOrder)[0][1].size == Decimal("0.002")
        h.modify(order, h.price(Side.SELL, 40), "0.002")
        h.run_for(1.0)
        assert order.price == h.price(Side.SELL, 40)


def test_harness_run_until_times_out_with_a_scenario_error() -> None:
    with RuntimeHarness() as h:
        with pytest.raises(ScenarioError, match="not met within 2 s"):
            h.run_until(lambda: False, timeout_s=2.0, step_s=0.5)
        assert h.now == pytest.approx(2.0)
        with pytest.raises(ValueError, match="seconds"):
            h.run_for(-1.0)


def test_harness_request_errors_reach_the_test_and_the_harness_goes_on() -> None:
    with RuntimeHarness() as h:
        order = h.place()
        h.run_for(1.0)
        h.cancel(order)
        h.run_for(1.0)
        with pytest.raises(IllegalTransition):
            h.cancel(order)  # GONE: local misuse raises
        again = h.place()
        h.run_for(1.0)
        h.expect(again, S.FINALIZED_PROTECTED)
        with pytest.raises(ScenarioError, match="no oid yet"):
            h.fill(h.place())


def test_harness_close_cancels_all_on_request_and_refuses_use_after() -> None:
    h = RuntimeHarness()
    order = h.place()
    h.run_for(1.0)
    h.close(cancel_all=True)
    h.close()  # again: nothing
    assert order.state is S.GONE and order.reason is GoneReason.CANCELED
    with pytest.raises(RuntimeError, match="closed"):
        h.run_for(1.0)


def test_harness_context_exit_on_a_failure_stops_at_once() -> None:
    with pytest.raises(KeyError), RuntimeHarness() as h:
        order = h.place()
        h.run_for(1.0)
        raise KeyError("the test failed")
    assert order.state is S.FINALIZED_PROTECTED  # no graceful shutdown cancelled it
    with pytest.raises(RuntimeError, match="closed"):
        h.run_for(1.0)
