"""Settings that are valid but cannot take effect as written: configuration warnings.

Theory of operation
-------------------
A configuration can pass every rule of :mod:`lifecycle.config.rules` and still
hold a setting that never matters, because another setting always decides
first. The reconciler's thresholds are where this happens: a target only
matches an order within its level's tolerance, and only a matched order is
latched, modified or cancelled and re-placed, so

* ``max_modify_bps`` at or above the largest level tolerance is never reached:
  every matched order is modified, whatever its value;
* ``latch_bps`` at or above a level's tolerance covers that level's whole
  matching window: a matched order there is never modified to follow its
  target's price;
* ``drift_cancel_all_bps`` below a level's tolerance forces a full replace
  before an order that far from every target can be matched.

:func:`config_warnings` lists each such setting as a
:class:`~lifecycle.config.problems.ConfigProblem` of severity ``"warning"``.
Warnings never refuse a configuration: ``lifecycle check-config`` prints them
and exits 0, and :func:`~lifecycle.config.loader.load_config` logs them.
"""

from __future__ import annotations

from lifecycle.config.model import LifecycleConfig
from lifecycle.config.problems import WARNING, ConfigProblem

__all__ = ["CATCH_UP_FILLS", "config_warnings"]

_TOLERANCES = "reconciler.level_tolerance_bps"


#: The most fills one fill catch-up can return: Hyperliquid's ``userFillsByTime``
#: serves only the 10,000 most recent fills of an account.
CATCH_UP_FILLS = 10_000


def config_warnings(config: LifecycleConfig) -> list[ConfigProblem]:
    """List the settings of ``config`` that cannot take effect as written.

    Args:
        config: A valid configuration.

    Returns:
        One problem of severity ``"warning"`` per such setting, at its key path;
        empty when every setting can matter.
    """
    rec = config.reconciler
    tolerances = rec.level_tolerance_bps
    warnings: list[ConfigProblem] = []
    largest = max(tolerances)
    widest = tolerances.index(largest)
    if rec.max_modify_bps >= largest:
        warnings.append(
            ConfigProblem(
                "reconciler.max_modify_bps",
                f"{rec.max_modify_bps!r} cannot take effect: it is >= the largest level "
                f"tolerance ({_TOLERANCES}[{widest}] = {largest!r}), and no order farther "
                "than its level's tolerance is ever matched, so every matched order is "
                "modified whatever this limit is; keep it below the largest tolerance",
                WARNING,
            )
        )
    latched = [i for i, tolerance in enumerate(tolerances) if rec.latch_bps >= tolerance]
    if latched:
        levels = _levels(latched, len(tolerances))
        warnings.append(
            ConfigProblem(
                "reconciler.latch_bps",
                f"{rec.latch_bps!r} cannot take effect at {levels}: it is >= "
                f"{_TOLERANCES}[{latched[-1]}] ({tolerances[latched[-1]]!r}), so every order "
                "matched there is within the latch and never modified to follow its target's "
                "price; keep it below the smallest tolerance",
                WARNING,
            )
        )
    if rec.drift_cancel_all_bps < largest:
        drift = rec.drift_cancel_all_bps
        beyond = [i for i, tolerance in enumerate(tolerances) if tolerance > drift]
        warnings.append(
            ConfigProblem(
                "reconciler.drift_cancel_all_bps",
                f"{rec.drift_cancel_all_bps!r} is below {_TOLERANCES}[{beyond[0]}] "
                f"({tolerances[beyond[0]]!r}): an order farther than this from every target "
                f"forces a full replace before it can be matched, so the tolerance of "
                f"{_levels(beyond, len(tolerances))} cannot take effect beyond it; keep it at "
                "or above the largest tolerance",
                WARNING,
            )
        )
    capacity = config.orders.fill_dedup_capacity
    if capacity < CATCH_UP_FILLS:
        warnings.append(
            ConfigProblem(
                "orders.fill_dedup_capacity",
                f"{capacity!r} cannot hold the fills one catch-up may return (Hyperliquid "
                f"serves the {CATCH_UP_FILLS} most recent fills): past it the ledger forgets "
                "fills early (the fill_memory_full anomaly) and a repeat of one counts twice; "
                f"keep it at {CATCH_UP_FILLS} or more",
                WARNING,
            )
        )
    return warnings


def _levels(indices: list[int], count: int) -> str:
    """Name the ladder levels that use the tolerance entries ``indices``."""
    # The last entry also covers every deeper level.
    names = [f"level {i}" if i < count - 1 else f"levels {i} and deeper" for i in indices]
    return ", ".join(names)
