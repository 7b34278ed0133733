"""The position, moved once per trade id.

Every fill changes the position exactly once, whether its order is known,
in flight, tombstoned or unknown. Trade ids are remembered in a bounded FIFO
window (``orders.fill_dedup_capacity``); orders also keep their own fills by
trade id, which catches repeats older than the window for known orders.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from lifecycle.core.ids import Tid
from lifecycle.core.order import Side

__all__ = ["FillLedger"]

_BUY = Side.BUY  # bound once: an enum member lookup is a Python-level attribute access


class FillLedger:
    """Signed position and the window of trade ids already applied.

    Args:
        capacity: How many recent trade ids are remembered.
    """

    __slots__ = ("_order", "_seen", "capacity", "duplicates", "fills", "position")

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.position = Decimal(0)
        self.fills = 0
        self.duplicates = 0
        self._seen: set[Tid] = set()
        self._order: deque[Tid] = deque()

    def seen(self, tid: Tid) -> bool:
        """Return whether ``tid`` is in the window."""
        return tid in self._seen

    def apply(self, tid: Tid, side: Side, size: Decimal) -> bool:
        """Move the position by a fill unless its trade id was applied already.

        Returns:
            True if the position moved, False for a duplicate.
        """
        seen = self._seen
        if tid in seen:
            self.duplicates += 1
            return False
        seen.add(tid)
        window = self._order
        window.append(tid)
        if len(window) > self.capacity:
            seen.discard(window.popleft())
        self.position += size if side is _BUY else -size
        self.fills += 1
        return True

    def count_duplicate(self) -> None:
        """Count a repeat caught by an order's own fills (older than the window)."""
        self.duplicates += 1
