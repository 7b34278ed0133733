"""The simulated exchange: determinism, every fault on demand, truth, and an engine run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec
import pytest
from lifecycle.adapters.simulated import (
    EXCHANGE_CANCEL_STATUSES,
    PROFILES,
    RANDOM_REJECT_STATUSES,
    Delivery,
    FaultProfile,
    Latency,
    MarketParams,
    Owner,
    Response,
    SimulatedExchange,
    Ticket,
    WsMessage,
    WsReconnected,
    double_counted_fills,
    position_mismatch,
    premature_untracks,
    round_price,
    untracked_resting_at_end,
)

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import TimeWentBackwards
from lifecycle.core.events import (
    CancelRejected,
    ExchangeEvent,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Side
from lifecycle.core.states import RESTING, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.runtime import CommandResult

NONE = PROFILES["none"]
#: A market that never moves and never trades on its own: only what a test does happens.
QUIET = MarketParams(takers_per_s=0.0, volatility_bps=0.0, jumps_per_hour=0.0)
SIZE = Decimal("0.001")


def exchange(
    profile: FaultProfile | str = NONE, *, market: MarketParams = QUIET, seed: int = 1, **kw: object
) -> SimulatedExchange:
    return SimulatedExchange(seed, profile, market=market, **kw)  # type: ignore[arg-type]


def with_faults(**rates: object) -> FaultProfile:
    return dataclasses.replace(NONE, **rates)  # type: ignore[arg-type]


def level(ex: SimulatedExchange, side: Side, bps: int) -> Decimal:
    """A valid price ``bps`` behind the market's touch."""
    bid, ask = ex.bbo()
    szd = ex.market.sz_decimals
    if side is Side.BUY:
        return round_price(bid * (1 - Decimal(bps) / 10_000), szd, rounding=ROUND_FLOOR)
    return round_price(ask * (1 + Decimal(bps) / 10_000), szd, rounding=ROUND_CEILING)


def quote(
    ex: SimulatedExchange,
    cloids: CloidFactory,
    side: Side = Side.BUY,
    bps: int = 10,
    *,
    size: Decimal = SIZE,
    post_only: bool = True,
) -> PlaceOrder:
    """A valid placement ``bps`` behind the market's touch."""
    price = level(ex, side, bps)
    return PlaceOrder(cloid=cloids.next(), side=side, price=price, size=size, post_only=post_only)


def factory() -> CloidFactory:
    return CloidFactory("lifecycle", run_id=1)


def responses(deliveries: Iterable[Delivery]) -> list[Response]:
    return [d for d in deliveries if isinstance(d, Response)]


def ws_events(deliveries: Iterable[Delivery]) -> list[ExchangeEvent]:
    return [d.event for d in deliveries if isinstance(d, WsMessage) and not d.snapshot]


def answer(ex: SimulatedExchange, ticket: Ticket, until: float = 30.0) -> tuple[
    Response, list[Delivery]
]:
    """Advance to ``until``; return the ticket's response and everything delivered."""
    delivered = ex.advance(until)
    (response,) = [r for r in responses(delivered) if r.ticket == ticket]
    return response, delivered


def only_result(response: Response) -> CommandResult:
    (result,) = response.results
    return result


def placed(ex: SimulatedExchange, command: PlaceOrder, now: float = 0.0) -> Oid:
    """Place ``command`` and return its oid once it rests."""
    response, _ = answer(ex, ex.submit(command, now), now + 1.0)
    (accepted,) = [e for e in only_result(response).events if isinstance(e, OrderAccepted)]
    return accepted.oid


def scripted_run(seed: int, profile: str) -> list[Delivery]:
    """A fixed request script over two simulated minutes; returns every delivery."""
    ex = SimulatedExchange(seed, profile, previous_run=CloidFactory("lifecycle", 9),
                           previous_orders=2, foreign_orders=2)
    cloids = factory()
    out: list[Delivery] = []
    oids: list[Oid] = []
    for step in range(24):
        now = step * 5.0
        out += ex.advance(now)
        oids += [
            e.oid for r in responses(out) for res in r.results for e in res.events
            if isinstance(e, OrderAccepted) and e.oid not in oids
        ]
        ex.submit([quote(ex, cloids, Side.BUY, 5), quote(ex, cloids, Side.SELL, 5)], now)
        if oids and step % 3 == 0:
            ex.submit(CancelOrder(cloid=None, oid=oids[0]), now)
        if len(oids) > 1 and step % 4 == 1:
            bid, _ = ex.bbo()
            ex.submit(ModifyOrder(cloid=None, oid=oids[1], price=bid, size=SIZE), now)
    return out + ex.advance(130.0)


# --- determinism -----------------------------------------------------------------------------


def test_exchange_same_seed_gives_same_deliveries() -> None:
    first = scripted_run(5, "harsh")
    again = scripted_run(5, "harsh")
    assert len(first) > 50
    assert first == again


def test_exchange_other_seed_gives_other_deliveries() -> None:
    assert scripted_run(5, "default") != scripted_run(6, "default")


def test_exchange_time_going_backwards_raises() -> None:
    ex = exchange()
    ex.advance(5.0)
    with pytest.raises(TimeWentBackwards):
        ex.advance(4.0)
    with pytest.raises(TimeWentBackwards):
        ex.submit(FetchOpenOrders(reason="x"), 1.0)


def test_exchange_deliveries_come_in_time_order_across_calls() -> None:
    deliveries = scripted_run(3, "harsh")
    times = [d.at for d in deliveries]
    assert times == sorted(times)


def test_exchange_next_time_lets_a_driver_jump_to_the_next_delivery() -> None:
    ex = exchange(market=dataclasses.replace(QUIET, price_step_s=1000.0))
    ticket = ex.submit(quote(ex, factory()), 0.0)
    jumps: list[tuple[float, list[str]]] = []
    while (due := ex.next_time()) is not None and due < 100.0:
        jumps.append((due, [type(d).__name__ for d in ex.advance(due)]))
    assert jumps == [
        (pytest.approx(0.1), []),  # the request reaches the venue
        (pytest.approx(0.15), ["WsMessage"]),  # the `open`
        (pytest.approx(0.2), ["Response"]),  # the answer
    ]
    assert ex.next_time() == 1000.0  # then the market's next price step
    assert ticket.id == 1


# --- profile none: no faults -----------------------------------------------------------------


def test_profile_none_run_produces_no_faults() -> None:
    ex = SimulatedExchange(11, "none")
    cloids = factory()
    tickets = []
    delivered: list[Delivery] = []
    for step in range(60):
        now = step * 2.0
        delivered += ex.advance(now)
        tickets.append(ex.submit([quote(ex, cloids, s, 3) for s in Side], now))
        tickets.append(ex.submit(FetchOpenOrders(reason="sync"), now))
    delivered += ex.advance(200.0)
    answered = responses(delivered)
    assert {r.ticket for r in answered} == set(tickets)
    assert all(res.definitive and not res.rate_limited for r in answered for res in r.results)
    seqs = [d.seq for d in delivered if isinstance(d, WsMessage)]
    assert seqs == sorted(set(seqs))  # no duplicates, no reordering
    assert not any(isinstance(d, WsReconnected) for d in delivered)
    assert ex.truth.fills  # the market did trade with us
    assert ex.fault_counts == {}


def test_profiles_are_named_and_none_has_fixed_latencies() -> None:
    assert set(PROFILES) == {"none", "default", "harsh"}
    assert NONE.rest_latency == Latency.fixed(0.1)
    assert NONE.timeout_rate == NONE.ws_drop_rate == NONE.reject_rate == 0.0
    assert PROFILES["harsh"].timeout_rate > PROFILES["default"].timeout_rate > 0.0


# --- placements ------------------------------------------------------------------------------


def test_place_resting_answers_accepted_and_sends_ws_open() -> None:
    ex = exchange()
    command = quote(ex, factory())
    response, delivered = answer(ex, ex.submit(command, 0.0))
    (accepted,) = only_result(response).events
    assert isinstance(accepted, OrderAccepted) and accepted.cloid == command.cloid
    assert ws_events(delivered) == [accepted]
    truth = ex.truth.order(accepted.oid)
    assert truth.resting and truth.owner is Owner.CLIENT and truth.placed_at == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("price", "size", "status", "message"),
    [
        (Decimal("96990.5"), SIZE, "tickRejected", "Price must be divisible by tick size."),
        (Decimal("96990"), Decimal("0.0001"), "minTradeNtlRejected",
         "Order must have minimum value of $10."),
        (Decimal("96990"), Decimal("0.000001"), "rejected", "Order has invalid size."),
    ],
)
def test_place_bad_terms_rejected_in_exchange_words(
    price: Decimal, size: Decimal, status: str, message: str
) -> None:
    ex = exchange()
    command = PlaceOrder(cloid=factory().next(), side=Side.BUY, price=price, size=size)
    response, delivered = answer(ex, ex.submit(command, 0.0))
    assert only_result(response).events == (
        OrderRejected(cloid=command.cloid, status=status, message=message),
    )
    assert ws_events(delivered) == []
    assert ex.truth.resting() == ()


def test_place_post_only_crossing_rejected_bad_alo_px() -> None:
    ex = exchange()
    bid, ask = ex.bbo()
    command = PlaceOrder(cloid=factory().next(), side=Side.BUY, price=ask, size=SIZE)
    response, _ = answer(ex, ex.submit(command, 0.0))
    (rejected,) = only_result(response).events
    assert isinstance(rejected, OrderRejected) and rejected.status == "badAloPxRejected"
    assert rejected.message == (
        f"Post only order would have immediately matched, bbo was {bid}@{ask}."
    )


def test_place_reduce_only_without_position_rejected() -> None:
    ex = exchange()
    command = msgspec.structs.replace(quote(ex, factory()), reduce_only=True)
    response, _ = answer(ex, ex.submit(command, 0.0))
    (rejected,) = only_result(response).events
    assert isinstance(rejected, OrderRejected) and rejected.status == "reduceOnlyRejected"


def test_place_reject_rate_one_rejects_with_an_account_status() -> None:
    ex = exchange(with_faults(reject_rate=1.0))
    cloids = factory()
    response, _ = answer(ex, ex.submit([quote(ex, cloids, bps=b) for b in (5, 10)], 0.0))
    statuses = [
        e.status for r in response.results for e in r.events if isinstance(e, OrderRejected)
    ]
    assert len(statuses) == 2 and set(statuses) <= set(RANDOM_REJECT_STATUSES)
    assert ex.truth.resting() == ()


def test_place_injected_reject_uses_status_and_message() -> None:
    ex = exchange()
    ex.inject_reject("perpMarginRejected")
    cloids = factory()
    a, b = quote(ex, cloids), quote(ex, cloids, bps=20)
    response, _ = answer(ex, ex.submit([a, b], 0.0))
    first, second = response.results
    assert first.events == (
        OrderRejected(cloid=a.cloid, status="perpMarginRejected",
                      message="Insufficient margin to place order."),
    )
    assert second.events == (OrderAccepted(cloid=b.cloid, oid=ex.truth.resting()[0].oid),)


def test_place_crossing_taker_fills_immediately_with_the_ws_trade_id() -> None:
    ex = exchange(seed=2)
    _, ask = ex.bbo()
    command = PlaceOrder(cloid=factory().next(), side=Side.BUY, price=ask, size=Decimal("0.002"),
                         post_only=False)
    # Before the next price step (which fills a crossed remainder whole).
    response, delivered = answer(ex, ex.submit(command, 0.0), 0.5)
    rest_fills = [e for e in only_result(response).events if isinstance(e, OrderFilled)]
    ws_fills = [e for e in ws_events(delivered) if isinstance(e, OrderFilled)]
    assert rest_fills and [f.tid for f in rest_fills] == [f.tid for f in ws_fills]
    assert rest_fills[0].price == ex.bbo()[1]  # at the touch, not the limit
    assert ex.truth.position == sum(f.size for f in rest_fills)


def test_place_duplicate_cloid_rejected_and_original_kept() -> None:
    ex = exchange()
    command = quote(ex, factory())
    oid = placed(ex, command)
    response, _ = answer(ex, ex.submit(command, 1.0), 2.0)
    (rejected,) = only_result(response).events
    assert isinstance(rejected, OrderRejected)
    assert ex.truth.orders_with_cloid(command.cloid)[0].oid == oid
    assert ex.truth.order(oid).resting


def test_immediate_fill_rate_one_fill_arrives_before_the_placement_answer() -> None:
    ex = exchange(with_faults(immediate_fill_rate=1.0))
    command = quote(ex, factory(), size=Decimal("0.004"))
    ticket = ex.submit(command, 0.0)
    delivered = ex.advance(5.0)
    kinds = [
        type(d.event).__name__ if isinstance(d, WsMessage) else "response" for d in delivered
    ]
    assert kinds.index("OrderFilled") < kinds.index("response")
    fill = next(d.event for d in delivered if isinstance(d, WsMessage)
                and isinstance(d.event, OrderFilled))
    assert fill.cloid == command.cloid
    assert ex.truth.fills[0].at == pytest.approx(0.1)  # the instant it was accepted
    assert ex.fault_counts["immediate_fill"] == 1
    assert responses(delivered)[0].ticket == ticket


# --- ambiguous outcomes ----------------------------------------------------------------------


def test_timeout_executed_order_rests_while_result_is_ambiguous() -> None:
    ex = exchange()
    ex.inject_rest_fault("timeout", executed=True)
    command = quote(ex, factory())
    ticket = ex.submit(command, 0.0)
    assert responses(ex.advance(9.9)) == []  # no answer before the client's deadline
    (resting,) = ex.truth.resting()
    assert resting.cloid == command.cloid
    response, _ = answer(ex, ticket, 10.0)
    result = only_result(response)
    assert result.ambiguous and result.events == () and not result.rate_limited
    assert result.error == "request timed out after 10 s"
    assert response.at == pytest.approx(10.0)


def test_timeout_not_executed_leaves_no_order() -> None:
    ex = exchange()
    ex.inject_rest_fault("timeout", executed=False)
    response, _ = answer(ex, ex.submit(quote(ex, factory()), 0.0))
    assert only_result(response).ambiguous
    assert ex.truth.orders() == ()


def test_cancel_timeout_executed_cancels_anyway() -> None:
    ex = exchange()
    oid = placed(ex, quote(ex, factory()))
    ex.inject_rest_fault("timeout", executed=True)
    response, delivered = answer(ex, ex.submit(CancelOrder(cloid=None, oid=oid), 1.0), 20.0)
    assert only_result(response).ambiguous
    assert ex.truth.order(oid).status == "canceled"
    assert [c.was_resting for c in ex.truth.cancels] == [True]
    assert any(isinstance(e, OrderCanceled) for e in ws_events(delivered))


def test_server_error_rate_one_gives_ambiguous_5xx() -> None:
    ex = exchange(with_faults(server_error_rate=1.0, lost_request_executed_rate=1.0))
    response, _ = answer(ex, ex.submit(quote(ex, factory()), 0.0))
    result = only_result(response)
    assert result.ambiguous and result.error == "502 Bad Gateway"
    assert response.at == pytest.approx(0.2)
    assert len(ex.truth.resting()) == 1  # performed anyway


def test_timeout_rate_one_counts_each_request() -> None:
    ex = exchange(with_faults(timeout_rate=1.0, lost_request_executed_rate=0.0))
    for i in range(3):
        ex.submit(quote(ex, factory(), bps=5 + i), 0.0)
    delivered = ex.advance(11.0)
    assert all(only_result(r).ambiguous for r in responses(delivered))
    assert ex.fault_counts["timeout"] == 3 and ex.truth.orders() == ()


def test_slow_answer_past_the_deadline_is_ambiguous_though_executed() -> None:
    slow = with_faults(rest_latency=Latency.fixed(3.0), request_timeout_s=5.0)
    ex = exchange(slow)
    response, _ = answer(ex, ex.submit(quote(ex, factory()), 0.0), 10.0)
    assert only_result(response).ambiguous and response.at == pytest.approx(5.0)
    assert len(ex.truth.resting()) == 1
    assert ex.fault_counts["late_answer"] == 1


# --- cancels ---------------------------------------------------------------------------------


def test_cancel_resting_answers_canceled_and_records_the_cancel() -> None:
    ex = exchange()
    command = quote(ex, factory())
    oid = placed(ex, command)
    response, delivered = answer(ex, ex.submit(CancelOrder(cloid=command.cloid, oid=None), 2.0))
    expected = OrderCanceled(cloid=command.cloid, oid=oid, status="canceled")
    assert only_result(response).events == (expected,)
    assert ws_events(delivered) == [expected]
    (received,) = ex.truth.cancels
    assert (received.cloid, received.target, received.was_resting) == (command.cloid, oid, True)
    assert received.target_owner is Owner.CLIENT


def test_cancel_of_unknown_order_answers_gone_in_exchange_words() -> None:
    ex = exchange()
    response, _ = answer(ex, ex.submit(CancelOrder(cloid=None, oid=Oid(12345)), 0.0))
    assert only_result(response).events == (
        CancelRejected(oid=Oid(12345), order_gone=True,
                       message="Order was never placed, already canceled, or filled."),
    )
    assert ex.truth.cancels[0].target is None


def test_cancel_by_cloid_reaching_the_venue_before_its_placement_answers_gone() -> None:
    ex = exchange()
    command = quote(ex, factory())
    # Equal fixed latencies: the cancel, sent first, arrives first.
    cancel = ex.submit(CancelOrder(cloid=command.cloid, oid=None), 0.0)
    ex.submit(command, 0.0)
    response, _ = answer(ex, cancel)
    (gone,) = only_result(response).events
    assert isinstance(gone, CancelRejected) and gone.order_gone
    assert ex.truth.resting()[0].cloid == command.cloid  # the order rests after all
    assert ex.truth.cancels[0].target is None


def test_cancel_of_filled_order_answers_gone() -> None:
    ex = exchange()
    oid = placed(ex, quote(ex, factory()))
    ex.inject_fill(oid, 1.0, SIZE)
    response, _ = answer(ex, ex.submit(CancelOrder(cloid=None, oid=oid), 2.0), 5.0)
    (gone,) = only_result(response).events
    assert isinstance(gone, CancelRejected) and gone.order_gone
    assert ex.truth.order(oid).status == "filled"
    assert ex.truth.cancels[0].was_resting is False


# --- modify ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cancel_first", [False, True])
def test_modify_gives_new_oid_same_cloid_with_open_and_cancel_in_either_order(
    cancel_first: bool,
) -> None:
    ex = exchange(with_faults(modify_cancel_first_rate=1.0 if cancel_first else 0.0))
    command = quote(ex, factory())
    old = placed(ex, command)
    new_price = command.price - 10
    response, delivered = answer(
        ex, ex.submit(ModifyOrder(cloid=None, oid=old, price=new_price, size=SIZE), 2.0)
    )
    (modified,) = only_result(response).events
    assert isinstance(modified, OrderModified)
    assert (modified.cloid, modified.old_oid, modified.price) == (command.cloid, old, new_price)
    assert modified.oid != old
    updates = ws_events(delivered)
    opened = OrderAccepted(cloid=command.cloid, oid=modified.oid)
    canceled = OrderCanceled(cloid=command.cloid, oid=old, status="canceled")
    assert updates == ([canceled, opened] if cancel_first else [opened, canceled])
    new = ex.truth.order(modified.oid)
    assert new.resting and new.replaces == old and new.price == new_price
    assert ex.truth.order(old).replaced_by == modified.oid


def test_modify_of_canceled_order_answers_cannot_modify() -> None:
    ex = exchange()
    command = quote(ex, factory())
    oid = placed(ex, command)
    ex.submit(CancelOrder(cloid=None, oid=oid), 1.0)
    ticket = ex.submit(ModifyOrder(cloid=None, oid=oid, price=command.price, size=SIZE), 1.5)
    response, _ = answer(ex, ticket)
    assert only_result(response).events == (
        ModifyRejected(oid=oid, order_gone=True, message="Cannot modify canceled or filled order"),
    )


def test_modify_to_bad_tick_refused_and_order_kept() -> None:
    ex = exchange()
    command = quote(ex, factory())
    oid = placed(ex, command)
    ticket = ex.submit(ModifyOrder(cloid=None, oid=oid, price=command.price + Decimal("0.5"),
                                   size=SIZE), 1.0)
    (refused,) = only_result(answer(ex, ticket)[0]).events
    assert isinstance(refused, ModifyRejected) and not refused.order_gone
    assert ex.truth.order(oid).resting


# --- status queries --------------------------------------------------------------------------


def test_order_status_answers_open_filled_canceled_and_unknown() -> None:
    ex = exchange()
    cloids = factory()
    a, b, c = (quote(ex, cloids, bps=bps) for bps in (5, 10, 15))
    response, _ = answer(ex, ex.submit([a, b, c], 0.0), 1.0)
    oid_a, oid_b, _ = (r.events[0].oid for r in response.results)  # type: ignore[union-attr]
    ex.inject_fill(oid_a, 1.0, SIZE)
    ex.submit(CancelOrder(cloid=None, oid=oid_b), 1.0)
    ex.advance(2.0)

    def outcome(query: QueryOrderStatus) -> tuple[StatusOutcome, str]:
        (report,) = ex.order_status(query, 2.0).events
        assert isinstance(report, OrderStatusReport)
        return report.outcome, report.status

    assert outcome(QueryOrderStatus(cloid=a.cloid, oid=None)) == (StatusOutcome.FILLED, "filled")
    assert outcome(QueryOrderStatus(cloid=None, oid=oid_b)) == (StatusOutcome.CANCELED, "canceled")
    assert outcome(QueryOrderStatus(cloid=c.cloid, oid=None)) == (StatusOutcome.OPEN, "open")
    assert outcome(QueryOrderStatus(cloid=cloids.next(), oid=None)) == (
        StatusOutcome.NOT_FOUND, "unknownOid",
    )


def test_spurious_unknown_oid_rate_one_hides_a_live_order() -> None:
    ex = exchange(with_faults(status_unknown_oid_rate=1.0))
    command = quote(ex, factory())
    placed(ex, command)
    response, _ = answer(ex, ex.submit(QueryOrderStatus(cloid=command.cloid, oid=None), 1.0))
    (report,) = only_result(response).events
    assert isinstance(report, OrderStatusReport) and report.outcome is StatusOutcome.NOT_FOUND
    assert ex.truth.resting()[0].cloid == command.cloid
    assert ex.fault_counts["spurious_unknown_oid"] == 1


# --- snapshots -------------------------------------------------------------------------------


def test_snapshot_lag_omits_a_fresh_order_then_lists_it() -> None:
    ex = exchange(with_faults(snapshot_lag=Latency.fixed(2.0)))
    command = quote(ex, factory())
    oid = placed(ex, command)  # rests at 0.1, visible from 2.1
    early = ex.open_orders(1.0)
    late = ex.open_orders(2.5)
    assert early.taken_at == 1.0 and early.orders == ()
    (row,) = late.orders
    assert (row.oid, row.cloid, row.coin, row.size) == (oid, command.cloid, "BTC", SIZE)
    assert ex.truth.order(oid).resting  # it rested all along


def test_snapshot_request_through_submit_lags_like_the_direct_read() -> None:
    ex = exchange(with_faults(snapshot_lag=Latency.fixed(2.0)))
    placed(ex, quote(ex, factory()))
    response, _ = answer(ex, ex.submit(FetchOpenOrders(reason="sync"), 1.0))
    assert response.snapshot is not None
    assert response.snapshot.orders == () and response.snapshot.taken_at == pytest.approx(1.1)


def test_snapshot_after_modify_omits_the_new_oid_until_its_lag() -> None:
    ex = exchange(with_faults(snapshot_lag=Latency.fixed(2.0)))
    command = quote(ex, factory())
    old = placed(ex, command)
    ex.advance(5.0)
    ex.submit(ModifyOrder(cloid=None, oid=old, price=command.price - 5, size=SIZE), 5.0)
    assert ex.open_orders(6.0).orders == ()
    assert [r.oid for r in ex.open_orders(8.0).orders] == [ex.truth.order(old).replaced_by]


# --- rate limits -----------------------------------------------------------------------------


def test_ip_rate_limit_refuses_whole_batch_in_exchange_words_and_does_nothing() -> None:
    ex = exchange(with_faults(ip_weight_per_min=3))
    cloids = factory()
    tickets = [ex.submit([quote(ex, cloids, bps=5 + i)], 0.0) for i in range(3)]
    refused = ex.submit([quote(ex, cloids, bps=20), quote(ex, cloids, bps=21)], 0.0)
    delivered = ex.advance(1.0)
    by_ticket = {r.ticket: r for r in responses(delivered)}
    assert all(by_ticket[t].results[0].events for t in tickets)
    results = by_ticket[refused].results
    assert [(r.rate_limited, r.ambiguous, r.events, r.error) for r in results] == [
        (True, False, (), "429 Too Many Requests")
    ] * 2
    assert len(ex.truth.orders()) == 3
    # The budget is per rolling minute.
    again = ex.submit(quote(ex, cloids, bps=30), 61.0)
    assert not answer(ex, again, 62.0)[0].results[0].rate_limited


def test_address_rate_limit_refuses_with_cumulative_requests_message() -> None:
    ex = exchange(with_faults(address_request_buffer=1))
    cloids = factory()
    first = ex.submit(quote(ex, cloids, bps=5), 0.0)
    over_once = ex.submit(quote(ex, cloids, bps=6), 1.0)  # over the cap: one per 10 s passes
    refused = ex.submit(quote(ex, cloids, bps=7), 2.0)
    by_ticket = {r.ticket: r for r in responses(ex.advance(3.0))}
    assert not by_ticket[first].results[0].rate_limited
    assert not by_ticket[over_once].results[0].rate_limited
    result = by_ticket[refused].results[0]
    assert result.rate_limited and result.error.startswith(
        "Too many cumulative requests sent (3 > 1) for cumulative volume traded $0.00."
    )
    assert ex.fault_counts["rate_limited"] == 1


# --- exchange-initiated cancels --------------------------------------------------------------


def test_exchange_cancel_rate_cancels_resting_orders_with_its_own_words() -> None:
    ex = exchange(with_faults(exchange_cancels_per_min=600.0))
    cloids = factory()
    ex.submit([quote(ex, cloids, s, bps) for s in Side for bps in (5, 10)], 0.0)
    delivered = ex.advance(10.0)
    canceled = [e for e in ws_events(delivered) if isinstance(e, OrderCanceled)]
    assert len(canceled) == 4
    assert all(e.exchange_initiated and e.status in EXCHANGE_CANCEL_STATUSES for e in canceled)
    assert ex.truth.resting() == ()


@pytest.mark.parametrize("field", ["exchange_cancels_per_min", "ws_disconnects_per_hour"])
def test_a_rate_too_small_to_count_per_second_never_happens(field: str) -> None:
    # 5e-324 per minute or hour underflows to 0 per second: the process never runs
    # (it raised ZeroDivisionError when the exchange started).
    ex = exchange(with_faults(**{field: 5e-324}))
    ex.submit([quote(ex, factory())], 0.0)
    delivered = ex.advance(3600.0)
    assert not [e for e in ws_events(delivered) if isinstance(e, OrderCanceled)]
    assert len(ex.truth.resting()) == 1


def test_scheduled_cancel_ends_every_open_order() -> None:
    ex = exchange(previous_run=CloidFactory("lifecycle", 9), previous_orders=2, foreign_orders=2)
    placed(ex, quote(ex, factory()))
    ex.inject_scheduled_cancel(3.0)
    delivered = ex.advance(4.0)
    statuses = {(e.status, e.exchange_initiated) for e in ws_events(delivered)
                if isinstance(e, OrderCanceled)}
    assert statuses == {("scheduledCancel", True)}
    assert ex.truth.resting() == () and len(ex.truth.orders()) == 5


def test_injected_exchange_cancel_reaches_ws_with_status() -> None:
    ex = exchange()
    command = quote(ex, factory())
    oid = placed(ex, command)
    ex.inject_exchange_cancel(oid, "marginCanceled", 2.0)
    events = ws_events(ex.advance(3.0))
    assert events[-1] == OrderCanceled(cloid=command.cloid, oid=oid, status="marginCanceled",
                                       exchange_initiated=True)


# --- websocket faults ------------------------------------------------------------------------


def test_ws_drop_rate_one_loses_every_message_but_rest_answers() -> None:
    ex = exchange(with_faults(ws_drop_rate=1.0))
    response, delivered = answer(ex, ex.submit(quote(ex, factory()), 0.0))
    assert ws_events(delivered) == []
    assert isinstance(only_result(response).events[0], OrderAccepted)
    assert ex.fault_counts["ws_drop"] == 1


def test_ws_duplicate_rate_one_delivers_each_message_twice() -> None:
    ex = exchange(with_faults(ws_duplicate_rate=1.0))
    _, delivered = answer(ex, ex.submit(quote(ex, factory()), 0.0))
    messages = [d for d in delivered if isinstance(d, WsMessage)]
    assert len(messages) == 2 and messages[0].event == messages[1].event
    assert messages[0].seq == messages[1].seq


def test_ws_reorder_lets_later_messages_overtake() -> None:
    profile = with_faults(ws_reorder_rate=0.5, ws_reorder_delay=Latency.fixed(1.0))
    ex = exchange(profile, seed=4)
    cloids = factory()
    for i in range(20):
        ex.submit(quote(ex, cloids, bps=5 + i), i * 0.1)
    seqs = [d.seq for d in ex.advance(10.0) if isinstance(d, WsMessage)]
    assert sorted(seqs) == list(range(1, 21)) and seqs != sorted(seqs)
    assert ex.fault_counts["ws_reorder"] > 0


def test_ws_disconnect_loses_updates_without_replay_and_reconnect_is_announced() -> None:
    ex = exchange()
    cloids = factory()
    before = ex.submit(quote(ex, cloids, bps=5), 0.0)  # its `open` arrives at 0.15
    ex.inject_ws_disconnect(1.0, downtime_s=3.0)
    during = ex.submit(quote(ex, cloids, bps=8), 1.5)  # its `open` is sent while down
    delivered = ex.advance(2.0)
    (oid,) = [e.oid for e in only_result(responses(delivered)[-1]).events
              if isinstance(e, OrderAccepted)]
    ex.inject_fill(oid, 2.5, SIZE)  # and its fill
    delivered += ex.advance(10.0)
    ws = [d for d in delivered if isinstance(d, WsMessage) and not d.snapshot]
    assert [d.at for d in ws] == [pytest.approx(0.15)]  # nothing after the disconnect
    (reconnected,) = [d for d in delivered if isinstance(d, WsReconnected)]
    assert (reconnected.at, reconnected.down_since) == (4.0, 1.0)
    replayed = [d.event for d in delivered if isinstance(d, WsMessage) and d.snapshot]
    assert [(type(e), e.oid) for e in replayed] == [(OrderFilled, oid)]  # the fills snapshot
    assert {r.ticket for r in responses(delivered)} == {before, during}  # REST unaffected
    assert ex.fault_counts["ws_disconnect"] == 1 and ex.fault_counts["ws_lost_while_down"] == 2


def test_ws_disconnect_cuts_off_messages_in_flight() -> None:
    ex = exchange(with_faults(ws_latency=Latency.fixed(1.0)))
    ex.submit(quote(ex, factory()), 0.0)  # `open` sent at 0.1, due at 1.1
    ex.inject_ws_disconnect(0.5, downtime_s=1.0)
    delivered = ex.advance(5.0)
    assert not any(isinstance(d, WsMessage) for d in delivered)
    assert ex.fault_counts["ws_cut_off"] == 1


def test_client_stop_keeps_the_socket_down_through_a_due_reconnect() -> None:
    ex = exchange()
    cloids = factory()
    ex.inject_ws_disconnect(1.0, downtime_s=1.0)  # would reconnect at 2.0
    ex.inject_client_stop(1.5)
    ex.submit(quote(ex, cloids, bps=5), 3.0)  # its `open` is sent while the client is gone
    delivered = ex.advance(5.0)
    assert not any(isinstance(d, (WsMessage, WsReconnected)) for d in delivered)
    ex.inject_client_start(6.0)
    ex.submit(quote(ex, cloids, bps=8), 7.0)
    delivered = ex.advance(10.0)
    (reconnected,) = [d for d in delivered if isinstance(d, WsReconnected)]
    assert (reconnected.at, reconnected.down_since) == (6.0, 1.0)
    assert [type(d.event) for d in delivered if isinstance(d, WsMessage)] == [OrderAccepted]
    assert ex.fault_counts["ws_lost_while_down"] == 1


def test_fills_without_cloid_when_profile_says_so() -> None:
    ex = exchange(with_faults(fills_carry_cloid=False))
    oid = placed(ex, quote(ex, factory()))
    ex.inject_fill(oid, 1.0, SIZE)
    (fill,) = [e for e in ws_events(ex.advance(2.0)) if isinstance(e, OrderFilled)]
    assert fill.cloid is None and fill.oid == oid


# --- fills and position ----------------------------------------------------------------------


def test_fills_reduce_size_and_move_position_once_per_trade_id() -> None:
    ex = exchange(with_faults(ws_duplicate_rate=1.0))
    command = quote(ex, factory(), size=Decimal("0.003"))
    oid = placed(ex, command)
    ex.inject_fill(oid, 1.0, Decimal("0.001"))
    ex.inject_fill(oid, 2.0, Decimal("0.002"))
    delivered = ex.advance(3.0)
    ws_fills = [e for e in ws_events(delivered) if isinstance(e, OrderFilled)]
    assert len(ws_fills) == 4  # each trade delivered twice
    tids = {f.tid for f in ws_fills}
    assert len(tids) == 2 and {f.tid for f in ex.truth.fills} == tids
    order = ex.truth.order(oid)
    assert (order.filled, order.remaining, order.status) == (Decimal("0.003"), 0, "filled")
    assert ex.truth.position == Decimal("0.003")
    assert ex.truth.position_as_of(1.5) == Decimal("0.001")
    assert double_counted_fills(ex.truth, [f.tid for f in ws_fills]) == 2
    assert double_counted_fills(ex.truth, tids) == 0


def test_taker_flow_fills_partially_and_fully_over_time() -> None:
    ex = SimulatedExchange(8, "none", market=MarketParams(takers_per_s=2.0))
    cloids = factory()
    ex.submit([quote(ex, cloids, s, 1, size=Decimal("0.01")) for s in Side], 0.0)
    ex.advance(120.0)
    fills = ex.truth.fills
    assert fills
    assert len({f.tid for f in fills}) == len(fills)
    assert any(f.size < Decimal("0.01") for f in fills)  # partial fills
    assert ex.truth.position == sum((f.size * f.side.sign for f in fills), Decimal(0))


# --- the account at the start; HIP-3 ---------------------------------------------------------


def test_previous_run_and_foreign_orders_rest_at_start() -> None:
    previous = CloidFactory("lifecycle", run_id=9)
    ex = exchange(previous_run=previous, previous_orders=3, foreign_orders=4)
    snapshot = ex.open_orders(0.0)
    assert len(snapshot.orders) == 7
    ours = factory()
    by_owner = {o.oid: o.owner for o in ex.truth.orders()}
    previous_rows = [r for r in snapshot.orders if by_owner[r.oid] is Owner.PREVIOUS_RUN]
    foreign_rows = [r for r in snapshot.orders if by_owner[r.oid] is Owner.FOREIGN]
    assert len(previous_rows) == 3 and all(ours.owns(r.cloid) for r in previous_rows)
    assert all(r.cloid is not None and r.cloid[10:18] == "00000009" for r in previous_rows)
    assert len(foreign_rows) == 4 and not any(ours.owns(r.cloid) for r in foreign_rows)
    assert sum(r.cloid is None for r in foreign_rows) == 2
    assert all(o.placed_at < 0.0 for o in ex.truth.resting())


def test_hip3_dex_names_coin_dex_colon_coin_and_scopes_snapshots() -> None:
    ex = exchange(dex="hyna", coin="HYPE", foreign_orders=2)
    assert ex.coin == "hyna:HYPE" and ex.asset == 110_000
    assert {r.coin for r in ex.open_orders(0.0).orders} == {"hyna:HYPE"}
    assert ex.open_orders(0.0, dex="").orders == ()  # a request without the dex sees nothing
    assert len(ex.open_orders(0.0, dex="hyna").orders) == 2


def test_coin_with_dex_prefix_refused() -> None:
    with pytest.raises(ValueError, match="bare name"):
        exchange(coin="hyna:HYPE")


# --- submit validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch",
    [
        [],
        [CancelOrder(cloid=None, oid=Oid(1)), QueryOrderStatus(cloid=None, oid=Oid(1))],
        [FetchOpenOrders(reason="a"), FetchOpenOrders(reason="b")],
    ],
)
def test_submit_malformed_batch_raises(batch: list[Command]) -> None:
    with pytest.raises(ValueError):
        exchange().submit(batch, 0.0)


# --- an engine driven by the model -----------------------------------------------------------


def test_engine_driven_by_exchange_with_profile_none_matches_truth() -> None:
    ex = SimulatedExchange(21, "none", market=MarketParams(takers_per_s=0.2))
    engine = Engine(cloids=factory(), verify=True)
    placed_cloids: list[Cloid] = []
    applied: list[Tid] = []
    premature: set[Oid] = set()

    def feed(event: ExchangeEvent, at: float) -> None:
        before = engine.ledger.fills
        engine.handle(event, at)
        if isinstance(event, OrderFilled) and engine.ledger.fills > before:
            applied.append(event.tid)

    def step(now: float) -> None:
        for delivery in ex.advance(now):
            if isinstance(delivery, Response):
                for result in delivery.results:
                    assert result.definitive
                    for event in result.events:
                        feed(event, delivery.at)
            elif isinstance(delivery, WsMessage) and not delivery.snapshot:
                feed(delivery.event, delivery.at)
        engine.on_timer(now)
        gone = {c for c in placed_cloids if engine.registry.by_cloid(c) is None
                or engine.order(c).state is OrderState.GONE}
        premature.update(o.oid for o in premature_untracks(ex.truth, gone))

    def requote(now: float) -> None:
        bid, ask = ex.bbo()
        for order in engine.registry.select(states=(OrderState.TRACKED,)):
            touch = bid if order.side is Side.BUY else ask
            away_bps = abs(order.price - touch) / touch * 10_000
            if away_bps > 20:
                engine.cancel(order, now)
            elif away_bps > 12 and order.filled == 0:
                # Unfilled orders only: the venue's new size is the whole new order,
                # while the engine adds earlier fills to it.
                engine.modify(order, level(ex, order.side, 6), order.size, now)
        for side in Side:
            working = engine.registry.select(
                states=(OrderState.EXPECTED, *RESTING), side=side
            )
            for bps in (3, 8)[len(working):]:
                order = engine.place(side, level(ex, side, bps), SIZE, now)
                assert order.cloid is not None
                placed_cloids.append(order.cloid)

    now, next_quote, end = 0.0, 0.0, 180.0
    while now < end:
        if now >= next_quote:
            requote(now)
            next_quote = now + 5.0
        for command in engine.commands_to_send():
            ex.submit(command, now)
        due = [t for t in (ex.next_time(), engine.next_deadline(), next_quote) if t is not None]
        now = min(min(due), end)
        step(now)
    ex.close_market(now)
    while (due_at := ex.next_time()) is not None:
        for command in engine.commands_to_send():
            ex.submit(command, now)
        now = due_at
        step(now)

    truth = ex.truth
    assert len(truth.fills) > 5 and len(truth.cancels) > 0
    assert any(o.replaces is not None for o in truth.orders())  # modifies happened
    for order in truth.resting(Owner.CLIENT):
        assert order.cloid is not None
        assert engine.order(order.cloid).state in RESTING
        assert engine.order(order.cloid).oid == order.oid
    tracked = [o for o in engine.registry if o.state is not OrderState.GONE]
    assert untracked_resting_at_end(
        truth, {o.cloid for o in tracked if o.cloid}, {o.oid for o in tracked if o.oid}
    ) == ()
    assert premature == set()
    assert engine.anomalies.counts[AnomalyKind.UNKNOWN_FILL] == 0
    assert engine.anomalies.counts[AnomalyKind.OVERFILL] == 0
    assert position_mismatch(truth, engine.position) == 0
    assert double_counted_fills(truth, applied) == 0
    assert len(applied) == len(truth.fills)
