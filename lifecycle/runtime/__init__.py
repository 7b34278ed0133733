"""The runtime: the only anyio importer.

Rule of this layer: it drives an engine with real or virtual time (the driver,
the executor, rate limits and wake-ups, the virtual-time loop) against an
exchange adapter speaking the adapter protocol. It imports the engine and below,
never ``sim``, ``journal``, ``review`` or the CLI.
"""

from lifecycle.runtime.adapter import (
    CommandResult,
    ExchangeAdapter,
    FillsUnavailable,
    OpenOrder,
    OpenOrdersSnapshot,
    SnapshotUnavailable,
)
from lifecycle.runtime.driver import (
    Alarm,
    FillHistory,
    Runtime,
    RuntimeConfig,
    RuntimeObserver,
    RuntimeStats,
    VirtualTimeLoop,
    WeightBudget,
    current_time,
    request_weight,
    run_virtual,
    sleep,
)

__all__ = [
    "Alarm",
    "CommandResult",
    "ExchangeAdapter",
    "FillHistory",
    "FillsUnavailable",
    "OpenOrder",
    "OpenOrdersSnapshot",
    "Runtime",
    "RuntimeConfig",
    "RuntimeObserver",
    "RuntimeStats",
    "SnapshotUnavailable",
    "VirtualTimeLoop",
    "WeightBudget",
    "current_time",
    "request_weight",
    "run_virtual",
    "sleep",
]
