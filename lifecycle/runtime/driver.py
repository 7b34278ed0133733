"""The runtime: drives one engine against one exchange adapter, on anyio.

Theory of operation
-------------------
The engine (:class:`~lifecycle.engine.facade.Engine`) is sans-I/O: it takes events and
the time, and hands back commands and its next deadline. This module is the
only one of the package that performs I/O, sleeps or reads a clock, and it
reads time only through anyio (:func:`anyio.current_time`), so the same code
runs on the real clock and on a virtual one (:class:`VirtualTimeLoop`).

:class:`Runtime` runs one anyio task group with these tasks:

* **events**: the adapter's event stream is copied into a bounded memory object
  stream (:attr:`RuntimeConfig.event_buffer`); a consumer hands each event to
  :meth:`Engine.handle <lifecycle.engine.facade.Engine.handle>`. A full buffer makes the
  producer wait: backpressure instead of unbounded memory.
* **timer**: sleeps until :meth:`Engine.next_deadline
  <lifecycle.engine.facade.Engine.next_deadline>` and calls ``on_timer``; it is woken
  early whenever a change to the engine brings an earlier deadline.
* **safety sync**: every ``sync.interval_s`` (the engine says when the next one
  is due) and on demand (the engine queued ``FetchOpenOrders``, the websocket
  reconnected), fetches the open orders and applies them with
  ``handle_snapshot``. Syncs never overlap, so snapshots arrive in order.
* **fill sync**: when the adapter also offers :class:`FillHistory` (Hyperliquid's
  ``userFillsByTime``), every :attr:`RuntimeConfig.fill_sync_interval_s`, after a
  websocket reconnect and when the engine records ``fills_missing``, the fills
  since the previous fetch are handed to the engine again. The engine counts a
  trade id once, so repeats are harmless and lost websocket fills are recovered.
  A fetch that fails (:class:`~lifecycle.runtime.adapter.FillsUnavailable`) is asked
  again after :attr:`RuntimeConfig.retry_initial_s`, from the same start.
* **executor**: drains :meth:`Engine.commands_to_send
  <lifecycle.engine.facade.Engine.commands_to_send>` after every change and sends, per
  round, at most one place batch, one cancel batch and one modify batch (status
  queries one by one), each as its own task under a capacity limiter
  (:attr:`RuntimeConfig.max_in_flight`) and a rolling weight budget
  (:class:`WeightBudget`, Hyperliquid's IP weights: actions ``1 + n // 40``,
  ``orderStatus`` 2, ``openOrders`` and fill history 20).
* **periodic and scheduled callbacks** (:meth:`Runtime.every`,
  :meth:`Runtime.call_at`): a strategy's quoting loop, fault injection.

Requests keep their order per order: while a request for an order (keyed by
cloid, else oid) is unresolved, later commands for the same order wait, so a
cancel can never overtake the placement it cancels on the wire. A command that
waited goes out naming its order's current oid (a modify answered meanwhile
may have replaced the one it was built with).

Outcomes, as the adapter classifies them (:class:`~lifecycle.runtime.adapter.CommandResult`):

==============  ===================================================================
definitive      every event goes to ``Engine.handle``; the order's next command may go
rate limited    nothing happened: the same command is sent again after a backoff
ambiguous       never a rejection. A cancel is sent again (cancelling twice is safe);
                a placement or a modify is never repeated (a second placement would be
                refused as a duplicate cloid, a second modify would name a replaced
                oid): a status query resolves it. While it stays undecided (no oid
                for the placement; the modify's old oid still the order's) the
                request may still be executing, so later commands for the order
                keep waiting, with backoff: the placement is asked about again
                while EXPECTED, the modify is only watched for the exchange's word
==============  ===================================================================

A retry is dropped when its order left the state that needed it (a cancel
whose order is GONE...). After :attr:`RuntimeConfig.max_attempts` the runtime
gives up and the engine's own timers ask again (``expected_ttl_s``,
``cancel_timeout_s``).

Shutdown (:meth:`Runtime.close`): periodic callbacks stop; with ``cancel_all``
every order of ours that can be cancelled is, again as orders become
cancellable, until none is left or :attr:`RuntimeConfig.shutdown_timeout_s`
passes; then the runtime waits until nothing is in flight (and until an
optional ``settled`` predicate holds), runs final safety syncs (as many as the
engine needs to verify an absence: ``sync.missing_snapshots`` over
``sync.missing_min_s``) and a final fill fetch so the engine ends consistent
with the exchange, waits again, and cancels the task group.

Virtual time and determinism
----------------------------
:class:`VirtualTimeLoop` is an asyncio event loop whose clock is a number that
jumps to the next timer whenever nothing is ready to run (the selector is
polled without blocking and then "waits" by advancing the clock), and that
reads at least a timer's deadline when the timer runs (asyncio would run it up
to a nanosecond early, and a virtual clock would then never move on). With
:func:`run_virtual` an hour of trading against the simulated exchange runs as
fast as the CPU allows, under anyio's asyncio backend.

asyncio runs ready callbacks first in, first out and takes timers from a heap;
nothing in that order depends on wall time, memory addresses or hash seeds, so
the same program and the same seed give the same interleaving, and the same
results, every time, without seeding any scheduler (trio's, with its
``MockClock``, shuffles tasks that wake together). Timers due at one instant
leave the heap in an order its whole history decides, so adding a timer (a
progress display) may change a run: keep the set of timers fixed between runs
meant to agree.
"""

from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import math
import selectors
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, runtime_checkable

import anyio
import anyio.abc

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import ExchangeEvent, OrderFilled
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Order
from lifecycle.core.states import OURS, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.runtime.adapter import (
    CommandResult,
    ExchangeAdapter,
    FillsUnavailable,
    SnapshotUnavailable,
)

if TYPE_CHECKING:
    from lifecycle.engine.facade import Engine

__all__ = [
    "Alarm",
    "FillHistory",
    "Runtime",
    "RuntimeConfig",
    "RuntimeObserver",
    "RuntimeStats",
    "VirtualTimeLoop",
    "WeightBudget",
    "current_time",
    "request_weight",
    "run_virtual",
    "sleep",
]

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
_FILL_SYNC_WEIGHT = 20
_OPEN_ORDERS_WEIGHT = 20


def current_time() -> float:
    """The runtime's clock: :func:`anyio.current_time` (virtual under :func:`run_virtual`).

    On asyncio it reads the running loop's clock directly, which is what
    anyio reads there, without anyio's backend lookup on every call.
    """
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return anyio.current_time()


async def sleep(seconds: float) -> None:
    """Sleep on the runtime's clock (:func:`anyio.sleep`; on asyncio, :func:`asyncio.sleep`
    directly, which is what anyio calls there)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        await anyio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


def request_weight(command: Command, count: int = 1) -> int:
    """Hyperliquid's IP weight of one request carrying ``count`` commands of this kind.

    Actions (place, cancel, modify) weigh ``1 + count // 40``; ``orderStatus``
    2; ``openOrders`` 20.
    """
    if isinstance(command, FetchOpenOrders):
        return _OPEN_ORDERS_WEIGHT
    if isinstance(command, QueryOrderStatus):
        return 2 * count
    return 1 + count // 40


# --- configuration and counters -----------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class RuntimeConfig:
    """How the runtime drives the adapter.

    Attributes:
        event_buffer: Capacity of the memory stream between the adapter's
            event stream and the engine.
        max_in_flight: Requests outstanding at once (batches, queries, syncs).
        weight_per_min: Request weight allowed per rolling minute (Hyperliquid
            allows 1200 per IP); requests wait for budget rather than be refused.
        retry_initial_s: First backoff after a rate-limit refusal or an ambiguous outcome.
        retry_max_s: Longest backoff.
        retry_factor: Growth of the backoff per attempt.
        max_attempts: Attempts per command (the first included) before the
            runtime leaves it to the engine's timers.
        sync_min_gap_s: Least time between two on-demand safety syncs.
        fill_sync_interval_s: Period of the fill-history fetch (adapters offering
            :class:`FillHistory` only).
        fill_sync_overlap_s: How far each fill fetch reaches back before the
            previous one was sent.
        cancel_all_on_shutdown: Cancel every order of ours on :meth:`Runtime.close`.
        shutdown_timeout_s: Bound on the whole shutdown sequence.
    """

    event_buffer: int = 1024
    max_in_flight: int = 8
    weight_per_min: int = 1200
    retry_initial_s: float = 0.5
    retry_max_s: float = 8.0
    retry_factor: float = 2.0
    max_attempts: int = 7
    sync_min_gap_s: float = 1.0
    fill_sync_interval_s: float = 60.0
    fill_sync_overlap_s: float = 5.0
    cancel_all_on_shutdown: bool = True
    shutdown_timeout_s: float = 120.0

    def __post_init__(self) -> None:
        for name in ("event_buffer", "max_in_flight", "weight_per_min", "max_attempts"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in (
            "retry_initial_s", "retry_max_s", "sync_min_gap_s", "fill_sync_interval_s",
            "shutdown_timeout_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.retry_factor < 1:
            raise ValueError(f"retry_factor must be >= 1, got {self.retry_factor}")
        if self.fill_sync_overlap_s < 0:
            raise ValueError(f"fill_sync_overlap_s must be >= 0, got {self.fill_sync_overlap_s}")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        return float(min(self.retry_initial_s * self.retry_factor ** (attempt - 1),
                         self.retry_max_s))


@dataclass(slots=True)
class RuntimeStats:
    """What the runtime did (counters; read them at any time)."""

    #: Requests sent, by kind (``place``, ``cancel``, ``modify``, ``query``,
    #: ``open_orders``, ``fills``).
    requests: Counter[str] = field(default_factory=Counter)
    #: Commands carried by those requests (a batch of n counts n).
    commands: int = 0
    #: Results the adapter classified ambiguous.
    ambiguous: int = 0
    #: Results refused for rate limits (whole requests count once per command).
    rate_limited: int = 0
    #: Commands sent again, or follow-up queries, after a backoff.
    retries: int = 0
    #: Retries and held commands dropped because their order no longer needed
    #: them (a cancel whose order is gone, a modify overtaken by a cancel).
    dropped: int = 0
    #: Commands given up after ``max_attempts`` (left to the engine's timers).
    gave_up: int = 0
    #: Commands that waited for an earlier request about the same order.
    held: int = 0
    #: Events handed to the engine (websocket and REST).
    events: int = 0
    #: Safety syncs applied, and fetches that returned no snapshot.
    syncs: int = 0
    syncs_failed: int = 0
    #: Fill-history fetches, the fills they returned, and fetches that failed.
    fill_syncs: int = 0
    fills_fetched: int = 0
    fill_syncs_failed: int = 0
    #: Websocket reconnects reported by the adapter.
    reconnects: int = 0
    #: Request weight spent, and seconds spent waiting for weight budget.
    weight: int = 0
    throttled_s: float = 0.0


# --- protocols ------------------------------------------------------------------------------


@runtime_checkable
class FillHistory(Protocol):
    """An adapter that can list the account's fills since a time (``userFillsByTime``)."""

    async def fills_since(self, start: float) -> Sequence[OrderFilled]:
        """The account's fills at or after ``start`` (runtime clock), oldest first.

        Raises:
            FillsUnavailable: The request failed or was rate limited; the
                runtime asks again later, from the same start.
        """
        ...


class RuntimeObserver(Protocol):
    """Told what the runtime does to the engine (metrics, simulation referees)."""

    def event_handled(self, event: ExchangeEvent, now: float, fills_applied: int) -> None:
        """``event`` was handled at ``now``; ``fills_applied`` is how many fills moved
        the position while handling it (0 or 1)."""

    def engine_changed(self, now: float) -> None:
        """The engine was changed at ``now`` (events, timers, a snapshot, a request)."""


# --- the weight budget ----------------------------------------------------------------------


class Alarm:
    """A sleep that can be cut short, for waiters that watch a model's clock.

    :meth:`sleep` returns after its delay or as soon as :meth:`ring` is told of
    something due before the sleeper's wake-up time, whichever comes first.
    The simulated exchange's adapter sleeps on one instead of polling, and the
    exchange rings it whenever it schedules something (see
    ``SimulatedAdapter(alarm=...)``).
    """

    __slots__ = ("_event", "_wakes")

    def __init__(self) -> None:
        self._event: anyio.Event | None = None
        # A sleeper's key (its future on asyncio, else a token) -> its wake-up time.
        self._wakes: dict[object, float] = {}

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or until rung for something due sooner."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another anyio backend: a cancel scope does the timing
            await self._sleep_anyio(seconds)
            return
        # On asyncio, a future and a timer handle: a cancel scope per wait costs
        # more than the wait itself on the virtual clock.
        future: asyncio.Future[None] = loop.create_future()
        handle = loop.call_later(seconds, _resolve, future)
        self._wakes[future] = loop.time() + seconds
        try:
            await future
        finally:
            handle.cancel()
            del self._wakes[future]

    async def _sleep_anyio(self, seconds: float) -> None:
        token = object()
        self._wakes[token] = anyio.current_time() + seconds
        if self._event is None:
            self._event = anyio.Event()
        event = self._event
        try:
            with anyio.move_on_after(seconds):
                await event.wait()
        finally:
            del self._wakes[token]

    def ring(self, at: float) -> None:
        """Something is due at ``at``: wake every sleeper if one would sleep past it."""
        wakes = self._wakes
        if not wakes or at >= min(wakes.values()):
            return
        for key in wakes:
            if isinstance(key, asyncio.Future):
                _resolve(key)
        if self._event is not None:
            self._event.set()
            self._event = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class WeightBudget:
    """A rolling one-minute request-weight budget; :meth:`take` waits when it is spent.

    Args:
        per_min: Weight allowed per rolling window.
        window_s: The window (Hyperliquid: one minute).
    """

    def __init__(self, per_min: int, window_s: float = 60.0) -> None:
        if per_min < 1:
            raise ValueError(f"per_min must be >= 1, got {per_min}")
        self.per_min = per_min
        self.window_s = window_s
        self._spent: deque[tuple[float, int]] = deque()
        self._used = 0
        self._lock = anyio.Lock()

    @property
    def used(self) -> int:
        """Weight spent in the current window (as of the last :meth:`take`)."""
        return self._used

    async def take(self, weight: int) -> float:
        """Spend ``weight``, waiting until the window has room; return seconds waited.

        Waiters are served first come, first served, so a heavy request is not
        starved by light ones.
        """
        weight = min(weight, self.per_min)  # a request heavier than the budget still goes
        waited = 0.0
        async with self._lock:
            while True:
                now = current_time()
                spent = self._spent
                while spent and spent[0][0] <= now - self.window_s:
                    self._used -= spent.popleft()[1]
                if self._used + weight <= self.per_min:
                    spent.append((now, weight))
                    self._used += weight
                    return waited
                delay = spent[0][0] + self.window_s - now
                waited += delay
                await anyio.sleep(delay)


# --- the runtime --------------------------------------------------------------------------


class _Why(enum.Enum):
    """Why a command is in the executor's hands."""

    #: Drained from the engine.
    FIRST = "first"
    #: Sent again after a rate-limit refusal, or an ambiguous cancel or query.
    AGAIN = "again"
    #: A status query resolving an ambiguous placement or modify.
    RESOLVE = "resolve"
    #: No request: a check, when due, whether an ambiguous request was decided
    #: meanwhile (its order stays busy until then).
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class _Item:
    """A command on its way, with its attempt number and its reason."""

    command: Command
    attempt: int
    why: _Why
    #: For a RESOLVE query: the ambiguous request it resolves (a place or a modify).
    resolves: type[PlaceOrder] | type[ModifyOrder] | None = None


_Key = Cloid | Oid


def _key(command: Command) -> _Key | None:
    if isinstance(command, FetchOpenOrders):
        return None
    if command.cloid is not None or isinstance(command, PlaceOrder):
        return command.cloid
    return command.oid


def _kind(command: Command) -> str:
    if isinstance(command, PlaceOrder):
        return "place"
    if isinstance(command, CancelOrder):
        return "cancel"
    if isinstance(command, ModifyOrder):
        return "modify"
    if isinstance(command, QueryOrderStatus):
        return "query"
    return "open_orders"


class _Wake:
    """A service task's wake-up call: :meth:`set` by anyone, :meth:`wait` by one task.

    :meth:`wait` returns at once if the call was set since the last wait, else
    when it is set or the deadline passes, and clears it. On asyncio it waits
    on a future with a timer handle: an anyio cancel scope per wait costs more
    than the wait itself on the virtual clock. On another backend an
    :class:`anyio.Event` in a cancel scope does the same.
    """

    __slots__ = ("_event", "_future", "_is_set")

    def __init__(self) -> None:
        self._is_set = False
        self._future: asyncio.Future[None] | None = None
        self._event: anyio.Event | None = None

    def set(self) -> None:
        """Wake the waiter, or let its next :meth:`wait` return at once."""
        self._is_set = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)
        if self._event is not None:
            self._event.set()

    async def wait(self, deadline: float | None) -> None:
        """Wait until set, or until ``deadline`` (runtime clock) if given; then clear."""
        if not self._is_set:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                await self._wait_anyio(deadline)
            else:
                future: asyncio.Future[None] = loop.create_future()
                handle = None if deadline is None else loop.call_at(deadline, _resolve, future)
                self._future = future
                try:
                    await future
                finally:
                    self._future = None
                    if handle is not None:
                        handle.cancel()
        self._is_set = False

    async def _wait_anyio(self, deadline: float | None) -> None:
        event = self._event = anyio.Event()
        try:
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline):
                await event.wait()
        finally:
            self._event = None


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
    """

    def __init__(
        self,
        engine: Engine,
        adapter: ExchangeAdapter,
        config: RuntimeConfig | None = None,
        *,
        observer: RuntimeObserver | None = None,
    ) -> None:
        self.engine = engine
        self.adapter = adapter
        self.config = config if config is not None else RuntimeConfig()
        self.observer = observer
        #: What the runtime did so far.
        self.stats = RuntimeStats()
        #: The request-weight budget every request spends from.
        self.budget = WeightBudget(self.config.weight_per_min)
        self._fills: FillHistory | None = adapter if isinstance(adapter, FillHistory) else None
        self._tg: anyio.abc.TaskGroup | None = None
        self._limiter = anyio.CapacityLimiter(self.config.max_in_flight)
        self._sync_lock = anyio.Lock()
        self._fill_lock = anyio.Lock()
        # Wake-ups of the service tasks.
        self._work = _Wake()
        self._timer_wake = _Wake()
        self._timer_target: float | None = None
        self._sync_wake = _Wake()
        self._sync_wanted = False
        self._fill_wake = _Wake()
        self._fill_wanted = False
        self._fills_from: float | None = None
        self._fills_reach_back: float | None = None
        self._fills_missing_seen = 0
        # The executor's books: keys with an unresolved request, commands held
        # behind them, commands ready for the next round, retries by due time.
        self._busy: set[_Key] = set()
        self._held: dict[_Key, deque[_Item]] = {}
        self._ready: list[_Item] = []
        self._retries: list[tuple[float, int, _Item]] = []
        self._seq = itertools.count()
        self._in_flight = 0
        # Callbacks registered before the session started: (first at, interval, callback).
        self._pending_callbacks: list[tuple[float, float | None, Callable[[float], None]]] = []
        self._scopes: list[anyio.CancelScope] = []
        self._stop = anyio.Event()
        self._stop_cancel_all: bool | None = None
        self._stop_settled: Callable[[], bool] | None = None
        self._closed = False

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
        self._schedule(current_time() if self._tg else -math.inf, interval_s, callback)

    def call_at(self, at: float, callback: Callable[[float], None]) -> None:
        """Call ``callback(now)`` once at ``at`` (runtime clock), unless shut down before."""
        self._schedule(at, None, callback)

    def notify_reconnect(self, down_since: float | None = None) -> None:
        """The adapter's websocket reconnected: updates of the downtime are lost.

        Asks for a safety sync at once and, with a :class:`FillHistory` adapter,
        for the fills since ``down_since``. Safe to call from any task.
        """
        self.stats.reconnects += 1
        self._want_sync()
        if down_since is not None:
            reach = down_since - self.config.fill_sync_overlap_s
            if self._fills_reach_back is None or reach < self._fills_reach_back:
                self._fills_reach_back = reach
        self._want_fills()

    def catch_up(self, since: float) -> None:
        """Ask for a safety sync at once and, with a :class:`FillHistory` adapter,
        for every fill since ``since``: what a bot starting again from its
        journal needs (pass :attr:`RecoveryInfo.first_at
        <lifecycle.journal.writer.RecoveryInfo.first_at>`). Fills the stopped process
        had not received are fetched; repeats move nothing (trade ids). Safe to
        call before the session starts.
        """
        self._want_sync()
        if self._fills_reach_back is None or since < self._fills_reach_back:
            self._fills_reach_back = since
        self._want_fills()

    def idle(self) -> bool:
        """True when no command is in flight, held, waiting for a retry or ready."""
        return not (
            self._in_flight or self._busy or self._ready or self._retries
            or self._sync_lock.locked()
        )

    async def sync_now(self) -> bool:
        """Run one safety sync now; return whether a snapshot was applied."""
        return await self._sync_once()

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

        Leaving the block normally shuts down gracefully (:meth:`close` with its
        defaults, unless it was called inside the block); an exception cancels
        every task at once.
        """
        if self._tg is not None:
            raise RuntimeError("the runtime is already running")
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                self._fills_from = current_time()
                send, receive = anyio.create_memory_object_stream[ExchangeEvent](
                    self.config.event_buffer
                )
                tg.start_soon(self._pump_events, send)
                tg.start_soon(self._consume_events, receive)
                tg.start_soon(self._timer_task)
                tg.start_soon(self._executor_task)
                tg.start_soon(self._sync_task)
                if self._fills is not None:
                    tg.start_soon(self._fill_task)
                pending, self._pending_callbacks = self._pending_callbacks, []
                for at, interval, callback in pending:
                    self._start_callback(max(at, current_time()), interval, callback)
                try:
                    yield self
                    await self.close()
                finally:
                    tg.cancel_scope.cancel()
        finally:
            # Only now: a task woken just before the cancel may still dispatch.
            self._tg = None

    async def close(
        self, *, cancel_all: bool | None = None, settled: Callable[[], bool] | None = None
    ) -> None:
        """Shut down gracefully; the tasks keep running until the session ends.

        Stops periodic and scheduled callbacks; with ``cancel_all`` (default:
        :attr:`RuntimeConfig.cancel_all_on_shutdown`) cancels every order of
        ours until none is left; waits until nothing is in flight and
        ``settled()`` (if given) holds; runs final safety syncs, as many as the
        engine needs to verify an absence (and, with a :class:`FillHistory`
        adapter, a final fill fetch); waits again.
        Everything is bounded by :attr:`RuntimeConfig.shutdown_timeout_s`.
        Calling it again does nothing.
        """
        if self._closed:
            return
        self._closed = True
        for scope in self._scopes:
            scope.cancel()
        if cancel_all is None:
            cancel_all = self.config.cancel_all_on_shutdown
        deadline = current_time() + self.config.shutdown_timeout_s
        if cancel_all:
            while current_time() < deadline and self._cancel_ours():
                await anyio.sleep(_SHUTDOWN_POLL_S)
        await self._quiesce(settled, deadline)
        await self._final_syncs(settled, deadline)
        while not await self._fetch_fills() and current_time() < deadline:
            await anyio.sleep(self.config.retry_initial_s)
        await self._quiesce(settled, deadline)

    # --- changes to the engine ----------------------------------------------------------

    def _changed(self, now: float) -> None:
        """After any change to the engine: send its commands, re-aim the timer."""
        self._work.set()
        deadline = self.engine.next_deadline()
        target = self._timer_target
        if deadline is not None and (target is None or deadline < target):
            self._timer_wake.set()
        missing = self.engine.anomalies.counts[AnomalyKind.FILLS_MISSING]
        if missing != self._fills_missing_seen:
            # The exchange says an order filled beyond the fills we hold: fetch them.
            self._fills_missing_seen = missing
            self._want_fills()
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
        """Cancel every order of ours that can be; return whether any of ours is left.

        An order whose modify is still on its way is left for a later round: its
        cancel would race the cancel-replace, whose replaced leg's ``canceled``
        cannot be told apart from our cancel's.
        """
        now = current_time()
        self._dispatch(now)  # what the engine asked for is on its way: its orders are busy
        left = False
        for order in self.engine.registry:
            if order.state in OURS:
                left = True
                if order.state is S.MODIFYING and order.cloid in self._busy:
                    continue
                if order.state in _CANCELLABLE:
                    self.engine.cancel(order, now)
        self._changed(now)
        return left

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
            if await self._sync_once():
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
            self._dispatch(current_time())
            if self.idle() and (settled is None or settled()):
                return
            await anyio.sleep(_SHUTDOWN_POLL_S)

    # --- callbacks ------------------------------------------------------------------------

    def _schedule(
        self, at: float, interval: float | None, callback: Callable[[float], None]
    ) -> None:
        if self._closed:
            return
        if self._tg is None:
            self._pending_callbacks.append((at, interval, callback))
        else:
            self._start_callback(max(at, current_time()), interval, callback)

    def _start_callback(
        self, at: float, interval: float | None, callback: Callable[[float], None]
    ) -> None:
        assert self._tg is not None
        scope = anyio.CancelScope()
        self._scopes.append(scope)
        self._tg.start_soon(self._callback_task, scope, at, interval, callback)

    async def _callback_task(
        self,
        scope: anyio.CancelScope,
        at: float,
        interval: float | None,
        callback: Callable[[float], None],
    ) -> None:
        with scope:
            while True:
                await anyio.sleep(max(0.0, at - current_time()))
                now = current_time()
                callback(now)
                self._changed(now)
                if interval is None:
                    return
                at += interval

    # --- events -----------------------------------------------------------------------------

    async def _pump_events(
        self, send: anyio.abc.ObjectSendStream[ExchangeEvent]
    ) -> None:
        async with send:
            async for event in self.adapter.events():
                await send.send(event)

    async def _consume_events(
        self, receive: anyio.abc.ObjectReceiveStream[ExchangeEvent]
    ) -> None:
        async with receive:
            async for event in receive:
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

    # --- safety sync ------------------------------------------------------------------------

    def _want_sync(self) -> None:
        self._sync_wanted = True
        self._sync_wake.set()

    async def _sync_task(self) -> None:
        next_at = current_time()
        last_demand = -math.inf
        while True:
            await self._sync_wake.wait(next_at)
            now = current_time()
            if now < next_at:
                if not self._sync_wanted:
                    continue
                gap = last_demand + self.config.sync_min_gap_s - now
                if gap > 0:
                    await anyio.sleep(gap)  # on-demand syncs are spaced out
                last_demand = current_time()
            self._sync_wanted = False
            if await self._sync_once():
                next_at = self.engine.sync.next_sync_at or current_time()
            else:
                next_at = current_time() + self.config.retry_initial_s

    async def _sync_once(self) -> bool:
        async with self._sync_lock, self._limiter:
            self.stats.throttled_s += await self.budget.take(_OPEN_ORDERS_WEIGHT)
            self.stats.weight += _OPEN_ORDERS_WEIGHT
            self.stats.requests["open_orders"] += 1
            try:
                snapshot = await self.adapter.open_orders()
            except SnapshotUnavailable:
                self.stats.syncs_failed += 1
                return False
            now = current_time()
            self.engine.handle_snapshot(snapshot, now)
            self.stats.syncs += 1
            self._changed(now)
            return True

    # --- fill history -----------------------------------------------------------------------

    def _want_fills(self) -> None:
        self._fill_wanted = True
        self._fill_wake.set()

    async def _fill_task(self) -> None:
        interval = self.config.fill_sync_interval_s
        next_at = current_time() + interval
        while True:
            await self._fill_wake.wait(next_at)
            if current_time() < next_at and not self._fill_wanted:
                continue
            self._fill_wanted = False
            if await self._fetch_fills():
                next_at = current_time() + interval
            else:
                next_at = current_time() + self.config.retry_initial_s

    async def _fetch_fills(self) -> bool:
        """Hand the engine every fill since the previous fetch (repeats are harmless).

        Returns whether the fetch was answered (True without a fill history).
        A failed fetch changes nothing: the next one starts where it would have.
        """
        source = self._fills
        if source is None:
            return True
        async with self._fill_lock:
            sent_at = current_time()
            start = min(
                sent_at if self._fills_from is None else self._fills_from,
                math.inf if self._fills_reach_back is None else self._fills_reach_back,
            )
            async with self._limiter:
                self.stats.throttled_s += await self.budget.take(_FILL_SYNC_WEIGHT)
                self.stats.weight += _FILL_SYNC_WEIGHT
                self.stats.requests["fills"] += 1
                try:
                    fills = await source.fills_since(start)
                except FillsUnavailable as exc:
                    self.stats.fill_syncs_failed += 1
                    if exc.rate_limited:
                        self.stats.rate_limited += 1
                    return False
            if self._fills_reach_back is not None and self._fills_reach_back >= start:
                self._fills_reach_back = None  # reached (catch_up may have asked further since)
            now = current_time()
            for fill in fills:
                self._handle(fill, now)
            self.stats.fill_syncs += 1
            self.stats.fills_fetched += len(fills)
            self._changed(now)
            # The next fetch reaches back before this one was sent, so a fill that
            # happened while this one was on its way is not missed.
            self._fills_from = sent_at - self.config.fill_sync_overlap_s
            return True

    # --- the executor ---------------------------------------------------------------------

    async def _executor_task(self) -> None:
        while True:
            due = self._retries[0][0] if self._retries else None
            await self._work.wait(due)
            self._dispatch(current_time())

    def _dispatch(self, now: float) -> None:
        """One round: collect drained commands and due retries, send them in batches."""
        for command in self.engine.commands_to_send():
            if isinstance(command, FetchOpenOrders):
                self._want_sync()
                continue
            self._admit(_Item(command, 1, _Why.FIRST))
        retries = self._retries
        while retries and retries[0][0] <= now:
            item = heapq.heappop(retries)[2]
            if not self._still_wanted(item):
                self.stats.dropped += 1
                self._release(item.command)
            elif item.why is _Why.WAIT or (
                item.resolves is PlaceOrder and self._state_of(item.command) is not S.EXPECTED
            ):
                # Undecided, and not worth a query now (a placement cancelled
                # meanwhile: "not found" would end it although it may still
                # arrive). Keep waiting for the exchange to speak.
                self._again(replace(item, attempt=item.attempt + 1, why=_Why.WAIT), now)
            else:
                self.stats.retries += 1
                self._ready.append(self._readdressed(item))
        if not self._ready:
            return
        ready, self._ready = self._ready, []
        cancels = [i for i in ready if isinstance(i.command, CancelOrder)]
        modifies = [i for i in ready if isinstance(i.command, ModifyOrder)]
        places = [i for i in ready if isinstance(i.command, PlaceOrder)]
        queries = [i for i in ready if isinstance(i.command, QueryOrderStatus)]
        assert self._tg is not None
        for batch in (cancels, modifies, places):
            if batch:
                self._in_flight += 1
                self._tg.start_soon(self._send, batch)
        for query in queries:
            self._in_flight += 1
            self._tg.start_soon(self._send, [query])

    def _admit(self, item: _Item) -> None:
        """Make ``item`` ready, or hold it behind an unresolved request for its order."""
        key = _key(item.command)
        if key is None:
            self._ready.append(item)
        elif key in self._busy:
            self.stats.held += 1
            self._held.setdefault(key, deque()).append(item)
        else:
            self._busy.add(key)
            self._ready.append(item)

    def _release(self, command: Command) -> None:
        """The request for ``command`` is resolved: the next command for its order may go."""
        key = _key(command)
        if key is None:
            return
        queue = self._held.get(key)
        while queue:
            item = queue.popleft()
            if self._still_wanted(item):
                self._ready.append(self._readdressed(item))
                self._work.set()
                break
            # The engine moved on while it waited (a modify overtaken by a cancel).
            self.stats.dropped += 1
        else:
            self._held.pop(key, None)
            self._busy.discard(key)
            return
        if not queue:
            del self._held[key]

    async def _send(self, batch: list[_Item]) -> None:
        first = batch[0].command
        kind = _kind(first)
        weight = request_weight(first, len(batch))
        try:
            async with self._limiter:
                self.stats.throttled_s += await self.budget.take(weight)
                self.stats.weight += weight
                self.stats.requests[kind] += 1
                self.stats.commands += len(batch)
                results = await self._call(batch)
            now = current_time()
            for item, result in zip(batch, results, strict=True):
                self._settle(item, result, now)
            self._changed(now)
        finally:
            self._in_flight -= 1

    async def _call(self, batch: list[_Item]) -> Sequence[CommandResult]:
        commands = [item.command for item in batch]
        first = commands[0]
        # A batch holds commands of one kind (see _dispatch).
        if isinstance(first, PlaceOrder):
            return await self.adapter.place(cast(list[PlaceOrder], commands))
        if isinstance(first, CancelOrder):
            return await self.adapter.cancel(cast(list[CancelOrder], commands))
        if isinstance(first, ModifyOrder):
            return await self.adapter.modify(cast(list[ModifyOrder], commands))
        assert isinstance(first, QueryOrderStatus) and len(commands) == 1
        return [await self.adapter.order_status(first)]

    def _settle(self, item: _Item, result: CommandResult, now: float) -> None:
        """Act on one command's outcome (see the module docstring's table)."""
        command = item.command
        if result.rate_limited:
            self.stats.rate_limited += 1
            self._again(_Item(command, item.attempt + 1, item.why, item.resolves), now)
            return
        if result.ambiguous:
            self.stats.ambiguous += 1
            if isinstance(command, (PlaceOrder, ModifyOrder)):
                oid = command.oid if isinstance(command, ModifyOrder) else None
                query = QueryOrderStatus(cloid=command.cloid, oid=oid)
                self._again(_Item(query, item.attempt + 1, _Why.RESOLVE, type(command)), now)
            else:
                self._again(_Item(command, item.attempt + 1, _Why.AGAIN, item.resolves), now)
            return
        for event in result.events:
            self._handle(event, now)
        if item.why is _Why.RESOLVE and self._unresolved(item):
            # The answer did not settle the ambiguous request (not found yet, or
            # still at its old terms): it may still be executing, so later
            # commands for the order keep waiting. A placement is asked about
            # again (the engine ignores "not found" within expected_ttl_s); a
            # modify is not: one answer showed the order resting at its old
            # terms, and every further query risks a spurious "unknownOid".
            why = _Why.RESOLVE if item.resolves is PlaceOrder else _Why.WAIT
            self._again(_Item(command, item.attempt + 1, why, item.resolves), now)
            return
        self._release(command)

    def _again(self, item: _Item, now: float) -> None:
        if item.attempt > self.config.max_attempts:
            self.stats.gave_up += 1
            self._release(item.command)
            return
        due = now + self.config.backoff(item.attempt - 1)
        heapq.heappush(self._retries, (due, next(self._seq), item))
        self._work.set()

    def _readdressed(self, item: _Item) -> _Item:
        """``item`` naming its order's current oid.

        A command that waited (held behind an earlier request, or for a retry)
        may name an oid that a modify answered meanwhile has replaced; sent as
        it is, a cancel would hit the replaced leg and be told "already
        canceled" while the order rests under its new oid.
        """
        command = item.command
        if isinstance(command, (CancelOrder, ModifyOrder)) and command.oid is not None:
            order = self._order_of(command)
            if order is not None and order.oid is not None and order.oid != command.oid:
                return replace(item, command=replace(command, oid=order.oid))
        return item

    def _state_of(self, command: Command) -> OrderState | None:
        order = self._order_of(command)
        return None if order is None else order.state

    def _order_of(self, command: Command) -> Order | None:
        if isinstance(command, FetchOpenOrders):
            return None
        if isinstance(command, PlaceOrder):
            return self.engine.registry.by_cloid(command.cloid)
        return self.engine.registry.find(command.cloid, command.oid)

    def _unresolved(self, item: _Item) -> bool:
        """Whether the ambiguous request a RESOLVE query is about is still undecided.

        A placement is decided once the exchange gave the order an oid or ended
        it; a modify once it took effect or failed (``Order.requested`` cleared),
        or the order ended. The order's state alone does not say: it may have
        moved on (a cancel asked meanwhile) while the request is still executing.
        """
        command = item.command
        order = self._order_of(command)
        if order is None or order.state is S.GONE:
            return False
        if item.resolves is PlaceOrder:
            return order.oid is None
        # The query names the oid the modify was sent for: once the order rests
        # under another oid, or no modify is pending, that modify is decided.
        return (
            order.requested is not None
            and isinstance(command, QueryOrderStatus)
            and order.oid == command.oid
        )

    def _still_wanted(self, item: _Item) -> bool:
        """Whether a retry still serves its order."""
        command = item.command
        order = self._order_of(command)
        if order is None:
            return False
        if item.why is _Why.RESOLVE or item.why is _Why.WAIT:
            return self._unresolved(item)
        if isinstance(command, PlaceOrder):
            return order.state is S.EXPECTED
        if isinstance(command, CancelOrder):
            return order.state is S.CANCELLING
        if isinstance(command, ModifyOrder):
            return order.state is S.MODIFYING
        return order.state is not S.GONE


# --- the virtual clock ------------------------------------------------------------------


class _VirtualSelector(selectors.BaseSelector):
    """A selector that never blocks on time: it advances its loop's virtual clock instead."""

    #: Busy rounds (callbacks ready) between two polls of the real file descriptors.
    #: Virtual time stands still in a busy round, and every idle round polls, so the
    #: skipped polls delay real I/O by microseconds of wall time and none of virtual time.
    BUSY_POLL_EVERY = 64

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop
        self._busy_rounds = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == 0:
            self._busy_rounds += 1
            if self._busy_rounds < self.BUSY_POLL_EVERY:
                return []
        self._busy_rounds = 0
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # No timer at all: only real I/O (another thread) can wake the loop.
            return self._real.select(None)
        self._loop.advance(timeout)
        return []

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on a virtual clock that jumps to the next timer.

    Whenever no callback is ready, the loop's clock moves straight to the
    earliest timer instead of waiting for it; real file descriptors are still
    polled (without blocking) before the clock moves, and at least every
    :attr:`_VirtualSelector.BUSY_POLL_EVERY` rounds while callbacks keep coming.
    Sleeps cost no real time, and scheduling is asyncio's: first in, first
    out, timers by deadline then scheduling order.

    Args:
        start: The clock's initial reading, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = float(start)
        super().__init__(_VirtualSelector(self))

    def time(self) -> float:
        """The virtual time."""
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the loop does this itself when idle)."""
        if seconds > 0:
            self._virtual_now += seconds

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` at ``when``; the clock reads at least ``when``
        when it runs.

        asyncio runs a timer up to its clock resolution early; on a virtual
        clock that would wake a sleeper before its deadline without time ever
        moving on (a task sleeping the remaining nanosecond again and again).
        """
        return super().call_at(when, self._at, when, callback, *args, context=context)

    def _at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        if when > self._virtual_now:
            self._virtual_now = when
        callback(*args)


def run_virtual(
    main: Callable[[], Awaitable[T]], *, start: float = 0.0
) -> tuple[T, float]:
    """Run ``main`` under anyio on a :class:`VirtualTimeLoop`.

    Returns:
        ``main``'s result and the wall-clock seconds the run took.
    """
    async def entry() -> T:
        return await main()

    began = time.perf_counter()
    result = anyio.run(
        entry, backend="asyncio",
        backend_options={"loop_factory": lambda: VirtualTimeLoop(start)},
    )
    return result, time.perf_counter() - began
