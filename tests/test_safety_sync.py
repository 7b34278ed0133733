"""The safety sync: snapshots in, engine events and commands out, on a manual clock."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from lifecycle.config import LifecycleConfig, MarketConfig, OrdersConfig, OrphanPolicy
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.clock import ManualClock
from lifecycle.core.commands import CancelOrder, QueryOrderStatus
from lifecycle.core.errors import TimeWentBackwards, UnknownOrder
from lifecycle.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderModified,
    OrderStatusReport,
    OrphanSeen,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.engine.facade import Engine
from lifecycle.policy.safety_sync import (
    OpenOrder,
    OpenOrdersSnapshot,
    SafetySync,
    SyncReport,
    canonical_coin,
)
from lifecycle.policy.snapshot import row_problem

S = OrderState
GRACE = OrdersConfig().orphan_grace_s
PROTECTION = OrdersConfig().protection_s


class Desk:
    """An engine and its safety sync on a manual clock, with shortcuts."""

    def __init__(
        self,
        *,
        policy: OrphanPolicy = OrphanPolicy.CANCEL,
        coin: str = "BTC",
        dex: str = "",
    ) -> None:
        config = LifecycleConfig(
            orders=OrdersConfig(orphan_policy=policy),
            market=MarketConfig(coin=coin, dex=dex),
        )
        self.clock = ManualClock()
        self.engine = Engine(config, cloids=CloidFactory("test", run_id=1), verify=True)
        self.sync = SafetySync(self.engine)
        self.coin = self.sync.coin
        self._next_oid = 1000

    @property
    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        return self.clock.advance(seconds)

    def oid(self) -> Oid:
        self._next_oid += 1
        return Oid(self._next_oid)

    def sent(self, price: str = "100") -> Order:
        """Place an order and drain its placement (EXPECTED)."""
        order = self.engine.place(Side.BUY, Decimal(price), Decimal("1"), self.now)
        self.engine.commands_to_send()
        return order

    def resting(self, price: str = "100") -> Order:
        """An acknowledged order (FINALIZED_PROTECTED)."""
        order = self.sent(price)
        self.engine.handle(OrderAccepted(cloid=order.cloid, oid=self.oid()), self.now)
        return order

    def tracked(self, price: str = "100") -> Order:
        """An acknowledged order past its protection (TRACKED)."""
        order = self.resting(price)
        self.engine.on_timer(self.advance(PROTECTION))
        return order

    def row_of(self, order: Order, *, oid: Oid | None = None, cloid: bool = True) -> OpenOrder:
        """The snapshot row of one of our orders."""
        row_oid = oid if oid is not None else order.oid
        assert row_oid is not None
        return OpenOrder(
            coin=self.coin,
            oid=row_oid,
            cloid=order.cloid if cloid else None,
            side=order.side,
            price=order.price,
            size=order.size,
        )

    def foreign(
        self, oid: int, *, cloid: Cloid | None = None, coin: str | None = None
    ) -> OpenOrder:
        """A row nobody here placed."""
        return OpenOrder(
            coin=coin if coin is not None else self.coin,
            oid=Oid(oid),
            cloid=cloid,
            side=Side.SELL,
            price=Decimal("105"),
            size=Decimal("2"),
        )

    def snap(self, *rows: OpenOrder, age: float = 0.0) -> SyncReport:
        """Apply a snapshot of ``rows`` taken ``age`` seconds ago."""
        snapshot = OpenOrdersSnapshot(taken_at=self.now - age, orders=rows)
        return self.sync.apply(snapshot, self.now)

    def age_orphans(self) -> None:
        """Let the orphan grace run out (the driver's timer call)."""
        self.engine.on_timer(self.advance(GRACE))


@pytest.fixture
def desk() -> Desk:
    return Desk()


def earlier_run_cloid() -> Cloid:
    """A cloid of our namespace from another run: not registered, but ours."""
    return CloidFactory("test", run_id=0).next()


def foreign_cloid() -> Cloid:
    return CloidFactory("somebody-else", run_id=1).next()


# --- coin names ---------------------------------------------------------------------


def test_canonical_coin_bare_name_on_builder_dex_is_prefixed() -> None:
    assert canonical_coin("TSLA", "xyz") == "xyz:TSLA"


def test_canonical_coin_prefixed_or_main_dex_name_is_unchanged() -> None:
    assert canonical_coin("xyz:TSLA", "xyz") == "xyz:TSLA"
    assert canonical_coin("xyz:TSLA") == "xyz:TSLA"
    assert canonical_coin("BTC") == "BTC"
    assert canonical_coin("kPEPE") == "kPEPE"  # case is kept: names match exactly


def test_sync_bare_coin_with_dex_matches_prefixed_rows_not_main_dex_rows() -> None:
    desk = Desk(coin="TSLA", dex="xyz")
    assert desk.sync.coin == "xyz:TSLA"
    order = desk.tracked()
    main_dex = desk.foreign(7, coin="TSLA")  # the main dex's TSLA is another market
    report = desk.snap(desk.row_of(order), main_dex)
    assert report.exchange_orders == 1
    assert report.other_coin_orders == 1
    assert report.missing == 0
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(7))  # not an orphan of ours: ignored


def test_sync_prefixed_coin_matches_prefixed_rows() -> None:
    desk = Desk(coin="xyz:TSLA", dex="xyz")
    report = desk.snap(desk.foreign(8, coin="xyz:TSLA"))
    assert report.exchange_orders == 1
    assert desk.engine.order(Oid(8)).state is S.ORPHAN_CANDIDATE


def test_sync_coin_in_other_letter_case_is_not_our_coin() -> None:
    desk = Desk(coin="kPEPE")
    report = desk.snap(desk.foreign(9, coin="KPEPE"))
    assert report.exchange_orders == 0
    assert report.asset_mismatch


# --- stale and out-of-order snapshots ------------------------------------------------


def test_stale_snapshot_is_ignored_counted_and_completes_the_sync(desk: Desk) -> None:
    desk.advance(100)
    max_age = desk.engine.config.sync.snapshot_max_age_s
    report = desk.snap(desk.foreign(10), age=max_age + 0.5)
    assert report.stale and not report.applied
    assert report.next_sync_at == desk.now + desk.engine.config.sync.interval_s
    assert desk.sync.next_sync_at == report.next_sync_at
    assert report.exchange_orders == 0
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(10))
    counters = desk.sync.counters()
    assert counters["syncs"] == 1
    assert counters["stale_snapshots_ignored"] == 1
    assert counters["snapshots_applied"] == 0


def test_snapshot_exactly_max_age_old_is_applied(desk: Desk) -> None:
    desk.advance(100)
    report = desk.snap(desk.foreign(11), age=desk.engine.config.sync.snapshot_max_age_s)
    assert report.applied
    assert desk.engine.order(Oid(11)).state is S.ORPHAN_CANDIDATE


def test_snapshot_older_than_last_applied_is_ignored(desk: Desk) -> None:
    desk.advance(100)
    desk.snap(age=1.0)
    report = desk.snap(desk.foreign(12), age=2.0)
    assert report.out_of_order and not report.applied
    assert desk.sync.counters()["out_of_order_snapshots_ignored"] == 1
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(12))


def test_next_sync_at_is_none_before_the_first_sync(desk: Desk) -> None:
    assert desk.sync.next_sync_at is None
    desk.snap()
    assert desk.sync.next_sync_at == desk.engine.config.sync.interval_s


def test_apply_with_time_going_backwards_raises_and_changes_nothing(desk: Desk) -> None:
    desk.engine.on_timer(50.0)
    snapshot = OpenOrdersSnapshot(taken_at=40.0, orders=(desk.foreign(13),))
    with pytest.raises(TimeWentBackwards):
        desk.sync.apply(snapshot, 45.0)
    assert desk.sync.counters()["syncs"] == 0
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(13))


# --- asset mismatch ------------------------------------------------------------------


def test_orders_listed_none_for_our_coin_raise_mismatch_with_three_samples(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    coins = ["ETH", "ETH", "SOL", "HYPE", "DOGE"]
    rows = [desk.foreign(20 + i, coin=coin) for i, coin in enumerate(coins)]
    with caplog.at_level(logging.WARNING, logger="lifecycle.safety_sync"):
        report = desk.snap(*rows)
    assert report.asset_mismatch
    assert report.other_coin_orders == 5
    (anomaly,) = list(desk.engine.anomalies)
    assert anomaly.kind is AnomalyKind.ASSET_MISMATCH
    assert "'ETH', 'SOL', 'HYPE'" in anomaly.detail
    assert "DOGE" not in anomaly.detail
    assert desk.sync.counters()["asset_mismatches"] == 1
    (warning,) = [r for r in caplog.records if r.name == "lifecycle.safety_sync"]
    assert warning.levelno == logging.WARNING
    assert warning.sample_coins == ("ETH", "SOL", "HYPE")  # type: ignore[attr-defined]


def test_other_coins_beside_ours_raise_no_alarm_and_are_not_orphans(desk: Desk) -> None:
    order = desk.tracked()
    report = desk.snap(desk.row_of(order), desk.foreign(30, coin="ETH"))
    assert not report.asset_mismatch
    assert len(desk.engine.anomalies) == 0
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(30))


def test_empty_snapshot_raises_no_alarm(desk: Desk) -> None:
    report = desk.snap()
    assert not report.asset_mismatch
    assert desk.engine.anomalies.counts[AnomalyKind.ASSET_MISMATCH] == 0


# --- our cloid in the snapshot -------------------------------------------------------


def test_our_cloid_listed_while_expected_is_acknowledged_not_orphaned(desk: Desk) -> None:
    # The classic false orphan: the sync sees the order before its placement
    # response arrives.
    order = desk.sent()
    oid = desk.oid()
    report = desk.snap(desk.row_of(order, oid=oid), age=0.2)
    assert order.state is S.FINALIZED_PROTECTED
    assert order.oid == oid
    assert report.acks == 1 and report.new_candidates == 0
    assert desk.sync.counters()["acks_from_snapshot"] == 1
    # The placement response arrives late: absorbed.
    desk.engine.handle(OrderAccepted(cloid=order.cloid, oid=oid), desk.advance(0.5))
    assert order.state is S.FINALIZED_PROTECTED
    # Later syncs, well past the orphan grace, still list it as ours.
    desk.age_orphans()
    desk.snap(desk.row_of(order))
    desk.engine.on_timer(desk.advance(PROTECTION))
    desk.snap(desk.row_of(order))
    assert order.state is S.TRACKED
    assert desk.engine.commands_to_send() == []
    assert len(desk.engine.anomalies) == 0
    assert desk.sync.counters()["orphans_seen"] == 0


def test_our_cloid_is_matched_in_canonical_form(desk: Desk) -> None:
    order = desk.sent()
    assert order.cloid is not None
    row = desk.row_of(order, oid=desk.oid())
    wire = OpenOrder(
        coin=row.coin, oid=row.oid, cloid="0X" + order.cloid[2:].upper(),  # type: ignore[arg-type]
        side=row.side, price=row.price, size=row.size,
    )
    desk.snap(wire)
    assert order.state is S.FINALIZED_PROTECTED
    assert desk.sync.counters()["orphans_seen"] == 0


def test_our_cloid_is_matched_before_an_oid_of_another_order(desk: Desk) -> None:
    other = desk.tracked(price="99")
    order = desk.sent()
    assert other.oid is not None
    # The row's oid names another order of ours; the cloid decides.
    desk.snap(desk.row_of(order, oid=other.oid))
    assert order.state is S.EXPECTED
    assert other.state is S.TRACKED
    assert desk.engine.anomalies.counts[AnomalyKind.OID_CONFLICT] == 1
    assert QueryOrderStatus(cloid=order.cloid, oid=None) in desk.engine.commands_to_send()


def test_known_oid_without_cloid_is_ours(desk: Desk) -> None:
    order = desk.tracked()
    report = desk.snap(desk.row_of(order, cloid=False))
    assert report.new_candidates == 0 and report.missing == 0
    assert order.state is S.TRACKED


def test_cloidless_row_like_an_expected_order_is_deferred_not_orphaned(desk: Desk) -> None:
    order = desk.sent()
    oid = desk.oid()
    report = desk.snap(desk.row_of(order, oid=oid, cloid=False))
    assert report.deferred == 1 and report.new_candidates == 0
    desk.engine.handle(OrderAccepted(cloid=order.cloid, oid=oid), desk.advance(0.3))
    report = desk.snap(desk.row_of(order, cloid=False))
    assert report.deferred == 0 and report.new_candidates == 0
    assert order.state is S.FINALIZED_PROTECTED


def test_candidate_later_listed_under_our_cloid_is_dropped_and_order_acknowledged(
    desk: Desk,
) -> None:
    order = desk.sent()
    oid = desk.oid()
    row = desk.row_of(order, oid=oid, cloid=False)
    unlike = OpenOrder(  # a different size: not deferred, so it became a candidate
        coin=row.coin, oid=oid, cloid=None, side=row.side, price=row.price, size=Decimal("3")
    )
    desk.snap(unlike)
    assert desk.engine.order(oid).state is S.ORPHAN_CANDIDATE
    desk.snap(desk.row_of(order, oid=oid), age=0.0)
    assert desk.engine.order(oid) is order
    assert order.state is S.FINALIZED_PROTECTED
    assert desk.engine.commands_to_send() == []


def test_new_oid_under_our_cloid_while_modifying_completes_the_modify(desk: Desk) -> None:
    order = desk.tracked()
    old_oid = order.oid
    desk.engine.modify(order, Decimal("101"), Decimal("1"), desk.advance(1))
    desk.engine.commands_to_send()
    new_oid = desk.oid()
    report = desk.snap(desk.row_of(order, oid=new_oid))
    assert order.state is S.FINALIZED_PROTECTED
    assert order.oid == new_oid and old_oid in order.prior_oids
    assert report.acks == 1


# --- orphans -------------------------------------------------------------------------


def test_unknown_row_becomes_candidate_and_ages_after_grace(desk: Desk) -> None:
    report = desk.snap(desk.foreign(40))
    candidate = desk.engine.order(Oid(40))
    assert candidate.state is S.ORPHAN_CANDIDATE
    assert report.new_candidates == 1 and report.candidates == 1
    desk.engine.on_timer(desk.advance(GRACE - 0.1))
    report = desk.snap(desk.foreign(40))
    assert candidate.state is S.ORPHAN_CANDIDATE
    assert report.aged == 0 and report.new_candidates == 0
    desk.engine.on_timer(desk.advance(0.1))
    assert candidate.state is S.AGED_ORPHAN
    assert desk.engine.commands_to_send() == []  # nothing is cancelled during grace


def test_aged_orphan_under_cancel_policy_is_cancelled(desk: Desk) -> None:
    desk.snap(desk.foreign(41))
    desk.age_orphans()
    report = desk.snap(desk.foreign(41))
    orphan = desk.engine.order(Oid(41))
    assert orphan.state is S.CANCELLING
    assert report.aged == 1 and report.cancelled == 1
    assert desk.engine.commands_to_send() == [CancelOrder(cloid=None, oid=Oid(41))]
    assert desk.sync.counters()["orphans_cancelled"] == 1


def test_aged_orphan_of_our_namespace_under_cancel_policy_is_cancelled(desk: Desk) -> None:
    desk.snap(desk.foreign(42, cloid=earlier_run_cloid()))
    desk.age_orphans()
    desk.snap(desk.foreign(42, cloid=earlier_run_cloid()))
    assert desk.engine.order(Oid(42)).state is S.CANCELLING


def test_aged_orphan_of_our_namespace_under_adopt_policy_is_tracked() -> None:
    desk = Desk(policy=OrphanPolicy.ADOPT)
    cloid = earlier_run_cloid()
    desk.snap(desk.foreign(43, cloid=cloid))
    desk.age_orphans()
    report = desk.snap(desk.foreign(43, cloid=cloid))
    adopted = desk.engine.order(cloid)
    assert adopted.state is S.TRACKED
    assert adopted.history[-1].trigger is Trigger.ADOPT
    assert report.adopted == 1
    assert desk.engine.commands_to_send() == []
    assert desk.sync.counters()["orphans_adopted"] == 1


def test_foreign_aged_orphan_under_adopt_policy_is_cancelled() -> None:
    desk = Desk(policy=OrphanPolicy.ADOPT)
    cloid = foreign_cloid()
    desk.snap(desk.foreign(44, cloid=cloid))
    desk.age_orphans()
    desk.snap(desk.foreign(44, cloid=cloid))
    assert desk.engine.order(cloid).state is S.CANCELLING
    assert desk.engine.commands_to_send() == [CancelOrder(cloid=cloid, oid=Oid(44))]


def test_foreign_aged_orphan_under_ignore_policy_is_left_alone_and_reported() -> None:
    desk = Desk(policy=OrphanPolicy.IGNORE)
    desk.snap(desk.foreign(45))
    desk.age_orphans()
    first = desk.snap(desk.foreign(45))
    second = desk.snap(desk.foreign(45))
    assert desk.engine.order(Oid(45)).state is S.AGED_ORPHAN
    assert first.ignored == 1 and second.ignored == 1
    assert desk.engine.commands_to_send() == []
    assert desk.sync.counters()["orphans_ignored"] == 1  # reported once per order


def test_aged_orphan_of_our_namespace_under_ignore_policy_is_adopted() -> None:
    desk = Desk(policy=OrphanPolicy.IGNORE)
    cloid = earlier_run_cloid()
    desk.snap(desk.foreign(46, cloid=cloid))
    desk.age_orphans()
    desk.snap(desk.foreign(46, cloid=cloid))
    assert desk.engine.order(cloid).state is S.TRACKED
    assert desk.engine.commands_to_send() == []


def test_candidate_vanishing_is_dropped_without_cancel_and_grace_restarts(desk: Desk) -> None:
    desk.snap(desk.foreign(47))
    report = desk.snap()  # gone from a fresh snapshot
    assert report.vanished == 1
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(47))
    desk.advance(GRACE - 1)
    desk.snap(desk.foreign(47))  # back: a new candidate, grace from now
    again = desk.engine.order(Oid(47))
    desk.engine.on_timer(desk.advance(GRACE - 0.5))
    assert again.state is S.ORPHAN_CANDIDATE
    desk.snap(desk.foreign(47))
    assert again.state is S.ORPHAN_CANDIDATE
    assert desk.engine.commands_to_send() == []
    assert desk.sync.counters()["orphans_vanished"] == 1


def test_aged_orphan_vanishing_is_dropped_without_cancel(desk: Desk) -> None:
    desk.snap(desk.foreign(48))
    desk.age_orphans()
    assert desk.engine.order(Oid(48)).state is S.AGED_ORPHAN
    desk.snap()
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(48))
    assert desk.engine.commands_to_send() == []


def test_stale_snapshot_does_not_make_candidates_vanish(desk: Desk) -> None:
    desk.snap(desk.foreign(49))
    desk.advance(30)
    report = desk.snap(age=20)
    assert report.stale and report.vanished == 0
    assert desk.engine.order(Oid(49)).state is S.ORPHAN_CANDIDATE


# --- missing orders ------------------------------------------------------------------


def test_tracked_missing_from_three_snapshots_over_min_span_gets_one_query(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    order = desk.tracked()
    interval = desk.engine.config.sync.interval_s  # 5 s: 3 snapshots span 10 s
    with caplog.at_level(logging.WARNING, logger="lifecycle.safety_sync"):
        reports = [desk.snap()]
        reports += [_snap_after(desk, interval) for _ in range(3)]
    assert [r.queries for r in reports] == [0, 0, 1, 0]
    assert [r.missing for r in reports] == [1, 1, 1, 1]
    assert order.state is S.TRACKED
    assert desk.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]
    assert desk.sync.counters()["missing_queries"] == 1
    (warning,) = [r for r in caplog.records if "status query" in r.getMessage()]
    assert warning.missing_snapshots == 3  # type: ignore[attr-defined]


def _snap_after(desk: Desk, seconds: float, *rows: OpenOrder) -> SyncReport:
    desk.advance(seconds)
    return desk.snap(*rows)


def test_tracked_missing_from_three_snapshots_within_min_span_gets_no_query(desk: Desk) -> None:
    desk.tracked()
    reports = [desk.snap(), _snap_after(desk, 4), _snap_after(desk, 4)]  # spanning 8 s
    assert sum(r.queries for r in reports) == 0
    assert desk.engine.commands_to_send() == []
    assert _snap_after(desk, 2).queries == 1  # four snapshots over 10 s


def test_tracked_order_listed_again_resets_its_missing_count(desk: Desk) -> None:
    order = desk.tracked()
    desk.snap()
    _snap_after(desk, 5)
    _snap_after(desk, 5, desk.row_of(order))
    reports = [_snap_after(desk, 5), _snap_after(desk, 5)]
    assert sum(r.queries for r in reports) == 0
    assert _snap_after(desk, 5).queries == 1


def test_stale_snapshots_do_not_count_towards_missing(desk: Desk) -> None:
    desk.tracked()
    desk.advance(20)
    max_age = desk.engine.config.sync.snapshot_max_age_s
    reports = [desk.snap(age=max_age + 1)]
    for _ in range(4):
        reports.append(_snap_after(desk, 5))
        desk.sync.apply(OpenOrdersSnapshot(taken_at=desk.now - max_age - 1, orders=()), desk.now)
    assert [r.missing for r in reports] == [0, 1, 1, 1, 1]
    assert [r.queries for r in reports] == [0, 0, 0, 1, 0]


def test_expected_and_protected_orders_are_never_missing(desk: Desk) -> None:
    expected = desk.sent(price="98")
    protected = desk.resting(price="99")
    for _ in range(4):
        report = _snap_after(desk, 3)  # 9 s: protection not over
        assert report.missing == 0 and report.queries == 0
    assert expected.state is S.EXPECTED and protected.state is S.FINALIZED_PROTECTED
    assert desk.sync.counters()["missing_tracked"] == 0
    assert desk.engine.commands_to_send() == []


def test_protected_absence_does_not_count_once_tracked(desk: Desk) -> None:
    order = desk.resting()
    desk.snap()
    _snap_after(desk, 5)
    desk.engine.on_timer(desk.advance(PROTECTION - 5))
    assert order.state is S.TRACKED
    reports = [desk.snap(), _snap_after(desk, 5)]
    assert [r.queries for r in reports] == [0, 0]
    assert _snap_after(desk, 5).queries == 1


def test_cancelling_order_absence_does_not_count(desk: Desk) -> None:
    order = desk.tracked()
    desk.engine.cancel(order, desk.now)
    desk.engine.commands_to_send()
    reports = [desk.snap(), _snap_after(desk, 5), _snap_after(desk, 5), _snap_after(desk, 5)]
    assert sum(r.missing for r in reports) == 0
    assert desk.engine.commands_to_send() == []
    assert order.state is S.CANCELLING


def test_modifying_order_missing_long_enough_gets_a_query(desk: Desk) -> None:
    order = desk.tracked()
    desk.engine.modify(order, Decimal("101"), Decimal("1"), desk.now)
    desk.engine.commands_to_send()
    reports = [desk.snap(), _snap_after(desk, 5), _snap_after(desk, 5)]
    assert [r.queries for r in reports] == [0, 0, 1]
    assert order.state is S.MODIFYING


def test_status_canceled_after_missing_query_ends_the_order(desk: Desk) -> None:
    order = desk.tracked()
    desk.snap()
    _snap_after(desk, 5)
    _snap_after(desk, 5)
    assert desk.engine.commands_to_send() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]
    desk.engine.handle(
        OrderStatusReport(
            cloid=order.cloid, oid=order.oid, outcome=StatusOutcome.CANCELED,
            status="marginCanceled",
        ),
        desk.advance(0.4),
    )
    assert order.state is S.GONE
    assert order.reason is GoneReason.CANCELED and order.status == "marginCanceled"
    _snap_after(desk, 1)
    assert desk.sync.counters()["missing_tracked"] == 0


def test_missing_counts_are_forgotten_when_orders_leave_the_registry(desk: Desk) -> None:
    order = desk.tracked()
    desk.snap()
    assert desk.sync.counters()["missing_tracked"] == 1
    desk.engine.handle(OrderCanceled(cloid=order.cloid, oid=order.oid), desk.advance(1))
    desk.engine.on_timer(desk.advance(desk.engine.config.orders.tombstone_s))
    with pytest.raises(UnknownOrder):
        desk.engine.order(order.cloid)  # type: ignore[arg-type]
    desk.snap()
    assert desk.sync.counters()["missing_tracked"] == 0


def test_modified_order_is_protected_again_and_its_absence_stops_counting(desk: Desk) -> None:
    order = desk.tracked()
    desk.snap()
    desk.engine.modify(order, Decimal("101"), Decimal("1"), desk.advance(5))
    desk.engine.commands_to_send()
    desk.snap()
    assert order.oid is not None
    desk.engine.handle(
        OrderModified(cloid=order.cloid, oid=order.oid, price=Decimal("101"), size=Decimal("1")),
        desk.advance(0.1),
    )
    # The modify kept its oid and protection starts again: no count meanwhile.
    assert order.state is S.FINALIZED_PROTECTED
    report = _snap_after(desk, 4.9)
    assert report.missing == 0
    assert desk.sync.counters()["missing_tracked"] == 0


# --- logging -------------------------------------------------------------------------


def test_each_sync_logs_one_info_summary_with_fields(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    order = desk.tracked()
    with caplog.at_level(logging.INFO, logger="lifecycle.safety_sync"):
        desk.snap(desk.row_of(order), desk.foreign(60))
    (summary,) = [
        r for r in caplog.records if r.name == "lifecycle.safety_sync" and r.levelno == logging.INFO
    ]
    fields = vars(summary)
    assert fields["exchange_orders"] == 2
    assert fields["working_orders"] == 1
    assert fields["orphan_candidates"] == 1
    assert fields["aged_orphans"] == 0
    assert fields["missing_orders"] == 0
    assert fields["asset_mismatch"] is False


# --- snapshot times, unreadable rows, this run's cloids ---------------------------------


def test_future_snapshot_is_applied_as_taken_now_and_logged(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk.advance(100)
    with caplog.at_level(logging.WARNING, logger="lifecycle.safety_sync"):
        report = desk.snap(desk.foreign(20), age=-2.5)
    assert report.applied and report.ahead_s == 2.5 and report.taken_at == desk.now
    assert desk.engine.order(Oid(20)).state is S.ORPHAN_CANDIDATE
    assert "2.500s after now" in caplog.text
    desk.advance(0.5)
    assert desk.snap(desk.foreign(20)).applied  # not "before the last applied"


@pytest.mark.parametrize("taken_at", [float("nan"), float("inf"), None, "100"])
def test_snapshot_without_a_usable_time_is_ignored_as_stale(
    desk: Desk, taken_at: object
) -> None:
    desk.advance(100)
    rows = (desk.foreign(21),)
    snapshot = OpenOrdersSnapshot(taken_at=taken_at, orders=rows)  # type: ignore[arg-type]
    report = desk.sync.apply(snapshot, desk.now)
    assert report.stale and not report.applied
    with pytest.raises(UnknownOrder):
        desk.engine.order(Oid(21))
    assert desk.snap(desk.foreign(21)).applied  # nothing poisoned
    assert desk.sync.counters()["stale_snapshots_ignored"] == 1


def test_unreadable_rows_are_dropped_each_an_anomaly_and_counted(desk: Desk) -> None:
    order = desk.tracked()
    bad_oid = OpenOrder(
        coin=desk.coin, oid=True, side=Side.BUY, price=Decimal(1), size=Decimal(1)  # type: ignore[arg-type]
    )
    negative = OpenOrder(
        coin=desk.coin, oid=Oid(-1), side=Side.BUY, price=Decimal(1), size=Decimal(1)
    )
    report = desk.snap(bad_oid, desk.row_of(order), negative)
    assert report.applied and report.malformed == 2 and report.missing == 0
    details = [a.detail for a in desk.engine.anomalies]
    assert len(details) == 2 and all("oid is not an integer >= 0" in d for d in details)
    assert desk.sync.counters()["rows_malformed"] == 2


def test_row_problem_names_what_is_wrong() -> None:
    good = dict(coin="BTC", oid=Oid(1), side=Side.BUY, price=Decimal(1), size=Decimal(1))
    assert row_problem(OpenOrder(**good)) is None  # type: ignore[arg-type]
    for field, value, words in [
        ("coin", 5, "coin is not text"),
        ("oid", 1.0, "oid is not an integer"),
        ("side", "B", "side is not a Side"),
        ("price", 1.5, "price is not a finite Decimal > 0"),
        ("size", Decimal("-1"), "size is not a finite Decimal > 0"),
    ]:
        row = OpenOrder(**{**good, field: value})  # type: ignore[arg-type]
        problem = row_problem(row)
        assert problem is not None and problem.startswith(words), (field, problem)
    assert row_problem(("BTC", 1)) == "not an open-orders row: tuple"


def test_candidate_under_a_cloid_of_this_run_is_adopted_at_once(desk: Desk) -> None:
    mine = CloidFactory("test", run_id=1, start=500).next()  # this run, not registered
    row = desk.foreign(22, cloid=mine)
    seen = OrphanSeen(oid=Oid(22), cloid=mine, side=row.side, price=row.price, size=row.size)
    desk.engine.handle(seen, desk.now)
    assert desk.engine.order(Oid(22)).state is S.ORPHAN_CANDIDATE
    report = desk.snap(row)
    assert report.own_adopted == 1 and report.cancelled == 0
    order = desk.engine.order(Oid(22))
    assert order.state is S.TRACKED
    last = order.history[-1]  # adopted straight from the candidate: no grace faked
    assert (last.source, last.trigger) == (S.ORPHAN_CANDIDATE, Trigger.ADOPT)


def test_unknown_row_under_a_cloid_of_this_run_is_adopted_under_any_policy() -> None:
    for policy in OrphanPolicy:
        desk = Desk(policy=policy)
        mine = CloidFactory("test", run_id=1, start=700).next()
        report = desk.snap(desk.foreign(23, cloid=mine))
        assert (report.own_adopted, report.new_candidates) == (1, 0), policy
        assert desk.engine.order(Oid(23)).state is S.TRACKED
        assert desk.engine.commands_to_send() == []
        assert desk.engine.anomalies.counts[AnomalyKind.UNKNOWN_ORDER] == 1
