"""Matching, drift, side reading and sync edges that mutation testing found unpinned.

The functions of :mod:`lifecycle.policy.matching` are driven through their
module API (their results are documented values); the safety-sync cases go
through the engine.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

import pytest
from conftest import Session

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.errors import TimeWentBackwards
from lifecycle.core.ids import Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState
from lifecycle.policy.matching import (
    Asked,
    Drift,
    Matching,
    SideView,
    Terms,
    match,
    max_drift,
    read_side,
)
from lifecycle.policy.pricing import AssetRules
from lifecycle.policy.snapshot import OpenOrder, OpenOrdersSnapshot
from lifecycle.policy.ticks import NOT_A_NUMBER, Grid

D = Decimal
# A perp with szDecimals 2: sizes in lots of 0.01, prices in units of 0.0001.
RULES = AssetRules.perp(2)


def never(k: int) -> None:
    raise AssertionError(f"no target of size 0 here (called with {k})")


def run_match(
    prices: Sequence[int],
    sizes: Sequence[int],
    targets: Sequence[int],
    target_sizes: Sequence[int],
    tolerances: Sequence[tuple[int, int]],
) -> Matching:
    return match(prices, sizes, targets, target_sizes, tolerances, never)


def order(price: str = "100", size: str = "1.5") -> Order:
    return Order(cloid=None, oid=Oid(1), side=Side.BUY, price=D(price), size=D(size), now=0.0)


def read(
    grid: Grid, orders: list[Order], terms: dict[Order, Terms] | None = None,
    asked: dict[int, Asked] | None = None,
) -> tuple[SideView, dict[Order, Terms]]:
    """One side read against targets 100 x 1.5; returns the view and its fresh readings."""
    fresh: dict[Order, Terms] = {}
    view = read_side(grid, orders, [1_000_000], [150], asked or {}, terms or {}, fresh)
    return view, fresh


# --- match -------------------------------------------------------------------------------


# A target met after every candidate is taken gets none: -1 and distances 0.
def test_a_target_left_without_candidates_takes_none() -> None:
    result = run_match([100], [7], [100, 90], [5, 5], [(1, 100)])
    assert result == Matching([0, -1], [0, 0], [2, 0], [])
    assert run_match([], [], [100], [5], [(1, 100)]) == Matching([-1], [0], [0], [])


# A target whose nearest candidate is beyond its tolerance gets none: -1 and distances 0.
def test_a_target_beyond_tolerance_takes_none() -> None:
    assert run_match([110], [3], [100], [1], [(1, 100)]) == Matching([-1], [0], [0], [0])


# A candidate exactly at the tolerance of a size-0 target is reported (the limit is within).
def test_a_zero_size_target_reports_a_candidate_exactly_at_its_tolerance() -> None:
    calls: list[int] = []
    result = match([101], [1], [100], [0], [(1, 100)], calls.append)
    assert calls == [0]
    assert result == Matching([0], [1], [1], [])


# A NaN tolerance raises even for a ladder at rest (no shortcut around the comparison).
def test_a_nan_tolerance_raises_for_a_ladder_at_rest() -> None:
    with pytest.raises(InvalidOperation):
        run_match([100], [1], [100], [1], [(NOT_A_NUMBER, 1)])


# A negative tolerance refuses even a candidate at its target's price.
def test_a_negative_tolerance_refuses_a_candidate_at_the_target() -> None:
    assert run_match([100], [1], [100], [1], [(-1, 1)]) == Matching([-1], [0], [0], [0])
    assert run_match([100], [1], [100], [1], [(-1, 0)]) == Matching([-1], [0], [0], [0])


# Sizes that do not pair up with their prices raise, at rest as in the search.
def test_sizes_of_another_length_raise() -> None:
    with pytest.raises((ValueError, IndexError)):
        run_match([100, 200], [1, 1], [100, 200], [1], [(0, 1)])
    with pytest.raises((ValueError, IndexError)):
        run_match([100, 200], [1], [100, 200], [1, 1], [(0, 1)])


# --- max_drift ---------------------------------------------------------------------------


# Every candidate at a target: drift 0/1, naming the first candidate and its target.
def test_zero_drift_names_the_first_candidate_and_its_target() -> None:
    assert max_drift([100, 200], [200, 100], False) == Drift(0, 1, 0, 1)
    assert max_drift([200], [200, 100], False) == Drift(0, 1, 0, 0)


# Of candidates equally far from their targets, the first is named.
def test_equally_far_candidates_name_the_first() -> None:
    assert max_drift([90, 110], [100], True) == Drift(10, 100, 0, 0)
    assert max_drift([110, 90], [100], True) == Drift(10, 100, 0, 0)


# A candidate equally far (as a ratio) from the targets around it is measured to the lower one.
def test_a_tie_between_surrounding_targets_goes_to_the_lower_one() -> None:
    assert max_drift([120], [100, 150], True) == Drift(20, 100, 0, 0)
    assert max_drift([120], [150, 100], False) == Drift(20, 100, 0, 1)


# --- read_side ---------------------------------------------------------------------------


# A first reading of an on-grid order is handed on as the next cycle's terms, and kept.
def test_readings_of_on_grid_orders_are_handed_on_and_kept() -> None:
    grid = Grid(RULES)
    resting, filled = order("100", "1.5"), order("99.5", "2")
    filled.filled = D("0.5")
    view, fresh = read(grid, [resting, filled])
    assert (view.prices, view.sizes) == ([1_000_000, 995_000], [150, 150])
    assert fresh == {
        resting: (resting.price, resting.size, resting.filled, D("1.5"), 1_000_000, 150),
        filled: (filled.price, filled.size, filled.filled, D("1.5"), 995_000, 150),
    }
    again, fresh_again = read(grid, [resting, filled], fresh)
    assert (again.prices, again.sizes) == ([1_000_000, 995_000], [150, 150])
    assert fresh_again[resting] is fresh[resting] and fresh_again[filled] is fresh[filled]


# A modify that moved only the price: the new price is read, the size reading kept.
def test_a_moved_price_is_read_anew_with_the_size_kept() -> None:
    grid = Grid(RULES)
    moved = order("100", "1.5")
    _, fresh = read(grid, [moved])
    moved.price = D("101")
    view, fresh_again = read(grid, [moved], fresh)
    assert (view.prices, view.sizes, view.size_values) == ([1_010_000], [150], [D("1.5")])
    assert fresh_again[moved] == (D("101"), moved.size, moved.filled, D("1.5"), 1_010_000, 150)


# Readings follow the order's current objects, even when one now is another field's object.
def test_readings_follow_terms_that_became_another_fields_object() -> None:
    grid = Grid(RULES)
    # The price becomes the very object of the size (5 x 5).
    shared = order("10", "5")
    # Filled becomes the object of the size, price unchanged and moved.
    full, full_moved = order("100", "1.5"), order("100", "1.5")
    # The size becomes the object of what had filled, price unchanged and moved.
    shrunk, shrunk_moved = order("100", "10"), order("100", "10")
    for partly in (shrunk, shrunk_moved):
        partly.filled = D("4")
    orders = [shared, full, full_moved, shrunk, shrunk_moved]
    _, fresh = read(grid, orders)
    shared.price = shared.size
    for done in (full, full_moved):
        done.filled = done.size
    for partly in (shrunk, shrunk_moved):
        partly.size = partly.filled
    for moved in (full_moved, shrunk_moved):
        moved.price = D("101")
    view, _ = read(grid, orders, fresh)
    assert view.prices == [50_000, 1_000_000, 1_010_000, 1_000_000, 1_010_000]
    assert view.sizes == [500, 0, 0, 0, 0]


# A modify in flight asking an off-grid size puts the side on a finer scale.
def test_a_modify_asking_an_off_grid_size_rescales_the_side() -> None:
    session = Session()
    modifying = session.tracked(price="100", size="1.5")
    session.engine.modify(modifying, D("100"), D("1.505"), session.now)
    assert modifying.state is OrderState.MODIFYING
    asked = {id(modifying): Asked(modifying, D("100"), D("1.505"), modifying.state_since)}
    view, fresh = read(Grid(RULES), [modifying], asked=asked)
    assert (view.prices, view.sizes) == ([1_000_000], [1505])
    assert view.targets == ([1_000_000], [1500])
    assert fresh == {}


# --- safety sync -------------------------------------------------------------------------


# A sync at a time before the engine's names both times.
def test_a_sync_back_in_time_names_both_times() -> None:
    session = Session()
    session.engine.on_timer(10.0)
    snapshot = OpenOrdersSnapshot(taken_at=5.0, orders=())
    with pytest.raises(TimeWentBackwards, match=r"now=5\.0 .*now=10\.0"):
        session.engine.handle_snapshot(snapshot, 5.0)


# A listed oid that names another order of ours is a conflict naming the oid and that order.
def test_an_oid_conflict_from_a_snapshot_names_the_oid_and_its_holder() -> None:
    session = Session()
    other, ours = session.tracked(price="99"), session.tracked(price="100")
    assert other.oid is not None
    row = OpenOrder(coin=session.engine.sync.coin, oid=other.oid, cloid=ours.cloid,
                    side=ours.side, price=ours.price, size=ours.size)
    session.engine.handle_snapshot(OpenOrdersSnapshot(taken_at=session.now, orders=(row,)),
                                   session.now)
    (conflict,) = [a for a in session.engine.anomalies if a.kind is AnomalyKind.OID_CONFLICT]
    assert conflict.order_id == ours.label
    assert isinstance(conflict.detail, str)
    assert re.search(rf"\boid {other.oid}\b", conflict.detail)
    assert other.label in conflict.detail
