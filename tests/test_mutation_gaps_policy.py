"""Reconciler and pricing behaviour that mutation testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutants it kills: changes to ``lifecycle/policy``
that every other test let pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest

from lifecycle.core.events import OrderAccepted, OrderModified
from lifecycle.core.ids import CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine
from lifecycle.engine.state import capture, restore
from lifecycle.policy.pricing import (
    AssetRules,
    is_valid_price,
    is_valid_size,
    meets_min_notional,
    notional,
    round_price,
)
from lifecycle.policy.reconciler import Book, Ladder, Level
from lifecycle.policy.ticks import Grid, exact

D = Decimal
S = OrderState


class _Decimal(Decimal):
    """A Decimal subclass: valid, but checked on the slow path."""


def engine() -> Engine:
    return Engine(cloids=CloidFactory("test", run_id=1), verify=True)


def tracked(live: Engine, price: str) -> Order:
    order = live.place(Side.BUY, D(price), D(1), 0.0)
    live.commands_to_send()
    live.handle(OrderAccepted(cloid=order.cloid, oid=Oid(10)), 0.0)
    live.on_timer(live.config.orders.protection_s)
    assert order.state is S.TRACKED
    return order


# --- the reconciler's memory of a modify in flight ------------------------------------------


def test_a_restored_reconciler_still_matches_a_modify_in_flight_at_its_asked_price() -> None:
    # Kills `id(asked.order)` -> `id(None)` in Reconciler.restore: the next target is
    # 20 bps from the price the modify asked for and 40 bps from the order's own, beyond
    # the level's 25 bps tolerance, so only the remembered terms keep it matched instead
    # of cancelled and placed again.
    live = engine()
    order = tracked(live, "99")
    now = live.config.orders.protection_s
    first = Ladder(bids=(Level(price=D("99.2"), size=D(1)),))
    plan = live.set_targets(first, Book(best_bid=D(99), best_ask=D(101), at=now), now)
    assert [m.order for m in plan.modifies] == [order] and order.state is S.MODIFYING
    live.commands_to_send()
    restored = engine()
    restore(restored, capture(live))
    ladder = Ladder(bids=(Level(price=D("99.4"), size=D(1)),))
    for eng in (live, restored):
        later = now + 1.0
        again = eng.set_targets(ladder, Book(best_bid=D(99), best_ask=D(101), at=later), later)
        assert (again.cancels, again.places, again.modifies) == ((), (), ())
        assert eng.commands_to_send() == []


# --- pricing and ladder checks on their rarer valid forms ------------------------------------


def test_a_size_below_one_on_the_lot_grid_is_valid() -> None:
    # Kills `size > 0` -> `size > 1` in is_valid_size.
    rules = AssetRules.perp(2)
    assert is_valid_size(D("0.5"), rules) and is_valid_size(D(1), rules)
    assert not is_valid_size(D("0.005"), rules) and not is_valid_size(D(0), rules)
    assert is_valid_price(D("99.5"), rules) and not is_valid_price(D("99.5555"), rules)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: notional(D(-1), D(1)), "price"),
    (lambda: notional(D(1), D("NaN")), "size"),
    (lambda: meets_min_notional(D(1), D(1), D(-10)), "min_notional_usd"),
])
def test_notional_checks_name_the_argument(call: Callable[[], object], name: str) -> None:
    # Kills the name mutants of pricing.notional's and meets_min_notional's checks.
    with pytest.raises(ValueError, match=f"^{name} must be a finite number >= 0, got "):
        call()


def test_a_level_priced_below_one_in_a_subclassed_decimal_is_valid() -> None:
    # Kills `value > 0` -> `value > 1` in ladder._positive (the slow half of Level's check).
    level = Level(price=_Decimal("0.5"), size=_Decimal("0.25"))
    assert (level.price, level.size) == (D("0.5"), D("0.25"))


def test_a_plan_gives_each_side_its_own_plan() -> None:
    # Kills the mutants of Plan.side, which no other test calls.
    live = engine()
    plan = live.set_targets(
        Ladder(bids=(Level(price=D(99), size=D(1)),), asks=(Level(price=D(102), size=D(2)),)),
        Book(best_bid=D(100), best_ask=D(101), at=0.0), 0.0,
    )
    assert plan.side(Side.BUY) is plan.bids and plan.side(Side.SELL) is plan.asks
    assert [p.price for p in plan.side(Side.BUY).places] == [D(99)]
    assert [p.price for p in plan.side(Side.SELL).places] == [D(102)]


# --- the integer grid ---------------------------------------------------------------------------


def test_grid_sizes_in_lots_are_exact_integers_or_none() -> None:
    # Kills the mutants of Grid.size_lots (`is None` flipped, `%`/`//` made `/`, None
    # stored for the lots).
    grid = Grid(AssetRules.perp(2))
    big = D("123456789012345678.25")
    for _ in range(2):  # computed, then remembered
        assert grid.size_lots(D("0.25")) == 25 and grid.size_lots(D(3)) == 300
        lots = grid.size_lots(big)
        assert lots == 12345678901234567825 and type(lots) is int
        assert grid.size_lots(D("0.255")) is None
    assert grid.price_units(D("99.5")) == 995000 and grid.price_units(D("99.55555")) is None
    units = grid.price_units(D("123456789012345678.5"))  # `scaled // den`, never a float
    assert units == 1234567890123456785000 and type(units) is int
    big = D("123456789012345678.55555")
    floor, ceil = grid.floor_units(big), grid.ceil_units(big)
    assert (floor, ceil) == (1234567890123456785555, 1234567890123456785556)
    assert type(floor) is int and type(ceil) is int


def test_exact_is_an_integer_numerator_and_the_least_power_of_ten() -> None:
    # Kills `10**k // den` -> `10**k / den` in ticks.exact (a float numerator).
    n, k = exact(D("123456789.123456789"))
    assert (n, k) == (123456789123456789, 9) and type(n) is int
    assert exact(D("0.2")) == (2, 1) and exact(D("0.04")) == (4, 2) and exact(D("0.5")) == (5, 1)


def test_grid_rounds_and_truncates_huge_values_on_its_slow_path() -> None:
    # Pins Grid._units_of and Grid._lots_of, which only values past 1e20 reach.
    rules = AssetRules.perp(0)
    grid = Grid(rules)
    huge = D("123456.789E+16")  # 1.23456789e21: past the fast path
    for side in (Side.BUY, Side.SELL):
        units = grid.round_price(huge, side)
        assert D(units).scaleb(-rules.max_decimals) == round_price(huge, rules, side)
    assert grid.truncate_size(D("1.5E+21")) == 1500000000000000000000
    assert grid.truncate_size(D("1.5E+21")) == 1500000000000000000000  # remembered


# --- inputs the ladder checks field by field --------------------------------------------------


def test_a_ladder_checks_levels_of_another_class_field_by_field() -> None:
    # Kills the mutants of ladder._check_side (the class test, the field names, the value).
    duck: Any = SimpleNamespace(price=D(99), size=D(1))
    ladder = Ladder(bids=(duck,))
    assert ladder.bids[0] is duck
    for field in ("price", "size"):
        bad: Any = SimpleNamespace(**{"price": D(99), "size": D(1), field: D(-1)})
        message = rf"^ladder\.asks\[1\]\.{field} must be a finite Decimal > 0, got Decimal\('-1'\)$"
        with pytest.raises(ValueError, match=message):
            Ladder(asks=(duck, bad))
    with pytest.raises(ValueError, match=r"^ladder\.bids\[0\]\.size must be a finite Decimal"):
        Ladder(bids=(cast(Level, SimpleNamespace(price=D(99))),))


def test_a_book_names_the_side_it_refuses() -> None:
    # Kills the field-name mutants of Book.__post_init__.
    with pytest.raises(ValueError, match=r"^book\.best_bid must be a finite Decimal > 0 or None"):
        Book(best_bid=D(0), best_ask=D(101), at=0.0)
    with pytest.raises(ValueError, match=r"^book\.best_ask must be a finite Decimal > 0 or None"):
        Book(best_bid=D(99), best_ask=D("NaN"), at=0.0)


# --- the reconciler's counters and its memory --------------------------------------------------


def test_each_stale_book_cycle_is_counted() -> None:
    # Kills the mutants of `counters.get(key, 0) + 1` in Reconciler.apply.
    live = engine()
    ladder = Ladder(bids=(Level(price=D(99), size=D(1)),))
    for now in (10.0, 11.0):
        plan = live.set_targets(ladder, Book(best_bid=D(99), best_ask=D(101), at=0.0), now)
        assert plan.skipped == "stale_book"
    counters = live.counters()
    assert counters["reconciler_cycles_skipped_stale_book"] == 2
    assert counters["reconciler_cycles"] == 2


def test_requests_whose_order_changed_state_are_skipped_and_counted() -> None:
    # Kills `skipped += 1` -> `= 1` (and `-= 1`, `+= 2`) in both loops of Reconciler.apply,
    # and `counters[...] += skipped` -> `= skipped`.
    live = engine()
    first, second = tracked(live, "99"), tracked_more(live, "98.9")
    now = live.now
    book = Book(best_bid=D(99), best_ask=D(101), at=now)
    ladder = Ladder(bids=(Level(price=D("99.1"), size=D(1)), Level(price=D("99"), size=D(1))))
    plan = live.reconciler.plan(ladder, live.registry, book, now)  # modify both
    assert {m.order for m in plan.modifies} == {first, second}
    for order in (first, second):
        live.modify(order, order.price, D(2), now)
    live.reconciler.apply(plan, live, now)
    assert live.counters()["reconciler_requests_skipped_state_changed"] == 2
    plan = live.reconciler.plan(Ladder(), live.registry, book, now)  # clear: cancel both
    assert set(plan.cancels) == {first, second}
    for order in (first, second):
        live.cancel(order, now)
    live.reconciler.apply(plan, live, now)
    counters = live.counters()
    assert counters["reconciler_requests_skipped_state_changed"] == 4
    assert (counters["reconciler_cancels"], counters["reconciler_modifies"]) == (0, 0)


def tracked_more(live: Engine, price: str) -> Order:
    order = live.place(Side.BUY, D(price), D(1), live.now)
    live.commands_to_send()
    live.handle(OrderAccepted(cloid=order.cloid, oid=Oid(11)), live.now)
    live.on_timer(live.now + live.config.orders.protection_s)
    assert order.state is S.TRACKED
    return order


def test_a_modify_answered_at_once_is_forgotten_by_the_next_cycle() -> None:
    # Kills `or` -> `and` in Reconciler._forget_answered: an answer in the same instant
    # leaves `state_since` equal to the time the modify was asked.
    live = engine()
    order = tracked(live, "99")
    now = live.config.orders.protection_s
    book = Book(best_bid=D(99), best_ask=D(101), at=now)
    ladder = Ladder(bids=(Level(price=D("99.2"), size=D(1)),))
    live.set_targets(ladder, book, now)
    live.commands_to_send()
    assert len(live.reconciler.checkpoint().asked) == 1
    live.handle(OrderModified(cloid=order.cloid, oid=Oid(12), old_oid=Oid(10), price=D("99.2"),
                              size=D(1)), now)
    assert order.state is S.FINALIZED_PROTECTED and order.state_since == now
    live.set_targets(ladder, book, now + 1.0)
    assert live.reconciler.checkpoint().asked == ()


def test_a_modify_batch_sooner_than_the_interval_is_latched() -> None:
    # Kills `* 1000.0` -> `* 1001.0` in Planner.plan: 499.6 ms after a batch is too soon.
    live = engine()
    order = tracked(live, "99")
    now = live.config.orders.protection_s
    live.reconciler.restore(live.reconciler.checkpoint()._replace(last_modify_at=now - 0.4996))
    plan = live.set_targets(Ladder(bids=(Level(price=D("99.2"), size=D(1)),)),
                            Book(best_bid=D(99), best_ask=D(101), at=now), now)
    assert plan.modifies == () and [m.order for m in plan.bids.latched] == [order]
    later = now + 0.0004 + 1e-9
    plan = live.set_targets(Ladder(bids=(Level(price=D("99.2"), size=D(1)),)),
                            Book(best_bid=D(99), best_ask=D(101), at=later), later)
    assert [m.order for m in plan.modifies] == [order]


def test_asset_rules_name_the_field_they_refuse() -> None:
    # Kills the field-name mutants of AssetRules.__post_init__, and the reconciler's rules.
    with pytest.raises(ValueError, match=r"^sz_decimals must be >= 0, got -1$"):
        AssetRules.perp(-1)
    with pytest.raises(ValueError, match=r"^sz_decimals must be >= 0, got -1$"):
        AssetRules(sz_decimals=-1, max_decimals=6)
    with pytest.raises(ValueError, match=r"^max_decimals must be an integer, got 1\.5$"):
        AssetRules(sz_decimals=1, max_decimals=1.5)  # type: ignore[arg-type]
    assert engine().reconciler.rules == AssetRules.perp(5)


def test_each_cycle_logs_one_line_per_side(caplog: pytest.LogCaptureFixture) -> None:
    # Kills `self._log(plan)` -> `self._log(None)` in Reconciler.apply (it reads the plan
    # only when its logger is on). A side that sends something logs at INFO, a side that
    # keeps every order at DEBUG: a bot quoting every second is not flooded at INFO.
    caplog.set_level(logging.DEBUG, logger="lifecycle.reconciler")
    live = engine()
    live.set_targets(Ladder(bids=(Level(price=D(99), size=D(1)),)),
                     Book(best_bid=D(99), best_ask=D(101), at=0.0), 0.0)
    records = [r for r in caplog.records if r.name == "lifecycle.reconciler"]
    assert [(r.__dict__["side"], r.__dict__["places"], r.__dict__["decision"], r.levelno)
            for r in records] == [("buy", 1, "update", logging.INFO),
                                  ("sell", 0, "keep", logging.DEBUG)]
    # The next cycle keeps the order on both sides: nothing at INFO.
    live.commands_to_send()
    (order,) = [o for o in live.registry if o.state is OrderState.EXPECTED]
    live.handle(OrderAccepted(cloid=order.cloid, oid=Oid(12)), 0.5)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="lifecycle.reconciler")
    plan = live.set_targets(Ladder(bids=(Level(price=D(99), size=D(1)),)),
                            Book(best_bid=D(99), best_ask=D(101), at=1.0), 1.0)
    assert plan.bids.decision.value == plan.asks.decision.value == "keep"
    assert [r for r in caplog.records if r.name == "lifecycle.reconciler"] == []


def test_a_cycle_line_at_info_names_the_side_that_sends_and_its_counts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Bids keep their order (DEBUG, not shown at INFO); asks place one: its line follows.
    live = engine()
    bids = Ladder(bids=(Level(price=D(99), size=D(1)),))
    live.set_targets(bids, Book(best_bid=D(99), best_ask=D(101), at=0.0), 0.0)
    live.commands_to_send()
    (order,) = [o for o in live.registry if o.state is OrderState.EXPECTED]
    live.handle(OrderAccepted(cloid=order.cloid, oid=Oid(12)), 0.5)
    caplog.set_level(logging.INFO, logger="lifecycle.reconciler")
    live.set_targets(Ladder(bids=bids.bids, asks=(Level(price=D(101), size=D(2)),)),
                     Book(best_bid=D(99), best_ask=D(101), at=1.0), 1.0)
    (line,) = [r for r in caplog.records if r.name == "lifecycle.reconciler"]
    assert line.getMessage() == ("reconcile sell: update; 0 working, 1 targets, max drift - "
                                 "bps; 1 places, 0 modifies, 0 cancels, 0 latched")
    assert {k: line.__dict__[k] for k in ("places", "modifies", "cancels", "latched")} == {
        "places": 1, "modifies": 0, "cancels": 0, "latched": 0}
