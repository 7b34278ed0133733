"""What the command prints: `simulate --json` carries every figure of the text report,
one spelling (`canceled`), log lines with time, level and logger, and the `1e3` hint."""

from __future__ import annotations

import contextlib
import json
import logging
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from lifecycle.cli import main
from lifecycle.cli.logs import LogFormatter, cli_logging
from lifecycle.config import ConfigError, load_config, parse_config
from lifecycle.config.document import number_as_text
from lifecycle.core.states import OrderState
from lifecycle.runtime import run_virtual, sleep
from lifecycle.sim import JSON_KEYS, SimulationReport, SimulationSpec, run_simulation

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def restarted() -> SimulationReport:
    return run_simulation(SimulationSpec(seed=7, duration_s=300.0, faults="harsh",
                                         restart_at_s=150.0))


def test_json_has_exactly_its_keys_and_is_plain_data(restarted: SimulationReport) -> None:
    data = restarted.to_json()
    assert list(data) == list(JSON_KEYS)
    assert json.loads(json.dumps(data)) == data


def test_json_carries_every_figure_of_the_text_report(restarted: SimulationReport) -> None:
    j: dict[str, Any] = restarted.to_json()
    text = restarted.text()
    assert (j["seed"], j["faults"], j["duration_s"]) == (7, "harsh", 300.0)
    assert j["ok"] is restarted.ok is True and text.endswith("OK: every invariant counter is 0")
    assert f"simulation: seed {j['seed']}, faults {j['faults']}: {j['sim_seconds']:.0f} s" in text
    assert (
        f"orders: placed {j['orders_placed']}, modified {j['orders_modified']} "
        f"(of {j['modify_requests']} modify requests), canceled {j['orders_canceled']} "
        f"(of {j['cancel_requests']} cancel requests), filled {j['orders_filled']}, "
        f"canceled by the exchange {j['orders_exchange_canceled']}"
    ) in text
    ended = ", ".join(f"{k} {v}" for k, v in j["orders_ended"].items())
    assert f"  ended by reason: {ended}\n" in text
    assert Decimal(str(j["position"])) == restarted.position
    assert f"fills: {j['fills']}, position {restarted.position}" in text
    assert list(j["time_in_state"]) == [s.value for s in OrderState if s is not OrderState.GONE]
    for state, spent in j["time_in_state"].items():
        assert f"  {state:<20} {spent['seconds']:12.1f} s {spent['entries']:8d}" in text
    assert (f"orphans: seen {j['orphans_seen']}, adopted {j['orphans_adopted']}, "
            f"canceled {j['orphans_canceled']}") in text
    anomalies = ", ".join(f"{k} {v}" for k, v in j["anomalies"].items() if v) or "none"
    assert f"anomalies: {anomalies}\n" in text
    runtime = j["runtime"]
    assert f"runtime: requests {sum(runtime['requests'].values())} (" in text
    for name in ("ambiguous", "retries", "held"):
        assert f"{name} {runtime[name]}" in text
    assert f"syncs {runtime['syncs']} (failed {runtime['syncs_failed']})" in text
    assert f"reconnects {runtime['reconnects']}, weight {runtime['weight']}" in text
    faults = ", ".join(f"{k} {v}" for k, v in j["exchange_faults"].items())
    assert j["exchange_faults"] and f"exchange faults: {faults}\n" in text
    restart = j["restart"]
    assert restart["at_s"] == 150.0 and restart["from_journal"] is True
    assert (f"restart: stopped abruptly at {restart['at_s']:.0f} s, down "
            f"{restart['downtime_s']:.0f} s; came back from its journal: "
            f"{restart['inputs_replayed']} inputs replayed") in text
    for name, value in restarted.counters().items():
        assert j[name] == value and f"  {name:<28} {value}\n" in text
    assert j["interrupted_at_s"] is None and "interrupted" not in text


def test_simulate_json_from_the_command_line_has_every_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--duration", "120", "--json", "--quiet", "--faults", "none",
                 "--out", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == set(JSON_KEYS) and report["restart"] is None
    assert report["faults"] == "none" and report["ok"] is True


def test_one_spelling_canceled_in_everything_printed(
    restarted: SimulationReport, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = [restarted.text(), json.dumps(restarted.to_json())]
    for argv in (["simulate", "--help"], ["defaults"], ["--help"]):
        with contextlib.suppress(SystemExit):  # --help exits
            main(argv)
        outputs.append(capsys.readouterr().out)
    assert "canceling them" in outputs[2]
    for out in outputs:
        assert "cancelled" not in out.lower()
        # "cancelling" is only the CANCELLING state's name, which journals keep.
        for found in re.finditer(r"\w*cancell\w*", out, re.IGNORECASE):
            assert found.group(0).lower() == "cancelling", found.group(0)


def test_log_lines_carry_wall_time_level_and_logger() -> None:
    record = logging.LogRecord("lifecycle.engine", logging.WARNING, __file__, 1, "hello %s",
                               ("there",), None)
    line = LogFormatter().format(record)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} WARNING lifecycle\.engine: hello there", line)


def test_log_lines_in_a_simulation_carry_simulated_time() -> None:
    record = logging.LogRecord("lifecycle.sim", logging.ERROR, __file__, 1, "late", (), None)

    async def later() -> str:
        await sleep(1234.5)
        return LogFormatter().format(record)

    line, _ = run_virtual(later)
    assert line == "sim 1234.500s ERROR lifecycle.sim: late"


def test_the_command_logs_through_its_handler_and_takes_it_away(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = list(logging.getLogger().handlers)
    assert main(["simulate", "--duration", "300", "--faults", "harsh", "--seed", "7",
                 "--verbose", "--quiet", "--out", str(tmp_path)]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if " lifecycle." in line]
    assert lines, "a harsh run under --verbose logs warnings"
    for line in lines:
        assert re.match(r"sim \d+\.\d{3}s (WARNING|ERROR) lifecycle\.[\w.]+: \S", line), line
    assert logging.getLogger().handlers == before
    with cli_logging() as handler:
        assert handler in logging.getLogger().handlers
    assert handler not in logging.getLogger().handlers


# --- numbers YAML reads as text --------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "integer", "hint"),
    [
        ("1e3", False, "; YAML reads 1e3 as text, not a number (an exponent needs a dot and a "
                       "sign): write 1000.0 or 1.0e+3"),
        ("1e3", True, "write 1000"),
        ("2.5E4", False, "write 25000.0 or 2.5e+4"),
        ("2.5E-4", False, "; 2.5E-4 in quotes is text: write the number without quotes"),
        ("1.0e3", False, "write 1000.0 or 1.0e+3"),
        ("1e-7", False, "write 1.0e-7"),
        ("1000", False, "; 1000 in quotes is text: write the number without quotes"),
        ("abc", False, None),
        ("1e999", False, None),
        (1000, False, None),
    ],
)
def test_number_as_text(written: object, integer: bool, hint: str | None) -> None:
    found = number_as_text(written, integer=integer)
    assert found == hint if hint is None or hint.startswith(";") else hint in (found or "")


def test_config_1e3_says_yaml_reads_it_as_text_and_the_advice_loads(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("orders:\n  protection_s: 1e3\n  history_limit: 2e1\n"
                    "reconciler:\n  level_tolerance_bps: [5, 1e1, 22.5]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    messages = {p.path: p.message for p in info.value.problems}
    assert messages == {
        "orders.protection_s": "expected a number (int or float), got '1e3' (str); YAML reads "
                               "1e3 as text, not a number (an exponent needs a dot and a sign): "
                               "write 1000.0 or 1.0e+3",
        "orders.history_limit": "expected an integer, got '2e1' (str); YAML reads 2e1 as text, "
                                "not a number (an exponent needs a dot and a sign): write 20",
        "reconciler.level_tolerance_bps[1]": "expected a number (int or float), got '1e1' "
                                             "(str); YAML reads 1e1 as text, not a number (an "
                                             "exponent needs a dot and a sign): write 10.0 or "
                                             "1.0e+1",
    }
    # The advice, taken, loads.
    path.write_text("orders:\n  protection_s: 1.0e+3\n  history_limit: 20\n"
                    "reconciler:\n  level_tolerance_bps: [5, 1.0e+1, 22.5]\n", encoding="utf-8")
    config = load_config(path)
    assert (config.orders.protection_s, config.orders.history_limit) == (1000.0, 20)


def test_text_where_text_is_due_gets_no_number_hint() -> None:
    config = parse_config(yaml.safe_load("orders:\n  namespace: 1e3\n"))
    assert config.orders.namespace == "1e3"
    with pytest.raises(ConfigError) as info:
        parse_config({"orders": {"protection_s": "soon"}})
    assert info.value.problems[0].message == "expected a number (int or float), got 'soon' (str)"
