"""Regression tests for gaps in the policies and the configuration, through the public harness.

Each test names the behaviour it pins:

1. a book exactly ``book_stale_s`` old is stale: the cycle is skipped;
2. a ladder whose every level is dropped cancels what rests (only a stale book skips);
3. the default tolerances let ``max_modify_bps`` take effect (a 20 bps move at the
   best level is a modify), and ``check-config`` warns about settings that cannot;
4. configuration objects built in code are checked as ``load_config`` checks a file;
5. the safety sync survives a snapshot stamped in the future and a garbage row;
6. a row under a cloid of this run that the engine no longer knows is adopted, never
   an orphan; an earlier run's keeps the orphan policy.

Prices sit around 30 000 on the default market (BTC, ``sz_decimals`` 5): the tick
is 1, a third of a basis point, and 0.001 is worth about $30.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lifecycle.cli import main
from lifecycle.config import (
    ConfigError,
    LifecycleConfig,
    OrdersConfig,
    OrphanPolicy,
    ReconcilerConfig,
    SyncConfig,
    config_warnings,
)
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder, QueryOrderStatus
from lifecycle.core.ids import CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.policy.reconciler import SKIP_STALE_BOOK, Decision, Modification
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot
from lifecycle.testing import Scenario

D = Decimal
S = OrderState
BUY, SELL = Side.BUY, Side.SELL
BOOK = ("30000", "30100")
SIZE = "0.001"


def tracked(s: Scenario, *specs: tuple[Side, str]) -> list[Order]:
    """Orders of ours resting at ``(side, price)``, acknowledged and past protection."""
    orders = [s.place(side, price, SIZE) for side, price in specs]
    for order in orders:
        s.ack(order)
    s.advance(s.engine.config.orders.protection_s)
    for order in orders:
        s.expect(order, S.TRACKED)
    return orders


def cancels_of(s: Scenario, order: Order) -> list[CancelOrder]:
    return [c for c in s.sent_of(CancelOrder) if c.cloid == order.cloid or c.oid == order.oid]


# --- 1. the stale-book limit ------------------------------------------------------------


def test_book_exactly_book_stale_s_old_skips_the_cycle() -> None:
    s = Scenario(start=100.0)  # 100 - 5 is exact: the book is exactly 5 s old
    (order,) = tracked(s, (BUY, "29990"))
    sent = len(s.sent)
    stale_s = s.engine.config.reconciler.book_stale_s
    plan = s.cycle(([("30010", SIZE)], []), BOOK, age=stale_s)
    assert plan.skipped == SKIP_STALE_BOOK
    assert plan.places == () and plan.cancels == () and plan.modifies == ()
    assert s.sent[sent:] == []
    s.expect(order, S.TRACKED)

    younger = s.cycle(([("30010", SIZE)], []), BOOK, age=stale_s - 0.5)
    assert younger.skipped is None
    assert [m.order for m in younger.modifies] == [order]


# --- 2. a ladder that validation empties ------------------------------------------------


@pytest.mark.parametrize(
    ("bids", "asks"),
    [
        ([("30010", "0.0001")], [("30090", "0.0001")]),  # $3 each: below min_notional_usd
        ([("30200", SIZE)], [("29900", SIZE)]),  # each crosses the book
    ],
    ids=["below_min_notional", "crossing"],
)
def test_ladder_whose_every_level_is_dropped_cancels_what_rests(
    bids: list[tuple[str, str]], asks: list[tuple[str, str]]
) -> None:
    """The target wants nothing resting here: that is a decision, not missing data, so
    the resting quotes are cancelled rather than left on the book (the seed's L11)."""
    s = Scenario(start=100.0)
    bid, ask = tracked(s, (BUY, "29950"), (SELL, "30150"))
    plan = s.cycle((bids, asks), BOOK)
    assert plan.skipped is None
    assert set(plan.cancels) == {bid, ask} and plan.places == ()
    dropped = [*plan.bids.dropped_crossing, *plan.asks.dropped_crossing]
    small = [*plan.bids.skipped_min_notional, *plan.asks.skipped_min_notional]
    assert len(dropped) + len(small) == 2
    for order in (bid, ask):
        s.expect(order, S.CANCELLING)
        assert len(cancels_of(s, order)) == 1
    assert s.sent_of(PlaceOrder)[-1].cloid in {bid.cloid, ask.cloid}  # nothing placed since


def test_ladder_whose_every_level_is_dropped_on_a_stale_book_still_skips() -> None:
    """Only "no data to decide" skips: a stale book leaves the quotes as they are."""
    s = Scenario(start=100.0)
    (bid,) = tracked(s, (BUY, "29950"))
    plan = s.cycle(([("30200", SIZE)], []), BOOK, age=60.0)
    assert plan.skipped == SKIP_STALE_BOOK and plan.cancels == ()
    s.expect(bid, S.TRACKED)


# --- 3. the dead band between the tolerances and max_modify_bps --------------------------


def test_default_tolerances_modify_a_20_bps_move_at_the_best_level() -> None:
    s = Scenario(start=100.0)
    (best,) = tracked(s, (BUY, "30000"))
    plan = s.cycle(([("30060", SIZE)], []), ("30050", "30200"))  # +20 bps
    assert plan.bids.modifies == (
        Modification(order=best, price=D("30060"), size=D(SIZE), level=0),
    )
    assert plan.cancels == () and plan.places == ()
    assert plan.bids.decision is Decision.UPDATE
    assert s.sent_of(ModifyOrder)[-1].price == D("30060")
    s.expect(best, S.MODIFYING)


def test_default_configuration_has_no_warning() -> None:
    assert config_warnings(LifecycleConfig()) == []


def test_fill_capacity_below_one_catch_up_is_a_warning() -> None:
    # A catch-up may return the 10,000 most recent fills: a smaller capacity forgets
    # some of them early, and a repeat of a forgotten fill counts twice.
    small = LifecycleConfig(orders=OrdersConfig(fill_dedup_capacity=9_999))
    warnings = config_warnings(small)
    assert [(w.path, w.severity) for w in warnings] == [("orders.fill_dedup_capacity", "warning")]
    assert "10000 most recent fills" in warnings[0].message
    assert config_warnings(LifecycleConfig(orders=OrdersConfig(fill_dedup_capacity=10_000))) == []


def test_tolerances_below_max_modify_are_a_warning_not_an_error() -> None:
    """The former defaults: no order beyond 22.5 bps is ever matched, so max_modify_bps
    50 is never reached."""
    config = LifecycleConfig(reconciler=ReconcilerConfig(level_tolerance_bps=(5.0, 15.0, 22.5)))
    warnings = config_warnings(config)
    assert [(w.path, w.severity) for w in warnings] == [("reconciler.max_modify_bps", "warning")]
    assert "level_tolerance_bps[2] = 22.5" in warnings[0].message


@pytest.mark.parametrize(
    ("changes", "paths"),
    [
        ({"latch_bps": 5.0, "level_tolerance_bps": (5.0, 50.0, 75.0)}, ["reconciler.latch_bps"]),
        (
            {"drift_cancel_all_bps": 60.0, "level_tolerance_bps": (25.0, 50.0, 75.0)},
            ["reconciler.drift_cancel_all_bps"],
        ),
        (
            {"latch_bps": 30.0, "drift_cancel_all_bps": 60.0},
            ["reconciler.latch_bps", "reconciler.drift_cancel_all_bps"],
        ),
    ],
    ids=["latch_covers_level_0", "drift_below_a_tolerance", "latch_and_drift"],
)
def test_settings_that_cannot_take_effect_are_warned_at_their_key_path(
    changes: dict[str, object], paths: list[str]
) -> None:
    config = LifecycleConfig(reconciler=ReconcilerConfig(**changes))  # type: ignore[arg-type]
    assert [w.path for w in config_warnings(config)] == paths


def test_check_config_prints_warnings_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "narrow.yaml"
    path.write_text("reconciler:\n  level_tolerance_bps: [5, 15, 22.5]\n", encoding="utf-8")
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: ok, 1 warning(s)" in out
    assert "  warning: reconciler.max_modify_bps: " in out


# --- 4. configuration objects built in code ----------------------------------------------


def test_orphan_policy_given_as_text_in_code_is_the_policy() -> None:
    """``OrdersConfig(orphan_policy="adopt")`` used to keep the plain string, and the
    sync crashed on it (``policy.value``) when an orphan of our namespace aged."""
    config = LifecycleConfig(orders=OrdersConfig(orphan_policy="adopt"))  # type: ignore[arg-type]
    assert config.orders.orphan_policy is OrphanPolicy.ADOPT
    s = Scenario(config, start=100.0)
    earlier = CloidFactory("scenario", run_id=0).next()  # our namespace, an earlier run
    oid = s.foreign(BUY, "29900", SIZE, cloid=earlier)
    s.snapshot()
    s.advance(config.orders.orphan_grace_s)
    report = s.snapshot()
    assert report.adopted == 1
    adopted = s.engine.registry.by_oid(oid)
    assert adopted is not None
    s.expect(adopted, S.TRACKED)


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: OrdersConfig(orphan_policy="adpot"), "orders.orphan_policy"),  # type: ignore[arg-type]
        (lambda: OrdersConfig(protection_s=-1.0), "orders.protection_s"),
        (lambda: SyncConfig(interval_s=20.0), "sync.snapshot_max_age_s"),
        (lambda: ReconcilerConfig(latch_bps=60.0), "reconciler.latch_bps"),
        (lambda: ReconcilerConfig(level_tolerance_bps=()), "reconciler.level_tolerance_bps"),
        (lambda: LifecycleConfig(orders="cancel"), "orders"),  # type: ignore[arg-type]
    ],
    ids=["policy_typo", "negative_duration", "sync_combination", "latch_above_modify",
         "no_tolerance", "section_of_wrong_type"],
)
def test_config_built_in_code_is_checked_like_a_file(build: object, path: str) -> None:
    with pytest.raises(ConfigError) as info:
        build()  # type: ignore[operator]
    assert path in [p.path for p in info.value.problems]


def test_config_built_in_code_is_stored_as_a_file_would_make_it() -> None:
    config = ReconcilerConfig(level_tolerance_bps=[10, 20], max_modify_bps=15)  # type: ignore[arg-type]
    assert config.level_tolerance_bps == (10.0, 20.0)
    assert type(config.max_modify_bps) is float
    same = ReconcilerConfig(level_tolerance_bps=(10.0, 20.0), max_modify_bps=15.0)
    assert config == same and hash(config) == hash(same)


# --- 5. safety sync traps -----------------------------------------------------------------


def test_snapshot_stamped_in_the_future_does_not_poison_later_snapshots() -> None:
    s = Scenario(start=100.0)
    order = s.place(BUY, "29900", SIZE)
    s.rest(order)
    ahead = s.snapshot(age=-30.0)  # another clock: stamped 30 s after now
    assert ahead.applied and ahead.ahead_s == 30.0 and ahead.taken_at == s.now
    s.expect(order, S.FINALIZED_PROTECTED)  # its rows applied
    s.advance(5.0)
    later = s.snapshot()
    assert later.applied and not later.out_of_order
    counters = s.engine.sync.counters()
    assert counters["future_snapshots_clamped"] == 1
    assert counters["out_of_order_snapshots_ignored"] == 0


@pytest.mark.parametrize(
    "garbage",
    [
        OpenOrder(coin="BTC", oid=Oid(900), side=BUY, price=None, size=D(1)),  # type: ignore[arg-type]
        OpenOrder(coin="BTC", oid="901", side=BUY, price=D(1), size=D(1)),  # type: ignore[arg-type]
        OpenOrder(coin="BTC", oid=Oid(902), side="buy", price=D(1), size=D(1)),  # type: ignore[arg-type]
        OpenOrder(coin="BTC", oid=Oid(903), side=BUY, price=D("NaN"), size=D(1)),
        OpenOrder(coin="BTC", oid=Oid(904), side=BUY, price=D(1), size=D(0)),
        OpenOrder(coin=None, oid=Oid(905), side=BUY, price=D(1), size=D(1)),  # type: ignore[arg-type]
        None,
    ],
    ids=["no_price", "text_oid", "text_side", "nan_price", "zero_size", "no_coin", "not_a_row"],
)
def test_snapshot_with_one_garbage_row_still_applies_the_rest(garbage: object) -> None:
    s = Scenario(start=100.0)
    order = s.place(BUY, "29900", SIZE)
    s.rest(order)
    foreign = s.foreign(SELL, "30500", SIZE)
    rows = (*s.exchange.rows(), garbage)
    snapshot = OpenOrdersSnapshot(taken_at=s.now, orders=rows)  # type: ignore[arg-type]
    report = s.engine.handle_snapshot(snapshot, s.now)
    assert report.applied and report.malformed == 1
    assert report.acks == 1 and report.new_candidates == 1
    s.expect(order, S.FINALIZED_PROTECTED)
    candidate = s.engine.registry.by_oid(foreign)
    assert candidate is not None and candidate.state is S.ORPHAN_CANDIDATE
    [anomaly] = [a for a in s.engine.anomalies if "cannot be read" in a.detail]
    assert anomaly.kind is AnomalyKind.UNKNOWN_ORDER
    assert s.engine.sync.counters()["rows_malformed"] == 1


# --- 6. a row of this run the engine no longer knows --------------------------------------


def forgotten(s: Scenario) -> Order:
    """An order declared never placed, its tombstone evicted, that then rests."""
    orders = s.engine.config.orders
    order = s.place(BUY, "29900", SIZE)
    s.advance(orders.expected_ttl_s)
    assert s.sent_of(QueryOrderStatus)
    s.answer_status(order)  # not on the book (yet): not found
    s.expect(order, S.GONE, reason=GoneReason.NEVER_PLACED)
    s.advance(orders.tombstone_s + 1.0)
    assert s.engine.registry.find(order.cloid, None) is None  # evicted
    s.rest(order)  # the placement reached the book after all
    return order


def test_row_of_this_run_unknown_to_the_engine_is_adopted_never_an_orphan() -> None:
    s = Scenario(start=100.0)  # orphan_policy cancel (the default)
    order = forgotten(s)
    report = s.snapshot()
    assert report.own_adopted == 1 and report.new_candidates == 0
    adopted = s.engine.registry.find(order.cloid, None)
    assert adopted is not None and adopted is not order
    s.expect(adopted, S.TRACKED)
    [anomaly] = [a for a in s.engine.anomalies if a.order_id == adopted.label]
    assert anomaly.kind is AnomalyKind.UNKNOWN_ORDER and "this run" in anomaly.detail
    s.advance(s.engine.config.orders.orphan_grace_s + 1.0)
    s.snapshot()
    s.expect(adopted, S.TRACKED)
    assert cancels_of(s, adopted) == []
    assert s.engine.sync.counters()["own_orders_adopted"] == 1


def test_row_of_an_earlier_run_keeps_the_orphan_policy() -> None:
    s = Scenario(start=100.0)
    earlier = CloidFactory("scenario", run_id=0).next()
    oid = s.foreign(BUY, "29900", SIZE, cloid=earlier)
    assert s.snapshot().new_candidates == 1
    s.advance(s.engine.config.orders.orphan_grace_s)
    report = s.snapshot()
    assert report.cancelled == 1 and report.own_adopted == 0
    orphan = s.engine.registry.by_oid(oid)
    assert orphan is not None and orphan.state is S.CANCELLING
