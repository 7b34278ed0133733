"""The safety sync: an open-orders snapshot turned into exchange facts for the engine.

Theory of operation
-------------------
Every ``sync.interval_s`` (and on demand, when the engine queues
:class:`~lifecycle.core.commands.FetchOpenOrders`) the driver fetches the account's
open orders for the configured dex, builds an :class:`OpenOrdersSnapshot` and
calls :meth:`SafetySync.apply`. The sync compares the snapshot with the
engine's registry and speaks to the engine only through its public surface:
it hands it events (``OrderAccepted``, ``OrphanSeen``, ``OrphanVanished``),
asks it for requests (``cancel``, ``query``) and fires the one local trigger
that belongs to it (``ADOPT``). It never writes an order's state; the table
decides every move.

One sync, in order:

1. A snapshot older than ``sync.snapshot_max_age_s`` (or older than the last
   one applied) is ignored, counted and logged. The sync still counts as done
   for scheduling (:attr:`SyncReport.next_sync_at`), so a stale feed does not
   make the driver run a sync after every message.
2. Rows are kept when their coin equals ours in canonical form (see
   :func:`canonical_coin`). If the exchange listed orders but none for our
   coin, the asset-mismatch alarm is raised: an anomaly naming up to three of
   the coins it did list.
3. Each row of our coin is resolved cloid first, then oid, in canonical form,
   so an order of ours is never an orphan:

   * an order of ours that is EXPECTED (the placement response has not arrived
     yet) is acknowledged with the row's oid: the engine moves it to LIVE and
     finalizes it;
   * a row naming no order we know becomes an ORPHAN_CANDIDATE; the engine's
     timer ages it after ``orders.orphan_grace_s``;
   * an AGED_ORPHAN still listed is handled by ``orders.orphan_policy``.

4. Orphans absent from the snapshot are dropped without a cancel; one that
   comes back starts a new grace.
5. Orders of ours in TRACKED or MODIFYING absent from ``sync.missing_snapshots``
   consecutive fresh snapshots spanning at least ``sync.missing_min_s`` get one
   status query. Absence never ends an order: only the answer does. A "not
   found" answer ends a TRACKED, MODIFYING or CANCELLING order only while
   such a streak holds (:meth:`SafetySync.absence_confirmed`), since
   Hyperliquid answers ``unknownOid`` for orders ``openOrders`` just listed;
   streaks of CANCELLING orders are kept for that, without a query of their own.

Orphan policy, by who owns the order's cloid (:meth:`CloidFactory.owns`):

============  ====================  =====================
policy        our namespace         foreign or no cloid
============  ====================  =====================
``cancel``    cancel                cancel
``adopt``     adopt (TRACKED)       cancel
``ignore``    adopt (TRACKED)       left alone, reported
============  ====================  =====================

``ignore`` exists to leave other traders' orders on a shared account alone. An
order carrying our namespace is ours by construction (left by an earlier run,
or forgotten by this one), and leaving it untracked would leave a quote resting
that nothing manages; adoption sends nothing by itself, the reconciler then
decides whether to keep, modify or cancel it.

Which absences count: EXPECTED and FINALIZED_PROTECTED orders are too young to
be listed reliably, so their absence neither counts nor is reported. CANCELLING
orders are expected to vanish, and the engine already queries them after
``orders.cancel_timeout_s``. MODIFYING orders do count: a cancel-replace keeps
the cloid, so a modified order stays listed under it, and the engine has no
timer of its own for a modify whose answer was lost. One query is sent per
absence streak; the order must be listed again (or leave those states) before
another streak can start, so a snapshot that persistently lacks our orders
costs one query per order, not one per sync.

A row without a cloid whose side, price and size equal an EXPECTED order's is
deferred (neither ours nor an orphan in this sync): it may be that order, listed
before its placement response bound the oid, on a venue that dropped the cloid.
Making it a candidate would give one exchange order two records.

The driver runs :meth:`~lifecycle.engine.facade.Engine.on_timer` as usual; the sync
does not (candidates age on the engine's timer, not here).
"""

from __future__ import annotations

import logging
from decimal import Decimal

from lifecycle.config import OrphanPolicy, canonical_coin
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.errors import InvalidCloid, TimeWentBackwards
from lifecycle.core.events import OrderAccepted, OrphanSeen, OrphanVanished
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.records import record
from lifecycle.core.states import DISCOVERED, WORKING, OrderState, Trigger
from lifecycle.policy.asking import AskingEngine

__all__ = [
    "OpenOrder",
    "OpenOrdersSnapshot",
    "SafetySync",
    "SyncReport",
    "canonical_coin",
]

log = logging.getLogger("lifecycle.safety_sync")

S = OrderState

#: States of ours whose absence from fresh snapshots counts towards a query.
_MISSING_STATES: frozenset[OrderState] = frozenset({S.TRACKED, S.MODIFYING})
#: States whose absence streaks are kept: those above, and CANCELLING (queried on
#: the engine's cancel timer instead), so that a "not found" answer can be confirmed.
_STREAK_STATES: frozenset[OrderState] = _MISSING_STATES | {S.CANCELLING}
#: How many coin names the asset-mismatch alarm quotes.
_MISMATCH_SAMPLES = 3
_ZERO = Decimal(0)


@record
class OpenOrder:
    """One row of an open-orders snapshot (``openOrders`` / ``frontendOpenOrders``).

    ``coin`` is the exchange's name for the row (prefixed on a builder dex),
    ``size`` the remaining size and ``cloid`` None when the order has none.
    """

    coin: str
    oid: Oid
    cloid: Cloid | None = None
    side: Side
    price: Decimal
    size: Decimal


@record
class OpenOrdersSnapshot:
    """The account's open orders as the exchange listed them.

    ``taken_at`` is on the driver's clock (the ``now`` given to the engine): the
    time the request was sent, or a streamed snapshot's receive time.
    """

    taken_at: float
    orders: tuple[OpenOrder, ...]


@record
class SyncReport:
    """The numbers of one sync.

    Every report, stale or not, completes a sync for scheduling: the next one
    is due at ``next_sync_at``. When ``stale`` or ``out_of_order`` is set the
    snapshot was ignored and every count is zero.
    """

    #: When the sync ran (the ``now`` given to :meth:`SafetySync.apply`).
    at: float
    #: When the snapshot was taken.
    taken_at: float
    #: When the next scheduled sync is due.
    next_sync_at: float
    #: Older than ``sync.snapshot_max_age_s``: ignored.
    stale: bool = False
    #: Taken before the last snapshot applied: ignored.
    out_of_order: bool = False
    #: Exchange orders for our coin.
    exchange_orders: int = 0
    #: Exchange orders for other coins (ignored).
    other_coin_orders: int = 0
    #: Orders listed, none for our coin: the alarm was raised.
    asset_mismatch: bool = False
    #: Our orders that occupy a ladder level, after the sync.
    working_orders: int = 0
    #: Orders of ours acknowledged from the snapshot (placement response pending).
    acks: int = 0
    #: Unknown rows that became orphan candidates in this sync.
    new_candidates: int = 0
    #: Orphan candidates in grace after the sync.
    candidates: int = 0
    #: Aged orphans still listed, each handled by the orphan policy.
    aged: int = 0
    #: Aged orphans cancelled.
    cancelled: int = 0
    #: Aged orphans adopted (TRACKED).
    adopted: int = 0
    #: Aged orphans left alone (``ignore`` policy, foreign orders).
    ignored: int = 0
    #: Orphans absent from the snapshot, dropped without a cancel.
    vanished: int = 0
    #: Cloid-less rows that may be an EXPECTED order of ours, left for a later sync.
    deferred: int = 0
    #: Orders of ours (TRACKED, MODIFYING) absent from this snapshot.
    missing: int = 0
    #: Status queries sent for orders missing long enough.
    queries: int = 0

    @property
    def applied(self) -> bool:
        """Whether the snapshot was used (neither stale nor out of order)."""
        return not (self.stale or self.out_of_order)


class _Tally:
    """Mutable counts of one sync, turned into a :class:`SyncReport` at the end."""

    __slots__ = (
        "acks",
        "adopted",
        "aged",
        "cancelled",
        "deferred",
        "ignored",
        "missing",
        "new_candidates",
        "queries",
        "vanished",
    )

    def __init__(self) -> None:
        self.acks = self.adopted = self.aged = self.cancelled = self.deferred = 0
        self.ignored = self.missing = self.new_candidates = self.queries = self.vanished = 0


def _canonical_cloid(value: Cloid | str | None) -> Cloid | None:
    # Rows should carry canonical cloids already; an adapter passing the wire
    # text still matches. Text that is no cloid at all cannot be one of ours.
    if value is None or type(value) is Cloid:
        return value
    try:
        return Cloid(value)
    except InvalidCloid:
        return None


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
    )

    def __init__(self, engine: AskingEngine) -> None:
        self._engine = engine
        self._coin = engine.config.coin_key
        # order -> (consecutive fresh snapshots it was absent from, taken_at of
        # the first, whether this streak's query was sent)
        self._missing: dict[Order, tuple[int, float, bool]] = {}
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
                "asset_mismatches",
                "acks_from_snapshot",
                "orphans_seen",
                "orphans_cancelled",
                "orphans_adopted",
                "orphans_ignored",
                "orphans_vanished",
                "rows_deferred",
                "missing_queries",
            ),
            0,
        )

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
        ``asset_mismatches``, ``acks_from_snapshot``, ``orphans_seen`` (new
        candidates), ``orphans_cancelled``, ``orphans_adopted``,
        ``orphans_ignored`` (once per order), ``orphans_vanished``,
        ``rows_deferred``, ``missing_queries``, and the gauge
        ``missing_tracked`` (orders in an absence streak now).
        """
        counts = dict(self._counts)
        counts["missing_tracked"] = len(self._missing)
        return counts

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

        rows, other_count, samples = self._split(snapshot.orders)
        mismatch = other_count > 0 and not rows
        if mismatch:
            self._alarm_mismatch(other_count, samples, now)
        tally = _Tally()
        seen = self._match_rows(rows, tally, now)
        self._sweep(seen, taken_at, tally, now)
        return self._report(
            now, taken_at, next_sync_at, len(rows), other_count, mismatch, tally
        )

    # --- steps -------------------------------------------------------------------------

    def _split(
        self, orders: tuple[OpenOrder, ...]
    ) -> tuple[list[OpenOrder], int, list[str]]:
        """Keep our coin's rows (one per oid); count the others, sample their coins."""
        coin = self._coin
        ours: dict[Oid, OpenOrder] = {}
        other_count = 0
        samples: list[str] = []
        for row in orders:
            # Rows carry the exchange's own names (prefixed on a builder dex), so
            # they compare as they are: a bare name is a main-dex coin.
            if row.coin == coin:
                ours.setdefault(row.oid, row)
                continue
            other_count += 1
            if len(samples) < _MISMATCH_SAMPLES and row.coin not in samples:
                samples.append(row.coin)
        return list(ours.values()), other_count, samples

    def _alarm_mismatch(self, other_count: int, samples: list[str], now: float) -> None:
        self._counts["asset_mismatches"] += 1
        detail = (
            f"exchange listed {other_count} open orders, none for {self._coin!r}; "
            f"sample coins: {', '.join(repr(c) for c in samples)} "
            "(coin name or dex scope mismatch?)"
        )
        self._engine.anomalies.record(AnomalyKind.ASSET_MISMATCH, now, None, detail)
        log.warning(
            "safety sync: asset mismatch: %s",
            detail,
            extra={
                "coin": self._coin,
                "other_coin_orders": other_count,
                "sample_coins": tuple(samples),
            },
        )

    def _match_rows(self, rows: list[OpenOrder], tally: _Tally, now: float) -> set[Order]:
        """Resolve each row (cloid first); return the orders the snapshot lists."""
        engine = self._engine
        find = engine.registry.find
        seen: set[Order] = set()
        expected_terms: set[tuple[Side, Decimal, Decimal]] | None = None
        for row in rows:
            cloid = _canonical_cloid(row.cloid)
            order = find(cloid, row.oid)
            if order is None:
                if not (row.price > _ZERO and row.size > _ZERO):
                    log.warning(
                        "safety sync: row oid %s has price %s size %s, skipped",
                        row.oid, row.price, row.size,
                        extra={"oid": row.oid, "row_price": str(row.price)},
                    )
                    continue
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
                tally.new_candidates += 1
                self._counts["orphans_seen"] += 1
                created = find(cloid, row.oid)
                if created is not None:
                    seen.add(created)
                continue
            seen.add(order)
            state = order.state
            if state is S.AGED_ORPHAN:
                tally.aged += 1
                self._handle_aged(order, tally, now)
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

    def _handle_aged(self, order: Order, tally: _Tally, now: float) -> None:
        """Apply the orphan policy to an aged orphan the snapshot still lists."""
        engine = self._engine
        policy = engine.config.orders.orphan_policy
        counts = self._counts
        if policy is not OrphanPolicy.CANCEL and engine.cloids.owns(order.cloid):
            engine.move(order, Trigger.ADOPT, now)
            tally.adopted += 1
            counts["orphans_adopted"] += 1
            log.info(
                "safety sync: adopted orphan %s (our namespace)",
                order.label,
                extra={"order_id": order.label, "oid": order.oid, "policy": policy.value},
            )
        elif policy is OrphanPolicy.IGNORE:
            tally.ignored += 1
            if order not in self._ignored:
                self._ignored.add(order)
                counts["orphans_ignored"] += 1
                log.info(
                    "safety sync: left foreign orphan %s alone (%s %s@%s)",
                    order.label, order.side.value, order.size, order.price,
                    extra={"order_id": order.label, "oid": order.oid, "policy": policy.value},
                )
        else:
            engine.cancel(order, now)
            tally.cancelled += 1
            counts["orphans_cancelled"] += 1
            log.info(
                "safety sync: cancelling orphan %s",
                order.label,
                extra={"order_id": order.label, "oid": order.oid, "policy": policy.value},
            )

    def _sweep(self, seen: set[Order], taken_at: float, tally: _Tally, now: float) -> None:
        """Drop vanished orphans; count absences of ours and query the long ones."""
        engine = self._engine
        sync = engine.config.sync
        streaks = self._missing
        for order in engine.registry:  # a copy: vanished orphans leave it meanwhile
            if order in seen:
                streaks.pop(order, None)
                continue
            state = order.state
            if state in DISCOVERED:
                if order.oid is not None:
                    engine.handle(OrphanVanished(oid=order.oid), now)
                    tally.vanished += 1
                    self._counts["orphans_vanished"] += 1
            elif state in _STREAK_STATES:
                count, since, queried = streaks.get(order, (0, taken_at, False))
                count += 1
                span_s = taken_at - since
                if state is S.CANCELLING:
                    streaks[order] = (count, since, queried)
                    continue
                tally.missing += 1
                if (
                    not queried
                    and count >= sync.missing_snapshots
                    and span_s >= sync.missing_min_s
                ):
                    self._query_missing(order, count, span_s)
                    tally.queries += 1
                    queried = True
                streaks[order] = (count, since, queried)
        # Forget streaks of orders gone from the registry or out of the counted
        # states (their absence stopped counting), and ignored orphans no longer aged.
        registry = engine.registry
        for order in [o for o in streaks if o not in registry or o.state not in _STREAK_STATES]:
            del streaks[order]
        self._ignored = {
            o for o in self._ignored if o in registry and o.state is S.AGED_ORPHAN
        }

    def absence_confirmed(self, order: Order) -> bool:
        """Whether ``order`` is in an absence streak long enough to prove it gone.

        True when the order (TRACKED, MODIFYING or CANCELLING) was absent from
        the last ``sync.missing_snapshots`` consecutive fresh snapshots, which
        span at least ``sync.missing_min_s``. The engine ends an order on a
        status "not found" only then: Hyperliquid answers ``unknownOid`` even
        for orders ``openOrders`` lists.
        """
        streak = self._missing.get(order)
        if streak is None:
            return False
        count, since, _ = streak
        sync = self._engine.config.sync
        last = self._last_taken_at
        return (
            count >= sync.missing_snapshots
            and last is not None
            and last - since >= sync.missing_min_s
        )

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
        tally: _Tally,
    ) -> SyncReport:
        registry = self._engine.registry
        working = candidates = 0
        for order in registry:
            state = order.state
            if state in WORKING:
                working += 1
            elif state is S.ORPHAN_CANDIDATE:
                candidates += 1
        report = SyncReport(
            at=now,
            taken_at=taken_at,
            next_sync_at=next_sync_at,
            exchange_orders=exchange_orders,
            other_coin_orders=other_count,
            asset_mismatch=mismatch,
            working_orders=working,
            acks=tally.acks,
            new_candidates=tally.new_candidates,
            candidates=candidates,
            aged=tally.aged,
            cancelled=tally.cancelled,
            adopted=tally.adopted,
            ignored=tally.ignored,
            vanished=tally.vanished,
            deferred=tally.deferred,
            missing=tally.missing,
            queries=tally.queries,
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
