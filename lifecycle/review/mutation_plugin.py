"""The pytest side of transition mutation testing: options, recording, the pass, the report.

Theory of operation
-------------------
:func:`add_options` declares the ``--lifecycle-mutate*`` options and their ini
keys; :meth:`MutationPass.from_config` reads them and, when any asks for the
pass, the returned :class:`MutationPass` is registered as a plugin of the
session. During the session it feeds an
:class:`~lifecycle.review.mutation_record.EdgeRecorder`: which test runs
(around each test's protocol), which shared fixture is being set up, how long
each test took and whether it passed. At the end of a session in which every
test passed, it runs the pass (:mod:`lifecycle.review.mutation_run`) before any
other plugin cleans up (temporary directories are still there), writes the JSON
report, fails the session under the threshold, and prints the report in the
terminal summary.

Tests are set aside (never run against a mutation) by the
``lifecycle_no_mutate`` marker or by a node id pattern
(``--lifecycle-mutate-exclude`` / the ``lifecycle_mutate_exclude`` ini lines,
shell-style wildcards matched against whole node ids). Set aside a test that
notices any change of the table by construction, such as one comparing the
committed diagram with a fresh rendering: it would catch every mutation and
tell nothing.
"""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable, Generator, Hashable
from pathlib import Path
from typing import Any

import pytest

from lifecycle.review.mutation import table_mutations
from lifecycle.review.mutation_apply import find_consumers
from lifecycle.review.mutation_record import EdgeRecorder
from lifecycle.review.mutation_report import MutationReport, MutationResult
from lifecycle.review.mutation_run import ForkRunner

__all__ = ["MARKER", "MutationPass", "add_options"]

#: The marker that sets a test aside from the mutation pass.
MARKER = "lifecycle_no_mutate"


def add_options(group: Any, parser: pytest.Parser) -> None:
    """Declare the ``--lifecycle-mutate*`` options on ``group`` and their ini keys."""
    group.addoption(
        "--lifecycle-mutate", action="store_true", default=None,
        help="after the tests, break each lifecycle edge (removed, retargeted) and run the "
        "tests that reached it again: report the edges no test checks",
    )
    group.addoption(
        "--lifecycle-mutate-fail-under", metavar="PCT", default=None,
        help="fail if less than PCT %% of the table mutations were caught",
    )
    group.addoption(
        "--lifecycle-mutate-json", metavar="PATH", default=None,
        help="write the transition mutation report as JSON to PATH",
    )
    group.addoption(
        "--lifecycle-mutate-exclude", metavar="PATTERN", action="append", default=None,
        help="never run tests whose node id matches PATTERN (shell wildcards) against a "
        "mutation; repeatable",
    )
    group.addoption(
        "--lifecycle-mutate-jobs", metavar="N", default=None,
        help="mutations run at once (default 1; 'auto': one per CPU)",
    )
    group.addoption(
        "--lifecycle-mutate-timeout", metavar="SECONDS", default=None,
        help="time a test may take against a mutation, on top of ten times its normal "
        "duration (default 60); a test past it catches the mutation",
    )
    parser.addini("lifecycle_mutate", "run the transition mutation pass", type="bool")
    parser.addini(
        "lifecycle_mutate_fail_under", "minimum transition mutation score in %", default=""
    )
    parser.addini("lifecycle_mutate_json", "path of the mutation JSON report", default="")
    parser.addini(
        "lifecycle_mutate_exclude", "node id patterns never run against a mutation", "linelist"
    )
    parser.addini("lifecycle_mutate_jobs", "mutations run at once", default="")
    parser.addini("lifecycle_mutate_timeout", "extra seconds per test in the pass", default="")


def _setting(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"--{name.replace('_', '-')}")
    if value is None:
        value = config.getini(name)
    return str(value or "").strip()


def _number(text: str, option: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise pytest.UsageError(f"{option}: not a number: {text!r}") from None
    if not low <= value <= high:
        raise pytest.UsageError(f"{option}: must be between {low:g} and {high:g}, got {text}")
    return value


def _jobs(text: str) -> int:
    if not text:
        return 1
    if text == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(
            f"--lifecycle-mutate-jobs: a whole number of at least 1 or 'auto', got {text!r}"
        )
    return int(text)


class MutationPass:
    """The mutation pass of one session (a pytest plugin object; see the module docstring)."""

    def __init__(
        self,
        *,
        fail_under: float | None,
        json_path: str,
        exclude: tuple[str, ...],
        jobs: int,
        timeout: float,
    ) -> None:
        self.fail_under = fail_under
        self.json_path = json_path
        self.exclude = exclude
        self.jobs = jobs
        self.timeout = timeout
        self.recorder = EdgeRecorder()
        self.report: MutationReport | None = None
        self.not_run = ""
        self.failed = False
        self.written: list[Path] = []
        self.in_child = False
        #: Called in each child to stop other recording of the session there.
        self.quiet_others: Callable[[], None] = lambda: None

    @classmethod
    def from_config(cls, config: pytest.Config) -> MutationPass | None:
        """The pass the options ask for, or None when none does.

        Raises:
            pytest.UsageError: An option has a bad value (named in the message).
        """
        fail_under_text = _setting(config, "lifecycle_mutate_fail_under")
        json_path = _setting(config, "lifecycle_mutate_json")
        enabled = config.getoption("--lifecycle-mutate")
        if enabled is None:
            enabled = bool(config.getini("lifecycle_mutate"))
        if not (enabled or fail_under_text or json_path):
            return None
        fail_under = None
        if fail_under_text:
            fail_under = _number(fail_under_text, "--lifecycle-mutate-fail-under", 0, 100)
        timeout_text = _setting(config, "lifecycle_mutate_timeout")
        timeout = 60.0
        if timeout_text:
            timeout = _number(timeout_text, "--lifecycle-mutate-timeout", 0.001, float("inf"))
        if config.getoption("numprocesses", None):
            raise pytest.UsageError(
                "--lifecycle-mutate: cannot run under pytest-xdist (-n); the pass needs "
                "the tests run in one process"
            )
        exclude = tuple(config.getoption("--lifecycle-mutate-exclude") or ()) + tuple(
            str(p) for p in config.getini("lifecycle_mutate_exclude")
        )
        return cls(
            fail_under=fail_under,
            json_path=json_path,
            exclude=tuple(p.strip() for p in exclude if p.strip()),
            jobs=_jobs(_setting(config, "lifecycle_mutate_jobs")),
            timeout=timeout,
        )

    # --- recording ------------------------------------------------------------------

    def start(self) -> None:
        """Start recording which test fires which edge."""
        self.recorder.start()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        """Attribute the edges fired while ``item`` runs to it."""
        if self.in_child:
            return (yield)
        self.recorder.enter_test(item.nodeid)
        try:
            return (yield)
        finally:
            self.recorder.leave_test()

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any]
    ) -> Generator[None, object, object]:
        """Attribute the edges fired while a shared fixture is set up to that fixture."""
        if self.in_child or fixturedef.scope == "function":
            return (yield)
        self.recorder.enter_fixture(fixturedef)
        try:
            return (yield)
        finally:
            self.recorder.leave_fixture()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Note each phase's duration and whether it passed."""
        if not self.in_child:
            clean = report.passed and not hasattr(report, "wasxfail")
            self.recorder.phase(report.nodeid, report.duration, passed=clean)

    # --- the pass -------------------------------------------------------------------

    def _quiet(self) -> None:
        self.in_child = True
        self.recorder.stop()
        self.quiet_others()

    def _set_aside(self, item: pytest.Item) -> bool:
        if item.get_closest_marker(MARKER) is not None:
            return True
        return any(fnmatch.fnmatchcase(item.nodeid, p) for p in self.exclude)

    @staticmethod
    def _shared_fixtures(item: pytest.Item) -> list[Hashable]:
        info = getattr(item, "_fixtureinfo", None)
        defs = getattr(info, "name2fixturedefs", {}) or {}
        return [d for chain in defs.values() for d in chain if d.scope != "function"]

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Run the pass (if the tests passed), write JSON, apply the threshold."""
        if self.in_child:
            return
        self.recorder.stop()
        if session.config.option.collectonly:
            self.not_run = "not run: no test ran (--collect-only)"
            return
        if exitstatus != pytest.ExitCode.OK or session.testsfailed:
            self.not_run = f"not run: the tests did not all pass (exit status {int(exitstatus)})"
            return
        if not hasattr(os, "fork"):
            self.not_run = "not run: the pass needs os.fork, which this platform lacks"
            self._verdict(session, None)
            return
        self.report = self._run(session)
        if self.json_path:
            self.written.append(self.report.write_json(self.json_path))
        self._verdict(session, self.report)

    def _run(self, session: pytest.Session) -> MutationReport:
        started = time.monotonic()
        items = {item.nodeid: item for item in session.items}
        set_aside = {n for n, item in items.items() if self._set_aside(item)}
        uses = {n: self._shared_fixtures(item) for n, item in items.items()}
        reaching = self.recorder.reaching(uses)
        mutations, skipped = table_mutations()
        plans, unreached = [], []
        for mutation in mutations:
            tests = [
                t for t in reaching.get(mutation.edge, ()) if t in items and t not in set_aside
            ]
            if tests:
                plans.append((mutation, tests))
            else:
                unreached.append(mutation)
        consumers = find_consumers()
        runner = ForkRunner(
            session, items, dict(self.recorder.seconds), consumers,
            jobs=self.jobs, timeout=self.timeout, quiet=self._quiet,
        )
        outcomes = runner.run(plans)
        return MutationReport(
            results=tuple(MutationResult(m, outcomes[m], tuple(tests)) for m, tests in plans),
            skipped=skipped,
            unreached=tuple(unreached),
            set_aside=tuple(sorted(set_aside)),
            unreliable=tuple(sorted(runner.unreliable.items())),
            not_rederived=consumers.unhandled,
            test_runs=runner.test_runs,
            jobs=self.jobs,
            seconds=time.monotonic() - started,
        )

    def _verdict(self, session: pytest.Session, report: MutationReport | None) -> None:
        if self.fail_under is None:
            return
        if report is None or report.score < self.fail_under or report.errors:
            self.failed = True
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print the report and the verdict."""
        if self.in_child:
            return
        terminalreporter.section("lifecycle transition mutation")
        if self.report is None:
            terminalreporter.write_line(self.not_run or "not run")
        else:
            verbose = terminalreporter.config.get_verbosity() > 0
            for line in self.report.text(verbose=verbose).splitlines():
                terminalreporter.write_line(line)
        for path in self.written:
            terminalreporter.write_line(f"wrote {path}")
        if self.fail_under is None or (self.report is None and not self.failed):
            return
        score = f"{self.report.score:.1f} %" if self.report is not None else "not measured"
        if not self.failed:
            terminalreporter.write_line(
                f"required transition mutation score of {self.fail_under:g} % reached: {score}",
                green=True,
            )
            return
        errors = len(self.report.errors) if self.report is not None else 0
        extra = f" ({errors} mutation(s) not judged)" if errors else ""
        terminalreporter.write_line(
            f"FAIL required transition mutation score of {self.fail_under:g} % not reached: "
            f"{score}{extra}",
            red=True,
        )

    def pytest_unconfigure(self) -> None:
        """Stop recording if the session ended early."""
        self.recorder.stop()
