"""The simulated exchange's parts: tick rules, price paths, rate limits, profiles,
invariant counters, the adapter records and the async adapter."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from decimal import Decimal
from pathlib import Path

import pytest
from lifecycle.adapters.simulated import (
    PROFILES,
    CsvPrices,
    Latency,
    MarketParams,
    Owner,
    RandomWalk,
    SimulatedAdapter,
    SimulatedExchange,
    WsReconnected,
    false_orphan_cancels,
    position_mismatch,
    premature_untracks,
    price_is_valid,
    profile,
    round_price,
    round_size,
    size_is_valid,
    untracked_resting_at_end,
)
from lifecycle.adapters.simulated.ratelimit import RateLimiter

from lifecycle.core.clock import ManualClock
from lifecycle.core.commands import CancelOrder, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import CloidFactory, Oid
from lifecycle.core.order import Side
from lifecycle.runtime import (
    CommandResult,
    ExchangeAdapter,
    OpenOrder,
    OpenOrdersSnapshot,
    SnapshotUnavailable,
)

QUIET = MarketParams(takers_per_s=0.0, volatility_bps=0.0, jumps_per_hour=0.0)
SIZE = Decimal("0.001")


# --- tick and lot rules ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "sz_decimals", "expected"),
    [
        ("1234.56", 1, "1234.6"),  # 5 significant figures
        ("0.00123456", 0, "0.001235"),  # and at most 6 - sz_decimals decimals
        ("0.0123456", 3, "0.012"),
        ("123456.7", 5, "123457"),  # integers above 100000
        ("99999.6", 2, "100000"),  # rounding up past 5 figures
        ("97001.2", 5, "97001"),
    ],
)
def test_round_price_five_significant_figures_and_decimals_limit(
    price: str, sz_decimals: int, expected: str
) -> None:
    rounded = round_price(Decimal(price), sz_decimals)
    assert rounded == Decimal(expected)
    assert price_is_valid(rounded, sz_decimals)


@pytest.mark.parametrize(
    ("price", "sz_decimals", "valid"),
    [
        ("1234.5", 0, True),
        ("1234.56", 0, False),
        ("0.001234", 0, True),
        ("0.0012345", 0, False),
        ("0.01234", 1, True),
        ("0.012345", 1, False),
        ("123456", 5, True),  # integers are always valid
        ("12345.6", 5, False),
        ("0", 5, False),
    ],
)
def test_price_is_valid_follows_the_venue_examples(
    price: str, sz_decimals: int, valid: bool
) -> None:
    assert price_is_valid(Decimal(price), sz_decimals) is valid


def test_round_price_non_positive_raises() -> None:
    with pytest.raises(ValueError):
        round_price(Decimal("-1"), 2)


def test_sizes_round_down_to_sz_decimals() -> None:
    assert round_size(Decimal("1.0019"), 3) == Decimal("1.001")
    assert size_is_valid(Decimal("1.001"), 3)
    assert not size_is_valid(Decimal("1.0001"), 3)
    assert not size_is_valid(Decimal("0"), 3)


# --- price paths -----------------------------------------------------------------------------


def test_random_walk_same_seed_same_path_and_valid_prices() -> None:
    market = MarketParams(jumps_per_hour=600.0)

    def path(seed: int) -> list[Decimal]:
        walk = RandomWalk(random.Random(seed), market, 0.0)
        return [walk.advance(float(t)) for t in range(1, 200)]

    first = path(3)
    assert first == path(3) and first != path(4)
    assert all(price_is_valid(p, market.sz_decimals) for p in first)
    assert len(set(first)) > 50


def test_random_walk_jump_moves_far() -> None:
    market = MarketParams(volatility_bps=0.0, jumps_per_hour=3600.0, jump_bps=100.0)
    walk = RandomWalk(random.Random(1), market, 0.0)
    start = walk.mid
    moved = walk.advance(1.0)
    assert abs(moved - start) / start > Decimal("0.004")


def test_csv_prices_hold_each_row_until_the_next(tmp_path: Path) -> None:
    path = tmp_path / "mids.csv"
    path.write_text("time_s,mid\n0,100.004\n10,101\n20,99.5\n", encoding="utf-8")
    prices = CsvPrices.from_csv(path, sz_decimals=2)
    assert prices.mid == Decimal("100.00")  # rounded to a valid price
    assert prices.next_change() == 10.0
    assert prices.advance(15.0) == Decimal("101")
    assert prices.advance(25.0) == Decimal("99.5") and prices.next_change() is None


def test_csv_prices_bad_row_after_header_raises() -> None:
    with pytest.raises(ValueError, match="bad price row"):
        CsvPrices.from_csv("time_s,mid\n0,100\nx,y\n", sz_decimals=2)


def test_exchange_follows_csv_prices_and_fills_crossed_orders() -> None:
    prices = CsvPrices([(0.0, Decimal("100")), (5.0, Decimal("98"))], sz_decimals=2)
    market = dataclasses.replace(QUIET, mid=Decimal("100"), sz_decimals=2)
    ex = SimulatedExchange(1, "none", market=market, prices=prices)
    cloid = CloidFactory("lifecycle", 1).next()
    ex.submit(PlaceOrder(cloid=cloid, side=Side.BUY, price=Decimal("99"), size=Decimal("1")), 0.0)
    ex.advance(4.0)
    assert ex.truth.position == 0
    ex.advance(6.0)
    assert ex.mid == Decimal("98")
    assert ex.truth.position == Decimal("1")  # the mid fell through the bid


# --- rate limiter ----------------------------------------------------------------------------


def test_rate_limiter_ip_window_rolls_over_a_minute() -> None:
    limiter = RateLimiter(ip_weight_per_min=40, address_buffer=None)
    volume = Decimal(0)
    assert limiter.admit(0.0, 20, 0, cancels=False, volume_usd=volume) is None
    assert limiter.admit(1.0, 20, 0, cancels=False, volume_usd=volume) is None
    assert limiter.admit(2.0, 2, 0, cancels=False, volume_usd=volume) == "429 Too Many Requests"
    assert limiter.admit(60.5, 2, 0, cancels=False, volume_usd=volume) is None


def test_rate_limiter_cancels_have_a_higher_address_cap() -> None:
    limiter = RateLimiter(ip_weight_per_min=None, address_buffer=2)
    volume = Decimal(0)
    assert limiter.admit(0.0, 1, 2, cancels=False, volume_usd=volume) is None
    assert limiter.admit(0.0, 1, 2, cancels=True, volume_usd=volume) is None  # cap 4 for cancels
    assert limiter.admit(0.0, 1, 1, cancels=False, volume_usd=volume) is None  # first over cap
    refusal = limiter.admit(5.0, 1, 1, cancels=False, volume_usd=volume)
    assert refusal is not None and refusal.startswith("Too many cumulative requests sent (6 > 2)")
    assert limiter.admit(15.0, 1, 1, cancels=False, volume_usd=volume) is None  # 10 s later


def test_rate_limiter_volume_raises_the_address_cap() -> None:
    limiter = RateLimiter(ip_weight_per_min=None, address_buffer=1)
    assert limiter.admit(0.0, 1, 1, cancels=False, volume_usd=Decimal(0)) is None
    assert limiter.admit(0.0, 1, 1, cancels=False, volume_usd=Decimal(0)) is None
    assert limiter.admit(1.0, 1, 1, cancels=False, volume_usd=Decimal(0)) is not None
    assert limiter.admit(1.0, 1, 1, cancels=False, volume_usd=Decimal(50)) is None
    assert limiter.address_used == 3


# --- profiles --------------------------------------------------------------------------------


def test_profile_lookup_by_name_and_unknown_name_raises() -> None:
    assert profile("harsh") is PROFILES["harsh"]
    with pytest.raises(KeyError, match="known: none, default, harsh"):
        profile("gentle")


def test_profile_rate_out_of_range_raises() -> None:
    with pytest.raises(ValueError, match="timeout_rate"):
        dataclasses.replace(PROFILES["none"], timeout_rate=1.5)


def test_latency_draws_stay_within_bounds_and_fixed_is_fixed() -> None:
    rng = random.Random(1)
    spread = Latency(median_s=0.1, sigma=2.0, min_s=0.05, max_s=0.5)
    draws = [spread.draw(rng) for _ in range(500)]
    assert min(draws) == 0.05 and max(draws) == 0.5 and len(set(draws)) > 100
    assert {Latency.fixed(0.2).draw(rng) for _ in range(10)} == {0.2}


def test_harsh_profile_snapshot_lag_within_half_to_five_seconds() -> None:
    rng = random.Random(2)
    for name in ("default", "harsh"):
        lags = [PROFILES[name].snapshot_lag.draw(rng) for _ in range(300)]
        assert min(lags) >= 0.5 and max(lags) <= 5.0


# --- invariant counters ----------------------------------------------------------------------


def seeded_account() -> tuple[SimulatedExchange, list[OrderAccepted]]:
    ex = SimulatedExchange(1, "none", market=QUIET, previous_run=CloidFactory("lifecycle", 9),
                           previous_orders=1, foreign_orders=1)
    cloids = CloidFactory("lifecycle", 1)
    bid, _ = ex.bbo()
    ex.submit([PlaceOrder(cloid=cloids.next(), side=Side.BUY, price=bid - i, size=SIZE)
               for i in (10, 20)], 0.0)
    accepted = [e for d in ex.advance(1.0) if hasattr(d, "results")
                for r in d.results for e in r.events if isinstance(e, OrderAccepted)]
    return ex, accepted


def test_false_orphan_cancels_counts_only_own_orders_cancelled_as_orphans() -> None:
    ex, (a, _) = seeded_account()
    foreign = next(o for o in ex.truth.orders(Owner.FOREIGN))
    orphans = [CancelOrder(cloid=None, oid=a.oid), CancelOrder(cloid=None, oid=foreign.oid)]
    ex.submit(orphans, 1.0)
    ex.advance(2.0)
    assert false_orphan_cancels(ex.truth, orphans) == 1
    assert false_orphan_cancels(ex.truth, orphans[1:]) == 0


def test_premature_untracks_and_untracked_at_end_name_the_resting_orders() -> None:
    ex, (a, b) = seeded_account()
    assert a.cloid is not None and b.cloid is not None
    assert [o.oid for o in premature_untracks(ex.truth, {a.cloid})] == [a.oid]
    assert premature_untracks(ex.truth, set()) == ()
    previous = ex.truth.orders(Owner.PREVIOUS_RUN)[0]
    missing = untracked_resting_at_end(ex.truth, {a.cloid}, {b.oid})
    assert [o.oid for o in missing] == [previous.oid]  # foreign orders are not counted
    assert untracked_resting_at_end(ex.truth, {a.cloid}, {b.oid, previous.oid}) == ()


def test_position_mismatch_is_truth_minus_client() -> None:
    ex, (a, _) = seeded_account()
    ex.inject_fill(a.oid, 1.0, SIZE)
    ex.advance(2.0)
    assert position_mismatch(ex.truth, Decimal(0)) == SIZE
    assert position_mismatch(ex.truth, SIZE) == 0


# --- adapter records -------------------------------------------------------------------------


def test_command_result_definitive_unless_ambiguous() -> None:
    command = CancelOrder(cloid=None, oid=Oid(1))
    assert CommandResult(command=command, events=(), ambiguous=False, rate_limited=True).definitive
    assert not CommandResult(command=command, events=(), ambiguous=True, error="x").definitive


def test_snapshot_records_are_frozen_and_keyword_only() -> None:
    row = OpenOrder(coin="BTC", oid=Oid(1), cloid=None, side=Side.SELL, price=Decimal("1"),
                    size=Decimal("2"))
    snapshot = OpenOrdersSnapshot(taken_at=1.0, orders=(row,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.taken_at = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        OpenOrdersSnapshot(1.0, ())  # type: ignore[misc]


# --- the async adapter -----------------------------------------------------------------------


def virtual_adapter(
    ex: SimulatedExchange, reconnects: list[WsReconnected] | None = None
) -> tuple[SimulatedAdapter, ManualClock]:
    clock = ManualClock()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    adapter = SimulatedAdapter(
        ex, now=clock.now, sleep=sleep,
        on_reconnect=reconnects.append if reconnects is not None else None,
    )
    return adapter, clock


def test_adapter_place_cancel_status_and_events_in_virtual_time() -> None:
    ex = SimulatedExchange(1, "none", market=QUIET)
    adapter, clock = virtual_adapter(ex)
    conforming: ExchangeAdapter = adapter
    cloid = CloidFactory("lifecycle", 1).next()
    bid, _ = ex.bbo()

    async def scenario() -> list[object]:
        seen: list[object] = []
        (placed,) = await conforming.place(
            [PlaceOrder(cloid=cloid, side=Side.BUY, price=bid, size=SIZE)]
        )
        (accepted,) = placed.events
        assert isinstance(accepted, OrderAccepted)
        seen.append(clock.now())
        stream = conforming.events()
        seen.append(await anext(stream))  # the ws `open`, delivered before the answer
        status = await conforming.order_status(QueryOrderStatus(cloid=cloid, oid=None))
        seen.append(status.events)
        (canceled,) = await conforming.cancel([CancelOrder(cloid=None, oid=accepted.oid)])
        seen.append(canceled.events)
        seen.append(await anext(stream))
        await stream.aclose()  # type: ignore[attr-defined]
        assert await conforming.modify([]) == []
        return seen

    at, ws_open, status, canceled, ws_cancel = asyncio.run(scenario())
    oid = ex.truth.orders()[0].oid
    assert at == pytest.approx(0.2, abs=0.06)
    assert ws_open == OrderAccepted(cloid=cloid, oid=oid)
    assert status == (OrderStatusReport(cloid=cloid, oid=oid, outcome=StatusOutcome.OPEN,
                                        status="open"),)
    assert canceled == (OrderCanceled(cloid=cloid, oid=oid, status="canceled"),)
    assert ws_cancel == canceled[0]


def test_adapter_ignores_answers_to_requests_of_a_stopped_client() -> None:
    ex = SimulatedExchange(1, "none", market=QUIET)
    cloid = CloidFactory("lifecycle", 1).next()
    bid, _ = ex.bbo()
    ex.submit((PlaceOrder(cloid=cloid, side=Side.BUY, price=bid, size=SIZE),), 0.0)  # theirs
    adapter, clock = virtual_adapter(ex)  # a new client; the answer above is not for it

    async def ask_twice() -> CommandResult:
        await adapter.order_status(QueryOrderStatus(cloid=cloid, oid=None))
        return await adapter.order_status(QueryOrderStatus(cloid=cloid, oid=None))

    status = asyncio.run(ask_twice())
    assert clock.now() > 0.2  # pumped past the other answer's arrival
    (report,) = status.events
    assert isinstance(report, OrderStatusReport) and report.outcome is StatusOutcome.OPEN
    assert adapter._responses == {}  # the other client's answer reached no one


def test_adapter_open_orders_returns_lagging_snapshot() -> None:
    ex = SimulatedExchange(1, "none", market=QUIET, foreign_orders=2)
    adapter, _ = virtual_adapter(ex)
    snapshot = asyncio.run(adapter.open_orders())
    assert len(snapshot.orders) == 2 and snapshot.taken_at == pytest.approx(0.1)


def test_adapter_open_orders_rate_limited_raises_snapshot_unavailable() -> None:
    ex = SimulatedExchange(1, dataclasses.replace(PROFILES["none"], ip_weight_per_min=30),
                           market=QUIET)
    adapter, _ = virtual_adapter(ex)

    async def twice() -> None:
        await adapter.open_orders()
        await adapter.open_orders()

    with pytest.raises(SnapshotUnavailable) as caught:
        asyncio.run(twice())
    assert caught.value.rate_limited and caught.value.error == "429 Too Many Requests"


def test_adapter_reports_reconnects_and_skips_replayed_fills() -> None:
    ex = SimulatedExchange(1, "none", market=QUIET)
    reconnects: list[WsReconnected] = []
    adapter, _ = virtual_adapter(ex, reconnects)
    cloid = CloidFactory("lifecycle", 1).next()
    bid, _ = ex.bbo()

    async def scenario() -> list[object]:
        (placed,) = await adapter.place([PlaceOrder(cloid=cloid, side=Side.BUY, price=bid,
                                                    size=SIZE)])
        oid = placed.events[0].oid  # type: ignore[union-attr]
        ex.inject_fill(oid, 1.0, SIZE)
        ex.inject_ws_disconnect(2.0, downtime_s=1.0)
        stream = adapter.events()
        events = [await anext(stream), await anext(stream)]
        while not reconnects:  # any request pumps the model
            await adapter.order_status(QueryOrderStatus(cloid=cloid, oid=None))
        after = CloidFactory("lifecycle", 2).next()
        await adapter.place([PlaceOrder(cloid=after, side=Side.BUY, price=bid - 10, size=SIZE)])
        events.append(await anext(stream))  # not the replayed fill
        await stream.aclose()  # type: ignore[attr-defined]
        return events

    events = asyncio.run(scenario())
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled, OrderAccepted]
    assert events[2].cloid == CloidFactory("lifecycle", 2).next()  # type: ignore[attr-defined]
    assert [(r.at, r.down_since) for r in reconnects] == [(3.0, 2.0)]
