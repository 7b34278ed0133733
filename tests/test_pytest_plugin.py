"""The transition-coverage pytest plugin, run in throwaway projects with ``pytester``."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from lifecycle.core.errors import IllegalTransition
from lifecycle.core.ids import Cloid
from lifecycle.core.machine import OrderMachine
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.review.coverage import TransitionCoverage

pytest_plugins = ["pytester"]

# A user's suite that touches a little of the lifecycle, through an engine built
# in the user's own fixture.
LITTLE_SUITE = '''
from decimal import Decimal

import pytest

from lifecycle import Engine, Side


@pytest.fixture
def engine():
    return Engine()


def test_place_and_send(engine):
    order = engine.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    engine.commands_to_send()
    assert order.state.value == "expected"


def test_cancel_before_sending_is_refused_twice(engine):
    order = engine.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    engine.cancel(order, 0.0)
    with pytest.raises(Exception):
        engine.cancel(order, 0.0)
'''

# A suite that fires every legal edge: walk to each source state, then fire.
FULL_SUITE = '''
from collections import deque
from decimal import Decimal

import pytest

from lifecycle import Cloid, Oid, Order, OrderMachine, OrderState, Side
from lifecycle.core.table import TABLE

STARTS = (OrderState.PENDING, OrderState.ORPHAN_CANDIDATE)


def path_to(target):
    for start in STARTS:
        seen = {start: ()}
        queue = deque([start])
        while queue:
            state = queue.popleft()
            if state is target:
                return start, seen[state]
            for (source, trigger), dest in TABLE.items():
                if source is state and dest not in seen:
                    seen[dest] = seen[state] + (trigger,)
                    queue.append(dest)
    raise AssertionError(target)


@pytest.mark.parametrize("edge", list(TABLE), ids=lambda e: f"{e[0].value}-{e[1].value}")
def test_edge(edge):
    source, trigger = edge
    start, path = path_to(source)
    machine = OrderMachine()
    order = Order(
        cloid=Cloid("0x" + "cd" * 16), oid=Oid(7), side=Side.SELL,
        price=Decimal("10"), size=Decimal("1"), now=0.0, state=start,
    )
    for step in path:
        machine.fire(order, step, 0.0)
    assert machine.fire(order, trigger, 1.0) is TABLE[edge]
'''


def test_plugin_is_registered_through_the_entry_point(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--lifecycle-cov*", "*--lifecycle-cov-fail-under=PCT*"])


def test_plugin_without_options_reports_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_little=LITTLE_SUITE)
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)
    assert "transition coverage" not in result.stdout.str()


def test_plugin_output_is_short_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_little=LITTLE_SUITE)
    result = pytester.runpytest_subprocess("--lifecycle-cov")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    section = out[out.index("lifecycle transition coverage") :]
    # No hit edge is listed; each missed edge comes with what fires its trigger.
    assert "pending --submit--> expected" not in section
    result.stdout.fnmatch_lines(
        [
            f"transition coverage: 2/{len(TABLE)} legal edges (*",
            "  MISSED expected --accept--> live",
            "         fired by: OrderAccepted*",
        ]
    )
    assert section.count("MISSED") == len(TABLE) - 2
    result.stdout.fnmatch_lines(["illegal triggers refused: 1 attempt(s) of 1 *"])
    assert "gone --cancel_request-->  x1" not in section


def test_plugin_little_suite_lists_uncovered_edges_first(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_little=LITTLE_SUITE)
    result = pytester.runpytest_subprocess("--lifecycle-cov", "-v")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    table = out[out.index("lifecycle transition coverage") :].splitlines()[1:]
    rows = [line for line in table if "-->" in line and "x" not in line.split()[-1]]
    missed = [i for i, line in enumerate(rows) if line.endswith("MISSED")]
    hit = [i for i, line in enumerate(rows) if not line.endswith("MISSED")]
    assert len(rows) == len(TABLE)
    assert max(missed) < min(hit)  # uncovered first
    # Fired inside the user's fixture-built engine: submit and abandon.
    result.stdout.fnmatch_lines(
        [
            "pending --submit--> expected * 1",
            "pending --abandon--> gone * 1",
            f"transition coverage: 2/{len(TABLE)} legal edges (*",
            "illegal triggers refused (negative coverage):",
            "  gone --cancel_request-->  x1",
        ]
    )


def test_plugin_fail_under_not_reached_fails_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_little=LITTLE_SUITE)
    result = pytester.runpytest_subprocess("--lifecycle-cov-fail-under=50")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["FAIL required transition coverage of 50 % not reached: *"])


def test_plugin_full_suite_reaches_100_and_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_full=FULL_SUITE)
    result = pytester.runpytest_subprocess(
        "--lifecycle-cov-fail-under=100", "--lifecycle-cov-json=out/cov.json"
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=len(TABLE))
    result.stdout.fnmatch_lines(["required transition coverage of 100 % reached: 100.0 %"])
    data = json.loads((pytester.path / "out" / "cov.json").read_text())
    assert data["percent"] == 100.0
    assert data["covered"] == data["total"] == len(TABLE)
    assert all(edge["hits"] >= 1 for edge in data["edges"])


def test_plugin_ini_keys_enable_json_and_diagram(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_little=LITTLE_SUITE)
    pytester.makeini(
        "[pytest]\nlifecycle_cov_json = cov.json\nlifecycle_cov_diagram = cov.svg\n"
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)
    data = json.loads((pytester.path / "cov.json").read_text())
    hits = {(e["source"], e["trigger"]): e["hits"] for e in data["edges"]}
    assert hits[("pending", "submit")] == 1
    assert hits[("pending", "abandon")] == 1
    assert data["refused"] == [{"state": "gone", "trigger": "cancel_request", "attempts": 1}]
    svg = (pytester.path / "cov.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "stroke-dasharray" in svg


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--lifecycle-cov-fail-under=lots", "not a number: 'lots'"),
        ("--lifecycle-cov-fail-under=101", "must be between 0 and 100"),
        ("--lifecycle-cov-diagram=cov.pdf", "must end in .svg or .png"),
    ],
)
def test_plugin_bad_option_is_a_usage_error(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    pytester.makepyfile(test_little=LITTLE_SUITE)
    result = pytester.runpytest_subprocess(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_coverage_observer_on_one_machine_counts_fired_and_refused() -> None:
    machine = OrderMachine()
    coverage = TransitionCoverage()
    machine.add_observer(coverage)
    order = Order(
        cloid=Cloid("0x" + "ef" * 16), side=Side.BUY, price=Decimal(5), size=Decimal(1), now=0.0
    )
    machine.fire(order, Trigger.SUBMIT, 0.0)
    with pytest.raises(IllegalTransition, match="submit"):
        machine.fire(order, Trigger.SUBMIT, 0.0)
    report = coverage.report()
    assert coverage.hits == {(OrderState.PENDING, Trigger.SUBMIT): 1}
    assert report.refused == ((OrderState.EXPECTED, Trigger.SUBMIT, 1),)
    assert report.covered == 1 and report.total == len(TABLE)
    assert report.uncovered[0].hits == 0 and report.edges[-1].hits == 1
