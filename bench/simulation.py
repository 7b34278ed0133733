"""The whole simulated stack against the wall clock: how much faster than real time it runs.

Theory of operation: :func:`sim_run` runs the ``lifecycle simulate`` job once;
the job's own report carries the simulated seconds and the wall seconds its
virtual-time loop ran. The run checks that no invariant broke and raises
:class:`~measure.BenchError` otherwise. The package's logger is held at ERROR
while it runs: the fault profile provokes anomalies on purpose.

Keys
----
``sim_speedup``
    Simulated seconds per wall-clock second of the ``lifecycle simulate`` job
    (:func:`lifecycle.sim.simulate.run_simulation`) with the ``default`` fault
    profile over 600 simulated seconds: engine, runtime on the virtual clock,
    ladder quoter and simulated exchange, invariant checks included (the
    diagram is not rendered). Higher is better.
"""

from __future__ import annotations

import gc
import logging

from measure import BenchError, Measurement, measure

from lifecycle.sim import SimulationSpec, run_simulation

__all__ = ["RUNS_SIM", "SIM_SECONDS", "measure_sim", "sim_run"]

#: Runs of ``sim_speedup``.
RUNS_SIM = 3
#: Simulated seconds per run.
SIM_SECONDS = 600.0


def sim_run(duration_s: float = SIM_SECONDS) -> float:
    """Simulated seconds per wall second of one default-profile simulation."""
    package_log = logging.getLogger("lifecycle")
    level = package_log.level
    package_log.setLevel(logging.ERROR)  # anomalies are expected under faults
    try:
        gc.collect()
        report = run_simulation(SimulationSpec(duration_s=duration_s, faults="default"))
    finally:
        package_log.setLevel(level)
    if not report.ok:
        raise BenchError(f"simulation broke an invariant: {report.counters()}")
    return report.sim_seconds / report.wall_seconds


def measure_sim(runs: int = RUNS_SIM) -> dict[str, float]:
    """The median of ``sim_speedup``."""
    return measure(
        Measurement(
            "sim_speedup",
            runs,
            f"`lifecycle simulate`, default faults, {SIM_SECONDS:.0f} simulated s",
            sim_run,
            "sim s / wall s",
        )
    )
