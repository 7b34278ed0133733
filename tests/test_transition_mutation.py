"""Transition mutation testing: the mutations, applying one, and the plugin run by ``pytester``."""

from __future__ import annotations

import importlib.util
import json
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import lifecycle.policy.planning as planning
import lifecycle.policy.reconciler as reconciler
import lifecycle.runtime.driver as driver
from lifecycle.core.commands import QueryOrderStatus
from lifecycle.core.errors import IllegalTransition
from lifecycle.core.events import OrderAccepted
from lifecycle.core.ids import Oid
from lifecycle.core.order import Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE, legal_triggers
from lifecycle.engine.facade import Engine
from lifecycle.review.mutation import (
    Mutation,
    MutationKind,
    retarget_destination,
    table_mutations,
)
from lifecycle.review.mutation_apply import applied, find_consumers
from lifecycle.review.mutation_record import EdgeRecorder

pytest_plugins = ["pytester"]

S = OrderState
T = Trigger
REMOVED = MutationKind.REMOVED
RETARGETED = MutationKind.RETARGETED

# A user's suite that drives an order through its life and checks nothing.
WEAK_SUITE = '''
from decimal import Decimal

from lifecycle import Engine, Oid, OrderAccepted, OrderCanceled, Side


def test_place_accept_cancel():
    engine = Engine(verify=True)
    order = engine.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(5)), 1.0)
    engine.cancel(order, 2.0)
    engine.commands_to_send()
    engine.handle(OrderCanceled(cloid=order.cloid, oid=Oid(5)), 3.0)
'''

# The same life, checked at every step: the state after, the reason, no anomaly.
STRONG_SUITE = '''
from decimal import Decimal

from lifecycle import (
    CancelOrder, Engine, GoneReason, Oid, OrderAccepted, OrderCanceled, OrderState, Side,
)


def test_place_accept_cancel_checked():
    engine = Engine(verify=True)
    order = engine.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    assert order.state is OrderState.PENDING
    engine.commands_to_send()
    assert order.state is OrderState.EXPECTED
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(5)), 1.0)
    assert order.state is OrderState.FINALIZED_PROTECTED
    engine.cancel(order, 2.0)
    assert order.state is OrderState.CANCELLING
    assert engine.commands_to_send() == [CancelOrder(cloid=order.cloid, oid=Oid(5))]
    engine.handle(OrderCanceled(cloid=order.cloid, oid=Oid(5)), 3.0)
    assert order.state is OrderState.GONE
    assert order.reason is GoneReason.CANCELED
    assert sum(engine.anomalies.counts.values()) == 0
'''

# A test whose loop ends only when the protection timer leads to TRACKED.
SPINNING_SUITE = '''
from decimal import Decimal

from lifecycle import Cloid, Oid, Order, OrderMachine, OrderState, Side, Trigger


def test_spins_until_tracked():
    machine = OrderMachine()
    order = Order(
        cloid=Cloid("0x" + "ab" * 16), oid=Oid(1), side=Side.BUY, price=Decimal(1),
        size=Decimal(1), now=0.0,
    )
    for trigger in (Trigger.SUBMIT, Trigger.ACCEPT, Trigger.FINALIZE):
        machine.fire(order, trigger, 0.0)
    while machine.fire(order, Trigger.PROTECTION_ELAPSED, 0.0) is not OrderState.TRACKED:
        pass
'''

# A test that passes only the first time it runs in a process.
ONCE_SUITE = '''
from decimal import Decimal

from lifecycle import Cloid, Order, OrderMachine, OrderState, Side, Trigger

RUNS = []


def test_only_once():
    RUNS.append(1)
    machine = OrderMachine()
    order = Order(
        cloid=Cloid("0x" + "ab" * 16), side=Side.BUY, price=Decimal(1), size=Decimal(1), now=0.0,
    )
    machine.fire(order, Trigger.SUBMIT, 0.0)
    assert len(RUNS) == 1
'''

# A shared fixture fires the edges; only the second test looks at what it did.
SHARED_FIXTURE_SUITE = '''
from decimal import Decimal

import pytest

from lifecycle import Engine, OrderState, Side


@pytest.fixture(scope="module")
def sent():
    engine = Engine(verify=True)
    order = engine.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    engine.commands_to_send()
    return order


def test_uses_it_blindly(sent):
    pass


def test_checks_it(sent):
    assert sent.state is OrderState.EXPECTED


@pytest.mark.lifecycle_no_mutate
def test_set_aside_by_marker(sent):
    assert sent.state is OrderState.EXPECTED


def test_set_aside_by_pattern(sent):
    assert sent.state is OrderState.EXPECTED
'''


def _section(out: str) -> list[str]:
    lines = out[out.index("lifecycle transition mutation") :].splitlines()[1:]
    return [line for line in lines if line]


# --- the mutations ------------------------------------------------------------------


def test_every_row_is_removed_and_retargeted_once_in_table_order() -> None:
    made, skipped = table_mutations()
    assert skipped == ()
    assert [m.edge for m in made if m.kind is REMOVED] == list(TABLE)
    assert [m.edge for m in made if m.kind is RETARGETED] == list(TABLE)
    for m in made:
        assert m.dest is TABLE[m.edge]
        if m.to is not None:
            assert m.to is not m.dest and m.to in set(TABLE.values())
    assert str(made[0]) == "pending --submit--> expected removed"
    assert str(made[1]) == "pending --submit--> expected retargeted to live"


@pytest.mark.parametrize(
    ("source", "trigger", "to"),
    [
        # Another destination of the same source, first in table order...
        (S.TRACKED, T.CANCEL_REQUEST, S.TRACKED),
        (S.FINALIZED_PROTECTED, T.SUPERSEDED, S.TRACKED),
        # ...but never GONE by a trigger that gives no reason to end an order...
        (S.TRACKED, T.ACCEPT, S.CANCELLING),
        (S.EXPECTED, T.ACCEPT, S.CANCELLING),
        # ...else where the row's destination leads.
        (S.LIVE, T.FINALIZE, S.TRACKED),
    ],
)
def test_retarget_destination_follows_the_documented_rule(
    source: OrderState, trigger: Trigger, to: OrderState
) -> None:
    assert retarget_destination(source, trigger) is to


def test_a_row_with_no_enterable_destination_is_skipped_with_the_reason() -> None:
    table = {(S.PENDING, T.SUBMIT): S.EXPECTED, (S.EXPECTED, T.ACCEPT): S.EXPECTED}
    made, skipped = table_mutations(table)
    assert [str(m) for m in made] == [
        "pending --submit--> expected removed",
        "expected --accept--> expected removed",
    ]
    assert [str(s) for s in skipped] == [
        "pending --submit--> expected retargeted: no other legal destination can be "
        "entered by submit",
        "expected --accept--> expected retargeted: no other legal destination can be "
        "entered by accept",
    ]


def test_a_mutation_names_its_inconsistent_field() -> None:
    with pytest.raises(ValueError, match="to: a retargeted mutation needs one"):
        Mutation(S.LIVE, T.FINALIZE, S.FINALIZED_PROTECTED, RETARGETED)
    with pytest.raises(ValueError, match="to: a retargeted mutation needs one"):
        Mutation(S.LIVE, T.FINALIZE, S.FINALIZED_PROTECTED, REMOVED, S.TRACKED)
    with pytest.raises(ValueError, match="changes nothing"):
        Mutation(S.LIVE, T.FINALIZE, S.FINALIZED_PROTECTED, RETARGETED, S.FINALIZED_PROTECTED)


# --- applying one --------------------------------------------------------------------


def _sent(engine: Engine) -> None:
    engine.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    engine.commands_to_send()


def test_a_removed_row_is_refused_by_new_and_existing_machines_then_restored() -> None:
    before = list(TABLE.items())
    existing = Engine(verify=True)
    mutation = Mutation(S.PENDING, T.SUBMIT, S.EXPECTED, REMOVED)
    with applied(mutation, find_consumers()):
        assert (S.PENDING, T.SUBMIT) not in TABLE
        assert legal_triggers(S.PENDING) == (T.ABANDON,)
        for engine in (existing, Engine(verify=True), Engine()):
            # Refused as an illegal trigger, even though no row names submit any more.
            with pytest.raises(IllegalTransition, match="submit"):
                _sent(engine)
    assert list(TABLE.items()) == before
    _sent(existing)


def test_values_derived_at_import_are_rederived_where_they_were_imported() -> None:
    modifiable, cancellable = planning.MODIFIABLE, planning.CANCELLABLE
    shutdown_cancellable = driver._CANCELLABLE
    imported = vars(reconciler)  # the reconciler imports both from planning
    consumers = find_consumers()
    derived = {(d.module, d.name) for d in consumers.derived}
    assert {
        ("lifecycle.policy.planning", "MODIFIABLE"),
        ("lifecycle.policy.planning", "CANCELLABLE"),
        ("lifecycle.runtime.driver", "_CANCELLABLE"),
    } <= derived
    with applied(Mutation(S.TRACKED, T.CANCEL_REQUEST, S.CANCELLING, REMOVED), consumers):
        assert S.TRACKED not in planning.CANCELLABLE
        assert imported["CANCELLABLE"] is planning.CANCELLABLE  # the import follows
        assert S.TRACKED not in driver._CANCELLABLE
        assert modifiable == planning.MODIFIABLE
    assert planning.CANCELLABLE is cancellable and imported["CANCELLABLE"] is cancellable
    assert driver._CANCELLABLE is shutdown_cancellable
    with applied(Mutation(S.TRACKED, T.MODIFY_REQUEST, S.MODIFYING, REMOVED), consumers):
        assert modifiable - {S.TRACKED} == planning.MODIFIABLE
        assert imported["MODIFIABLE"] is planning.MODIFIABLE
    assert imported["MODIFIABLE"] is modifiable


def test_an_existing_machine_retargeted_into_a_timed_state_starts_its_timer() -> None:
    engine = Engine(verify=True)
    order = engine.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    engine.commands_to_send()
    timeout = engine.config.orders.cancel_timeout_s
    mutation = Mutation(S.EXPECTED, T.ACCEPT, S.LIVE, RETARGETED, S.CANCELLING)
    with applied(mutation, find_consumers()):
        engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(9)), 1.0)
        assert order.state is S.CANCELLING
        # The CANCELLING timer runs: past the cancel timeout the engine asks the exchange.
        engine.on_timer(1.0 + timeout)
        assert any(isinstance(c, QueryOrderStatus) for c in engine.commands_to_send())
    fresh = Engine(verify=True)
    again = fresh.place(Side.BUY, Decimal("100"), Decimal("1"), 0.0)
    fresh.commands_to_send()
    fresh.handle(OrderAccepted(cloid=again.cloid, oid=Oid(9)), 1.0)
    assert again.state is S.FINALIZED_PROTECTED


def test_import_time_uses_that_cannot_be_rederived_are_reported(tmp_path: Path) -> None:
    source = tmp_path / "uses_the_table.py"
    source.write_text(
        "from lifecycle.core.table import TABLE\n"
        "ROWS = len(TABLE)\n"
        "class Holder:\n"
        "    ROWS = dict(TABLE)\n"
        "for _edge in TABLE:\n"
        "    pass\n",
        encoding="utf-8",
    )
    spec = importlib.util.spec_from_file_location("uses_the_table", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["uses_the_table"] = module
    try:
        spec.loader.exec_module(module)
        consumers = find_consumers()
        ours = [d for d in consumers.derived if d.module == "uses_the_table"]
        assert [(d.name, d.where) for d in ours] == [("ROWS", f"{source}:2")]
        assert f"{source}:3" in consumers.unhandled  # the class attribute
        assert f"{source}:5" in consumers.unhandled  # the loop
        with applied(Mutation(S.PENDING, T.SUBMIT, S.EXPECTED, REMOVED), consumers):
            assert module.ROWS == len(TABLE) == 79
        assert module.ROWS == 80
    finally:
        del sys.modules["uses_the_table"]


def test_the_recorder_credits_shared_fixture_edges_and_keeps_clean_tests_only() -> None:
    recorder = EdgeRecorder()
    submit, accept = (S.PENDING, T.SUBMIT), (S.EXPECTED, T.ACCEPT)

    def fire(edge: tuple[OrderState, Trigger]) -> None:
        recorder.transition_fired(None, edge[0], edge[1], TABLE[edge], 0.0)  # type: ignore[arg-type]

    recorder.enter_test("a")
    recorder.enter_fixture("shared")
    fire(submit)
    recorder.leave_fixture()
    fire(accept)
    recorder.leave_test()
    fire(accept)  # outside any test: nobody's
    recorder.phase("a", 0.5, passed=True)
    recorder.phase("b", 0.1, passed=True)
    recorder.phase("c", 0.1, passed=True)
    recorder.phase("c", 0.1, passed=False)
    reaching = recorder.reaching({"b": ["shared"], "c": ["shared"]})
    assert reaching == {submit: ["b", "a"], accept: ["a"]}


# --- the plugin ------------------------------------------------------------------------


def test_plugin_weak_suite_scores_low_and_lists_unchecked_edges_first(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_weak=WEAK_SUITE)
    result = pytester.runpytest_subprocess("--lifecycle-mutate-fail-under=100")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1)
    section = _section(result.stdout.str())
    assert section[0].startswith("unchecked edges: reached, but no test noticed a mutation (")
    score = next(i for i, line in enumerate(section) if "mutation score" in line)
    assert all("-->" not in line for line in section[score:])  # the edges come first
    assert "  finalized_protected --cancel_request--> cancelling" in section
    assert "    reached by 1 test(s): test_weak.py::test_place_accept_cancel" in section
    assert "    survived: retargeted to tracked" in section
    caught, judged = (int(n) for n in section[score].split()[3].split("/"))
    assert judged == 10 and caught <= 5
    result.stdout.fnmatch_lines(
        [
            "not run: 0 mutation(s) skipped, 150 on edges no passing test reaches, *",
            "FAIL required transition mutation score of 100 % not reached: *",
        ]
    )


def test_plugin_strong_suite_scores_100_writes_json_and_lists_every_mutation(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_strong=STRONG_SUITE)
    result = pytester.runpytest_subprocess(
        "-v", "--lifecycle-mutate-fail-under=100", "--lifecycle-mutate-json=out/m.json",
        "--lifecycle-mutate-jobs=2",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "every mutation:",
            "  caught   pending --submit--> expected removed by "
            "test_strong.py::test_place_accept_cancel_checked (1/1 tests, * s): call: *",
            "transition mutation score: 10/10 mutations caught (100.0 %), 0 survived",
            "mutation pass: 10 mutations, * test runs, 2 job(s), * s",
            "wrote out/m.json",
            "required transition mutation score of 100 % reached: 100.0 %",
        ]
    )
    assert "unchecked edges" not in result.stdout.str()
    data = json.loads((pytester.path / "out" / "m.json").read_text())
    assert (data["score"], data["caught"], data["survived"], data["errors"]) == (100.0, 10, 0, 0)
    assert data["unchecked_edges"] == []
    assert len(data["unreached"]) == 2 * len(TABLE) - 10
    first = data["mutations"][0]
    assert first["source"] == "pending" and first["trigger"] == "submit"
    assert first["kind"] == "removed" and first["status"] == "caught"
    assert first["test"] == "test_strong.py::test_place_accept_cancel_checked"


def test_plugin_credits_shared_fixture_edges_and_sets_tests_aside(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_shared=SHARED_FIXTURE_SUITE)
    pytester.makeini(
        "[pytest]\nlifecycle_mutate = true\nlifecycle_mutate_exclude =\n"
        "    *::test_set_aside_by_pattern\n"
    )
    result = pytester.runpytest_subprocess("-v", "--lifecycle-mutate-json=m.json")
    assert result.ret == pytest.ExitCode.OK
    data = json.loads((pytester.path / "m.json").read_text())
    assert data["set_aside"] == [
        "test_shared.py::test_set_aside_by_marker",
        "test_shared.py::test_set_aside_by_pattern",
    ]
    submit = [m for m in data["mutations"] if m["trigger"] == "submit"]
    # The first test fired the edge, the second only used the fixture: both reach it,
    # and the second, which checks, catches the retarget (the removal breaks the fixture).
    assert [(m["kind"], m["status"], m["tests_reaching"]) for m in submit] == [
        ("removed", "caught", 2),
        ("retargeted", "caught", 2),
    ]
    assert submit[1]["test"] == "test_shared.py::test_checks_it"


def test_plugin_a_test_that_hangs_under_a_mutation_catches_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_spin=SPINNING_SUITE)
    result = pytester.runpytest_subprocess(
        "-v", "--lifecycle-mutate", "--lifecycle-mutate-timeout=0.5"
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "  caught   finalized_protected --protection_elapsed--> tracked removed *",
            "  timeout  finalized_protected --protection_elapsed--> tracked retargeted to "
            "finalized_protected by test_spin.py::test_spins_until_tracked *: timed out after * s",
            "transition mutation score: 8/8 mutations caught (100.0 %), 0 survived",
        ]
    )


def test_plugin_a_catch_by_a_test_that_fails_alone_anyway_is_not_counted(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_once=ONCE_SUITE)
    result = pytester.runpytest_subprocess("--lifecycle-mutate-fail-under=0")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "mutations the pass could not judge (2)",
            "  pending --submit--> expected removed: only tests that fail when run again alone "
            "reach the edge: test_once.py::test_only_once",
            "transition mutation score: no mutation was judged *",
            "*1 unreliable test(s)*",
            "FAIL required transition mutation score of 0 % not reached: 0.0 % "
            "(2 mutation(s) not judged)",
        ]
    )


def test_plugin_does_not_run_the_pass_when_a_test_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_strong=STRONG_SUITE, test_red="def test_red():\n    assert False\n")
    result = pytester.runpytest_subprocess("--lifecycle-mutate")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["not run: the tests did not all pass (exit status 1)"])


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--lifecycle-mutate-fail-under=most", "-fail-under: not a number: 'most'"),
        ("--lifecycle-mutate-fail-under=-1", "-fail-under: must be between 0 and 100"),
        ("--lifecycle-mutate-jobs=0", "--lifecycle-mutate-jobs: a whole number of at least 1"),
        ("--lifecycle-mutate-timeout=0", "--lifecycle-mutate-timeout: must be between"),
        ("--lifecycle-mutate-timeout=soon", "--lifecycle-mutate-timeout: not a number: 'soon'"),
    ],
)
def test_plugin_bad_mutation_option_is_a_usage_error(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    pytester.makepyfile(test_weak=WEAK_SUITE)
    # In process: the options are refused before anything starts.
    result = pytester.runpytest("--lifecycle-mutate", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()
