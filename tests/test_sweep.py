"""Tests of ``lifecycle sweep``: planning, JSON lines, summary, failures, local and Dask runs.

Every sweep here is small (60 simulated seconds per run, a few runs) and deterministic.
"""

from __future__ import annotations

import argparse
import io
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from lifecycle.sim import sweep
from lifecycle.sim.sweep import (
    RunResult,
    SweepRun,
    add_sweep_arguments,
    plan_runs,
    run_one,
    sweep_command,
)

SMALL = ["--seeds", "1-2", "--faults", "default", "--duration", "60", "--restarts", "2"]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lifecycle sweep")
    add_sweep_arguments(parser)
    return parser.parse_args(argv)


def sweep_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = sweep_command(parse(argv), out, err)
    return status, out.getvalue(), err.getvalue()


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def outcome(line: dict[str, Any]) -> dict[str, Any]:
    """A JSON line without its wall time (the only figure that varies)."""
    return {k: v for k, v in line.items() if k != "wall_s"}


def test_plan_crosses_seeds_profiles_moments_and_downtimes() -> None:
    runs = plan_runs(seeds=[1, 2], faults=["default", "harsh"], duration_s=300.0, restarts=3,
                     downtimes=[0.0, 10.0], sweep_seed=7)
    assert len(runs) == 2 * 2 * 3 * 2
    assert [r.index for r in runs] == list(range(len(runs)))
    assert all(r.restart_at_s is not None and 0 < r.restart_at_s < 300 for r in runs)
    # The moments of a (seed, profile) pair do not depend on the rest of the sweep.
    alone = plan_runs(seeds=[2], faults=["harsh"], duration_s=300.0, restarts=3,
                      downtimes=[0.0, 10.0], sweep_seed=7)
    assert [r.restart_at_s for r in alone] == [
        r.restart_at_s for r in runs if (r.seed, r.faults) == (2, "harsh")
    ]
    other = plan_runs(seeds=[2], faults=["harsh"], duration_s=300.0, restarts=3,
                      downtimes=[0.0], sweep_seed=8)
    assert {r.restart_at_s for r in other}.isdisjoint({r.restart_at_s for r in alone})
    # Rounded to the millisecond only when that keeps the moment inside the run.
    assert all(r.restart_at_s == round(r.restart_at_s, 3) for r in runs)
    tiny = plan_runs(seeds=[1], faults=["none"], duration_s=0.002, restarts=20, downtimes=[1.0],
                     sweep_seed=1)
    assert [r.index for r in tiny] == list(range(20))
    assert all(0 < r.restart_at_s < 0.002 for r in tiny)


@pytest.mark.parametrize("at", [123.456, 0.1 + 0.2, 1 / 3, 299.99999999999994, 250.0])
def test_command_prints_the_exact_floats(at: float) -> None:
    run = SweepRun(0, 3, "harsh", 300.0, at, 0.1 + 0.7, restart_from_journal=False)
    words = shlex.split(run.command())
    assert words[:2] == ["lifecycle", "simulate"]
    flags = dict(zip(words[2::2], words[3::2], strict=False))
    assert flags["--seed"] == "3" and flags["--faults"] == "harsh"
    assert float(flags["--duration"]) == 300.0 and flags["--duration"] == "300"
    assert float(flags["--restart-at"]) == at
    assert float(flags["--downtime"]) == 0.1 + 0.7
    assert words[-1] == "--restart-empty"
    assert SweepRun(0, 1, "none", 60.0, 30.5, 0.0).command() == (
        "lifecycle simulate --seed 1 --duration 60 --faults none --restart-at 30.5 --downtime 0"
    )


def test_arguments() -> None:
    args = parse([])
    assert args.seeds == [1, 2, 3, 4] and args.faults == ["default", "harsh"]
    assert args.duration == 600.0 and args.downtimes == [0.0, 1.0, 10.0, 60.0]
    assert args.workers is None and args.dask is None
    assert parse(["--seeds", "3"]).seeds == [1, 2, 3]
    assert parse(["--seeds", "5-7"]).seeds == [5, 6, 7]
    for bad in (["--seeds", "7-5"], ["--seeds", "x"], ["--faults", "default,bogus"],
                ["--downtimes", "-1"], ["--duration", "0"], ["--restarts", "0"],
                ["--workers", "-1"]):
        with pytest.raises(SystemExit) as exit_info:
            parse(bad)
        assert exit_info.value.code == 2


def test_local_sweep_writes_a_json_line_per_run(tmp_path: Path) -> None:
    out_file = tmp_path / "runs.jsonl"
    status, out, err = sweep_main([*SMALL, "--downtimes", "0,10", "--workers", "2",
                                   "--out", str(out_file)])
    assert status == 0, out
    runs = lines(out_file)
    assert len(runs) == 2 * 2 * 2
    assert sorted(r["index"] for r in runs) == list(range(8))
    for run in runs:
        assert set(run["spec"]) == {"seed", "faults", "duration_s", "restart_at_s",
                                    "downtime_s", "restart_from_journal"}
        assert run["spec"]["faults"] == "default" and run["spec"]["duration_s"] == 60.0
        assert run["ok"] is True and run["error"] is None and run["wall_s"] > 0
        assert set(run["counters"]) == set(sweep.INVARIANTS)
        assert not any(run["counters"].values())
        assert run["command"].startswith(f"lifecycle simulate --seed {run['spec']['seed']} ")
    assert {r["spec"]["downtime_s"] for r in runs} == {0.0, 10.0}
    assert "OK: every invariant counter is 0 in all 8 runs" in out
    table = out.splitlines()
    assert table[0].split()[:5] == ["faults", "downtime", "runs", "failed", "median_s"]
    assert table[1].split()[:4] == ["default", "0", "4", "0"]
    assert table[2].split()[:4] == ["default", "10", "4", "0"]
    assert table[3].split()[:3] == ["all", "8", "0"]
    assert "failures" not in out
    # Not a terminal: the header, then a line per 10 % ending at 100 %.
    assert err.splitlines()[0].startswith("sweep: 8 runs")
    assert err.splitlines()[-1].startswith("sweep: 100% (8/8 runs), 0 failed")


def test_failing_runs_are_named_with_their_reproducing_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "runs.jsonl"
    status, out, _ = sweep_main([*SMALL, "--faults", "harsh", "--downtimes", "10",
                                 "--restart-empty", "--workers", "2", "--quiet",
                                 "--out", str(out_file)])
    assert status == 1
    runs = sorted(lines(out_file), key=lambda r: r["index"])
    failed = [r for r in runs if not r["ok"]]
    assert failed, "an empty engine after a restart must break an invariant"
    assert f"FAILED: {len(failed)} of {len(runs)} runs" in out
    assert f"failures ({len(failed)}):" in out
    for run in failed:
        assert any(run["counters"].values()) and run["findings"]
        assert run["command"].endswith("--restart-empty")
        assert f"    {run['command']}\n" in out
    # The printed command gives the very same run through the command line.
    from lifecycle.cli import main

    capsys.readouterr()
    argv = [*shlex.split(failed[0]["command"])[1:], "--json", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 1
    again = json.loads(capsys.readouterr().out)
    assert {k: again[k] for k in sweep.INVARIANTS} == failed[0]["counters"]
    assert {k: again[k] for k in ("fills", "orders_placed", "sim_seconds", "anomalies")} == {
        k: failed[0]["report"][k] for k in ("fills", "orders_placed", "sim_seconds", "anomalies")
    }


def test_a_run_that_raises_fails_alone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = vars(sweep)["run_simulation"]

    def divergent(spec: Any) -> Any:
        if spec.seed == 2 and spec.downtime_s == 1.0:
            raise RuntimeError("replay diverged at record 17\nexpected X, got Y")
        return real(spec)

    monkeypatch.setattr(sweep, "run_simulation", divergent)
    out_file = tmp_path / "runs.jsonl"
    status, out, _ = sweep_main([*SMALL, "--downtimes", "0,1", "--workers", "0", "--quiet",
                                 "--out", str(out_file)])
    assert status == 1
    runs = lines(out_file)
    assert len(runs) == 8
    failed = [r for r in runs if not r["ok"]]
    assert [(r["spec"]["seed"], r["spec"]["downtime_s"]) for r in failed] == [(2, 1.0)] * 2
    for run in failed:
        assert run["error"] == "RuntimeError: replay diverged at record 17"
        assert "in divergent" in run["traceback"]
        assert run["traceback"].endswith("expected X, got Y")
        assert run["counters"] == {} and run["report"] is None
        assert f"{run['command']}\n" in out
    assert "FAILED: 2 of 8 runs" in out
    assert out.count("RuntimeError: replay diverged at record 17") == 2
    assert out.splitlines()[2].split()[:4] == ["default", "1", "4", "2"]


def test_run_one_returns_a_real_exception_as_text() -> None:
    result = run_one(SweepRun(0, 1, "none", 60.0, 75.0, 10.0))
    assert not result.ok and result.wall_s is not None
    assert result.error is not None and result.error.startswith("ValueError: restart_at_s")
    assert result.traceback is not None and "run_simulation" in result.traceback


def test_an_exception_group_is_shown_by_its_first_leaf() -> None:
    def fail() -> None:
        raise TypeError("replace() should be called on dataclass instances")

    try:
        try:
            fail()
        except TypeError as exc:
            raise ExceptionGroup("unhandled errors in a TaskGroup", [exc]) from None
    except ExceptionGroup as group:
        result = RunResult.raised(SweepRun(0, 1, "none", 60.0, 30.0, 0.0), group, 0.5)
    assert result.error == (
        "TypeError: replace() should be called on dataclass instances (in an ExceptionGroup)"
    )
    assert result.traceback is not None and "in fail" in result.traceback
    assert result.failure() == result.error and not result.ok


def test_dask_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    status, out, err = sweep_main([*SMALL, "--dask", "tcp://127.0.0.1:1"])
    assert status == 2 and out == ""
    assert "`sweep` extra" in err and "dask.distributed" in err


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_dask_gives_the_local_results(tmp_path: Path, processes: bool) -> None:
    distributed = pytest.importorskip("dask.distributed")
    argv = [*SMALL, "--downtimes", "0,10", "--quiet"]
    status, local_out, _ = sweep_main([*argv, "--workers", "2", "--out", str(tmp_path / "l")])
    assert status == 0
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=processes,
                                  dashboard_address=None) as cluster:
        status, dask_out, _ = sweep_main(
            [*argv, "--dask", cluster.scheduler_address, "--out", str(tmp_path / "d")]
        )
    assert status == 0
    local = sorted(map(outcome, lines(tmp_path / "l")), key=lambda r: r["index"])
    remote = sorted(map(outcome, lines(tmp_path / "d")), key=lambda r: r["index"])
    assert len(local) == 8 and remote == local
    assert dask_out.splitlines()[-1] == local_out.splitlines()[-1]


def test_progress_bar_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    times = iter([0.0, 2.0, 4.0, 6.0])
    stream = Terminal()
    progress = sweep._Progress(3, stream, tty=True, quiet=False, clock=lambda: next(times))
    for ok in (True, False, True):
        progress.update(ok)
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "1/3 runs, 0 failed, ETA 4s" in text and "3/3 runs, 1 failed, ETA 0s" in text
    quiet = io.StringIO()
    silent = sweep._Progress(3, quiet, tty=True, quiet=True)
    silent.update(False)
    assert quiet.getvalue() == "" and silent.failed == 1


def test_summary_keeps_the_largest_magnitude() -> None:
    run = SweepRun(0, 1, "harsh", 60.0, 30.0, 1.0)
    counters = dict.fromkeys(sweep.INVARIANTS, 0)
    results = [
        RunResult(run, False, {**counters, "position_mismatch": -0.5}, {}, [], None, None, 1.0),
        RunResult(run, False, {**counters, "position_mismatch": 0.25}, {}, [], None, None, 3.0),
        RunResult.raised(run, KeyError("boom"), None),
    ]
    text = sweep.summary_text(results, ["harsh"])
    row = text.splitlines()[1].split()
    assert row[:5] == ["harsh", "1", "3", "3", "2.00"]
    assert row[5 + sweep.INVARIANTS.index("position_mismatch")] == "-0.5"
    assert "KeyError: 'boom'" in text


@pytest.mark.parametrize(
    "argv", [["--duration", "inf"], ["--duration=nan"], ["--downtimes", "0,inf"]]
)
def test_infinite_durations_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from lifecycle.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", *argv])
    assert exit_info.value.code == 2
    assert "finite" in capsys.readouterr().err
