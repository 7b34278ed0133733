"""A runtime harness: a whole runtime on the virtual clock against the simulated exchange.

Theory of operation
-------------------
:class:`RuntimeHarness` builds what ``lifecycle simulate`` builds for one life
of its bot, without the quoter: an :class:`~lifecycle.engine.facade.Engine`, a
:class:`~lifecycle.adapters.simulated.SimulatedExchange` (by default a quiet
market, :data:`QUIET_MARKET`, under the ``none`` fault profile: nothing trades,
moves or fails unless the test says so), an adapter over it and a
:class:`~lifecycle.runtime.Runtime` driving both. They run on a
:class:`~lifecycle.runtime.VirtualTimeLoop` that the harness keeps between
calls: the runtime's session is a task on that loop, and each call of the
harness runs the loop just long enough for its step (:meth:`RuntimeHarness.run_for`
runs it for that many virtual seconds). So a synchronous test reads like a
:class:`~lifecycle.testing.Scenario`, while the runtime's own tasks (executor,
timer, safety syncs, event consumer) run between the steps as they do in
production, on virtual time.

The adapter is the simulated one with two additions: it writes every command it
sends, with the virtual time it was sent, to :attr:`RuntimeHarness.sent` and
every answer to :attr:`RuntimeHarness.answers`; and it obeys the refusals a
test scripts with :meth:`RuntimeHarness.refuse_next`, taking them first come
first served, each by the next request of the kind it names:

* ``rate_limit``: HTTP 429 (the IP limit), ``address_limit``: "Too many
  cumulative requests sent ..." (the address limit). Both are answered after a
  REST round trip, definitive and ``rate_limited``; nothing reaches the venue.
* ``timeout`` and ``server_error``: the exchange loses the answer (ambiguous
  at the client's deadline, or a 5xx after the round trip); ``executed`` says
  whether the venue acted anyway
  (:meth:`~lifecycle.adapters.simulated.SimulatedExchange.inject_rest_fault`).
* ``reject``: the venue rejects the next placements (orders, not requests) with
  ``status`` (:meth:`~lifecycle.adapters.simulated.SimulatedExchange.inject_reject`).

Everything else the exchange can do is on :attr:`RuntimeHarness.exchange`
(``inject_fill``, ``inject_exchange_cancel``, ``inject_ws_disconnect``...), at
:attr:`RuntimeHarness.now`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from lifecycle.config import LifecycleConfig
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.ids import Cloid, CloidFactory
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.policy.reconciler import Book, Ladder, Plan
from lifecycle.runtime import (
    Alarm,
    CommandResult,
    OpenOrdersSnapshot,
    Runtime,
    RuntimeConfig,
    RuntimeStats,
    SnapshotUnavailable,
    VirtualTimeLoop,
    current_time,
    sleep,
)
from lifecycle.testing import CloidLike, Levels, Number, ScenarioError, expect_state
from lifecycle.testing.values import book_of, ladder_of, to_decimal

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.simulated import (
        FaultProfile,
        MarketParams,
        SimulatedAdapter,
        SimulatedExchange,
        WsReconnected,
        round_price,
    )
    from adapters.simulated.wire import IP_RATE_LIMITED, address_rate_limited
else:
    from lifecycle.adapters.simulated import (
        FaultProfile,
        MarketParams,
        SimulatedAdapter,
        SimulatedExchange,
        WsReconnected,
        round_price,
    )
    from lifecycle.adapters.simulated.wire import IP_RATE_LIMITED, address_rate_limited

__all__ = ["QUIET_MARKET", "REFUSALS", "REQUESTS", "RuntimeHarness"]

T = TypeVar("T")
_C = TypeVar("_C", bound=Command)

#: A market that never moves and never trades on its own: only what a test does happens.
QUIET_MARKET = MarketParams(takers_per_s=0.0, volatility_bps=0.0, jumps_per_hour=0.0)
#: What :meth:`RuntimeHarness.refuse_next` can script.
REFUSALS = ("rate_limit", "address_limit", "timeout", "server_error", "reject")
#: The exchange's names of the requests a refusal can be aimed at.
REQUESTS = ("order", "cancel", "batchModify", "orderStatus", "openOrders")


@dataclass(slots=True)
class _Refusal:
    kind: str
    request: str | None
    executed: bool


class _ScriptedAdapter(SimulatedAdapter):
    """The simulated adapter, recording what it sends and obeying scripted refusals."""

    def __init__(
        self, exchange: SimulatedExchange, harness: RuntimeHarness, seed: int, **kwargs: Any
    ) -> None:
        super().__init__(exchange, now=current_time, sleep=sleep, **kwargs)
        self._harness = harness
        self._rng = random.Random(f"{seed}/harness-refusals")

    async def place(self, orders: Sequence[PlaceOrder]) -> list[CommandResult]:
        """Place a batch (recorded; a scripted refusal may answer it)."""
        return await self._send("order", orders, super().place)

    async def cancel(self, cancels: Sequence[CancelOrder]) -> list[CommandResult]:
        """Cancel a batch (recorded; a scripted refusal may answer it)."""
        return await self._send("cancel", cancels, super().cancel)

    async def modify(self, modifies: Sequence[ModifyOrder]) -> list[CommandResult]:
        """Modify a batch (recorded; a scripted refusal may answer it)."""
        return await self._send("batchModify", modifies, super().modify)

    async def order_status(self, query: QueryOrderStatus) -> CommandResult:
        """Ask what became of one order (recorded; a scripted refusal may answer it)."""

        async def one(queries: Sequence[QueryOrderStatus]) -> list[CommandResult]:
            return [await SimulatedAdapter.order_status(self, queries[0])]

        return (await self._send("orderStatus", (query,), one))[0]

    async def open_orders(self) -> OpenOrdersSnapshot:
        """Fetch the open orders (recorded; a scripted refusal may answer it)."""
        fetch = FetchOpenOrders(reason="open_orders")
        snapshots: list[OpenOrdersSnapshot] = []

        async def one(_: Sequence[FetchOpenOrders]) -> list[CommandResult]:
            try:
                snapshots.append(await SimulatedAdapter.open_orders(self))
            except SnapshotUnavailable as exc:
                return [CommandResult(command=fetch, events=(), ambiguous=not exc.rate_limited,
                                      error=exc.error, rate_limited=exc.rate_limited)]
            return [CommandResult(command=fetch, events=(), ambiguous=False)]

        (result,) = await self._send("openOrders", (fetch,), one)
        if not snapshots:
            raise SnapshotUnavailable(result.error, rate_limited=result.rate_limited)
        return snapshots[0]

    async def _send(
        self,
        request: str,
        commands: Sequence[_C],
        send: Callable[[Sequence[_C]], Awaitable[list[CommandResult]]],
    ) -> list[CommandResult]:
        harness = self._harness
        harness.sent.extend((current_time(), c) for c in commands)
        refusal = harness._take_refusal(request)
        if refusal is None or refusal.kind in ("timeout", "server_error"):
            if refusal is not None:
                # Forced on the very next submission: `send` submits before it first waits.
                self.exchange.inject_rest_fault(refusal.kind, executed=refusal.executed)
            results = await send(commands)
        else:
            latency = self.exchange.profile.rest_latency
            await sleep(latency.draw(self._rng) + latency.draw(self._rng))
            words = IP_RATE_LIMITED if refusal.kind == "rate_limit" else (
                address_rate_limited(10_001, 10_000, Decimal(0))
            )
            results = [
                CommandResult(command=c, events=(), ambiguous=False, error=words,
                              rate_limited=True)
                for c in commands
            ]
        harness.answers.extend((current_time(), r) for r in results)
        return results


class RuntimeHarness:
    """A runtime on the virtual clock against the simulated exchange (see the module docstring).

    Use it as a context manager, or call :meth:`close` at the end: the
    harness owns an event loop. It runs that loop itself, so it cannot be used
    from inside a running event loop (an ``async`` test).

    Args:
        config: The engine's configuration (defaults if None).
        runtime: How the runtime drives the exchange (defaults if None).
        profile: The exchange's fault profile, or its name (``none``, ``default``, ``harsh``).
        market: The simulated market (default :data:`QUIET_MARKET`).
        seed: Seeds the exchange and the harness's refusal latencies.
        start: The virtual time the run starts at.
        namespace: The bot namespace of the engine's cloids.
        run_id: The run id of those cloids.
        verify: Check every fire against the ``transitions`` machine of record.
    """

    def __init__(
        self,
        config: LifecycleConfig | None = None,
        *,
        runtime: RuntimeConfig | None = None,
        profile: FaultProfile | str = "none",
        market: MarketParams | None = None,
        seed: int = 1,
        start: float = 0.0,
        namespace: str = "harness",
        run_id: int = 1,
        verify: bool = True,
    ) -> None:
        #: Every command the adapter sent, with the virtual time it was sent.
        self.sent: list[tuple[float, Command]] = []
        #: Every answer the adapter returned, with the virtual time it returned it.
        self.answers: list[tuple[float, CommandResult]] = []
        self._refusals: list[_Refusal] = []
        self._loop = VirtualTimeLoop(start)
        #: The simulated exchange (its ``truth`` is what really happened).
        self.exchange = SimulatedExchange(
            seed, profile, market=QUIET_MARKET if market is None else market, start=start
        )
        #: The engine the runtime drives.
        self.engine = Engine(config, cloids=CloidFactory(namespace, run_id), verify=verify)
        self.adapter = _ScriptedAdapter(
            self.exchange, self, seed, on_reconnect=self._reconnected, alarm=Alarm()
        )
        #: The runtime.
        self.runtime = Runtime(self.engine, self.adapter, runtime)
        self._closing = asyncio.Event()
        self._cancel_all = False
        self._closed = False
        self._session = self._loop.create_task(self._serve())
        self._run(self._tick())  # the session's tasks start

    # --- time ----------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The virtual time."""
        return self._loop.time()

    @property
    def stats(self) -> RuntimeStats:
        """What the runtime did so far (requests, retries, refusals...)."""
        return self.runtime.stats

    def run_for(self, seconds: float) -> float:
        """Let the runtime run for ``seconds`` of virtual time; return the new time."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")

        async def wait() -> float:
            await sleep(seconds)
            return current_time()

        return self._run(wait())

    def run_until(
        self, condition: Callable[[], bool], *, timeout_s: float = 60.0, step_s: float = 0.01
    ) -> float:
        """Run until ``condition()`` holds, looking every ``step_s``; return the time it held.

        Raises:
            ScenarioError: It did not hold within ``timeout_s``.
        """
        deadline = self.now + timeout_s
        while not condition():
            if self.now >= deadline:
                raise ScenarioError(f"condition not met within {timeout_s:g} s (at {self.now:g})")
            self.run_for(min(step_s, deadline - self.now))
        return self.now

    # --- the bot's side --------------------------------------------------------------------

    def request(self, action: Callable[[Engine, float], T]) -> T:
        """Run ``action(engine, now)`` through :meth:`Runtime.request`; return its result.

        Its commands go out when the loop next runs (:meth:`run_for`).
        """

        async def call() -> T:
            return self.runtime.request(action)

        return self._run(call())

    def price(self, side: Side, bps: int = 10) -> Decimal:
        """A valid price ``bps`` basis points behind the exchange's touch (never crossing)."""
        bid, ask = self.exchange.bbo()
        szd = self.exchange.market.sz_decimals
        if side is Side.BUY:
            return round_price(bid * (1 - Decimal(bps) / 10_000), szd, rounding=ROUND_FLOOR)
        return round_price(ask * (1 + Decimal(bps) / 10_000), szd, rounding=ROUND_CEILING)

    def place(
        self,
        side: Side = Side.BUY,
        price: Number | None = None,
        size: Number | None = None,
        *,
        cloid: CloidLike | None = None,
    ) -> Order:
        """Place an order through the runtime (sent when the loop next runs).

        ``price`` defaults to :meth:`price` (10 bps behind the touch), ``size``
        to the smallest size worth twice the market's minimum value; ``cloid``
        as for :meth:`Scenario.place <lifecycle.testing.Scenario.place>`.
        """
        px = self.price(side) if price is None else to_decimal(price)
        if size is None:
            market = self.exchange.market
            lot = Decimal(1).scaleb(-market.sz_decimals)
            qty = (market.min_notional * 2 / px).quantize(lot, rounding=ROUND_CEILING)
        else:
            qty = to_decimal(size)
        chosen = None if cloid is None else Cloid(cloid)
        return self.request(lambda e, now: e.place(side, px, qty, now, cloid=chosen))

    def cancel(self, order: Order) -> Order:
        """Ask for ``order`` to be cancelled (sent when the loop next runs)."""
        return self.request(lambda e, now: e.cancel(order, now))

    def modify(self, order: Order, price: Number, size: Number) -> Order:
        """Ask for ``order`` to be modified (sent when the loop next runs)."""
        px, qty = to_decimal(price), to_decimal(size)
        return self.request(lambda e, now: e.modify(order, px, qty, now))

    def cycle(
        self,
        targets: Ladder | tuple[Levels, Levels],
        book: Book | tuple[Number | None, Number | None] | None = None,
    ) -> Plan:
        """One reconcile cycle now (as :meth:`Scenario.cycle <lifecycle.testing.Scenario.cycle>`);
        ``book`` defaults to the exchange's touch now. Sent when the loop next runs."""
        top = book if book is not None else self.exchange.bbo()
        ladder = ladder_of(targets)
        return self.request(lambda e, now: e.set_targets(ladder, book_of(top, now), now))

    # --- the exchange's side ------------------------------------------------------------------

    def refuse_next(
        self,
        kind: str,
        count: int = 1,
        *,
        request: str | None = None,
        executed: bool = False,
        status: str = "perpMarginRejected",
    ) -> None:
        """Script the exchange's refusal of the next ``count`` requests (see the module docstring).

        Args:
            kind: One of :data:`REFUSALS`.
            count: How many requests (for ``reject``: how many placements).
            request: Only requests of this kind (one of :data:`REQUESTS`:
                ``order``, ``cancel``, ``batchModify``, ``orderStatus``,
                ``openOrders``); None for the next request of any kind.
            executed: For ``timeout`` and ``server_error``: the venue acts anyway.
            status: For ``reject``: the exchange's status word.
        """
        if kind not in REFUSALS:
            raise ValueError(f"kind must be one of {REFUSALS}, got {kind!r}")
        if request is not None and request not in REQUESTS:
            raise ValueError(f"request must be one of {REQUESTS} or None, got {request!r}")
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if kind == "reject":
            self.exchange.inject_reject(status, count)
            return
        self._refusals.extend(_Refusal(kind, request, executed) for _ in range(count))

    def fill(self, order: Order, size: Number | None = None) -> None:
        """A taker trades with ``order`` now (``size``, or a random part or all).

        Raises:
            ScenarioError: The order has no oid yet.
        """
        if order.oid is None:
            raise ScenarioError(f"{order.label} has no oid yet: nothing to fill")
        self.exchange.inject_fill(order.oid, self.now, None if size is None else to_decimal(size))

    # --- reading -----------------------------------------------------------------------------

    def sent_of(self, kind: type[_C]) -> list[tuple[float, _C]]:
        """The commands of type ``kind`` sent so far, with the times they were sent."""
        return [(t, c) for t, c in self.sent if isinstance(c, kind)]

    def expect(
        self,
        order: Order,
        state: OrderState,
        *,
        reason: GoneReason | None = None,
        filled: Number | None = None,
    ) -> None:
        """Fail with a clear message unless ``order`` is in ``state``
        (:func:`~lifecycle.testing.expect_state`)."""
        expect_state(order, state, reason=reason, filled=filled)

    # --- the end -------------------------------------------------------------------------------

    def close(self, *, cancel_all: bool = False) -> None:
        """Shut the runtime down (:meth:`Runtime.close`; with ``cancel_all``, every
        order of ours is cancelled first) and close the loop. Calling it again does nothing."""
        if self._closed:
            return
        self._cancel_all = cancel_all
        self._closing.set()
        try:
            self._run(self._finish())
        finally:
            self._closed = True
            self._loop.close()

    def __enter__(self) -> RuntimeHarness:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
            return
        # A failing test: stop at once, without a graceful shutdown.
        self._session.cancel()
        try:
            self._loop.run_until_complete(asyncio.gather(self._session, return_exceptions=True))
        finally:
            self._closed = True
            self._loop.close()

    # --- internals ---------------------------------------------------------------------------

    def _take_refusal(self, request: str) -> _Refusal | None:
        for i, refusal in enumerate(self._refusals):
            if refusal.request is None or refusal.request == request:
                return self._refusals.pop(i)
        return None

    def _reconnected(self, notice: WsReconnected) -> None:
        self.runtime.notify_reconnect(notice.down_since)

    async def _serve(self) -> None:
        async with self.runtime.session():
            await self._closing.wait()
            await self.runtime.close(cancel_all=self._cancel_all)

    async def _finish(self) -> None:
        await self._session

    @staticmethod
    async def _tick() -> None:
        await asyncio.sleep(0)

    def _run(self, step: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            step.close()
            raise RuntimeError("the harness is closed")
        if self._session.done() and not self._closing.is_set():
            step.close()
            self._session.result()  # the runtime failed: raise why
            raise RuntimeError("the runtime's session ended")
        result = self._loop.run_until_complete(step)
        if self._session.done() and not self._closing.is_set():
            self._session.result()
        return result
