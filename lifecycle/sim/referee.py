"""The referee: watches the engine from outside and compares it with the exchange's truth.

Theory of operation
-------------------
:class:`_Referee` is a :class:`~lifecycle.core.machine.TransitionObserver`: it
counts every fired edge (the weights of the run's diagram), the time orders
spent in each state, the orders placed, modified and ended, and the cancels
sent for aged orphans. It is also a :class:`~lifecycle.runtime.RuntimeObserver`:
it records the trade id of every fill that moved the position and, after
every change to the engine, compares the engine's view with the exchange's
truth for premature untracking.

A restart (``SimulationSpec.restart_at_s``) starts a new engine: the referee
is suspended when the bot stops and resumes on the new engine, carrying the
counts of the earlier life, so its counters cover every life of the bot.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Protocol

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder
from lifecycle.core.events import ExchangeEvent, OrderFilled
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import FillId, Order
from lifecycle.core.states import LOCAL_TRIGGERS, OURS, GoneReason, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.engine.facade import Engine

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.simulated import Owner, Truth, premature_untracks
else:
    from lifecycle.adapters.simulated import Owner, Truth, premature_untracks

S = OrderState
T = Trigger

#: How many of an order's last transitions a finding quotes.
_TRACE_STEPS = 8


class Venue(Protocol):
    """What the referee and the report read of the exchange: a simulated exchange, or
    a view of one whose ids are those the client sees (the loopback's)."""

    @property
    def truth(self) -> Truth:
        """The exchange's own knowledge, in the client's ids."""
        ...

    @property
    def fault_counts(self) -> Counter[str]:
        """The faults the exchange produced, by kind."""
        ...


class _Referee:
    """Watches the engine and compares it with the exchange's truth (module docstring)."""

    def __init__(self, engine: Engine, exchange: Venue) -> None:
        self.engine = engine
        self.exchange = exchange
        self.edges: Counter[tuple[OrderState, Trigger]] = Counter()
        self.illegal: list[str] = []
        #: Exchange messages the table refused: each means a row is missing or the
        #: engine misread a message (the table makes every real late message legal).
        self.refused_remote: list[str] = []
        self.seconds: defaultdict[OrderState, float] = defaultdict(float)
        self.entries: Counter[OrderState] = Counter()
        self.ended: Counter[GoneReason] = Counter()
        self.exchange_cancelled = 0
        self.orphan_cancels: list[CancelOrder] = []
        self.applied: list[FillId] = []
        #: oid -> (first seen at, cloid, the engine's record then) of each premature untrack.
        self.premature: dict[Oid, tuple[float, Cloid | None, str]] = {}
        self._entered: dict[int, float] = {}
        # Counts of the engines of earlier lives (a restart starts a new engine),
        # and the anomaly counts a recovery's replay rebuilt (already counted).
        self._carried_sync: Counter[str] = Counter()
        self._carried_anomalies: Counter[AnomalyKind] = Counter()
        self._anomaly_base: Counter[AnomalyKind] = Counter()
        # What the last look for premature untracks saw: a new one needs an order
        # of the engine's to end, or an order to come to rest on the exchange.
        self._ended_since_look = True
        self._rests_seen = -1

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
        if dest is S.GONE:
            self._ended_since_look = True
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
        """Count a refused exchange-caused trigger (a refused local request raises)."""
        if trigger not in LOCAL_TRIGGERS:
            self.refused_remote.append(
                f"{order.label} at {now:.3f}: {order.state.value} --{trigger.value}--> refused"
            )

    # RuntimeObserver

    def event_handled(self, event: ExchangeEvent, now: float, fills_applied: int) -> None:
        """Record the identity of a fill that moved the position."""
        if fills_applied and isinstance(event, OrderFilled):
            self.applied.extend([event.identity] * fills_applied)

    def engine_changed(self, now: float) -> None:
        """Look for orders resting on the exchange that the engine holds ended or forgot.

        Only an order of the engine's ending (an order is forgotten only once
        ended) or an order coming to rest on the exchange can make one, so the
        look is skipped when neither happened since the last.
        """
        truth = self.exchange.truth
        if not self._ended_since_look and truth.rests == self._rests_seen:
            return
        self._ended_since_look, self._rests_seen = False, truth.rests
        registry = self.engine.registry
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
        self._ended_since_look = True  # another engine: look afresh
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
