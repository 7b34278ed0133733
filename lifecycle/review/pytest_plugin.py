"""The pytest plugin: transition coverage and transition mutation testing of a session.

Installed with the package through the ``pytest11`` entry point, so any
project that installs ``order-lifecycle`` has it. Everything is off unless
asked for, on the command line or as ini keys of the same names (dashes
become underscores: ``lifecycle_cov_fail_under = 100``).

Transition coverage:

``--lifecycle-cov``
    Record every edge fired by every machine during the session (those built
    inside your own fixtures included) and print the coverage: the percentage,
    each uncovered edge with what fires its trigger, and a one-line count of
    the refused illegal triggers; with ``-v``, every edge with its hits and
    every refused trigger.
``--lifecycle-cov-fail-under=PCT``
    Fail the session when less than PCT % of the legal edges were hit.
``--lifecycle-cov-json=PATH``
    Write the report as JSON.
``--lifecycle-cov-diagram=PATH``
    Draw the lifecycle with edges weighted by hits and uncovered edges dashed
    red; the format is the suffix (``.svg`` or ``.png``).

Each of the last three turns collection on by itself.

Transition mutation testing (:mod:`lifecycle.review.mutation` explains it):

``--lifecycle-mutate``
    After the tests, break every legal edge in turn (removed from the table,
    then retargeted to another destination), run again the tests that reached
    it, and report the edges whose breakage no test notices ("reached but
    never checked"), with the tests that reach them, and the mutation score.
``--lifecycle-mutate-fail-under=PCT``
    Fail the session when less than PCT % of the mutations were caught (or
    when some could not be judged).
``--lifecycle-mutate-json=PATH``
    Write the mutation report as JSON.
``--lifecycle-mutate-exclude=PATTERN``
    Never run tests whose node id matches PATTERN against a mutation
    (repeatable; ini: ``lifecycle_mutate_exclude``, one pattern a line). The
    ``lifecycle_no_mutate`` marker does the same for one test.
``--lifecycle-mutate-jobs=N``
    Mutations run at once (default 1; ``auto``: one per CPU).
``--lifecycle-mutate-timeout=SECONDS``
    Time a test may take against a mutation on top of ten times its normal
    duration (default 60); a test that hangs catches the mutation.

The first three turn the pass on by itself. The pass runs only when every test
passed; ``-v`` lists every mutation and every test reaching an unchecked edge.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.review.coverage import CoverageReport, TransitionCoverage
from lifecycle.review.mutation_plugin import MARKER, MutationPass, add_options

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_unconfigure",
]

_KEY = pytest.StashKey["_Collector"]()
_MARKER_HELP = (
    f"{MARKER}: never run this test against a mutated lifecycle table "
    "(for tests that notice any change of the table by construction)"
)


class _Collector:
    def __init__(self, fail_under: float | None, json_path: str, diagram_path: str) -> None:
        self.coverage = TransitionCoverage()
        self.fail_under = fail_under
        self.json_path = json_path
        self.diagram_path = diagram_path
        self.report: CoverageReport | None = None
        self.failed = False
        self.written: list[Path] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--lifecycle-cov*`` and ``--lifecycle-mutate*`` options and their ini keys."""
    group = parser.getgroup("lifecycle", "order lifecycle transition coverage and mutation")
    group.addoption(
        "--lifecycle-cov", action="store_true", default=None,
        help="record which lifecycle transitions the tests fire and report them",
    )
    group.addoption(
        "--lifecycle-cov-fail-under", metavar="PCT", default=None,
        help="fail if less than PCT %% of the legal transitions were fired",
    )
    group.addoption(
        "--lifecycle-cov-json", metavar="PATH", default=None,
        help="write the transition coverage report as JSON to PATH",
    )
    group.addoption(
        "--lifecycle-cov-diagram", metavar="PATH", default=None,
        help="draw the coverage diagram to PATH (.svg or .png)",
    )
    parser.addini("lifecycle_cov", "record lifecycle transition coverage", type="bool")
    parser.addini("lifecycle_cov_fail_under", "minimum transition coverage in %", default="")
    parser.addini("lifecycle_cov_json", "path of the coverage JSON report", default="")
    parser.addini("lifecycle_cov_diagram", "path of the coverage diagram", default="")
    add_options(group, parser)


def _setting(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"--{name.replace('_', '-')}")
    if value is None:
        value = config.getini(name)
    return str(value or "")


def pytest_configure(config: pytest.Config) -> None:
    """Start what the ``--lifecycle-cov*`` and ``--lifecycle-mutate*`` options ask for."""
    config.addinivalue_line("markers", _MARKER_HELP)
    mutation = MutationPass.from_config(config)
    _configure_coverage(config)
    if mutation is not None:
        collector = config.stash.get(_KEY, None)
        if collector is not None:
            mutation.quiet_others = collector.coverage.stop
        mutation.start()
        config.pluginmanager.register(mutation, "lifecycle-mutation")


def _configure_coverage(config: pytest.Config) -> None:
    fail_under_text = _setting(config, "lifecycle_cov_fail_under")
    json_path = _setting(config, "lifecycle_cov_json")
    diagram_path = _setting(config, "lifecycle_cov_diagram")
    enabled = config.getoption("--lifecycle-cov")
    if enabled is None:
        enabled = bool(config.getini("lifecycle_cov"))
    if not (enabled or fail_under_text or json_path or diagram_path):
        return
    fail_under: float | None = None
    if fail_under_text:
        try:
            fail_under = float(fail_under_text)
        except ValueError:
            raise pytest.UsageError(
                f"--lifecycle-cov-fail-under: not a number: {fail_under_text!r}"
            ) from None
        if not 0 <= fail_under <= 100:
            raise pytest.UsageError(
                f"--lifecycle-cov-fail-under: must be between 0 and 100, got {fail_under}"
            )
    if diagram_path and Path(diagram_path).suffix.lower() not in (".svg", ".png"):
        raise pytest.UsageError(
            f"--lifecycle-cov-diagram: path must end in .svg or .png, got {diagram_path!r}"
        )
    collector = _Collector(fail_under, json_path, diagram_path)
    collector.coverage.start()
    config.stash[_KEY] = collector


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Build the report, write the files, and fail the session under the threshold."""
    collector = session.config.stash.get(_KEY, None)
    if collector is None:
        return
    collector.coverage.stop()
    report = collector.report = collector.coverage.report()
    if collector.json_path:
        collector.written.append(report.write_json(collector.json_path))
    if collector.diagram_path:
        collector.written.append(report.write_diagram(collector.diagram_path))
    if collector.fail_under is not None and report.percent < collector.fail_under:
        collector.failed = True
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the coverage report (short; the whole table with ``-v``) and the verdict."""
    collector = terminalreporter.config.stash.get(_KEY, None)
    if collector is None or collector.report is None:
        return
    report = collector.report
    terminalreporter.section("lifecycle transition coverage")
    verbose = terminalreporter.config.get_verbosity() > 0
    for line in (report.table() if verbose else report.summary()).splitlines():
        terminalreporter.write_line(line)
    for path in collector.written:
        terminalreporter.write_line(f"wrote {path}")
    if collector.fail_under is not None:
        if collector.failed:
            terminalreporter.write_line(
                f"FAIL required transition coverage of {collector.fail_under:g} % not reached: "
                f"{report.percent:.1f} %",
                red=True,
            )
        else:
            terminalreporter.write_line(
                f"required transition coverage of {collector.fail_under:g} % reached: "
                f"{report.percent:.1f} %",
                green=True,
            )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop observing if the session ended early."""
    collector = config.stash.get(_KEY, None)
    if collector is not None:
        collector.coverage.stop()
