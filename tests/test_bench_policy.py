"""The reconciler and safety-sync benchmark still measures what it claims, at toy sizes.

No timing is looked at. Each measurement checks its own outcome (the plan is
all keeps, or one modify per order; the sync changed nothing) and raises
``BenchError`` otherwise: these tests run the measurements small and show
that those checks refuse a wrong plan or a wrong sync.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from lifecycle import (
    Book,
    LifecycleConfig,
    Oid,
    OpenOrder,
    OpenOrdersSnapshot,
    OrderModified,
    ReconcilerConfig,
    Side,
    SyncReport,
)

POLICY = Path(__file__).resolve().parent.parent / "bench" / "policy.py"


@pytest.fixture(scope="module")
def policy() -> Iterator[ModuleType]:
    """``bench/policy.py``, loaded as a module (its sibling imports resolved in ``bench/``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(POLICY.parent))
        spec = importlib.util.spec_from_file_location("lifecycle_bench_policy", POLICY)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        yield module


def test_measure_policy_runs_at_toy_sizes(policy: ModuleType) -> None:
    """Every key is measured and named by its size."""
    result = policy.measure_policy(2, depth=3, rows=50, reconcile_calls=2, sync_calls=2)
    assert set(result) == {
        "reconcile_us_2x3_steady",
        "reconcile_us_2x3_modify",
        "sync_ms_50",
    }
    assert all(math.isfinite(v) and v > 0 for v in result.values())


def test_steady_run_times_each_call(policy: ModuleType) -> None:
    """A steady run gives one time per call."""
    state, ladder = policy.steady_state(3)
    times = policy.reconcile_steady_run(state, ladder, 4)
    assert len(times) == 4 and all(math.isfinite(t) and t > 0 for t in times)


def test_medians_are_of_calls_so_one_slow_call_counts_as_one(policy: ModuleType) -> None:
    """The key is the median of every call of every run: a slow call does not drag it."""
    result = policy._medians(2, {"k": lambda: [1.0, 2.0, 1_000.0], "j": lambda: [5.0]})
    assert result == {"k": 2.0, "j": 5.0}
    with pytest.raises(ValueError, match="runs"):
        policy._medians(0, {"k": lambda: [1.0]})


def test_default_sizes_name_the_documented_keys(policy: ModuleType) -> None:
    """The defaults give the keys the benchmark reports."""
    assert (policy.DEPTH, policy.ROWS) == (25, 5_000)


def test_steady_plan_is_all_keeps_and_other_counts_are_refused(policy: ModuleType) -> None:
    """The steady cycle passes as 6 keeps; as anything else it fails."""
    state, ladder = policy.steady_state(3)
    state.now += 1.0
    plan = state.engine.set_targets(ladder, policy.book_at(state.now), state.now)
    policy.check_plan(plan, kept=6)
    with pytest.raises(policy.BenchError, match="expected 6 modifies"):
        policy.check_plan(plan, modifies=6)
    with pytest.raises(policy.BenchError, match="expected 0 modifies and 5 kept"):
        policy.check_plan(plan, kept=5)


def test_check_plan_refuses_a_skipped_cycle(policy: ModuleType) -> None:
    """A stale book skips the cycle: a benchmark timing it would measure nothing."""
    state, ladder = policy.steady_state(3)
    stale = policy.book_at(state.now)
    state.now += 60.0
    plan = state.engine.set_targets(ladder, stale, state.now)
    with pytest.raises(policy.BenchError, match="skipped"):
        policy.check_plan(plan, kept=6)


def test_check_plan_refuses_places_and_cancels(policy: ModuleType) -> None:
    """A deeper ladder places a level per side; a shallower one cancels one."""
    state, _ = policy.steady_state(3)
    state.now += 1.0
    deeper = state.engine.set_targets(
        policy.ladder_at(4), policy.book_at(state.now), state.now
    )
    assert len(deeper.places) == 2
    with pytest.raises(policy.BenchError, match="got 2 places"):
        policy.check_plan(deeper, kept=6)

    state, _ = policy.steady_state(3)
    state.now += 1.0
    shallower = state.engine.set_targets(
        policy.ladder_at(2), policy.book_at(state.now), state.now
    )
    with pytest.raises(policy.BenchError, match="2 cancels"):
        policy.check_plan(shallower, kept=4)


def test_modify_plan_modifies_every_order(policy: ModuleType) -> None:
    """The shifted ladder turns every order into a modify; keeps are refused."""
    state, (_, shifted) = policy.modify_state(3)
    state.now += 1.0
    plan = state.engine.set_targets(shifted, policy.book_at(state.now), state.now)
    policy.check_plan(plan, modifies=6)
    with pytest.raises(policy.BenchError, match="got 0 places, 6 modifies"):
        policy.check_plan(plan, kept=6)


def test_check_plan_refuses_latched_modifies(policy: ModuleType) -> None:
    """A modify batch within ``min_modify_interval_ms`` of the last one is latched, not sent."""
    state, (original, shifted) = policy.modify_state(3)
    state.now += 1.0
    policy.check_plan(
        state.engine.set_targets(shifted, policy.book_at(state.now), state.now), modifies=6
    )
    engine = state.engine
    for n, command in enumerate(engine.commands_to_send(), start=500):
        engine.handle(
            OrderModified(
                cloid=command.cloid, oid=Oid(n), old_oid=command.oid,
                price=command.price, size=command.size,
            ),
            state.now,
        )
    # Back to the first prices at once: the latch holds the batch.
    state.now += 0.1
    latched = state.engine.set_targets(original, policy.book_at(state.now), state.now)
    assert len(latched.bids.latched) + len(latched.asks.latched) == 6
    with pytest.raises(policy.BenchError, match="6 latched"):
        policy.check_plan(latched, modifies=6)


def test_modify_run_alternates_and_checks_where_orders_rest(policy: ModuleType) -> None:
    """Two modify runs leave the orders at the ladder of their last target."""
    state, ladders = policy.modify_state(3)
    times = policy.reconcile_modify_run(state, ladders, 3)
    assert len(times) == 3 and all(t > 0 for t in times)
    assert policy._rests_at(state.engine, ladders[1])
    assert len(policy.reconcile_modify_run(state, ladders, 2)) == 2
    assert policy._rests_at(state.engine, ladders[1])
    elsewhere = (policy.ladder_at(3, Decimal(20)), policy.ladder_at(3, Decimal(30)))
    with pytest.raises(policy.BenchError, match="neither ladder"):
        policy.reconcile_modify_run(state, elsewhere, 1)


def test_modify_shift_is_inside_the_modify_band(policy: ModuleType) -> None:
    """The shift lies beyond the latch and within the first tolerance and ``max_modify_bps``."""
    config = LifecycleConfig()
    shift = policy.modify_shift_bps(config)
    rc = config.reconciler
    assert rc.latch_bps < shift <= min(rc.level_tolerance_bps[0], rc.max_modify_bps)
    narrow = LifecycleConfig(reconciler=ReconcilerConfig(level_tolerance_bps=(2.0,)))
    with pytest.raises(policy.BenchError, match="no modify band"):
        policy.modify_shift_bps(narrow)


def test_steady_run_refuses_a_ladder_that_changes_the_orders(policy: ModuleType) -> None:
    """The steady run raises when its ladder is not the one its orders rest at."""
    state, _ = policy.steady_state(3)
    with pytest.raises(policy.BenchError):
        policy.reconcile_steady_run(state, policy.ladder_at(3, Decimal(4)), 1)


def test_sync_run_and_its_check(policy: ModuleType) -> None:
    """A full snapshot passes; a partial, stale, foreign or acknowledging one fails."""
    state, rows = policy.sync_state(50)
    times = policy.sync_run(state, rows, 2)
    assert len(times) == 2 and all(t > 0 for t in times)
    engine = state.engine
    interval = engine.config.sync.interval_s

    def sync(orders: tuple[OpenOrder, ...], taken_at: float | None = None) -> SyncReport:
        """Apply a snapshot of ``orders`` one sync interval later."""
        state.now += interval
        at = state.now if taken_at is None else taken_at
        snapshot = OpenOrdersSnapshot(taken_at=at, orders=orders)
        report: SyncReport = engine.handle_snapshot(snapshot, state.now)
        return report

    with pytest.raises(policy.BenchError, match="listed and working"):
        policy.check_sync(sync(rows[1:]), 50)

    stale_at = state.now
    state.now += engine.config.sync.snapshot_max_age_s
    with pytest.raises(policy.BenchError, match="ignored"):
        policy.check_sync(sync(rows, taken_at=stale_at), 50)

    foreign = tuple(
        OpenOrder(coin="ETH", oid=r.oid, cloid=r.cloid, side=r.side, price=r.price, size=r.size)
        for r in rows
    )
    with pytest.raises(policy.BenchError, match="coin"):
        policy.check_sync(sync(foreign), 50)

    # A row acknowledging an order whose placement response is still on its way.
    fresh = engine.place(Side.BUY, Decimal(40_000), policy.SIZE, state.now)
    engine.commands_to_send()
    listed = OpenOrder(
        coin=engine.config.coin_key, oid=Oid(999_999), cloid=fresh.cloid,
        side=Side.BUY, price=fresh.price, size=fresh.size,
    )
    with pytest.raises(policy.BenchError, match="changed something"):
        policy.check_sync(sync((*rows, listed)), 51)


def test_book_is_fresh_and_ladder_prices_are_whole(policy: ModuleType) -> None:
    """The book carries ``now``; every level price is a whole number, so rounding keeps it."""
    book = policy.book_at(12.5)
    assert isinstance(book, Book) and book.at == 12.5
    ladder = policy.ladder_at(25, policy.modify_shift_bps(LifecycleConfig()))
    for level in (*ladder.bids, *ladder.asks):
        assert level.price == level.price.to_integral_value()
