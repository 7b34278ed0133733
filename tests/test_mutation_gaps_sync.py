"""Safety-sync behaviour that mutation testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutant it kills: a change to
``lifecycle/policy`` that every other test let pass.
"""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec
import pytest

from lifecycle.config import LifecycleConfig, OrdersConfig, OrphanPolicy, SyncConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.clock import ManualClock
from lifecycle.core.commands import QueryOrderStatus
from lifecycle.core.events import CancelRejected, OrderAccepted, OrderFilled
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine
from lifecycle.policy.absence import Absences
from lifecycle.policy.rows import MISMATCH_SAMPLES
from lifecycle.policy.snapshot import OpenOrder, OpenOrdersSnapshot, SyncReport, row_problem

S = OrderState
D = Decimal
DEFAULTS = LifecycleConfig()
PROTECTION_S = DEFAULTS.orders.protection_s
INTERVAL_S = DEFAULTS.sync.interval_s
MISSING_SNAPSHOTS = DEFAULTS.sync.missing_snapshots
MISSING_MIN_S = DEFAULTS.sync.missing_min_s


class Desk:
    """An engine on a manual clock, with our orders and snapshot rows made short."""

    def __init__(self, config: LifecycleConfig | None = None) -> None:
        self.clock = ManualClock()
        self.engine = Engine(config, cloids=CloidFactory("test", run_id=1), verify=True)
        self._oid = 5000

    @property
    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        return self.clock.advance(seconds)

    def new_oid(self) -> Oid:
        self._oid += 1
        return Oid(self._oid)

    def sent(self, price: str = "100", size: str = "1") -> Order:
        order = self.engine.place(Side.BUY, D(price), D(size), self.now)
        self.engine.commands_to_send()
        return order

    def resting(self, price: str = "100", size: str = "1") -> Order:
        order = self.sent(price, size)
        self.engine.handle(OrderAccepted(cloid=order.cloid, oid=self.new_oid()), self.now)
        return order

    def row(self, order: Order, *, cloid: bool = True, oid: Oid | None = None) -> OpenOrder:
        row_oid = order.oid if oid is None else oid
        assert row_oid is not None
        return OpenOrder(coin=self.engine.sync.coin, oid=row_oid,
                         cloid=order.cloid if cloid else None,
                         side=order.side, price=order.price, size=order.size)

    def foreign(self, oid: int, *, cloid: Cloid | None = None, side: Side = Side.SELL,
                price: str = "105", size: str = "2", coin: str | None = None) -> OpenOrder:
        return OpenOrder(coin=self.engine.sync.coin if coin is None else coin, oid=Oid(oid),
                         cloid=cloid, side=side, price=D(price), size=D(size))

    def snap(self, *rows: OpenOrder) -> SyncReport:
        return self.engine.handle_snapshot(OpenOrdersSnapshot(taken_at=self.now, orders=rows),
                                           self.now)

    def queries(self) -> list[QueryOrderStatus]:
        return [c for c in self.engine.commands_to_send() if isinstance(c, QueryOrderStatus)]


@pytest.fixture
def desk() -> Desk:
    return Desk()


def tracked_pair(desk: Desk) -> tuple[Order, Order]:
    """Two TRACKED orders, the first registered first (the sweep meets it first)."""
    first, second = desk.resting("100"), desk.resting("99")
    desk.engine.on_timer(desk.advance(PROTECTION_S))
    assert first.state is S.TRACKED and second.state is S.TRACKED
    desk.engine.commands_to_send()
    return first, second


def absent_until_due(desk: Desk, *listed: Order) -> list[SyncReport]:
    """Snapshots listing only ``listed``, one per interval, until a streak is due its query."""
    reports = [desk.snap(*(desk.row(o) for o in listed))]
    while len(reports) < MISSING_SNAPSHOTS or (len(reports) - 1) * INTERVAL_S < MISSING_MIN_S:
        desk.advance(INTERVAL_S)
        reports.append(desk.snap(*(desk.row(o) for o in listed)))
    return reports


# --- the absence sweep walks every order -------------------------------------------------


def test_absence_sweep_counts_an_order_missing_after_a_listed_one(desk: Desk) -> None:
    # Kills `continue` -> `break` after a listed order in SafetySync._sweep.
    listed, missing = tracked_pair(desk)
    reports = absent_until_due(desk, listed)
    assert [r.missing for r in reports] == [1] * len(reports)
    assert reports[-1].queries == 1
    assert desk.queries() == [QueryOrderStatus(cloid=missing.cloid, oid=missing.oid)]
    assert desk.engine.sync.absence_confirmed(missing)
    assert not desk.engine.sync.absence_confirmed(listed)


def test_absence_sweep_counts_an_order_missing_after_a_cancelling_one(desk: Desk) -> None:
    # Kills `continue` -> `break` after a CANCELLING order's streak in SafetySync._sweep.
    cancelling, missing = tracked_pair(desk)
    desk.engine.cancel(cancelling, desk.now)
    desk.engine.commands_to_send()
    reports = absent_until_due(desk)
    assert [r.missing for r in reports] == [1] * len(reports)  # the CANCELLING one is not
    assert desk.queries() == [QueryOrderStatus(cloid=missing.cloid, oid=missing.oid)]
    # Both streaks are kept: the CANCELLING order's confirms a "not found" too.
    assert desk.engine.sync.absence_confirmed(cancelling)
    assert desk.engine.sync.absence_confirmed(missing)
    assert desk.engine.counters()["sync_missing_tracked"] == 2


def test_absence_sweep_drops_a_vanished_orphan_and_counts_a_missing_order(desk: Desk) -> None:
    desk.snap(desk.foreign(1))  # a candidate, registered before our orders
    listed, _missing = tracked_pair(desk)
    report = desk.snap(desk.row(listed))
    assert (report.vanished, report.missing) == (1, 1)
    assert desk.engine.registry.find(None, Oid(1)) is None
    assert desk.engine.counters()["sync_orphans_vanished"] == 1


# --- row matching reads every row ---------------------------------------------------------


def test_rows_after_an_unknown_row_are_still_matched(desk: Desk) -> None:
    # Kills `continue` -> `break` after a new candidate in SafetySync._match_rows.
    order = desk.sent()
    oid = desk.new_oid()
    report = desk.snap(desk.foreign(1), desk.row(order, oid=oid))
    assert (report.new_candidates, report.acks) == (1, 1)
    assert order.state is S.FINALIZED_PROTECTED and order.oid == oid


def test_rows_after_a_deferred_row_are_still_matched(desk: Desk) -> None:
    # Kills `continue` -> `break` after a deferred row in SafetySync._match_rows.
    twin, order = desk.sent("100"), desk.sent("101")
    oid = desk.new_oid()
    report = desk.snap(desk.row(twin, cloid=False, oid=desk.new_oid()), desk.row(order, oid=oid))
    assert (report.deferred, report.acks, report.new_candidates) == (1, 1, 0)
    assert order.state is S.FINALIZED_PROTECTED and twin.state is S.EXPECTED
    assert desk.engine.counters()["sync_rows_deferred"] == 1


def test_rows_after_an_own_row_adopted_at_once_are_still_matched(desk: Desk) -> None:
    # Kills `continue` -> `break` after adopting a row of this run in SafetySync._match_rows.
    lost = CloidFactory("test", run_id=1, start=900).next()
    order = desk.sent()
    oid = desk.new_oid()
    report = desk.snap(desk.foreign(7, cloid=lost), desk.row(order, oid=oid))
    assert (report.own_adopted, report.acks, report.new_candidates) == (1, 1, 0)
    assert desk.engine.order(lost).state is S.TRACKED
    assert order.state is S.FINALIZED_PROTECTED
    assert desk.engine.counters()["sync_own_orders_adopted"] == 1


def test_cloidless_row_like_a_resting_order_of_ours_is_a_candidate_not_deferred(
    desk: Desk,
) -> None:
    # Only an EXPECTED order may be listed before its oid is bound: a row like a
    # resting order (whose oid is known) is someone else's, never deferred.
    resting = desk.resting("100")
    desk.engine.on_timer(desk.advance(PROTECTION_S))
    twin = desk.foreign(42, side=resting.side, price="100", size="1")
    for _ in range(3):
        report = desk.snap(desk.row(resting), twin)
        assert report.deferred == 0
        desk.advance(INTERVAL_S)
    assert desk.engine.registry.find(None, Oid(42)) is not None
    assert desk.engine.counters()["sync_rows_deferred"] == 0


def test_cloidless_row_deferred_while_expected_becomes_a_candidate_once_acknowledged(
    desk: Desk,
) -> None:
    order = desk.sent("100")
    stranger = desk.row(order, cloid=False, oid=Oid(77))
    assert desk.snap(stranger).deferred == 1
    desk.engine.handle(OrderAccepted(cloid=order.cloid, oid=desk.new_oid()), desk.advance(1))
    report = desk.snap(desk.row(order), stranger)
    assert (report.deferred, report.new_candidates) == (0, 1)


# --- unreadable rows --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["price", "size"])
def test_row_of_zero_price_or_size_is_dropped_as_unreadable(desk: Desk, field: str) -> None:
    # Kills `> _ZERO` -> `>= _ZERO` in row_problem's fast path and in _problem.
    zero = msgspec.structs.replace(desk.foreign(3), **{field: D(0)})
    assert row_problem(zero) == f"{field} is not a finite Decimal > 0: Decimal('0')"
    report = desk.snap(zero)
    assert report.malformed == 1 and report.new_candidates == 0
    assert desk.engine.anomalies.counts[AnomalyKind.UNKNOWN_ORDER] == 1
    assert desk.engine.counters()["sync_rows_malformed"] == 1


def test_the_mismatch_alarm_quotes_each_coin_once_up_to_the_sample_limit(desk: Desk) -> None:
    rows = [desk.foreign(i, coin=coin) for i, coin in enumerate(["ETH", "ETH", "SOL", "XRP",
                                                                  "DOGE"], start=1)]
    report = desk.snap(*rows)
    assert report.asset_mismatch and report.other_coin_orders == 5
    (anomaly,) = [a for a in desk.engine.anomalies if a.kind is AnomalyKind.ASSET_MISMATCH]
    assert MISMATCH_SAMPLES == 3
    assert anomaly.detail == (
        f"exchange listed 5 open orders, none for {desk.engine.sync.coin!r}; "
        "sample coins: 'ETH', 'SOL', 'XRP' (coin name or dex scope mismatch?)"
    )
    assert desk.engine.counters()["sync_asset_mismatches"] == 1


# --- the sync's counters, as exported for metrics -----------------------------------------


def test_sync_counters_and_reports_for_each_kind_of_snapshot(desk: Desk) -> None:
    # Kills `+= 1` -> `= 1` (and `-= 1`, `+= 2`) for every snapshot counter of
    # SafetySync.apply, and the `at`/`taken_at`/`next_sync_at`/`ahead_s` of its reports.
    engine = desk.engine
    max_age = DEFAULTS.sync.snapshot_max_age_s
    desk.advance(100)

    def apply(taken_at: float) -> SyncReport:
        return engine.handle_snapshot(OpenOrdersSnapshot(taken_at=taken_at, orders=()),
                                      desk.advance(1))

    for _ in range(2):
        applied = apply(desk.now + 1)  # taken now
        assert (applied.at, applied.taken_at, applied.ahead_s) == (desk.now, desk.now, 0.0)
        assert applied.next_sync_at == desk.now + INTERVAL_S and applied.applied
        stale = apply(desk.now + 1 - max_age - 1)
        assert (stale.at, stale.taken_at, stale.stale) == (desk.now, desk.now - max_age - 1,
                                                           True)
        assert stale.next_sync_at == desk.now + INTERVAL_S
        unusable = apply(math.nan)
        assert (unusable.at, unusable.stale, unusable.next_sync_at) == (
            desk.now, True, desk.now + INTERVAL_S)
        assert math.isnan(unusable.taken_at)
        old = apply(applied.taken_at - 0.5)  # before the last snapshot applied
        assert (old.at, old.taken_at, old.out_of_order) == (desk.now, applied.taken_at - 0.5,
                                                            True)
        assert old.next_sync_at == desk.now + INTERVAL_S
        ahead = apply(desk.now + 1 + 3)
        assert (ahead.at, ahead.taken_at, ahead.ahead_s) == (desk.now, desk.now, 3.0)
    counters = engine.counters()
    assert {k: counters[f"sync_{k}"] for k in (
        "syncs", "snapshots_applied", "stale_snapshots_ignored",
        "out_of_order_snapshots_ignored", "future_snapshots_clamped")} == {
        "syncs": 10, "snapshots_applied": 4, "stale_snapshots_ignored": 4,
        "out_of_order_snapshots_ignored": 2, "future_snapshots_clamped": 2}


def test_missing_query_counter_and_gauge_follow_the_streaks(desk: Desk) -> None:
    # Kills `missing_queries += 1` -> `= 1` in SafetySync._query_missing.
    # Kills `tally.missing += 1` / `tally.queries += 1` -> `= 1` in SafetySync._sweep too.
    first, second = tracked_pair(desk)
    reports = absent_until_due(desk)
    assert [r.missing for r in reports] == [2] * len(reports) and reports[-1].queries == 2
    counters = desk.engine.counters()
    assert counters["sync_missing_queries"] == 2 and counters["sync_missing_tracked"] == 2
    desk.snap(desk.row(first))  # listed again: its streak ends
    assert desk.engine.counters()["sync_missing_tracked"] == 1
    assert desk.engine.sync.absence_confirmed(second)


def test_sync_thresholds_come_from_the_config() -> None:
    config = LifecycleConfig(orders=OrdersConfig(), sync=SyncConfig(missing_snapshots=2,
                                                                    missing_min_s=5.0))
    desk = Desk(config)
    listed, missing = tracked_pair(desk)
    desk.snap(desk.row(listed))
    desk.advance(5.0)
    assert desk.snap(desk.row(listed)).queries == 1
    assert desk.queries() == [QueryOrderStatus(cloid=missing.cloid, oid=missing.oid)]


def test_each_acknowledgement_from_a_snapshot_is_counted(desk: Desk) -> None:
    # Kills `acks_from_snapshot += 1` -> `= 1` in SafetySync._accept.
    first, second = desk.sent("100"), desk.sent("99")
    report = desk.snap(desk.row(first, oid=desk.new_oid()), desk.row(second, oid=desk.new_oid()))
    assert report.acks == 2 and desk.engine.counters()["sync_acks_from_snapshot"] == 2


def test_our_cloid_listed_under_an_oid_of_another_order_is_a_conflict_not_an_ack(
    desk: Desk,
) -> None:
    # Kills the mutants of SafetySync._accept's conflict branch (the holder lookup, its
    # test, the anomaly's time and order, and `return False`).
    other = desk.resting("99")
    order = desk.sent("100")
    assert other.oid is not None
    desk.advance(1)
    report = desk.snap(desk.row(order, oid=other.oid))
    assert report.acks == 0 and order.state is S.EXPECTED and order.oid is None
    (conflict,) = [a for a in desk.engine.anomalies if a.kind is AnomalyKind.OID_CONFLICT]
    assert (conflict.at, conflict.order_id) == (desk.now, order.label)
    assert desk.queries() == [QueryOrderStatus(cloid=order.cloid, oid=None)]
    assert desk.engine.counters()["sync_acks_from_snapshot"] == 0


# --- rows read on the slow path -------------------------------------------------------------


class _Decimal(Decimal):
    """A Decimal subclass: valid, but read field by field."""


def test_a_row_on_the_slow_path_accepts_oid_zero(desk: Desk) -> None:
    # Kills `oid < 0` -> `oid <= 0` / `< 1` in snapshot._problem.
    row = msgspec.structs.replace(desk.foreign(0), price=_Decimal("105"))
    assert row_problem(row) is None
    assert row_problem(msgspec.structs.replace(row, oid=Oid(-1))) == (
        "oid is not an integer >= 0: -1")


@pytest.mark.parametrize("field", ["price", "size"])
def test_a_row_with_a_float_price_or_size_is_dropped(desk: Desk, field: str) -> None:
    # Kills `type(size) is Decimal` -> `is not Decimal` in row_problem's fast path.
    row = msgspec.structs.replace(desk.foreign(3), **{field: 2.0})
    assert row_problem(row) == f"{field} is not a finite Decimal > 0: 2.0"
    assert desk.snap(row).malformed == 1


# --- the absence streak on its own ------------------------------------------------------------


def test_an_absence_streak_is_due_its_query_once_by_default(desk: Desk) -> None:
    # Kills the default `queried=True` -> `False` of Absences.absent.
    absences = Absences()
    order = desk.resting()
    sync = DEFAULTS.sync
    due = [absences.absent(order, MISSING_MIN_S * i / (MISSING_SNAPSHOTS - 1), sync)
           for i in range(MISSING_SNAPSHOTS + 1)]
    assert due == [None] * (MISSING_SNAPSHOTS - 1) + [(MISSING_SNAPSHOTS, MISSING_MIN_S), None]
    assert absences[order] == (MISSING_SNAPSHOTS + 1, 0.0, True)


# --- the orphan policy counts every orphan it handles -------------------------------------------


@pytest.mark.parametrize(("policy", "counter", "field"), [
    (OrphanPolicy.CANCEL, "orphans_cancelled", "cancelled"),
    (OrphanPolicy.IGNORE, "orphans_ignored", "ignored"),
    (OrphanPolicy.ADOPT, "orphans_adopted", "adopted"),
])
def test_two_aged_orphans_count_two(policy: OrphanPolicy, counter: str, field: str) -> None:
    # Kills `+= 1` -> `= 1` for each tally and counter of OrphanHandler.handle_aged.
    desk = Desk(LifecycleConfig(orders=OrdersConfig(orphan_policy=policy)))
    earlier = CloidFactory("test", run_id=0)  # our namespace, an earlier run
    cloid = None if policy is OrphanPolicy.IGNORE else earlier.next()
    rows = [desk.foreign(1, cloid=cloid), desk.foreign(2, cloid=earlier.next() if cloid else None)]
    desk.snap(*rows)
    desk.engine.on_timer(desk.advance(DEFAULTS.orders.orphan_grace_s))
    report = desk.snap(*rows)
    assert getattr(report, field) == 2 and report.aged == 2
    assert desk.engine.counters()[f"sync_{counter}"] == 2


def test_two_rows_of_this_run_are_each_adopted_and_counted(desk: Desk) -> None:
    # Kills `+= 1` -> `= 1` in OrphanHandler.adopt_own.
    lost = CloidFactory("test", run_id=1, start=900)
    report = desk.snap(desk.foreign(7, cloid=lost.next()), desk.foreign(8, cloid=lost.next()))
    assert report.own_adopted == 2
    assert desk.engine.counters()["sync_own_orders_adopted"] == 2


def test_each_asset_mismatch_is_counted_and_recorded_when_it_happened(desk: Desk) -> None:
    # Kills `asset_mismatches += 1` -> `= 1` and the anomaly's time in _alarm_mismatch.
    desk.snap(desk.foreign(1, coin="ETH"))
    desk.advance(INTERVAL_S)
    desk.snap(desk.foreign(1, coin="ETH"))
    assert desk.engine.counters()["sync_asset_mismatches"] == 2
    times = [a.at for a in desk.engine.anomalies if a.kind is AnomalyKind.ASSET_MISMATCH]
    assert times == [desk.now - INTERVAL_S, desk.now]


def test_each_deferred_row_new_candidate_and_vanished_orphan_is_counted(desk: Desk) -> None:
    # Kills `+= 1` -> `= 1` (and `-= 1`, `+= 2`) for the deferred rows, the new
    # candidates and the vanished orphans, in the tally and the counters, and
    # `candidates += 1` -> `= 1` and `at=now` -> `at=None` in SafetySync._report.
    twins = [desk.sent("100"), desk.sent("101")]
    rows = [desk.row(o, cloid=False, oid=desk.new_oid()) for o in twins]
    report = desk.snap(*rows, desk.foreign(1), desk.foreign(2))
    assert (report.deferred, report.new_candidates, report.candidates) == (2, 2, 2)
    assert report.at == desk.now and report.taken_at == desk.now
    report = desk.snap(*rows)  # the two candidates vanish
    assert report.vanished == 2
    counters = desk.engine.counters()
    assert (counters["sync_rows_deferred"], counters["sync_orphans_seen"],
            counters["sync_orphans_vanished"]) == (4, 2, 2)


def test_an_unreadable_row_is_recorded_when_the_sync_ran(desk: Desk) -> None:
    # Kills `now` -> `None` for the anomaly of a dropped row in read_rows.
    desk.advance(3)
    desk.snap(msgspec.structs.replace(desk.foreign(1), oid=Oid(-1)))
    (dropped,) = list(desk.engine.anomalies)
    assert (dropped.kind, dropped.at, dropped.order_id) == (AnomalyKind.UNKNOWN_ORDER, 3.0, None)


def test_an_order_whose_cancel_failed_gets_its_query_from_the_same_streak(desk: Desk) -> None:
    # Kills `queried=not cancelling` dropped in SafetySync._sweep: a CANCELLING order's
    # streak must not spend the one query it gets once it is TRACKED again.
    order, other = tracked_pair(desk)
    desk.engine.cancel(order, desk.now)
    desk.engine.commands_to_send()
    absent_until_due(desk, other)
    assert desk.queries() == [] and desk.engine.sync.absence_confirmed(order)
    desk.engine.handle(CancelRejected(cloid=order.cloid, oid=order.oid, order_gone=False),
                       desk.now)
    assert order.state is S.TRACKED
    desk.advance(INTERVAL_S)
    assert desk.snap(desk.row(other)).queries == 1
    assert desk.queries() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]


def test_an_ignored_orphan_that_ended_is_forgotten(desk: Desk) -> None:
    # Kills `or` -> `and` in the sweep's clean-up of the ignored orphans: one that
    # filled is a tombstone, still registered but no longer aged.
    desk = Desk(LifecycleConfig(orders=OrdersConfig(orphan_policy=OrphanPolicy.IGNORE)))
    desk.snap(desk.foreign(1))
    desk.engine.on_timer(desk.advance(DEFAULTS.orders.orphan_grace_s))
    assert desk.snap(desk.foreign(1)).ignored == 1
    (ignored,) = desk.engine.sync.checkpoint().ignored
    desk.engine.handle(OrderFilled(oid=Oid(1), tid=Tid(1), side=Side.SELL, price=D(105),
                                   size=D(2)), desk.now)
    assert ignored.state is S.GONE and ignored in desk.engine.registry
    desk.snap()
    assert desk.engine.sync.checkpoint().ignored == ()
