"""The runtime's request policies: rejection and rate-limit backoffs, the headroom gate,
the empty-ladder recovery pacing, and cancels that nothing holds back.

The policies are tested on their own with explicit times, then inside a runtime
on the virtual clock against a scripted adapter whose every request is logged.
They answer the seed system's B16 (a batch of rejections counts once), B17 (the
429 backoff), B18 (the headroom block and the exhaustion backoff, the paced
empty-ladder recovery) and B22 (cancels outside the budget).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any, TypeVar

import anyio
import pytest
from lifecycle.adapters.simulated.wire import IP_RATE_LIMITED, address_rate_limited

from lifecycle.config import ConfigError, LifecycleConfig, SyncConfig, parse_config
from lifecycle.config.model import RuntimePolicyConfig
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import (
    CancelRejected,
    ExchangeEvent,
    OrderAccepted,
    OrderCanceled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.runtime import (
    CommandResult,
    OpenOrder,
    OpenOrdersSnapshot,
    Runtime,
    RuntimeConfig,
    current_time,
    run_virtual,
    sleep,
)
from lifecycle.runtime.adapter import HeadroomReading, is_rate_limit_refusal
from lifecycle.runtime.backoff import (
    Backoff,
    RateLimitBackoff,
    RejectionBackoff,
    place_batch_outcome,
)
from lifecycle.runtime.headroom import HeadroomGate
from lifecycle.runtime.policies import RuntimePolicies

T = TypeVar("T")
S = OrderState
DEFAULTS = RuntimePolicyConfig()
RARE_SYNCS = LifecycleConfig(
    sync=SyncConfig(interval_s=1000.0, snapshot_max_age_s=1000.0, missing_min_s=1000.0)
)
CLOIDS = CloidFactory("pol", run_id=1)
PRICE, SIZE = Decimal("100.0"), Decimal("0.001")


def place(i: int = 0) -> PlaceOrder:
    return PlaceOrder(cloid=CLOIDS.next(), side=Side.BUY, price=PRICE - i, size=SIZE)


def accepted(command: PlaceOrder, oid: int) -> CommandResult:
    return CommandResult(
        command=command, events=(OrderAccepted(cloid=command.cloid, oid=Oid(oid)),),
        ambiguous=False,
    )


def rejected(command: PlaceOrder, status: str = "perpMarginRejected") -> CommandResult:
    event = OrderRejected(cloid=command.cloid, status=status, message="no")
    return CommandResult(command=command, events=(event,), ambiguous=False, error="no")


def refused(command: Command) -> CommandResult:
    return CommandResult(
        command=command, events=(), ambiguous=False, error=IP_RATE_LIMITED, rate_limited=True
    )


def unknown(command: Command) -> CommandResult:
    return CommandResult(command=command, events=(), ambiguous=True, error="timed out")


def reading(free_pct: float, cap: int = 10_000) -> HeadroomReading:
    return HeadroomReading(used=round(cap * (1 - free_pct / 100)), cap=cap)


# --- the policies on their own ------------------------------------------------------------


def test_rejection_backoff_starts_at_the_third_event_and_doubles_up_to_120_s() -> None:
    backoff = RejectionBackoff(5.0, 2.0, 120.0, after=3)
    holds = [backoff.failure(now=float(t)) for t in range(10)]
    assert holds == [0.0, 0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 120.0, 120.0, 120.0]
    assert backoff.holds(9.0) and backoff.until == 129.0


def test_any_success_resets_the_rejection_backoff() -> None:
    backoff = RejectionBackoff(5.0, 2.0, 120.0, after=3)
    for t in range(4):
        backoff.failure(float(t))
    assert backoff.holds(4.0)
    backoff.place_batch([accepted(place(), 1), rejected(place())], now=4.0)
    assert not backoff.holds(4.0) and backoff.failures == 0
    assert [backoff.failure(float(t)) for t in range(3)] == [0.0, 0.0, 5.0]


def test_a_place_batch_counts_once_however_many_orders_it_rejected() -> None:
    # B16: one batch of 25 rejections counted as 25 events gave an immediate 120 s pause.
    backoff = RejectionBackoff(5.0, 2.0, 120.0, after=3)
    backoff.place_batch([rejected(place(i)) for i in range(25)], now=0.0)
    assert backoff.failures == 1 and not backoff.holds(0.0)


def test_place_batch_outcomes() -> None:
    ours = [place(i) for i in range(3)]
    assert place_batch_outcome([rejected(c) for c in ours]) is False
    assert place_batch_outcome([rejected(ours[0]), rejected(ours[1], "tickRejected")]) is False
    assert place_batch_outcome([rejected(ours[0]), accepted(ours[1], 7)]) is True
    assert place_batch_outcome([rejected(ours[0]), unknown(ours[1])]) is None
    assert place_batch_outcome([refused(c) for c in ours]) is None


def test_rate_limit_backoff_grows_by_half_up_to_a_minute_and_resets_on_an_answer() -> None:
    backoff = RateLimitBackoff(10.0, 1.5, 60.0)
    holds = [backoff.failure(float(t)) for t in range(7)]
    assert holds == [10.0, 15.0, 22.5, 33.75, 50.625, 60.0, 60.0]
    backoff.answered()
    assert not backoff.holds(7.0) and backoff.failure(8.0) == 10.0


def test_rate_limit_refusals_are_recognised_in_the_exchanges_words() -> None:
    assert is_rate_limit_refusal(IP_RATE_LIMITED)
    assert is_rate_limit_refusal(address_rate_limited(97460, 97456, Decimal("87457.46")))
    assert not is_rate_limit_refusal("Insufficient margin to place order.")


def test_backoff_jitter_is_drawn_from_the_seeded_generator_within_its_bounds() -> None:
    def holds(seed: int) -> list[float]:
        backoff = Backoff(30.0, 2.0, 600.0, jitter=0.5, rng=random.Random(seed))
        return [backoff.failure(0.0) for _ in range(7)]

    first = holds(3)
    assert first == holds(3) and first != holds(4)
    for hold, base in zip(first, (30, 60, 120, 240, 480, 600, 600), strict=True):
        assert 0.5 * base <= hold <= 1.5 * base


def gate(seed: int = 5) -> HeadroomGate:
    backoff = Backoff(30.0, 2.0, 600.0, jitter=0.5, rng=random.Random(seed))
    return HeadroomGate(0.01, 60.0, backoff)


def test_headroom_gate_holds_on_a_fresh_reading_below_one_percent() -> None:
    g = gate()
    assert not g.holds(0.0)  # no reading: open
    g.observe(reading(5.0), now=0.0)
    assert not g.holds(1.0)
    g.observe(reading(0.5), now=10.0)
    first = g.backoff.until - 10.0
    assert 15.0 <= first <= 45.0 and g.backoff.failures == 1
    assert g.holds(11.0) and g.state(11.0).exhausted
    # The backoff over, the same reading (still fresh) is a second exhaustion: doubled.
    assert g.holds(g.backoff.until)
    assert g.backoff.failures == 2
    # Once the reading is 60 s old it blocks nothing; the backoff runs its course.
    end = g.backoff.until
    assert g.holds(end - 0.001) and not g.holds(max(end, 70.0))
    assert not g.state(max(end, 70.0)).fresh


def test_healthy_reading_restarts_the_count_but_the_backoff_runs_its_course() -> None:
    g = gate()
    g.observe(reading(0.5), now=0.0)
    until = g.backoff.until
    g.observe(reading(20.0), now=1.0)
    assert g.holds(1.0) and g.backoff.until == until and g.backoff.failures == 0
    assert not g.holds(until)


def test_exhaustion_backoff_doubles_per_consecutive_exhaustion_up_to_600_s() -> None:
    g = gate(seed=9)
    rng = random.Random(9)
    now = 0.0
    for base in (30.0, 60.0, 120.0, 240.0, 480.0, 600.0, 600.0):
        g.observe(reading(0.2), now)
        assert g.backoff.until - now == pytest.approx(base * rng.uniform(0.5, 1.5))
        now = g.backoff.until


def test_policies_hold_placements_and_modifies_never_cancels_or_queries() -> None:
    policies = RuntimePolicies(DEFAULTS, random.Random(0))
    cancel = CancelOrder(cloid=CLOIDS.next(), oid=Oid(1))
    modify = ModifyOrder(cloid=None, oid=Oid(1), price=PRICE, size=SIZE)
    query = QueryOrderStatus(cloid=None, oid=Oid(1))
    for t in range(3):  # three rejected batches: placements only
        policies.answered([rejected(place())], now=float(t))
    assert policies.holds(place(), 2.0) and not policies.holds(modify, 2.0)
    assert not policies.may_place(2.0) and policies.reopens_at(2.0) == 7.0
    policies.answered([refused(modify)], now=3.0)  # a refusal: modifies too
    assert policies.holds(modify, 3.0)
    policies.headroom_read(reading(0.1), now=4.0)
    for command in (cancel, query):
        assert not policies.holds(command, 4.0)
    assert not policies.holds(place(), 1000.0) and not policies.holds(modify, 1000.0)


def test_refused_reads_back_off_actions_and_only_an_answered_action_resets() -> None:
    policies = RuntimePolicies(DEFAULTS, random.Random(0))
    policies.refused(0.0)  # a snapshot refused with a 429
    assert not policies.may_place(5.0)
    cancel = CancelOrder(cloid=CLOIDS.next(), oid=Oid(1))
    ok = CommandResult(command=cancel, events=(), ambiguous=False)
    policies.answered([ok], now=5.0)  # cancels have a higher cap: they prove nothing
    assert not policies.may_place(5.0)
    policies.refused(10.0)
    assert policies.rate_limits.until == 25.0  # the second consecutive: 15 s
    policies.answered([accepted(place(), 3)], now=26.0)
    assert policies.rate_limits.failures == 0


def test_recovery_needs_headroom_and_waits_two_seconds_for_the_next() -> None:
    policies = RuntimePolicies(DEFAULTS, random.Random(0))
    assert policies.try_recovery(0.0)  # no reading yet: allowed
    assert not policies.try_recovery(1.9)
    assert policies.try_recovery(2.0)
    policies.headroom_read(reading(0.5), now=3.0)
    assert not policies.try_recovery(10.0)
    assert policies.headroom_state(10.0).exhausted
    policies.headroom_read(reading(50.0), now=11.0)
    held_until = policies.headroom.backoff.until
    assert not policies.try_recovery(held_until - 0.01)
    assert policies.try_recovery(held_until)


# --- configuration --------------------------------------------------------------------------


def test_runtime_section_loads_and_reaches_the_runtime() -> None:
    section = {"rate_limit_backoff_initial_s": 3, "safety_reserve_pct": 25}
    config = parse_config({"runtime": section})
    assert config.runtime == replace(
        DEFAULTS, rate_limit_backoff_initial_s=3.0, safety_reserve_pct=25.0
    )
    engine = Engine(config, cloids=CloidFactory("cfg", run_id=1))
    runtime = Runtime(engine, Scripted(), RuntimeConfig(weight_per_min=100))
    assert runtime.policies.rate_limits.initial_s == 3.0 and runtime.budget.reserve == 25
    own = RuntimeConfig.from_config(LifecycleConfig(), weight_per_min=100)
    assert own.policies == DEFAULTS and own.weight_per_min == 100
    assert Runtime(engine, Scripted(), own).budget.reserve == 10


@pytest.mark.parametrize(
    ("section", "path", "message"),
    [
        ({"rejection_backoff_after": 0}, "runtime.rejection_backoff_after", "must be >= 1"),
        ({"rate_limit_backoff_factor": 0.5}, "runtime.rate_limit_backoff_factor", ">= 1"),
        ({"safety_reserve_pct": 100}, "runtime.safety_reserve_pct", "must be < 100"),
        ({"headroom_min_pct": 0}, "runtime.headroom_min_pct", "must be > 0"),
        ({"exhaustion_backoff_max_s": 10}, "runtime.exhaustion_backoff_max_s",
         ">= runtime.exhaustion_backoff_initial_s"),
        ({"headroom_refresh_s": 60}, "runtime.headroom_refresh_s",
         "< runtime.headroom_max_age_s"),
        ({"headroom_refresh": 60}, "runtime.headroom_refresh", "did you mean 'headroom_refresh_s'"),
    ],
)
def test_runtime_section_problems_name_their_key(
    section: dict[str, Any], path: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"runtime": section})
    assert [p.path for p in caught.value.problems] == [path]
    assert message in caught.value.problems[0].message


# --- inside a runtime -----------------------------------------------------------------------


class Scripted:
    """An adapter answering after ``latency`` from its scripts; logs every request.

    Placements rest unless ``reject`` says otherwise; requests of the kinds in
    ``refuse`` are refused for rate limits.
    """

    def __init__(self, latency: float = 0.1) -> None:
        self.latency = latency
        self.log: list[tuple[float, str, int]] = []
        self.reject: Callable[[PlaceOrder], bool] = lambda command: False
        self.refuse: set[str] = set()
        self.resting: dict[Cloid, tuple[Oid, PlaceOrder]] = {}
        self._oids = itertools.count(100)

    def sent(self, kind: str) -> list[float]:
        """When requests of ``kind`` were sent."""
        return [at for at, k, _ in self.log if k == kind]

    async def _request(self, kind: str, commands: Sequence[Command]) -> bool:
        self.log.append((current_time(), kind, len(commands)))
        await sleep(self.latency)
        return kind not in self.refuse

    async def place(self, orders: Sequence[PlaceOrder]) -> list[CommandResult]:
        if not await self._request("place", orders):
            return [refused(c) for c in orders]
        results = []
        for command in orders:
            if self.reject(command):
                results.append(rejected(command))
            else:
                oid = Oid(next(self._oids))
                self.resting[command.cloid] = (oid, command)
                results.append(accepted(command, oid))
        return results

    async def cancel(self, cancels: Sequence[CancelOrder]) -> list[CommandResult]:
        if not await self._request("cancel", cancels):
            return [refused(c) for c in cancels]
        results = []
        for command in cancels:
            found = self.resting.pop(command.cloid, None) if command.cloid else None
            event: ExchangeEvent = (
                OrderCanceled(cloid=command.cloid, oid=found[0]) if found is not None
                else CancelRejected(cloid=command.cloid, oid=command.oid, order_gone=True)
            )
            results.append(CommandResult(command=command, events=(event,), ambiguous=False))
        return results

    async def modify(self, modifies: Sequence[ModifyOrder]) -> list[CommandResult]:
        if not await self._request("modify", modifies):
            return [refused(c) for c in modifies]
        return [
            CommandResult(
                command=c, ambiguous=False,
                events=(OrderModified(cloid=c.cloid, oid=c.oid or Oid(1), old_oid=c.oid,
                                      price=c.price, size=c.size),),
            )
            for c in modifies
        ]

    async def open_orders(self) -> OpenOrdersSnapshot:
        taken_at = current_time()
        await self._request("open_orders", ())
        rows = tuple(
            OpenOrder(coin="BTC", oid=oid, cloid=cloid, side=c.side, price=c.price, size=c.size)
            for cloid, (oid, c) in self.resting.items()
        )
        return OpenOrdersSnapshot(taken_at=taken_at, orders=rows)

    async def order_status(self, query: QueryOrderStatus) -> CommandResult:
        await self._request("query", (query,))
        found = self.resting.get(query.cloid) if query.cloid else None
        report = OrderStatusReport(
            cloid=query.cloid, oid=None if found is None else found[0],
            outcome=StatusOutcome.NOT_FOUND if found is None else StatusOutcome.OPEN,
        )
        return CommandResult(command=query, events=(report,), ambiguous=False)

    async def events(self) -> AsyncIterator[ExchangeEvent]:
        pending: list[ExchangeEvent] = []
        while True:
            await anyio.sleep(3600.0)
            for event in pending:
                yield event


class WithHeadroom(Scripted):
    """A scripted adapter that also reads the account's headroom (``userRateLimit``)."""

    def __init__(self, free_pct: Callable[[float], float]) -> None:
        super().__init__()
        self.free_pct = free_pct

    async def rate_limit_status(self) -> HeadroomReading:
        await self._request("headroom", ())
        return reading(self.free_pct(current_time()))


def drive(
    scenario: Callable[[Runtime], Awaitable[T]],
    adapter: Scripted,
    *,
    config: LifecycleConfig = RARE_SYNCS,
    runtime: RuntimeConfig | None = None,
    rng: random.Random | None = None,
) -> T:
    async def main() -> T:
        engine = Engine(config, cloids=CloidFactory("rt", run_id=1), verify=True)
        rt = Runtime(engine, adapter, runtime, rng=rng)
        async with rt.session():
            result = await scenario(rt)
            await rt.close(cancel_all=False)
            return result

    return run_virtual(main)[0]


def new_order(rt: Runtime, i: int = 0) -> Order:
    return rt.request(lambda e, now: e.place(Side.BUY, PRICE - i, SIZE, now))


def test_runtime_backs_off_placements_after_three_rejected_batches() -> None:
    adapter = Scripted()
    adapter.reject = lambda command: True

    async def scenario(rt: Runtime) -> None:
        for second in range(40):
            new_order(rt, second % 20)  # one new order, one batch, every second
            await sleep(1.0)

    drive(scenario, adapter)
    sent = adapter.sent("place")
    # Events 1-3 at 0, 1, 2, each answered 0.1 s later; then held 5 s, 10 s, 20 s.
    assert sent[:3] == [0.0, 1.0, 2.0]
    assert sent[3:6] == [pytest.approx(7.1), pytest.approx(17.2), pytest.approx(37.3)]
    # What waited went out together, in one batch each time.
    assert [n for _, k, n in adapter.log if k == "place"][3:6] == [5, 10, 20]


def test_runtime_counts_a_wholly_rejected_batch_once_and_resets_on_success() -> None:
    adapter = Scripted()
    adapter.reject = lambda command: command.price < PRICE - 10

    async def scenario(rt: Runtime) -> int:
        for _ in range(2):
            rt.request(lambda e, now: [e.place(Side.BUY, PRICE - 11 - i, SIZE, now)
                                       for i in range(25)])
            await sleep(1.0)
        new_order(rt)  # accepted: the count starts again
        await sleep(1.0)
        for _ in range(2):
            rt.request(lambda e, now: e.place(Side.BUY, PRICE - 15, SIZE, now))
            await sleep(1.0)
        return rt.stats.gated

    assert drive(scenario, adapter) == 0
    assert adapter.sent("place") == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_runtime_rate_limit_refusal_holds_placements_and_modifies_but_not_cancels() -> None:
    adapter = Scripted()

    async def scenario(rt: Runtime) -> tuple[Order, Order, Order]:
        resting = new_order(rt, 0)
        other = new_order(rt, 1)
        await sleep(1.0)
        adapter.refuse = {"place"}
        refused_order = new_order(rt, 2)  # refused at 1.0: placements and modifies wait 10 s
        await sleep(1.0)
        adapter.refuse = set()
        rt.request(lambda e, now: e.modify(other, PRICE - 3, SIZE, now))
        rt.request(lambda e, now: e.cancel(resting, now))  # goes at once
        await sleep(30.0)
        return resting, other, refused_order

    resting, other, refused_order = drive(scenario, adapter)
    assert adapter.sent("cancel") == [2.0]
    assert resting.state is S.GONE
    assert adapter.sent("place") == [0.0, 1.0, pytest.approx(11.1)]
    assert adapter.sent("modify") == [pytest.approx(11.1)]
    assert refused_order.oid is not None and other.price == PRICE - 3


def test_runtime_consecutive_refusals_grow_the_hold_by_half() -> None:
    adapter = Scripted()
    adapter.refuse = {"place"}

    async def scenario(rt: Runtime) -> None:
        new_order(rt)
        await sleep(260.0)

    drive(scenario, adapter, runtime=RuntimeConfig(max_attempts=20, retry_max_s=1.0))
    sent = [t for t in adapter.sent("place") if t < 260.0]
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    # Each refusal is answered 0.1 s after it was sent; the hold starts then.
    assert gaps == pytest.approx([10.1, 15.1, 22.6, 33.85, 50.725, 60.1, 60.1])


def test_runtime_held_placement_is_dropped_when_its_order_is_cancelled() -> None:
    adapter = Scripted()

    async def scenario(rt: Runtime) -> Order:
        adapter.refuse = {"place"}
        new_order(rt, 0)
        await sleep(1.0)
        adapter.refuse = set()
        held = new_order(rt, 1)
        await sleep(1.0)
        assert held.state is S.EXPECTED and rt.stats.gated == 2  # with the refused one
        rt.request(lambda e, now: e.cancel(held, now))
        await sleep(1.0)
        return held

    held = drive(scenario, adapter)
    # Ended by the exchange's answer to the cancel ("never placed, already canceled, or
    # filled"): only the exchange ends an order, even one the runtime never sent.
    assert held.state is S.GONE and held.reason is GoneReason.UNKNOWN
    assert adapter.sent("place") == [0.0, pytest.approx(10.1)]  # only the refused one again
    assert adapter.sent("cancel") == [2.0]


def test_runtime_cancel_is_not_starved_by_the_weight_budget_or_in_flight_requests() -> None:
    # B22: a stale quote's cancel used to queue behind requests waiting for budget (58 s).
    adapter = Scripted()

    async def scenario(rt: Runtime) -> tuple[float, float, float]:
        stale, other = new_order(rt, 0), new_order(rt, 1)
        await sleep(1.0)
        await rt.budget.take(rt.budget.per_min - rt.budget.reserve - rt.budget.used)
        # Waiting for budget: a placement (in the only request slot), a sync, a query.
        rt.request(lambda e, now: e.place(Side.SELL, PRICE + 1, SIZE, now))
        async with anyio.create_task_group() as tg:
            tg.start_soon(rt.sync_now)
            rt.request(lambda e, now: e.query(other))
            await sleep(1.0)
            cancel_at = current_time()
            rt.request(lambda e, now: e.cancel(stale, now))
            await sleep(0.5)
            assert stale.state is S.GONE
            tg.cancel_scope.cancel()
        return cancel_at, rt.stats.throttled_s, rt.budget.used

    cancel_at, throttled, used = drive(
        scenario, adapter, runtime=RuntimeConfig(weight_per_min=100, max_in_flight=1)
    )
    assert adapter.sent("cancel") == [cancel_at] == [2.0]
    assert [t for t in adapter.sent("place") if t < 3.0] == [0.0]  # the others wait
    assert used == 91 and throttled == 0.0


def test_runtime_reads_headroom_and_holds_new_exposure_while_it_is_spent() -> None:
    # 0.5 % free from 40 s to 200 s, 50 % otherwise; readings every 30 s.
    adapter = WithHeadroom(lambda t: 0.5 if 40.0 <= t < 200.0 else 50.0)

    async def scenario(rt: Runtime) -> list[tuple[float, bool, bool]]:
        seen = []
        for second in range(400):
            now = current_time()
            seen.append((now, rt.may_place(), rt.try_recovery()))
            if second % 10 == 5:
                new_order(rt, second % 30)
            await sleep(1.0)
        return seen

    seen = drive(scenario, adapter, rng=random.Random(2))
    assert adapter.sent("headroom")[:4] == pytest.approx([0.0, 30.1, 60.2, 90.3])
    blocked = [t for t, may, _ in seen if not may]
    assert blocked[0] == 61.0  # the first low reading arrived at 60.3
    places = adapter.sent("place")
    assert not [t for t in places if blocked[0] <= t < blocked[-1]]
    assert places[-1] > blocked[-1]
    recoveries = [t for t, _, ok in seen if ok]
    assert all(b - a >= 2.0 for a, b in itertools.pairwise(recoveries))
    assert not [t for t in recoveries if blocked[0] <= t <= blocked[-1]]


def test_runtime_policies_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[tuple[float, str, int]]:
        adapter = WithHeadroom(lambda t: 0.5 if t < 300.0 else 50.0)

        async def scenario(rt: Runtime) -> None:
            for second in range(600):
                if second % 7 == 0:
                    new_order(rt, second % 20)
                await sleep(1.0)

        drive(scenario, adapter, rng=random.Random(seed))
        return adapter.log

    assert run(1) == run(1)
    assert run(1) != run(2)  # the jitter moves the end of the exhaustion backoff


def test_headroom_state_reports_the_gate() -> None:
    adapter = WithHeadroom(lambda t: 0.5)

    async def scenario(rt: Runtime) -> Any:
        await sleep(1.0)
        return rt.headroom_state

    state = drive(scenario, adapter)
    assert state.exhausted and state.fresh and state.fraction == pytest.approx(0.005)
    assert state.held_until > 1.0 and state.exhaustions == 1 and math.isfinite(state.held_until)
