"""Regression scenarios for the seed system's latent bugs L1..L15 (reference §6).

The latent bugs were found by reading the seed system's code, not in its logs.
Each test builds the sequence that would trigger one through the public scenario
harness and asserts what must hold here. The thresholds are the configuration
defaults (the seed system's); markets trade a perp with ``sz_decimals`` 2, so
around 100 one tick is 0.01, i.e. one basis point.
"""

from __future__ import annotations

import uuid

import pytest
from seed_helpers import (
    BUY,
    CANCEL_TIMEOUT_S,
    EXPECTED_TTL_S,
    GRACE_S,
    INTERVAL_S,
    MAX_AGE_S,
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

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import (
    CancelOrder,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import UnknownOrder
from lifecycle.core.events import OrderAccepted, OrderFilled, StatusOutcome
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Order
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.policy.reconciler import Decision, Ladder
from lifecycle.policy.safety_sync import OpenOrdersSnapshot
from lifecycle.testing import Scenario

# --- L1 .. L15 ----------------------------------------------------------------------------


@pytest.mark.parametrize("immediate", ["complete", "partial"])
def test_l01_immediate_fill_amount_comes_from_the_fill(immediate: str) -> None:
    """The seed system's executor reported ``resting_size = requested size`` for
    ``filled`` statuses, so the immediate fill was computed as size - resting = 0: no
    position update, and the order looked active until the ws fill (reconciliation
    could modify or cancel a filled order); a real resting size would have subtracted
    the fill twice. Here the amount is the fill's own size: a complete immediate fill
    ends the order FILLED, which no later cycle modifies or cancels; a partial one
    keeps the original size, with the fill counted once in ``remaining``."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.rest(order)
    s.fill(order, "1" if immediate == "complete" else "0.6")
    if immediate == "partial":
        s.ack(order)
        s.expect(order, S.FINALIZED_PROTECTED, filled="0.6")
        assert (order.size, order.remaining) == (D("1"), D("0.4"))
        s.expect_position("0.6")
    else:
        s.expect(order, S.GONE, reason=GoneReason.FILLED, filled="1")
        s.expect_position("1")
    sent = len(s.sent)

    s.advance(1.0)
    plan = cycle(s, ladder([("100", "0.4" if immediate == "partial" else "1")]), book(s))
    assert order not in plan.cancels and order not in (m.order for m in plan.modifies)
    assert not commands_for(s, order, CancelOrder, sent)
    assert not commands_for(s, order, ModifyOrder, sent)
    if immediate == "partial":
        assert plan.bids.kept == (order,) and plan.places == ()
    else:
        assert len(plan.places) == 1


_UUID = uuid.UUID("6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")


@pytest.mark.parametrize(
    "echo",
    [str(_UUID), "0x" + _UUID.hex, "0X" + _UUID.hex.upper(), _UUID.hex],
    ids=["hyphenated", "0x_lower", "0X_upper", "bare_hex"],
)
def test_l02_cloid_in_any_form_finds_the_order(echo: str) -> None:
    """The seed system kept cloids as hyphenated UUID text while the exchange echoes
    ``0x`` + 32 hex, and nothing canonicalized them, so every cloid lookup missed. Here
    an order placed with a UUID cloid is found from the exchange's text in any form: a
    snapshot row lists it before its response (acknowledged, not an orphan), and a fill
    carrying only the cloid is attributed to it."""
    s = scenario()
    order = s.engine.place(BUY, D("100"), D("1"), s.now, cloid=Cloid(_UUID))
    s.drain()
    oid = s.rest(order)
    s.exchange.book[oid].cloid = echo  # type: ignore[assignment]  # the row's raw text
    report = s.snapshot()
    assert report.acks == 1 and report.new_candidates == 0
    s.expect(order, S.FINALIZED_PROTECTED)
    assert order.oid == oid

    fill = OrderFilled(
        cloid=Cloid(echo), oid=None, tid=Tid(3), side=BUY, price=D("100"), size=D("0.5")
    )
    s.engine.handle(fill, s.now)
    s.drain()
    s.expect(order, S.FINALIZED_PROTECTED, filled="0.5")
    assert s.engine.position == D("0.5")
    assert anomalies(s) == 0


@pytest.mark.parametrize("configured", [("HYPE", "hyna"), ("hyna:HYPE", "hyna")])
def test_l03_aged_hip3_orphan_is_cancelled(configured: tuple[str, str]) -> None:
    """The seed system verified aged orphans with an open-orders request that omitted
    ``dex``; on a HIP-3 dex the fresh list never held them, so every aged orphan was a
    "ghost" and never cancelled. Here an unknown hyna:HYPE order still listed after the
    5 s grace is cancelled (policy cancel), and the cancel's ack ends it."""
    coin, dex = configured
    s = scenario(coin=coin, dex=dex)
    oid = s.foreign(SELL, "31.5", "1")
    s.snapshot()
    orphan = s.engine.order(oid)
    s.expect(orphan, S.ORPHAN_CANDIDATE)
    s.advance_to(GRACE_S)
    report = s.snapshot()
    assert report.aged == 1 and report.cancelled == 1
    assert s.sent_of(CancelOrder) == [CancelOrder(cloid=None, oid=oid)]
    s.expect(orphan, S.CANCELLING)
    s.cancel_ack(orphan)
    s.expect(orphan, S.GONE, reason=GoneReason.CANCELED)
    assert oid not in s.exchange.book


def test_l04_unknown_fill_asks_for_a_sync() -> None:
    """In the seed system the unmatched-fill trigger for a sync was dead (called with
    oid 0 and size 0, the very case it filtered out). Here a fill for an order nobody
    knows moves the position, is an anomaly, and queues one open-orders fetch."""
    s = scenario()
    fill = OrderFilled(oid=Oid(424242), tid=Tid(8), side=SELL, price=D("100"), size=D("0.7"))
    s.engine.handle(fill, s.now)
    s.drain()
    assert s.engine.position == D("-0.7")
    assert s.engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 1
    assert len(s.sent_of(FetchOpenOrders)) == 1


@pytest.mark.parametrize("waiting", ["expected", "cancelling", "modifying"])
def test_l04_request_without_an_answer_is_queried_at_its_timeout(waiting: str) -> None:
    """The seed system never called its in-flight timeout check, and its stuck-cancel
    check only logged. Here an order whose request got no answer is queried when its
    timeout passes (expected_ttl_s 30 s; cancel_timeout_s 30 s), never ended by the
    timeout; a cancel whose order is found still open is sent again. Re-sending on the
    transport is the runtime's part."""
    s = scenario()
    if waiting == "expected":
        order = s.place(BUY, "100", "1")
        timeout = EXPECTED_TTL_S
    else:
        [order] = tracked(s, (BUY, "100", "1"))
        if waiting == "cancelling":
            s.cancel(order)
        else:
            s.modify(order, "100.04", "1")
        timeout = CANCEL_TIMEOUT_S
    start = s.now
    s.advance(timeout - 0.5)
    assert not s.sent_of(QueryOrderStatus)
    s.advance_to(start + timeout)
    assert s.sent_of(QueryOrderStatus) == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]
    s.expect(order, OrderState(waiting))
    if waiting == "cancelling":
        cancels = len(s.sent_of(CancelOrder))
        assert s.answer_status(order) is StatusOutcome.OPEN
        assert len(s.sent_of(CancelOrder)) == cancels + 1
        s.expect(order, S.CANCELLING)
    s.advance_to(start + 2 * timeout)
    assert len(s.sent_of(QueryOrderStatus)) == 2  # asked again, still never ended


@pytest.mark.parametrize("snapshot", ["stale", "empty"])
def test_l05_stale_or_empty_snapshot_still_completes_the_sync(snapshot: str) -> None:
    """The seed system returned early on a snapshot older than 10 s or empty, before
    recording the sync as done, so a full safety sync then ran after every ws message.
    Here a stale snapshot is ignored and an empty fresh one applied, and either way the
    report schedules the next sync interval_s later; ws messages that follow ask for no
    sync. Scheduling the fetch at ``next_sync_at`` is the runtime's part."""
    s = scenario(start=100.0)
    [order] = tracked(s, (BUY, "100", "2"))
    if snapshot == "stale":
        report = s.snapshot(age=MAX_AGE_S + 1.0)
        assert report.stale and not report.applied
    else:
        empty = OpenOrdersSnapshot(taken_at=s.now, orders=())
        report = s.engine.handle_snapshot(empty, s.now)
        s.drain()
        assert report.applied and report.exchange_orders == 0 and report.missing == 1
    assert report.next_sync_at == s.now + INTERVAL_S
    assert s.engine.sync.next_sync_at == s.now + INTERVAL_S
    for _ in range(10):
        s.advance(0.1)
        s.fill(order, "0.1")
        s.ack(order)  # a repeated ws `open`
    assert not s.sent_of(FetchOpenOrders)
    assert s.engine.sync.counters()["syncs"] == 1
    s.expect(order, S.TRACKED, filled="1")


_EXCHANGE_CANCELS = [
    "marginCanceled",
    "reduceOnlyCanceled",
    "selfTradeCanceled",
    "scheduledCancel",
    "liquidatedCanceled",
    "openInterestCapCanceled",
    "siblingFilledCanceled",
    "delistedCanceled",
    "vaultWithdrawalCanceled",
]


def _order_in(s: Scenario, state: str) -> Order:
    if state in ("expected", "finalized_protected"):
        order = s.place(BUY, "100", "1")
        if state == "expected":
            s.rest(order)
        else:
            s.ack(order)
        return order
    [order] = tracked(s, (BUY, "100", "1"))
    if state == "cancelling":
        s.cancel(order)
    elif state == "modifying":
        s.modify(order, "100.04", "1")
    return order


@pytest.mark.parametrize(
    "state", ["expected", "finalized_protected", "tracked", "cancelling", "modifying"]
)
@pytest.mark.parametrize("status", _EXCHANGE_CANCELS)
def test_l06_every_exchange_cancel_status_ends_the_order(status: str, state: str) -> None:
    """The seed system mirrored only ``canceled`` into its order manager; marginCanceled,
    reduceOnlyCanceled, selfTradeCanceled, scheduledCancel, liquidatedCanceled... left the
    order Resting forever, to be modified or cancelled again and again. Here each such
    cancel, in every state an order of ours can rest in, ends it GONE(canceled) keeping
    the exchange's word, and the next cycle neither modifies nor cancels it."""
    s = scenario()
    order = _order_in(s, state)
    s.expect(order, OrderState(state))
    s.advance(0.2)
    s.exchange_cancel(order, status)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    assert order.status == status
    sent = len(s.sent)
    s.advance(0.2)
    plan = cycle(s, ladder([("100", "1")]), book(s))
    assert order not in plan.cancels and order not in (m.order for m in plan.modifies)
    assert len(plan.places) == 1
    assert not commands_for(s, order, CancelOrder, sent)
    assert not commands_for(s, order, ModifyOrder, sent)
    assert anomalies(s) == 0


@pytest.mark.parametrize(
    "status",
    [
        "perpMaxPositionRejected",
        "badAloPxRejected",
        "minTradeNtlRejected",
        "insufficientMarginRejected",
        "reduceOnlyRejected",
        "tickRejected",
    ],
)
def test_l06_every_rejection_status_ends_the_order(status: str) -> None:
    """The seed system never mirrored rejections into its order manager either. Here a
    rejection ends the order GONE(rejected) with the exchange's word, no query follows,
    and the next cycle places a new order instead of touching the rejected one. How
    rejections feed a backoff is the runtime's part."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.advance(0.3)
    s.reject(order, status)
    s.expect(order, S.GONE, reason=GoneReason.REJECTED)
    assert order.status == status
    assert not s.sent_of(QueryOrderStatus)
    s.advance(0.2)
    plan = cycle(s, ladder([("100", "1")]), book(s))
    assert len(plan.places) == 1 and plan.cancels == () and plan.modifies == ()
    assert len(s.sent_of(PlaceOrder)) == 2


@pytest.mark.parametrize("update", ["delivered", "lost"])
def test_l07_cancel_sent_around_the_engine_still_ends_its_orders(update: str) -> None:
    """The seed system's cascade, burst and data-quality "cancel side" calls went
    straight to the executor; its order manager said Resting until an order update
    arrived, and forever if it was missed. Every cancel should go through
    ``engine.cancel`` (the runtime's part); if one does not, the ``canceled`` update
    still ends the order, and if that update is lost the orders' absence from
    snapshots leads to a status query whose answer ends them. The other side is
    untouched."""
    s = scenario()
    *bids, ask = tracked(s, (BUY, "100", "1"), (BUY, "99.99", "1"), (SELL, "100.1", "1"))
    for order in bids:
        if update == "delivered":
            s.cancel_ack(order)  # a `canceled` we did not ask for
        else:
            s.vanish(order)
    if update == "lost":
        for t in (10.0, 15.0, 20.0):
            s.advance_to(t)
            s.snapshot()
        queries = s.sent_of(QueryOrderStatus)
        assert len(queries) == len(bids)
        assert {q.cloid for q in queries} == {o.cloid for o in bids}
        for order in bids:
            s.expect(order, S.TRACKED)
            s.answer_status(order, StatusOutcome.CANCELED, "canceled")
    for order in bids:
        s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    s.expect(ask, S.TRACKED)
    assert not s.sent_of(CancelOrder)
    assert anomalies(s) == 0


def test_l08_order_filled_at_placement_is_evicted_without_another_message() -> None:
    """The seed system's FilledImmediately entries were never removed by cleanup; they
    waited for a ws ``filled`` update. Here an order filled at placement is a tombstone
    for tombstone_s (5 s) and then evicted on the timer alone: nothing is left and no
    deadline is pending."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.rest(order)
    s.fill(order)
    s.expect(order, S.GONE, reason=GoneReason.FILLED)
    s.advance(TOMBSTONE_S - 0.1)
    assert s.engine.order(cloid_of(order)) is order
    s.advance(0.2)
    with pytest.raises(UnknownOrder):
        s.engine.order(cloid_of(order))
    assert len(s.engine.registry) == 0
    assert s.engine.next_deadline() is None
    s.expect_position("1")


@pytest.mark.parametrize("delay_s", [0.1, 2.0, 4.9])
@pytest.mark.parametrize("ending", ["our_cancel", "unrequested_cancel"])
def test_l09_fill_after_the_cancel_lands_on_the_tombstone(ending: str, delay_s: float) -> None:
    """A ws ``canceled`` made the seed system's order Cancelled at once, skipping its
    5 s fill window; the next cleanup removed it and a fill arriving later was
    "untracked". Here the cancelled order is a tombstone for tombstone_s (5 s): a fill
    executed before the cancel whose message comes up to 4.9 s after it is applied to
    the order, moves the position once and raises no anomaly; the order stays
    GONE(canceled)."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    if ending == "our_cancel":
        s.cancel(order)
    tid = s.fill(order, "0.4", deliver=False)
    s.cancel_ack(order)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    s.advance(delay_s)
    deliver_fill(s, order, tid, "0.4")
    s.expect(order, S.GONE, reason=GoneReason.CANCELED, filled="0.4")
    s.expect_position("0.4")
    assert anomalies(s) == 0 and not s.sent_of(FetchOpenOrders)


def test_l10_two_pending_orders_at_one_side_and_price_stay_apart() -> None:
    """The seed system also keyed pending orders by (side, price), so a second pending
    order at the same side and price overwrote the first. Here two in-flight orders at
    one price keep their own cloids: a fill before any response goes to the order that
    filled, each response binds its own oid, and a snapshot row without a cloid whose
    terms match two in-flight orders is deferred (neither ours nor an orphan) until
    one of them learns its oid."""
    s = scenario()
    first, second = s.place(BUY, "100", "1"), s.place(BUY, "100", "1")
    oid_second = s.rest(second)
    s.fill(second, "0.3")
    s.expect(second, S.FINALIZED_PROTECTED, filled="0.3")
    s.expect(first, S.EXPECTED, filled="0")
    oid_first = s.ack(first)
    s.ack(second)
    assert (first.oid, second.oid) == (oid_first, oid_second)

    third, fourth = s.place(BUY, "99.5", "1"), s.place(BUY, "99.5", "1")
    oid_third = s.rest(third)
    s.exchange.book[oid_third].cloid = None  # a row without the cloid
    report = s.snapshot()
    assert report.deferred == 1 and report.new_candidates == 0 and report.acks == 0
    s.expect(third, S.EXPECTED)
    s.expect(fourth, S.EXPECTED)
    s.engine.handle(OrderAccepted(cloid=third.cloid, oid=oid_third), s.now)
    report = s.snapshot()
    assert report.deferred == 0 and report.new_candidates == 0
    s.expect(third, S.FINALIZED_PROTECTED)
    s.expect(fourth, S.EXPECTED)
    s.expect_position("0.3")
    assert anomalies(s) == 0


@pytest.mark.parametrize("book_age_s", [0.0, 60.0], ids=["fresh_book", "stale_book"])
def test_l11_empty_ladder_cancels_every_order_that_may_rest(book_age_s: float) -> None:
    """The seed system returned before reconciling when the validated ladder was empty
    on both sides, leaving resting orders untouched. Here an empty target ladder cancels
    every order of ours that may rest (tracked on both sides, in flight by cloid), even
    on a stale book; an unsent placement is abandoned and never sent, and an order
    already being cancelled is not cancelled twice."""
    s = scenario(start=100.0)
    bid, ask, leaving = tracked(s, (BUY, "100", "1"), (SELL, "100.1", "1"), (BUY, "99.98", "1"))
    s.cancel(leaving)
    inflight = s.place(BUY, "99.99", "1")
    unsent = s.place(BUY, "99.97", "1", send=False)
    plan = cycle(s, Ladder(), book(s, age=book_age_s))
    assert plan.skipped is None
    assert plan.bids.decision is Decision.CLEAR and plan.asks.decision is Decision.CLEAR
    assert set(plan.cancels) == {bid, ask, inflight, unsent}
    for order in (bid, ask, inflight):
        s.expect(order, S.CANCELLING)
    assert CancelOrder(cloid=inflight.cloid, oid=None) in s.sent
    s.expect(unsent, S.GONE, reason=GoneReason.NEVER_PLACED)
    assert not commands_for(s, unsent, PlaceOrder)
    assert len(commands_for(s, leaving, CancelOrder)) == 1
    assert len(s.sent_of(CancelOrder)) == 4


@pytest.mark.parametrize("back_after_s", [1.0, 10.0, 45.0])
def test_l12_reappearing_orphan_gets_a_fresh_grace(back_after_s: float) -> None:
    """The seed system kept an orphan's first sighting up to 50 s after it vanished, so
    one that came back within 50 s was treated as aged at once. Here a candidate absent
    from a fresh snapshot is dropped without a cancel, and when it reappears (1, 10 or
    45 s later) a new 5 s grace starts: no cancel until it has been seen again for
    orphan_grace_s."""
    s = scenario()
    oid = s.foreign(SELL, "105", "1")
    s.snapshot()
    s.advance(3.0)
    report = s.snapshot(omit=[oid])
    assert report.vanished == 1
    with pytest.raises(UnknownOrder):
        s.engine.order(oid)
    s.advance(back_after_s)
    assert s.snapshot().new_candidates == 1
    s.advance(GRACE_S - 0.5)
    report = s.snapshot()
    assert report.aged == 0 and report.candidates == 1
    assert not s.sent_of(CancelOrder)
    s.advance(0.5)
    report = s.snapshot()
    assert report.cancelled == 1
    assert s.sent_of(CancelOrder) == [CancelOrder(cloid=None, oid=oid)]


def test_l13_partial_fill_while_cancelling_then_cancel_refused_keeps_the_rest() -> None:
    """In the seed system a partial fill during CancelPending made the order
    FilledDuringCancel (terminal); when the cancel then failed, the revert was guarded
    out, the entry was dropped and the remainder, still resting, was cancelled as an
    orphan 5-10 s later. Its ws mirror also set size := remaining on ``open``. Here the
    partial fill keeps the order CANCELLING, the refused cancel returns it to TRACKED
    with 0.6 remaining of its original size 1, snapshots listing the remainder leave
    its size alone and never make it an orphan, and it can be kept or cancelled again."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    s.cancel(order)
    s.advance(0.05)
    s.fill(order, "0.4")
    s.expect(order, S.CANCELLING, filled="0.4")
    s.advance(0.05)
    s.cancel_rejected(order, gone=False)
    s.expect(order, S.TRACKED, filled="0.4")
    s.ack(order)  # a repeated ws `open`
    syncs_until(s, s.now + PROTECTION_S + GRACE_S)
    assert (order.size, order.remaining) == (D("1"), D("0.6"))
    assert s.engine.sync.counters()["orphans_seen"] == 0
    assert len(s.sent_of(CancelOrder)) == 1

    plan = cycle(s, ladder([("100", "0.6")]), book(s))
    assert plan.bids.kept == (order,) and plan.places == ()
    s.cancel(order)
    s.cancel_ack(order)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED, filled="0.4")
    s.expect_position("0.4")
    assert anomalies(s) == 0


def test_l14_fill_before_any_market_data_moves_the_position() -> None:
    """The seed system dropped fills that arrived before its first mid price. Here the
    position depends on fills alone: fills delivered before any book or target was
    seen, for a known order and for an unknown one, each move it once."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.ack(order)
    s.fill(order, "0.5")
    unknown = OrderFilled(oid=Oid(31337), tid=Tid(77), side=SELL, price=D("100"), size=D("0.2"))
    s.engine.handle(unknown, s.now)
    s.drain()
    assert s.engine.position == D("0.3")
    s.expect(order, S.FINALIZED_PROTECTED, filled="0.5")


@pytest.mark.parametrize("resolution", ["snapshot", "query_open", "query_not_found"])
def test_l15_place_with_an_unknown_outcome_stays_expected_until_resolved(
    resolution: str,
) -> None:
    """The seed system treated a transport error on place as a failure although the
    order might be live; it then ended as an orphan and was cancelled. Here nothing is
    delivered for an ambiguous outcome (the runtime's part) and the order stays
    EXPECTED: a snapshot listing its cloid acknowledges it, or after expected_ttl_s
    (30 s) a status query's answer decides (open: acknowledged; unknown: never placed).
    A "not found" answer before the TTL proves nothing. Nothing is ever cancelled."""
    s = scenario()
    order = s.place(BUY, "100", "1")
    s.advance(1.0)
    if resolution != "query_not_found":
        s.rest(order)  # the placement did reach the book
    if resolution == "snapshot":
        s.advance(INTERVAL_S)
        assert s.snapshot().acks == 1
        s.expect(order, S.FINALIZED_PROTECTED)
    else:
        s.answer_status(order, StatusOutcome.NOT_FOUND)  # too early to mean anything
        s.expect(order, S.EXPECTED)
        s.advance_to(EXPECTED_TTL_S - 0.5)
        assert not s.sent_of(QueryOrderStatus)
        s.advance_to(EXPECTED_TTL_S)
        assert s.sent_of(QueryOrderStatus) == [QueryOrderStatus(cloid=order.cloid, oid=None)]
        s.expect(order, S.EXPECTED)
        s.answer_status(order)
        if resolution == "query_open":
            s.expect(order, S.FINALIZED_PROTECTED)
        else:
            s.expect(order, S.GONE, reason=GoneReason.NEVER_PLACED)
    syncs_until(s, s.now + PROTECTION_S + GRACE_S)
    if resolution != "query_not_found":
        s.expect(order, S.TRACKED)
    assert not s.sent_of(CancelOrder)
    assert s.engine.sync.counters()["orphans_seen"] == 0


def test_l15_refused_cancel_keeps_the_order_tracked() -> None:
    """The seed system's ws mirror dropped an order whose cancel failed; it became an
    orphan. Here a refused cancel (the order still rests) returns it to TRACKED: later
    snapshots list it as ours, nothing else cancels it, and it can be cancelled again."""
    s = scenario()
    [order] = tracked(s, (BUY, "100", "1"))
    s.cancel(order)
    s.advance(0.1)
    s.cancel_rejected(order, gone=False)
    s.expect(order, S.TRACKED)
    syncs_until(s, s.now + PROTECTION_S + GRACE_S)
    assert s.engine.sync.counters()["orphans_seen"] == 0
    assert len(s.sent_of(CancelOrder)) == 1
    s.cancel(order)
    assert len(s.sent_of(CancelOrder)) == 2
    s.cancel_ack(order)
    s.expect(order, S.GONE, reason=GoneReason.CANCELED)
    assert anomalies(s) == 0
