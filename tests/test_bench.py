"""The benchmark's measurements still do what they claim, at toy sizes, and its report holds.

Nothing here looks at a timing: each measurement checks its own outcome (the
orders ended GONE, the fills were applied, the history is the benchmark path)
and raises ``BenchError`` otherwise, so these tests catch a benchmark that no
longer runs or no longer measures its lifecycle. The report is checked on
made-up figures: a skipped key is not measured, never met. ``make bench``
measures.

The bench modules are loaded by path; they import each other by plain name,
as they do when ``bench/run.py`` runs as a script, so ``bench/`` is put on
``sys.path`` while they load.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from lifecycle.core.order import Order
from lifecycle.core.states import OrderState

BENCH = Path(__file__).resolve().parent.parent / "bench"
MODULES = (
    "measure", "engine", "baselines", "population", "simulation", "hyperliquid_sign",
    "hyperliquid_ws", "run",
)


@pytest.fixture(scope="module")
def bench() -> Iterator[SimpleNamespace]:
    """Every bench module ``bench/run.py`` is split into, loaded by path under its own name.

    Each is registered under the plain name its siblings import it by, so
    there is one copy of each (one ``BenchError``); on teardown every bench
    module is dropped from ``sys.modules`` again.
    """
    before = set(sys.modules)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(BENCH))
        modules: dict[str, ModuleType] = {}
        for name in MODULES:
            spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            patch.setitem(sys.modules, name, module)
            spec.loader.exec_module(module)
            modules[name] = module
        yield SimpleNamespace(**modules)
    for name in set(sys.modules) - before:
        path = getattr(sys.modules[name], "__file__", None)
        if path is not None and Path(path).parent == BENCH:
            del sys.modules[name]


# --- the measurements ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["lifecycle_run", "lifecycle_prebuilt_run", "lifecycle_floor_run"]
)
def test_lifecycle_measurements_run_their_path(bench: SimpleNamespace, name: str) -> None:
    result = getattr(bench.engine, name)(50)
    assert math.isfinite(result) and result > 0


def test_floor_loop_leaves_orders_as_the_engine_does(bench: SimpleNamespace) -> None:
    # The floor writes every slot of Order itself: a slot it forgot would make
    # it cheaper than the engine for the wrong reason.
    source = inspect.getsource(bench.engine.lifecycle_floor_run)
    for slot in Order.__slots__:
        assert f"order.{slot} = " in source, slot


def test_floor_loop_refuses_a_wrong_path(
    bench: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The floor's own check fails when its moves do not follow the table's path.
    engine = bench.engine
    monkeypatch.setattr(engine, "PATH", (*engine.PATH[:-1], engine.T.CANCEL_FAILED))
    with pytest.raises(engine.BenchError, match="wrong history"):
        engine.lifecycle_floor_run(5)


def test_event_and_memory_measurements_run(bench: SimpleNamespace) -> None:
    assert bench.population.event_run(20, n=40) > 0
    assert bench.population.bytes_run(20) > 0
    assert bench.baselines.floor_run(100) > 0


def test_library_baselines_run_their_path(bench: SimpleNamespace) -> None:
    baselines = bench.baselines
    machine = baselines.naive_machine()
    assert len(baselines.naive_population(machine, 10)) == 10
    assert baselines.naive_run(machine, 5) > 0
    assert baselines.statemachine_run(5) > 0
    assert set(baselines.library_versions()) == {"transitions", "statemachine"}


def test_simulation_measurement_runs(bench: SimpleNamespace) -> None:
    assert bench.simulation.sim_run(5.0) > 0


def test_hyperliquid_measurements_run(bench: SimpleNamespace) -> None:
    signed = bench.hyperliquid_sign.measure(1)
    assert signed["hl_sign_us"] > 0
    fills = bench.hyperliquid_ws.measure(samples=3)
    assert 0 < fills["ws_fill_to_request_us"] <= fills["ws_fill_to_request_p90_us"]


def test_check_lifecycle_catches_an_order_left_alive(bench: SimpleNamespace) -> None:
    engine = bench.engine
    live = engine.Engine()
    order = live.place(engine.Side.BUY, engine.PRICE, engine.SIZE, 1.0)
    assert order.state is OrderState.PENDING
    with pytest.raises(engine.BenchError, match="did not end gone"):
        engine.check_lifecycle(live, order, 1)


def test_every_module_raises_the_one_bench_error(bench: SimpleNamespace) -> None:
    errors = {getattr(module, "BenchError", None) for module in vars(bench).values()}
    assert errors - {None} == {bench.measure.BenchError}


def test_measure_interleaves_runs_and_keeps_each_median(bench: SimpleNamespace) -> None:
    calls: list[str] = []

    def run(key: str, values: list[float]) -> object:
        figures = iter(values)

        def one() -> float:
            calls.append(key)
            return next(figures)

        return bench.measure.Measurement(key, len(values), "made-up runs", one, "u")

    medians = bench.measure.measure(run("a", [3.0, 1.0, 2.0]), run("b", [9.0, 1.0]))
    assert medians == {"a": 2.0, "b": 5.0}
    assert calls == ["a", "b", "a", "b", "a"]


# --- the report ---------------------------------------------------------------------------


def figures(bench: SimpleNamespace) -> dict[str, float]:
    """A made-up figure for every key, each meeting its target."""
    run = bench.run
    values = {key: 1.0 for key, _, _ in run.KEYS}
    for key, target in run.TARGETS.items():
        values[key] = target * 2 if key in run.AT_LEAST else target / 2
    return values


def test_targets_are_reported_keys_and_lifecycle_has_none(bench: SimpleNamespace) -> None:
    run = bench.run
    keys = {key for key, _, _ in run.KEYS}
    assert set(run.TARGETS) <= keys
    assert run.AT_LEAST.issubset(run.TARGETS)
    assert "lifecycle_us_per_order" not in run.TARGETS


def test_every_key_is_listed_in_the_run_docstring(bench: SimpleNamespace) -> None:
    doc = bench.run.__doc__
    for key, _, _ in bench.run.KEYS:
        assert f"``{key}``" in doc, key
    for key in bench.run.TARGETS:
        assert f"``{key}`` >=" in doc or f"``{key}`` <=" in doc, key


def test_report_meets_and_misses_by_each_targets_sense(bench: SimpleNamespace) -> None:
    run = bench.run
    values = figures(bench)
    report = run.build_report(values, {}, {}, {"python": "3"}, 1.0)
    assert all(report["targets_met"][key] is True for key in run.TARGETS)
    missed = dict(values, sim_speedup=1.0, bytes_per_order=2048.0)
    report = run.build_report(missed, {}, {}, {"python": "3"}, 1.0)
    assert report["targets_met"]["sim_speedup"] is False
    assert report["targets_met"]["bytes_per_order"] is False
    assert report["skipped"] == {}


def test_report_shows_a_skipped_key_as_not_measured(
    bench: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    run = bench.run
    values = figures(bench)
    del values["nautilus_fsm_ratio"], values["recover_ms"]
    versions = {"python": "3", "transitions": "t", "statemachine": "s", "nautilus_trader": "n"}
    report = run.build_report(values, {}, {"recover_ms": "absent"}, versions, 1.0)
    assert report["nautilus_fsm_ratio"] is None and report["recover_ms"] is None
    assert report["targets_met"]["nautilus_fsm_ratio"] is None
    assert report["targets_met"]["recover_ms"] is None
    assert report["skipped"] == {"recover_ms": "absent", "nautilus_fsm_ratio": "not measured"}
    run.print_table(report)
    out = capsys.readouterr().out
    assert ">= 2.5 not measured" in out and "<= 1000 not measured" in out
    assert "MISSED" not in out


def test_recovery_runner_skips_what_it_cannot_run(
    bench: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = bench.run
    monkeypatch.setattr(run, "_RECOVERY", tmp_path / "recovery.py")
    assert run.recovery_runner() == (None, "recovery.py is absent")
    (tmp_path / "recovery.py").write_text('"""No recover_ms here."""\n')
    monkeypatch.setitem(sys.modules, "recovery", ModuleType("recovery"))
    assert run.recovery_runner() == (None, "recovery.py has no recover_ms")
    found = ModuleType("recovery")
    found.recover_ms = lambda: 1.0
    monkeypatch.setitem(sys.modules, "recovery", found)
    runner, reason = run.recovery_runner()
    assert reason is None and runner is not None and runner() == 1.0


def test_main_writes_every_key_and_the_reasons_it_skipped(
    bench: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Every measurement stands in for itself with made-up figures: this checks
    # the wiring from the measuring modules to the JSON, not the measuring.
    run = bench.run
    values = figures(bench)

    def made_up(*keys: str) -> object:
        return lambda *args, **kwargs: {key: values[key] for key in keys}

    monkeypatch.setattr(run, "measure_floor", made_up("floor_dict_fire_us"))
    monkeypatch.setattr(
        run,
        "measure_lifecycle",
        made_up(
            "lifecycle_us_per_order",
            "lifecycle_prebuilt_events_us_per_order",
            "lifecycle_floor_us_per_order",
        ),
    )
    monkeypatch.setattr(
        run,
        "measure_libraries",
        made_up("naive_transitions_us_per_order", "statemachine_us_per_order"),
    )
    monkeypatch.setattr(
        run,
        "measure_events",
        made_up("event_us_at_1k", "event_us_at_100k", "event_ratio_100k_to_1k"),
    )
    monkeypatch.setattr(run, "measure_memory", made_up("bytes_per_order"))
    monkeypatch.setattr(run, "measure_sim", made_up("sim_speedup"))
    monkeypatch.setattr(
        run,
        "measure_policy",
        made_up("reconcile_us_2x25_steady", "reconcile_us_2x25_modify", "sync_ms_5000"),
    )
    monkeypatch.setattr(run, "measure_peers", made_up("lifecycle_fsm_equiv_us_per_order"))
    monkeypatch.setattr(
        run, "measure_hl_sign", made_up("hl_sign_us", "hl_sdk_sign_us", "hl_sdk_sign_ratio")
    )
    monkeypatch.setattr(
        run, "measure_hl_ws", made_up("ws_fill_to_request_us", "ws_fill_to_request_p90_us")
    )
    monkeypatch.setattr(run, "skip_reason", lambda module: f"{module} is not installed")
    monkeypatch.setattr(run, "recovery_runner", lambda: (None, "recovery.py is absent"))
    monkeypatch.setattr(run, "log_to_stderr", lambda: None)
    out = tmp_path / "bench.json"
    monkeypatch.setenv("BENCH_JSON", str(out))
    assert run.main() == 0
    report = json.loads(out.read_text())
    for key, _, _ in run.KEYS:
        assert key in report, key
    not_measured = {*run._NAUTILUS_KEYS, "recover_ms"}
    assert set(report["skipped"]) == not_measured
    assert report["skipped"]["recover_ms"] == "recovery.py is absent"
    assert report["skipped"]["nautilus_fsm_ratio"].endswith("is not installed")
    for key in run.TARGETS:
        assert report["targets_met"][key] is (None if key in not_measured else True), key
    assert report["runs"]["reconcile_us_2x25_steady"] == run.RUNS_POLICY
    assert "event_ratio_100k_to_1k" not in report["runs"]
