"""The simulation job: the engine, the runtime and a quoter against the simulated exchange.

Theory of operation
-------------------
:func:`run_simulation` builds a :class:`~lifecycle.adapters.simulated.SimulatedExchange`
(seeded, with a fault profile, with orders of an earlier run and of someone
else resting at the start), an :class:`~lifecycle.engine.facade.Engine`, a
:class:`~lifecycle.runtime.driver.Runtime` over a
:class:`~lifecycle.adapters.simulated.SimulatedAdapter`, and a
:class:`~lifecycle.sim.quoter.LadderQuoter` that re-quotes every
``quote_interval_s`` from the exchange's touch. Everything runs on the
runtime's virtual clock (:func:`~lifecycle.runtime.driver.run_virtual`), so an hour
takes seconds and the same seed gives the same report.

After ``duration_s`` the quoter stops, the market closes (requests and
messages in flight still complete), the runtime cancels every order of ours
(unless ``cancel_all`` is False), waits until nothing is in flight, runs final
safety syncs (enough for the engine to verify any absence) and a final fill
fetch, and waits again (:meth:`Runtime.close <lifecycle.runtime.driver.Runtime.close>`).
The report is then computed.

With ``restart_at_s`` the engine is a :class:`~lifecycle.journal.writer.JournaledEngine`
(journal written per call, before the call returns, without fsync) and the
bot stops abruptly at that time: the runtime's tasks are cancelled with no
graceful shutdown, requests in flight die with it (their answers reach no one)
and its websocket is cut (:meth:`SimulatedExchange.inject_client_stop`), while
the exchange keeps trading. After ``downtime_s`` a new engine is recovered
from the journal (:meth:`JournaledEngine.recover
<lifecycle.journal.writer.JournaledEngine.recover>`), a new runtime and connection
start, and the runtime syncs at once and fetches the account's fills since
the journal began (:meth:`Runtime.catch_up <lifecycle.runtime.driver.Runtime.catch_up>`).
The referee watches the new engine from then on; the invariant counters cover
both lives.

A referee (:class:`_Referee`) watches the engine from outside: as a
:class:`~lifecycle.core.machine.TransitionObserver` it counts every fired edge (the
weights of the run's diagram), the time orders spent in each state, the orders
placed, modified and ended, and the cancels sent for aged orphans; as a
:class:`~lifecycle.runtime.driver.RuntimeObserver` it records the trade id of every
fill that moved the position and, after every change to the engine, compares
the engine's view with the exchange's truth for premature untracking. The
invariant counters are the simulated exchange's own
(:mod:`lifecycle.adapters.simulated.invariants`), computed from its truth:

=============================  ===================================================
counter                        counts
=============================  ===================================================
false_orphan_cancels           orphan cancels that hit an order of this run (or of
                               the earlier run, when the policy adopts those)
premature_untracks             orders resting on the exchange while the engine held
                               them ended or forgot them (distinct oids, any time)
untracked_resting_at_end       orders of ours resting at the end that the engine
                               does not track
position_mismatch              the exchange's position minus the engine's, at the end
double_counted_fills           position moves beyond the first per trade id
illegal_transitions_applied    fired moves that are not rows of the table
=============================  ===================================================

Every counter must be 0 on every fault profile.

The exchange model offers no fill-history request, so the adapter used here
adds one (:class:`_FillHistoryAdapter`, after Hyperliquid's ``userFillsByTime``):
it answers from the exchange's record of the account's trades after a REST
round trip, without the model's faults or rate limits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
import tempfile
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecycle.config import LifecycleConfig, OrphanPolicy
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder
from lifecycle.core.events import ExchangeEvent, OrderFilled
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Order
from lifecycle.core.states import OURS, RESTING, GoneReason, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.engine.facade import Engine
from lifecycle.journal import FlushMode, FlushPolicy, Journal, JournaledEngine, journal_path
from lifecycle.policy.reconciler import Book
from lifecycle.runtime import (
    Alarm,
    FillsUnavailable,
    Runtime,
    RuntimeConfig,
    RuntimeStats,
    current_time,
    run_virtual,
    sleep,
)
from lifecycle.sim.quoter import LadderQuoter

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.simulated import (
        FaultProfile,
        MarketParams,
        Owner,
        SimulatedAdapter,
        SimulatedExchange,
        WsReconnected,
        double_counted_fills,
        false_orphan_cancels,
        position_mismatch,
        premature_untracks,
        untracked_resting_at_end,
    )
    from adapters.simulated import profile as named_profile
    from adapters.simulated.wire import SERVER_ERROR, timed_out
else:
    from lifecycle.adapters.simulated import (
        FaultProfile,
        MarketParams,
        Owner,
        SimulatedAdapter,
        SimulatedExchange,
        WsReconnected,
        double_counted_fills,
        false_orphan_cancels,
        position_mismatch,
        premature_untracks,
        untracked_resting_at_end,
    )
    from lifecycle.adapters.simulated import profile as named_profile
    from lifecycle.adapters.simulated.wire import SERVER_ERROR, timed_out

__all__ = [
    "INVARIANTS",
    "JSON_KEYS",
    "RestartInfo",
    "ScheduledFault",
    "SimulationReport",
    "SimulationSpec",
    "run_simulation",
    "simulate_command",
    "write_diagram",
]

S = OrderState
T = Trigger

#: The invariant counters, in report order; each must be 0.
INVARIANTS: tuple[str, ...] = (
    "false_orphan_cancels",
    "premature_untracks",
    "untracked_resting_at_end",
    "position_mismatch",
    "double_counted_fills",
    "illegal_transitions_applied",
)
#: The keys of :meth:`SimulationReport.to_json`, exactly.
JSON_KEYS: tuple[str, ...] = (
    *INVARIANTS,
    "orders_placed",
    "fills",
    "orphans_cancelled",
    "orphans_adopted",
    "anomalies",
    "sim_seconds",
    "wall_seconds",
)
#: Share of the venue's IP weight budget the runtime allows itself: requests are
#: counted when sent, the venue counts them when they arrive, and latency jitter
#: can bunch them up.
_BUDGET_SHARE = 0.9
#: How many examples of each non-zero counter the report keeps.
_EXAMPLES = 5
#: How many of an order's last transitions a finding quotes.
_TRACE_STEPS = 8


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """A fault injected into the exchange at ``at_s`` seconds into the run.

    ``inject(exchange, now)`` calls the exchange's ``inject_*`` methods
    (``inject_ws_disconnect(now, 5.0)``, ``inject_rest_fault("timeout", executed=True)``...).
    """

    at_s: float
    inject: Callable[[SimulatedExchange, float], None]


@dataclass(frozen=True, kw_only=True)
class SimulationSpec:
    """What to simulate.

    Attributes:
        seed: Seeds the exchange (prices, takers, faults) and nothing else.
        duration_s: Simulated seconds of quoting.
        faults: A fault profile, or its name (``none``, ``default``, ``harsh``).
        config: The engine's configuration; defaults if None.
        quoter: The strategy.
        quote_interval_s: Seconds between two quoting cycles.
        previous_orders: Orders of an earlier run of this bot resting at the start.
        foreign_orders: Orders of someone else resting at the start.
        cancel_all: Cancel every order of ours at the end.
        market: The simulated market; the model's defaults if None.
        runtime: How the runtime drives the exchange; None derives the weight
            budget from the profile's IP limit.
        schedule: Faults injected at given times.
        progress: Called every ``progress_interval_s`` with the simulated
            seconds elapsed and ``duration_s``.
        progress_interval_s: See ``progress``.
        restart_at_s: Stop the bot abruptly this many simulated seconds into
            the run (no graceful shutdown: requests in flight and the websocket
            die with it), keep it down ``downtime_s`` while the market goes on,
            then bring it back from its journal
            (:meth:`~lifecycle.journal.writer.JournaledEngine.recover`). None: no restart.
        downtime_s: How long the bot stays down at ``restart_at_s``.
        journal_dir: The run directory of the engine's journal
            (``journal.jsonl``, which must not exist yet). None: no journal, or
            a temporary one with ``restart_at_s``.
        restart_from_journal: False brings the bot back with an empty engine,
            as a bot without a journal would come back; the invariant counters
            then show what the journal prevents.
    """

    seed: int = 1
    duration_s: float = 3600.0
    faults: FaultProfile | str = "default"
    config: LifecycleConfig | None = None
    quoter: LadderQuoter = field(default_factory=LadderQuoter)
    quote_interval_s: float = 1.0
    previous_orders: int = 4
    foreign_orders: int = 4
    cancel_all: bool = True
    market: MarketParams | None = None
    runtime: RuntimeConfig | None = None
    schedule: tuple[ScheduledFault, ...] = ()
    progress: Callable[[float, float], None] | None = None
    progress_interval_s: float = 300.0
    restart_at_s: float | None = None
    downtime_s: float = 10.0
    journal_dir: str | Path | None = None
    restart_from_journal: bool = True

    def profile(self) -> FaultProfile:
        """The fault profile."""
        return self.faults if isinstance(self.faults, FaultProfile) else named_profile(self.faults)


@dataclass(kw_only=True)
class SimulationReport:
    """What a simulation did, and the invariant counters from the exchange's truth."""

    seed: int
    faults: str
    sim_seconds: float
    wall_seconds: float
    #: Placements sent (PENDING -> EXPECTED).
    orders_placed: int
    #: Modifies requested, and modifies that took effect.
    modify_requests: int
    orders_modified: int
    #: Cancels requested (orphans included).
    cancel_requests: int
    #: Orders of ours ended, by reason (``filled``, ``canceled``, ...).
    orders_ended: dict[str, int]
    #: Orders of ours cancelled by the exchange on its own (``marginCanceled``...).
    orders_exchange_cancelled: int
    #: Distinct fills that moved the position, and the position.
    fills: int
    position: Decimal
    #: Order-seconds spent in each state (GONE excluded), and entries into it.
    seconds_in_state: dict[str, float]
    entries_into_state: dict[str, int]
    orphans_seen: int
    orphans_adopted: int
    orphans_cancelled: int
    #: Anomalies by kind.
    anomalies: dict[str, int]
    #: The runtime's counters, and the faults the exchange produced.
    runtime: RuntimeStats
    exchange_faults: dict[str, int]
    #: Hits per ``(source, trigger)``: the weights of the run's diagram.
    edge_counts: dict[tuple[OrderState, Trigger], int]
    false_orphan_cancels: int
    premature_untracks: int
    untracked_resting_at_end: int
    position_mismatch: Decimal
    double_counted_fills: int
    illegal_transitions_applied: int
    #: Orders the engine holds resting that do not rest on the exchange at the end.
    ghost_orders_at_end: int
    #: Details of non-zero counters (a few examples each).
    findings: list[str]
    #: The abrupt stop and recovery, with ``SimulationSpec.restart_at_s``.
    restart: RestartInfo | None = None

    def counters(self) -> dict[str, int | float]:
        """The invariant counters by name."""
        return {name: _number(getattr(self, name)) for name in INVARIANTS}

    @property
    def ok(self) -> bool:
        """True when every invariant counter is 0."""
        return not any(self.counters().values())

    @property
    def consistent(self) -> bool:
        """True when the engine ends agreeing with the exchange: every order of ours
        resting is tracked, nothing it holds resting is gone, positions are equal."""
        return (
            self.untracked_resting_at_end == 0
            and self.ghost_orders_at_end == 0
            and self.position_mismatch == 0
        )

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready mapping with exactly the keys :data:`JSON_KEYS`."""
        out: dict[str, Any] = dict(self.counters())
        out.update(
            orders_placed=self.orders_placed,
            fills=self.fills,
            orphans_cancelled=self.orphans_cancelled,
            orphans_adopted=self.orphans_adopted,
            anomalies=dict(self.anomalies),
            sim_seconds=round(self.sim_seconds, 3),
            wall_seconds=round(self.wall_seconds, 3),
        )
        return out

    def text(self) -> str:
        """The report as printed by ``lifecycle simulate``."""
        rt = self.runtime
        speed = self.sim_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0
        ended = ", ".join(f"{k} {v}" for k, v in sorted(self.orders_ended.items())) or "none"
        lines = [
            f"simulation: seed {self.seed}, faults {self.faults}: {self.sim_seconds:.0f} s "
            f"simulated in {self.wall_seconds:.1f} s wall ({speed:.0f}x)",
            f"orders: placed {self.orders_placed}, modified {self.orders_modified} "
            f"(of {self.modify_requests} modify requests), cancelled "
            f"{self.orders_ended.get('canceled', 0) - self.orders_exchange_cancelled} "
            f"(of {self.cancel_requests} cancel requests), filled "
            f"{self.orders_ended.get('filled', 0)}, cancelled by the exchange "
            f"{self.orders_exchange_cancelled}",
            f"  ended by reason: {ended}",
            f"fills: {self.fills}, position {self.position}",
            "time in state (order-seconds / entries):",
        ]
        for state in OrderState:
            if state is S.GONE:
                continue
            seconds = self.seconds_in_state.get(state.value, 0.0)
            entries = self.entries_into_state.get(state.value, 0)
            lines.append(f"  {state.value:<20} {seconds:12.1f} s {entries:8d}")
        anomalies = ", ".join(f"{k} {v}" for k, v in self.anomalies.items() if v) or "none"
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.exchange_faults.items())) or "none"
        requests = ", ".join(f"{k} {v}" for k, v in sorted(rt.requests.items()))
        if self.restart is not None:
            lines.append(self.restart.text())
        lines += [
            f"orphans: seen {self.orphans_seen}, adopted {self.orphans_adopted}, "
            f"cancelled {self.orphans_cancelled}",
            f"anomalies: {anomalies}",
            f"runtime: requests {sum(rt.requests.values())} ({requests}); "
            f"ambiguous {rt.ambiguous}, rate-limited {rt.rate_limited}, retries {rt.retries}, "
            f"gave up {rt.gave_up}, held {rt.held}",
            f"  syncs {rt.syncs} (failed {rt.syncs_failed}), fill syncs {rt.fill_syncs} "
            f"(failed {rt.fill_syncs_failed}, {rt.fills_fetched} fills fetched), "
            f"reconnects {rt.reconnects}, "
            f"weight {rt.weight}, throttled {rt.throttled_s:.1f} s",
            f"exchange faults: {faults}",
            "invariants (from the exchange's truth):",
        ]
        for name, value in self.counters().items():
            lines.append(f"  {name:<28} {value}")
        lines.extend(f"  ! {finding}" for finding in self.findings)
        verdict = "OK: every invariant counter is 0" if self.ok else "FAILED: see the counters"
        lines.append(verdict)
        return "\n".join(lines)


@dataclass(frozen=True, kw_only=True)
class RestartInfo:
    """What the abrupt stop of ``SimulationSpec.restart_at_s`` left, and what came back."""

    #: Simulated seconds into the run when the bot stopped, and how long it stayed down.
    at_s: float
    downtime_s: float
    #: Whether the bot came back from its journal (else with an empty engine).
    from_journal: bool
    #: Journal records buffered but not written when the bot stopped (lost).
    records_lost: int
    #: Inputs the recovery replayed, and orders it brought back working (not GONE).
    inputs_replayed: int
    orders_restored: int
    #: The journal file, when one was kept (``SimulationSpec.journal_dir``).
    journal: Path | None

    def text(self) -> str:
        """One line for the text report."""
        if not self.from_journal:
            back = "came back with an empty engine (no journal)"
        else:
            back = (
                f"came back from its journal: {self.inputs_replayed} inputs replayed, "
                f"{self.orders_restored} working orders restored, "
                f"{self.records_lost} records lost"
            )
        return (
            f"restart: stopped abruptly at {self.at_s:.0f} s, down {self.downtime_s:.0f} s; "
            f"{back}"
        )


def _number(value: int | Decimal) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


# --- the exchange with a fill history ------------------------------------------------------


class _FillHistoryAdapter(SimulatedAdapter):
    """A :class:`SimulatedAdapter` that can also list the account's fills since a time.

    Stands for Hyperliquid's ``userFillsByTime``: a REST round trip (the
    profile's latency each way), answered from the exchange's record of the
    account's trades as it stands when the request arrives. Fills carry the
    cloid only when the profile's websocket fills do. The profile's
    ``timeout_rate`` and ``server_error_rate`` apply to it as to any request:
    a timeout raises :class:`~lifecycle.runtime.adapter.FillsUnavailable` after
    ``request_timeout_s``, a 5xx after the round trip.
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        *,
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        seed: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(exchange, now=now, sleep=sleep, **kwargs)
        self._wait_s = sleep
        self._latency_rng = random.Random(f"{seed}/fill-history")
        self._fault_rng = random.Random(f"{seed}/fill-history-faults")

    async def fills_since(self, start: float) -> Sequence[OrderFilled]:
        """The account's fills at or after ``start``, oldest first."""
        profile = self.exchange.profile
        draw = self._fault_rng.random()
        if draw < profile.timeout_rate:
            await self._wait_s(profile.request_timeout_s)
            self._pump()
            raise FillsUnavailable(timed_out(profile.request_timeout_s))
        await self._wait_s(profile.rest_latency.draw(self._latency_rng))
        self._pump()  # the model reaches the arrival time; what it delivers is routed
        if draw < profile.timeout_rate + profile.server_error_rate:
            await self._wait_s(profile.rest_latency.draw(self._latency_rng))
            raise FillsUnavailable(SERVER_ERROR)
        with_cloid = profile.fills_carry_cloid
        fills = [
            OrderFilled(
                cloid=f.cloid if with_cloid else None, oid=f.oid, tid=f.tid, side=f.side,
                price=f.price, size=f.size,
            )
            for f in self.exchange.truth.fills
            if f.at >= start
        ]
        await self._wait_s(profile.rest_latency.draw(self._latency_rng))
        return fills


# --- the referee ----------------------------------------------------------------------------


class _Referee:
    """Watches the engine and compares it with the exchange's truth (module docstring)."""

    def __init__(self, engine: Engine, exchange: SimulatedExchange) -> None:
        self.engine = engine
        self.exchange = exchange
        self.edges: Counter[tuple[OrderState, Trigger]] = Counter()
        self.illegal: list[str] = []
        self.seconds: defaultdict[OrderState, float] = defaultdict(float)
        self.entries: Counter[OrderState] = Counter()
        self.ended: Counter[GoneReason] = Counter()
        self.exchange_cancelled = 0
        self.orphan_cancels: list[CancelOrder] = []
        self.applied: list[Tid] = []
        #: oid -> (first seen at, cloid, the engine's record then) of each premature untrack.
        self.premature: dict[Oid, tuple[float, Cloid | None, str]] = {}
        self._entered: dict[int, float] = {}
        # Counts of the engines of earlier lives (a restart starts a new engine),
        # and the anomaly counts a recovery's replay rebuilt (already counted).
        self._carried_sync: Counter[str] = Counter()
        self._carried_anomalies: Counter[AnomalyKind] = Counter()
        self._anomaly_base: Counter[AnomalyKind] = Counter()

    # TransitionObserver

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        """Count the edge; check it is a row; account the time spent in ``source``."""
        self.edges[(source, trigger)] += 1
        if TABLE.get((source, trigger)) is not dest:
            self.illegal.append(f"{order.label}: {source.value} --{trigger.value}--> {dest.value}")
        if source is S.AGED_ORPHAN and trigger is T.CANCEL_REQUEST:
            # The engine's orphan cancel names the order as this command does.
            self.orphan_cancels.append(CancelOrder(cloid=order.cloid, oid=order.oid))
        if source is dest:
            return
        key = id(order)
        entered = self._entered.pop(key, None)
        if entered is None:
            # Its first move: it was created in ``source`` (placed, or discovered).
            entered = order.created_at
            self.entries[source] += 1
        self.seconds[source] += now - entered
        if dest is S.GONE:
            if source in OURS and order.reason is not None:
                self.ended[order.reason] += 1
                if trigger is T.EXCHANGE_CANCELED:
                    self.exchange_cancelled += 1
        else:
            self.entries[dest] += 1
            self._entered[key] = now

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        """Refused triggers change nothing (the engine records them as anomalies)."""

    # RuntimeObserver

    def event_handled(self, event: ExchangeEvent, now: float, fills_applied: int) -> None:
        """Record the trade id of a fill that moved the position."""
        if fills_applied and isinstance(event, OrderFilled):
            self.applied.extend([event.tid] * fills_applied)

    def engine_changed(self, now: float) -> None:
        """Look for orders resting on the exchange that the engine holds ended or forgot."""
        registry = self.engine.registry
        truth = self.exchange.truth
        suspects: set[Cloid] = set()
        by_cloid, gone = registry.by_cloid, S.GONE
        for cloid in truth.resting_cloids(Owner.CLIENT):
            held = by_cloid(cloid)
            if held is None or held.state is gone:
                suspects.add(cloid)
        if suspects:
            for order in premature_untracks(truth, suspects):
                if order.oid not in self.premature:
                    self.premature[order.oid] = (now, order.cloid, _trace(
                        registry.by_cloid(order.cloid) if order.cloid is not None else None
                    ))

    def suspend(self, now: float) -> None:
        """The bot stopped at ``now``: account its orders' time in state up to then."""
        self.close(now)
        self._entered.clear()
        self._carried_sync.update(self.engine.sync.counters())
        self._carried_anomalies.update(self.engine.anomalies.counts - self._anomaly_base)

    def resume(self, engine: Engine, now: float) -> None:
        """The bot is back at ``now`` with ``engine``: watch it from here on.

        Its working orders start their time in state now (the downtime is not
        counted); the moves a recovery replayed are not counted again.
        """
        self.engine = engine
        engine.machine.add_observer(self)
        self._anomaly_base = Counter(engine.anomalies.counts)
        for order in engine.registry:
            if order.state is not S.GONE:
                self._entered[id(order)] = now

    def sync_counts(self) -> Counter[str]:
        """The safety sync's counters over every life of the bot."""
        return self._carried_sync + Counter(self.engine.sync.counters())

    def anomaly_counts(self) -> Counter[AnomalyKind]:
        """Anomalies by kind over every life of the bot, each counted once."""
        return self._carried_anomalies + (self.engine.anomalies.counts - self._anomaly_base)

    def close(self, now: float) -> None:
        """Account the time of the orders still in a state at the end of the run."""
        for order in self.engine.registry:
            if order.state is not S.GONE:
                entered = self._entered.pop(id(order), None)
                if entered is None:
                    entered = order.created_at
                    self.entries[order.state] += 1
                self.seconds[order.state] += now - entered


# --- the run ------------------------------------------------------------------------------


def _runtime_config(spec: SimulationSpec, profile: FaultProfile) -> RuntimeConfig:
    if spec.runtime is not None:
        return spec.runtime
    limit = profile.ip_weight_per_min
    if limit is None:
        return RuntimeConfig()
    return RuntimeConfig(weight_per_min=max(1, int(limit * _BUDGET_SHARE)))


class _Stopped(Exception):
    """Raised inside a runtime session to stop the bot abruptly."""


#: The journal's flush policy in a simulation: every call's records are written
#: before the call returns (no command goes out before its record), without
#: fsync: an abrupt stop is a process crash, not a power loss.
_JOURNAL_POLICY = FlushPolicy(mode=FlushMode.EVERY_RECORD, fsync=False)


class _Bot:
    """The bot of one simulation: its engine, and the runtime of its current life."""

    def __init__(
        self,
        spec: SimulationSpec,
        profile: FaultProfile,
        exchange: SimulatedExchange,
        referee: _Referee,
        start: float,
    ) -> None:
        self.spec = spec
        self.profile = profile
        self.exchange = exchange
        self.referee = referee
        self.start = start
        self.stats: list[RuntimeStats] = []

    def runtime(self, engine: Engine, *, faults_from: float, faults_until: float) -> Runtime:
        """A runtime driving ``engine``, quoting, reporting progress, and injecting
        the spec's faults due in ``[faults_from, faults_until)`` (run time)."""
        spec, exchange, start = self.spec, self.exchange, self.start
        runtime: Runtime | None = None

        def reconnected(notice: WsReconnected) -> None:
            if runtime is not None:
                runtime.notify_reconnect(notice.down_since)

        adapter = _FillHistoryAdapter(
            exchange, now=current_time, sleep=sleep, seed=spec.seed, on_reconnect=reconnected,
            alarm=Alarm(),
        )
        runtime = Runtime(
            engine, adapter, _runtime_config(spec, self.profile), observer=self.referee
        )
        quoter = spec.quoter

        def quote(now: float) -> None:
            bid, ask = exchange.bbo()
            quoter.quote(engine, Book(best_bid=bid, best_ask=ask, at=now), now)

        runtime.every(spec.quote_interval_s, quote)
        # Registered even without a listener: the run must not depend on whether
        # progress is shown (timers due at one instant run in an order decided by
        # every timer scheduled before).
        progress = spec.progress
        runtime.every(
            spec.progress_interval_s,
            lambda now: progress(now - start, spec.duration_s) if progress is not None else None,
        )
        for fault in spec.schedule:
            if faults_from <= fault.at_s < faults_until:
                runtime.call_at(start + fault.at_s, _injector(fault, exchange))
        self.stats.append(runtime.stats)
        return runtime


async def _simulate(spec: SimulationSpec, journal_dir: Path | None) -> SimulationReport:
    profile = spec.profile()
    config = spec.config if spec.config is not None else LifecycleConfig()
    namespace = config.orders.namespace
    start = current_time()
    exchange = SimulatedExchange(
        spec.seed, profile, coin=_bare(config.market.coin), dex=config.market.dex,
        start=start, market=spec.market,
        previous_run=CloidFactory(namespace, run_id=0) if spec.previous_orders else None,
        previous_orders=spec.previous_orders, foreign_orders=spec.foreign_orders,
    )
    cloids = CloidFactory(namespace, run_id=1)
    engine: Engine
    if journal_dir is not None:
        journal = Journal.in_dir(journal_dir, _JOURNAL_POLICY)
        engine = JournaledEngine(journal, config, cloids=cloids)
    else:
        engine = Engine(config, cloids=cloids)
    referee = _Referee(engine, exchange)
    engine.machine.add_observer(referee)
    bot = _Bot(spec, profile, exchange, referee, start)
    restart: RestartInfo | None = None
    faults_from = float("-inf")

    if spec.restart_at_s is not None:
        runtime = bot.runtime(engine, faults_from=faults_from, faults_until=spec.restart_at_s)
        try:
            async with runtime.session():
                await sleep(spec.restart_at_s)
                raise _Stopped
        except* _Stopped:
            pass  # every task of the runtime was cancelled: nothing shut down gracefully
        stopped = current_time()
        exchange.inject_client_stop(stopped)
        lost = engine.journal.abandon() if isinstance(engine, JournaledEngine) else 0
        referee.suspend(stopped)
        await sleep(spec.downtime_s)
        back = current_time()
        exchange.inject_client_start(back)
        inputs = 0
        if spec.restart_from_journal and journal_dir is not None:
            engine = JournaledEngine.recover(journal_dir, back, policy=_JOURNAL_POLICY)
            inputs = engine.recovery.inputs if engine.recovery is not None else 0
        else:
            # A bot without a journal: it starts empty, as a new run would.
            engine = Engine(config, cloids=CloidFactory(namespace, run_id=2))
        referee.resume(engine, back)
        restart = RestartInfo(
            at_s=stopped - start,
            downtime_s=back - stopped,
            from_journal=isinstance(engine, JournaledEngine),
            records_lost=lost,
            inputs_replayed=inputs,
            orders_restored=sum(1 for o in engine.registry if o.state is not S.GONE),
            journal=(
                journal_path(journal_dir)
                if journal_dir is not None and spec.journal_dir is not None
                else None
            ),
        )
        faults_from = spec.restart_at_s

    runtime = bot.runtime(engine, faults_from=faults_from, faults_until=float("inf"))
    if restart is not None:
        # A bot that starts again syncs at once and fetches the fills it may
        # have missed: any since its journal began (a fill whose message was
        # lost waited for the next periodic fetch, which died with the process).
        recovery = engine.recovery if isinstance(engine, JournaledEngine) else None
        since = recovery.first_at if recovery is not None else None
        runtime.catch_up(start + restart.at_s + restart.downtime_s if since is None else since)
    async with runtime.session():
        await sleep(max(0.0, start + spec.duration_s - current_time()))
        exchange.close_market(current_time())
        horizon = _delivery_horizon(profile)

        def settled() -> bool:
            # Asked only while the runtime has nothing in flight: whatever the
            # exchange still holds beyond the longest delivery delay is a closed
            # market's process that will do nothing when it runs.
            due = exchange.next_time()
            return due is None or due > current_time() + horizon

        await runtime.close(cancel_all=spec.cancel_all, settled=settled)
        end = current_time()
    if isinstance(engine, JournaledEngine):
        engine.close()
    if spec.progress is not None:
        spec.progress(spec.duration_s, spec.duration_s)
    referee.close(end)
    report = _report(
        spec, profile, config, engine, exchange, _merged(bot.stats), referee, end - start
    )
    report.restart = restart
    return report


def _merged(stats: Sequence[RuntimeStats]) -> RuntimeStats:
    """The counters of the bot's runtimes (one per life), added up."""
    total = RuntimeStats()
    for one in stats:
        for f in dataclasses.fields(RuntimeStats):
            setattr(total, f.name, getattr(total, f.name) + getattr(one, f.name))
    return total


def _trace(order: Order | None) -> str:
    """An order's state and recent transitions, for findings."""
    if order is None:
        return "not held by the engine"
    history = order.history
    steps = ", ".join(
        f"{r.at:.3f} {r.source.value}-{r.trigger.value}->{r.dest.value}"
        for r in history[-_TRACE_STEPS:]
    )
    more = "..., " if len(history) > _TRACE_STEPS else ""
    return f"engine: {order.label} oid {order.oid} {order.state.value} [{more}{steps}]"


def _delivery_horizon(profile: FaultProfile) -> float:
    """The longest a message or an answer can take to reach the client."""
    ws = profile.ws_latency.max_s + profile.ws_reorder_delay.max_s
    rest = profile.request_timeout_s + profile.rest_latency.max_s
    return max(ws, rest)


def _injector(fault: ScheduledFault, exchange: SimulatedExchange) -> Callable[[float], None]:
    def inject(now: float) -> None:
        fault.inject(exchange, now)

    return inject


def _bare(coin: str) -> str:
    # The exchange takes the bare coin and the dex apart; the config may name "dex:COIN".
    return coin.split(":", 1)[1] if ":" in coin else coin


def _report(
    spec: SimulationSpec,
    profile: FaultProfile,
    config: LifecycleConfig,
    engine: Engine,
    exchange: SimulatedExchange,
    stats: RuntimeStats,
    referee: _Referee,
    sim_seconds: float,
) -> SimulationReport:
    truth = exchange.truth
    findings: list[str] = []
    owners = [Owner.CLIENT]
    if config.orders.orphan_policy is not OrphanPolicy.CANCEL:
        owners.append(Owner.PREVIOUS_RUN)  # ours to adopt, never to cancel
    false_cancels = false_orphan_cancels(truth, referee.orphan_cancels, owners)
    tracked = [o for o in engine.registry if o.state is not S.GONE]
    tracked_cloids = {o.cloid for o in tracked if o.cloid is not None}
    tracked_oids = {oid for o in tracked for oid in (o.oid, *o.prior_oids) if oid is not None}
    untracked = untracked_resting_at_end(truth, tracked_cloids, tracked_oids)
    resting_oids = {o.oid for o in truth.resting()}
    ghosts = [o for o in tracked if o.state in RESTING and o.oid not in resting_oids]
    mismatch = position_mismatch(truth, engine.position)
    doubles = double_counted_fills(truth, referee.applied)

    for oid, (at, cloid, record) in list(referee.premature.items())[:_EXAMPLES]:
        findings.append(f"premature untrack: oid {oid} cloid {cloid} at {at:.3f}: {record}")
    for order in untracked[:_EXAMPLES]:
        findings.append(f"untracked at end: oid {order.oid} cloid {order.cloid} "
                        f"({order.owner.value}): "
                        f"{_trace(engine.registry.find(order.cloid, order.oid))}")
    for ghost in ghosts[:_EXAMPLES]:
        findings.append(f"ghost at end: {ghost.label} oid {ghost.oid} {ghost.state.value}")
    findings.extend(f"illegal transition: {x}" for x in referee.illegal[:_EXAMPLES])
    if false_cancels:
        findings.append(f"false orphan cancels: {false_cancels}")
    if mismatch:
        findings.append(f"position: exchange {truth.position}, engine {engine.position}")

    sync = referee.sync_counts()
    anomalies = referee.anomaly_counts()
    return SimulationReport(
        seed=spec.seed,
        faults=profile.name,
        sim_seconds=sim_seconds,
        wall_seconds=0.0,
        orders_placed=referee.edges[(S.PENDING, T.SUBMIT)],
        modify_requests=sum(n for (s, t), n in referee.edges.items() if t is T.MODIFY_REQUEST),
        orders_modified=referee.edges[(S.MODIFYING, T.MODIFY_ACK)],
        cancel_requests=sum(n for (s, t), n in referee.edges.items() if t is T.CANCEL_REQUEST),
        orders_ended={reason.value: n for reason, n in referee.ended.items()},
        orders_exchange_cancelled=referee.exchange_cancelled,
        fills=engine.ledger.fills,
        position=engine.position,
        seconds_in_state={s.value: round(v, 3) for s, v in referee.seconds.items()},
        entries_into_state={s.value: n for s, n in referee.entries.items()},
        orphans_seen=sync["orphans_seen"],
        orphans_adopted=sync["orphans_adopted"],
        orphans_cancelled=sync["orphans_cancelled"],
        anomalies={kind.value: anomalies[kind] for kind in AnomalyKind},
        runtime=stats,
        exchange_faults=dict(exchange.fault_counts),
        edge_counts=dict(referee.edges),
        false_orphan_cancels=false_cancels,
        premature_untracks=len(referee.premature),
        untracked_resting_at_end=len(untracked),
        position_mismatch=mismatch,
        double_counted_fills=doubles,
        illegal_transitions_applied=len(referee.illegal),
        ghost_orders_at_end=len(ghosts),
        findings=findings,
    )


def run_simulation(spec: SimulationSpec | None = None) -> SimulationReport:
    """Run one simulation on the virtual clock and return its report."""
    spec = spec if spec is not None else SimulationSpec()
    if not (spec.duration_s > 0 and spec.quote_interval_s > 0 and spec.progress_interval_s > 0):
        raise ValueError("duration_s, quote_interval_s and progress_interval_s must be > 0")
    if spec.restart_at_s is not None and not 0 < spec.restart_at_s < spec.duration_s:
        raise ValueError(
            f"restart_at_s must be inside the run (0 < restart_at_s < duration_s="
            f"{spec.duration_s}), got {spec.restart_at_s}"
        )
    if not spec.downtime_s >= 0:
        raise ValueError(f"downtime_s must be >= 0, got {spec.downtime_s}")
    with contextlib.ExitStack() as stack:
        journal_dir: Path | None = None
        if spec.journal_dir is not None:
            journal_dir = Path(spec.journal_dir)
            if journal_path(journal_dir).exists():
                raise FileExistsError(
                    f"{journal_path(journal_dir)} exists: give a new journal directory"
                )
        elif spec.restart_at_s is not None:
            journal_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim-")))
        report, wall = run_virtual(lambda: _simulate(spec, journal_dir))
    report.wall_seconds = wall
    return report


def write_diagram(report: SimulationReport, out_dir: str | Path) -> list[Path]:
    """Write the run's lifecycle diagram, edges weighted by hits, as
    ``out_dir/simulation.{dot,svg}``.

    Raises:
        graphviz.ExecutableNotFound: Graphviz ``dot`` is missing (the ``.dot`` is written).
    """
    from lifecycle.review.diagram import lifecycle_graph, render

    title = (
        f"Simulation: seed {report.seed}, faults {report.faults}, "
        f"{report.sim_seconds:.0f} s simulated"
    )
    graph = lifecycle_graph(report.edge_counts, title=title)
    return render(graph, out_dir, "simulation", formats=("svg",))


# --- the command ----------------------------------------------------------------------------


def _progress_interval(duration_s: float) -> float:
    # Every few simulated minutes; about ten updates for a short run.
    return min(300.0, max(30.0, duration_s / 10))


def _progress_bar(write: Callable[[str], None]) -> Callable[[float, float], None]:
    shown: list[float] = []

    def show(done_s: float, total_s: float) -> None:
        if shown and shown[-1] >= done_s:
            return  # the last tick and the end of the run may coincide
        shown.append(done_s)
        share = min(1.0, done_s / total_s) if total_s > 0 else 1.0
        filled = int(share * 30)
        write(
            f"simulate: [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  "
            f"{done_s:7.0f} / {total_s:.0f} simulated s"
        )

    return show


def simulate_command(
    *,
    seed: int,
    duration_s: float,
    faults: str,
    config: LifecycleConfig | None,
    as_json: bool,
    out: str | Path,
    keep_orders: bool = False,
    quiet: bool = False,
    verbose: bool = False,
    restart_at_s: float | None = None,
    downtime_s: float = 10.0,
    journal_dir: str | Path | None = None,
    restart_from_journal: bool = True,
) -> int:
    """Run ``lifecycle simulate``: print the report (text or JSON), write the diagram.

    The restart and journal arguments are those of :class:`SimulationSpec`.

    Returns:
        The exit status: 0 when every invariant counter is 0, 1 when one is
        not, 2 for bad arguments.
    """
    import json
    import logging
    import sys

    def err(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if not duration_s > 0:
        err(f"--duration must be > 0, got {duration_s}")
        return 2
    if restart_at_s is not None and not 0 < restart_at_s < duration_s:
        err(f"--restart-at must be inside the run (0 < SECONDS < --duration {duration_s:g}), "
            f"got {restart_at_s:g}")
        return 2
    if not downtime_s >= 0:
        err(f"--downtime must be >= 0, got {downtime_s:g}")
        return 2
    if journal_dir is not None and journal_path(journal_dir).exists():
        err(f"--journal: {journal_path(journal_dir)} exists; give a new directory")
        return 2
    spec = SimulationSpec(
        seed=seed,
        duration_s=duration_s,
        faults=faults,
        config=config,
        cancel_all=not keep_orders,
        progress=None if quiet else _progress_bar(err),
        progress_interval_s=_progress_interval(duration_s),
        restart_at_s=restart_at_s,
        downtime_s=downtime_s,
        journal_dir=journal_dir,
        restart_from_journal=restart_from_journal,
    )
    package_log = logging.getLogger("lifecycle")
    level = package_log.level
    if not verbose:
        # Anomalies and sync warnings are expected under faults; the report counts them.
        package_log.setLevel(logging.ERROR)
    try:
        report = run_simulation(spec)
    finally:
        package_log.setLevel(level)
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        print(report.text())
    note = err if as_json else print
    try:
        for path in write_diagram(report, out):
            note(f"wrote {path}")
    except Exception as exc:  # graphviz.ExecutableNotFound: the .dot is written anyway
        err(f"diagram not rendered: {exc}")
    return 0 if report.ok else 1
