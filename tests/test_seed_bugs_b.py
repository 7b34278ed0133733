"""Regression scenarios for the seed system's reported bugs B1..B26 (reference §6).

Each test replays the bug's sequence of events, with its timings, through the
public scenario harness and asserts what must hold here. The thresholds are the
configuration defaults, which are the seed system's. Markets trade a perp with
``sz_decimals`` 2 (HYPE-like), so around 100 one tick is 0.01, i.e. one basis
point. Bugs judged outside order-lifecycle tracking are listed in tests/README.md.
"""

from __future__ import annotations

import pytest
from seed_helpers import (
    BUY,
    GRACE_S,
    INTERVAL_S,
    PROTECTION_S,
    SELL,
    TOMBSTONE_S,
    D,
    S,
    anomalies,
    book,
    cloid_of,
    commands_for,
    cycle,
    deliver_fill,
    ladder,
    scenario,
    syncs_until,
    tracked,
)

from lifecycle.config import OrphanPolicy, ReconcilerConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import (
    CancelOrder,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import UnknownOrder
from lifecycle.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Order
from lifecycle.core.states import WORKING, GoneReason
from lifecycle.policy.reconciler import SKIP_STALE_BOOK, Decision
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot
from lifecycle.testing import BookEntry, Scenario

# --- B1, B2, B3, B4: immediate fills ------------------------------------------------------


@pytest.mark.parametrize("ws_delay_s", [0.1, 8.0])
def test_b01_immediate_fill_moves_position_before_the_ws_fill(ws_delay_s: float) -> None:
    """The seed system dropped an order that filled at placement from pending without
    updating the position; the ws fill came 100-8000 ms later and more orders went out
    against the stale position ("Untracked order filled" for consecutive oids within the
    same millisecond). Here the placement's fill (the REST ``filled`` status carries the
    trade ids) moves the position at once and ends both orders FILLED with no anomaly;
    the ws copy of the same trades, 100 ms or 8 s later (after the tombstone), moves
    nothing."""
    s = scenario()
    first, second = s.place(BUY, "100", "1"), s.place(BUY, "100.01", "1")
    s.advance(0.001)
    tids = []
    for order in (first, second):  # consecutive oids, the same millisecond
        s.rest(order)
        tids.append(s.fill(order))
    s.expect(first, S.GONE, reason=GoneReason.FILLED, filled="1")
    s.expect(second, S.GONE, reason=GoneReason.FILLED, filled="1")
    s.expect_position("2")
    assert anomalies(s) == 0

    s.advance(ws_delay_s)
    for order, tid in zip((first, second), tids, strict=True):
        deliver_fill(s, order, tid, "1")
    s.expect_position("2")
    assert s.engine.ledger.duplicates == 2
    assert anomalies(s) == 0
    assert not s.sent_of(FetchOpenOrders)


def test_b01_order_in_flight_occupies_its_level_so_it_is_not_placed_twice() -> None:
    """Duplicate orders in the seed system came from placing again while the first
    placement's outcome was not reflected. Here an EXPECTED order occupies its ladder
    level: a second reconcile cycle before the response places nothing; once the order
    filled at placement the level is free and exactly one new order goes out."""
    s = scenario()
    target = ladder([("100", "1")])
    cycle(s, target, book(s, "99.9", "100.1"))
    [first] = s.engine.registry.select(states=(S.EXPECTED,))
    s.advance(0.1)
    plan = cycle(s, target, book(s, "99.9", "100.1"))
    assert plan.places == () and plan.bids.kept == (first,)
    assert len(s.sent_of(PlaceOrder)) == 1

    s.rest(first)
    s.fill(first)
    s.expect_position("1")
    s.advance(0.1)
    plan = cycle(s, target, book(s, "99.9", "100.1"))
    assert len(plan.places) == 1 and plan.cancels == () and plan.modifies == ()
    assert len(s.sent_of(PlaceOrder)) == 2


@pytest.mark.parametrize("first_report", ["rest_response", "ws_fill"])
def test_b02_immediate_fill_reported_by_rest_and_ws_counts_once(first_report: str) -> None:
    """The seed system counted an immediate fill twice (REST response and ws fill):
    the position jumped by 2x. Here both reports carry the same trade id, so the
    position moves once whichever arrives first, and the second is a counted duplicate."""
    s = scenario()
    order = s.place(SELL, "100", "2")
    s.rest(order)
    tid = s.fill(order)  # the first report of the trade
    s.advance(0.1 if first_report == "rest_response" else 0.4)
    deliver_fill(s, order, tid, "2")  # the other report of the same trade
    s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="2")
    s.expect_position("-2")
    assert s.engine.ledger.duplicates == 1
    assert anomalies(s) == 0


def test_b03_partial_immediate_fill_leaves_the_rest_working() -> None:
    """The seed system marked an order of 1.0 that filled 0.6 at placement as
    FilledImmediately (terminal), so the 0.4 left resting was invisible to
    reconciliation and orphaned. Here the partial fill keeps the order working with
    0.4 remaining: a cycle targeting 0.4 at its price keeps it (nothing placed or
    cancelled), and the fill of the rest ends it FILLED."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.rest(order)
    s.fill(order, "0.6")  # filled at placement
    s.ack(order)  # the rest rests
    s.expect(order, S.FINALIZED_PROTECTED, filled="0.6")
    assert order.remaining == D("0.4")
    s.expect_position("0.6")

    s.advance(1.0)
    plan = cycle(s, ladder([("100", "0.4")]), book(s, "99.9", "100.1"))
    assert plan.bids.kept == (order,)
    assert plan.places == () and plan.cancels == () and plan.modifies == ()

    s.fill(order)
    s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="1")
    s.expect_position("1")
    assert anomalies(s) == 0


def test_b04_ws_fills_after_partial_immediate_fill_count_by_trade_id() -> None:
    """The seed system de-duplicated immediate fills by oid: the first ws fill of the
    oid cleared it even when it belonged to the resting part, so later fills were
    skipped or double counted (its own test: order 1.0, 0.6 immediate, then several ws
    fills; only the amount beyond 0.6 may move the position). Here fills are keyed by
    trade id: the ws copies of the two immediate trades move nothing, the two fills of
    the resting part move exactly 0.4."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.rest(order)
    immediate = [s.fill(order, "0.4"), s.fill(order, "0.2")]
    s.ack(order)
    s.expect_position("0.6")

    s.advance(0.2)
    for tid, size in zip(immediate, ("0.4", "0.2"), strict=True):
        s.fill(order, size, tid=tid)  # ws copies of the placement's trades
    s.expect_position("0.6")
    s.fill(order, "0.3")
    s.expect_position("0.9")
    s.fill(order, "0.1")
    s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="1")
    s.expect_position("1")
    assert s.engine.ledger.duplicates == 2
    assert anomalies(s) == 0


# --- B5, B6, B7, B8: modifies and ambiguous answers ---------------------------------------


@pytest.mark.parametrize("gone", [False, True], ids=["refused", "order_gone"])
def test_b05_modify_failure_never_leaves_an_untracked_replacement(gone: bool) -> None:
    """After a failed modify the seed system cancelled and placed a replacement whose
    result it ignored: the replacement was never tracked and was later cancelled as an
    orphan. Here a refused modify leaves the order TRACKED at its old price (a "gone"
    answer ends it UNKNOWN and asks its status); the core places nothing by itself.
    The replacement the next cycle places is registered before it is sent, so a
    snapshot listing it before its response acknowledges it and no sync ever cancels it."""
    s = scenario()
    [old] = tracked(s, (BUY, "100", "1"))
    s.modify(old, "100.04", "1")
    s.advance(0.3)
    if gone:
        s.vanish(old)
    s.modify_rejected(old, gone=gone)
    if gone:
        s.expect(old, S.GONE, reason=GoneReason.UNKNOWN)
        assert commands_for(s, old, QueryOrderStatus)
    else:
        s.expect(old, S.TRACKED)
        assert old.price == D("100")
    assert not s.sent_of(PlaceOrder)[1:] and not s.sent_of(CancelOrder)

    s.advance(1.0)
    plan = cycle(s, ladder([("100.6", "1")]), book(s, "100.5", "100.8"))
    assert plan.cancels == (() if gone else (old,))
    replacement = s.engine.order(s.sent_of(PlaceOrder)[-1].cloid)
    s.expect(replacement, S.EXPECTED)
    s.advance(0.001)
    s.rest(replacement)  # booked; the placement response is still on its way
    report = s.snapshot()
    assert report.acks == 1 and report.new_candidates == 0
    s.expect(replacement, S.FINALIZED_PROTECTED)
    syncs_until(s, s.now + PROTECTION_S + GRACE_S + INTERVAL_S)
    s.expect(replacement, S.TRACKED)
    assert not commands_for(s, replacement, CancelOrder)
    assert s.engine.sync.counters()["orphans_seen"] == 0


def test_b06_one_cloid_names_the_order_in_every_request_and_answer() -> None:
    """The seed system's modify fallback registered pending CLOID-A while the place
    call generated CLOID-B, so finalizing A failed and the live order was untracked.
    Here a caller-supplied cloid is the one registered and the one every request for
    the order carries (place, modify, cancel); the exchange's rows and answers under it
    resolve to the same order, across the modify's new oid. Registering a cloid twice
    is refused before anything is sent."""
    s = scenario()
    cloid = Cloid("0x" + "5a" * 16)
    order = s.engine.place(BUY, D("100"), D("1"), s.now, cloid=cloid)
    s.drain()
    with pytest.raises(ValueError, match="already registered"):
        s.engine.place(BUY, D("100"), D("1"), s.now, cloid=cloid)
    assert [c.cloid for c in s.sent_of(PlaceOrder)] == [cloid]
    assert order.cloid == cloid

    s.advance(0.001)
    s.rest(order)
    assert s.snapshot().acks == 1  # listed under our cloid before the response
    s.ack(order)
    s.advance(PROTECTION_S)
    s.modify(order, "100.04", "1")
    s.modify_ack(order)  # a new oid
    assert s.snapshot().new_candidates == 0
    s.cancel(order)
    s.cancel_ack(order)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    cloids = {c.cloid for c in s.sent_of(PlaceOrder)} | {c.cloid for c in s.sent_of(ModifyOrder)}
    assert cloids | {c.cloid for c in s.sent_of(CancelOrder)} == {cloid}
    assert anomalies(s) == 0


def _book_modify(s: Scenario, order: Order, price: str, size: str) -> tuple[Oid, Oid]:
    """Apply a cancel-replace on the scripted book without delivering its answer."""
    [old] = [oid for oid, e in s.exchange.book.items() if e.cloid == order.cloid]
    entry = s.exchange.book.pop(old)
    new = s.exchange.new_oid()
    s.exchange.book[new] = BookEntry(
        oid=new,
        cloid=order.cloid,
        side=order.side,
        price=D(price),
        remaining=D(size) - order.filled,
        coin=entry.coin,
    )
    return old, new


@pytest.mark.parametrize(
    "first",
    ["response", "old_oid_canceled", "ws_open", "snapshot"],
)
def test_b07_modify_returning_a_new_oid_rebinds_the_order(first: str) -> None:
    """On Hyperliquid a modify is a cancel-replace that returns a new oid. The seed system
    kept the old oid, so later modifies and cancels hit a dead oid and the new oid was
    cancelled by sync as an orphan. Here the new oid is bound to the same order (the old
    one still resolves), whichever message arrives first: the REST response, the old
    oid's ``canceled``, the new oid's ws ``open`` or a snapshot row. The order rests at
    the modified terms, no message about either oid is an anomaly, snapshots never make
    it an orphan and the next cancel names the new oid."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    s.modify(order, "99.96", "1")
    s.advance(0.2)
    old, new = _book_modify(s, order, "99.96", "1")
    if first == "old_oid_canceled":
        s.engine.handle(OrderCanceled(cloid=order.cloid, oid=old), s.now)
        s.expect(order, S.MODIFYING)
    elif first == "ws_open":
        s.engine.handle(OrderAccepted(cloid=order.cloid, oid=new), s.now)
    elif first == "snapshot":
        s.snapshot()
    s.drain()
    s.advance(0.05)
    s.engine.handle(
        OrderModified(cloid=order.cloid, oid=new, old_oid=old, price=D("99.96"), size=D("1")),
        s.now,
    )
    s.drain()
    s.engine.handle(OrderCanceled(cloid=order.cloid, oid=old), s.now)  # (again) late
    s.drain()
    assert anomalies(s) == 0
    s.expect(order, S.FINALIZED_PROTECTED)
    assert (order.oid, order.prior_oids, order.price) == (new, (old,), D("99.96"))
    assert s.engine.order(old) is order and s.engine.order(new) is order

    syncs_until(s, s.now + PROTECTION_S + GRACE_S)
    s.expect(order, S.TRACKED)
    assert s.engine.sync.counters()["orphans_seen"] == 0
    s.cancel(order)
    assert s.sent_of(CancelOrder) == [CancelOrder(cloid=order.cloid, oid=new)]


@pytest.mark.parametrize("request_kind", ["modify", "cancel"])
@pytest.mark.parametrize("truth", ["filled", "canceled"])
def test_b08_canceled_or_filled_answer_ends_unknown_and_asks(request_kind: str, truth: str) -> None:
    """Hyperliquid's "Cannot modify canceled or filled order" (and the cancel path's "Order
    was never placed, already canceled, or filled") say gone, outcome unknown. The seed system
    read "filled" first and kept a FilledImmediately entry that leaked forever when the
    order had been cancelled, or dropped it and lost the late fill when it had filled.
    Here either answer ends the order GONE(unknown) and asks its status; a late fill
    within the tombstone moves the position once without an anomaly, the status answer
    never contradicts the tombstone, and the tombstone is evicted after tombstone_s."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    tid = s.fill(order, deliver=False) if truth == "filled" else None
    if truth == "canceled":
        s.vanish(order)
    if request_kind == "modify":
        s.modify(order, "100.04", "1")
        s.advance(0.2)
        s.modify_rejected(order, gone=True)
    else:
        s.cancel(order)
        s.advance(0.2)
        s.cancel_rejected(order, gone=True)
    s.expect(order, S.GONE, reason=GoneReason.UNKNOWN)
    assert commands_for(s, order, QueryOrderStatus)

    s.advance(1.0)
    if tid is not None:
        deliver_fill(s, order, tid, "1")  # the ws fill, late
        s.expect(order, S.GONE, reason=GoneReason.UNKNOWN, filled="1")
    s.answer_status(order, StatusOutcome.FILLED if truth == "filled" else StatusOutcome.CANCELED)
    s.expect(order, S.GONE, reason=GoneReason.UNKNOWN)
    s.expect_position("1" if truth == "filled" else "0")
    assert anomalies(s) == 0

    s.advance(TOMBSTONE_S)
    with pytest.raises(UnknownOrder):
        s.engine.order(cloid_of(order))
    assert s.engine.next_deadline() is None


@pytest.mark.parametrize(
    "case",
    [
        "cancel_refused_after_fill",
        "modify_refused_after_fill",
        "modify_refused_after_exchange_cancel",
        "modify_acked_after_fill_of_new_oid",
    ],
)
def test_b08_answer_arriving_after_the_order_ended_is_absorbed(case: str) -> None:
    """The seed system's ambiguous answers also raced the facts they were ambiguous
    about: the ws fill (or an exchange cancel) is reported first, then the request's
    answer says "Cannot modify canceled or filled order" or "Order was never placed,
    already canceled, or filled". Here the order is already GONE with the proven
    reason; the late answer is a legal, absorbed message (no anomaly, the reason and
    the position unchanged), for a cancel as for a modify. So is a modify's success
    whose new oid was filled and reported before the response."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    old = order.oid
    assert old is not None
    if case == "cancel_refused_after_fill":
        s.cancel(order)
    else:
        s.modify(order, "99.96", "1")
    s.advance(0.1)
    reason = GoneReason.FILLED
    if case == "modify_refused_after_exchange_cancel":
        s.exchange_cancel(order, "marginCanceled")
        reason = GoneReason.CANCELED
    elif case == "modify_acked_after_fill_of_new_oid":
        _, new = _book_modify(s, order, "99.96", "1")
        s.fill(order, price="99.96")  # the new oid filled; its ws fill beats the response
    else:
        s.fill(order)
    s.expect(order, S.GONE, reason=reason)
    s.advance(0.05)
    if case == "cancel_refused_after_fill":
        s.cancel_rejected(order, gone=True)
    elif case == "modify_acked_after_fill_of_new_oid":
        s.engine.handle(
            OrderModified(cloid=order.cloid, oid=new, old_oid=old, price=D("99.96"), size=D("1")),
            s.now,
        )
        s.drain()
    else:
        s.modify_rejected(order, gone=True)
    s.expect(order, S.GONE, reason=reason)
    s.expect_position("0" if reason is GoneReason.CANCELED else "1")
    assert anomalies(s) == 0


# --- B9, B10, B11, B12: the safety sync ---------------------------------------------------


@pytest.mark.parametrize("snapshot_at", [0.001, 0.3, 0.5, 0.501, 2.0])
def test_b09_no_false_orphan_cancel_during_finalization(snapshot_at: float) -> None:
    """The seed system's note: T0 register pending, T+1 ms API, T+500 ms oid, T+501 ms
    finalize, and a safety sync comparing a REST snapshot with local state cancelled
    anything not yet local at once: 40+ orphan cancellations in a 2-minute session.
    Here 40 orders are placed at T0 and booked at T+1 ms, their responses arrive at
    T+500 ms, and a snapshot lands before, at or after that instant: every order is
    ours (by cloid), none becomes an orphan candidate, and in the whole 2-minute
    session of 5 s syncs no cancel is sent."""
    s = scenario()
    orders = [s.place(BUY, str(D("100") - D("0.01") * i), "1") for i in range(40)]
    s.advance_to(0.001)
    for order in orders:
        s.rest(order)
    if snapshot_at <= 0.5:
        s.advance_to(snapshot_at)
        report = s.snapshot()
        assert report.acks == 40
        s.advance_to(0.5)
        for order in orders:
            s.ack(order)  # the placement responses, after the snapshot
    else:
        s.advance_to(0.5)
        for order in orders:
            s.ack(order)
        s.advance_to(snapshot_at)
        report = s.snapshot()
        assert report.acks == 0
    assert report.new_candidates == 0 and report.working_orders == 40
    syncs_until(s, 120.0)
    assert not s.sent_of(CancelOrder)
    assert s.engine.sync.counters()["orphans_seen"] == 0
    assert all(o.state is S.TRACKED for o in orders)
    assert anomalies(s) == 0


@pytest.mark.parametrize("lag_s", [0.5, 2.0, 5.0])
def test_b10_lagging_snapshot_never_removes_a_fresh_order(lag_s: float) -> None:
    """The seed system removed local orders missing from a snapshot ("stale local"),
    but snapshots lag placements by 0.5-2 s (REST) or 1-5 s, so valid orders were
    dropped, then cancelled as orphans when the next snapshot listed them. Here a
    snapshot lagging by ``lag_s`` (taken before the order was listed) changes nothing:
    the order stays tracked, nothing is sent, and once listed it is not an orphan."""
    s = scenario(start=100.0)
    order = s.place(BUY, "100", "1")
    s.ack(order)
    placed_at = s.now
    while s.now < placed_at + lag_s:
        s.advance(0.5)
        report = s.snapshot(age=min(0.5, lag_s), omit=[order])
        assert report.missing == 0 and report.queries == 0
        s.expect(order, S.FINALIZED_PROTECTED)
    sent = len(s.sent)
    syncs_until(s, placed_at + PROTECTION_S + GRACE_S + INTERVAL_S)
    s.expect(order, S.TRACKED)
    assert len(s.sent) == sent
    assert s.engine.sync.counters()["orphans_seen"] == 0


@pytest.mark.parametrize("answer", [StatusOutcome.OPEN, StatusOutcome.NOT_FOUND])
def test_b10_tracked_order_missing_from_snapshots_is_queried_not_removed(
    answer: StatusOutcome,
) -> None:
    """The seed system's final fix disabled stale-local removal altogether. Here an
    order's absence from snapshots is never enough to end it: a TRACKED order missing
    from 3 consecutive fresh snapshots spanning 10 s gets one status query, and only the
    answer decides (open: still TRACKED; not found: GONE(unknown))."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    for t in (10.0, 15.0):
        s.advance_to(t)
        s.snapshot(omit=[order])
        assert not s.sent_of(QueryOrderStatus)
    s.advance_to(20.0)
    report = s.snapshot(omit=[order])
    assert report.queries == 1
    assert s.sent_of(QueryOrderStatus) == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]
    for t in (25.0, 30.0):
        s.advance_to(t)
        s.snapshot(omit=[order])
    assert len(s.sent_of(QueryOrderStatus)) == 1  # one query per absence streak
    s.expect(order, S.TRACKED)

    if answer is StatusOutcome.NOT_FOUND:
        s.vanish(order)
    s.answer_status(order)
    if answer is StatusOutcome.OPEN:
        s.expect(order, S.TRACKED)
        s.snapshot()
        assert s.engine.sync.counters()["orphans_seen"] == 0
    else:
        s.expect(order, S.GONE, reason=GoneReason.UNKNOWN)
    assert not s.sent_of(CancelOrder)


@pytest.mark.parametrize("configured", [("BTC", "hyna"), ("hyna:BTC", "hyna")])
def test_b11_hip3_coin_names_compared_canonically(configured: tuple[str, str]) -> None:
    """On a HIP-3 dex the exchange names coins ``dex:SYM``; the seed system compared
    names exactly, so ``--asset BTC --dex hyna`` had to become ``hyna:BTC``. Here either
    configured form matches rows named ``hyna:BTC``: our order listed before its
    response is acknowledged, an unknown ``hyna:BTC`` order becomes a candidate, and a
    main-dex ``BTC`` row is not ours to touch."""
    coin, dex = configured
    s = scenario(coin=coin, dex=dex)
    assert s.engine.sync.coin == "hyna:BTC"
    order = s.place(BUY, "100", "1")
    s.rest(order)
    foreign = s.foreign(SELL, "105", "1")
    main_dex = s.foreign(SELL, "105", "1", coin="BTC")
    report = s.snapshot()
    assert (report.exchange_orders, report.other_coin_orders) == (2, 1)
    assert report.acks == 1 and report.new_candidates == 1 and not report.asset_mismatch
    s.expect(order, S.FINALIZED_PROTECTED)
    s.expect(s.engine.order(foreign), S.ORPHAN_CANDIDATE)
    with pytest.raises(UnknownOrder):
        s.engine.order(main_dex)


@pytest.mark.parametrize("listing", ["nothing", "main_dex_rows_only"])
def test_b11_dex_less_snapshot_never_removes_hip3_orders(listing: str) -> None:
    """The seed system's open-orders request lacked ``dex``, so HIP-3 orders were never
    listed and every sync (~11 s) logged all 8-10 orders as stale and removed them.
    Here 10 tracked hyna:BTC orders facing a minute of such snapshots are never ended:
    each gets one status query (absence alone proves nothing), the answer (open) keeps
    it, and a listing of only main-dex orders raises the asset-mismatch alarm at each
    sync without making anything an orphan. Signing with the right asset index
    (100000 + dex index x 10000 + index) is the adapter's part."""
    s = scenario(coin="BTC", dex="hyna")
    orders = tracked(s, *((BUY, str(D("100") - D("0.01") * i), "1") for i in range(10)))
    rows = (
        (OpenOrder(coin="BTC", oid=Oid(77), side=SELL, price=D("105"), size=D("1")),)
        if listing == "main_dex_rows_only"
        else ()
    )
    syncs = 0
    while s.now < 70.0:
        s.advance(INTERVAL_S)
        snap = OpenOrdersSnapshot(taken_at=s.now, orders=rows)
        report = s.engine.handle_snapshot(snap, s.now)
        s.drain()
        syncs += 1
        assert report.asset_mismatch is (listing == "main_dex_rows_only")
        assert report.new_candidates == 0
    assert all(o.state is S.TRACKED for o in orders)
    queries = s.sent_of(QueryOrderStatus)
    assert len(queries) == len(orders)
    assert {q.cloid for q in queries} == {o.cloid for o in orders}
    mismatches = s.engine.anomalies.counts[AnomalyKind.ASSET_MISMATCH]
    assert mismatches == (syncs if listing == "main_dex_rows_only" else 0)
    for order in orders:
        s.answer_status(order)
    assert all(o.state is S.TRACKED for o in orders)
    assert not s.sent_of(CancelOrder)


def test_b12_drift_beyond_100_bps_cancels_all_and_replaces_the_ladder() -> None:
    """The seed system's desync: exchange orders at 26.38-26.89 while quotes were
    26.55-26.60, with ~98 % of cycles doing nothing. Its fix: if any order is more than
    100 bps from every target, cancel all and replace all. Here an ask 105 bps from the
    nearest ask target makes the cycle cancel every working order on both sides and
    place the whole ladder, in one cancel batch and one place batch."""
    s = scenario()
    orders = tracked(
        s, (BUY, "26.45", "1"), (BUY, "26.38", "1"), (SELL, "26.8", "1"), (SELL, "26.89", "1")
    )
    target = ladder([("26.55", "1"), ("26.54", "1")], [("26.6", "1"), ("26.61", "1")])
    plan = cycle(s, target, book(s, "26.56", "26.59"))
    assert plan.cancel_all and plan.bids.decision is Decision.REPLACE_ALL
    assert set(plan.cancels) == set(orders)
    assert all(o.state is S.CANCELLING for o in orders)
    commands = s.sent[-8:]
    assert [type(c) for c in commands] == [CancelOrder] * 4 + [PlaceOrder] * 4
    placed = sorted(c.price for c in s.sent_of(PlaceOrder)[len(orders) :])
    assert placed == sorted(D(p) for p in ("26.55", "26.54", "26.6", "26.61"))
    assert s.engine.reconciler.counters()["cancel_alls"] == 1


@pytest.mark.parametrize("policy", [OrphanPolicy.CANCEL, OrphanPolicy.ADOPT])
def test_b12_untracked_exchange_order_is_not_left_unmanaged(policy: OrphanPolicy) -> None:
    """The seed system's reconciliation saw only locally tracked orders, so an exchange
    order it did not track could never be repriced, and its sync ran every 60 s. Here an
    order of ours from an earlier run, unknown to this one, is found by the 5 s sync,
    and after the 5 s grace it is cancelled (policy cancel) or adopted and then repriced
    by the next cycle (policy adopt)."""
    s = scenario(policy=policy)
    earlier_run = CloidFactory("scenario", run_id=0).next()
    oid = s.foreign(BUY, "26.54", "1", cloid=earlier_run)
    s.advance_to(INTERVAL_S)
    s.snapshot()
    stray = s.engine.order(oid)
    s.expect(stray, S.ORPHAN_CANDIDATE)
    s.advance_to(INTERVAL_S + GRACE_S)
    s.snapshot()
    if policy is OrphanPolicy.CANCEL:
        s.expect(stray, S.CANCELLING)
        assert s.sent_of(CancelOrder) == [CancelOrder(cloid=earlier_run, oid=oid)]
    else:
        s.expect(stray, S.TRACKED)
        plan = cycle(s, ladder([("26.55", "1")]), book(s, "26.5", "26.6"))
        assert [m.order for m in plan.modifies] == [stray] and plan.places == ()
        assert s.sent_of(ModifyOrder) == [
            ModifyOrder(cloid=earlier_run, oid=oid, price=D("26.55"), size=D("1"))
        ]


# --- B13, B14, B15: fills and snapshots arriving out of step ------------------------------


def test_b13_replayed_fills_are_not_applied_again() -> None:
    """At (re)subscription Hyperliquid replays recent fills; the seed system processed
    them as new: position jumps, "Untracked order filled" floods, one reconciliation per
    fill. Skipping ``isSnapshot`` batches is the adapter's part. The core's part: a
    replay of fills already applied (even after their order's tombstone was evicted)
    moves nothing and raises nothing; fills of orders this run never knew (old-session
    oids, no cloid, 14 ms apart) still move the position once each (invariant 6), are
    anomalies, and a batch of them asks for one sync, not one per fill."""
    s = scenario()
    order = s.place(BUY, "100", "2")
    s.ack(order)
    tids = [s.fill(order, "1"), s.fill(order, "1")]
    s.expect_position("2")
    s.advance(60.0)  # reconnect long after the tombstone was evicted
    with pytest.raises(UnknownOrder):
        s.engine.order(cloid_of(order))
    for tid in tids:
        deliver_fill(s, order, tid, "1")
    s.expect_position("2")
    assert anomalies(s) == 0 and not s.sent_of(FetchOpenOrders)

    for i, oid in enumerate((45929151455, 45929151456)):
        fill = OrderFilled(
            cloid=None, oid=Oid(oid), tid=Tid(900 + i), side=SELL, price=D("100"), size=D("1")
        )
        s.engine.handle(fill, s.now)  # one userFills message, fills 14 ms apart
    s.drain()
    assert s.engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 2
    assert s.sent_of(FetchOpenOrders) == [FetchOpenOrders(reason="fill for an unknown order")]
    assert s.engine.position == D("0")
    assert len(s.engine.registry) == 0


@pytest.mark.parametrize(
    "ids", ["cloid_and_oid_before_ack", "cloid_only_after_ack", "oid_only_after_ack"]
)
def test_b14_fill_resolves_by_cloid_or_oid(ids: str) -> None:
    """The seed system built its fill events without the fill's cloid: 18 of 27 fills
    (67 %) were "Untracked order filled". Here a fill resolves to its order by cloid
    first, then by oid: carrying its cloid it is attributed even before the placement
    response (the oid is bound from it), and either id alone suffices afterwards. No
    fill is unknown."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    oid = s.rest(order)
    if ids != "cloid_and_oid_before_ack":
        s.ack(order)
    cloid = None if ids == "oid_only_after_ack" else order.cloid
    fill_oid = None if ids == "cloid_only_after_ack" else oid
    fill = OrderFilled(
        cloid=cloid, oid=fill_oid, tid=Tid(5), side=BUY, price=D("100"), size=D("0.4")
    )
    s.exchange.book[oid].remaining -= D("0.4")
    s.exchange.position += D("0.4")
    s.engine.handle(fill, s.now)
    s.drain()
    s.expect(order, S.FINALIZED_PROTECTED, filled="0.4")
    assert order.oid == oid
    s.expect_position("0.4")
    assert anomalies(s) == 0 and not s.sent_of(FetchOpenOrders)


@pytest.mark.parametrize("phase", ["expected", "finalized"])
def test_b15_snapshot_taken_before_the_order_was_processed_removes_nothing(phase: str) -> None:
    """The seed system's ws openOrders mirror removed orders added at placement when a
    snapshot taken before the exchange processed them arrived (fixed with a 2 s grace).
    Here a snapshot that does not list a fresh order, while it is EXPECTED or
    FINALIZED_PROTECTED, neither counts nor reports it missing and sends nothing; the
    order is found in the first snapshot that lists it."""
    s = scenario(start=50.0)
    order = s.place(BUY, "100", "1")
    s.advance(0.3)
    if phase == "finalized":
        s.ack(order)
    sent = len(s.sent)
    for _ in range(int(PROTECTION_S / 0.5) - 1):
        s.advance(0.5)
        report = s.snapshot(age=0.4, omit=[order])
        assert report.missing == 0 and report.queries == 0 and report.new_candidates == 0
    assert len(s.sent) == sent
    s.expect(order, S.EXPECTED if phase == "expected" else S.FINALIZED_PROTECTED)
    s.rest(order)
    report = s.snapshot()
    assert report.new_candidates == 0 and report.acks == (1 if phase == "expected" else 0)
    assert s.engine.sync.counters()["missing_tracked"] == 0


# --- B17, B19, B20, B21, B24: reconciler and finalization ---------------------------------


def test_b17_debounced_modify_is_latched_never_cancel_and_place() -> None:
    """The seed system's 2000 ms modify debounce silently dropped modifies that became
    cancel + place the next cycle ("timeout inversion"); the fix was 500 ms and latch on
    debounce. Here a modify due less than min_modify_interval_ms (500 ms) after the last
    modify batch is latched: the order stays as it is and nothing is sent; at 500 ms the
    modify goes out. The 429 backoff and bulk request batching are the runtime's part."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    top = book(s, "99.9", "100.2")
    s.advance_to(10.0)
    plan = cycle(s, ladder([("100.04", "1")]), top)
    assert [m.price for m in plan.modifies] == [D("100.04")]
    s.modify_ack(order)
    s.advance_to(10.2)
    plan = cycle(s, ladder([("100", "1")]), top)
    assert [m.order for m in plan.bids.latched] == [order]
    assert plan.modifies == () and plan.cancels == () and plan.places == ()
    assert len(s.sent_of(ModifyOrder)) == 1 and not s.sent_of(CancelOrder)
    assert len(s.sent_of(PlaceOrder)) == 1
    s.advance_to(10.5)
    plan = cycle(s, ladder([("100", "1")]), top)
    assert [m.price for m in plan.modifies] == [D("100")]
    assert len(s.sent_of(ModifyOrder)) == 2
    assert s.engine.reconciler.counters()["modifies_latched"] == 1


@pytest.mark.parametrize("fill", ["partial", "complete"])
def test_b19_fill_before_the_placement_response_never_loses_the_order(fill: str) -> None:
    """In the seed system a ws fill could consume the pending entry before finalize; the
    ignored ``false`` left a live order untracked ("exchange=28, local_active=8") that
    sync cancelled after protection and grace. Here a fill before the response
    attributes the order by cloid and binds its oid; the response that follows is
    absorbed (already tracked, or already filled), snapshots never see an orphan and
    nothing is cancelled."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.advance_to(0.001)
    oid = s.rest(order)
    s.advance_to(0.2)
    tid = s.fill(order, "0.4" if fill == "partial" else None)
    s.advance_to(0.5)
    if fill == "partial":
        s.ack(order)  # REST `resting`
        s.expect(order, S.FINALIZED_PROTECTED, filled="0.4")
    else:
        deliver_fill(s, order, tid, "1")  # REST `filled`, the same trade
        s.engine.handle(OrderAccepted(cloid=order.cloid, oid=oid), s.now)  # ws `open`, late
        s.drain()
        s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="1")
    syncs_until(s, 30.0)
    if fill == "partial":
        s.expect(order, S.TRACKED, filled="0.4")
    assert s.engine.sync.counters()["orphans_seen"] == 0
    assert not s.sent_of(CancelOrder)
    assert anomalies(s) == 0
    s.expect_position("0.4" if fill == "partial" else "1")


def test_b19_response_binds_the_oid_a_cloidless_row_made_a_candidate() -> None:
    """The seed system's ignored finalize result left a live order untracked until its
    sync cancelled it after protection and grace. The same happens here if the oid of
    an order in flight was first seen in a snapshot row that lacks the cloid and whose
    size does not match the order (0.4 of it filled, the fill not yet reported): the
    row becomes a candidate. The placement response then proves the oid is ours: the
    order must be acknowledged, the candidate dropped without a cancel, and no sync
    may cancel the order."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.advance_to(0.001)
    oid = s.rest(order)
    tid = s.fill(order, "0.4", deliver=False)
    s.exchange.book[oid].cloid = None  # the venue lists the row without its cloid
    s.advance_to(0.3)
    assert s.snapshot().new_candidates == 1
    s.advance_to(0.5)
    s.engine.handle(OrderAccepted(cloid=order.cloid, oid=oid), s.now)
    s.drain()
    deliver_fill(s, order, tid, "0.4")
    syncs_until(s, 30.0)
    s.expect(order, S.TRACKED, filled="0.4")
    assert not s.sent_of(CancelOrder)
    assert anomalies(s) == 0


@pytest.mark.parametrize(
    ("prices", "targets", "kept", "cancelled"),
    [
        (["100", "100", "100"], ["100"], ["100"], ["100", "100"]),
        (["100", "99.95"], ["100", "99.95"], ["100", "99.95"], []),
    ],
    ids=["three_orders_one_target", "two_orders_two_targets"],
)
def test_b20_redundant_orders_at_a_matched_target_are_cancelled(
    prices: list[str], targets: list[str], kept: list[str], cancelled: list[str]
) -> None:
    """With three bids at 100.00 and one target at 100.00 the seed system kept all three,
    because an order "close to ANY target" was kept. Here each target takes one order:
    the oldest of the three is kept and the other two are cancelled; two orders on two
    targets are both kept. Nothing is placed."""
    s = scenario()
    orders = tracked(s, *((BUY, p, "1") for p in prices))
    plan = cycle(s, ladder([(p, "1") for p in targets]), book(s, "99.9", "100.1"))
    assert sorted(str(o.price) for o in plan.bids.kept) == sorted(kept)
    assert sorted(str(o.price) for o in plan.cancels) == sorted(cancelled)
    assert plan.places == () and plan.modifies == ()
    assert orders[0] in plan.bids.kept
    assert len(s.sent_of(CancelOrder)) == len(cancelled)


def test_b21_far_order_cannot_steal_the_best_level() -> None:
    """Order-first or first-fit matching let a far, older order claim the near target
    and left the best level uncovered. Here targets are served best level first with
    the level's tolerance (5 bps at level 0, 15 at level 1): the order at 100.00 keeps
    level 0 although the one at 99.90 is older, and the 99.90 order is modified to level
    1. With only the far order resting (7 bps off level 0), level 0 gets a new order and
    the far one is cancelled. (Tolerances pinned to 5 / 15 / 22.5 bps, as in the seed.)"""
    tight = ReconcilerConfig(level_tolerance_bps=(5.0, 15.0, 22.5))
    s = scenario(reconciler=tight)
    far, near = tracked(s, (BUY, "99.9", "1"), (BUY, "100", "1"))
    top = book(s, "99.9", "100.1")
    plan = cycle(s, ladder([("100", "1"), ("99.8", "1")]), top)
    assert plan.bids.kept == (near,)
    assert [(m.order, m.price, m.level) for m in plan.modifies] == [(far, D("99.8"), 1)]
    assert plan.places == () and plan.cancels == ()

    s2 = scenario(reconciler=tight)
    [stray] = tracked(s2, (BUY, "99.93", "1"))
    plan = cycle(s2, ladder([("100", "1")]), book(s2, "99.9", "100.1"))
    assert [(p.price, p.level) for p in plan.places] == [(D("100"), 0)]
    assert plan.cancels == (stray,)


@pytest.mark.parametrize(
    ("age_s", "bids", "asks"),
    [
        (0.0, ["31.007", "30.99"], ["31.003", "31.02"]),
        (3.5, ["30.99"], ["31.02"]),
        (5.5, None, None),
    ],
    ids=["fresh_book", "book_3.5s_old", "stale_book"],
)
def test_b24_crossing_levels_dropped_one_by_one_with_the_real_tick(
    age_s: float, bids: list[str] | None, asks: list[str] | None
) -> None:
    """Any single crossing level made the seed system skip the whole cycle ("0 fills for
    minutes"), with a tick proxy of mid x 1e-4. Here, for a coin at $31 (tick 0.001
    from the price rules), only the levels within 2 ticks of the opposite best price
    are dropped, one more tick per started second of book age beyond 2 s, and a book
    older than 5 s skips the cycle and sends nothing."""
    s = scenario(start=100.0)
    target = ladder(
        [("31.009", "1"), ("31.007", "1"), ("30.99", "1")],
        [("31.001", "1"), ("31.003", "1"), ("31.02", "1")],
    )
    plan = cycle(s, target, book(s, "31", "31.01", age=age_s))
    if bids is None or asks is None:
        assert plan.skipped == SKIP_STALE_BOOK
        assert s.sent == []
        return
    assert plan.skipped is None
    assert [str(p.price) for p in plan.bids.places] == bids
    assert [str(p.price) for p in plan.asks.places] == asks
    assert len(plan.bids.dropped_crossing) == 3 - len(bids)
    assert len(s.sent_of(PlaceOrder)) == len(bids) + len(asks)


# --- B25, B26 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "race", ["fill_then_cancel_refused", "cancel_ack_then_late_fill", "fill_after_tombstone"]
)
def test_b25_cancel_fill_race_moves_the_position_once(race: str) -> None:
    """The seed system logged "Untracked fill of 3.14 HYPE (cancel-fill race -> position
    jumped to -5.77)": the exchange matched the order before it processed the cancel.
    Here the cancelling order is still fully tracked: a fill before the cancel's answer ends it
    FILLED and the refusal that follows is absorbed; a fill whose message arrives after
    the cancel ack lands on the tombstone. Either way the position moves once, with no
    anomaly. A fill arriving after the tombstone is evicted (tombstone_s) still moves
    the position once, and is an anomaly that asks for a sync."""
    s = scenario()
    earlier = s.place(SELL, "31", "2.63")
    s.ack(earlier)
    s.fill(earlier)
    [order] = tracked(s, (SELL, "31", "3.14"))
    s.cancel(order)
    s.advance(0.05)
    if race == "fill_then_cancel_refused":
        s.fill(order)
        s.advance(0.05)
        s.cancel_rejected(order, gone=True)
        s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="3.14")
        assert anomalies(s) == 0
    else:
        tid = s.fill(order, "1.14", deliver=False)
        s.cancel_ack(order)
        s.expect(order, S.GONE, reason=GoneReason.CANCELED)
        s.advance(1.0 if race == "cancel_ack_then_late_fill" else TOMBSTONE_S + 1.0)
        deliver_fill(s, order, tid, "1.14")
        if race == "cancel_ack_then_late_fill":
            s.expect(order, S.GONE, reason=GoneReason.CANCELED, filled="1.14")
            assert anomalies(s) == 0
        else:
            assert s.engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 1
            assert s.sent_of(FetchOpenOrders)
    s.expect_position("-5.77" if race == "fill_then_cancel_refused" else "-3.77")
    assert len(s.sent_of(CancelOrder)) == 1


def test_b26_local_ahead_of_snapshots_is_never_a_mismatch_to_act_on() -> None:
    """A 4-hour HIP-3 run on hyna:HYPE logged 108 "State mismatch" events in the seed
    system: 11 s after start exchange=2 vs local=14, then a steady lag of 1-3 orders
    (local ahead of the exchange's acks and snapshots). Here 14 orders are placed at
    start, a snapshot at 11 s lists 2 of them, and then, for 10 simulated minutes, one
    order is replaced every 5 s while each snapshot lags the 1-3 newest: nothing is an
    orphan, nothing is queried, only our own replacements are cancelled and no anomaly
    is raised."""
    s = scenario(coin="HYPE", dex="hyna")
    bids = [(BUY, str(D("31") - D("0.01") * i), "1") for i in range(7)]
    asks = [(SELL, str(D("31.1") + D("0.01") * i), "1") for i in range(7)]
    orders = [s.place(side, price, size) for side, price, size in bids + asks]
    for order in orders:
        s.rest(order)
    s.advance_to(11.0)
    report = s.snapshot(omit=orders[2:])
    assert (report.exchange_orders, report.working_orders) == (2, 14)
    assert report.acks == 2 and report.new_candidates == 0 and report.missing == 0
    s.advance_to(11.5)
    for order in orders[2:]:
        s.ack(order)

    live = list(orders)
    replaced = 0
    for k in range(120):
        s.advance(INTERVAL_S - 0.5)
        oldest = live.pop(0)
        s.cancel(oldest)
        s.cancel_ack(oldest)
        fresh = s.place(oldest.side, str(oldest.price), "1")
        s.rest(fresh)
        live.append(fresh)
        replaced += 1
        s.advance(0.5)
        lag = 1 + k % 3
        report = s.snapshot(omit=live[-lag:])
        assert report.exchange_orders == 14 - lag and report.working_orders == 14
        assert report.new_candidates == 0 and report.queries == 0
        s.ack(fresh)
    assert s.engine.sync.counters()["orphans_seen"] == 0
    assert s.engine.sync.counters()["missing_queries"] == 0
    assert not s.sent_of(QueryOrderStatus)
    assert len(s.sent_of(CancelOrder)) == replaced
    assert sum(1 for o in s.engine.registry if o.state in WORKING) == 14
    assert anomalies(s) == 0
