"""The simulation job: the engine, the runtime and a quoter against the simulated exchange.

Theory of operation
-------------------
:func:`run_simulation` builds a :class:`~lifecycle.adapters.simulated.SimulatedExchange`
(seeded, with a fault profile, with orders of an earlier run and of someone
else resting at the start), an :class:`~lifecycle.engine.facade.Engine`, a
:class:`~lifecycle.runtime.Runtime` over a
:class:`~lifecycle.adapters.simulated.SimulatedAdapter`, and a
:class:`~lifecycle.sim.quoter.LadderQuoter` that re-quotes every
``quote_interval_s`` from the exchange's touch. Everything runs on the
runtime's virtual clock (:func:`~lifecycle.runtime.run_virtual`), so an hour
takes seconds and the same seed gives the same report.

After ``duration_s`` the quoter stops, the market closes (requests and
messages in flight still complete), the runtime cancels every order of ours
(unless ``cancel_all`` is False), waits until nothing is in flight, runs final
safety syncs (enough for the engine to verify any absence) and a final fill
fetch, and waits again (:meth:`Runtime.close <lifecycle.runtime.Runtime.close>`).
The report is then computed.

With ``restart_at_s`` the engine is a :class:`~lifecycle.journal.JournaledEngine`
(journal written per call, before the call returns, without fsync) and the
bot stops abruptly at that time: the runtime's tasks are cancelled with no
graceful shutdown, requests in flight die with it (their answers reach no one)
and its websocket is cut (:meth:`SimulatedExchange.inject_client_stop`), while
the exchange keeps trading. After ``downtime_s`` a new engine is recovered
from the journal (:meth:`JournaledEngine.recover
<lifecycle.journal.JournaledEngine.recover>`), a new runtime and connection
start, and the runtime syncs at once and fetches the account's fills since
the journal began (:meth:`Runtime.catch_up <lifecycle.runtime.Runtime.catch_up>`),
or since the oldest fill its fill ledger still remembers if that is later
(:func:`~lifecycle.runtime.fills.catch_up_start`).
The referee watches the new engine from then on; the invariant counters cover
both lives.

A :class:`StopRequest` handed to :func:`run_simulation` stops a run early
(``lifecycle simulate`` sets it on Ctrl-C): each wait of the run is polled
every simulated second and ends when the request is set, and the run then
closes as at the end of its duration (market closed, orders canceled, final
syncs), so the report is complete for the part that ran and says where it
stopped (``SimulationReport.interrupted_at_s``). The poll is a timer of its
own next to the wait's, which stays exactly as long as without one: a run
with a request that is never set is the same run as one without.

The referee (:class:`~lifecycle.sim.referee._Referee`) watches the engine
from outside throughout; the report (:func:`~lifecycle.sim.report._report`)
reads it, the engine and the exchange's truth at the end. The spec lives in
:mod:`lifecycle.sim.spec`, the bot and its adapter in :mod:`lifecycle.sim.bot`,
the ``lifecycle simulate`` command in :mod:`lifecycle.sim.command`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.config import LifecycleConfig
from lifecycle.core.ids import CloidFactory
from lifecycle.journal import JournaledEngine, journal_path
from lifecycle.runtime import current_time, run_virtual, sleep
from lifecycle.runtime.fills import catch_up_start
from lifecycle.sim.bot import _Bot, _merged, _Stopped
from lifecycle.sim.lives import come_back, crash, first_engine
from lifecycle.sim.referee import _Referee
from lifecycle.sim.report import RestartInfo, SimulationReport, _report
from lifecycle.sim.spec import ADAPTERS, EPOCH_START, LOOPBACK, SimulationSpec

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.simulated import FaultProfile, SimulatedExchange
else:
    from lifecycle.adapters.simulated import FaultProfile, SimulatedExchange

__all__ = ["StopRequest", "run_simulation", "write_diagram"]

#: Simulated seconds between two looks at a :class:`StopRequest`.
_STOP_POLL_S = 1.0


class StopRequest:
    """Asks a running simulation to stop early; safe to set from a signal handler.

    Setting :attr:`requested` is a single attribute store, which a signal
    handler may do between any two bytecodes; the simulation only reads it.
    """

    __slots__ = ("requested",)

    def __init__(self) -> None:
        #: Set to True to stop the run at its next look (within a simulated second).
        self.requested = False


async def _pause(seconds: float, stop: StopRequest | None) -> None:
    """Sleep ``seconds`` on the runtime's clock, or until ``stop`` is requested."""
    if stop is None or seconds <= 0:
        await sleep(seconds)  # asyncio.sleep(0) yields once instead of arming a timer
        return
    if stop.requested:
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    # The wait's own timer, armed as asyncio.sleep arms it, so it ends at the same
    # instant as sleep(seconds) would; the poll only adds timers of its own.
    timer = loop.call_later(seconds, _finish, done)

    def poll() -> None:
        if stop.requested:
            _finish(done)
        else:
            next_poll[0] = loop.call_later(_STOP_POLL_S, poll)

    next_poll = [loop.call_later(_STOP_POLL_S, poll)]
    try:
        await done
    finally:
        timer.cancel()
        next_poll[0].cancel()


def _finish(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _simulate(
    spec: SimulationSpec, journal_dir: Path | None, stop: StopRequest | None
) -> SimulationReport:
    profile = spec.profile()
    config = spec.config if spec.config is not None else LifecycleConfig()
    namespace = config.orders.namespace
    start = current_time()
    exchange = SimulatedExchange(
        spec.seed, profile, coin=_bare(config.market.coin), dex=config.market.dex,
        start=start, market=spec.market,
        previous_run=CloidFactory(namespace, run_id=0) if spec.previous_orders else None,
        previous_orders=spec.previous_orders, foreign_orders=spec.foreign_orders,
    )
    engine = first_engine(config, journal_dir)
    referee = _Referee(engine, exchange)
    engine.machine.add_observer(referee)
    bot = _Bot(spec, profile, exchange, referee, start)
    restart: RestartInfo | None = None
    faults_from = float("-inf")

    if spec.restart_at_s is not None:
        runtime = bot.runtime(engine, faults_from=faults_from, faults_until=spec.restart_at_s)
        try:
            async with runtime.session():
                await _pause(spec.restart_at_s, stop)
                raise _Stopped
        except* _Stopped:
            pass  # every task of the runtime was cancelled: nothing shut down gracefully
        stopped = current_time()
        exchange.inject_client_stop(stopped)
        lost = crash(engine, referee, stopped)
        await _pause(spec.downtime_s, stop)
        back = current_time()
        exchange.inject_client_start(back)
        engine, restart = come_back(spec, config, journal_dir, referee, start=start,
                                    stopped=stopped, back=back, lost=lost)
        faults_from = spec.restart_at_s

    runtime = bot.runtime(engine, faults_from=faults_from, faults_until=float("inf"))
    if restart is not None:
        # A bot that starts again syncs at once and fetches the fills it may
        # have missed: any since its journal began (a fill whose message was
        # lost waited for the next periodic fetch, which died with the process),
        # but none older than its fill ledger remembers, which would count twice.
        recovery = engine.recovery if isinstance(engine, JournaledEngine) else None
        back = start + restart.at_s + restart.downtime_s
        since = recovery.first_at if recovery is not None else None
        runtime.catch_up(back if since is None else catch_up_start(engine, since, back))
    async with runtime.session():
        await _pause(max(0.0, start + spec.duration_s - current_time()), stop)
        interrupted = stop is not None and stop.requested
        stopped_at = current_time() - start
        exchange.close_market(current_time())
        horizon = _delivery_horizon(profile)

        def settled() -> bool:
            # Asked only while the runtime has nothing in flight: whatever the
            # exchange still holds beyond the longest delivery delay is a closed
            # market's process that will do nothing when it runs.
            due = exchange.next_time()
            return due is None or due > current_time() + horizon

        await runtime.close(cancel_all=spec.cancel_all, settled=settled)
        end = current_time()
    if isinstance(engine, JournaledEngine):
        engine.close()
    if spec.progress is not None and not interrupted:
        spec.progress(spec.duration_s, spec.duration_s)
    referee.close(end)
    report = _report(
        spec, profile, config, engine, exchange, _merged(bot.stats), referee, end - start
    )
    report.restart = restart
    if interrupted:
        report.interrupted_at_s = stopped_at
    return report


def _delivery_horizon(profile: FaultProfile) -> float:
    """The longest a message or an answer can take to reach the client."""
    ws = profile.ws_latency.max_s + profile.ws_reorder_delay.max_s
    rest = profile.request_timeout_s + profile.rest_latency.max_s
    return max(ws, rest)


def _bare(coin: str) -> str:
    # The exchange takes the bare coin and the dex apart; the config may name "dex:COIN".
    return coin.split(":", 1)[1] if ":" in coin else coin


def run_simulation(
    spec: SimulationSpec | None = None, *, stop: StopRequest | None = None
) -> SimulationReport:
    """Run one simulation on the virtual clock and return its report.

    Args:
        spec: What to run (default: :class:`SimulationSpec`'s defaults).
        stop: When given and set during the run, the quoting stops within a
            simulated second and the run closes as at its end; the report's
            ``interrupted_at_s`` says when.
    """
    spec = spec if spec is not None else SimulationSpec()
    if not (spec.duration_s > 0 and spec.quote_interval_s > 0 and spec.progress_interval_s > 0):
        raise ValueError("duration_s, quote_interval_s and progress_interval_s must be > 0")
    if spec.restart_at_s is not None and not 0 < spec.restart_at_s < spec.duration_s:
        raise ValueError(
            f"restart_at_s must be inside the run (0 < restart_at_s < duration_s="
            f"{spec.duration_s}), got {spec.restart_at_s}"
        )
    if not spec.downtime_s >= 0:
        raise ValueError(f"downtime_s must be >= 0, got {spec.downtime_s}")
    if spec.adapter not in ADAPTERS:
        raise ValueError(f"adapter must be one of {', '.join(ADAPTERS)}, got {spec.adapter!r}")
    with contextlib.ExitStack() as stack:
        journal_dir: Path | None = None
        if spec.journal_dir is not None:
            journal_dir = Path(spec.journal_dir)
            if journal_path(journal_dir).exists():
                raise FileExistsError(
                    f"{journal_path(journal_dir)} exists: give a new journal directory"
                )
        elif spec.restart_at_s is not None:
            journal_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim-")))
        if spec.adapter == LOOPBACK:
            from lifecycle.sim.hl_bot import simulate_on_loopback

            report, wall = run_virtual(
                lambda: simulate_on_loopback(
                    spec, journal_dir, lambda s: _pause(s, stop), _delivery_horizon
                ),
                start=EPOCH_START,
            )
        else:
            report, wall = run_virtual(lambda: _simulate(spec, journal_dir, stop))
    report.wall_seconds = wall
    return report


def write_diagram(report: SimulationReport, out_dir: str | Path) -> list[Path]:
    """Write the run's lifecycle diagram, edges weighted by hits, as
    ``out_dir/simulation.{dot,svg}``.

    Raises:
        graphviz.ExecutableNotFound: Graphviz ``dot`` is missing (the ``.dot`` is written).
    """
    from lifecycle.review.diagram import lifecycle_graph, render

    title = (
        f"Simulation: seed {report.seed}, faults {report.faults}, "
        f"{report.sim_seconds:.0f} s simulated"
    )
    graph = lifecycle_graph(report.edge_counts, title=title)
    return render(graph, out_dir, "simulation", formats=("svg",))
