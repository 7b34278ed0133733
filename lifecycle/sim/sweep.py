"""``lifecycle sweep``: many restart simulations at once, on local processes or on Dask.

A sweep crosses exchange seeds, fault profiles, restart moments and downtimes. For every
(seed, profile) it draws ``--restarts`` moments in ``(0, duration)``, rounded to the
millisecond, from an RNG seeded with ``--sweep-seed``, the seed and the profile (a pair's
moments do not change when other seeds or profiles are added), and runs one simulation per
moment and downtime, as ``lifecycle simulate --restart-at T --downtime D`` would.

Each run is a :class:`SweepRun` of plain values. The worker function :func:`run_one` builds
its ``SimulationSpec`` exactly as ``lifecycle simulate`` does (with the same progress
interval: its timer takes part in the run's event order), runs it and returns a
:class:`RunResult`. A run fails when an invariant counter is not 0 or when it raised (a
``ReplayDivergence`` during recovery, say); the worker returns the exception as text with
the traceback's last lines, so one failing run never stops the sweep.

Runs go to spawned worker processes (``--workers 0``: this process, one after the other) or,
with ``--dask ADDRESS``, to an existing Dask cluster through ``Client.submit`` of the same
worker function; its workers must import the package with its ``sweep`` extra, and one
thread per worker process (``dask worker --nthreads 1``) suits these CPU-bound runs.
Results stream in as they complete: a JSON line per run to ``--out``, progress on stderr.
The end is a summary table and, for every failed run, the command that reproduces it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import logging
import math
import multiprocessing
import os
import random
import re
import statistics
import threading
import time
import traceback
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import IO, TYPE_CHECKING, Any, TextIO

# The package internals this module uses, all here: re-point these lines when modules move.
# ``progress_interval`` is the interval ``lifecycle simulate`` gives its spec; the sweep
# must give the same, or a reproduced run would differ.
from lifecycle.sim.command import progress_interval as simulate_progress_interval
from lifecycle.sim.report import INVARIANTS
from lifecycle.sim.simulate import run_simulation
from lifecycle.sim.spec import SimulationSpec

if TYPE_CHECKING:
    from dask.distributed import Client, Future

__all__ = [
    "INVARIANTS", "RunResult", "SweepError", "SweepRun", "add_sweep_arguments", "plan_runs",
    "restart_moments", "run_one", "summary_text", "sweep_command",
]

#: Lines of the traceback kept for a run that raised.
TRACEBACK_LINES = 12
#: Short column names for the invariant counters in the summary table.
_SHORT = {
    "false_orphan_cancels": "orphan_cx", "premature_untracks": "untracks",
    "untracked_resting_at_end": "untr_end", "position_mismatch": "pos_diff",
    "double_counted_fills": "dbl_fills", "illegal_transitions_applied": "illegal",
    "refused_remote_events": "refused",
}


class SweepError(Exception):
    """The sweep cannot start (Dask missing or unreachable, output not writable)."""


def _arg(value: float) -> str:
    """``value`` as a command-line number that parses back to the same float."""
    # repr: the shortest text that parses back to the same float.
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


@dataclass(frozen=True)
class SweepRun:
    """One simulation of a sweep, in plain picklable values."""

    index: int
    seed: int
    faults: str
    duration_s: float
    restart_at_s: float
    downtime_s: float
    restart_from_journal: bool = True

    def spec(self) -> SimulationSpec:
        """The simulation's spec, as ``lifecycle simulate`` builds it from :meth:`command`."""
        return SimulationSpec(
            seed=self.seed, duration_s=self.duration_s, faults=self.faults,
            progress_interval_s=simulate_progress_interval(self.duration_s),
            restart_at_s=self.restart_at_s, downtime_s=self.downtime_s,
            restart_from_journal=self.restart_from_journal,
        )

    def command(self) -> str:
        """The ``lifecycle simulate`` command that runs exactly this simulation."""
        return (
            f"lifecycle simulate --seed {self.seed} --duration {_arg(self.duration_s)} "
            f"--faults {self.faults} --restart-at {_arg(self.restart_at_s)} "
            f"--downtime {_arg(self.downtime_s)}"
            + ("" if self.restart_from_journal else " --restart-empty")
        )


@dataclass(frozen=True)
class RunResult:
    """What one run of a sweep gave.

    ``counters`` holds the invariant counters (empty when the run raised);
    ``error`` is ``Type: message`` of the exception it raised and ``traceback``
    the last lines of its traceback; ``report`` holds the report's other JSON
    figures; ``wall_s`` is None when the worker died before answering.
    """

    run: SweepRun
    ok: bool
    counters: dict[str, int | float]
    report: dict[str, Any] | None
    findings: list[str]
    error: str | None
    traceback: str | None
    wall_s: float | None

    @classmethod
    def raised(cls, run: SweepRun, exc: BaseException, wall_s: float | None) -> RunResult:
        """The failed result of a run that raised ``exc`` (a group: its first leaf)."""
        leaf = exc
        while isinstance(leaf, BaseExceptionGroup) and leaf.exceptions:
            leaf = leaf.exceptions[0]
        lines = "".join(traceback.format_exception(leaf)).rstrip().splitlines()
        message = str(leaf).strip().splitlines()
        error = f"{type(leaf).__name__}: {message[0]}" if message else type(leaf).__name__
        error += f" (in an {type(exc).__name__})" if leaf is not exc else ""
        return cls(run, False, {}, None, [], error, "\n".join(lines[-TRACEBACK_LINES:]), wall_s)

    def failure(self) -> str:
        """Why the run failed, on one line ("" when it did not)."""
        return self.error or ", ".join(f"{k} {v}" for k, v in self.counters.items() if v)

    def to_json(self) -> dict[str, Any]:
        """The JSON line of ``--out``: the spec, the outcome and the reproducing command."""
        spec = asdict(self.run)
        return {
            "index": spec.pop("index"), "spec": spec, "ok": self.ok, "counters": self.counters,
            "error": self.error, "traceback": self.traceback, "findings": self.findings,
            "report": self.report, "wall_s": self.wall_s, "command": self.run.command(),
        }


_LOG_LOCK = threading.Lock()
_log_saved: list[int] = []  # the level before the runs in progress, once per run


@contextlib.contextmanager
def _quiet_log() -> Iterator[None]:
    """Hold the package's logger at ERROR while runs are in progress in this process:
    anomalies and sync warnings are expected under faults, and the report counts them."""
    log = logging.getLogger("lifecycle")
    with _LOG_LOCK:
        _log_saved.append(_log_saved[0] if _log_saved else log.level)
        log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        with _LOG_LOCK:
            level = _log_saved.pop()
            if not _log_saved:
                log.setLevel(level)


def run_one(run: SweepRun) -> RunResult:
    """Run one simulation (the worker function); never raises for a failing run."""
    start = time.perf_counter()
    try:
        with _quiet_log():
            report = run_simulation(run.spec())
    except Exception as exc:
        return RunResult.raised(run, exc, round(time.perf_counter() - start, 3))
    wall = round(time.perf_counter() - start, 3)
    figures = {k: v for k, v in report.to_json().items() if k not in (*INVARIANTS, "wall_seconds")}
    return RunResult(
        run=run, ok=report.ok, counters=report.counters(), report=figures,
        findings=list(report.findings), error=None, traceback=None, wall_s=wall,
    )


def restart_moments(
    sweep_seed: int, seed: int, faults: str, duration_s: float, count: int
) -> list[float]:
    """``count`` restart moments in ``(0, duration_s)`` for one (seed, profile),
    rounded to the millisecond when that keeps them inside."""
    rng = random.Random(f"lifecycle-sweep:{sweep_seed}:{seed}:{faults}")
    moments: list[float] = []
    while len(moments) < count:
        drawn = rng.uniform(0.0, duration_s)
        at = round(drawn, 3) if 0 < round(drawn, 3) < duration_s else drawn
        if 0 < at < duration_s:
            moments.append(at)
    return moments


def plan_runs(
    *, seeds: Sequence[int], faults: Sequence[str], duration_s: float, restarts: int,
    downtimes: Sequence[float], sweep_seed: int, restart_from_journal: bool = True,
) -> list[SweepRun]:
    """Every run of a sweep, numbered: seeds x profiles x restart moments x downtimes."""
    return [
        SweepRun(i, seed, profile, duration_s, at, down, restart_from_journal)
        for i, (seed, profile, at, down) in enumerate(
            (seed, profile, at, down)
            for seed in seeds
            for profile in faults
            for at in restart_moments(sweep_seed, seed, profile, duration_s, restarts)
            for down in downtimes
        )
    ]


# --- executing ------------------------------------------------------------------------------


def _local_results(runs: Sequence[SweepRun], workers: int) -> Generator[RunResult, None, None]:
    """Results as they complete, from ``workers`` spawned processes (0: this process)."""
    if workers == 0:
        for run in runs:
            yield run_one(run)
        return
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(min(workers, len(runs)), mp_context=context)
    try:
        pending = {pool.submit(run_one, run): run for run in runs}
        for future in concurrent.futures.as_completed(pending):
            try:
                yield future.result()
            except Exception as exc:  # the worker process died, or the result did not pickle
                yield RunResult.raised(pending[future], exc, None)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_client(address: str) -> Client:
    """A client of the Dask scheduler at ``address``."""
    try:
        from dask.distributed import Client
    except ImportError as exc:
        raise SweepError(
            "--dask needs dask.distributed, which is not installed: install the package's "
            "`sweep` extra (pip install 'order-lifecycle[sweep]')"
        ) from exc
    try:
        return Client(address)  # type: ignore[no-untyped-call]
    except (OSError, ValueError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc


def _dask_results(client: Client, runs: Sequence[SweepRun]) -> Generator[RunResult, None, None]:
    """Results as they complete, from ``client.submit`` of :func:`run_one` per run."""
    from dask.distributed import as_completed

    futures: list[Future[RunResult]] = [client.submit(run_one, run, pure=False) for run in runs]
    run_of = {future.key: run for future, run in zip(futures, runs, strict=True)}
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            try:
                result: RunResult = future.result()
            except Exception as exc:  # the task was lost (a worker died) or cancelled
                result = RunResult.raised(run_of[future.key], exc, None)
            future.release()
            yield result
    finally:
        client.cancel(futures)  # type: ignore[no-untyped-call]


# --- reporting ------------------------------------------------------------------------------


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(max(0.0, seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class _Progress:
    """Progress on stderr: a bar redrawn in place on a terminal, else a line per 10 %."""

    def __init__(
        self, total: int, stream: TextIO, *, tty: bool, quiet: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.stream, self.tty, self.quiet, self.clock = total, stream, tty, quiet, clock
        self.done = self.failed = 0
        self.start = clock()
        self.decile = 0

    def update(self, ok: bool) -> None:
        """Count one finished run and show the progress if due."""
        self.done += 1
        self.failed += not ok
        if self.quiet:
            return
        elapsed = self.clock() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        if self.tty:
            filled = self.done * 30 // self.total
            self.stream.write(
                f"\rsweep: [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} runs, "
                f"{self.failed} failed, ETA {_duration(eta)}   "
                + ("\n" if self.done == self.total else "")
            )
            self.stream.flush()
            return
        decile = self.done * 10 // self.total
        if decile > self.decile:
            self.decile = decile
            print(
                f"sweep: {self.done * 100 // self.total:3d}% ({self.done}/{self.total} runs), "
                f"{self.failed} failed, {_duration(elapsed)} elapsed, ETA {_duration(eta)}",
                file=self.stream, flush=True,
            )


def summary_text(results: Sequence[RunResult], faults_order: Sequence[str] = ()) -> str:
    """The summary table (per fault profile x downtime: runs, failures, median wall s,
    largest magnitude of each invariant counter) and every failure with the
    command that reproduces it."""
    groups: dict[tuple[str, float], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.run.faults, result.run.downtime_s), []).append(result)
    order = {name: i for i, name in enumerate(faults_order)}
    keys = sorted(groups, key=lambda k: (order.get(k[0], len(order)), k))
    header = ["faults", "downtime", "runs", "failed", "median_s"]
    header += [_SHORT.get(name, name) for name in INVARIANTS]
    rows: list[list[str]] = []
    for label, members in [*((k, groups[k]) for k in keys), (None, list(results))]:
        walls = [r.wall_s for r in members if r.wall_s is not None]
        row = ["all", ""] if label is None else [label[0], _arg(label[1])]
        row += [str(len(members)), str(sum(not r.ok for r in members)),
                f"{statistics.median(walls):.2f}" if walls else "-"]
        for name in INVARIANTS:
            values = [r.counters[name] for r in members if name in r.counters]
            row.append(f"{max(values, key=abs):g}" if values else "-")
        rows.append(row)
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        rest = (f"{c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([f"{cells[0]:<{widths[0]}}", *rest])

    out = [line(cells) for cells in [header, *rows]]
    legend = ", ".join(f"{_SHORT[n]} = {n}" for n in INVARIANTS if n in _SHORT)
    out.append(f"(counters: the largest in magnitude over the runs; {legend})")
    failures = sorted((r for r in results if not r.ok), key=lambda r: r.run.index)
    if failures:
        out.append(f"failures ({len(failures)}):")
        for result in failures:
            out.append(f"  run {result.run.index}: {result.failure()}")
            out.append(f"    {result.run.command()}")
    return "\n".join(out)


# --- the command ----------------------------------------------------------------------------


def _seeds(text: str) -> list[int]:
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected A-B or a count N, got {text!r}")
    first, last = (int(match[1]), int(match[2])) if match[2] else (1, int(match[1]))
    if last < first:
        raise argparse.ArgumentTypeError(f"no seed in {text!r}")
    return list(range(first, last + 1))


def _profiles(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no fault profile given")
    try:
        for name in names:
            SimulationSpec(faults=name).profile()
    except KeyError as exc:  # names the known profiles
        raise argparse.ArgumentTypeError(str(exc.args[0])) from None
    return list(dict.fromkeys(names))


def _downtimes(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds like 0,1,10,60, got {text!r}") from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise argparse.ArgumentTypeError(f"downtimes must be finite and >= 0, got {text!r}")
    return sorted(set(values))


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be > 0 and finite (seconds), got {text}")
    return value


def _at_least(low: int) -> Callable[[str], int]:
    def count(text: str) -> int:
        if int(text) < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
        return int(text)

    return count


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``lifecycle sweep`` to ``parser``."""
    parser.add_argument("--seeds", type=_seeds, default="1-4", metavar="A-B|N",
                        help="exchange seeds: a range A-B, or a count N for 1-N (default: 1-4)")
    parser.add_argument("--faults", type=_profiles, default="default,harsh", metavar="P,P",
                        help="fault profiles, comma-separated (default: default,harsh)")
    parser.add_argument("--duration", type=_positive, default=600.0, metavar="SECONDS",
                        help="simulated seconds per run (default: 600)")
    parser.add_argument("--restarts", type=_at_least(1), default=5, metavar="N",
                        help="restart moments per (seed, profile), drawn at random (default: 5)")
    parser.add_argument("--sweep-seed", type=int, default=1, metavar="N",
                        help="seed of the restart moments (default: 1)")
    parser.add_argument("--downtimes", type=_downtimes, default="0,1,10,60", metavar="S,S",
                        help="seconds down at each restart moment (default: 0,1,10,60)")
    parser.add_argument("--restart-empty", action="store_true",
                        help="bring the bot back with an empty engine instead of its journal "
                             "(shows what the journal prevents; fails the invariants)")
    parser.add_argument("--workers", type=_at_least(0), default=None, metavar="N",
                        help="local worker processes (default: CPU count; 0: this process)")
    parser.add_argument("--dask", metavar="ADDRESS", help="run on the Dask scheduler at "
                        "ADDRESS instead (needs the `sweep` extra)")
    parser.add_argument("--out", metavar="FILE",
                        help="write one JSON line per run to FILE, as runs complete")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def sweep_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run ``lifecycle sweep``: the runs, the JSON lines, the summary.

    Returns:
        The exit status: 0 when every run is ok, 1 when one failed, 2 when the
        sweep cannot start.
    """
    runs = plan_runs(seeds=args.seeds, faults=args.faults, duration_s=args.duration,
                     restarts=args.restarts, downtimes=args.downtimes, sweep_seed=args.sweep_seed,
                     restart_from_journal=not args.restart_empty)
    workers: int = args.workers if args.workers is not None else (os.cpu_count() or 1)
    seeds: list[int] = args.seeds
    where = (
        f"on Dask at {args.dask}" if args.dask
        else "in this process" if workers == 0
        else f"on {min(workers, len(runs))} worker process(es)"
    )
    with contextlib.ExitStack() as stack:
        try:
            sink: IO[str] | None = None
            if args.out:
                sink = stack.enter_context(open(args.out, "w", encoding="utf-8"))
            if args.dask:
                client = _dask_client(args.dask)
                stack.callback(client.close)
                results = _dask_results(client, runs)
            else:
                results = _local_results(runs, workers)
            stack.enter_context(contextlib.closing(results))
        except (SweepError, OSError) as exc:
            print(f"sweep: {exc}", file=err)
            return 2
        if not args.quiet:
            print(
                f"sweep: {len(runs)} runs (seeds {seeds[0]}-{seeds[-1]} x {','.join(args.faults)}"
                f" x {args.restarts} restart(s) x downtimes {','.join(map(_arg, args.downtimes))})"
                f", {_arg(args.duration)} s each, {where}", file=err, flush=True,
            )
        progress = _Progress(len(runs), err, tty=err.isatty(), quiet=args.quiet)
        done: list[RunResult] = []
        start = time.perf_counter()
        for result in results:
            done.append(result)
            if sink is not None:
                sink.write(json.dumps(result.to_json(), sort_keys=True) + "\n")
                sink.flush()
            progress.update(result.ok)
        wall = time.perf_counter() - start
    failed = sum(not r.ok for r in done)
    busy = sum(r.wall_s or 0.0 for r in done)
    print(summary_text(done, args.faults), file=out)
    print(f"{len(done)} runs in {wall:.1f} s wall ({busy:.1f} s of runs)", file=out)
    if failed:
        print(f"FAILED: {failed} of {len(done)} runs", file=out)
        return 1
    print(f"OK: every invariant counter is 0 in all {len(done)} runs", file=out)
    return 0
