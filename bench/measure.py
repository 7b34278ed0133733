"""How the benchmark measures: one key's runs, their median, and the failure of a measurement.

Theory of operation: a :class:`Measurement` names one key and a ``run``
callable that does its own untimed setup, calls :func:`gc.collect` just before
its timed region, times only that region (wall clock, ``time.perf_counter``),
checks that it did the work the key names, and returns one figure.
:func:`measure` runs several measurements interleaved (one run of each in
turn), so a slow spell of the machine hits the keys meant to be compared alike,
and returns the median of each key's runs. A measurement that did not do what
its key claims raises :class:`BenchError`, which stops the benchmark: a figure
of the wrong work is worse than none.

Progress lines go to stderr through :func:`log`; the modules that measure with
their own loops log through the ``bench`` logger, which :func:`log_to_stderr`
points at stderr without touching the root logger, so the package's own INFO
lines stay off while timing, as in production.
"""

from __future__ import annotations

import logging
import statistics
import sys
from collections.abc import Callable
from typing import NamedTuple

__all__ = ["BenchError", "Measurement", "log", "log_to_stderr", "measure"]


class BenchError(RuntimeError):
    """A measurement did not do what it claims to measure."""


def log(message: str) -> None:
    """Write one progress line to stderr."""
    print(message, file=sys.stderr, flush=True)


def log_to_stderr() -> None:
    """Send the ``bench`` logger's INFO lines (and its children's) to stderr, once."""
    bench_log = logging.getLogger("bench")
    if not bench_log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("  %(message)s"))
        bench_log.addHandler(handler)
    bench_log.setLevel(logging.INFO)


class Measurement(NamedTuple):
    """One key to measure: ``run`` returns one run's figure."""

    key: str
    runs: int
    what: str
    run: Callable[[], float]
    unit: str


def measure(*measurements: Measurement) -> dict[str, float]:
    """Announce each measurement, run them and return the median of each by key.

    The runs of several measurements are interleaved (one run of each in turn),
    so a slow spell of the machine hits them alike and their comparison holds.
    Each ``run`` does its own setup, calls :func:`gc.collect` and times only
    its measured region.
    """
    for m in measurements:
        log(f"{m.key}: {m.runs} runs of {m.what}")
    values: dict[str, list[float]] = {m.key: [] for m in measurements}
    for i in range(max(m.runs for m in measurements)):
        for m in measurements:
            if i < m.runs:
                value = m.run()
                values[m.key].append(value)
                log(f"  {m.key} run {i + 1}/{m.runs}: {value:.4f} {m.unit}")
    medians: dict[str, float] = {}
    for m in measurements:
        got = values[m.key]
        medians[m.key] = statistics.median(got)
        log(
            f"  -> {m.key} = {medians[m.key]:.4f} {m.unit} (min {min(got):.4f}, max {max(got):.4f})"
        )
    return medians
