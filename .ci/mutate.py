"""Mutation testing of the sans-I/O layers: the driver behind `make mutate`.

Theory of operation
-------------------
mutmut 3 copies `lifecycle/` into `mutants/`, rewrites every function of the modules that
setup.cfg's `[mutmut]` section names (`lifecycle/core`, `lifecycle/engine`,
`lifecycle/policy`) into a trampoline, runs the tests once to learn which tests reach which
function, then runs, per mutant, only those tests with that one mutant switched on. A
mutant is *killed* when a test fails (or it times out); it *survives* when every test
that reaches it still passes: behaviour that no test pins down.

The tests import the copy in `mutants/`, not the installed package: mutmut puts
`mutants/` first on `sys.path` and takes the project root off it, so `lifecycle` (and
everything below it) loads from the copy, while `lifecycle.adapters`, which the copy does
not hold, still comes from `adapters/` through the editable install. Before a run this
driver checks that resolution in a fresh interpreter; mutmut checks it again with its
forced-failure run (every trampoline raises, so at least one test must fail).

Tests that cannot see the mutants, or that are too slow to run once per mutant, are set
aside through `PYTEST_ADDOPTS` (pytest reads it inside mutmut's in-process runs too):
whole-simulation runs, sweeps, crash tests (a bot in a subprocess), benchmarks, tests that
start a subprocess (it imports the installed package, never the mutants), tests that
scan the source files (they would read the trampolines), and the long sessions and extra
random blocks of a few suites (:data:`LONG_SESSIONS`), which cost most of a run.

Steps: check the setup; remove the verdicts of an earlier run unless `--resume` or
`--retest` keeps them (mutmut keeps a survivor's verdict even after a new test would kill
it); choose the mutants (every mutant of the chosen modules, those matching `--match`, a
seeded sample of N, or the last run's survivors); run `mutmut run`, passing its progress
on; read the verdicts back from `mutants/**/*.meta`; print each survivor with the lines it
changes and the score per module (`mutate_report.py`). Survivors recorded in
`.ci/mutation_judged.txt` as equivalent or wording-only (while they still make the recorded
change) are listed apart, after the unexplained ones.

Exit status: 0 whatever survives; 1 when `--fail-under` is given and the score is below
it (the score of every mutant with a verdict: killed and timed out over all of them; with
`--unexplained-only`, the score that leaves out judged and wording-only survivors, so that
only unexplained survivors count against it); 2 on a setup error, a failing clean test run
inside mutmut or a malformed `mutation_judged.txt` included.
"""

from __future__ import annotations

import argparse
import codecs
import configparser
import fnmatch
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mutate_report import JUDGED_FILE, Judgement, Tally, load_judgements, module_of, report

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("core", "engine", "policy")
WORKDIR = Path("mutants")

# Whole simulations, sweeps, SIGKILL crash tests, benchmarks, the review layer's renderings
# (Graphviz, Chromium) and the Hyperliquid adapter with its loopback exchange (sockets and
# processes; adapters are not mutated): seconds each, per mutant.
SLOW_TESTS = (
    "tests/test_simulate.py",
    "tests/test_sim_properties.py",
    "tests/test_sim_hl_loopback.py",
    "tests/test_output_text.py",
    "tests/test_sweep.py",
    "tests/test_crash.py",
    "tests/test_bench*.py",
    "tests/test_review*.py",
    "tests/test_diagram*.py",
    "tests/test_hl_*.py",
    "tests/test_loopback_*.py",
)
# Long sessions and the extra random blocks of the reconciler's equivalence sweep (block 0
# of each stays): together they were two thirds of a full run's time.
EQUIVALENCE = "tests/test_reconciler_equivalence.py::test_"
LONG_SESSIONS = (
    *(f"{EQUIVALENCE}random_cases_plan_as_the_reference[{b}]" for b in range(1, 6)),
    *(f"{EQUIVALENCE}threshold_boundaries_plan_as_the_reference[{b}]" for b in range(1, 4)),
    *(f"{EQUIVALENCE}steady_quoting_plans_as_the_reference[{b}]" for b in range(1, 3)),
    "tests/test_journal.py::test_replay_long_session_with_the_engines_own_sync_rebuilds_its_memory",
    "tests/test_journal.py::test_recover_long_session_with_the_engines_own_sync_at_random_points",
    "tests/test_journal.py::test_recover_after_crash_at_random_points_restores_the_working_set",
    "tests/test_journal.py::test_replay_long_session_rebuilds_every_order_position_and_ledger",
    "tests/test_checkpoint.py::test_recover_at_random_points_equals_the_live_engine_and_a_full_replay",
    "tests/test_runtime.py::test_runtime_ambiguous_placement_not_executed_ends_never_placed_after_ttl",
)
# A subprocess (or pytester) imports the installed package, not the mutants: the CLI tests,
# the README's commands, the plugins' pytester runs. A scan of the source files reads the
# trampolines; the documentation is built from mkdocs.yml and docs/, which the copy lacks;
# the report's own tests read .ci/, which the copy lacks too. None of them can judge a mutant.
BLIND_TESTS = (
    "tests/test_cli*.py",
    "tests/test_readme.py",
    "tests/test_public_api.py",
    "tests/test_pytest_plugin.py",
    "tests/test_transition_mutation.py",
    "tests/test_layers.py",
    "tests/test_docs.py",
    "tests/test_mutate_report.py",
)
BLIND_NODES = (
    "tests/test_ratelimit.py::test_simulation_with_one_second_syncs_under_harsh_faults_ends",
)
# Property tests draw the same examples in every mutant's run.
FIXED_ARGS = ("-p", "no:cacheprovider", "--hypothesis-seed=0")

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class SetupError(Exception):
    """The run cannot start or did not finish: the message says what to fix."""


class Interrupted(Exception):
    """Ctrl-C or a ``kill``: mutmut and its workers were stopped, the verdicts kept."""


@dataclass
class Plan:
    """What to hand to `mutmut run` and which verdicts the report counts."""

    names: list[str]  # mutant names or globs; empty: every mutant without a verdict
    run: bool
    wanted: set[str] | None  # exact names; None: every mutant the filters admit


def say(message: str) -> None:
    """Progress of the driver itself, marked apart from mutmut's own output."""
    print(f"[mutate] {message}", flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make mutate MUTATE_ARGS=...",
        description="Mutation testing of lifecycle/core, lifecycle/engine and lifecycle/policy.",
    )
    parser.add_argument("--modules", default=",".join(MODULES),
                        help="comma-separated subset of %(default)s")
    parser.add_argument("--match", action="append", default=[], metavar="GLOB",
                        help="only mutants whose name matches GLOB, e.g. "
                             "'lifecycle.policy.safety_sync.*' (repeatable)")
    parser.add_argument("--sample", type=int, metavar="N",
                        help="run a seeded random sample of N mutants instead of all of them")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of --sample (default %(default)s)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="J",
                        help="mutants run at once (default: the CPU count, %(default)s)")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("--resume", action="store_true",
                      help="keep the last run's verdicts; run only the mutants without one")
    keep.add_argument("--retest", action="store_true",
                      help="keep the last run's verdicts; run its survivors again "
                           "(after adding tests)")
    keep.add_argument("--report-only", action="store_true",
                      help="run nothing; print the verdicts of the last run")
    keep.add_argument("--list", action="store_true",
                      help="run nothing; print how many mutants each module has")
    parser.add_argument("--names-only", action="store_true",
                        help="print each survivor's name without the lines it changes")
    parser.add_argument("--fail-under", type=float, metavar="PCT",
                        help="exit 1 when the score of the chosen mutants (killed and timed "
                             "out over all with a verdict) is below PCT")
    parser.add_argument("--unexplained-only", action="store_true",
                        help="with --fail-under: compare the score that leaves out the "
                             f"survivors judged in {JUDGED_FILE.name} and the wording-only "
                             "ones (the report's 'sans' column)")
    args = parser.parse_args(argv)
    modules = {m.strip() for m in args.modules.split(",") if m.strip()}
    unknown = sorted(modules - set(MODULES))
    if unknown or not modules:
        parser.error(f"--modules: {', '.join(unknown) or 'none given'}; "
                     f"choose among {', '.join(MODULES)}")
    args.modules = tuple(m for m in MODULES if m in modules)
    if args.sample is not None and args.sample < 1:
        parser.error(f"--sample must be at least 1, not {args.sample}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    if args.fail_under is not None and not 0 <= args.fail_under <= 100:
        parser.error(f"--fail-under is a percentage from 0 to 100, not {args.fail_under}")
    if args.unexplained_only and args.fail_under is None:
        parser.error("--unexplained-only applies to --fail-under, which is not given")
    return args


def check_setup() -> Path:
    """The mutmut executable, once mutmut 3 and the `[mutmut]` section are in place."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mutmut")
    except PackageNotFoundError as exc:
        raise SetupError(f"mutmut is not installed in {sys.prefix} (`make mutate` "
                         "installs the test extra)") from exc
    if found.split(".")[0] != "3":
        raise SetupError(f"mutmut 3 is needed, {found} is installed")
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    if not parser.has_option("mutmut", "source_paths"):
        raise SetupError("setup.cfg has no [mutmut] section naming source_paths")
    executable = Path(sys.executable).parent / "mutmut"
    if not executable.exists():
        raise SetupError(f"no mutmut executable beside {sys.executable}")
    return executable


def check_resolution() -> None:
    """Fail unless a fresh interpreter set up as mutmut does loads `lifecycle` from the copy.

    mutmut inserts `mutants/` first on `sys.path` and removes the project root; the probe
    does the same and asks where each package comes from.
    """
    mods = ("lifecycle.core.order", "lifecycle.engine.facade", "lifecycle.policy.reconciler",
            "lifecycle.adapters")
    probe = (
        "import importlib, pathlib, sys\n"
        "root = pathlib.Path.cwd().resolve()\n"
        "sys.path[:] = [p for p in sys.path if pathlib.Path(p or '.').resolve() != root]\n"
        "sys.path.insert(0, str(root / 'mutants'))\n"
        f"for name in {mods!r}:\n"
        "    print(importlib.import_module(name).__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False, env=env)
    if done.returncode != 0:
        raise SetupError(f"the copy in {WORKDIR}/ does not import:\n{done.stderr.strip()}")
    *ours, adapters = (Path(line).resolve() for line in done.stdout.split())
    copy = (ROOT / WORKDIR).resolve()
    stray = [str(path) for path in ours if copy not in path.parents]
    if stray:
        raise SetupError(f"the tests would import the unmutated source, not {copy}: {stray}")
    if copy in adapters.parents:
        raise SetupError(f"lifecycle.adapters unexpectedly loads from the copy: {adapters}")


def mutatable_files(modules: Sequence[str]) -> list[Path]:
    found = (p for m in modules for p in (ROOT / "lifecycle" / m).glob("*.py"))
    return sorted(p.relative_to(ROOT) for p in found)


def admitted(name: str, modules: Sequence[str], globs: Sequence[str]) -> bool:
    return module_of(name) in modules and (
        not globs or any(fnmatch.fnmatchcase(name, g) for g in globs))


def enumerate_mutants(modules: Sequence[str], globs: Sequence[str]) -> list[str]:
    """Every mutant name the filters admit, generated the way `mutmut run` generates them."""
    from mutmut.mutation.file_mutation import mutate_file_contents
    from mutmut.utils.format_utils import get_mutant_name

    names: list[str] = []
    for path in mutatable_files(modules):
        mutated = mutate_file_contents(str(path), path.read_text(encoding="utf-8"))
        names.extend(get_mutant_name(path, name) for name in mutated.mutant_names)
    return sorted(n for n in names if admitted(n, modules, globs))


def read_verdicts(modules: Sequence[str], globs: Sequence[str]) -> dict[str, int | None]:
    """Mutant name -> mutmut's exit code (None: not run), from the last run's meta files."""
    verdicts: dict[str, int | None] = {}
    for path in mutatable_files(modules):
        meta = WORKDIR / f"{path}.meta"
        if meta.exists():
            codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
            verdicts.update((k, v) for k, v in codes.items() if admitted(k, modules, globs))
    return verdicts


def plan(args: argparse.Namespace) -> Plan:
    modules, globs = args.modules, args.match
    if args.retest:
        verdicts = read_verdicts(modules, globs)
        again = sorted(n for n, code in verdicts.items() if code in (0, None))
        say(f"retest: {len(again)} survivors and unjudged mutants of the last run")
        return Plan(again, bool(again), None)
    if args.sample is not None:
        every = enumerate_mutants(modules, globs)
        chosen = sorted(random.Random(args.seed).sample(every, min(args.sample, len(every))))
        say(f"sample: {len(chosen)} of {len(every)} mutants, seed {args.seed}")
        names = chosen
        if args.resume:
            verdicts = read_verdicts(modules, globs)
            names = [n for n in chosen if verdicts.get(n) is None]
        return Plan(names, bool(names) and not args.report_only, set(chosen))
    if args.resume and (globs or modules != MODULES):
        verdicts = read_verdicts(modules, globs)
        names = sorted(n for n, code in verdicts.items() if code is None)
        return Plan(names, bool(names), None)
    scope = globs or ([] if modules == MODULES else [f"lifecycle.{m}.*" for m in modules])
    return Plan(list(scope), not args.report_only, None)


def pytest_addopts() -> str:
    aside = [f"--ignore-glob={path}" for path in (*SLOW_TESTS, *BLIND_TESTS)]
    aside += [f"--deselect={node}" for node in (*LONG_SESSIONS, *BLIND_NODES)]
    return " ".join([os.environ.get("PYTEST_ADDOPTS", ""), *FIXED_ARGS, *aside]).strip()


class Echo:
    """Pass mutmut's output on, without the per-mutant list it prints after a named run.

    mutmut redraws one status line with carriage returns. A terminal gets it as it is; a
    file or pipe gets each new status once as a line, and the mutation counter at most
    every `every_s` seconds.
    """

    MARKER = "\nMutant results\n"

    def __init__(self, tty: bool, every_s: float = 30.0) -> None:
        self.tty, self.every_s = tty, every_s
        self.pending, self.label, self.at, self.unshown = "", "", 0.0, ""
        self.done = False

    def feed(self, text: str) -> None:
        if self.done:
            return
        text = self.pending + text
        cut = text.find(self.MARKER)
        if cut >= 0:
            text, self.done = text[:cut + 1], True
        if self.tty:
            self.pending = text[-len(self.MARKER):] if not self.done else ""
            self._write(text[:len(text) - len(self.pending)])
            return
        *pieces, self.pending = text.replace("\r", "\n").split("\n")
        for piece in pieces:
            self._line(piece)

    def close(self) -> None:
        if self.tty:
            self._write(self.pending)
        elif self.pending:
            self._line(self.pending, force=True)
        elif self.unshown:
            self._write(f"  {self.unshown}\n")  # the counter as it ended
        self.pending = self.unshown = ""

    def _line(self, line: str, force: bool = False) -> None:
        if not line.strip():
            return
        if line[0] not in SPINNER:
            self._write(line + "\n")
            return
        status = line[1:].strip()
        label = "mutating" if status[:1].isdigit() else status
        now = time.monotonic()
        again = label == "mutating" and now - self.at >= self.every_s
        if force or label != self.label or again:
            self._write(f"  {status}\n")
            self.label, self.at, self.unshown = label, now, ""
        else:
            self.unshown = status

    @staticmethod
    def _write(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()


def run_mutmut(executable: Path, names: Sequence[str], jobs: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # it could shadow the copy
    env["PYTEST_ADDOPTS"] = pytest_addopts()
    command = [str(executable), "run", "--max-children", str(jobs), *names]
    shown = f" <{len(names)} mutant names or globs>" if len(names) > 4 else "".join(
        f" {n}" for n in names)
    say(f"running: mutmut run --max-children {jobs}{shown}")
    say(f"PYTEST_ADDOPTS={env['PYTEST_ADDOPTS']}")
    echo = Echo(tty=sys.stdout.isatty())
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # Its own process group: an interrupt stops mutmut and every worker it forked.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          env=env, start_new_session=True) as proc:
        assert proc.stdout is not None
        try:
            while data := os.read(proc.stdout.fileno(), 65536):
                echo.feed(decoder.decode(data))
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            echo.close()
            raise Interrupted from None
        echo.feed(decoder.decode(b"", final=True))
        echo.close()
        code = proc.wait()
    print(flush=True)
    if code != 0:
        raise SetupError(f"mutmut run exited {code}; see its output above (a failing clean "
                         "run, tests that cannot see the mutants, or an interrupted run)")


def show(args: argparse.Namespace, wanted: set[str] | None,
         judgements: dict[str, Judgement]) -> Tally:
    """Print the report of the mutants chosen by ``args`` (``wanted``: a sample's names)."""
    verdicts = read_verdicts(args.modules, args.match)
    if wanted is not None:
        verdicts = {name: verdicts.get(name) for name in wanted}
    scope = "the sample" if wanted is not None else ", ".join(args.match) or "every mutant"
    return report(verdicts, args.modules, scope, args.names_only, judgements)


def gate_score(total: Tally, unexplained_only: bool) -> float | None:
    """The score `--fail-under` compares: every survivor counts, or only unexplained ones."""
    return total.unexplained_score() if unexplained_only else total.score()


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # a `kill` stops the run as Ctrl-C does, workers included


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)
    os.chdir(ROOT)
    started = time.monotonic()
    try:
        executable = check_setup()
        try:  # read before the run, so that a malformed line does not wait for its end
            judgements = load_judgements()
        except ValueError as exc:
            raise SetupError(str(exc)) from None
        if args.list:
            names = enumerate_mutants(args.modules, args.match)
            for m in args.modules:
                say(f"{m}: {sum(module_of(n) == m for n in names)} mutants")
            say(f"total: {len(names)} mutants")
            return 0
        keep = args.resume or args.retest or args.report_only
        if keep and not WORKDIR.exists():
            raise SetupError(f"no {WORKDIR}/ of an earlier run: run without "
                             "--resume, --retest or --report-only first")
        if WORKDIR.exists() and not keep:
            say(f"removing the last run's {WORKDIR}/ (--resume or --retest keep it)")
            shutil.rmtree(WORKDIR)
        todo = plan(args)
        if todo.run:
            WORKDIR.mkdir(exist_ok=True)
            # The same copy mutmut makes (equal mtimes tell it the files are not mutated
            # yet), made early so that the import probe can run before mutmut starts.
            shutil.copytree("lifecycle", WORKDIR / "lifecycle", dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__"))
            check_resolution()
            run_mutmut(executable, todo.names, args.jobs)
        elif not args.report_only:
            say("nothing to run: every chosen mutant already has a verdict")
    except SetupError as exc:
        say(f"setup error: {exc}")
        return 2
    except Interrupted:
        say("interrupted: the verdicts so far are kept (--resume goes on from them)")
        show(args, todo.wanted, judgements)
        return 130
    total = show(args, todo.wanted, judgements)
    say(f"done in {time.monotonic() - started:.0f} s")
    score = gate_score(total, args.unexplained_only)
    if args.fail_under is not None and (score is None or score < args.fail_under):
        which = ("the score without judged and wording survivors" if args.unexplained_only
                 else "the score")
        say(f"{which} is under --fail-under {args.fail_under}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
