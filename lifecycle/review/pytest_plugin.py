"""The pytest plugin: transition coverage of a test session.

Installed with the package through the ``pytest11`` entry point, so any
project that installs ``order-lifecycle`` has it. Collection is off unless
asked for, on the command line or as ini keys of the same names:

``--lifecycle-cov``
    Record every edge fired by every machine during the session (those built
    inside your own fixtures included) and print the coverage table.
``--lifecycle-cov-fail-under=PCT``
    Fail the session when less than PCT % of the legal edges were hit.
``--lifecycle-cov-json=PATH``
    Write the report as JSON.
``--lifecycle-cov-diagram=PATH``
    Draw the lifecycle with edges weighted by hits and uncovered edges dashed
    red; the format is the suffix (``.svg`` or ``.png``).

Each of the last three turns collection on by itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.review.coverage import CoverageReport, TransitionCoverage

__all__ = [
    "pytest_addoption",
    "pytest_configure",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_unconfigure",
]

_KEY = pytest.StashKey["_Collector"]()


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
    """Add the ``--lifecycle-cov*`` options and their ini keys."""
    group = parser.getgroup("lifecycle", "order lifecycle transition coverage")
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


def _setting(config: pytest.Config, name: str) -> str:
    value = config.getoption(f"--{name.replace('_', '-')}")
    if value is None:
        value = config.getini(name)
    return str(value or "")


def pytest_configure(config: pytest.Config) -> None:
    """Start collecting when any ``--lifecycle-cov*`` option or ini key asks for it."""
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
    """Print the coverage table and the verdict."""
    collector = terminalreporter.config.stash.get(_KEY, None)
    if collector is None or collector.report is None:
        return
    report = collector.report
    terminalreporter.section("lifecycle transition coverage")
    for line in report.table().splitlines():
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
