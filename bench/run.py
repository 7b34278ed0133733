"""Benchmark of the order-lifecycle engine, with baselines and peers. Not a test.

Run by ``make bench`` (which installs the ``peers`` extra) as
``BENCH_JSON=path .venv/bin/python bench/run.py``. The results go as JSON to
the file named by the environment variable ``BENCH_JSON`` (default
``bench-results.json``); progress lines go to stderr as each measurement
runs, and a table of the results is printed to stdout at the end. The bench
modules import each other by their plain names: run as a script, this folder
is first on ``sys.path``.

Method: every figure is a median of runs made in this one process (``runs``
gives how many per key); the runs of keys meant to be compared are
interleaved, one run of each in turn, so a slow spell of the machine affects
them alike. ``gc.collect()`` is called just before each timed region; the
garbage collector stays enabled while timing, as in production. Setup
(engines, machines, populations, prebuilt events, journals) is never timed.
Time figures are wall-clock (``time.perf_counter``). Every measurement checks
that it did the work its key names and raises ``BenchError`` otherwise, which
stops the run: a figure of the wrong work is worse than none.

Keys, by the module that measures them (its docstring documents each exactly)
--------------------------------------------------------------------------------
``baselines``
    ``floor_dict_fire_us`` (calibration: the cheapest pure-Python transition;
    dividing a time by it compares machines), ``naive_transitions_us_per_order``
    and ``statemachine_us_per_order`` (the lifecycle's six transitions with the
    ``transitions`` and ``python-statemachine`` libraries).
``engine``
    ``lifecycle_us_per_order`` (one order's whole lifecycle through the
    engine), ``lifecycle_prebuilt_events_us_per_order`` (its exchange events
    built before timing) and ``lifecycle_floor_us_per_order`` (the same work as
    one loop with no engine).
``population``
    ``event_us_at_1k`` / ``event_us_at_100k`` (one fill applied to an engine of
    N live orders), ``event_ratio_100k_to_1k`` (their ratio) and
    ``bytes_per_order`` (memory held per live order).
``simulation``
    ``sim_speedup`` (simulated seconds per wall second of ``lifecycle simulate``).
``policy``
    ``reconcile_us_2x25_steady`` and ``reconcile_us_2x25_modify`` (one
    ``set_targets`` for a 25-level ladder per side whose plan is all keeps, or
    all modifies; microseconds) and ``sync_ms_5000`` (one safety sync of a
    5,000-row snapshot; milliseconds): each the median of every timed call.
``peers``
    ``lifecycle_fsm_equiv_us_per_order`` (our lifecycle, measured alternately
    with NautilusTrader's), ``nautilus_fsm_us_per_order`` (its order state
    machine) and ``nautilus_exec_us_per_order`` (its execution engine), and
    ``nautilus_fsm_ratio`` / ``nautilus_exec_ratio`` (its cost over ours).
    Skipped, the reason logged, when ``nautilus_trader`` is not importable.
``hyperliquid_sign``
    ``hl_sign_us``: one single-order Hyperliquid L1 action hashed and signed
    (msgpack, keccak, coincurve), the median; ``hl_sdk_sign_us`` the official
    SDK's ``sign_l1_action`` on the same action in the same run, and
    ``hl_sdk_sign_ratio`` its cost over ours. The SDK keys are skipped, the
    reason logged, when the SDK is not importable.
``hyperliquid_ws``
    ``ws_fill_to_request_us`` (p50) and ``ws_fill_to_request_p90_us``: a fill
    arriving over the websocket at the Hyperliquid adapter, from the adapter
    taking the message until the signed re-quote it causes is handed to the
    HTTP transport, through the loopback exchange in the same process.
``recovery``
    ``recover_ms``: one restart recovery of a 1,000,000-record journal with
    checkpoints at the default interval (``recover_ms`` of ``bench/recovery.py``,
    the journal built untimed), milliseconds. Skipped, the reason logged, when
    that file is absent, does not import, or has no ``recover_ms``.

Other keys
----------
``python``, ``transitions``, ``statemachine``, ``nautilus_trader``
    The Python version and the versions of the libraries (``"missing"`` for a
    peer that is not installed).
``runs``
    Number of runs behind each measured key (for the ``policy`` keys, each run
    times many calls; see there).
``skipped``
    The reason for each key that was not measured; such a key's value is null.
``targets`` / ``targets_at_least`` / ``targets_met``
    The performance goals below, which of them are floors (the value must be at
    least the target; the others are ceilings), and for each whether the
    measured value meets it: true or false, or null when the key was not
    measured (never counted as met).
``bench_wall_s``
    Wall-clock seconds of the whole benchmark, setup included.

Targets
-------
``nautilus_fsm_ratio`` >= 2.5 and ``nautilus_exec_ratio`` >= 15 (NautilusTrader's
cost over ours, run alternately in the same process); ``sim_speedup`` >= 2000;
``reconcile_us_2x25_steady`` <= 150; ``reconcile_us_2x25_modify`` <= 400;
``sync_ms_5000`` <= 10; ``recover_ms`` <= 1000; ``event_ratio_100k_to_1k`` <= 1.5;
``bytes_per_order`` <= 1024; ``hl_sign_us`` <= 100; ``ws_fill_to_request_us`` <= 1000.
``lifecycle_us_per_order`` has no absolute target: the ratios to NautilusTrader hold on
machines of any speed.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from baselines import (
    RUNS_FLOOR,
    RUNS_LIBRARY,
    library_versions,
    measure_floor,
    measure_libraries,
)
from engine import RUNS_LIFECYCLE, measure_lifecycle
from hyperliquid_sign import RUNS as RUNS_HL_SIGN
from hyperliquid_sign import measure as measure_hl_sign
from hyperliquid_sign import sdk_skip_reason
from hyperliquid_ws import SAMPLES as SAMPLES_HL_WS
from hyperliquid_ws import measure as measure_hl_ws
from measure import Measurement, log, log_to_stderr, measure
from peers import PEERS, measure_peers, peer_versions, skip_reason
from policy import measure_policy
from population import RUNS_EVENTS, RUNS_MEMORY, measure_events, measure_memory
from simulation import RUNS_SIM, measure_sim

__all__ = [
    "AT_LEAST",
    "KEYS",
    "TARGETS",
    "build_report",
    "main",
    "print_table",
    "recovery_runner",
]

#: Runs of each peers key: its ratios are targets.
RUNS_PEERS = 11
#: Runs of ``recover_ms`` (each builds its own journal, untimed).
RUNS_RECOVERY = 5
#: Runs of the policy keys (each run times many calls).
RUNS_POLICY = 7

TARGETS: dict[str, float] = {
    "nautilus_fsm_ratio": 2.5,
    "nautilus_exec_ratio": 15.0,
    "sim_speedup": 2000.0,
    "reconcile_us_2x25_steady": 150.0,
    "reconcile_us_2x25_modify": 400.0,
    "sync_ms_5000": 10.0,
    "recover_ms": 1000.0,
    "event_ratio_100k_to_1k": 1.5,
    "bytes_per_order": 1024.0,
    "hl_sign_us": 100.0,
    "ws_fill_to_request_us": 1000.0,
}
#: The targets that are floors (the value must be at least the target); the others are ceilings.
AT_LEAST: frozenset[str] = frozenset({"nautilus_fsm_ratio", "nautilus_exec_ratio", "sim_speedup"})

#: Every figure of the report, in order: (key, decimals kept, unit shown in the table).
KEYS: tuple[tuple[str, int, str], ...] = (
    ("floor_dict_fire_us", 4, "us"),
    ("lifecycle_us_per_order", 3, "us"),
    ("lifecycle_prebuilt_events_us_per_order", 3, "us"),
    ("lifecycle_floor_us_per_order", 3, "us"),
    ("naive_transitions_us_per_order", 3, "us"),
    ("statemachine_us_per_order", 3, "us"),
    ("event_us_at_1k", 3, "us"),
    ("event_us_at_100k", 3, "us"),
    ("event_ratio_100k_to_1k", 3, "x"),
    ("bytes_per_order", 1, "bytes"),
    ("sim_speedup", 1, "x"),
    ("reconcile_us_2x25_steady", 3, "us"),
    ("reconcile_us_2x25_modify", 3, "us"),
    ("sync_ms_5000", 3, "ms"),
    ("lifecycle_fsm_equiv_us_per_order", 3, "us"),
    ("nautilus_fsm_us_per_order", 3, "us"),
    ("nautilus_fsm_ratio", 3, "x"),
    ("nautilus_exec_us_per_order", 3, "us"),
    ("nautilus_exec_ratio", 3, "x"),
    ("recover_ms", 1, "ms"),
    ("hl_sign_us", 3, "us"),
    ("hl_sdk_sign_us", 3, "us"),
    ("hl_sdk_sign_ratio", 3, "x"),
    ("ws_fill_to_request_us", 1, "us"),
    ("ws_fill_to_request_p90_us", 1, "us"),
)

_NAUTILUS_KEYS = (
    "nautilus_fsm_us_per_order",
    "nautilus_fsm_ratio",
    "nautilus_exec_us_per_order",
    "nautilus_exec_ratio",
)
_RECOVERY = Path(__file__).resolve().parent / "recovery.py"


def recovery_runner() -> tuple[Callable[[], float] | None, str | None]:
    """``bench/recovery.py``'s ``recover_ms`` and None, or None and why it cannot be run."""
    if not _RECOVERY.exists():
        return None, f"{_RECOVERY.name} is absent"
    try:
        module = importlib.import_module("recovery")
    except ImportError as exc:
        return None, f"{_RECOVERY.name} does not import: {type(exc).__name__}: {exc}"
    run = getattr(module, "recover_ms", None)
    if not callable(run):
        return None, f"{_RECOVERY.name} has no recover_ms"
    return run, None


def build_report(
    results: dict[str, float],
    runs: dict[str, int],
    skipped: dict[str, str],
    versions: dict[str, str],
    wall_s: float,
) -> dict[str, Any]:
    """The JSON report: every key of :data:`KEYS` (null when not measured), runs and targets.

    A key absent from ``results`` is not measured: null, with the reason from
    ``skipped`` (or "not measured"), and its target neither met nor missed.
    """
    report: dict[str, Any] = dict(versions)
    reasons = dict(skipped)
    for key, digits, _ in KEYS:
        if key in results:
            report[key] = round(results[key], digits)
        else:
            report[key] = None
            reasons.setdefault(key, "not measured")
    met: dict[str, bool | None] = {}
    for key, target in TARGETS.items():
        value = results.get(key)
        if value is None:
            met[key] = None
        else:
            met[key] = value >= target if key in AT_LEAST else value <= target
    report.update(
        {
            "runs": runs,
            "skipped": reasons,
            "targets": TARGETS,
            "targets_at_least": sorted(AT_LEAST),
            "targets_met": met,
            "bench_wall_s": round(wall_s, 1),
        }
    )
    return report


def main() -> int:
    """Run every measurement, write the JSON file and print the table."""
    out_path = os.environ.get("BENCH_JSON", "bench-results.json")
    started = time.perf_counter()
    log_to_stderr()
    log(f"bench: python {platform.python_version()}, writing {out_path}")

    results: dict[str, float] = {}
    runs: dict[str, int] = {}
    skipped: dict[str, str] = {}

    def record(measured: dict[str, float], count: int, *, announce: bool = False) -> None:
        results.update(measured)
        runs.update({key: count for key in measured if "ratio" not in key})
        if announce:  # measure() announces its own results; policy and peers do not
            for key, value in measured.items():
                log(f"  -> {key} = {value:.4f}")

    record(measure_floor(RUNS_FLOOR), RUNS_FLOOR)
    record(measure_lifecycle(RUNS_LIFECYCLE), RUNS_LIFECYCLE)
    record(measure_libraries(RUNS_LIBRARY), RUNS_LIBRARY)
    record(measure_events(RUNS_EVENTS), RUNS_EVENTS)
    record(measure_memory(RUNS_MEMORY), RUNS_MEMORY)
    record(measure_sim(RUNS_SIM), RUNS_SIM)
    log(f"policy: {RUNS_POLICY} runs of each key, one warm-up run")
    record(measure_policy(RUNS_POLICY), RUNS_POLICY, announce=True)
    log(f"peers: {RUNS_PEERS} runs of each key, one warm-up run")
    record(measure_peers(RUNS_PEERS), RUNS_PEERS, announce=True)
    reason = skip_reason(dict(PEERS)["nautilus_trader"])
    for key in _NAUTILUS_KEYS:
        if key not in results:
            skipped[key] = reason or "nautilus_trader measured nothing"
    recover, reason = recovery_runner()
    if recover is None:
        log(f"recover_ms skipped: {reason}")
        skipped["recover_ms"] = reason or "not measured"
    else:
        what = "recoveries of a 1,000,000-record journal, checkpointed (built untimed)"
        measured = measure(Measurement("recover_ms", RUNS_RECOVERY, what, recover, "ms"))
        record(measured, RUNS_RECOVERY)

    log(f"hyperliquid_sign: {RUNS_HL_SIGN} runs, each of many single-order signatures")
    record(measure_hl_sign(RUNS_HL_SIGN), RUNS_HL_SIGN, announce=True)
    for key in ("hl_sdk_sign_us", "hl_sdk_sign_ratio"):
        if key not in results:
            skipped[key] = sdk_skip_reason() or "not measured"
    log(f"hyperliquid_ws: {SAMPLES_HL_WS} fills through the loopback, each until its re-quote")
    record(measure_hl_ws(SAMPLES_HL_WS), 1, announce=True)

    versions = {
        "python": platform.python_version(),
        **library_versions(),
        "nautilus_trader": peer_versions()["nautilus_trader"],
    }
    total = time.perf_counter() - started
    report = build_report(results, runs, skipped, versions, total)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    log(f"bench: done in {total:.1f} s, results in {out_path}")
    print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    """Print the results as a table to stdout."""
    floor = report["floor_dict_fire_us"]
    rows: list[tuple[str, str, str, str]] = []
    for key, _, unit in KEYS:
        if key == "floor_dict_fire_us":
            continue
        value = report[key]
        target = report["targets"].get(key)
        sense = ">=" if key in report["targets_at_least"] else "<="
        if value is None:
            shown, in_floors = "not measured", ""
            goal = f"{sense} {target:g} not measured" if target is not None else ""
        else:
            shown = f"{value:,.3f} {unit}"
            us = value if unit == "us" else value * 1e3 if unit == "ms" else None
            in_floors = f"{us / floor:,.1f}" if us is not None and floor else ""
            met = report["targets_met"].get(key)
            goal = f"{sense} {target:g} {'met' if met else 'MISSED'}" if target is not None else ""
        rows.append((key, shown, in_floors, goal))
    header = ("key", "median", "x floor", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(
        f"python {report['python']}, transitions {report['transitions']}, "
        f"python-statemachine {report['statemachine']}, "
        f"nautilus_trader {report['nautilus_trader']}; floor_dict_fire_us = {floor} us"
    )
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i in (0, 3) else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    for key, reason in report["skipped"].items():
        print(f"not measured: {key}: {reason}")


if __name__ == "__main__":
    sys.exit(main())
