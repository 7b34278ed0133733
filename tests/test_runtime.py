"""The runtime on the virtual clock against the simulated exchange (no real sleeps)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, TypeVar

import anyio
import pytest
from lifecycle.adapters.simulated import (
    PROFILES,
    FaultProfile,
    MarketParams,
    Owner,
    SimulatedAdapter,
    SimulatedExchange,
    WsReconnected,
    round_price,
)

from lifecycle.config import LifecycleConfig, SyncConfig
from lifecycle.core.commands import FetchOpenOrders, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import CloidFactory
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.engine.facade import Engine
from lifecycle.runtime import (
    Alarm,
    FillHistory,
    FillsUnavailable,
    Runtime,
    RuntimeConfig,
    VirtualTimeLoop,
    WeightBudget,
    current_time,
    request_weight,
    run_virtual,
    sleep,
)
from lifecycle.runtime.vloop import _VirtualSelector
from lifecycle.runtime.wakeups import _Wake

T = TypeVar("T")
S = OrderState

NONE = PROFILES["none"]
#: A market that never moves and never trades on its own: only what a test does happens.
QUIET = MarketParams(takers_per_s=0.0, volatility_bps=0.0, jumps_per_hour=0.0)
SIZE = Decimal("0.001")
#: Scheduled syncs far apart, so a test sees only the requests it causes.
RARE_SYNCS = LifecycleConfig(
    sync=SyncConfig(interval_s=1000.0, snapshot_max_age_s=1000.0, missing_min_s=1000.0)
)


def faults(**rates: Any) -> FaultProfile:
    return dataclasses.replace(NONE, **rates)


@dataclass
class Rig:
    """An engine driven by a runtime against a simulated exchange, inside a session."""

    exchange: SimulatedExchange
    engine: Engine
    runtime: Runtime

    def price(self, side: Side, bps: int = 10) -> Decimal:
        """A valid price ``bps`` behind the touch (never crossing)."""
        bid, ask = self.exchange.bbo()
        szd = self.exchange.market.sz_decimals
        if side is Side.BUY:
            return round_price(bid * (1 - Decimal(bps) / 10_000), szd, rounding=ROUND_FLOOR)
        return round_price(ask * (1 + Decimal(bps) / 10_000), szd, rounding=ROUND_CEILING)

    def place(self, side: Side = Side.BUY, bps: int = 10) -> Order:
        price = self.price(side, bps)
        return self.runtime.request(lambda e, now: e.place(side, price, SIZE, now))

    def cancel(self, order: Order) -> None:
        self.runtime.request(lambda e, now: e.cancel(order, now))

    def resting(self) -> list[Any]:
        return list(self.exchange.truth.resting(Owner.CLIENT))


def drive(
    scenario: Callable[[Rig], Awaitable[T]],
    *,
    profile: FaultProfile = NONE,
    config: LifecycleConfig | None = None,
    runtime: RuntimeConfig | None = None,
    adapter: type[SimulatedAdapter] = SimulatedAdapter,
) -> T:
    """Run ``scenario`` in a runtime session on the virtual clock; return its result."""

    async def main() -> T:
        exchange = SimulatedExchange(1, profile, market=QUIET, start=current_time())
        engine = Engine(config, cloids=CloidFactory("test", run_id=1), verify=True)
        holder: list[Runtime] = []

        def reconnected(notice: WsReconnected) -> None:
            holder[0].notify_reconnect(notice.down_since)

        connection = adapter(exchange, now=current_time, sleep=sleep, on_reconnect=reconnected)
        rt = Runtime(engine, connection, runtime)
        holder.append(rt)
        async with rt.session():
            result = await scenario(Rig(exchange, engine, rt))
            # Leave the orders as the scenario left them (unless it closed already).
            await rt.close(cancel_all=False)
            return result

    return run_virtual(main)[0]


def triggers(order: Order) -> list[Trigger]:
    return [record.trigger for record in order.history]


# --- the virtual clock ------------------------------------------------------------------


def test_virtual_clock_hour_of_sleeps_costs_no_real_time() -> None:
    async def main() -> float:
        start = current_time()
        for _ in range(3600):
            await sleep(1.0)
        return current_time() - start

    began = time.perf_counter()
    (elapsed, wall) = run_virtual(main)
    assert elapsed == pytest.approx(3600.0)
    assert wall < 5.0 and time.perf_counter() - began < 5.0


def test_virtual_clock_wakes_timers_at_their_deadline_not_before() -> None:
    async def main() -> list[float]:
        woke = []
        for delay in (0.3, 1e-12, 2.5):
            target = current_time() + delay
            await sleep(delay)
            woke.append(current_time() - target)
        return woke

    lateness, _ = run_virtual(main)
    assert all(x >= 0 for x in lateness)


def test_virtual_loop_polls_real_file_descriptors_while_busy_and_when_idle() -> None:
    # A busy round skips the poll of real descriptors, but never more than
    # BUSY_POLL_EVERY in a row, and an idle round always polls before the clock moves.
    async def main() -> tuple[int, float, float]:
        loop = asyncio.get_running_loop()
        reader, writer = socket.socketpair()
        seen: list[float] = []

        def readable() -> None:
            reader.recv(1)
            seen.append(loop.time())

        loop.add_reader(reader.fileno(), readable)
        try:
            writer.send(b"x")
            spins = 0
            while not seen and spins < 10 * _VirtualSelector.BUSY_POLL_EVERY:
                await asyncio.sleep(0)  # always busy: the clock stands still
                spins += 1
            busy_at = seen[0] if seen else -1.0
            writer.send(b"y")
            await sleep(5.0)  # idle: the poll comes before the clock jumps
            idle_at = seen[1] if len(seen) > 1 else -1.0
        finally:
            loop.remove_reader(reader.fileno())
            reader.close()
            writer.close()
        return spins, busy_at, idle_at

    (spins, busy_at, idle_at), _ = run_virtual(main)
    assert spins <= _VirtualSelector.BUSY_POLL_EVERY + 1
    assert busy_at == 0.0 and idle_at == 0.0


def test_virtual_loop_starts_at_the_given_time() -> None:
    loop = VirtualTimeLoop(start=100.0)
    try:
        assert loop.time() == 100.0
        loop.advance(2.5)
        assert loop.time() == 102.5
    finally:
        loop.close()


def test_weight_budget_spaces_requests_over_the_window() -> None:
    async def main() -> list[float]:
        budget = WeightBudget(per_min=3)
        times = []
        for _ in range(5):
            await budget.take(1)
            times.append(current_time())
        return times

    times, _ = run_virtual(main)
    assert times[:3] == [0.0, 0.0, 0.0]
    assert times[3] == pytest.approx(60.0) and times[4] == pytest.approx(60.0)


def test_request_weight_follows_hyperliquid() -> None:
    place = PlaceOrder(cloid=CloidFactory("w").next(), side=Side.BUY, price=Decimal(1),
                       size=Decimal(1))
    assert request_weight(place, 1) == 1
    assert request_weight(place, 79) == 2
    assert request_weight(QueryOrderStatus(cloid=None, oid=None)) == 2
    assert request_weight(FetchOpenOrders(reason="x")) == 20


def test_runtime_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        RuntimeConfig(max_in_flight=0)
    with pytest.raises(ValueError, match="retry_factor"):
        RuntimeConfig(retry_factor=0.5)
    assert RuntimeConfig().backoff(1) == 0.5 and RuntimeConfig().backoff(10) == 8.0


# --- the happy path -------------------------------------------------------------------------


def test_runtime_places_acknowledges_and_cancels() -> None:
    async def scenario(rig: Rig) -> tuple[Order, list[Any], Any]:
        order = rig.place()
        await sleep(1.0)
        assert order.state is S.FINALIZED_PROTECTED
        assert [o.oid for o in rig.resting()] == [order.oid]
        rig.cancel(order)
        await sleep(1.0)
        return order, rig.resting(), rig.runtime.stats

    order, resting, stats = drive(scenario)
    assert order.state is S.GONE and order.reason is GoneReason.CANCELED
    assert triggers(order)[:3] == [Trigger.SUBMIT, Trigger.ACCEPT, Trigger.FINALIZE]
    assert resting == []
    assert stats.requests["place"] == 1 and stats.requests["cancel"] == 1
    assert stats.ambiguous == 0 and stats.rate_limited == 0


def test_runtime_batches_one_place_request_per_drain() -> None:
    async def scenario(rig: Rig) -> Any:
        prices = [rig.price(Side.BUY, bps) for bps in (10, 20, 30)]

        def place_all(engine: Engine, now: float) -> None:
            for price in prices:
                engine.place(Side.BUY, price, SIZE, now)

        rig.runtime.request(place_all)
        await sleep(1.0)
        assert len(rig.resting()) == 3
        return rig.runtime.stats

    stats = drive(scenario)
    assert stats.requests["place"] == 1 and stats.commands >= 3


def test_runtime_holds_a_cancel_behind_its_placement() -> None:
    async def scenario(rig: Rig) -> tuple[Order, Any]:
        order = rig.place()
        await sleep(0.01)  # sent, not yet answered
        assert order.state is S.EXPECTED
        rig.cancel(order)  # must not overtake the placement on the wire
        await sleep(1.0)
        return order, rig.runtime.stats

    order, stats = drive(scenario)
    assert stats.held == 1
    assert order.reason is GoneReason.CANCELED
    assert Trigger.CANCEL_ACK in triggers(order)


# --- ambiguous outcomes ------------------------------------------------------------------


def test_runtime_ambiguous_placement_resolved_by_status_query_never_resent() -> None:
    # No websocket: only the status query can tell the placement happened.
    async def scenario(rig: Rig) -> tuple[Order, OrderState, Any, list[Any]]:
        rig.exchange.inject_rest_fault("server_error", executed=True)
        order = rig.place()
        await sleep(0.3)
        assert order.state is S.EXPECTED  # ambiguous: still asking, never rejected
        await sleep(2.0)
        return order, order.state, rig.runtime.stats, rig.resting()

    order, state, stats, resting = drive(
        scenario, profile=faults(ws_drop_rate=1.0), config=RARE_SYNCS
    )
    assert stats.ambiguous == 1
    assert stats.requests["place"] == 1  # a placement is never sent twice
    assert stats.requests["query"] >= 1
    assert state is S.FINALIZED_PROTECTED and order.oid == resting[0].oid


def test_runtime_ambiguous_placement_not_executed_ends_never_placed_after_ttl() -> None:
    async def scenario(rig: Rig) -> tuple[Order, Any, float]:
        rig.exchange.inject_rest_fault("timeout", executed=False)
        order = rig.place()
        ttl = rig.engine.config.orders.expected_ttl_s
        await sleep(ttl + 5.0)
        return order, rig.runtime.stats, order.state_since

    order, stats, ended_at = drive(scenario, config=RARE_SYNCS)
    assert order.state is S.GONE and order.reason is GoneReason.NEVER_PLACED
    assert ended_at >= 30.0  # only the TTL's query decides, never the lost answer
    assert Trigger.REJECT not in triggers(order)
    assert stats.requests["place"] == 1 and stats.requests["query"] >= 2


def test_runtime_ambiguous_cancel_is_sent_again_until_answered() -> None:
    async def scenario(rig: Rig) -> tuple[Order, Any, list[Any]]:
        order = rig.place()
        await sleep(1.0)
        rig.exchange.inject_rest_fault("server_error", executed=False)
        rig.cancel(order)
        await sleep(0.3)
        assert order.state is S.CANCELLING
        await sleep(2.0)
        return order, rig.runtime.stats, rig.resting()

    order, stats, resting = drive(scenario, config=RARE_SYNCS)
    assert stats.ambiguous == 1 and stats.retries >= 1
    assert stats.requests["cancel"] == 2
    assert order.reason is GoneReason.CANCELED and resting == []


def test_runtime_ambiguous_modify_resolved_by_query_when_it_took_effect() -> None:
    async def scenario(rig: Rig) -> tuple[Order, Any, list[Any]]:
        order = rig.place()
        await sleep(1.0)
        new_price = rig.price(Side.BUY, 20)
        rig.exchange.inject_rest_fault("server_error", executed=True)
        rig.runtime.request(lambda e, now: e.modify(order, new_price, SIZE, now))
        await sleep(3.0)
        return order, rig.runtime.stats, rig.resting()

    order, stats, resting = drive(scenario, profile=faults(ws_drop_rate=1.0), config=RARE_SYNCS)
    assert stats.ambiguous == 1 and stats.requests["modify"] == 1
    assert Trigger.MODIFY_ACK in triggers(order)
    assert order.oid == resting[0].oid and order.price == resting[0].price


# --- rate limits ----------------------------------------------------------------------------


def test_runtime_rate_limited_request_backs_off_and_succeeds() -> None:
    # The venue allows 20 weight a minute: the first sync spends it all.
    async def scenario(rig: Rig) -> tuple[Order, Any, list[Any]]:
        await sleep(1.0)
        order = rig.place()
        await sleep(5.0)
        assert order.state is S.EXPECTED  # refused: nothing happened, nothing ended
        await sleep(120.0)
        return order, rig.runtime.stats, rig.resting()

    order, stats, resting = drive(
        scenario,
        profile=faults(ip_weight_per_min=20),
        config=RARE_SYNCS,
        runtime=RuntimeConfig(retry_initial_s=5.0, retry_max_s=20.0, max_attempts=10),
    )
    assert stats.rate_limited >= 1
    assert stats.requests["place"] >= 2
    assert [o.oid for o in resting] == [order.oid]
    assert order.state in (S.FINALIZED_PROTECTED, S.TRACKED)


def test_runtime_weight_budget_delays_requests_instead_of_being_refused() -> None:
    async def scenario(rig: Rig) -> tuple[Any, float | None]:
        await sleep(10.0)
        assert await rig.runtime.sync_now()
        return rig.runtime.stats, rig.engine.sync.next_sync_at

    stats, next_sync_at = drive(scenario, runtime=RuntimeConfig(weight_per_min=30))
    assert stats.throttled_s > 0
    assert stats.rate_limited == 0 and stats.syncs_failed == 0
    assert next_sync_at is not None and next_sync_at >= 60.0


# --- timers and syncs ---------------------------------------------------------------------


def test_runtime_wakes_the_timer_at_next_deadline() -> None:
    async def scenario(rig: Rig) -> tuple[Order, float]:
        order = rig.place()
        await sleep(0.5)
        acked_at = order.state_since
        await sleep(rig.engine.config.orders.protection_s + 1.0)
        return order, acked_at

    order, acked_at = drive(scenario)
    elapsed = [r for r in order.history if r.trigger is Trigger.PROTECTION_ELAPSED]
    assert order.state is S.TRACKED
    assert elapsed[0].at == pytest.approx(acked_at + 10.0, abs=1e-9)


def test_runtime_syncs_every_interval() -> None:
    async def scenario(rig: Rig) -> int:
        await sleep(22.0)
        return rig.runtime.stats.syncs

    assert drive(scenario) == 5  # at 0, 5, 10, 15 and 20 s


def test_runtime_sync_acknowledges_an_order_whose_answers_were_lost() -> None:
    async def scenario(rig: Rig) -> tuple[OrderState, list[Trigger]]:
        rig.exchange.inject_rest_fault("timeout", executed=True)
        order = rig.place()
        await sleep(7.0)  # before the 10 s timeout: only the snapshot can tell
        return order.state, triggers(order)

    state, fired = drive(scenario, profile=faults(ws_drop_rate=1.0))
    assert state is S.FINALIZED_PROTECTED
    assert fired.count(Trigger.ACCEPT) == 1  # from the snapshot row


# --- reconnects and fill history ------------------------------------------------------------


class FillsFromTruth(SimulatedAdapter):
    """The simulated adapter plus a fill history read from the exchange's trades."""

    async def fills_since(self, start: float) -> Sequence[OrderFilled]:
        await sleep(0.1)
        self._pump()
        return [
            OrderFilled(cloid=f.cloid, oid=f.oid, tid=f.tid, side=f.side, price=f.price,
                        size=f.size)
            for f in self.exchange.truth.fills
            if f.at >= start
        ]


def reconnect_with_lost_fill(rig: Rig) -> Awaitable[tuple[Decimal, Decimal, Any]]:
    async def go() -> tuple[Decimal, Decimal, Any]:
        order = rig.place()
        await sleep(1.0)
        assert order.oid is not None
        now = current_time()
        rig.exchange.inject_ws_disconnect(now, 5.0)
        rig.exchange.inject_fill(order.oid, now + 1.0, SIZE / 2)  # sent while down: lost
        await sleep(10.0)
        return rig.engine.position, rig.exchange.truth.position, rig.runtime.stats

    return go()


def test_runtime_fetches_fills_lost_while_the_websocket_was_down() -> None:
    assert issubclass(FillsFromTruth, FillHistory)
    assert not issubclass(SimulatedAdapter, FillHistory)
    engine_position, truth_position, stats = drive(
        reconnect_with_lost_fill, adapter=FillsFromTruth
    )
    assert stats.reconnects == 1 and stats.fill_syncs >= 1
    assert engine_position == truth_position == SIZE / 2


class FlakyFills(FillsFromTruth):
    """A fill history whose first two requests fail: a timeout, then a rate limit."""

    starts: list[float]

    async def fills_since(self, start: float) -> Sequence[OrderFilled]:
        if not hasattr(self, "starts"):
            self.starts = []
        self.starts.append(start)
        if len(self.starts) == 1:
            await sleep(10.0)
            raise FillsUnavailable("timed out")
        if len(self.starts) == 2:
            raise FillsUnavailable("too many requests", rate_limited=True)
        return await super().fills_since(start)


def test_runtime_asks_again_from_the_same_start_after_a_fill_history_failure() -> None:
    async def scenario(rig: Rig) -> tuple[Decimal, Decimal, Any, list[float]]:
        await reconnect_with_lost_fill(rig)  # the first fetch fails meanwhile
        await sleep(10.0)  # the retries: retry_initial_s after each failure
        adapter = rig.runtime.adapter
        assert isinstance(adapter, FlakyFills)
        return rig.engine.position, rig.exchange.truth.position, rig.runtime.stats, adapter.starts

    engine_position, truth_position, stats, starts = drive(scenario, adapter=FlakyFills)
    assert stats.fill_syncs_failed == 2 and stats.rate_limited == 1 and stats.fill_syncs >= 1
    assert starts[0] == starts[1] == starts[2]  # nothing skipped by the failures
    assert engine_position == truth_position == SIZE / 2


def test_runtime_without_fill_history_cannot_see_a_fill_lost_while_down() -> None:
    engine_position, truth_position, stats = drive(reconnect_with_lost_fill)
    assert stats.reconnects == 1 and stats.fill_syncs == 0
    assert truth_position == SIZE / 2 and engine_position == 0


# --- shutdown -------------------------------------------------------------------------------


def test_runtime_shutdown_cancels_all_and_ends_consistent() -> None:
    async def scenario(rig: Rig) -> tuple[list[Order], list[Any], Any]:
        orders = [rig.place(side, bps) for side in Side for bps in (10, 20)]
        await sleep(1.0)
        late = rig.place(Side.BUY, 40)  # still EXPECTED when the shutdown starts
        syncs = rig.runtime.stats.syncs
        await rig.runtime.close(cancel_all=True)
        assert rig.runtime.stats.syncs >= syncs + 3  # the final syncs
        return [*orders, late], rig.resting(), rig.runtime.stats

    orders, resting, stats = drive(scenario)
    assert resting == []
    assert all(o.state is S.GONE for o in orders)
    assert stats.requests["cancel"] >= 1


def test_runtime_shutdown_without_cancel_all_leaves_quotes_tracked() -> None:
    async def scenario(rig: Rig) -> tuple[list[Order], list[Any]]:
        orders = [rig.place(side) for side in Side]
        await sleep(1.0)
        await rig.runtime.close(cancel_all=False)
        return orders, rig.resting()

    orders, resting = drive(scenario)
    assert {o.oid for o in resting} == {o.oid for o in orders}
    assert all(o.state is S.TRACKED for o in orders)  # the final syncs took > 10 s


def test_runtime_final_syncs_verify_an_order_whose_end_was_never_reported() -> None:
    async def scenario(rig: Rig) -> tuple[Order, OrderState]:
        order = rig.place()
        await sleep(12.0)  # TRACKED: its absence from snapshots now counts
        assert order.oid is not None
        rig.exchange.inject_exchange_cancel(order.oid, "marginCanceled", current_time())
        await sleep(1.0)
        before = order.state  # the websocket lost the `canceled`
        await rig.runtime.close(cancel_all=False)
        return order, before

    order, before = drive(scenario, profile=faults(ws_drop_rate=1.0))
    assert before is S.TRACKED
    assert order.state is S.GONE and order.status == "marginCanceled"
    assert Trigger.EXCHANGE_CANCELED in triggers(order)  # by the status query's answer


def test_runtime_run_service_stops_on_request() -> None:
    import anyio

    async def main() -> tuple[Order, list[Any]]:
        exchange = SimulatedExchange(1, NONE, market=QUIET, start=current_time())
        engine = Engine(cloids=CloidFactory("test", run_id=1), verify=True)
        rt = Runtime(engine, SimulatedAdapter(exchange, now=current_time, sleep=sleep))
        rig = Rig(exchange, engine, rt)
        async with anyio.create_task_group() as tg:
            await tg.start(rt.run)
            order = rig.place()
            await sleep(1.0)
            rt.stop(cancel_all=True)
        return order, rig.resting()

    (order, resting), _ = run_virtual(main)
    assert order.reason is GoneReason.CANCELED and resting == []


def test_runtime_every_and_call_at_run_callbacks_until_shutdown() -> None:
    async def scenario(rig: Rig) -> tuple[list[float], list[float]]:
        ticks: list[float] = []
        once: list[float] = []
        rig.runtime.every(2.0, ticks.append)
        rig.runtime.call_at(current_time() + 3.0, once.append)
        await sleep(7.0)
        await rig.runtime.close()
        await sleep(5.0)
        return ticks, once

    ticks, once = drive(scenario)
    assert ticks == [0.0, 2.0, 4.0, 6.0]
    assert once == [3.0]


def test_runtime_is_deterministic() -> None:
    async def scenario(rig: Rig) -> list[tuple[float, str, str]]:
        for side in Side:
            rig.place(side)
        await sleep(30.0)
        return [(r.at, r.trigger.value, o.label) for o in rig.engine.registry for r in o.history]

    noisy = faults(timeout_rate=0.2, server_error_rate=0.2, ws_drop_rate=0.2,
                   ws_reorder_rate=0.3)
    assert drive(scenario, profile=noisy) == drive(scenario, profile=noisy)


def test_runtime_cancel_names_the_oid_a_modify_gave_meanwhile() -> None:
    async def scenario(rig: Rig) -> tuple[Order, list[Any], list[Any]]:
        order = rig.place()
        await sleep(1.0)
        new_price = rig.price(Side.BUY, 20)
        rig.runtime.request(lambda e, now: e.modify(order, new_price, SIZE, now))
        await sleep(0.16)  # the new oid's ws `open` arrived; the modify's answer did not
        assert order.state is S.FINALIZED_PROTECTED and order.prior_oids
        rig.cancel(order)  # held behind the modify, then sent naming the new oid
        await sleep(1.0)
        return order, rig.resting(), list(rig.exchange.truth.cancels)

    order, resting, cancels = drive(scenario)
    assert resting == []
    assert cancels[0].oid == order.oid and cancels[0].was_resting
    assert order.reason is GoneReason.CANCELED


def test_runtime_observer_sees_every_event_and_change() -> None:
    seen: list[tuple[str, int]] = []
    changes: list[float] = []

    class Observer:
        def event_handled(self, event: Any, now: float, fills_applied: int) -> None:
            seen.append((type(event).__name__, fills_applied))

        def engine_changed(self, now: float) -> None:
            changes.append(now)

    async def scenario(rig: Rig) -> None:
        rig.runtime.observer = Observer()
        order = rig.place()
        await sleep(1.0)
        assert order.oid is not None
        rig.exchange.inject_fill(order.oid, current_time(), SIZE)
        await sleep(1.0)

    drive(scenario)
    assert ("OrderAccepted", 0) in seen
    assert seen.count(("OrderFilled", 1)) == 1  # the position moved once
    assert changes == sorted(changes) and len(changes) >= len(seen)


# --- a cancel during a modify, and a spurious "unknownOid", through the runtime ---------


def test_engine_cancel_during_modify_keeps_the_replacement_tracked() -> None:
    async def scenario(rig: Rig) -> tuple[Order, S, list[Any], list[Any]]:
        order = rig.place()
        await sleep(1.0)
        new_price = rig.price(Side.BUY, 20)
        rig.runtime.request(lambda e, now: e.modify(order, new_price, SIZE, now))
        await sleep(0.01)
        rig.cancel(order)  # the reconciler may cancel a MODIFYING order (drift, clear)
        await sleep(0.17)  # the modify took effect; its old leg's `canceled` arrived
        meanwhile = order.state, rig.resting()
        await sleep(2.0)  # the cancel of the new oid is answered
        return order, *meanwhile, rig.resting()

    order, state, resting, at_end = drive(scenario)
    assert [o.oid for o in resting] == [order.oid], "the replacement rests under the new oid"
    assert state is S.CANCELLING, "the replacement is still tracked while it rests"
    assert at_end == [] and order.state is S.GONE and order.reason is GoneReason.CANCELED


def test_engine_spurious_unknown_oid_does_not_end_a_resting_order() -> None:
    async def scenario(rig: Rig) -> tuple[Order, list[Any]]:
        order = rig.place()
        await sleep(1.0)
        new_price = rig.price(Side.BUY, 20)
        rig.exchange.inject_rest_fault("server_error", executed=False)
        rig.runtime.request(lambda e, now: e.modify(order, new_price, SIZE, now))
        await sleep(2.0)  # the runtime's status query resolves the ambiguous modify
        return order, rig.resting()

    order, resting = drive(scenario, profile=faults(status_unknown_oid_rate=1.0))
    assert resting and order.state is not S.GONE


# --- the alarm: a sleep that can be cut short ----------------------------------------------


@pytest.mark.parametrize("portable", [False, True], ids=["asyncio", "anyio"])
def test_alarm_sleeps_its_delay_unless_rung_for_something_sooner(portable: bool) -> None:
    # ``portable`` takes the cancel-scope path used on anyio backends other than asyncio.
    async def main() -> list[float]:
        alarm = Alarm()
        nap = alarm._sleep_anyio if portable else alarm.sleep
        woke: list[float] = []

        async def sleeper(seconds: float) -> None:
            await nap(seconds)
            woke.append(current_time())

        async with anyio.create_task_group() as tg:
            tg.start_soon(sleeper, 5.0)
            tg.start_soon(sleeper, 8.0)
            await sleep(1.0)
            alarm.ring(6.0)  # later than the earliest wake-up (5.0): nobody is woken
            await sleep(1.0)
            alarm.ring(3.0)  # sooner than every wake-up: all sleepers wake now
        await nap(0.5)  # not rung: the whole delay
        woke.append(current_time())
        return woke

    assert run_virtual(main)[0] == [2.0, 2.0, 2.5]


@pytest.mark.parametrize("portable", [False, True], ids=["asyncio", "anyio"])
def test_wake_returns_when_set_or_at_its_deadline(portable: bool) -> None:
    # A service task's wake-up call; ``portable`` takes the path of other anyio backends.
    async def main() -> list[tuple[str, float]]:
        wake = _Wake()
        woke: list[tuple[str, float]] = []

        async def wait(label: str, deadline: float | None) -> None:
            if portable:
                await wake._wait_anyio(deadline)
            else:
                await wake.wait(deadline)
            woke.append((label, current_time()))

        await wait("deadline", 2.0)  # never set: until the deadline
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, "set", 100.0)  # until set, long before its deadline
            await sleep(1.5)
            wake.set()
        if not portable:
            wake.set()  # set while nobody waits: the next wait returns at once
            await wake.wait(10.0)
            woke.append(("already set", current_time()))
            await wake.wait(4.0)  # and the call was cleared by that wait
            woke.append(("cleared", current_time()))
        return woke

    expected = [("deadline", 2.0), ("set", 3.5)]
    if not portable:
        expected += [("already set", 3.5), ("cleared", 4.0)]
    assert run_virtual(main)[0] == expected


def test_wake_wait_is_cancellable() -> None:
    async def main() -> float:
        wake = _Wake()
        with anyio.move_on_after(1.0):
            await wake.wait(10.0)
        wake.set()  # nobody waits: remembered for the next wait, nothing raised
        await wake.wait(5.0)  # at once (at its deadline, 5.0, were the call forgotten)
        return current_time()

    assert run_virtual(main)[0] == 1.0


def test_alarm_sleep_is_cancellable() -> None:
    async def main() -> float:
        alarm = Alarm()
        with anyio.move_on_after(1.0):
            await alarm.sleep(10.0)
        alarm.ring(0.0)  # no sleeper left: nothing to wake, nothing raised
        return current_time()

    assert run_virtual(main)[0] == 1.0


@pytest.mark.parametrize("with_alarm", [True, False])
def test_adapter_with_an_alarm_delivers_at_the_models_time(with_alarm: bool) -> None:
    async def main() -> float:
        exchange = SimulatedExchange(1, NONE, market=QUIET, start=current_time())
        adapter = SimulatedAdapter(
            exchange, now=current_time, sleep=sleep, alarm=Alarm() if with_alarm else None
        )
        stream = adapter.events()
        first = anyio.Event()
        arrived: list[float] = []

        async def read() -> None:
            await anext(stream)
            arrived.append(current_time())
            first.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(read)
            await sleep(0.333)  # off the polling grid of 0.05 s
            bid, _ = exchange.bbo()
            cloid = CloidFactory("test", run_id=1).next()
            # Submitted behind the adapter's back: only the model knows it is due.
            exchange.submit(PlaceOrder(cloid=cloid, side=Side.BUY, price=bid, size=SIZE),
                            current_time())
            await first.wait()
        (opened,) = [o for o in exchange.truth.orders() if o.cloid == cloid]
        return arrived[0] - opened.placed_at

    lag = run_virtual(main)[0]  # from the venue's placement to the reader getting `open`
    ws_latency = NONE.ws_latency.max_s  # fixed in the `none` profile
    if with_alarm:
        assert lag == pytest.approx(ws_latency, abs=1e-9)  # rung, it woke at the delivery
    else:
        assert ws_latency - 1e-9 <= lag <= ws_latency + 0.05 + 1e-9  # polled: <= max_sleep_s late


def test_virtual_loop_runs_a_timer_due_now_far_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    # Far from zero a nanosecond of clock resolution is below the float spacing of the
    # clock: a timer due exactly now must still run, not leave the loop spinning in place.
    select = _VirtualSelector.select
    spins = [0]

    def watched(self: _VirtualSelector, timeout: float | None = None) -> Any:
        spins[0] = spins[0] + 1 if timeout == 0 else 0
        assert spins[0] < 100_000, f"the virtual clock is stuck at {self._loop.time()!r}"
        return select(self, timeout)

    monkeypatch.setattr(_VirtualSelector, "select", watched)

    async def main() -> list[float]:
        woke = []
        for delay in (45_000_000.0, 0.3, 1e-12, 2.5):
            await sleep(delay)
            woke.append(current_time())
        return woke

    woke, _ = run_virtual(main, start=1_700_000_000.0)
    assert woke[0] == 1_745_000_000.0 and woke[1] >= woke[0] + 0.3
