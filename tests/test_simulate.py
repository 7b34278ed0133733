"""`lifecycle simulate`: the report, its JSON keys, the invariant counters, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lifecycle.cli import main
from lifecycle.simulate import INVARIANTS, JSON_KEYS, SimulationSpec, run_simulation

#: The keys `--json` prints, spelled out (the contract, independent of the code).
EXPECTED_KEYS = {
    "false_orphan_cancels",
    "premature_untracks",
    "untracked_resting_at_end",
    "position_mismatch",
    "double_counted_fills",
    "illegal_transitions_applied",
    "orders_placed",
    "fills",
    "orphans_cancelled",
    "orphans_adopted",
    "anomalies",
    "sim_seconds",
    "wall_seconds",
}
SEED = "7"


def simulate_json(
    capsys: pytest.CaptureFixture[str], out: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    status = main(["simulate", "--duration", "300", "--json", "--quiet", "--out", str(out),
                   *args])
    return status, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("faults", ["none", "default", "harsh"])
def test_simulate_json_has_exactly_the_keys_and_status_follows_counters(
    faults: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = simulate_json(capsys, tmp_path, "--seed", SEED, "--faults", faults)
    assert set(report) == EXPECTED_KEYS == set(JSON_KEYS)
    assert status == (1 if any(report[name] for name in INVARIANTS) else 0)
    assert report["orders_placed"] > 0 and report["fills"] > 0
    assert report["sim_seconds"] >= 300 and report["wall_seconds"] > 0
    assert report["orphans_cancelled"] >= 1  # the orders resting at the start
    assert (tmp_path / "simulation.dot").exists()


@pytest.mark.parametrize("faults", ["none", "default", "harsh"])
def test_simulate_profile_keeps_every_invariant_counter_at_zero(
    faults: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = simulate_json(capsys, tmp_path, "--seed", SEED, "--faults", faults)
    assert {name: report[name] for name in INVARIANTS} == dict.fromkeys(INVARIANTS, 0)
    assert status == 0


def test_simulate_harsh_hour_keeps_every_invariant_counter_at_zero() -> None:
    report = run_simulation(SimulationSpec(seed=1, duration_s=3600.0, faults="harsh"))
    assert report.counters() == dict.fromkeys(INVARIANTS, 0)


def test_simulate_same_seed_gives_the_same_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, first = simulate_json(capsys, tmp_path, "--seed", SEED, "--faults", "harsh")
    _, again = simulate_json(capsys, tmp_path, "--seed", SEED, "--faults", "harsh")
    _, other = simulate_json(capsys, tmp_path, "--seed", "8", "--faults", "harsh")
    for report in (first, again, other):
        report.pop("wall_seconds")
    assert first == again
    assert first != other


def test_simulate_text_report_and_weighted_diagram(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["simulate", "--duration", "120", "--faults", "none", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert status == 0
    for heading in ("orders: placed", "time in state", "orphans: seen", "anomalies:",
                    "invariants (from the exchange's truth):", "OK: every invariant counter"):
        assert heading in captured.out
    for name in INVARIANTS:
        assert f"  {name} " in captured.out
    assert "simulate: [" in captured.err  # the progress bar
    dot = (tmp_path / "simulation.dot").read_text(encoding="utf-8")
    assert 'label="submit (' in dot and "label=\"abandon (0)\" color=red" in dot


def test_simulate_config_adopt_policy_adopts_the_earlier_runs_orders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "adopt.yaml"
    config.write_text("orders:\n  orphan_policy: adopt\n", encoding="utf-8")
    status, report = simulate_json(capsys, tmp_path, "--seed", SEED, "--config", str(config))
    assert status == 0
    assert report["orphans_adopted"] >= 1  # our namespace: adopted, never cancelled
    assert report["false_orphan_cancels"] == 0


def test_simulate_keep_orders_ends_tracking_every_resting_quote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = simulate_json(capsys, tmp_path, "--seed", SEED, "--keep-orders")
    assert status == 0 and report["untracked_resting_at_end"] == 0


def test_simulate_bad_config_or_duration_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders:\n  tombstone_s: 0\n", encoding="utf-8")
    assert main(["simulate", "--config", str(bad), "--out", str(tmp_path)]) == 2
    assert "orders.tombstone_s" in capsys.readouterr().err
    assert main(["simulate", "--duration", "0", "--out", str(tmp_path)]) == 2


def test_run_simulation_report_is_consistent_and_accounts_time() -> None:
    report = run_simulation(SimulationSpec(seed=3, duration_s=120.0, faults="default",
                                           cancel_all=False))
    assert report.ok and report.consistent
    assert report.orders_placed == report.edge_counts[
        next(k for k in report.edge_counts if k[1].value == "submit")
    ]
    assert report.seconds_in_state["finalized_protected"] > 0
    assert set(report.counters()) == set(INVARIANTS)
