"""The engine: events in, commands out, time as an argument.

Theory of operation
-------------------
The engine is a sans-I/O facade in the manner of h11's ``Connection``. A driver
feeds it exchange facts with :meth:`Engine.handle`, wakes it at
:meth:`Engine.next_deadline` with :meth:`Engine.on_timer`, asks it for orders
with :meth:`Engine.place` / :meth:`Engine.cancel` / :meth:`Engine.modify`, and
drains what must be sent with :meth:`Engine.commands_to_send`. It never reads a
clock, sleeps or performs I/O.

For every event it resolves the order (cloid first, then oid), decides the
trigger in plain Python (partial or complete fill? cancel ack, exchange cancel
or the old leg of a modify?) and fires it through the machine, the only place
state changes. Then it does what the new state needs: bind an oid and finalize
a LIVE order, arm the state's timer, evict a tombstone.

Split by fault: the caller's misuse (cancel an order that cannot be cancelled)
raises :class:`~lifecycle.core.errors.IllegalTransition`; an exchange message that
is illegal for its order's state is remote, so it is recorded as an anomaly,
not applied, and a status query is sent to learn the truth.

Fills move the position exactly once per trade id, known order or not
(:class:`~lifecycle.engine.ledger.FillLedger`).

A wrong argument type (``side="buy"``, ``price=100.5``, ``Engine("config.yaml")``)
raises a ``TypeError`` naming the argument before anything changes: one class
comparison per argument, messages in :mod:`lifecycle.engine.arguments`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from lifecycle.config import LifecycleConfig
from lifecycle.core.anomalies import AnomalyKind, AnomalyLog
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import IllegalTransition, TimeWentBackwards, UnknownOrder
from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.machine import OrderMachine
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.timers import StateTimers
from lifecycle.engine.arguments import as_cloid, check_order_arguments, config_error, shown
from lifecycle.engine.interpret import Interpreter
from lifecycle.engine.ledger import FillLedger
from lifecycle.engine.registry import OrderRegistry
from lifecycle.policy.pricing import AssetRules
from lifecycle.policy.reconciler import Book, Ladder, Plan, Reconciler
from lifecycle.policy.safety_sync import OpenOrdersSnapshot, SafetySync, SyncReport

__all__ = ["Engine", "OutboxState"]

log = logging.getLogger("lifecycle.engine")

S = OrderState
T = Trigger

# Members used on the hot paths, bound once (a global lookup each, not two lookups).
_PENDING = S.PENDING
_SUBMIT = T.SUBMIT
_CANCEL_REQUEST = T.CANCEL_REQUEST


class OutboxState(NamedTuple):
    """What an engine holds until its next drain (:meth:`Engine.outbox_state`)."""

    #: The queued commands, oldest first.
    commands: tuple[Command, ...]
    #: ``id()`` of each order whose status query is queued in this drain.
    queried: frozenset[int]
    #: Whether an open-orders snapshot request is queued in this drain.
    sync_requested: bool


class Engine:
    """Tracks every order of one account and market as a state machine.

    Args:
        config: Durations and policies; the defaults of ``config.yaml`` if None.
        cloids: Makes client order ids; by default a factory on
            ``config.orders.namespace`` with run id 0.
        verify: Fire every trigger through the ``transitions`` machine of record
            as well, raising on any disagreement with the table (tests).
    """

    def __init__(
        self,
        config: LifecycleConfig | None = None,
        *,
        cloids: CloidFactory | None = None,
        verify: bool = False,
    ) -> None:
        if config is not None and not isinstance(config, LifecycleConfig):
            raise TypeError(config_error(config))
        if cloids is not None and not isinstance(cloids, CloidFactory):
            raise TypeError(f"Engine(cloids=...) takes a CloidFactory, got {shown(cloids)}")
        self.config = config if config is not None else LifecycleConfig()
        orders = self.config.orders
        self.cloids = cloids if cloids is not None else CloidFactory(orders.namespace)
        self.timers = StateTimers(
            {
                S.FINALIZED_PROTECTED: orders.protection_s,
                S.EXPECTED: orders.expected_ttl_s,
                S.CANCELLING: orders.cancel_timeout_s,
                S.MODIFYING: orders.cancel_timeout_s,
                S.ORPHAN_CANDIDATE: orders.orphan_grace_s,
                S.GONE: orders.tombstone_s,
            }
        )
        self.machine = OrderMachine(
            history_limit=orders.history_limit, verify=verify, timers=self.timers
        )
        self.registry = OrderRegistry()
        self.ledger = FillLedger(orders.fill_dedup_capacity, orders.fill_memory_s)
        self.anomalies = AnomalyLog()
        self._outbox: list[Command] = []
        self._queried: set[int] = set()
        self._sync_requested = False
        self._now = float("-inf")
        self._fire = self.machine.fire
        self._cloid_get = self.registry.by_cloid
        self._new_order = Order._placed
        self._interpreter = Interpreter(self)
        self._handlers = self._interpreter.handlers
        #: The safety sync applying open-orders snapshots (:meth:`handle_snapshot`).
        self.sync = SafetySync(self)
        #: The reconciler turning target ladders into requests (:meth:`set_targets`).
        self.reconciler = Reconciler(
            self.config.reconciler, AssetRules.perp(self.config.market.sz_decimals)
        )
        timer_actions: dict[OrderState, Callable[[Order, float], None] | Trigger] = {
            S.FINALIZED_PROTECTED: T.PROTECTION_ELAPSED,
            S.EXPECTED: self._query_and_rearm,
            S.CANCELLING: self._query_and_rearm,
            S.MODIFYING: self._query_and_rearm,
            S.ORPHAN_CANDIDATE: T.GRACE_ELAPSED,
            S.GONE: self._evict,
        }
        self._run_due = self.timers.runner(timer_actions, self._fire)

    # --- reading ---------------------------------------------------------------------

    @property
    def position(self) -> Decimal:
        """Signed position from every distinct fill (buys positive)."""
        return self.ledger.position

    @property
    def now(self) -> float:
        """The latest time the engine was given."""
        return self._now

    def parked_fills(self) -> dict[Oid, tuple[OrderFilled, ...]]:
        """Fills counted for an oid that names no order yet, kept until it does (a copy)."""
        return self._interpreter.parked()

    def outbox_state(self) -> OutboxState:
        """The commands queued for the next drain, and what this drain already asked."""
        return OutboxState(tuple(self._outbox), frozenset(self._queried), self._sync_requested)

    def order(self, key: Cloid | Oid) -> Order:
        """Return the order named by a cloid or an oid (a tombstone included).

        Raises:
            UnknownOrder: No such order (never known, or evicted).
        """
        return self.registry.get(key)

    def counters(self) -> dict[str, int]:
        """Counters for metrics: orders by state, fills, duplicates, anomalies by kind,
        the safety sync's counters prefixed ``sync_`` and the reconciler's
        prefixed ``reconciler_``."""
        counts: dict[str, int] = {f"orders_{s.value}": 0 for s in OrderState}
        for o in self.registry:
            counts[f"orders_{o.state.value}"] += 1
        counts["fills"] = self.ledger.fills
        counts["duplicate_fills"] = self.ledger.duplicates
        for kind in AnomalyKind:
            counts[f"anomaly_{kind.value}"] = self.anomalies.counts[kind]
        for name, value in self.sync.counters().items():
            counts[f"sync_{name}"] = value
        for name, value in self.reconciler.counters().items():
            counts[f"reconciler_{name}"] = value
        return counts

    # --- local requests ----------------------------------------------------------------

    def place(
        self, side: Side, price: Decimal, size: Decimal, now: float, *, cloid: Cloid | None = None
    ) -> Order:
        """Create an order in PENDING and queue its placement.

        The order moves to EXPECTED when the placement is drained with
        :meth:`commands_to_send` (drained commands count as sent).

        Raises:
            TypeError: ``side`` is not a :class:`~lifecycle.core.order.Side`,
                ``price`` or ``size`` not a ``Decimal``, ``now`` not a number of
                seconds, or ``cloid`` not a cloid (nothing changes).
            ValueError: ``price`` or ``size`` not > 0, or ``cloid`` taken.
        """
        if (side.__class__ is not Side or price.__class__ is not Decimal
                or size.__class__ is not Decimal or now.__class__ is not float):
            check_order_arguments("place", side=side, price=price, size=size, now=now)
        if not now >= self._now:  # NaN is neither: refused too
            self._went_back(now)
        self._now = now
        if cloid is None:
            cloid = self.cloids.next()
        elif cloid.__class__ is not Cloid:
            cloid = as_cloid(cloid)
        order = self._new_order(cloid, side, price, size, now)
        self.registry.add(order)
        self._outbox.append(PlaceOrder(cloid=cloid, side=side, price=price, size=size))
        return order

    def cancel(self, key: Order | Cloid | Oid, now: float) -> Order:
        """Ask for an order to be cancelled.

        A PENDING order is abandoned at once (its placement is never sent) and
        ends GONE(never_placed); any other order moves to CANCELLING and a
        cancel is queued, by oid when known, else by cloid.

        Args:
            key: The order, or its cloid or oid.
            now: The current time.

        Raises:
            UnknownOrder: No such order.
            IllegalTransition: The order cannot be cancelled in its state.
        """
        if not now >= self._now:  # NaN is neither: refused too
            self._went_back(now)
        self._now = now
        if isinstance(key, str):  # a cloid: what _local does for it, without the calls
            order = self._cloid_get(key)
            if order is None:
                raise UnknownOrder(key)
        else:
            order = self._local(key)
        if order.state is _PENDING:
            self._fire(order, T.ABANDON, now)
            return order
        self._fire(order, _CANCEL_REQUEST, now)
        self._outbox.append(CancelOrder(cloid=order.cloid, oid=order.oid))
        return order

    def modify(
        self, key: Order | Cloid | Oid, price: Decimal, size: Decimal, now: float
    ) -> Order:
        """Ask for an order's price and size to change; queue the modify.

        ``size`` is the size to rest after the modify: on Hyperliquid a modify
        replaces the resting order, so once it takes effect the order's total
        ``size`` becomes what had filled plus ``size``. The modify names the
        order by oid when known, else by cloid (an order whose cancel by cloid
        failed before its acknowledgement has no oid).

        Raises:
            TypeError: ``price`` or ``size`` is not a ``Decimal``, or ``now`` not
                a number of seconds (nothing changes).
            ValueError: ``price`` or ``size`` not > 0 (nothing changes).
            UnknownOrder: No such order.
            IllegalTransition: The order cannot be modified in its state.
        """
        if (price.__class__ is not Decimal or size.__class__ is not Decimal
                or now.__class__ is not float):
            check_order_arguments("modify", price=price, size=size, now=now)
        self._advance(now)
        order = self._local(key)
        # Built before the move: the command checks price and size, and a refused
        # one must leave the order as it was.
        command = ModifyOrder(cloid=order.cloid, oid=order.oid, price=price, size=size)
        self._fire(order, T.MODIFY_REQUEST, now)
        order.requested = (price, size)
        self._outbox.append(command)
        return order

    # --- driving ---------------------------------------------------------------------

    def handle(self, event: Any, now: float) -> None:
        """Apply one exchange event (see :mod:`lifecycle.core.events`).

        Never raises for remote inconsistencies: those become anomalies.

        Raises:
            TypeError: ``event`` is not an exchange event.
            TimeWentBackwards: ``now`` is earlier than a previous ``now``.
        """
        if not now >= self._now:  # NaN is neither: refused too
            self._went_back(now)
        self._now = now
        try:
            handler = self._handlers[type(event)]
        except KeyError:
            raise TypeError(f"not an exchange event: {event!r}") from None
        handler(event, now)

    def set_targets(self, ladder: Ladder, book: Book, now: float) -> Plan:
        """Reconcile our working orders with a target ladder (:mod:`~lifecycle.policy.reconciler`).

        Plans places, modifies and cancels against the registry and applies
        them through :meth:`place`, :meth:`modify` and :meth:`cancel`: new
        orders start PENDING, the others move to CANCELLING or MODIFYING. Drain
        the commands with :meth:`commands_to_send`.

        Returns:
            The plan that was applied (``plan.skipped`` says why a cycle did nothing).
        """
        self._advance(now)
        plan = self.reconciler.plan(ladder, self.registry, book, now)
        self.reconciler.apply(plan, self, now)
        return plan

    def handle_snapshot(self, snapshot: OpenOrdersSnapshot, now: float) -> SyncReport:
        """Apply an open-orders snapshot: the safety sync (see :mod:`lifecycle.policy.safety_sync`).

        It acknowledges orders of ours the snapshot shows before their
        placement response, tracks orphans and applies the orphan policy, and
        queries orders missing for long enough. It only asks: commands land in
        the outbox, and only the exchange's answers end orders.

        Raises:
            TimeWentBackwards: ``now`` is earlier than a previous ``now``.
        """
        return self.sync.apply(snapshot, now)

    def on_timer(self, now: float) -> None:
        """Run every timer due at or before ``now``."""
        if not now >= self._now:  # NaN is neither: refused too
            self._went_back(now)
        self._now = now
        self._run_due(now)

    def next_deadline(self) -> float | None:
        """Return when :meth:`on_timer` should next be called, or None."""
        return self.timers.next_deadline()

    def has_commands(self) -> bool:
        """Return whether :meth:`commands_to_send` has anything queued to hand over.

        Queued placements of orders abandoned since count until the drain drops them.
        """
        return bool(self._outbox)

    def commands_to_send(self) -> list[Command]:
        """Drain the outbox. Drained placements count as sent (PENDING -> EXPECTED).

        Placements of orders abandoned before the drain are dropped.
        """
        out = self._outbox
        if not out:
            return out
        self._outbox = []
        if self._queried:
            self._queried.clear()
        self._sync_requested = False
        # Usually every command is sent: hand the drained list over as it is, and
        # copy only from the first dropped placement on.
        sent: list[Command] | None = None
        now = self._now
        get, fire = self._cloid_get, self._fire
        for i, command in enumerate(out):
            if type(command) is PlaceOrder:
                order = get(command.cloid)
                if order is None or order.state is not _PENDING:
                    if sent is None:
                        sent = out[:i]
                    continue
                fire(order, _SUBMIT, now)
            if sent is not None:
                sent.append(command)
        return out if sent is None else sent

    # --- checkpoints (lifecycle.engine.state) -----------------------------------------

    def restore_outbox(self, state: OutboxState) -> None:
        """Replace the outbox with a checkpoint's (:meth:`outbox_state`); nothing fires."""
        self._outbox[:] = state.commands
        self._queried.clear()
        self._queried.update(state.queried)
        self._sync_requested = state.sync_requested

    def restore_parked(self, fills: Mapping[Oid, Iterable[OrderFilled]]) -> None:
        """Park a checkpoint's fills (:meth:`parked_fills`); none may be parked yet.

        Raises:
            ValueError: Fills are parked already.
        """
        self._interpreter.restore_parked(fills)

    def restore_now(self, now: float) -> None:
        """Set the engine's latest time to a checkpoint's (``-inf``: none yet); no timer runs."""
        self._now = now

    # --- internals shared with the interpreter ----------------------------------------

    def move(self, order: Order, trigger: Trigger, now: float) -> OrderState:
        """Fire ``trigger`` through the machine and return the new state.

        Entering a timed state starts its timer (see :class:`~lifecycle.core.timers.StateTimers`).

        Raises:
            IllegalTransition: ``trigger`` is illegal in the order's state.
        """
        return self._fire(order, trigger, now)

    def move_remote(self, order: Order, trigger: Trigger, now: float) -> bool:
        """Fire a trigger caused by an exchange message.

        An illegal one is recorded as an anomaly and answered with a status
        query instead of being raised. Returns whether it fired.
        """
        try:
            self._fire(order, trigger, now)
        except IllegalTransition as exc:
            self.remote_refused(order, exc, now)
            return False
        return True

    def remote_refused(self, order: Order, error: IllegalTransition, now: float) -> None:
        """Handle a trigger caused by an exchange message that the table refused.

        It is recorded as an anomaly and answered with a status query (see
        :meth:`move_remote`, which fires and calls this on refusal).
        """
        self.anomalies.record(AnomalyKind.ILLEGAL_EVENT, now, order.label, str(error))
        self.query(order)

    def query(self, order: Order, *, by_cloid: bool = False) -> None:
        """Queue one status query for ``order`` (at most one per drain).

        With ``by_cloid`` the query names only the cloid, which the exchange
        resolves to the order's latest leg (a modify may have replaced the oid
        we hold).
        """
        if id(order) not in self._queried:
            self._queried.add(id(order))
            oid = None if by_cloid and order.cloid is not None else order.oid
            self._outbox.append(QueryOrderStatus(cloid=order.cloid, oid=oid))

    def request_sync(self, reason: str) -> None:
        """Queue one open-orders snapshot request (at most one per drain)."""
        if not self._sync_requested:
            self._sync_requested = True
            self._outbox.append(FetchOpenOrders(reason=reason))

    def send(self, command: Command) -> None:
        """Queue a command without any transition (re-sends, follow-ups)."""
        self._outbox.append(command)

    def _local(self, key: Order | Cloid | Oid) -> Order:
        if isinstance(key, Order):
            if key not in self.registry:
                raise UnknownOrder(key.label)
            return key
        try:
            return self.registry.get(key)
        except UnknownOrder:
            if isinstance(key, str | int):
                raise
            raise TypeError(
                f"an order is named by an Order, a cloid (str) or an oid (int), "
                f"got {shown(key)}"
            ) from None

    def _advance(self, now: float) -> None:
        if not now >= self._now:  # NaN is neither: refused too
            self._went_back(now)
        self._now = now

    def _went_back(self, now: float) -> None:
        if now != now:
            raise ValueError(f"now must be a time in seconds, got {now!r}")
        raise TimeWentBackwards(f"now={now} is earlier than the previous now={self._now}")

    # --- timer actions ---------------------------------------------------------------

    def _query_and_rearm(self, order: Order, now: float) -> None:
        # An EXPECTED, CANCELLING or MODIFYING order past its timeout is never
        # ended on the timeout alone: ask the exchange and wait for its answer.
        self.query(order)
        self.timers.rearm(order, now)

    def _evict(self, order: Order, now: float) -> None:
        self.registry.remove(order)
