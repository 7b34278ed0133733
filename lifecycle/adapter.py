"""The adapter protocol (kept at this path; it lives in :mod:`lifecycle.runtime.adapter`)."""

from lifecycle.runtime.adapter import (
    CommandResult,
    ExchangeAdapter,
    FillsUnavailable,
    OpenOrder,
    OpenOrdersSnapshot,
    SnapshotUnavailable,
)

__all__ = [
    "CommandResult",
    "ExchangeAdapter",
    "FillsUnavailable",
    "OpenOrder",
    "OpenOrdersSnapshot",
    "SnapshotUnavailable",
]
