"""One ``lifecycle run`` session: connect, recover or start the journal, quote, stop cleanly.

Theory of operation
-------------------
:func:`trade` runs on a loop whose clock is Unix time (:class:`WallClockLoop`),
so the runtime's clock, the journal's times and the exchange's milliseconds
are one clock: a journal recovered after a reboot does not see time go back,
and a fill catch-up's start is the exchange's ``startTime`` as it stands. The
clock never goes backwards (a step of the system clock back holds it still).

In order: the market (``meta``, and ``perpDexs`` plus the dex's ``meta`` for a
HIP-3 coin) gives the asset, whose ``szDecimals`` must be the configuration's;
the engine is recovered from ``--journal`` when a journal is there (the
immediate-fill credits rebuilt from it, a fill catch-up from the journal's
start asked for) or starts a new one; the websocket subscribes to the
account's channels and the coin's ``bbo``; the runtime starts (its first safety
sync at once), the quoter quotes every ``quote_interval_s``, and the dead man's
switch is refreshed when configured.

Stopping (SIGINT, SIGTERM, or ``--duration``): quoting and the switch's
refreshes stop, the runtime cancels every order of ours (not in a dry run,
which has none), waits for the answers, syncs until the engine agrees with the
exchange and fetches the fills one last time; then the switch is cleared, the
websocket closed and the journal flushed and closed.

Failing (an exception out of the session's tasks, i.e. a fault of the tracker's
or its host's, not a setting): one last-resort cancel of every order of ours,
bounded by :data:`LAST_RESORT_S` and shielded from the cancellation under way,
goes straight to the adapter (the engine, the runtime or the journal may be
what failed), by cloid where the order has one; the dead man's switch, when
armed, is left armed as a second net; the exception is logged with its
traceback and a :class:`SessionFault` caused by it is raised
(``lifecycle run`` exits 1).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import anyio
import httpx

from lifecycle.config import LifecycleConfig
from lifecycle.core.commands import CancelOrder, ModifyOrder
from lifecycle.core.ids import CloidFactory
from lifecycle.core.states import DISCOVERED, OURS
from lifecycle.engine import Engine
from lifecycle.journal import FlushMode, FlushPolicy, Journal, JournaledEngine, journal_path
from lifecycle.runtime import Runtime, RuntimeConfig, current_time
from lifecycle.runtime.adapter import CommandResult
from lifecycle.runtime.fills import catch_up_start
from lifecycle.sim.quoter import LadderQuoter

from .actions import OrderTerms
from .adapter import HyperliquidAdapter
from .adapter_credits import credits_from_engine
from .assets import Asset, Universe, canonical_coin, split_coin
from .deadman import DeadMansSwitch
from .errors import HyperliquidError
from .keys import Credentials
from .rest import L1ActionSigner, RestClient, RestOutcome
from .run_market import Touch, quote_forever
from .wire import MetaAnswer, PerpDexInfo, decode
from .ws import WsSession, user_subscriptions, ws_url

__all__ = [
    "JOURNAL_POLICY", "LAST_RESORT_S", "RunError", "SessionFault", "Settings", "WallClockLoop",
    "after_restart", "backoff_hook", "last_resort", "order_terms", "trade",
]

log = logging.getLogger("lifecycle.hyperliquid.run")

#: Every engine call's records are written before it returns (no command goes out
#: before its record); not fsynced: a process crash loses nothing, a power loss may
#: lose the last records.
JOURNAL_POLICY = FlushPolicy(mode=FlushMode.EVERY_RECORD, fsync=False)
#: The longest wait for the websocket's first subscription.
WS_READY_S = 20.0
#: The longest wait for the last-resort cancel after the session failed.
LAST_RESORT_S = 10.0


class SessionFault(Exception):
    """The trading session failed (not a setting); its cause is the original exception.

    Raised after the last-resort cancel was tried and the traceback logged.
    """


class RunError(Exception):
    """A problem the user can fix; its message names the setting, ``status`` is the exit code."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """What :func:`trade` needs, checked by :mod:`.run`."""

    config: LifecycleConfig
    credentials: Credentials
    url: str
    mainnet: bool
    journal: Path
    dry_run: bool = False
    duration_s: float | None = None


class WallClockLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock is Unix time, never going backwards (module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._last = time.time()
        # Near 1.7e9 a float's spacing is ~2.4e-7 s: a finer resolution would let a
        # timer due now round back below the clock and spin.
        resolution: float = getattr(self, "_clock_resolution", 1e-9)
        object.__setattr__(self, "_clock_resolution", max(resolution, 1e-6))

    def time(self) -> float:
        """Unix time in seconds, never less than it read before."""
        now = time.time()
        if now > self._last:
            self._last = now
        return self._last


async def load_asset(rest: RestClient, coin: str, dex: str) -> Asset:
    """The asset ``coin`` names, from ``meta`` (and ``perpDexs`` and the dex's ``meta``).

    Raises:
        HyperliquidError: An answer is missing or unreadable, or the coin is unknown.
    """
    own, _ = split_coin(coin)
    dex = dex or own
    meta = decode(await rest.info({"type": "meta"}), MetaAnswer, "meta")
    if not dex:
        return Universe.from_answers(meta=meta).asset(coin)
    dexs = decode(await rest.info({"type": "perpDexs"}), list[PerpDexInfo | None], "perpDexs")
    dex_meta = decode(await rest.info({"type": "meta", "dex": dex}), MetaAnswer, "meta")
    universe = Universe.from_answers(meta=meta, perp_dexs=dexs, dex_metas={dex: dex_meta})
    return universe.asset(canonical_coin(coin, dex))


#: The file beside the journal naming what it tracks (:func:`check_identity`).
IDENTITY_FILE = "run-identity.json"


def run_identity(settings: Settings) -> dict[str, str]:
    """What a journal of ``lifecycle run`` tracks: which exchange, account and market, and
    whether it is a dry run's."""
    market = settings.config.market
    return {
        "network": "mainnet" if settings.mainnet else "testnet",
        "url": settings.url,
        "account": settings.credentials.query_address.lower(),
        "coin": canonical_coin(market.coin, market.dex),
        # A dry run's journal holds refusals that never met the exchange: never mixed
        # with a real run's.
        "mode": "dry run" if settings.dry_run else "trading",
    }


def check_identity(settings: Settings) -> None:
    """Refuse to recover a journal written for another exchange, account or market.

    A journal's orders and position belong to the exchange, account and coin it was
    written for: recovered against another, its orders would be cancelled with the
    wrong asset (and stay resting) and its position carried over. The identity is
    written beside the journal when it is created.

    Raises:
        RunError: The journal's identity differs (status 2, naming both values), or
            its identity file is missing or unreadable.
    """
    path = settings.journal / IDENTITY_FILE
    try:
        written = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(
            f"--journal {settings.journal}: cannot tell what the journal tracks ({path}: "
            f"{exc}); give a new journal directory"
        ) from None
    wanted = run_identity(settings)
    differs = [
        f"{key} {written.get(key)!r} (journal) vs {value!r} (now)"
        for key, value in wanted.items()
        if written.get(key) != value
    ]
    if differs:
        raise RunError(
            f"--journal {settings.journal} was written for another run: {'; '.join(differs)}; "
            "give a new journal directory"
        )


def open_engine(settings: Settings, now: float) -> tuple[JournaledEngine, bool]:
    """The engine: recovered from the journal directory if it holds one, else new.

    Raises:
        RunError: The journal there was written for another exchange, account or
            market (:func:`check_identity`).
    """
    config = settings.config
    if journal_path(settings.journal).exists():
        check_identity(settings)
        engine = JournaledEngine.recover(settings.journal, now, config=config,
                                         policy=JOURNAL_POLICY)
        info = engine.recovery
        log.info("recovered %d journaled calls from %s", info.inputs if info else 0,
                 settings.journal)
        return engine, True
    cloids = CloidFactory(config.orders.namespace, run_id=int(now) % 2**32)
    # Written before the journal: a journal never exists without its identity.
    settings.journal.mkdir(parents=True, exist_ok=True)
    (settings.journal / IDENTITY_FILE).write_text(
        json.dumps(run_identity(settings), indent=1) + "\n", encoding="utf-8"
    )
    journal = Journal.in_dir(settings.journal, JOURNAL_POLICY)
    return JournaledEngine(journal, config, cloids=cloids), False


async def trade(settings: Settings, client: httpx.AsyncClient) -> int:
    """Run one session until a signal or ``duration_s``; return the exit status.

    Raises:
        RunError: The market, the journal or the websocket cannot be used.
    """
    config, credentials = settings.config, settings.credentials
    rest = RestClient(client, settings.url, rng=random.Random())
    try:
        asset = await load_asset(rest, config.market.coin, config.market.dex)
    except HyperliquidError as exc:
        status = 1 if "no answer" in str(exc) else 2
        raise RunError(f"{settings.url}: {exc}", status) from None
    if asset.sz_decimals != config.market.sz_decimals:
        raise RunError(
            f"market.sz_decimals is {config.market.sz_decimals} but the exchange's meta gives "
            f"szDecimals {asset.sz_decimals} for {asset.name}: set market.sz_decimals: "
            f"{asset.sz_decimals}"
        )
    engine, recovered = open_engine(settings, current_time())
    sign = L1ActionSigner(credentials.signer, is_mainnet=settings.mainnet,
                          vault_address=credentials.vault_address)
    user = credentials.query_address
    touch = Touch(rest, asset.name, fresh_s=config.reconciler.book_age_grace_s)
    session = WsSession(ws_url(settings.url),
                        [*user_subscriptions(user), {"type": "bbo", "coin": asset.name}],
                        rng=random.Random())
    runtime: Runtime | None = None

    def reconnected(down_since: float) -> None:
        if runtime is not None:
            runtime.notify_reconnect(down_since)

    adapter = HyperliquidAdapter(
        rest, sign, asset, user, stream=session, dry_run=settings.dry_run,
        on_reconnect=reconnected, on_market=touch.on_market, terms=order_terms(engine),
    )
    runtime = Runtime(engine, adapter, RuntimeConfig.from_config(config))
    rest.on_rate_limited = backoff_hook(runtime)
    if recovered:
        after_restart(engine, adapter, runtime, current_time())
    try:
        return await _serve(settings, engine, runtime, adapter, session, touch, rest, sign)
    finally:
        try:
            engine.close()
        except Exception:  # must not replace what ended the session
            log.exception("the journal did not close cleanly")


async def _serve(
    settings: Settings,
    engine: JournaledEngine,
    runtime: Runtime,
    adapter: HyperliquidAdapter,
    session: WsSession,
    touch: Touch,
    rest: RestClient,
    sign: L1ActionSigner,
) -> int:
    config = settings.config
    quoting = config.quoting
    quoter = LadderQuoter(levels=quoting.levels, offset_bps=_dec(quoting.offset_bps),
                          spacing_bps=_dec(quoting.spacing_bps), size=_dec(quoting.size))
    deadman = None
    if config.exchange.schedule_cancel:
        if settings.dry_run:
            log.info("dry run: the dead man's switch is not armed")
        else:
            deadman = DeadMansSwitch(rest, sign, after_s=config.exchange.schedule_cancel_after_s)
    stop = anyio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with session:
            with anyio.move_on_after(WS_READY_S) as waited:
                await session.wait_ready()
            if waited.cancelled_caught:
                raise RunError(f"{session.url}: no websocket connection within {WS_READY_S:g} s",
                               1)
            try:
                async with anyio.create_task_group() as tg:
                    await tg.start(runtime.run)
                    helpers = anyio.CancelScope()

                    async def helping() -> None:
                        with helpers:
                            async with anyio.create_task_group() as inner:
                                inner.start_soon(quote_forever, runtime, engine, quoter, touch,
                                                 quoting.quote_interval_s)
                                if deadman is not None:
                                    inner.start_soon(deadman.run)

                    tg.start_soon(helping)
                    log.info("quoting %s every %g s%s", adapter.asset.name,
                             quoting.quote_interval_s, " (dry run)" if settings.dry_run else "")
                    limit = math.inf if settings.duration_s is None else settings.duration_s
                    with anyio.move_on_after(limit):
                        await stop.wait()
                    log.info("stopping: cancelling our orders and syncing")
                    helpers.cancel()
                    runtime.stop(cancel_all=not settings.dry_run)
            except Exception as exc:
                await last_resort(engine, adapter, exc, armed=deadman is not None)
                failure = _sole(exc)
                raise SessionFault(_sole_text(failure)) from failure
            if deadman is not None:
                await deadman.clear()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    left = [o for o in engine.registry if o.state in OURS]
    log.info("stopped: %d fills, position %s, %d order(s) of ours left", engine.ledger.fills,
             engine.position, len(left))
    if left and not settings.dry_run:
        # A supervisor must not take this for a clean stop: these may still rest.
        log.warning(
            "not every order of ours is known to be gone: %s",
            ", ".join(f"{o.cloid} (oid {o.oid}, {o.state.value})" for o in left),
        )
        return 1
    return 0


async def last_resort(
    engine: Engine, adapter: HyperliquidAdapter, exc: BaseException, *, armed: bool
) -> None:
    """After the session failed with ``exc``: cancel every order of ours once (module docstring).

    Cancels by cloid whenever the order has one: a modify under way may already
    have replaced the oid the engine holds, and the replacement keeps the
    cloid. Orphans found on the book that carry our namespace are cancelled
    by oid. Never raises: what it could not do is logged.
    """
    try:
        cancels = _last_cancels(engine)
        log.critical("the trading session failed (%s); cancelling the %d order(s) of ours "
                     "once, straight through the adapter%s", _sole_text(exc), len(cancels),
                     "; the dead man's switch stays armed" if armed else "", exc_info=exc)
        if not cancels or adapter.dry_run:
            return
        with anyio.move_on_after(LAST_RESORT_S, shield=True) as waited:
            results = await adapter.cancel(cancels)
        if waited.cancelled_caught:
            log.error("the last-resort cancel had no answer within %g s", LAST_RESORT_S)
            return
        refused = [(c, why) for c, r in zip(cancels, results, strict=True) if (why := _why(r))]
        for cancel, why in refused:
            log.error("last-resort cancel of %s (oid %s) not done: %s", cancel.cloid,
                      cancel.oid, why)
        log.critical("last-resort cancel: %d of %d accepted; check the account for resting "
                     "orders", len(cancels) - len(refused), len(cancels))
    except Exception:
        log.exception("the last-resort cancel failed")


def _last_cancels(engine: Engine) -> list[CancelOrder]:
    """One cancel per order of ours: by cloid when it has one, else by oid."""
    owns = engine.cloids.owns
    cancels = []
    for order in engine.registry:
        if order.state in OURS and order.cloid is not None:
            cancels.append(CancelOrder(cloid=order.cloid, oid=None))
        elif order.oid is not None and (
            order.state in OURS or (order.state in DISCOVERED and owns(order.cloid))
        ):
            cancels.append(CancelOrder(cloid=None, oid=order.oid))
    return cancels


def _why(result: CommandResult) -> str:
    """Why a cancel may not have happened ("" when the exchange accepted it)."""
    if result.ambiguous:
        return f"no answer ({result.error or 'unknown outcome'})"
    if result.rate_limited:
        return f"rate limited ({result.error})"
    return result.error


def _sole_text(exc: BaseException) -> str:
    """``Type: message`` of the one exception inside a task group's group."""
    inner = _sole(exc) if isinstance(exc, Exception) else exc
    return f"{type(inner).__name__}: {inner}"


def _sole(exc: Exception) -> Exception:
    """The one exception inside a task group's group, so the caller's handlers see it."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def order_terms(engine: Engine) -> Callable[[ModifyOrder], OrderTerms | None]:
    """The adapter's ``terms``: what a modify needs of its order (its side), from ``engine``."""

    def terms(cmd: ModifyOrder) -> OrderTerms | None:
        order = engine.registry.find(cmd.cloid, cmd.oid)
        return None if order is None else OrderTerms(side=order.side)

    return terms


def after_restart(
    engine: Engine, adapter: HyperliquidAdapter, runtime: Runtime, now: float
) -> None:
    """What a bot does when it comes back, before its runtime starts.

    With an engine recovered from its journal: the immediate-fill credits are
    rebuilt from it and the fills are fetched again from the journal's start
    (no further back than the fill ledger remembers); without one, from ``now``.
    """
    recovery = engine.recovery if isinstance(engine, JournaledEngine) else None
    if recovery is not None:
        adapter.codec.credits.restore(credits_from_engine(engine, now))
    since = None if recovery is None else recovery.first_at
    runtime.catch_up(now if since is None else catch_up_start(engine, since, now))


def backoff_hook(runtime: Runtime) -> Callable[[RestOutcome], None]:
    """Tell the runtime's backoff of every rate-limited ``/info`` try (``/exchange``'s
    refusals reach it through the results)."""

    def heard(outcome: RestOutcome) -> None:
        if outcome.endpoint == "info":
            runtime.policies.refused(current_time())

    return heard
