"""`lifecycle simulate`: the report, its JSON keys, the invariant counters, reproducibility."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from lifecycle.adapters.simulated import PROFILES, MarketParams, SimulatedExchange

from lifecycle.cli import main
from lifecycle.core.ids import CloidFactory
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine
from lifecycle.journal import load_journal, replay
from lifecycle.runtime import FillsUnavailable, current_time, run_virtual, sleep
from lifecycle.sim import INVARIANTS, JSON_KEYS, SimulationSpec, run_simulation
from lifecycle.sim.bot import _FillHistoryAdapter

#: The keys `--json` prints, spelled out (the contract, independent of the code).
EXPECTED_KEYS = {
    "ok",
    "seed",
    "faults",
    "duration_s",
    "sim_seconds",
    "wall_seconds",
    "interrupted_at_s",
    "false_orphan_cancels",
    "premature_untracks",
    "untracked_resting_at_end",
    "position_mismatch",
    "double_counted_fills",
    "illegal_transitions_applied",
    "refused_remote_events",
    "ghost_orders_at_end",
    "findings",
    "orders_placed",
    "orders_modified",
    "modify_requests",
    "orders_canceled",
    "cancel_requests",
    "orders_filled",
    "orders_exchange_canceled",
    "orders_ended",
    "fills",
    "position",
    "time_in_state",
    "orphans_seen",
    "orphans_adopted",
    "orphans_canceled",
    "anomalies",
    "runtime",
    "exchange_faults",
    "restart",
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
    assert report["orphans_canceled"] >= 1  # the orders resting at the start
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


# --- --restart-at: an abrupt stop, and recovery from the journal ----------------------------


@pytest.mark.parametrize("faults", ["default", "harsh"])
def test_restart_from_the_journal_keeps_every_invariant_counter_at_zero(faults: str) -> None:
    report = run_simulation(
        SimulationSpec(seed=3, duration_s=600.0, faults=faults, restart_at_s=300.0)
    )
    assert report.counters() == dict.fromkeys(INVARIANTS, 0), report.findings
    assert report.consistent
    restart = report.restart
    assert restart is not None and restart.from_journal
    assert restart.inputs_replayed > 0
    assert restart.orders_restored > 0  # quotes were resting when the bot stopped
    assert restart.records_lost == 0  # every call's records are written before it returns
    assert report.runtime.reconnects >= 1  # the new connection, and its sync


def test_restart_without_a_journal_breaks_the_invariants() -> None:
    # The same stop, but the bot comes back knowing nothing: its own quotes
    # look like orphans and the fills it made are forgotten.
    report = run_simulation(
        SimulationSpec(seed=3, duration_s=600.0, faults="default", restart_at_s=300.0,
                       restart_from_journal=False)
    )
    assert report.restart is not None and not report.restart.from_journal
    assert report.premature_untracks > 0
    assert report.false_orphan_cancels > 0
    assert not report.ok


def test_restart_with_no_downtime_and_the_same_seed_is_reproducible() -> None:
    spec = SimulationSpec(seed=5, duration_s=200.0, faults="harsh", restart_at_s=100.0,
                          downtime_s=0.0)
    first, again = run_simulation(spec), run_simulation(spec)
    assert first.ok, first.findings
    first.wall_seconds = again.wall_seconds = 0.0
    assert first == again


def test_restart_at_cli_keeps_the_journal_and_reports_the_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "run"
    status = main(["simulate", "--duration", "300", "--faults", "default", "--quiet",
                   "--restart-at", "120", "--downtime", "5", "--journal", str(journal),
                   "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "restart: stopped abruptly at 120 s, down 5 s; came back from its journal" in out
    loaded = load_journal(journal)
    kinds = [r.type for r in loaded.records]
    assert kinds.count("recover") == 1 and not loaded.torn
    recovered = next(r for r in loaded.records if r.type == "recover")
    assert recovered.at is not None and 125 <= recovered.at < 126  # stopped at 120, down 5
    # The review tools read the kept journal.
    assert main(["report", "--journal", str(journal), "--out", str(tmp_path)]) == 0
    assert "1 recoveries" in capsys.readouterr().out


def test_restart_json_keeps_exactly_the_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = simulate_json(capsys, tmp_path, "--restart-at", "150")
    assert set(report) == EXPECTED_KEYS
    assert status == 0 and {k: report[k] for k in INVARIANTS} == dict.fromkeys(INVARIANTS, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--restart-at", "0"], "--restart-at must be inside the run"),
        (["--restart-at", "300"], "--restart-at must be inside the run"),
        (["--restart-at", "10", "--downtime", "-1"], "--downtime must be >= 0"),
    ],
)
def test_restart_bad_arguments_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["simulate", "--duration", "300", "--quiet", "--out", str(tmp_path), *args])
    assert status == 2
    assert message in capsys.readouterr().err


def test_simulate_refuses_an_existing_journal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "journal.jsonl").write_text("{}\n")
    status = main(["simulate", "--duration", "60", "--quiet", "--journal", str(tmp_path),
                   "--out", str(tmp_path)])
    assert status == 2
    assert "exists" in capsys.readouterr().err
    with pytest.raises(FileExistsError, match=r"journal\.jsonl exists"):
        run_simulation(SimulationSpec(duration_s=60.0, journal_dir=tmp_path))


def test_spec_restart_outside_the_run_is_refused() -> None:
    with pytest.raises(ValueError, match="restart_at_s must be inside the run"):
        run_simulation(SimulationSpec(duration_s=60.0, restart_at_s=60.0))
    with pytest.raises(ValueError, match="downtime_s must be >= 0"):
        run_simulation(SimulationSpec(duration_s=60.0, restart_at_s=30.0, downtime_s=-1.0))


def test_journaled_run_without_restart_replays_to_the_same_engine(tmp_path: Path) -> None:
    report = run_simulation(
        SimulationSpec(seed=2, duration_s=300.0, faults="harsh", journal_dir=tmp_path)
    )
    assert report.ok and report.restart is None
    loaded = load_journal(tmp_path)
    assert loaded.header is not None
    header = loaded.header
    engine = Engine(header["config"], cloids=CloidFactory(header["namespace"], header["run_id"]))
    result = replay(loaded.records, engine)
    assert result.inputs > 0 and result.fired > 0
    assert engine.position == report.position
    assert engine.ledger.fills == report.fills
    assert all(o.state is OrderState.GONE for o in engine.registry)  # all cancelled at the end


# --- the simulated fill history -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rates", "error", "after_s"),
    [
        ({"timeout_rate": 1.0}, "timed out", 10.0),  # request_timeout_s of `none`
        ({"server_error_rate": 1.0}, "502 Bad Gateway", 0.2),  # two fixed 0.1 s legs
        ({}, None, 0.2),
    ],
)
def test_simulated_fill_history_fails_as_the_profile_says(
    rates: dict[str, float], error: str | None, after_s: float
) -> None:
    profile = dataclasses.replace(PROFILES["none"], **rates)
    quiet = MarketParams(takers_per_s=0.0, volatility_bps=0.0, jumps_per_hour=0.0)

    async def main() -> tuple[str | None, float]:
        exchange = SimulatedExchange(1, profile, market=quiet, start=current_time())
        adapter = _FillHistoryAdapter(exchange, now=current_time, sleep=sleep, seed=1)
        try:
            fills = await adapter.fills_since(0.0)
        except FillsUnavailable as exc:
            return exc.error, current_time()
        assert list(fills) == []
        return None, current_time()

    (said, at), _ = run_virtual(main)
    assert (said is None) == (error is None)
    if error is not None:
        assert said is not None and error in said
    assert at == pytest.approx(after_s)


def test_a_missing_table_row_fails_the_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without (TRACKED, FILL_PARTIAL) every partial fill of a tracked order is refused:
    # the engine keeps running on anomalies, but the referee counts each refusal.
    from lifecycle.core import machine as machine_module
    from lifecycle.core.states import Trigger

    rows = {k: v for k, v in machine_module.TABLE.items()
            if k != (OrderState.TRACKED, Trigger.FILL_PARTIAL)}
    monkeypatch.setattr(machine_module, "TABLE", rows)
    broken = run_simulation(SimulationSpec(seed=1, duration_s=600.0, faults="default"))
    assert broken.refused_remote_events > 0 and not broken.ok
    assert any("tracked --fill_partial--> refused" in f for f in broken.findings)
    monkeypatch.undo()
    whole = run_simulation(SimulationSpec(seed=1, duration_s=600.0, faults="default"))
    assert whole.refused_remote_events == 0 and whole.ok
