"""Fill recovery: the :class:`FillHistory` an adapter may offer, and :class:`FillSync`,
which hands the engine every fill since the previous fetch.

Theory of operation
-------------------
When the adapter also offers :class:`FillHistory` (Hyperliquid's
``userFillsByTime``), :meth:`FillSync.run` fetches the fills every
:attr:`RuntimeConfig.fill_sync_interval_s
<lifecycle.runtime.config.RuntimeConfig.fill_sync_interval_s>`, after a websocket
reconnect and when the engine records ``fills_missing``
(:meth:`FillSync.missing_reported`), and hands them to the engine again. The
engine counts a trade id once, so repeats are harmless and lost websocket fills
are recovered.

Each fetch starts where the previous one was sent, less
``fill_sync_overlap_s``, so a fill that happened while a fetch was on its way
is not missed; :meth:`FillSync.reach_back` asks the next fetch to start
earlier still (the downtime of a reconnect, a restart's catch-up). A fetch that
fails (:class:`~lifecycle.runtime.adapter.FillsUnavailable`) changes nothing
and is asked again after ``retry_initial_s``, from the same start.

A restart's catch-up (:meth:`Runtime.catch_up
<lifecycle.runtime.driver.Runtime.catch_up>`) would fetch every fill since
the journal began, but the engine recognises a repeat only while its fill
ledger remembers it (``orders.fill_memory_s``, and the capacity as a
backstop): an older fill would count twice. :func:`catch_up_start` says
where the catch-up may start: the journal's first time, or what the ledger
will still remember once the fetch is answered, whichever is later, and
records a ``catch_up_cut`` anomaly when that is later than the journal's
first time (fills of the cut-off part that the stopped process never received
are not fetched).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import anyio

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.events import ExchangeEvent, OrderFilled
from lifecycle.engine.facade import Engine
from lifecycle.runtime.adapter import FillsUnavailable
from lifecycle.runtime.config import RuntimeConfig
from lifecycle.runtime.ratelimit import FILL_SYNC_WEIGHT, WeightBudget
from lifecycle.runtime.stats import RuntimeStats
from lifecycle.runtime.vloop import current_time
from lifecycle.runtime.wakeups import _Wake

__all__ = ["CATCH_UP_MARGIN", "FillHistory", "FillSync", "catch_up_start"]

#: The share of ``orders.fill_memory_s`` a catch-up keeps inside the ledger's
#: memory: the fetch is answered (after retries, if it fails) some time after
#: it starts, and the fills it returns must still be remembered then. A tenth
#: of the default day is 2.4 hours.
CATCH_UP_MARGIN = 0.1


def catch_up_start(engine: Engine, since: float, now: float) -> float:
    """Where a catch-up asked for at ``now`` for the fills since ``since`` may start.

    ``since`` (for a restart, the journal's first time: :attr:`RecoveryInfo.first_at
    <lifecycle.journal.RecoveryInfo.first_at>`), unless the engine's fill ledger
    would no longer recognise fills that old by the time the fetch is answered
    (:meth:`FillLedger.remembered_from <lifecycle.engine.ledger.FillLedger.remembered_from>`,
    :data:`CATCH_UP_MARGIN` of its memory ahead): then the later time, and a
    ``catch_up_cut`` anomaly is recorded.
    """
    ledger = engine.ledger
    start = ledger.remembered_from(now + ledger.memory_s * CATCH_UP_MARGIN)
    if start <= since:
        return since
    engine.anomalies.record(
        AnomalyKind.CATCH_UP_CUT, now, None,
        f"fill catch-up starts at {start:.3f}, not at {since:.3f}: the fill ledger would not "
        f"recognise older fills (orders.fill_memory_s {ledger.memory_s:g} s, "
        f"{ledger.overflows} forgotten early at orders.fill_dedup_capacity {ledger.capacity}); "
        "fills before it that were never received are not fetched",
    )
    return start


@runtime_checkable
class FillHistory(Protocol):
    """An adapter that can list the account's fills since a time (``userFillsByTime``)."""

    async def fills_since(self, start: float) -> Sequence[OrderFilled]:
        """The account's fills at or after ``start`` (runtime clock), oldest first.

        Raises:
            FillsUnavailable: The request failed or was rate limited; the
                runtime asks again later, from the same start.
        """
        ...


class FillSync:
    """Fetches the account's fills for the engine (see the module docstring); a
    collaborator of :class:`~lifecycle.runtime.driver.Runtime`, which runs :meth:`run`
    as one of its tasks when there is a :attr:`source`.

    Args:
        source: The adapter's fill history, if it offers one; without one
            nothing is fetched and :meth:`fetch` succeeds at once.
        config: Period, overlap and retry settings.
        stats: The runtime's counters, which it updates.
        budget: The request-weight budget every request spends from.
        limiter: The runtime's bound on requests in flight.
        handle: Hands one fetched fill to the engine.
        changed: Told after each fetch changed the engine.
        refused: Told when the exchange refused a fetch for its rate limits.
    """

    def __init__(
        self,
        source: FillHistory | None,
        config: RuntimeConfig,
        stats: RuntimeStats,
        budget: WeightBudget,
        limiter: anyio.Semaphore,
        *,
        handle: Callable[[ExchangeEvent, float], None],
        changed: Callable[[float], None],
        refused: Callable[[float], None] | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self.stats = stats
        self.budget = budget
        self._limiter = limiter
        self._handle = handle
        self._changed = changed
        self._refused = refused
        self._lock = anyio.Lock(fast_acquire=True)
        self._wake = _Wake()
        self._wanted = False
        self._from: float | None = None
        self._reach_back: float | None = None
        self._missing_seen = 0

    def begin(self, now: float) -> None:
        """A session starts at ``now``: the first fetch starts there (or earlier, if
        asked to :meth:`reach_back`)."""
        self._from = now

    def want(self) -> None:
        """Ask for a fetch at once."""
        self._wanted = True
        self._wake.set()

    def reach_back(self, since: float) -> None:
        """Make the next answered fetch start no later than ``since``."""
        if self._reach_back is None or since < self._reach_back:
            self._reach_back = since

    def missing_reported(self, count: int) -> None:
        """The engine's ``fills_missing`` count is ``count``: fetch if it moved."""
        if count != self._missing_seen:
            # The exchange says an order filled beyond the fills we hold: fetch them.
            self._missing_seen = count
            self.want()

    async def run(self) -> None:
        """Fetch every ``fill_sync_interval_s`` and on demand (the runtime's task)."""
        interval = self.config.fill_sync_interval_s
        next_at = current_time() + interval
        while True:
            await self._wake.wait(next_at)
            if current_time() < next_at and not self._wanted:
                continue
            self._wanted = False
            if await self.fetch():
                next_at = current_time() + interval
            else:
                next_at = current_time() + self.config.retry_initial_s

    async def fetch(self) -> bool:
        """Hand the engine every fill since the previous fetch (repeats are harmless).

        Returns whether the fetch was answered (True without a fill history).
        A failed fetch changes nothing: the next one starts where it would have.
        """
        source = self.source
        if source is None:
            return True
        async with self._lock:
            sent_at = current_time()
            start = min(
                sent_at if self._from is None else self._from,
                math.inf if self._reach_back is None else self._reach_back,
            )
            async with self._limiter:
                self.stats.throttled_s += await self.budget.take(FILL_SYNC_WEIGHT)
                self.stats.weight += FILL_SYNC_WEIGHT
                self.stats.requests["fills"] += 1
                try:
                    fills = await source.fills_since(start)
                except FillsUnavailable as exc:
                    self.stats.fill_syncs_failed += 1
                    if exc.rate_limited:
                        self.stats.rate_limited += 1
                        if self._refused is not None:
                            self._refused(current_time())
                    return False
            if self._reach_back is not None and self._reach_back >= start:
                self._reach_back = None  # reached (catch_up may have asked further since)
            now = current_time()
            for fill in fills:
                self._handle(fill, now)
            self.stats.fill_syncs += 1
            self.stats.fills_fetched += len(fills)
            self._changed(now)
            # The next fetch reaches back before this one was sent, so a fill that
            # happened while this one was on its way is not missed.
            self._from = sent_at - self.config.fill_sync_overlap_s
            return True
