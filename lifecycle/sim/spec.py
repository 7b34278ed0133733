"""What a simulation runs: :class:`SimulationSpec` and the faults it schedules.

The spec is plain data: :func:`~lifecycle.sim.simulate.run_simulation` reads
it, and nothing in it runs until then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.config import LifecycleConfig
from lifecycle.runtime import RuntimeConfig
from lifecycle.sim.quoter import LadderQuoter

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.simulated import FaultProfile, MarketParams, SimulatedExchange
    from adapters.simulated import profile as named_profile
else:
    from lifecycle.adapters.simulated import FaultProfile, MarketParams, SimulatedExchange
    from lifecycle.adapters.simulated import profile as named_profile

__all__ = ["ADAPTERS", "EPOCH_START", "LOOPBACK", "ScheduledFault", "SimulationSpec"]

#: ``SimulationSpec.adapter`` of a run over the loopback exchange
#: (:mod:`lifecycle.sim.hl_bot`, imported only for such a run: it loads the
#: Hyperliquid client and the loopback server).
LOOPBACK = "hyperliquid-loopback"
#: Every ``SimulationSpec.adapter``.
ADAPTERS = ("simulated", LOOPBACK)
#: Where the virtual clock starts for a loopback run: 2026-01-01T00:00:00Z, a Unix
#: time, so that the exchange's milliseconds and the nonces look like the venue's.
EPOCH_START = 1_767_225_600.0


@dataclass(frozen=True, slots=True)
class ScheduledFault:
    """A fault injected into the exchange at ``at_s`` seconds into the run.

    ``inject(exchange, now)`` calls the exchange's ``inject_*`` methods
    (``inject_ws_disconnect(now, 5.0)``, ``inject_rest_fault("timeout", executed=True)``...).
    """

    at_s: float
    inject: Callable[[SimulatedExchange, float], None]


@dataclass(frozen=True, kw_only=True)
class SimulationSpec:
    """What to simulate.

    Attributes:
        seed: Seeds the exchange (prices, takers, faults) and nothing else.
        duration_s: Simulated seconds of quoting.
        faults: A fault profile, or its name (``none``, ``default``, ``harsh``).
        config: The engine's configuration; defaults if None.
        quoter: The strategy.
        quote_interval_s: Seconds between two quoting cycles.
        previous_orders: Orders of an earlier run of this bot resting at the start.
        foreign_orders: Orders of someone else resting at the start.
        cancel_all: Cancel every order of ours at the end.
        market: The simulated market; the model's defaults if None.
        runtime: How the runtime drives the exchange; None derives the weight
            budget from the profile's IP limit.
        schedule: Faults injected at given times.
        progress: Called every ``progress_interval_s`` with the simulated
            seconds elapsed and ``duration_s``.
        progress_interval_s: See ``progress``.
        restart_at_s: Stop the bot abruptly this many simulated seconds into
            the run (no graceful shutdown: requests in flight and the websocket
            die with it), keep it down ``downtime_s`` while the market goes on,
            then bring it back from its journal
            (:meth:`~lifecycle.journal.JournaledEngine.recover`). None: no restart.
        downtime_s: How long the bot stays down at ``restart_at_s``.
        journal_dir: The run directory of the engine's journal
            (``journal.jsonl``, which must not exist yet). None: no journal, or
            a temporary one with ``restart_at_s``.
        restart_from_journal: False brings the bot back with an empty engine,
            as a bot without a journal would come back; the invariant counters
            then show what the journal prevents.
        adapter: ``simulated`` (the simulated exchange's own adapter) or
            ``hyperliquid-loopback`` (the Hyperliquid adapter over real sockets to
            the loopback exchange: :mod:`lifecycle.sim.hl_bot`; no earlier or
            foreign orders).
    """

    seed: int = 1
    duration_s: float = 3600.0
    faults: FaultProfile | str = "default"
    config: LifecycleConfig | None = None
    quoter: LadderQuoter = field(default_factory=LadderQuoter)
    quote_interval_s: float = 1.0
    previous_orders: int = 4
    foreign_orders: int = 4
    cancel_all: bool = True
    market: MarketParams | None = None
    runtime: RuntimeConfig | None = None
    schedule: tuple[ScheduledFault, ...] = ()
    progress: Callable[[float, float], None] | None = None
    progress_interval_s: float = 300.0
    restart_at_s: float | None = None
    downtime_s: float = 10.0
    journal_dir: str | Path | None = None
    restart_from_journal: bool = True
    adapter: str = "simulated"

    def profile(self) -> FaultProfile:
        """The fault profile."""
        return self.faults if isinstance(self.faults, FaultProfile) else named_profile(self.faults)
