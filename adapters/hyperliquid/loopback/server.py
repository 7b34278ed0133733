"""The loopback exchange: one aiohttp server on 127.0.0.1 (``/info``, ``/exchange``, ``/ws``).

Theory of operation
-------------------
:class:`LoopbackExchange` runs on the caller's asyncio loop: :meth:`start`
binds the port and starts the *pump*, a task that moves every sim to the
clock's time (``Ledger.advance``), hands the sims' answers to the requests
awaiting them and their websocket messages to the feed, fires dead man's
switches that are due, cuts the websocket subscribers of an account whose
simulated websocket dropped, and pushes market data that changed. It then
sleeps until the next thing a sim has scheduled (at most a second), or until
a sim schedules something sooner (a new request wakes it).

Time comes from one injectable ``clock`` (seconds since the epoch; the wall
clock by default). The pump sleeps on the loop's clock, so on a virtual-time
loop with a clock that reads that loop's time the whole exchange runs in
virtual time.

HTTP: business answers are HTTP 200 JSON; a body that does not fit is 422
(text ``Failed to deserialize the JSON body into the target type``); over the
IP budget 429; a 5xx the fault profile draws is 502; a timeout it draws is a
connection cut without an answer, at the profile's request timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from aiohttp import web

from lifecycle.core.ids import Oid

from ...simulated import FaultProfile, SimulatedExchange, Truth, profile
from ...simulated.wire import SERVER_ERROR
from .auth import Accounts, NonceBook
from .context import Context, HttpRefusal, Lost
from .exchange import answer_exchange
from .feed import Feed
from .info import answer_info
from .markets import DEFAULT_MARKETS, MarketSpec
from .rules import BAD_JSON, WeightLimiter
from .state import Desk, Ledger

__all__ = ["LoopbackExchange"]

_log = logging.getLogger(__name__)
#: The longest the pump sleeps without looking.
_MAX_NAP_S = 1.0

Answer = Callable[[Context, object], Awaitable[Any]]


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


class LoopbackExchange:
    """A Hyperliquid-compatible exchange on 127.0.0.1, backed by the simulated exchange.

    Args:
        accounts: Account addresses allowed to trade. None given: open mode,
            where every signer that is not an agent is an account of its own.
        agents: Agents (API wallets) approved up front: agent -> account. Agents
            are also approved by the ``approveAgent`` action, signed by the account.
        faults: A fault profile or its name (``none``, ``default``, ``harsh``).
        seed: Seeds the markets and every account's sims.
        markets: The perp markets; asset id = position.
        clock: Seconds since the epoch (the wall clock by default).
        mainnet: Recover signatures as mainnet ones (source ``a``); testnet
            otherwise, as the official SDK signs for any URL but mainnet's.
        host: The address to bind (a loopback address).
        port: The port; 0 takes any free port (see :attr:`url`).
        schedule_cancel_volume: USD an account must have traded before it may
            set a dead man's switch (``scheduleCancel``).

    Raises:
        ValueError: An address is malformed, or an agent names no account.
        KeyError: ``faults`` names no profile.
    """

    def __init__(
        self,
        *,
        accounts: Iterable[str] = (),
        agents: Mapping[str, str] | None = None,
        faults: FaultProfile | str = "none",
        seed: int = 1,
        markets: Sequence[MarketSpec] = DEFAULT_MARKETS,
        clock: Callable[[], float] = time.time,
        mainnet: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
        schedule_cancel_volume: int = 1_000_000,
    ) -> None:
        fault_profile = faults if isinstance(faults, FaultProfile) else profile(faults)
        self._host, self._port = host, port
        self._event = asyncio.Event()
        ledger = Ledger(markets=markets, profile=fault_profile, seed=seed, start=clock(),
                        on_schedule=self._on_schedule)
        self.ctx = Context(
            ledger=ledger, accounts=Accounts(accounts, agents), nonces=NonceBook(),
            limiter=WeightLimiter(fault_profile.ip_weight_per_min), profile=fault_profile,
            mainnet=mainnet, clock=clock, wake=self._event.set,
            schedule_cancel_volume=schedule_cancel_volume,
        )
        self.feed = Feed(self.ctx)
        self._app = web.Application()
        self._app.router.add_post("/info", self._info)
        self._app.router.add_post("/exchange", self._exchange)
        self._app.router.add_get("/ws", self.feed.handle)
        self._runner: web.AppRunner | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self.url = ""

    # --- life -----------------------------------------------------------------------------

    async def start(self) -> str:
        """Bind the port and start serving; return the base URL (``http://HOST:PORT``)."""
        runner = web.AppRunner(self._app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._pump_task = asyncio.create_task(self._pump())
        return self.url

    async def close(self) -> None:
        """Stop serving: close the websockets, cancel what waits, release the port."""
        if self._pump_task is not None:
            self._pump_task.cancel()
            await asyncio.gather(self._pump_task, return_exceptions=True)
            self._pump_task = None
        self.ctx.ledger.cancel_waiters()
        await self.feed.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LoopbackExchange:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- what a test or an operator may do ------------------------------------------------

    def add_account(self, address: str) -> None:
        """Register an account."""
        self.ctx.accounts.add(address)

    def approve_agent(self, agent: str, account: str, name: str = "") -> None:
        """Let ``agent`` sign for ``account``, as an ``approveAgent`` action would."""
        self.ctx.accounts.approve(agent, account, name)

    def fill(self, account: str, oid: int, size: Decimal | None = None) -> None:
        """A taker trades with ``account``'s resting order ``oid`` now (``size``,
        or a random part or all of it); the fill reaches clients as any other.

        Raises:
            KeyError: ``account`` has no order ``oid``.
        """
        found = self.ctx.ledger.order(account.lower(), oid)
        if found is None:
            raise KeyError(f"{account} has no order {oid}")
        desk, order = found
        desk.sim.inject_fill(Oid(order.oid), self.ctx.now(), size)
        self._event.set()

    def truth(self, account: str, coin: str) -> Truth:
        """The simulated exchange's own knowledge of ``account`` on ``coin``.

        Raises:
            KeyError: ``coin`` is not a market of the loopback.
        """
        return self._desk(account, coin).sim.truth

    def simulated(self, account: str, coin: str) -> SimulatedExchange:
        """The simulated exchange behind ``account`` on ``coin`` (created now if new), for a
        driver that injects faults, closes the market or reads its clock; its ids are
        the sim's (see :meth:`hl_oid`, :meth:`hl_tid`).

        Raises:
            KeyError: ``coin`` is not a market of the loopback.
        """
        return self._desk(account, coin).sim

    def hl_oid(self, account: str, coin: str, sim_oid: int) -> int:
        """The oid clients see for an order of :meth:`truth` (whose oids are the sim's),
        so a client's view can be checked with ``lifecycle.adapters.simulated.invariants``.

        Raises:
            KeyError: No such market or order.
        """
        desk = self._desk(account, coin)
        return self.ctx.ledger.hl_oid(desk, Oid(sim_oid))

    def hl_tid(self, account: str, coin: str, sim_tid: int) -> int:
        """The trade id clients see for a fill of :meth:`truth`.

        Raises:
            KeyError: No such market or trade.
        """
        return self.ctx.ledger.fill_row(self._desk(account, coin), sim_tid).tid

    def _desk(self, account: str, coin: str) -> Desk:
        asset = self.ctx.asset_of(coin)
        if asset is None:
            raise KeyError(f"no market {coin!r}")
        return self.ctx.ledger.desk(account.lower(), asset, self.ctx.now())

    def fault_counts(self) -> Counter[str]:
        """The faults the sims produced so far, by kind, over every desk."""
        total: Counter[str] = Counter()
        for desk in self.ctx.ledger.all_desks():
            total.update(desk.sim.fault_counts)
        return total

    # --- HTTP -----------------------------------------------------------------------------

    async def _info(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, answer_info)

    async def _exchange(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, answer_exchange)

    async def _serve(self, request: web.Request, answer: Answer) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw, parse_constant=_no_constants)
        except ValueError:
            return web.Response(status=422, text=BAD_JSON)
        try:
            result = await answer(self.ctx, body)
        except HttpRefusal as exc:
            return web.Response(status=exc.status, text=exc.text)
        except Lost as exc:
            if exc.kind == "server_error":
                return web.Response(status=502, text=SERVER_ERROR)
            transport = request.transport
            if transport is not None:
                transport.abort()  # no answer at all: the client's request times out
            return web.Response(status=504)
        return web.Response(
            text=json.dumps(result, separators=(",", ":")), content_type="application/json"
        )

    # --- the pump -------------------------------------------------------------------------

    def _on_schedule(self, at: float) -> None:
        self._event.set()

    async def _pump(self) -> None:
        ctx, ledger = self.ctx, self.ctx.ledger
        while True:
            try:
                now = ctx.now()
                for desk, message in ledger.advance(now):
                    self.feed.publish(desk, message)
                for desk in ledger.disconnected():
                    assert desk.account is not None
                    self.feed.drop(desk.account)
                self._fire_deadlines(now)
                self.feed.market_tick()
            except Exception as exc:  # a bug must not leave every request hanging
                _log.exception("the loopback's pump failed")
                for desk in ledger.all_desks():
                    for future in desk.waiters.values():
                        if not future.done():
                            future.set_exception(exc)
                    desk.waiters.clear()
            wake_at = ledger.next_time()
            if ctx.deadlines:
                first = min(ctx.deadlines.values()) / 1000
                wake_at = first if wake_at is None else min(wake_at, first)
            delay = _MAX_NAP_S if wake_at is None else min(max(wake_at - ctx.now(), 0.0),
                                                           _MAX_NAP_S)
            self._event.clear()
            if delay <= 0:
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), delay)

    def _fire_deadlines(self, now: float) -> None:
        ctx = self.ctx
        due = [a for a, at in ctx.deadlines.items() if at <= round(now * 1000)]
        for account in due:
            del ctx.deadlines[account]
            ctx.triggers[account] += 1
            for desk in ctx.ledger.desks_of(account):
                desk.sim.inject_scheduled_cancel(max(now, desk.sim.now))
