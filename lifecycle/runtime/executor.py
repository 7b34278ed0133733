"""The executor: sends the engine's commands with bounded concurrency, keeps them in
order per order, and retries or resolves what the exchange did not settle.

Theory of operation
-------------------
After every change to the engine, :class:`Executor` drains
:meth:`Engine.commands_to_send <lifecycle.engine.facade.Engine.commands_to_send>`
(a ``FetchOpenOrders`` is handed to the safety sync instead) and sends, per
round, at most one place batch, one cancel batch and one modify batch (status
queries one by one), each as its own task under a capacity limiter
(:attr:`RuntimeConfig.max_in_flight <lifecycle.runtime.config.RuntimeConfig.max_in_flight>`)
and the rolling weight budget (:class:`~lifecycle.runtime.ratelimit.WeightBudget`).

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

Before a placement or a modify goes, the request policies
(:class:`~lifecycle.runtime.policies.RuntimePolicies`) may hold it: a backoff
after rejected batches or rate-limit refusals, or the headroom gate. A held
command has not been sent: its order stays in its asking state and later
commands for the order wait behind it, until the policies let it go (the
executor wakes when a hold may end) or its order no longer needs it (a cancel
asked meanwhile: the placement is dropped, and the cancel goes). Cancels are
never held: they skip the capacity limiter, and spend from the budget's safety
lane, which the reserve other requests leave free keeps open.

A retry is dropped when its order left the state that needed it (a cancel
whose order is GONE...). After
:attr:`RuntimeConfig.max_attempts <lifecycle.runtime.config.RuntimeConfig.max_attempts>`
the executor gives up and the engine's own timers ask again (``expected_ttl_s``,
``cancel_timeout_s``).

The executor changes the engine only through the callbacks its runtime gives
it (``handle`` for each event of an answer, ``changed`` after each answer), so
the runtime's counters and observer see every change.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

import anyio
import anyio.abc
import msgspec

from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import ExchangeEvent
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Order
from lifecycle.core.states import OrderState
from lifecycle.runtime.adapter import CommandResult, ExchangeAdapter
from lifecycle.runtime.config import RuntimeConfig
from lifecycle.runtime.policies import RuntimePolicies
from lifecycle.runtime.ratelimit import WeightBudget, request_weight
from lifecycle.runtime.stats import RuntimeStats
from lifecycle.runtime.vloop import current_time
from lifecycle.runtime.wakeups import _Wake

if TYPE_CHECKING:
    from lifecycle.engine.facade import Engine

__all__ = ["Executor"]

S = OrderState


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
    #: A request policy held it back at least once.
    gated: bool = False


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


class Executor:
    """Sends the engine's commands (see the module docstring); a collaborator of
    :class:`~lifecycle.runtime.driver.Runtime`, which runs :meth:`run` as one of its
    tasks and sets :attr:`task_group` for the session.

    Args:
        engine: The engine whose commands it sends.
        adapter: The exchange connection.
        config: Concurrency, retry and backoff settings.
        stats: The runtime's counters, which it updates.
        budget: The request-weight budget every request spends from.
        limiter: The runtime's bound on requests in flight (cancels excepted).
        policies: Which placements and modifies may go now; told of every answer.
        handle: Hands one event of an answer to the engine.
        changed: Told after each answer changed the engine.
        want_sync: Asks for a safety sync (the engine queued ``FetchOpenOrders``).
    """

    def __init__(
        self,
        engine: Engine,
        adapter: ExchangeAdapter,
        config: RuntimeConfig,
        stats: RuntimeStats,
        budget: WeightBudget,
        limiter: anyio.Semaphore,
        policies: RuntimePolicies,
        *,
        handle: Callable[[ExchangeEvent, float], None],
        changed: Callable[[float], None],
        want_sync: Callable[[], None],
    ) -> None:
        self.engine = engine
        self.adapter = adapter
        self.config = config
        self.stats = stats
        self.budget = budget
        #: The session's task group, which requests are sent in (None outside a session).
        self.task_group: anyio.abc.TaskGroup | None = None
        self._limiter = limiter
        self.policies = policies
        self._handle = handle
        self._changed = changed
        self._want_sync = want_sync
        self._work = _Wake()
        # The books: keys with an unresolved request, commands held behind
        # them, commands ready for the next round, commands a policy holds
        # back (unsent: their keys stay busy), retries by due time.
        self._busy: set[_Key] = set()
        self._held: dict[_Key, deque[_Item]] = {}
        self._ready: list[_Item] = []
        self._gated: list[_Item] = []
        self._retries: list[tuple[float, int, _Item]] = []
        self._seq = itertools.count()
        self._in_flight = 0

    def notify(self) -> None:
        """The engine changed: look for commands to send at the next round, if there
        may be any (the engine queued some, or a policy holds some back that may go
        now). Retries wake the executor when they fall due."""
        if self._gated or self.engine.has_commands():
            self._work.set()

    def is_busy(self, key: _Key | None) -> bool:
        """Whether a request about the order keyed ``key`` may be on its way (one a
        policy holds back was never sent)."""
        return key in self._busy and all(_key(i.command) != key for i in self._gated)

    def idle(self) -> bool:
        """True when no command is in flight, held, waiting for a retry or ready."""
        return not (self._in_flight or self._busy or self._ready or self._retries)

    async def run(self) -> None:
        """Send a round whenever there is work, a retry falls due or a policy's hold
        may end (the runtime's task)."""
        while True:
            due = self._retries[0][0] if self._retries else None
            if self._gated:
                reopens = self.policies.reopens_at(current_time())
                if reopens is not None and (due is None or reopens < due):
                    due = reopens
            await self._work.wait(due)
            self.dispatch(current_time())

    def dispatch(self, now: float) -> None:
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
        if self._gated:
            gated, self._gated = self._gated, []
            for item in gated:
                if self._still_wanted(item):
                    self._ready.append(self._readdressed(item))
                else:
                    # Never sent: the engine moved on (a cancel asked meanwhile).
                    self.stats.dropped += 1
                    self._release(item.command)
        if not self._ready:
            return
        ready: list[_Item] = []
        for item in self._ready:
            if self.policies.holds(item.command, now):
                if not item.gated:
                    self.stats.gated += 1
                self._gated.append(replace(item, gated=True))
            else:
                ready.append(item)
        self._ready = []
        if not ready:
            return
        cancels = [i for i in ready if isinstance(i.command, CancelOrder)]
        modifies = [i for i in ready if isinstance(i.command, ModifyOrder)]
        places = [i for i in ready if isinstance(i.command, PlaceOrder)]
        queries = [i for i in ready if isinstance(i.command, QueryOrderStatus)]
        assert self.task_group is not None
        for batch in (cancels, modifies, places):
            if batch:
                self._in_flight += 1
                self.task_group.start_soon(self._send, batch)
        for query in queries:
            self._in_flight += 1
            self.task_group.start_soon(self._send, [query])

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
        try:
            if isinstance(first, CancelOrder):
                # Cancels keep the book safe: never behind other requests.
                results = await self._spend_and_call(batch, safety=True)
            else:
                async with self._limiter:
                    results = await self._spend_and_call(batch, safety=False)
            now = current_time()
            for item, result in zip(batch, results, strict=True):
                self._settle(item, result, now)
            self.policies.answered(results, now)
            self._changed(now)
        finally:
            self._in_flight -= 1

    async def _spend_and_call(
        self, batch: list[_Item], *, safety: bool
    ) -> Sequence[CommandResult]:
        first = batch[0].command
        weight = request_weight(first, len(batch))
        self.stats.throttled_s += await self.budget.take(weight, safety=safety)
        self.stats.weight += weight
        self.stats.requests[_kind(first)] += 1
        self.stats.commands += len(batch)
        return await self._call(batch)

    async def _call(self, batch: list[_Item]) -> Sequence[CommandResult]:
        commands = [item.command for item in batch]
        first = commands[0]
        # A batch holds commands of one kind (see dispatch).
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
                return replace(item, command=msgspec.structs.replace(command, oid=order.oid))
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
