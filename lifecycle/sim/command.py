"""``lifecycle simulate``: the command line around :func:`~lifecycle.sim.simulate.run_simulation`.

Theory of operation
-------------------
Every argument is checked before anything runs (an hour of simulation should
not end in an unwritable ``--out``): bounds, options that need another, the
output and journal directories. Then it shows a progress bar on stderr,
quiets the package's log (anomalies are expected under faults and the report
counts them), runs, prints the report as text or JSON and writes the run's
diagram.

Ctrl-C during the run does not raise: the first one sets a
:class:`~lifecycle.sim.simulate.StopRequest`, the run closes as at its end and
the partial report is printed (exit status 130, no diagram, so an earlier
run's is not replaced by a part); a second Ctrl-C raises ``KeyboardInterrupt``
as usual.
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import graphviz

from lifecycle.config import LifecycleConfig
from lifecycle.journal import journal_path
from lifecycle.review.diagram import DOT_MISSING, out_dir_problem
from lifecycle.sim.simulate import StopRequest, run_simulation, write_diagram
from lifecycle.sim.spec import ADAPTERS, SimulationSpec

__all__ = ["DEFAULT_DOWNTIME_S", "INTERRUPTED", "simulate_command"]

#: The exit status of a run stopped by Ctrl-C (128 + SIGINT, as a shell reports it).
INTERRUPTED = 130
#: How long the bot stays down at ``--restart-at`` unless ``--downtime`` says.
DEFAULT_DOWNTIME_S = 10.0


def progress_interval(duration_s: float) -> float:
    """Simulated seconds between two progress updates: every few simulated
    minutes, about ten updates for a short run."""
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


@contextmanager
def _ctrl_c_stops(stop: StopRequest) -> Iterator[None]:
    """While inside, the first SIGINT sets ``stop``; the next one raises as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread: a caller's thread keeps its own
        return
    previous = signal.getsignal(signal.SIGINT)

    def handle(signum: int, frame: FrameType | None) -> None:
        # Only stores: a signal handler may run between any two bytecodes.
        stop.requested = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _bound_problems(
    duration_s: float, restart_at_s: float | None, downtime_s: float | None
) -> list[str]:
    problems: list[str] = []
    # float() accepts "inf" and "nan": a run that long never ends, and NaN compares false
    # with everything, so each bound is checked to be a finite number first.
    if not (math.isfinite(duration_s) and duration_s > 0):
        problems.append(f"--duration must be > 0 and finite (seconds), got {duration_s:g}")
    if restart_at_s is not None and not 0 < restart_at_s < duration_s:
        problems.append(f"--restart-at must be inside the run (0 < SECONDS < --duration "
                        f"{duration_s:g}), got {restart_at_s:g}")
    if downtime_s is not None and not (math.isfinite(downtime_s) and downtime_s >= 0):
        problems.append(f"--downtime must be >= 0 and finite (seconds), got {downtime_s:g}")
    return problems


def _needs_problems(
    restart_at_s: float | None, downtime_s: float | None, restart_from_journal: bool
) -> list[str]:
    if restart_at_s is not None:
        return []
    problems: list[str] = []
    if downtime_s is not None:
        problems.append("--downtime needs --restart-at (the bot is down only after a stop)")
    if not restart_from_journal:
        problems.append("--restart-empty needs --restart-at (it says how the bot comes back)")
    return problems


def _place_problems(out: str | Path, journal_dir: str | Path | None) -> list[str]:
    problems: list[str] = []
    why = out_dir_problem(out)
    if why is not None:
        problems.append(f"--out {out}: {why}")
    if journal_dir is not None:
        why = out_dir_problem(journal_dir)
        if why is not None:
            problems.append(f"--journal {journal_dir}: {why}")
        elif journal_path(journal_dir).exists():
            problems.append(f"--journal: {journal_path(journal_dir)} exists; give a new "
                            "directory")
    return problems


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
    downtime_s: float | None = None,
    journal_dir: str | Path | None = None,
    restart_from_journal: bool = True,
    usage_error: Callable[[str], object] | None = None,
    adapter: str = "simulated",
) -> int:
    """Run ``lifecycle simulate``: print the report (text or JSON), write the diagram.

    The restart and journal arguments are those of :class:`SimulationSpec`;
    ``downtime_s`` (default :data:`DEFAULT_DOWNTIME_S`) and
    ``restart_from_journal=False`` need ``restart_at_s``; ``adapter`` is
    :attr:`SimulationSpec.adapter` (``hyperliquid-loopback`` takes no
    ``restart_at_s``). Bounds are checked
    first, then options that need another (reported through ``usage_error``
    when given, e.g. an argparse parser's ``error``, which exits), then the
    output and journal directories.

    Returns:
        The exit status: 0 when every invariant counter is 0, 1 when one is
        not, 2 for bad arguments, :data:`INTERRUPTED` (130) when Ctrl-C
        stopped the run (the partial report is printed).
    """
    import json
    import logging
    import sys

    def err(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    needs = _needs_problems(restart_at_s, downtime_s, restart_from_journal)
    if adapter not in ADAPTERS:
        needs.append(f"--adapter must be one of {', '.join(ADAPTERS)}, got {adapter!r}")
    problems = _bound_problems(duration_s, restart_at_s, downtime_s)
    if not problems and needs and usage_error is not None:
        usage_error("; ".join(needs))
    problems = problems or needs or _place_problems(out, journal_dir)
    if problems:
        for problem in problems:
            err(problem)
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
        downtime_s=DEFAULT_DOWNTIME_S if downtime_s is None else downtime_s,
        journal_dir=journal_dir,
        restart_from_journal=restart_from_journal,
        adapter=adapter,
    )
    package_log = logging.getLogger("lifecycle")
    level = package_log.level
    if not verbose:
        # Anomalies and sync warnings are expected under faults; the report counts them.
        package_log.setLevel(logging.ERROR)
    stop = StopRequest()
    try:
        with _ctrl_c_stops(stop):
            report = run_simulation(spec, stop=stop)
    finally:
        package_log.setLevel(level)
    if as_json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        print(report.text())
    if report.interrupted_at_s is not None:
        err(f"interrupted at {report.interrupted_at_s:.0f} simulated s: the report covers "
            "the run so far (no diagram written)")
        return INTERRUPTED
    note = err if as_json else print
    written: list[Path] = []
    try:
        written = write_diagram(report, out)
    except OSError as exc:
        err(f"diagram not written into {out}: {exc.strerror or exc}")
    except graphviz.ExecutableNotFound:  # the .dot is written anyway
        err(f"diagram not drawn, only {Path(out) / 'simulation.dot'} written: {DOT_MISSING}")
    except graphviz.CalledProcessError as exc:
        err(f"diagram not drawn: Graphviz `dot` failed (exit status {exc.returncode}); "
            f"only {Path(out) / 'simulation.dot'} written")
    for path in written:  # outside the try: a closed stdout is no unwritable --out
        note(f"wrote {path}")
    return 0 if report.ok else 1
