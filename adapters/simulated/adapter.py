"""The simulated exchange behind the :class:`~lifecycle.runtime.adapter.ExchangeAdapter` protocol.

:class:`SimulatedAdapter` is the thin async shell a runtime drives. It takes
its clock and its sleep as arguments (``now()`` and ``await sleep(seconds)``),
so it imports no event loop: with a real clock and ``anyio.sleep`` it plays
the model in real time; with a virtual clock whose sleep advances it, an hour
runs in moments.

Every waiter pumps the model: it sleeps until :meth:`SimulatedExchange.next_time`
(at most ``max_sleep_s``, so a request submitted meanwhile by another task is
not overslept), calls :meth:`SimulatedExchange.advance` and routes what is
delivered. With an :class:`Alarm` (a sleep that can be cut short) the waiters
do not poll: they sleep until the model's next happening or delivery (at most
``max_nap_s``), and the model rings the alarm whenever it schedules something
sooner (:meth:`SimulatedExchange.listen`). Either way, what is delivered goes
to its reader: REST responses to the tickets awaiting them (answers to requests
of another adapter are dropped), websocket events to
:meth:`SimulatedAdapter.events`, reconnect notices to ``on_reconnect``. The
fills a (re)subscription replays are skipped, as a real adapter skips
``isSnapshot`` batches (they were delivered before, or a sync recovers them).
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
    """A sleep that can be cut short (an event loop's; see ``lifecycle.runtime.Alarm``)."""

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds``, or earlier when :meth:`ring` wakes this sleeper."""
        ...

    def ring(self, at: float) -> None:
        """Something is due at ``at``: wake every sleeper that would sleep past it."""
        ...


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
        """Websocket order updates and fills, in arrival order; never ends."""
        while True:
            while self._events:
                yield self._events.popleft()
            await self._wait()

    # --- internals --------------------------------------------------------------------

    async def _batch(self, commands: Sequence[Command]) -> list[CommandResult]:
        if not commands:
            return []
        return list((await self._request(tuple(commands))).results)

    async def _request(self, commands: tuple[Command, ...]) -> Response:
        ticket = self.exchange.submit(commands, self._now())
        self._tickets.add(ticket.id)
        try:
            while ticket.id not in self._responses:
                await self._wait()
            return self._responses.pop(ticket.id)
        finally:
            self._tickets.discard(ticket.id)

    async def _wait(self) -> None:
        due = self.exchange.next_time()
        alarm = self._alarm
        delay = self._max_sleep if alarm is None else self._max_nap
        if due is not None:
            delay = min(max(due - self._now(), 0.0), delay)
        if alarm is None:
            await self._sleep(delay)
        else:
            await alarm.sleep(delay)
        self._pump()

    def _pump(self) -> None:
        for item in self.exchange.advance(self._now()):
            if isinstance(item, Response):
                if item.ticket.id in self._tickets:  # not an answer to another client
                    self._responses[item.ticket.id] = item
            elif isinstance(item, WsMessage):
                if not item.snapshot:
                    self._events.append(item.event)
            elif self._on_reconnect is not None:
                self._on_reconnect(item)


if TYPE_CHECKING:

    def _conforms(adapter: SimulatedAdapter) -> ExchangeAdapter:
        return adapter  # mypy proves the class satisfies the protocol
