"""What a simulation did: :class:`SimulationReport`, its text and JSON, and how it is computed.

Theory of operation
-------------------
:func:`_report` reads the engine at the end of the run, the referee's counts
(:mod:`lifecycle.sim.referee`) and the exchange's truth. The invariant
counters are the simulated exchange's own
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
refused_remote_events          exchange messages the table refused (every late or
                               repeated message that really happens is a legal
                               row, so one refused means a row is missing)
=============================  ===================================================

Every counter must be 0 on every fault profile. A non-zero counter comes with
a few examples (``findings``), each quoting the order's recent transitions.

The text (:meth:`SimulationReport.text`) and the JSON
(:meth:`SimulationReport.to_json`, keys :data:`JSON_KEYS`) carry the same
figures; a run stopped early (Ctrl-C) says where it stopped in both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecycle.config import LifecycleConfig, OrphanPolicy
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.states import RESTING, OrderState, Trigger
from lifecycle.engine.facade import Engine
from lifecycle.runtime import RuntimeStats
from lifecycle.sim.referee import Venue, _Referee, _trace
from lifecycle.sim.spec import SimulationSpec

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.simulated import (
        FaultProfile,
        Owner,
        double_counted_fills,
        false_orphan_cancels,
        position_mismatch,
        untracked_resting_at_end,
    )
else:
    from lifecycle.adapters.simulated import (
        FaultProfile,
        Owner,
        double_counted_fills,
        false_orphan_cancels,
        position_mismatch,
        untracked_resting_at_end,
    )

__all__ = ["INVARIANTS", "JSON_KEYS", "RestartInfo", "SimulationReport"]

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
    "refused_remote_events",
)
#: The keys of :meth:`SimulationReport.to_json`, exactly.
JSON_KEYS: tuple[str, ...] = (
    "ok",
    "seed",
    "faults",
    "duration_s",
    "sim_seconds",
    "wall_seconds",
    "interrupted_at_s",
    *INVARIANTS,
    "ghost_orders_at_end",
    "findings",
    "orders_placed",
    "orders_modified",
    "modify_requests",
    "orders_canceled",
    "cancel_requests",
    "orders_filled",
    "orders_exchange_canceled",
    "orders_ended",
    "fills",
    "position",
    "time_in_state",
    "orphans_seen",
    "orphans_adopted",
    "orphans_canceled",
    "anomalies",
    "runtime",
    "exchange_faults",
    "restart",
)
#: How many examples of each non-zero counter the report keeps.
_EXAMPLES = 5


@dataclass(kw_only=True)
class SimulationReport:
    """What a simulation did, and the invariant counters from the exchange's truth."""

    seed: int
    #: The fault profile's name.
    faults: str
    #: The simulated seconds of quoting asked for (``SimulationSpec.duration_s``).
    duration_s: float
    #: Simulated seconds the run took (quoting, then the shutdown), and wall seconds.
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
    #: Orders of ours canceled by the exchange on its own (``marginCanceled``...).
    orders_exchange_canceled: int
    #: Distinct fills that moved the position, and the position.
    fills: int
    position: Decimal
    #: Order-seconds spent in each state (GONE excluded), and entries into it.
    seconds_in_state: dict[str, float]
    entries_into_state: dict[str, int]
    orphans_seen: int
    orphans_adopted: int
    orphans_canceled: int
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
    refused_remote_events: int
    #: Orders the engine holds resting that do not rest on the exchange at the end.
    ghost_orders_at_end: int
    #: Details of non-zero counters (a few examples each).
    findings: list[str]
    #: The abrupt stop and recovery, with ``SimulationSpec.restart_at_s``.
    restart: RestartInfo | None = None
    #: Simulated seconds into the run when a stop request (Ctrl-C) ended the
    #: quoting early; None for a run that went its whole duration.
    interrupted_at_s: float | None = None

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

    @property
    def orders_canceled(self) -> int:
        """Orders of ours canceled at our request (the exchange's own cancels excluded)."""
        return self.orders_ended.get("canceled", 0) - self.orders_exchange_canceled

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready mapping with exactly the keys :data:`JSON_KEYS`.

        It carries every figure of :meth:`text`: counts are integers, seconds
        floats rounded to the millisecond, the position a number, the restart
        (or None) a mapping.
        """
        rt = self.runtime
        runtime: dict[str, Any] = {
            f.name: getattr(rt, f.name) for f in dataclasses.fields(rt)
        }
        runtime["requests"] = dict(sorted(rt.requests.items()))
        runtime["throttled_s"] = round(rt.throttled_s, 3)
        out: dict[str, Any] = {
            "ok": self.ok,
            "seed": self.seed,
            "faults": self.faults,
            "duration_s": self.duration_s,
            "sim_seconds": round(self.sim_seconds, 3),
            "wall_seconds": round(self.wall_seconds, 3),
            "interrupted_at_s": (
                None if self.interrupted_at_s is None else round(self.interrupted_at_s, 3)
            ),
            **self.counters(),
            "ghost_orders_at_end": self.ghost_orders_at_end,
            "findings": list(self.findings),
            "orders_placed": self.orders_placed,
            "orders_modified": self.orders_modified,
            "modify_requests": self.modify_requests,
            "orders_canceled": self.orders_canceled,
            "cancel_requests": self.cancel_requests,
            "orders_filled": self.orders_ended.get("filled", 0),
            "orders_exchange_canceled": self.orders_exchange_canceled,
            "orders_ended": dict(sorted(self.orders_ended.items())),
            "fills": self.fills,
            "position": _number(self.position),
            "time_in_state": {
                state.value: {
                    "seconds": self.seconds_in_state.get(state.value, 0.0),
                    "entries": self.entries_into_state.get(state.value, 0),
                }
                for state in OrderState
                if state is not S.GONE
            },
            "orphans_seen": self.orphans_seen,
            "orphans_adopted": self.orphans_adopted,
            "orphans_canceled": self.orphans_canceled,
            "anomalies": dict(self.anomalies),
            "runtime": runtime,
            "exchange_faults": dict(sorted(self.exchange_faults.items())),
            "restart": None if self.restart is None else self.restart.to_json(),
        }
        return out

    def text(self) -> str:
        """The report as printed by ``lifecycle simulate``."""
        rt = self.runtime
        speed = self.sim_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0
        ended = ", ".join(f"{k} {v}" for k, v in sorted(self.orders_ended.items())) or "none"
        lines = [
            f"simulation: seed {self.seed}, faults {self.faults}: {self.sim_seconds:.0f} s "
            f"simulated in {self.wall_seconds:.1f} s wall ({speed:.0f}x)",
        ]
        if self.interrupted_at_s is not None:
            lines.append(
                f"interrupted: stopped at {self.interrupted_at_s:.0f} s of "
                f"{self.duration_s:.0f} s asked for; the figures cover that part"
            )
        lines += [
            f"orders: placed {self.orders_placed}, modified {self.orders_modified} "
            f"(of {self.modify_requests} modify requests), canceled "
            f"{self.orders_canceled} (of {self.cancel_requests} cancel requests), filled "
            f"{self.orders_ended.get('filled', 0)}, canceled by the exchange "
            f"{self.orders_exchange_canceled}",
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
            f"canceled {self.orphans_canceled}",
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

    def to_json(self) -> dict[str, Any]:
        """The restart as a JSON-ready mapping (the journal's path as text, or None)."""
        return {
            "at_s": round(self.at_s, 3),
            "downtime_s": round(self.downtime_s, 3),
            "from_journal": self.from_journal,
            "records_lost": self.records_lost,
            "inputs_replayed": self.inputs_replayed,
            "orders_restored": self.orders_restored,
            "journal": None if self.journal is None else str(self.journal),
        }


def _number(value: int | Decimal) -> int | float:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _report(
    spec: SimulationSpec,
    profile: FaultProfile,
    config: LifecycleConfig,
    engine: Engine,
    exchange: Venue,
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
    findings.extend(f"refused exchange message: {x}" for x in referee.refused_remote[:_EXAMPLES])
    if false_cancels:
        findings.append(f"false orphan cancels: {false_cancels}")
    if mismatch:
        findings.append(f"position: exchange {truth.position}, engine {engine.position}")
    if doubles:
        findings.append(f"double-counted fills: {doubles} trades moved the position twice")

    sync = referee.sync_counts()
    anomalies = referee.anomaly_counts()
    return SimulationReport(
        seed=spec.seed,
        faults=profile.name,
        duration_s=spec.duration_s,
        sim_seconds=sim_seconds,
        wall_seconds=0.0,
        orders_placed=referee.edges[(S.PENDING, T.SUBMIT)],
        modify_requests=sum(n for (s, t), n in referee.edges.items() if t is T.MODIFY_REQUEST),
        orders_modified=referee.edges[(S.MODIFYING, T.MODIFY_ACK)],
        cancel_requests=sum(n for (s, t), n in referee.edges.items() if t is T.CANCEL_REQUEST),
        orders_ended={reason.value: n for reason, n in referee.ended.items()},
        orders_exchange_canceled=referee.exchange_cancelled,
        fills=engine.ledger.fills,
        position=engine.position,
        seconds_in_state={s.value: round(v, 3) for s, v in referee.seconds.items()},
        entries_into_state={s.value: n for s, n in referee.entries.items()},
        orphans_seen=sync["orphans_seen"],
        orphans_adopted=sync["orphans_adopted"],
        orphans_canceled=sync["orphans_cancelled"],
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
        refused_remote_events=len(referee.refused_remote),
        ghost_orders_at_end=len(ghosts),
        findings=findings,
    )
