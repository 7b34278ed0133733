"""The safety sync's fetches: :class:`SnapshotSync` asks the exchange for its open
orders and applies them to the engine.

Theory of operation
-------------------
Every ``sync.interval_s`` (the engine says when the next one is due, in
``engine.sync.next_sync_at``) and on demand (the engine queued
``FetchOpenOrders``, the websocket reconnected), :meth:`SnapshotSync.run`
fetches the open orders and hands them to :meth:`Engine.handle_snapshot
<lifecycle.engine.facade.Engine.handle_snapshot>`. On-demand syncs are spaced by
:attr:`RuntimeConfig.sync_min_gap_s
<lifecycle.runtime.config.RuntimeConfig.sync_min_gap_s>`; a fetch that returned no
snapshot is asked again after ``retry_initial_s``. One lock serialises every
fetch (periodic, on demand, and the shutdown's final syncs), so syncs never
overlap and snapshots arrive in order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio

from lifecycle.runtime.adapter import ExchangeAdapter, SnapshotUnavailable
from lifecycle.runtime.config import RuntimeConfig
from lifecycle.runtime.ratelimit import OPEN_ORDERS_WEIGHT, WeightBudget
from lifecycle.runtime.stats import RuntimeStats
from lifecycle.runtime.vloop import current_time
from lifecycle.runtime.wakeups import _Wake

if TYPE_CHECKING:
    from lifecycle.engine.facade import Engine

__all__ = ["SnapshotSync"]


class SnapshotSync:
    """Fetches open-order snapshots for the engine's safety sync (see the module
    docstring); a collaborator of :class:`~lifecycle.runtime.driver.Runtime`, which
    runs :meth:`run` as one of its tasks.

    Args:
        engine: The engine the snapshots are applied to.
        adapter: The exchange connection.
        config: Spacing and retry settings.
        stats: The runtime's counters, which it updates.
        budget: The request-weight budget every request spends from.
        limiter: The runtime's bound on requests in flight.
        changed: Told after each snapshot changed the engine.
        refused: Told when the exchange refused a fetch for its rate limits.
    """

    def __init__(
        self,
        engine: Engine,
        adapter: ExchangeAdapter,
        config: RuntimeConfig,
        stats: RuntimeStats,
        budget: WeightBudget,
        limiter: anyio.Semaphore,
        *,
        changed: Callable[[float], None],
        refused: Callable[[float], None] | None = None,
    ) -> None:
        self.engine = engine
        self.adapter = adapter
        self.config = config
        self.stats = stats
        self.budget = budget
        self._limiter = limiter
        self._changed = changed
        self._refused = refused
        self._lock = anyio.Lock(fast_acquire=True)
        self._wake = _Wake()
        self._wanted = False

    @property
    def busy(self) -> bool:
        """Whether a fetch is on its way."""
        return self._lock.locked()

    def want(self) -> None:
        """Ask for a sync as soon as the spacing of on-demand syncs allows."""
        self._wanted = True
        self._wake.set()

    async def run(self) -> None:
        """Sync when due and on demand (the runtime's task)."""
        next_at = current_time()
        last_demand = -math.inf
        while True:
            await self._wake.wait(next_at)
            now = current_time()
            if now < next_at:
                if not self._wanted:
                    continue
                gap = last_demand + self.config.sync_min_gap_s - now
                if gap > 0:
                    await anyio.sleep(gap)  # on-demand syncs are spaced out
                last_demand = current_time()
            self._wanted = False
            if await self.once():
                next_at = self.engine.sync.next_sync_at or current_time()
            else:
                next_at = current_time() + self.config.retry_initial_s

    async def once(self) -> bool:
        """Fetch and apply one snapshot now; return whether one was applied."""
        async with self._lock, self._limiter:
            self.stats.throttled_s += await self.budget.take(OPEN_ORDERS_WEIGHT)
            self.stats.weight += OPEN_ORDERS_WEIGHT
            self.stats.requests["open_orders"] += 1
            try:
                snapshot = await self.adapter.open_orders()
            except SnapshotUnavailable as exc:
                self.stats.syncs_failed += 1
                if exc.rate_limited and self._refused is not None:
                    self._refused(current_time())
                return False
            now = current_time()
            self.engine.handle_snapshot(snapshot, now)
            self.stats.syncs += 1
            self._changed(now)
            return True
