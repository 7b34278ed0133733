"""The simulation over Hyperliquid's wire: the real adapter against the loopback exchange.

Theory of operation
-------------------
``lifecycle simulate --adapter hyperliquid-loopback`` runs the bot of
``lifecycle run`` instead of the simulated adapter: a
:class:`~lifecycle.adapters.hyperliquid.loopback.LoopbackExchange` (the run's
fault profile and seed, one account registered) serves ``/info``,
``/exchange`` and ``/ws`` on 127.0.0.1, and the
:class:`~lifecycle.adapters.hyperliquid.adapter.HyperliquidAdapter` talks to
it over real sockets (``httpx`` and a websocket), signing every action with a
fixed test key. Both ends run on the simulation's virtual-time loop
(:mod:`lifecycle.runtime.vloop`, whose "Sockets in virtual time" says why
the clock moves only once every byte sent has been read); the loop's clock
starts at :data:`EPOCH_START`, a Unix time, so the loopback's clock, the
exchange's milliseconds and the signer's nonces are all the loop's clock.

The runtime, quoting cycle and market view are those of ``lifecycle run``
(:func:`~lifecycle.adapters.hyperliquid.run_market.quote_forever` on the
websocket's ``bbo``, ``l2Book`` when it is stale); the run's end, close and
report are :mod:`lifecycle.sim.simulate`'s. The referee reads the account's
simulated exchange behind the loopback, its ids translated to the ones the
client sees (:mod:`lifecycle.sim.hl_truth`).

A restart (``restart_at_s``) is the one of :mod:`lifecycle.sim.simulate`,
over the wire: the first bot is stopped abruptly (its tasks cancelled, its
sockets cut, its journal's buffer lost), the loopback keeps trading through
the downtime (what it sends meanwhile reaches no one, as on Hyperliquid,
which replays nothing), and a second bot (a new HTTP client, websocket,
adapter and runtime) comes back with the engine recovered from the journal
(``restart_from_journal``) or an empty one, does what ``lifecycle run`` does
after a recovery (the immediate-fill credits rebuilt from the engine, a fill
catch-up from the journal's start) and quotes to the end. The signer's nonces
go on from the first bot's: a real restart takes longer than a millisecond.

Not covered here: orders of an earlier run or of someone else resting at the
start (the loopback starts empty).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import httpx

from lifecycle.config import LifecycleConfig
from lifecycle.engine.facade import Engine
from lifecycle.journal import (
    JournaledEngine,
)
from lifecycle.runtime import Runtime, RuntimeStats, clock, current_time
from lifecycle.sim.bot import _merged, _runtime_config, _Stopped
from lifecycle.sim.hl_truth import HlVenue, applied_in_trade_ids
from lifecycle.sim.lives import come_back, crash, first_engine
from lifecycle.sim.referee import _Referee
from lifecycle.sim.report import RestartInfo, SimulationReport, _report
from lifecycle.sim.spec import ScheduledFault, SimulationSpec

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.hyperliquid.adapter import HyperliquidAdapter
    from adapters.hyperliquid.loopback import DEFAULT_MARKETS, LoopbackExchange, MarketSpec
    from adapters.hyperliquid.nonces import NonceSource
    from adapters.hyperliquid.rest import L1ActionSigner, RestClient
    from adapters.hyperliquid.run_market import Touch, quote_forever
    from adapters.hyperliquid.run_session import (
        after_restart,
        backoff_hook,
        load_asset,
        order_terms,
    )
    from adapters.hyperliquid.signing import Signer
    from adapters.hyperliquid.ws import WsSession, user_subscriptions, ws_url
    from adapters.simulated import FaultProfile, SimulatedExchange
else:
    from lifecycle.adapters.hyperliquid.adapter import HyperliquidAdapter
    from lifecycle.adapters.hyperliquid.loopback import (
        DEFAULT_MARKETS,
        LoopbackExchange,
        MarketSpec,
    )
    from lifecycle.adapters.hyperliquid.nonces import NonceSource
    from lifecycle.adapters.hyperliquid.rest import L1ActionSigner, RestClient
    from lifecycle.adapters.hyperliquid.run_market import Touch, quote_forever
    from lifecycle.adapters.hyperliquid.run_session import (
        after_restart,
        backoff_hook,
        load_asset,
        order_terms,
    )
    from lifecycle.adapters.hyperliquid.signing import Signer
    from lifecycle.adapters.hyperliquid.ws import WsSession, user_subscriptions, ws_url
    from lifecycle.adapters.simulated import FaultProfile, SimulatedExchange

__all__ = ["simulate_on_loopback"]

#: A test key (the official SDK's signing tests use it), the loopback's one account.
#: It guards nothing: the loopback trades no money and runs on 127.0.0.1 only.
_TEST_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
#: The HTTP client's timeout: above every profile's request timeout (the loopback
#: cuts a request it "times out" then), so that the loopback decides.
_HTTP_TIMEOUT_S = 30.0
#: The longest wait for the websocket's first subscription (virtual seconds).
_WS_READY_S = 20.0


def _market(spec: SimulationSpec, coin: str) -> MarketSpec:
    if spec.market is not None:
        return MarketSpec(name=coin, max_leverage=40, params=spec.market)
    for market in DEFAULT_MARKETS:
        if market.name == coin:
            return market
    names = ", ".join(m.name for m in DEFAULT_MARKETS)
    raise ValueError(
        f"market.coin {coin!r}: the loopback exchange lists {names} (or give the spec a market)"
    )


async def simulate_on_loopback(
    spec: SimulationSpec,
    journal_dir: Path | None,
    pause: Callable[[float], Awaitable[None]],
    horizon: Callable[[FaultProfile], float],
) -> SimulationReport:
    """Run ``spec`` over the loopback exchange (module docstring) and return its report.

    ``pause(seconds)`` waits on the run's clock or until a stop is requested;
    ``horizon(profile)`` is the longest a message or an answer takes to arrive.
    """
    profile = spec.profile()
    config = spec.config if spec.config is not None else LifecycleConfig()
    coin = config.market.coin
    if ":" in coin or config.market.dex:
        raise ValueError(f"market.coin {coin!r}: the loopback exchange lists no HIP-3 dex")
    market = _market(spec, coin)
    if market.sz_decimals != config.market.sz_decimals:
        raise ValueError(f"market.sz_decimals is {config.market.sz_decimals} but the loopback's "
                         f"{coin} has {market.sz_decimals}")
    now = clock()
    signer = Signer(_TEST_KEY, nonces=NonceSource(lambda: round(now() * 1000)))
    user = signer.address
    loopback = LoopbackExchange(accounts=[user], faults=profile, seed=spec.seed,
                                markets=(market,), clock=now)
    start = current_time()
    url = await loopback.start()
    restart: RestartInfo | None = None
    try:
        sim = loopback.simulated(user, coin)  # the account's desk starts with the market
        venue = HlVenue(loopback, sim, user, coin)
        engine = first_engine(config, journal_dir)
        referee = _Referee(engine, venue)
        engine.machine.add_observer(referee)
        life = _Life(spec, profile, config, url, signer, sim, start, pause)
        if spec.restart_at_s is not None:
            await life.until_crash(engine, referee, spec.restart_at_s)
            stopped = current_time()
            lost = crash(engine, referee, stopped)
            await pause(spec.downtime_s)
            engine, restart = come_back(spec, config, journal_dir, referee, start=start,
                                        stopped=stopped, back=current_time(), lost=lost)
        _, end, interrupted_at = await life.to_the_end(engine, referee, horizon(profile),
                                                       restart)
    finally:
        await loopback.close()
    if isinstance(engine, JournaledEngine):
        engine.close()
    if spec.progress is not None and interrupted_at is None:
        spec.progress(spec.duration_s, spec.duration_s)
    referee.close(end)
    referee.applied = applied_in_trade_ids(venue.truth, referee.applied)
    report = _report(spec, profile, config, engine, venue, _merged(life.stats), referee,
                     end - start)
    report.restart = restart
    if interrupted_at is not None:
        report.interrupted_at_s = interrupted_at
    return report


class _Life:
    """What every life of the bot shares: the run's spec, the loopback and the signer."""

    def __init__(
        self,
        spec: SimulationSpec,
        profile: FaultProfile,
        config: LifecycleConfig,
        url: str,
        signer: Signer,
        sim: SimulatedExchange,
        start: float,
        pause: Callable[[float], Awaitable[None]],
    ) -> None:
        self.spec, self.profile, self.config = spec, profile, config
        self.url, self.signer, self.sim = url, signer, sim
        self.start, self.pause = start, pause
        self.lives = 0
        #: Each life's runtime counters, added up in the report.
        self.stats: list[RuntimeStats] = []

    async def until_crash(self, engine: Engine, referee: _Referee, at_s: float) -> None:
        """Quote until ``at_s`` into the run, then stop abruptly: every task cancelled,
        nothing shut down gracefully, the sockets cut."""
        spec = self.spec
        async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S) as client:
            runtime, session, touch = await self._connect(engine, referee, client,
                                                          faults=(float("-inf"), at_s))
            try:
                async with session:
                    with anyio.fail_after(_WS_READY_S):
                        await session.wait_ready()
                    async with runtime.session(), anyio.create_task_group() as tg:
                        tg.start_soon(quote_forever, runtime, engine, spec.quoter, touch,
                                      spec.quote_interval_s)
                        await self.pause(max(0.0, self.start + at_s - current_time()))
                        raise _Stopped
            except* _Stopped:
                pass

    async def to_the_end(
        self, engine: Engine, referee: _Referee, horizon: float, restart: RestartInfo | None
    ) -> tuple[Runtime, float, float | None]:
        """Connect, quote for the rest of the run, close; return the runtime, the end
        time and when a stop request ended the quoting (None: it ran its course)."""
        spec, sim = self.spec, self.sim
        since = float("-inf") if spec.restart_at_s is None else spec.restart_at_s
        async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S) as client:
            runtime, session, touch = await self._connect(engine, referee, client,
                                                          faults=(since, float("inf")),
                                                          restart=restart)
            interrupted: float | None = None
            async with session:
                with anyio.fail_after(_WS_READY_S):
                    await session.wait_ready()
                async with runtime.session():
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(quote_forever, runtime, engine, spec.quoter, touch,
                                      spec.quote_interval_s)
                        await self.pause(max(0.0, self.start + spec.duration_s - current_time()))
                        if current_time() < self.start + spec.duration_s:
                            interrupted = current_time() - self.start
                        tg.cancel_scope.cancel()
                    sim.close_market(current_time())

                    def settled() -> bool:
                        # As in the simulated run: what the exchange still holds beyond the
                        # longest delivery delay is a closed market's process that does nothing.
                        due = sim.next_time()
                        return due is None or due > current_time() + horizon

                    await runtime.close(cancel_all=spec.cancel_all, settled=settled)
                    end = current_time()
        return runtime, end, interrupted

    async def _connect(
        self,
        engine: Engine,
        referee: _Referee,
        client: httpx.AsyncClient,
        *,
        faults: tuple[float, float],
        restart: RestartInfo | None = None,
    ) -> tuple[Runtime, WsSession, Touch]:
        """One bot's adapter and runtime, as ``lifecycle run`` builds them; after a
        restart, what it does after a recovery too."""
        spec, config = self.spec, self.config
        self.lives += 1
        tag = f"{spec.seed}" if self.lives == 1 else f"{spec.seed}/life{self.lives}"
        rest = RestClient(client, self.url, rng=random.Random(f"{tag}/rest"))
        asset = await load_asset(rest, config.market.coin, "")
        user = self.signer.address
        touch = Touch(rest, asset.name, fresh_s=config.reconciler.book_age_grace_s)
        session = WsSession(
            ws_url(self.url), [*user_subscriptions(user), {"type": "bbo", "coin": asset.name}],
            rng=random.Random(f"{tag}/ws"),
        )
        runtime: Runtime | None = None

        def reconnected(down_since: float) -> None:
            if runtime is not None:
                runtime.notify_reconnect(down_since)

        adapter = HyperliquidAdapter(
            rest, L1ActionSigner(self.signer, is_mainnet=False), asset, user, stream=session,
            on_reconnect=reconnected, on_market=touch.on_market, terms=order_terms(engine),
            now=clock(),
        )
        runtime = Runtime(engine, adapter, _runtime_config(spec, self.profile),
                          observer=referee, rng=random.Random(f"{tag}/runtime"))
        self.stats.append(runtime.stats)
        rest.on_rate_limited = backoff_hook(runtime)
        progress, start = spec.progress, self.start
        # Registered even without a listener, as the simulated bot does: the run must
        # not depend on whether progress is shown.
        runtime.every(
            spec.progress_interval_s,
            lambda t: progress(t - start, spec.duration_s) if progress is not None else None,
        )
        for fault in spec.schedule:
            if faults[0] <= fault.at_s < faults[1]:
                runtime.call_at(start + fault.at_s, _injector(fault, self.sim))
        if restart is not None:
            after_restart(engine, adapter, runtime, current_time())
        return runtime, session, touch


def _injector(fault: ScheduledFault, sim: SimulatedExchange) -> Callable[[float], None]:
    def inject(now: float) -> None:
        fault.inject(sim, now)

    return inject
