"""The safety sync: an open-orders snapshot turned into exchange facts for the engine.

Theory of operation
-------------------
Every ``sync.interval_s`` (and on demand, when the engine queues
:class:`~lifecycle.core.commands.FetchOpenOrders`) the driver fetches the account's
open orders for the configured dex, builds an :class:`OpenOrdersSnapshot` and
calls :meth:`SafetySync.apply`. The sync compares the snapshot with the
engine's registry and speaks to the engine only through its public surface:
it hands it events (``OrderAccepted``, ``OrphanSeen``, ``OrphanVanished``),
asks it for requests (``cancel``, ``query``) and fires the local triggers of
adoption (``ADOPT``; see :mod:`lifecycle.policy.orphans`). It never writes an
order's state; the table decides every move.

One sync, in order:

1. A snapshot stamped after ``now`` is applied as taken at ``now`` (it cannot
   have been taken later; kept as stamped, it would make every later snapshot
   look out of order until the clock caught up), counted and logged. A
   snapshot older than ``sync.snapshot_max_age_s`` (or older than the last one
   applied, or without a usable time) is ignored, counted and logged. The sync
   still counts as done for scheduling (:attr:`SyncReport.next_sync_at`), so a
   stale feed does not make the driver run a sync after every message.
2. A row that cannot be read (:func:`~lifecycle.policy.snapshot.row_problem`)
   is dropped and recorded as an anomaly; the rest of the snapshot applies.
   Rows are kept when their coin equals ours in canonical form (see
   :func:`canonical_coin`). If the exchange listed orders but none for our
   coin, the asset-mismatch alarm is raised: an anomaly naming up to three of
   the coins it did list (:mod:`lifecycle.policy.rows`).
3. Each row of our coin is resolved cloid first, then oid, in canonical form,
   so an order of ours is never an orphan:

   * an order of ours that is EXPECTED (the placement response has not arrived
     yet) is acknowledged with the row's oid: the engine moves it to LIVE and
     finalizes it;
   * a row naming no order we know under a cloid of this run is ours all the
     same: adopted at once, with an anomaly (:mod:`lifecycle.policy.orphans`);
   * any other row naming no order we know becomes an ORPHAN_CANDIDATE; the
     engine's timer ages it after ``orders.orphan_grace_s``;
   * an AGED_ORPHAN still listed is handled by ``orders.orphan_policy``
     (:mod:`lifecycle.policy.orphans` has the table).

4. Orphans absent from the snapshot are dropped without a cancel; one that
   comes back starts a new grace.
5. Orders of ours in TRACKED or MODIFYING absent from ``sync.missing_snapshots``
   consecutive fresh snapshots spanning at least ``sync.missing_min_s`` get one
   status query. Absence never ends an order: only the answer does. A "not
   found" answer ends a TRACKED, MODIFYING or CANCELLING order only while
   such a streak holds (:meth:`SafetySync.absence_confirmed`), since
   Hyperliquid answers ``unknownOid`` for orders ``openOrders`` just listed;
   streaks of CANCELLING orders are kept for that, without a query of their own.
   Which absences count, and why, is told in :mod:`lifecycle.policy.absence`.

A row without a cloid whose side, price and size equal an EXPECTED order's is
deferred (neither ours nor an orphan in this sync): it may be that order, listed
before its placement response bound the oid, on a venue that dropped the cloid.
Making it a candidate would give one exchange order two records.

The driver runs :meth:`~lifecycle.engine.facade.Engine.on_timer` as usual; the sync
does not (candidates age on the engine's timer, not here).
"""

from __future__ import annotations

import logging
import math
from decimal import Decimal
from typing import NamedTuple

from lifecycle.config import canonical_coin
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.errors import TimeWentBackwards
from lifecycle.core.events import OrderAccepted, OrphanSeen, OrphanVanished
from lifecycle.core.ids import Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import DISCOVERED, WORKING, OrderState
from lifecycle.policy.absence import STREAK_STATES, Absences
from lifecycle.policy.asking import AskingEngine
from lifecycle.policy.orphans import OrphanHandler
from lifecycle.policy.rows import read_rows
from lifecycle.policy.snapshot import OpenOrder, OpenOrdersSnapshot, SyncReport, Tally, row_cloid

__all__ = [
    "OpenOrder",
    "OpenOrdersSnapshot",
    "SafetySync",
    "SyncMemory",
    "SyncReport",
    "canonical_coin",
]

log = logging.getLogger("lifecycle.safety_sync")

S = OrderState


class SyncMemory(NamedTuple):
    """What a safety sync remembers between syncs (:meth:`SafetySync.checkpoint`)."""

    #: Per order in an absence streak: ``(count, first absent taken_at, queried)``.
    streaks: dict[Order, tuple[int, float, bool]]
    #: The foreign aged orphans already reported as left alone.
    ignored: tuple[Order, ...]
    last_sync_at: float | None
    last_taken_at: float | None
    #: Its counters (without the gauge ``missing_tracked``).
    counters: dict[str, int]


class SafetySync:
    """Applies open-orders snapshots to one engine, for its configured market.

    Bound to one engine because its only memory between syncs is about that
    engine's orders: the absence streaks (forgotten as soon as an order leaves
    the registry or the states whose absence counts), the foreign orphans
    already reported, and the last snapshot applied. Everything else (config,
    namespace, orders) is read from the engine at each sync.

    Args:
        engine: The engine to drive; its ``config`` gives the market, the sync
            settings and the orphan policy, its ``cloids`` our namespace.
    """

    __slots__ = (
        "_coin",
        "_counts",
        "_engine",
        "_ignored",
        "_last_sync_at",
        "_last_taken_at",
        "_missing",
        "_orphans",
    )

    def __init__(self, engine: AskingEngine) -> None:
        self._engine = engine
        self._coin = engine.config.coin_key
        self._missing = Absences()
        # Foreign aged orphans already reported as left alone (reported once each).
        self._ignored: set[Order] = set()
        self._last_sync_at: float | None = None
        self._last_taken_at: float | None = None
        self._counts: dict[str, int] = dict.fromkeys(
            (
                "syncs",
                "snapshots_applied",
                "stale_snapshots_ignored",
                "out_of_order_snapshots_ignored",
                "future_snapshots_clamped",
                "rows_malformed",
                "asset_mismatches",
                "acks_from_snapshot",
                "orphans_seen",
                "orphans_cancelled",
                "orphans_adopted",
                "orphans_ignored",
                "orphans_vanished",
                "own_orders_adopted",
                "rows_deferred",
                "missing_queries",
            ),
            0,
        )
        self._orphans = OrphanHandler(engine, self._counts, self._ignored)

    @property
    def coin(self) -> str:
        """Our coin in canonical form (``"BTC"``, or ``"dex:COIN"`` on a builder dex)."""
        return self._coin

    @property
    def next_sync_at(self) -> float | None:
        """When the next scheduled sync is due; None before the first (due now)."""
        if self._last_sync_at is None:
            return None
        return self._last_sync_at + self._engine.config.sync.interval_s

    def counters(self) -> dict[str, int]:
        """Counters for metrics (a copy).

        ``syncs`` (every :meth:`apply`), ``snapshots_applied``,
        ``stale_snapshots_ignored``, ``out_of_order_snapshots_ignored``,
        ``future_snapshots_clamped`` (stamped after ``now``, applied as taken
        then), ``rows_malformed`` (dropped), ``asset_mismatches``,
        ``acks_from_snapshot``, ``orphans_seen`` (new candidates),
        ``orphans_cancelled``, ``orphans_adopted``, ``orphans_ignored`` (once
        per order), ``orphans_vanished``, ``own_orders_adopted`` (rows of this
        run the engine no longer knew), ``rows_deferred``,
        ``missing_queries``, and the gauge
        ``missing_tracked`` (orders in an absence streak now).
        """
        counts = dict(self._counts)
        counts["missing_tracked"] = len(self._missing)
        return counts

    def checkpoint(self) -> SyncMemory:
        """Everything it remembers between syncs (copies), for an engine checkpoint."""
        return SyncMemory(
            dict(self._missing), tuple(self._ignored), self._last_sync_at,
            self._last_taken_at, dict(self._counts),
        )

    def restore(self, memory: SyncMemory) -> None:
        """Take up a checkpoint's memory (:meth:`checkpoint`) in place of its own.

        Changed in place: the orphan handler shares the reported orphans and the counters.
        """
        self._missing.clear()
        self._missing.update(memory.streaks)
        self._ignored.clear()
        self._ignored.update(memory.ignored)
        self._last_sync_at = memory.last_sync_at
        self._last_taken_at = memory.last_taken_at
        self._counts.update(memory.counters)

    # --- one sync ----------------------------------------------------------------------

    def apply(self, snapshot: OpenOrdersSnapshot, now: float) -> SyncReport:
        """Apply one open-orders snapshot to the engine.

        Commands it causes (cancels, status queries) are queued in the engine's
        outbox; drain them with :meth:`~lifecycle.engine.facade.Engine.commands_to_send`.

        Args:
            snapshot: The exchange's open orders (any coins; others are ignored).
            now: The current time, on the same clock as ``snapshot.taken_at``.

        Returns:
            The numbers of this sync.

        Raises:
            TimeWentBackwards: ``now`` is earlier than the engine's latest time.
        """
        engine = self._engine
        if now < engine.now:
            # Checked before anything is applied, so a sync is never half done.
            raise TimeWentBackwards(f"now={now} is earlier than the engine's now={engine.now}")
        sync = engine.config.sync
        counts = self._counts
        counts["syncs"] += 1
        self._last_sync_at = now
        next_sync_at = now + sync.interval_s
        taken_at = snapshot.taken_at
        if isinstance(taken_at, bool) or not (
            isinstance(taken_at, int | float) and math.isfinite(taken_at)
        ):
            # No time to order it by or to measure absences with: unusable.
            counts["stale_snapshots_ignored"] += 1
            log.warning("safety sync: snapshot taken at %r, ignored", taken_at)
            return SyncReport(at=now, taken_at=math.nan, next_sync_at=next_sync_at, stale=True)
        ahead_s = 0.0
        if taken_at > now:
            # Another clock stamped it. Kept as stamped, it would make every later
            # snapshot "out of order" until now caught up with it.
            ahead_s, taken_at = taken_at - now, now
            counts["future_snapshots_clamped"] += 1
            log.warning(
                "safety sync: snapshot stamped %.3fs after now, applied as taken now",
                ahead_s, extra={"snapshot_ahead_s": ahead_s},
            )
        age_s = now - taken_at
        if age_s > sync.snapshot_max_age_s:
            counts["stale_snapshots_ignored"] += 1
            log.warning(
                "safety sync: snapshot %.3fs old (max %.3fs), ignored",
                age_s, sync.snapshot_max_age_s,
                extra={"snapshot_age_s": age_s, "snapshot_max_age_s": sync.snapshot_max_age_s},
            )
            return SyncReport(at=now, taken_at=taken_at, next_sync_at=next_sync_at, stale=True)
        last = self._last_taken_at
        if last is not None and taken_at < last:
            # Two fetches overlapped and the older answer came last: it would
            # count absences out of order.
            counts["out_of_order_snapshots_ignored"] += 1
            log.warning(
                "safety sync: snapshot taken at %.3f, before the last applied (%.3f), ignored",
                taken_at, last,
                extra={"snapshot_taken_at": taken_at, "last_taken_at": last},
            )
            return SyncReport(
                at=now, taken_at=taken_at, next_sync_at=next_sync_at, out_of_order=True
            )
        self._last_taken_at = taken_at
        counts["snapshots_applied"] += 1

        tally = Tally()
        rows, other_count, mismatch = read_rows(
            snapshot.orders, self._coin, engine, counts, tally, now
        )
        seen = self._match_rows(rows, tally, now)
        self._sweep(seen, taken_at, tally, now)
        return self._report(
            now, taken_at, next_sync_at, len(rows), other_count, mismatch, tally, ahead_s
        )

    # --- steps -------------------------------------------------------------------------

    def _match_rows(self, rows: list[OpenOrder], tally: Tally, now: float) -> set[Order]:
        """Resolve each row (cloid first); return the orders the snapshot lists."""
        engine = self._engine
        orphans = self._orphans
        find = engine.registry.find
        seen: set[Order] = set()
        expected_terms: set[tuple[Side, Decimal, Decimal]] | None = None
        for row in rows:
            cloid = row_cloid(row.cloid)
            order = find(cloid, row.oid)
            if order is None:
                if cloid is None:
                    if expected_terms is None:
                        expected_terms = {
                            (o.side, o.price, o.size)
                            for o in engine.registry.select(states=(S.EXPECTED,))
                        }
                    if (row.side, row.price, row.size) in expected_terms:
                        tally.deferred += 1
                        self._counts["rows_deferred"] += 1
                        continue
                engine.handle(
                    OrphanSeen(
                        oid=row.oid, cloid=cloid, side=row.side, price=row.price, size=row.size
                    ),
                    now,
                )
                created = find(cloid, row.oid)
                if created is not None:
                    seen.add(created)
                    if orphans.this_run(cloid):
                        orphans.adopt_own(created, tally, now, "the engine no longer knew it")
                        continue
                tally.new_candidates += 1
                self._counts["orphans_seen"] += 1
                continue
            seen.add(order)
            state = order.state
            if state in DISCOVERED and orphans.this_run(order.cloid):
                orphans.adopt_own(order, tally, now, f"it was held as {state.value}")
            elif state is S.AGED_ORPHAN:
                tally.aged += 1
                orphans.handle_aged(order, tally, now)
            elif state is S.ORPHAN_CANDIDATE:
                pass  # grace running; the engine's timer ages it
            elif (state is S.EXPECTED or not order.knows_oid(row.oid)) and self._accept(
                order, row.oid, now
            ):
                # EXPECTED: listed before its placement response (the classic
                # false orphan). A new oid under our cloid while MODIFYING: the
                # cancel-replace took effect. The engine decides what either means.
                tally.acks += 1
        return seen

    def _accept(self, order: Order, oid: Oid, now: float) -> bool:
        """Acknowledge ``order`` with ``oid``, unless the oid already names another order."""
        engine = self._engine
        holder = engine.registry.by_oid(oid)
        if holder is not None and holder is not order:
            if holder.state in DISCOVERED:
                # A candidate made for this very exchange order from a row that
                # lacked the cloid: it is ours, so its orphan record is dropped
                # (no cancel) before the oid is bound to the real order.
                engine.handle(OrphanVanished(oid=oid), now)
            else:
                engine.anomalies.record(
                    AnomalyKind.OID_CONFLICT, now, order.label,
                    f"snapshot lists oid {oid} under this cloid; that oid names {holder.label}",
                )
                engine.query(order)
                return False
        engine.handle(OrderAccepted(cloid=order.cloid, oid=oid), now)
        self._counts["acks_from_snapshot"] += 1
        return True

    def _sweep(self, seen: set[Order], taken_at: float, tally: Tally, now: float) -> None:
        """Drop vanished orphans; count absences of ours and query the long ones."""
        engine = self._engine
        sync = engine.config.sync
        absences = self._missing
        listed = absences.pop  # an order listed again ends its streak
        for order in engine.registry:  # a copy: vanished orphans leave it meanwhile
            if order in seen:
                listed(order, None)
                continue
            state = order.state
            if state in DISCOVERED:
                if order.oid is not None:
                    engine.handle(OrphanVanished(oid=order.oid), now)
                    tally.vanished += 1
                    self._counts["orphans_vanished"] += 1
            elif state in STREAK_STATES:
                # A CANCELLING order's streak is kept without a query of its own.
                cancelling = state is S.CANCELLING
                due = absences.absent(order, taken_at, sync, queried=not cancelling)
                if cancelling:
                    continue
                tally.missing += 1
                if due is not None:
                    self._query_missing(order, *due)
                    tally.queries += 1
        # Forget streaks of orders gone from the registry or out of the counted
        # states (their absence stopped counting), and ignored orphans no longer aged.
        registry = engine.registry
        absences.forget(registry, STREAK_STATES)
        ignored = self._ignored  # shared with the orphan handler: changed in place
        ignored.difference_update(
            [o for o in ignored if o not in registry or o.state is not S.AGED_ORPHAN]
        )

    def absence_confirmed(self, order: Order) -> bool:
        """Whether ``order`` is in an absence streak long enough to prove it gone.

        True when the order (TRACKED, MODIFYING or CANCELLING) was absent from
        the last ``sync.missing_snapshots`` consecutive fresh snapshots, which
        span at least ``sync.missing_min_s``. The engine ends an order on a
        status "not found" only then: Hyperliquid answers ``unknownOid`` even
        for orders ``openOrders`` lists.
        """
        return self._missing.confirmed(order, self._last_taken_at, self._engine.config.sync)

    def _query_missing(self, order: Order, count: int, span_s: float) -> None:
        self._engine.query(order)
        self._counts["missing_queries"] += 1
        log.warning(
            "safety sync: %s (%s) absent from %d fresh snapshots over %.3fs, status query sent",
            order.label, order.state.value, count, span_s,
            extra={
                "order_id": order.label,
                "oid": order.oid,
                "order_state": order.state.value,
                "missing_snapshots": count,
                "missing_span_s": span_s,
            },
        )

    def _report(
        self,
        now: float,
        taken_at: float,
        next_sync_at: float,
        exchange_orders: int,
        other_count: int,
        mismatch: bool,
        tally: Tally,
        ahead_s: float,
    ) -> SyncReport:
        working = candidates = 0
        for order in self._engine.registry:
            state = order.state
            if state in WORKING:
                working += 1
            elif state is S.ORPHAN_CANDIDATE:
                candidates += 1
        report = tally.report(
            at=now,
            taken_at=taken_at,
            next_sync_at=next_sync_at,
            exchange_orders=exchange_orders,
            other_coin_orders=other_count,
            asset_mismatch=mismatch,
            working_orders=working,
            candidates=candidates,
            ahead_s=ahead_s,
        )
        log.info(
            "safety sync %s: %d exchange orders, %d working, %d candidates, %d aged, "
            "%d missing%s",
            self._coin, exchange_orders, working, candidates, tally.aged, tally.missing,
            ", ASSET MISMATCH" if mismatch else "",
            extra={
                "coin": self._coin,
                "exchange_orders": exchange_orders,
                "working_orders": working,
                "orphan_candidates": candidates,
                "aged_orphans": tally.aged,
                "missing_orders": tally.missing,
                "asset_mismatch": mismatch,
                "missing_queries": tally.queries,
                "snapshot_age_s": now - taken_at,
            },
        )
        return report
