"""The simulated exchange behind the :class:`~lifecycle.runtime.adapter.ExchangeAdapter` protocol.

:class:`SimulatedAdapter` is the thin async shell a runtime drives. It takes
its clock and its sleep as arguments (``now()`` and ``await sleep(seconds)``),
so it imports no event loop: with a real clock and ``anyio.sleep`` it plays
the model in real time; with a virtual clock whose sleep advances it, an hour
runs in moments.

The waiters (a request awaiting its answer, the reader of :meth:`SimulatedAdapter.events`)
pump the model: at :meth:`SimulatedExchange.next_time` they call
:meth:`SimulatedExchange.advance` and route what is delivered. Without an
alarm, every waiter polls so (sleeping at most ``max_sleep_s``, so a request
submitted meanwhile by another task is not overslept). With an :class:`Alarm`
one waiter at a time watches the model (:meth:`Alarm.watch`): the model is
pumped at each of its happenings and deliveries (at least every
``max_nap_s``), and sooner when the model schedules something sooner (it rings
the alarm: :meth:`SimulatedExchange.listen`); on asyncio these steps are timer
callbacks, and the watching task wakes only when what it waits for has come.
The other waiters wait, with no clock, until a pump routes what they wait
for, or until the watch is handed over to them because the watcher has what
it waited for. Either way, what is delivered goes to its reader: REST
responses to the tickets awaiting them (answers to requests of another adapter
are dropped), websocket events to :meth:`SimulatedAdapter.events`, reconnect
notices to ``on_reconnect``. The fills a (re)subscription replays are skipped,
as a real adapter skips ``isSnapshot`` batches (they were delivered before, or
a sync recovers them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import ExchangeEvent
from lifecycle.runtime import (
    CommandResult,
    ExchangeAdapter,
    OpenOrdersSnapshot,
    SnapshotUnavailable,
)

from .exchange import SimulatedExchange
from .wire import Response, WsMessage, WsReconnected

__all__ = ["Alarm", "SimulatedAdapter"]


class Alarm(Protocol):
    """Sleeps and watches that the model can cut short, and waiting by name (an
    event loop's; see ``lifecycle.runtime.Alarm``)."""

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds``, or earlier when :meth:`ring` wakes this sleeper."""
        ...

    def ring(self, at: float) -> None:
        """Something is due at ``at``: wake every sleeper that would sleep past it."""
        ...

    async def wait(self, name: object) -> None:
        """Return when :meth:`wake` names this waiter (ringing does not wake it)."""
        ...

    async def watch(self, at: float, step: Callable[[], float | None]) -> None:
        """Call ``step()`` at ``at``, then at each time it returns (on the clock
        ``now`` reads), until it returns None; a ring for something due sooner
        than the next call brings the call forward."""
        ...

    def wake(self, name: object) -> None:
        """Wake the waiter of that name, if one waits."""
        ...


#: The name the reader of the websocket events waits under (requests wait under their ticket id).
_EVENTS = "events"


class SimulatedAdapter:
    """An :class:`~lifecycle.runtime.adapter.ExchangeAdapter` over a :class:`SimulatedExchange`.

    Args:
        exchange: The model.
        now: Returns the current time, on the model's time scale.
        sleep: Waits that many seconds (``anyio.sleep``, or a virtual clock's).
        max_sleep_s: The longest single wait while something is awaited.
        on_reconnect: Told of every websocket reconnect (order updates of the
            downtime are lost; a runtime requests a sync).
        alarm: Wait without polling: sleep on this alarm, which the model rings
            when it schedules anything (the adapter becomes the exchange's
            listener, :meth:`SimulatedExchange.listen`). Only one adapter per
            exchange can use an alarm at a time.
        max_nap_s: With an alarm, the longest single wait when nothing is due sooner.
    """

    def __init__(
        self,
        exchange: SimulatedExchange,
        *,
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        max_sleep_s: float = 0.05,
        on_reconnect: Callable[[WsReconnected], None] | None = None,
        alarm: Alarm | None = None,
        max_nap_s: float = 1.0,
    ) -> None:
        if max_sleep_s <= 0:
            raise ValueError("max_sleep_s must be > 0")
        if max_nap_s <= 0:
            raise ValueError("max_nap_s must be > 0")
        self._alarm = alarm
        self._max_nap = max_nap_s
        if alarm is not None:
            exchange.listen(alarm.ring)
        self.exchange = exchange
        self._now = now
        self._sleep = sleep
        self._max_sleep = max_sleep_s
        self._on_reconnect = on_reconnect
        self._responses: dict[int, Response] = {}
        self._tickets: set[int] = set()  # requests of this adapter awaiting an answer
        self._events: deque[ExchangeEvent] = deque()
        # With an alarm: whether a waiter watches the model's clock, and the names
        # of the waiters waiting for their turn or their delivery, in arrival order.
        self._watched = False
        self._waiting: dict[object, None] = {}

    async def place(self, orders: Sequence[PlaceOrder]) -> list[CommandResult]:
        """Place a batch; one result per order."""
        return await self._batch(orders)

    async def cancel(self, cancels: Sequence[CancelOrder]) -> list[CommandResult]:
        """Cancel a batch; one result per cancel."""
        return await self._batch(cancels)

    async def modify(self, modifies: Sequence[ModifyOrder]) -> list[CommandResult]:
        """Modify a batch; one result per modify."""
        return await self._batch(modifies)

    async def open_orders(self) -> OpenOrdersSnapshot:
        """Fetch the open orders (they lag placements).

        Raises:
            SnapshotUnavailable: The request was rate limited or its answer lost.
        """
        response = await self._request((FetchOpenOrders(reason="open_orders"),))
        if response.snapshot is None:
            result = response.results[0]
            raise SnapshotUnavailable(result.error, rate_limited=result.rate_limited)
        return response.snapshot

    async def order_status(self, query: QueryOrderStatus) -> CommandResult:
        """Ask what became of one order."""
        return (await self._request((query,))).results[0]

    async def events(self) -> AsyncIterator[ExchangeEvent]:
        """Websocket order updates and fills, in arrival order; never ends (one reader
        at a time)."""
        events = self._events
        while True:
            while events:
                yield events.popleft()
            await self._wait_until(_EVENTS, lambda: bool(events))

    # --- internals --------------------------------------------------------------------

    async def _batch(self, commands: Sequence[Command]) -> list[CommandResult]:
        if not commands:
            return []
        return list((await self._request(tuple(commands))).results)

    async def _request(self, commands: tuple[Command, ...]) -> Response:
        ticket = self.exchange.submit(commands, self._now())
        responses = self._responses
        self._tickets.add(ticket.id)
        try:
            await self._wait_until(ticket.id, lambda: ticket.id in responses)
            return responses.pop(ticket.id)
        finally:
            self._tickets.discard(ticket.id)

    async def _wait_until(self, name: object, ready: Callable[[], bool]) -> None:
        """Pump the model until ``ready()``; with an alarm, watch its clock only
        while no other waiter does, else wait under ``name`` to be woken."""
        alarm = self._alarm
        if alarm is None:
            while not ready():
                await self._sleep(self._delay(self._max_sleep))
                self._pump()
            return
        try:
            while not ready():
                if self._watched:
                    self._waiting[name] = None
                    try:
                        await alarm.wait(name)
                    finally:
                        del self._waiting[name]
                    continue
                self._watched = True
                try:
                    await alarm.watch(self._next_look(), lambda: self._step(ready))
                finally:
                    self._watched = False
        finally:
            if not self._watched and self._waiting:
                # The watch passes to the longest waiter.
                alarm.wake(next(iter(self._waiting)))

    def _step(self, ready: Callable[[], bool]) -> float | None:
        """One step of the watch: pump; None once ``ready()``, else when to look next."""
        self._pump()
        return None if ready() else self._next_look()

    def _next_look(self) -> float:
        """When the watcher looks next: the model's next happening or delivery, at
        most ``max_nap_s`` from now."""
        now = self._now()
        due = self.exchange.next_time()
        latest = now + self._max_nap
        return latest if due is None else min(max(due, now), latest)

    def _delay(self, longest: float) -> float:
        """How long to sleep until the model's next happening or delivery."""
        due = self.exchange.next_time()
        return longest if due is None else min(max(due - self._now(), 0.0), longest)

    def _pump(self) -> None:
        """Move the model to now; route what it delivers, waking the waiters concerned."""
        wake = self._alarm.wake if self._alarm is not None else None
        for item in self.exchange.advance(self._now()):
            if isinstance(item, Response):
                if item.ticket.id in self._tickets:  # not an answer to another client
                    self._responses[item.ticket.id] = item
                    if wake is not None:
                        wake(item.ticket.id)
            elif isinstance(item, WsMessage):
                if not item.snapshot:
                    self._events.append(item.event)
                    if wake is not None:
                        wake(_EVENTS)
            elif self._on_reconnect is not None:
                self._on_reconnect(item)


if TYPE_CHECKING:

    def _conforms(adapter: SimulatedAdapter) -> ExchangeAdapter:
        return adapter  # mypy proves the class satisfies the protocol
