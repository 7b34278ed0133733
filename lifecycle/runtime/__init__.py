"""The runtime: the only anyio importer.

Rule of this layer: it drives an engine with real or virtual time (the driver,
the executor, rate limits and wake-ups, the virtual-time loop) against an
exchange adapter speaking the adapter protocol. It imports the engine and below,
never ``sim``, ``journal``, ``review`` or the CLI.

``driver`` holds :class:`Runtime`, which composes the ``executor``, the safety
sync's ``snapshots``, the ``fills`` recovery, the ``headroom`` reading and the
``callbacks``; the executor consults the request ``policies`` (``backoff``,
``headroom``); ``ratelimit``, ``wakeups``, ``vloop`` (the clock and the
virtual-time loop), ``config`` and ``stats`` serve them, and ``adapter`` states
the protocol. The driver's docstring tells how they work together.
"""

from lifecycle.runtime.adapter import (
    AdapterAnomaly,
    AnomalySource,
    CommandResult,
    ExchangeAdapter,
    FillsUnavailable,
    HeadroomReading,
    HeadroomSource,
    HeadroomUnavailable,
    OpenOrder,
    OpenOrdersSnapshot,
    SnapshotUnavailable,
    is_rate_limit_refusal,
)
from lifecycle.runtime.config import RuntimeConfig
from lifecycle.runtime.driver import Runtime
from lifecycle.runtime.fills import FillHistory
from lifecycle.runtime.headroom import HeadroomState
from lifecycle.runtime.policies import RuntimePolicies
from lifecycle.runtime.ratelimit import WeightBudget, request_weight
from lifecycle.runtime.stats import RuntimeObserver, RuntimeStats
from lifecycle.runtime.vloop import VirtualTimeLoop, clock, current_time, run_virtual, sleep
from lifecycle.runtime.wakeups import Alarm

__all__ = [
    "AdapterAnomaly",
    "Alarm",
    "AnomalySource",
    "CommandResult",
    "ExchangeAdapter",
    "FillHistory",
    "FillsUnavailable",
    "HeadroomReading",
    "HeadroomSource",
    "HeadroomState",
    "HeadroomUnavailable",
    "OpenOrder",
    "OpenOrdersSnapshot",
    "Runtime",
    "RuntimeConfig",
    "RuntimeObserver",
    "RuntimePolicies",
    "RuntimeStats",
    "SnapshotUnavailable",
    "VirtualTimeLoop",
    "WeightBudget",
    "clock",
    "current_time",
    "is_rate_limit_refusal",
    "request_weight",
    "run_virtual",
    "sleep",
]
