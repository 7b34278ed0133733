"""``lifecycle simulate``: the command line around :func:`~lifecycle.sim.simulate.run_simulation`.

Checks the arguments, shows a progress bar on stderr, quiets the package's
log (anomalies are expected under faults and the report counts them), prints
the report as text or JSON and writes the run's diagram.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from lifecycle.config import LifecycleConfig
from lifecycle.journal import journal_path
from lifecycle.sim.simulate import run_simulation, write_diagram
from lifecycle.sim.spec import SimulationSpec

__all__ = ["simulate_command"]


def progress_interval(duration_s: float) -> float:
    # Every few simulated minutes; about ten updates for a short run.
    return min(300.0, max(30.0, duration_s / 10))


def _progress_bar(write: Callable[[str], None]) -> Callable[[float, float], None]:
    shown: list[float] = []

    def show(done_s: float, total_s: float) -> None:
        if shown and shown[-1] >= done_s:
            return  # the last tick and the end of the run may coincide
        shown.append(done_s)
        share = min(1.0, done_s / total_s) if total_s > 0 else 1.0
        filled = int(share * 30)
        write(
            f"simulate: [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%}  "
            f"{done_s:7.0f} / {total_s:.0f} simulated s"
        )

    return show


def simulate_command(
    *,
    seed: int,
    duration_s: float,
    faults: str,
    config: LifecycleConfig | None,
    as_json: bool,
    out: str | Path,
    keep_orders: bool = False,
    quiet: bool = False,
    verbose: bool = False,
    restart_at_s: float | None = None,
    downtime_s: float = 10.0,
    journal_dir: str | Path | None = None,
    restart_from_journal: bool = True,
) -> int:
    """Run ``lifecycle simulate``: print the report (text or JSON), write the diagram.

    The restart and journal arguments are those of :class:`SimulationSpec`.

    Returns:
        The exit status: 0 when every invariant counter is 0, 1 when one is
        not, 2 for bad arguments.
    """
    import json
    import logging
    import sys

    def err(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # float() accepts "inf" and "nan": a run that long never ends, and NaN compares false
    # with everything, so each bound is checked to be a finite number first.
    if not (math.isfinite(duration_s) and duration_s > 0):
        err(f"--duration must be > 0 and finite (seconds), got {duration_s:g}")
        return 2
    if restart_at_s is not None and not 0 < restart_at_s < duration_s:
        err(f"--restart-at must be inside the run (0 < SECONDS < --duration {duration_s:g}), "
            f"got {restart_at_s:g}")
        return 2
    if not (math.isfinite(downtime_s) and downtime_s >= 0):
        err(f"--downtime must be >= 0 and finite (seconds), got {downtime_s:g}")
        return 2
    if journal_dir is not None and journal_path(journal_dir).exists():
        err(f"--journal: {journal_path(journal_dir)} exists; give a new directory")
        return 2
    spec = SimulationSpec(
        seed=seed,
        duration_s=duration_s,
        faults=faults,
        config=config,
        cancel_all=not keep_orders,
        progress=None if quiet else _progress_bar(err),
        progress_interval_s=progress_interval(duration_s),
        restart_at_s=restart_at_s,
        downtime_s=downtime_s,
        journal_dir=journal_dir,
        restart_from_journal=restart_from_journal,
    )
    package_log = logging.getLogger("lifecycle")
    level = package_log.level
    if not verbose:
        # Anomalies and sync warnings are expected under faults; the report counts them.
        package_log.setLevel(logging.ERROR)
    try:
        report = run_simulation(spec)
    finally:
        package_log.setLevel(level)
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        print(report.text())
    note = err if as_json else print
    try:
        for path in write_diagram(report, out):
            note(f"wrote {path}")
    except Exception as exc:  # graphviz.ExecutableNotFound: the .dot is written anyway
        err(f"diagram not rendered: {exc}")
    return 0 if report.ok else 1
