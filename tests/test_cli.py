"""The `lifecycle` command: diagram, check-config, demo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lifecycle.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_cli_check_config_shipped_file_is_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(ROOT / "config.yaml")]) == 0
    assert capsys.readouterr().out.strip().endswith(": ok")


def test_cli_check_config_reports_every_problem_with_key_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders:\n  protection_s: -1\n  protection: 3\nsync:\n  interval_s: yes\n")
    assert main(["check-config", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "3 problem(s)" in out
    for path in ("orders.protection_s", "orders.protection", "sync.interval_s"):
        assert f"  {path}: " in out


def test_cli_demo_prints_transitions_and_ends_never_placed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "expected --accept--> live" in out
    assert "modifying --modify_ack--> finalized_protected" in out
    assert "gone --late_fill--> gone" in out
    assert "expected --confirm_absent--> gone  [never_placed]" in out
    assert "--modify_ack--> REFUSED" in out


def test_cli_demo_with_bad_config_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("orders:\n  tombstone_s: 0\n")
    assert main(["demo", "--config", str(bad)]) == 2
    assert "orders.tombstone_s" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_cli_diagram_writes_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "lifecycle.dot",
        "lifecycle.png",
        "lifecycle.svg",
    ]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--duration", "inf"], "--duration"),
        (["--duration", "Infinity"], "--duration"),
        (["--duration", "nan"], "--duration"),
        (["--duration", "-5"], "--duration"),
        (["--duration=-inf"], "--duration"),  # "-inf" alone reads as an option
        (["--restart-at", "100", "--downtime", "inf"], "--downtime"),
        (["--restart-at", "100", "--downtime", "nan"], "--downtime"),
        (["--restart-at", "100", "--downtime", "-1"], "--downtime"),
        (["--downtime", "inf"], "--downtime"),
        (["--restart-at", "inf"], "--restart-at"),
        (["--restart-at", "nan"], "--restart-at"),
    ],
)
def test_cli_simulate_refuses_endless_or_meaningless_times(
    args: list[str], option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # float() takes "inf" and "nan"; a run of infinite duration or downtime would never end.
    status = main(["simulate", "--quiet", "--out", str(tmp_path), *args])
    assert status == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{option} must be ") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing ran, nothing was written


def test_cli_simulate_time_errors_exit_2_from_the_command_line(tmp_path: Path) -> None:
    # `python -m lifecycle`: exit status 2 and one line on stderr, no traceback.
    import subprocess
    import sys

    expected = {
        "--duration": "--duration must be > 0 and finite (seconds), got inf",
        "--downtime": "--downtime must be >= 0 and finite (seconds), got inf",
    }
    for option, message in expected.items():
        done = subprocess.run(
            [sys.executable, "-m", "lifecycle", "simulate", "--quiet", "--out", str(tmp_path),
             option, "inf"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert (done.returncode, done.stderr.strip(), done.stdout) == (2, message, "")
