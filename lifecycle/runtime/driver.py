"""The runtime: drives one engine against one exchange adapter, on anyio.

Theory of operation
-------------------
The engine (:class:`~lifecycle.engine.facade.Engine`) is sans-I/O: it takes events and the time, and
hands back commands and its next deadline. This subpackage is the only part of the package that
performs I/O, sleeps or reads a clock, and it reads time only through anyio
(:func:`~lifecycle.runtime.vloop.current_time`), so the same code runs on the real clock and on a
virtual one (:class:`~lifecycle.runtime.vloop.VirtualTimeLoop`).

:class:`Runtime` runs one anyio task group with these tasks, and composes the collaborators
that run some of them:

* **events**: one task reads the adapter's event stream and hands each event to :meth:`Engine.handle
  <lifecycle.engine.facade.Engine.handle>` as it comes. Handling never waits, so the adapter is
  asked for the next event only once the previous one is handled: what arrives meanwhile stays in
  the adapter's own buffer (backpressure without a second buffer, nor a task to fill it).
* **timer**: sleeps until :meth:`Engine.next_deadline
  <lifecycle.engine.facade.Engine.next_deadline>` and calls ``on_timer``; it is woken early whenever
  a change to the engine brings an earlier deadline.
* **safety sync** (:class:`~lifecycle.runtime.snapshots.SnapshotSync`): every ``sync.interval_s``
  and on demand, fetches the open orders and applies them with ``handle_snapshot``; syncs never
  overlap.
* **fill sync** (:class:`~lifecycle.runtime.fills.FillSync`, adapters offering
  :class:`~lifecycle.runtime.fills.FillHistory` only): periodically, after a reconnect and when the
  engine records ``fills_missing``, hands the engine the fills since the previous fetch again (a
  trade id counts once).
* **executor** (:class:`~lifecycle.runtime.executor.Executor`): drains
  :meth:`Engine.commands_to_send <lifecycle.engine.facade.Engine.commands_to_send>` after every
  change and sends it in batches under a capacity limiter and the weight budget, in order per order,
  retrying or resolving what the exchange left unsettled.
* **headroom** (:class:`~lifecycle.runtime.headroom.HeadroomSync`, adapters offering
  :class:`~lifecycle.runtime.adapter.HeadroomSource` only): reads the account's request headroom
  every ``runtime.headroom_refresh_s``.
* **periodic and scheduled callbacks** (:class:`~lifecycle.runtime.callbacks.Callbacks`, via
  :meth:`Runtime.every` and :meth:`Runtime.call_at`): a strategy's quoting loop, fault injection.

The executor consults the request policies (:attr:`Runtime.policies`, the configuration's
``runtime`` section): backoffs after rejected batches and rate-limit refusals, and the headroom
gate, hold new placements and modifies, never cancels; cancels also spend a reserve of the weight
budget that other requests leave free. A strategy asks :meth:`Runtime.may_place` and
:meth:`Runtime.try_recovery` before planning new quotes.

Every change to the engine, by any task, goes through the runtime's ``_handle`` (events: the
counters and the observer hear of them) and ``_changed`` (the adapter's anomalies, if it reports
any, recorded; the executor is told there is work, the timer re-aimed, a moved ``fills_missing``
count asks for a fill fetch, the observer told).

Shutdown (:meth:`Runtime.close`): periodic callbacks stop; with ``cancel_all`` every order ours to
cancel is cancelled, again as orders become cancellable, until none is left or
:attr:`RuntimeConfig.shutdown_timeout_s` passes, then the book is swept (below); the runtime waits
until nothing is in flight (and an optional ``settled`` predicate holds), runs final safety syncs
(as many as the engine needs to verify an absence: ``sync.missing_snapshots`` over
``sync.missing_min_s``) and a final fill fetch so the engine ends consistent with the exchange,
waits again, and cancels the task group.

**Ours to cancel**: a listed order of our coin, whatever its local state (tracked, orphan candidate
in its grace, aged orphan, or new to the engine: the snapshot makes it a candidate, cancelled by
oid), whose cloid carries our namespace, **or** any listed order when ``orders.orphan_policy`` is
not ``ignore`` (under which foreign orders are left alone). A **sweep** is up to 5 rounds 0.5 s
apart of a snapshot and a cancel of what it lists, until a round finds none of ours left. With
``runtime.startup_cancel_all``, :meth:`Runtime.session` sweeps before it yields (before any
quoting). Survivors are adopted: each is in the engine, CANCELLING or TRACKED (the exchange refused
the cancel), managed by the reconciler whatever the orphan policy; foreign orders under ``ignore``
are left to that policy.

Modules
-------
Each module of :mod:`lifecycle.runtime` owns one thing:

=====================  ================================================================
``driver``             :class:`Runtime`: the task group, the engine's changes, the
                       timer, callbacks, shutdown
``executor``           :class:`~lifecycle.runtime.executor.Executor`: sending commands,
                       order per order, retries and the outcomes table
``policies``           :class:`~lifecycle.runtime.policies.RuntimePolicies`: which
                       command may go now; ``backoff`` and ``headroom`` its parts
``callbacks``          :class:`~lifecycle.runtime.callbacks.Callbacks`: periodic, scheduled calls
``snapshots``          :class:`~lifecycle.runtime.snapshots.SnapshotSync`: the safety
                       sync's open-order fetches
``fills``              :class:`~lifecycle.runtime.fills.FillHistory` and
                       :class:`~lifecycle.runtime.fills.FillSync`: fill recovery
``ratelimit``          request weights and the rolling
                       :class:`~lifecycle.runtime.ratelimit.WeightBudget`
``wakeups``            :class:`~lifecycle.runtime.wakeups.Alarm` and the service
                       tasks' wake-up calls
``vloop``              the clock (``current_time``, ``sleep``) and the virtual-time
                       asyncio loop (``VirtualTimeLoop``, ``run_virtual``)
``config``, ``stats``  :class:`RuntimeConfig`; :class:`RuntimeStats` and :class:`RuntimeObserver`
``adapter``            the adapter protocol, its result types and the anomaly drain
=====================  ================================================================
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import anyio
import anyio.abc

from lifecycle.config import OrphanPolicy
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.events import ExchangeEvent
from lifecycle.core.states import DISCOVERED, OURS, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.runtime.adapter import (
    ExchangeAdapter,
    HeadroomReading,
    HeadroomSource,
    anomaly_drain,
)
from lifecycle.runtime.callbacks import Callbacks
from lifecycle.runtime.config import RuntimeConfig
from lifecycle.runtime.executor import Executor
from lifecycle.runtime.fills import FillHistory, FillSync
from lifecycle.runtime.headroom import HeadroomState, HeadroomSync
from lifecycle.runtime.policies import RuntimePolicies
from lifecycle.runtime.ratelimit import WeightBudget
from lifecycle.runtime.snapshots import SnapshotSync
from lifecycle.runtime.stats import RuntimeObserver, RuntimeStats
from lifecycle.runtime.vloop import current_time
from lifecycle.runtime.wakeups import _Wake

if TYPE_CHECKING:
    from lifecycle.engine.facade import Engine

__all__ = ["Runtime"]

T = TypeVar("T")
S = OrderState

#: Orders of ours the shutdown cancel-all asks to cancel (a PENDING one is abandoned).
_CANCELLABLE: frozenset[OrderState] = frozenset(
    s for (s, t) in TABLE if t in (Trigger.CANCEL_REQUEST, Trigger.ABANDON) and s in OURS
)
#: Orders whose absence from snapshots the safety sync does not count yet.
_TOO_YOUNG: frozenset[OrderState] = frozenset(
    {OrderState.EXPECTED, OrderState.LIVE, OrderState.FINALIZED_PROTECTED}
)
#: How often the shutdown sequence looks at the engine while it waits.
_SHUTDOWN_POLL_S = 0.25
#: The sweep's rounds (snapshot, then cancels) at most, and the time between two.
_SWEEP_ROUNDS, _SWEEP_GAP_S = 5, 0.5


class Runtime:
    """Drives ``engine`` against ``adapter`` (see the module docstring).

    Use :meth:`run` as an anyio service (``await tg.start(runtime.run)``, then
    :meth:`stop`), or :meth:`session` as an async context manager that owns
    the task group. Local requests go through :meth:`request` (or
    :meth:`every`), so the executor learns at once that there is work.

    Args:
        engine: The engine; the runtime is its only driver while running.
        adapter: The exchange connection.
        config: How to drive it.
        observer: Told of every event handled and every change to the engine.
        rng: The seeded generator of the policies' jitter (default: seeded with 0,
            so that runs repeat).
    """

    def __init__(
        self,
        engine: Engine,
        adapter: ExchangeAdapter,
        config: RuntimeConfig | None = None,
        *,
        observer: RuntimeObserver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.adapter = adapter
        self.config = config = config if config is not None else RuntimeConfig()
        self.observer = observer
        #: What the runtime did so far.
        self.stats = RuntimeStats()
        policies = config.policies if config.policies is not None else engine.config.runtime
        #: Which commands may go now: the backoffs and the headroom gate.
        self.policies = RuntimePolicies(policies, rng if rng is not None else random.Random(0))
        #: The request-weight budget every request spends from.
        self.budget = WeightBudget(config.weight_per_min, reserve=config.safety_reserve(policies))
        self._tg: anyio.abc.TaskGroup | None = None
        # This limiter and the collaborators' locks take a free slot without yielding
        # to the event loop (anyio's fast_acquire): a request that need not wait does not.
        limiter = anyio.Semaphore(self.config.max_in_flight, fast_acquire=True)
        # The collaborators share the engine, the counters, the budget and the
        # limiter; they change the engine only through _handle and _changed.
        self._snapshots = SnapshotSync(
            engine, adapter, self.config, self.stats, self.budget, limiter,
            changed=self._changed, refused=self.policies.refused,
        )
        self._fill_sync = FillSync(
            adapter if isinstance(adapter, FillHistory) else None,
            self.config, self.stats, self.budget, limiter,
            handle=self._handle, changed=self._changed, refused=self.policies.refused,
        )
        self._executor = Executor(
            engine, adapter, self.config, self.stats, self.budget, limiter, self.policies,
            handle=self._handle, changed=self._changed, want_sync=self._snapshots.want,
        )
        self._headroom = None if not isinstance(adapter, HeadroomSource) else HeadroomSync(
            adapter, self.policies.headroom, refresh_s=policies.headroom_refresh_s,
            retry_s=config.retry_max_s, stats=self.stats, budget=self.budget, limiter=limiter,
            read=self._executor.notify, refused=self.policies.refused,
        )
        self._timer_wake = _Wake()
        self._timer_target: float | None = None
        self._callbacks = Callbacks(self._changed)
        self._stop = anyio.Event()
        self._stop_cancel_all: bool | None = None
        self._stop_settled: Callable[[], bool] | None = None
        self._closed = False
        self._drain_anomalies = anomaly_drain(adapter, engine.anomalies)

    # --- the public surface ----------------------------------------------------------------

    def now(self) -> float:
        """The current time on the runtime's clock."""
        return current_time()

    def request(self, action: Callable[[Engine, float], T]) -> T:
        """Run a local request (``set_targets``, ``place``, ``cancel``...) on the engine now.

        ``action`` gets the engine and the current time; its commands are sent
        at once. Returns what ``action`` returns.
        """
        now = current_time()
        result = action(self.engine, now)
        self._changed(now)
        return result

    def every(self, interval_s: float, callback: Callable[[float], None]) -> None:
        """Call ``callback(now)`` every ``interval_s`` (first call at once) until shutdown.

        The callback may change the engine (a strategy's quoting cycle); its
        commands are sent after each call.
        """
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self._callbacks.schedule(current_time() if self._tg else -math.inf, interval_s, callback)

    def call_at(self, at: float, callback: Callable[[float], None]) -> None:
        """Call ``callback(now)`` once at ``at`` (runtime clock), unless shut down before."""
        self._callbacks.schedule(at, None, callback)

    def notify_reconnect(self, down_since: float | None = None) -> None:
        """The adapter's websocket reconnected: updates of the downtime are lost.

        Asks for a safety sync at once and, with a :class:`FillHistory` adapter,
        for the fills since ``down_since``. Safe to call from any task.
        """
        self.stats.reconnects += 1
        self._snapshots.want()
        if down_since is not None:
            self._fill_sync.reach_back(down_since - self.config.fill_sync_overlap_s)
        self._fill_sync.want()

    def catch_up(self, since: float) -> None:
        """Ask for a safety sync at once and, with a :class:`FillHistory` adapter,
        for every fill since ``since``: what a bot starting again from its
        journal needs (pass :attr:`RecoveryInfo.first_at
        <lifecycle.journal.RecoveryInfo.first_at>`). Fills the stopped process
        had not received are fetched; repeats move nothing (trade ids). Safe to
        call before the session starts.
        """
        self._snapshots.want()
        self._fill_sync.reach_back(since)
        self._fill_sync.want()

    def idle(self) -> bool:
        """True when no command is in flight, held, waiting for a retry or ready."""
        return self._executor.idle() and not self._snapshots.busy

    def may_place(self, now: float | None = None) -> bool:
        """Whether a new placement would be sent now: no backoff holds placements and
        the account's headroom is not spent. While it is False, placements the
        engine asks for wait in the executor (cancels still go)."""
        return self.policies.may_place(current_time() if now is None else now)

    def try_recovery(self, now: float | None = None) -> bool:
        """Ask, when none of the strategy's orders rests, whether this cycle may place
        at least one level per side: True when placements may go (headroom above
        ``runtime.headroom_min_pct``, or unread) and the previous recovery was
        ``runtime.recovery_cooldown_s`` ago or more. A True answer counts as a recovery.
        """
        return self.policies.try_recovery(current_time() if now is None else now)

    @property
    def headroom_state(self) -> HeadroomState:
        """What the headroom gate knows now (the latest reading, whether it blocks)."""
        return self.policies.headroom_state(current_time())

    def note_headroom(self, reading: HeadroomReading) -> None:
        """Hand the policies a headroom reading obtained elsewhere (safe from any task)."""
        self.policies.headroom_read(reading, current_time())
        self._executor.notify()

    async def sync_now(self) -> bool:
        """Run one safety sync now; return whether a snapshot was applied."""
        return await self._snapshots.once()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until :meth:`stop`, then shut down gracefully (:meth:`close`)."""
        async with self.session():
            task_status.started()
            await self._stop.wait()
            await self.close(cancel_all=self._stop_cancel_all, settled=self._stop_settled)

    def stop(
        self, *, cancel_all: bool | None = None, settled: Callable[[], bool] | None = None
    ) -> None:
        """Ask :meth:`run` to shut down (arguments as for :meth:`close`)."""
        self._stop_cancel_all = cancel_all
        self._stop_settled = settled
        self._stop.set()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[Runtime]:
        """Run the runtime's tasks for the duration of an ``async with`` block.

        Sweeps first with ``runtime.startup_cancel_all`` (module docstring).
        Leaving the block normally shuts down gracefully (:meth:`close` with its
        defaults, unless it was called inside the block); an exception cancels
        every task at once.
        """
        if self._tg is not None:
            raise RuntimeError("the runtime is already running")
        try:
            async with anyio.create_task_group() as tg:
                self._tg = self._executor.task_group = tg
                self._fill_sync.begin(current_time())
                tg.start_soon(self._consume_events)
                tg.start_soon(self._timer_task)
                tg.start_soon(self._executor.run)
                tg.start_soon(self._snapshots.run)
                if self._fill_sync.source is not None:
                    tg.start_soon(self._fill_sync.run)
                if self._headroom is not None:
                    tg.start_soon(self._headroom.run)
                if self.policies.config.startup_cancel_all:
                    await self._sweep(math.inf)
                self._callbacks.begin(tg)
                try:
                    yield self
                    await self.close()
                finally:
                    tg.cancel_scope.cancel()
        finally:
            # Only now: a task woken just before the cancel may still dispatch.
            self._tg = self._executor.task_group = None
            self._callbacks.end()

    async def close(
        self, *, cancel_all: bool | None = None, settled: Callable[[], bool] | None = None
    ) -> None:
        """Shut down gracefully; the tasks keep running until the session ends.

        Stops periodic and scheduled callbacks; with ``cancel_all`` (default:
        :attr:`RuntimeConfig.cancel_all_on_shutdown`) cancels every order ours to cancel
        (module docstring) until none is left, then sweeps; waits until nothing is in flight
        and ``settled()`` (if given) holds; runs final safety syncs, as many as the engine
        needs to verify an absence (and, with a :class:`FillHistory` adapter, a final fill
        fetch); waits again. Everything is bounded by :attr:`RuntimeConfig.shutdown_timeout_s`.
        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        self._callbacks.stop()
        if cancel_all is None:
            cancel_all = self.config.cancel_all_on_shutdown
        deadline = current_time() + self.config.shutdown_timeout_s
        if cancel_all:
            while current_time() < deadline and self._cancel_ours():
                await anyio.sleep(_SHUTDOWN_POLL_S)
            await self._sweep(deadline)
        await self._quiesce(settled, deadline)
        await self._final_syncs(settled, deadline)
        while not await self._fill_sync.fetch() and current_time() < deadline:
            await anyio.sleep(self.config.retry_initial_s)
        await self._quiesce(settled, deadline)

    # --- changes to the engine ----------------------------------------------------------

    def _changed(self, now: float) -> None:
        """After any change: record the adapter's anomalies, send commands, re-aim the timer."""
        self._drain_anomalies()
        self._executor.notify()
        deadline = self.engine.next_deadline()
        target = self._timer_target
        if deadline is not None and (target is None or deadline < target):
            self._timer_wake.set()
        self._fill_sync.missing_reported(self.engine.anomalies.counts[AnomalyKind.FILLS_MISSING])
        if self.observer is not None:
            self.observer.engine_changed(now)

    def _handle(self, event: ExchangeEvent, now: float) -> None:
        ledger = self.engine.ledger
        before = ledger.fills
        self.engine.handle(event, now)
        self.stats.events += 1
        if self.observer is not None:
            self.observer.event_handled(event, now, ledger.fills - before)

    def _cancel_ours(self) -> bool:
        """Cancel what is ours to cancel (module docstring); return whether any is left.

        An order whose modify is still on its way is left for a later round: its
        cancel would race the cancel-replace, whose replaced leg's ``canceled``
        cannot be told apart from our cancel's.
        """
        now = current_time()
        engine = self.engine
        foreign_too = engine.config.orders.orphan_policy is not OrphanPolicy.IGNORE
        # What the engine asked for is on its way: its orders are busy.
        self._executor.dispatch(now)
        left = False
        for order in engine.registry:
            if order.state in DISCOVERED and (foreign_too or engine.cloids.owns(order.cloid)):
                left = True
                engine.cancel(order, now)
            elif order.state in OURS:
                left = True
                if order.state is S.MODIFYING and self._executor.is_busy(order.cloid):
                    continue
                if order.state in _CANCELLABLE:
                    engine.cancel(order, now)
        self._changed(now)
        return left

    async def _sweep(self, deadline: float) -> None:
        """Snapshot, cancel what is ours; again ``_SWEEP_GAP_S`` later until none is left."""
        for round_ in range(_SWEEP_ROUNDS):
            await anyio.sleep(_SWEEP_GAP_S if round_ else 0)
            if current_time() >= deadline or (
                await self._snapshots.once() and not self._cancel_ours()):
                return

    async def _final_syncs(self, settled: Callable[[], bool] | None, deadline: float) -> None:
        """Sync until the engine could verify any absence: ``sync.missing_snapshots``
        applied snapshots spanning ``sync.missing_min_s``, each followed by a quiet spell.

        An order whose end was never reported (a lost ``canceled``) is missing
        from the snapshots; the engine asks about it only after that many of
        them, and only the answer ends it.
        """
        sync = self.engine.config.sync
        first: float | None = None
        applied = 0
        while current_time() < deadline:
            if any(o.state in _TOO_YOUNG for o in self.engine.registry):
                # Absences of these do not count yet: start counting when they do.
                first, applied = None, 0
            if await self._snapshots.once():
                applied += 1
                if first is None:
                    first = current_time()
            await self._quiesce(settled, deadline)
            now = current_time()
            if first is not None and applied >= sync.missing_snapshots and (
                now - first >= sync.missing_min_s
            ):
                return
            await anyio.sleep(sync.interval_s)

    async def _quiesce(self, settled: Callable[[], bool] | None, deadline: float) -> None:
        while current_time() < deadline:
            # Commands the engine queued since the executor last ran count too.
            self._executor.dispatch(current_time())
            if self.idle() and (settled is None or settled()):
                return
            await anyio.sleep(_SHUTDOWN_POLL_S)

    # --- events -----------------------------------------------------------------------------

    async def _consume_events(self) -> None:
        async for event in self.adapter.events():
            now = current_time()
            self._handle(event, now)
            self._changed(now)

    # --- timers ---------------------------------------------------------------------------

    async def _timer_task(self) -> None:
        engine = self.engine
        while True:
            deadline = engine.next_deadline()
            self._timer_target = deadline
            await self._timer_wake.wait(deadline)
            now = current_time()
            if deadline is not None and now >= deadline:
                engine.on_timer(now)
                self._changed(now)
