"""The lives of a simulated bot: its first engine, the crash, and the engine it comes back with.

Theory of operation
-------------------
Both ways of simulating (the simulated adapter, :mod:`lifecycle.sim.simulate`,
and the Hyperliquid adapter over the loopback, :mod:`lifecycle.sim.hl_bot`)
run one bot, or two with ``restart_at_s``, and share these steps:
:func:`first_engine` journals every call's records before the call returns
(no command goes out before its record), without fsync: an abrupt stop is a
process crash, not a power loss;
:func:`crash` drops the journal's buffer as a dead process leaves it and has
the referee stop counting; :func:`come_back` recovers the engine from the
journal (or, with ``restart_from_journal`` off or no journal, starts an empty
one under another run id) and says what the restart left as a
:class:`~lifecycle.sim.report.RestartInfo`.
"""

from __future__ import annotations

from pathlib import Path

from lifecycle.config import LifecycleConfig
from lifecycle.core.ids import CloidFactory
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine
from lifecycle.journal import FlushMode, FlushPolicy, Journal, JournaledEngine, journal_path
from lifecycle.sim.referee import _Referee
from lifecycle.sim.report import RestartInfo
from lifecycle.sim.spec import SimulationSpec

__all__ = ["JOURNAL_POLICY", "come_back", "crash", "first_engine"]

#: Every call's records written before it returns, not fsynced (module docstring).
JOURNAL_POLICY = FlushPolicy(mode=FlushMode.EVERY_RECORD, fsync=False)


def first_engine(config: LifecycleConfig, journal_dir: Path | None) -> Engine:
    """The first life's engine: journaled in ``journal_dir`` when given."""
    cloids = CloidFactory(config.orders.namespace, run_id=1)
    if journal_dir is None:
        return Engine(config, cloids=cloids)
    return JournaledEngine(Journal.in_dir(journal_dir, JOURNAL_POLICY), config, cloids=cloids)


def crash(engine: Engine, referee: _Referee, now: float) -> int:
    """The bot dies at ``now``: return how many buffered journal records were lost."""
    lost = engine.journal.abandon() if isinstance(engine, JournaledEngine) else 0
    referee.suspend(now)
    return lost


def come_back(
    spec: SimulationSpec,
    config: LifecycleConfig,
    journal_dir: Path | None,
    referee: _Referee,
    *,
    start: float,
    stopped: float,
    back: float,
    lost: int,
) -> tuple[Engine, RestartInfo]:
    """The engine the bot comes back with at ``back``, and what the restart left."""
    inputs = 0
    engine: Engine
    if spec.restart_from_journal and journal_dir is not None:
        engine = JournaledEngine.recover(journal_dir, back, policy=JOURNAL_POLICY)
        inputs = engine.recovery.inputs if engine.recovery is not None else 0
    else:
        # A bot without a journal: it starts empty, as a new run would.
        engine = Engine(config, cloids=CloidFactory(config.orders.namespace, run_id=2))
    referee.resume(engine, back)
    return engine, RestartInfo(
        at_s=stopped - start,
        downtime_s=back - stopped,
        from_journal=isinstance(engine, JournaledEngine),
        records_lost=lost,
        inputs_replayed=inputs,
        orders_restored=sum(1 for o in engine.registry if o.state is not OrderState.GONE),
        journal=(
            journal_path(journal_dir)
            if journal_dir is not None and spec.journal_dir is not None
            else None
        ),
    )
