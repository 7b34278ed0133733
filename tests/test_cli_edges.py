"""The `lifecycle` command without sharp edges: a mistake ends in one line, never a traceback.

Closed pipes, Ctrl-C, output places that are files or unwritable, Graphviz missing,
an option that needs another, `--version`, `python -m lifecycle`, `lifecycle defaults`.
Most run the command in a subprocess, as a user does.
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lifecycle.cli import main
from lifecycle.cli.guard import BROKEN_PIPE, INTERRUPTED, run_guarded
from lifecycle.sim import JSON_KEYS, SimulationSpec, run_simulation
from lifecycle.sim.simulate import StopRequest

ROOT = Path(__file__).resolve().parents[1]
LIFECYCLE = [sys.executable, "-m", "lifecycle"]


def cli(*args: str, env: dict[str, str] | None = None,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LIFECYCLE, *args], capture_output=True, text=True, timeout=120,
                          check=False, env=env, input=stdin)


def closed_stdout(*args: str, buffered: bool = True) -> tuple[int, str]:
    """Run with a standard output whose reader has gone (``| head -1`` after its line).

    Buffered, as Python's standard output into a pipe is by default, unless
    ``buffered`` is False (``PYTHONUNBUFFERED``: every write fails at once).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen([*LIFECYCLE, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout is not None
    process.stdout.close()  # every write of the child now fails with EPIPE
    _, err = process.communicate(timeout=120)
    return process.returncode, err


# --- --version, python -m lifecycle, defaults ------------------------------------------------


def test_version_prints_the_installed_version() -> None:
    done = cli("--version")
    assert done.returncode == 0
    assert done.stdout == f"lifecycle {importlib.metadata.version('order-lifecycle')}\n"


def test_python_m_lifecycle_runs_the_command() -> None:
    done = cli("check-config", str(ROOT / "config.yaml"))
    assert (done.returncode, done.stdout.strip(), done.stderr) == (
        0, f"{ROOT / 'config.yaml'}: ok", "")


def test_packaged_defaults_are_the_shipped_config_yaml() -> None:
    shipped = (ROOT / "config.yaml").read_bytes()
    assert (ROOT / "lifecycle" / "config" / "defaults.yaml").read_bytes() == shipped, (
        "lifecycle/config/defaults.yaml differs from config.yaml: copy config.yaml over it"
    )


def test_defaults_prints_config_yaml_and_check_config_reads_it_from_a_pipe() -> None:
    printed = cli("defaults")
    assert printed.returncode == 0 and printed.stderr == ""
    assert printed.stdout == (ROOT / "config.yaml").read_text(encoding="utf-8")
    checked = cli("check-config", "-", stdin=printed.stdout)
    assert (checked.returncode, checked.stdout) == (0, "<stdin>: ok\n")


def test_check_config_from_stdin_reports_problems(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("orders:\n  protection_s: 1e3\n"))
    assert main(["check-config", "-"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("<stdin>: 1 problem(s)\n  orders.protection_s: expected a number")
    assert "YAML reads 1e3 as text" in out and "write 1000.0 or 1.0e+3" in out


# --- a closed pipe ---------------------------------------------------------------------------


CLOSED_STDOUT_RUNS = [
    ("simulate", "--duration", "60", "--quiet"),
    ("simulate", "--duration", "60", "--quiet", "--json"),
    ("defaults",),
    ("check-config", str(ROOT / "config.yaml")),  # one short line: met at the final flush
]


@pytest.mark.parametrize(
    ("args", "buffered"),
    [(args, buffered) for args in CLOSED_STDOUT_RUNS for buffered in (True, False)]
    # Unbuffered, argparse drops the failed write of its own version line and exits 0.
    + [(("--version",), True)],
)
def test_closed_stdout_exits_141_without_a_traceback(
    args: tuple[str, ...], buffered: bool, tmp_path: Path
) -> None:
    if args[0] == "simulate":
        args = (*args, "--out", str(tmp_path))
    status, err = closed_stdout(*args, buffered=buffered)
    assert status == BROKEN_PIPE
    assert "Traceback" not in err and "Exception ignored" not in err
    if "--json" not in args:  # with --json, the files written are noted on stderr
        assert err == ""


def test_help_into_a_closed_stdout_says_nothing() -> None:
    # argparse drops a failed write of its help itself (unbuffered: at once) and exits 0.
    assert closed_stdout("simulate", "--help", buffered=False) == (0, "")


def test_pipe_into_head_shows_the_first_line_and_no_traceback(tmp_path: Path) -> None:
    command = (f"{sys.executable} -m lifecycle simulate --duration 60 --quiet "
               f"--out {tmp_path} | head -1")
    done = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.stdout.startswith("simulation: seed 1, faults default:")
    assert done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_guard_turns_a_broken_pipe_and_ctrl_c_into_statuses(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken() -> int:
        raise BrokenPipeError

    def interrupted() -> int:
        raise KeyboardInterrupt

    assert run_guarded(broken) == 141
    assert run_guarded(interrupted) == 130
    assert capsys.readouterr().err == "lifecycle: interrupted\n"


# --- Ctrl-C during a simulation --------------------------------------------------------------


@pytest.mark.parametrize("as_json", [False, True])
def test_ctrl_c_stops_the_simulation_prints_the_partial_report_and_exits_130(
    as_json: bool, tmp_path: Path
) -> None:
    args = [*LIFECYCLE, "simulate", "--duration", "36000", "--out", str(tmp_path)]
    if as_json:
        args.append("--json")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    first = process.stderr.readline()  # the progress bar's first line: the run is under way
    assert first.startswith("simulate: [")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == INTERRUPTED == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert "interrupted at " in err and "no diagram written" in err
    if as_json:
        report = json.loads(out)
        assert set(report) == set(JSON_KEYS)
        assert 0 <= report["interrupted_at_s"] < 36000
        assert report["sim_seconds"] < 36000 and report["ok"] is True
    else:
        assert "interrupted: stopped at " in out and "of 36000 s asked for" in out
        assert "invariants (from the exchange's truth):" in out
        assert out.rstrip().endswith("OK: every invariant counter is 0")
    assert not (tmp_path / "simulation.dot").exists()  # an earlier full run's is kept


def test_a_stop_request_ends_the_run_early_with_a_complete_report() -> None:
    stop = StopRequest()

    def progress(done_s: float, total_s: float) -> None:
        if done_s >= 600:
            stop.requested = True

    spec = SimulationSpec(seed=3, duration_s=3600.0, progress=progress,
                          progress_interval_s=300.0)
    report = run_simulation(spec, stop=stop)
    assert report.interrupted_at_s is not None
    assert 600 <= report.interrupted_at_s <= 601  # within a simulated second of the request
    assert report.ok and report.consistent  # shut down as at the end: nothing left behind
    assert report.to_json()["interrupted_at_s"] == round(report.interrupted_at_s, 3)


def test_a_stop_request_never_set_leaves_the_run_unchanged() -> None:
    spec = SimulationSpec(seed=5, duration_s=600.0, faults="harsh")
    plain = run_simulation(spec).to_json()
    watched = run_simulation(spec, stop=StopRequest()).to_json()
    for report in (plain, watched):
        report.pop("wall_seconds")
    assert watched == plain and watched["interrupted_at_s"] is None


def test_a_stop_request_during_the_first_life_of_a_restart_run() -> None:
    stop = StopRequest()
    stop.requested = True  # set before the run: it stops at once and still closes cleanly
    report = run_simulation(SimulationSpec(seed=2, duration_s=600.0, restart_at_s=300.0),
                            stop=stop)
    assert report.interrupted_at_s == 0.0 and report.ok
    assert report.restart is not None and report.restart.at_s == 0.0


# --- output places ---------------------------------------------------------------------------


def test_diagram_out_naming_a_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["diagram", "--out", str(blocker)]) == 2
    assert capsys.readouterr().err == f"--out {blocker}: {blocker} is a file, not a directory\n"
    assert main(["diagram", "--out", str(blocker / "sub")]) == 2
    assert f"{blocker} is a file, so {blocker / 'sub'} cannot be a directory" in (
        capsys.readouterr().err)
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_diagram_out_in_a_read_only_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["diagram", "--out", str(locked / "diagrams")]) == 2
    assert f"{locked} is not writable" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_diagram_out_where_no_directory_can_be_made_is_an_error_not_a_traceback() -> None:
    # /proc takes no new directory, whoever asks (root too): the write itself fails.
    done = cli("diagram", "--out", "/proc/lifecycle-diagrams")
    assert done.returncode == 2
    assert done.stderr.startswith("cannot write into /proc/lifecycle-diagrams: ")
    assert "Traceback" not in done.stderr


def test_simulate_out_naming_a_file_is_refused_before_running(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = cli("simulate", "--out", str(blocker))  # an hour, were it to run
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"--out {blocker}: {blocker} is a file, not a directory\n"
    done = cli("simulate", "--journal", str(blocker / "run"), "--out", str(tmp_path))
    assert done.returncode == 2 and done.stderr.startswith(f"--journal {blocker / 'run'}: ")


def test_report_and_trace_out_under_a_file_are_errors(tmp_path: Path) -> None:
    journal = tmp_path / "run"
    assert cli("simulate", "--duration", "60", "--quiet", "--journal", str(journal),
               "--out", str(tmp_path / "d")).returncode == 0
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = cli("report", "--journal", str(journal), "--out", str(blocker))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"--out {blocker}: {blocker} is a file, not a directory\n"
    done = cli("trace", "0x" + "0" * 32, "--journal", str(journal),
               "--out", str(blocker / "trace"))
    assert (done.returncode, done.stdout) == (2, "")
    assert "Traceback" not in done.stderr and f"{blocker} is a file" in done.stderr


# --- Graphviz missing ------------------------------------------------------------------------


def without_dot(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "bin"
    empty.mkdir()
    return {**os.environ, "PATH": str(empty)}


def test_diagram_without_dot_says_how_to_install_graphviz(tmp_path: Path) -> None:
    done = cli("diagram", "--out", str(tmp_path / "d"), env=without_dot(tmp_path))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Graphviz `dot` is not installed" in done.stderr
    for way in ("apt install graphviz", "brew install graphviz", "https://graphviz.org/download/"):
        assert way in done.stderr
    assert (tmp_path / "d" / "lifecycle.dot").exists()  # the text form needs no Graphviz


def test_simulate_without_dot_still_reports_and_says_so(tmp_path: Path) -> None:
    done = cli("simulate", "--duration", "60", "--quiet", "--out", str(tmp_path / "d"),
               env=without_dot(tmp_path))
    assert done.returncode == 0 and "OK: every invariant counter is 0" in done.stdout
    assert "diagram not drawn" in done.stderr and "apt install graphviz" in done.stderr
    assert "Traceback" not in done.stderr


# --- an option that needs another ------------------------------------------------------------


@pytest.mark.parametrize("option", [["--downtime", "5"], ["--restart-empty"]])
def test_option_without_restart_at_is_a_usage_error(
    option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "--quiet", "--out", str(tmp_path), *option])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: lifecycle simulate")
    assert f"error: {option[0]} needs --restart-at" in err
    assert list(tmp_path.iterdir()) == []


def test_downtime_without_restart_at_from_the_command_line(tmp_path: Path) -> None:
    done = cli("simulate", "--downtime", "5", "--out", str(tmp_path))
    assert (done.returncode, done.stdout) == (2, "")
    assert "--downtime needs --restart-at" in done.stderr and "Traceback" not in done.stderr


def test_simulate_command_reports_a_missing_restart_at_without_a_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lifecycle.sim import simulate_command

    status = simulate_command(seed=1, duration_s=60.0, faults="none", config=None,
                              as_json=False, out=tmp_path, downtime_s=5.0)
    assert status == 2
    assert capsys.readouterr().err.startswith("--downtime needs --restart-at")


def test_downtime_with_restart_at_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["simulate", "--duration", "120", "--restart-at", "60", "--downtime", "3",
                   "--quiet", "--json", "--out", str(tmp_path)])
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["restart"]["downtime_s"] == 3.0
