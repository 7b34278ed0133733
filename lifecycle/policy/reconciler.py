"""The reconciler: a target ladder and the working orders in, a plan of requests out.

Theory of operation
-------------------
A quoting strategy says where it wants to rest (a :class:`Ladder` of
:class:`Level` values per side, best first). :meth:`Reconciler.plan` compares that
with the orders the engine tracks and returns a :class:`Plan`: what to place,
modify and cancel, per side. It only reads orders. :meth:`Reconciler.apply`
then carries the plan out through the engine's public requests
(``place``/``cancel``/``modify``), which fire the legal transitions into the
asking states; the reconciler never writes state and never decides legality
(the states it may modify or cancel are read from :data:`lifecycle.core.table.TABLE`).

One cycle, in order:

1. **Empty ladder.** Both sides empty: every order of ours that may rest and
   is not already being cancelled is cancelled (decision ``clear``). This needs
   no book, so it runs even on a stale one: pulling quotes is always safe.
2. **Stale book.** A book ``book_stale_s`` old or older skips the cycle
   (``Plan.skipped``); nothing is sent. This is the one skip: a book too old
   to decide on is "no data"; a target that wants nothing is a decision.
3. **Targets.** Each level's price is rounded with :mod:`lifecycle.policy.pricing`
   (bids down, asks up: never more aggressive) and its size truncated to
   ``sz_decimals``. A level that would cross is dropped on its own (a bid at or
   above ``best_ask - m`` ticks, an ask at or below ``best_bid + m`` ticks, with
   ``m = cross_margin_ticks`` plus one tick per started second of book age
   beyond ``book_age_grace_s``); so is a level worth less than
   ``min_notional_usd``. A side left without targets wants nothing resting:
   its orders are unmatched and cancelled like any other, also when no level
   survives on either side (the seed system returned before reconciling
   then, leaving stale quotes resting: its L11).
4. **Drift.** If any working order is farther than ``drift_cancel_all_bps``
   from every target of its side, every working order on both sides is
   cancelled and the whole ladder placed again: one cancel batch and one place
   batch per side (decision ``replace_all``, ``Plan.cancel_all``). A side with
   no target contributes no drift: its orders are simply unmatched.
5. **Matching**, per side, target priority: each target, best level first,
   takes the nearest still-unmatched working order within its level's
   tolerance (``level_tolerance_bps[min(i, last)]``). A far order cannot claim
   a near target, and the best level is served first.
6. **Each matched pair** is kept when the price is within ``latch_bps`` and
   the size within ``latch_size_pct``; otherwise modified when the price is
   within ``max_modify_bps`` (a size-only change is a modify at the order's
   current price, which keeps its queue place on a reduction); otherwise
   cancelled and placed again. Unmatched orders are cancelled and unmatched
   targets placed, so of several orders at one target one is kept and the
   others cancelled.
7. **Modify latch.** A modify batch due less than ``min_modify_interval_ms``
   after the previous one is latched: the orders stay as they are (listed in
   ``SidePlan.latched``), never turned into cancel + place.

How each state counts:

============================  ========  =====================================
state                         occupies  what the reconciler may do
============================  ========  =====================================
FINALIZED_PROTECTED, TRACKED  yes       keep, modify, cancel
PENDING                       yes       keep; cancel (abandoned, never sent)
EXPECTED                      yes       keep; cancel (by cloid)
MODIFYING                     yes       keep; cancel only when needed
LIVE                          yes       keep (transient: finalized at once)
CANCELLING                    no        ignored (its cancel is on the way)
GONE, orphan states           no        never touched
============================  ========  =====================================

An order whose answer is outstanding (PENDING, EXPECTED, LIVE, MODIFYING)
cannot be modified (the table allows ``modify_request`` only from
FINALIZED_PROTECTED and TRACKED). When it matches a target it is kept as long
as its price is within ``max_modify_bps`` (it will be modifiable once
answered); beyond that, or when unmatched, it is cancelled. A MODIFYING order
is matched at the price and size its modify asked for, which the reconciler
remembers, so a modify in flight is not mistaken for a stale order and
cancelled the cycle after it was sent.

:meth:`Reconciler.apply` logs one line per side per cycle (INFO when the side
sends something or the cycle was skipped, DEBUG when it keeps every order), with the
structured fields ``side``, ``working``, ``targets``, ``max_drift_bps`` and
``decision`` (and the counts sent) in ``extra``, and a WARNING for each
cancel-all with the drift that forced it.

Where it lives: the values (:class:`Ladder`, :class:`Plan`...) in
:mod:`lifecycle.policy.ladder`, the integer grid of prices and sizes in
:mod:`lifecycle.policy.ticks`, matching and drift in
:mod:`lifecycle.policy.matching`, the steps of a cycle in
:mod:`lifecycle.policy.planning`. Every distance is compared exactly, on
integers: prices in units of the asset's finest price step, sizes in lots,
thresholds as the exact fractions their configured values spell (a distance
of exactly ``latch_bps`` is within the latch). This module holds the
:class:`Reconciler` itself (its memory between cycles, :meth:`Reconciler.apply`,
counters and logs) and is where its names are imported from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import NamedTuple

from lifecycle.config import ReconcilerConfig
from lifecycle.core.order import Order
from lifecycle.core.states import OrderState
from lifecycle.policy.asking import AskingEngine
from lifecycle.policy.ladder import (
    SKIP_STALE_BOOK,
    Book,
    Decision,
    Ladder,
    Level,
    Modification,
    Placement,
    Plan,
    SidePlan,
)
from lifecycle.policy.matching import Asked
from lifecycle.policy.planning import CANCELLABLE, MODIFIABLE, Planner
from lifecycle.policy.pricing import AssetRules

__all__ = [
    "SKIP_STALE_BOOK",
    "Book",
    "Decision",
    "Ladder",
    "Level",
    "Modification",
    "Placement",
    "Plan",
    "Reconciler",
    "ReconcilerMemory",
    "SidePlan",
]

log = logging.getLogger("lifecycle.reconciler")

_MODIFYING = OrderState.MODIFYING


class ReconcilerMemory(NamedTuple):
    """What a reconciler remembers between cycles (:meth:`Reconciler.checkpoint`)."""

    #: When its last modify batch was sent; None before the first.
    last_modify_at: float | None
    #: Its modifies still in flight, in the order they were sent.
    asked: tuple[Asked, ...]
    #: Its counters, as :meth:`Reconciler.counters` gives them.
    counters: dict[str, int]


class Reconciler:
    """Turns a target ladder and the working orders into requests to the engine.

    The only memory it keeps between cycles is the time of its last modify
    batch (for the modify latch), the terms of its modifies still in flight
    (to match MODIFYING orders at the price they are moving to) and counters.

    Args:
        config: Thresholds (section ``reconciler`` of the configuration).
        rules: The price and size rules of the traded asset.
    """

    def __init__(self, config: ReconcilerConfig, rules: AssetRules) -> None:
        self.config = config
        self.rules = rules
        self._planner = Planner(config, rules)
        self._last_modify_at: float | None = None
        self._asked: dict[int, Asked] = {}
        self._counters: dict[str, int] = dict.fromkeys(
            (
                "cycles",
                "cycles_skipped_stale_book",
                "places",
                "modifies",
                "modify_batches",
                "cancels",
                "cancel_alls",
                "clears",
                "orders_kept",
                "modifies_latched",
                "levels_dropped_crossing",
                "levels_skipped_min_notional",
                "requests_skipped_state_changed",
            ),
            0,
        )

    @property
    def last_modify_at(self) -> float | None:
        """When :meth:`apply` last sent a modify batch; None before the first."""
        return self._last_modify_at

    def counters(self) -> dict[str, int]:
        """Counters for metrics, counted by :meth:`apply` (a copy).

        ``cycles`` (skipped ones included), ``cycles_skipped_stale_book``,
        ``places``, ``modifies``,
        ``modify_batches``, ``cancels``, ``cancel_alls`` (drift), ``clears``
        (empty ladder), ``orders_kept``, ``modifies_latched``,
        ``levels_dropped_crossing``, ``levels_skipped_min_notional`` and
        ``requests_skipped_state_changed`` (an order changed state between
        :meth:`plan` and :meth:`apply`).
        """
        return dict(self._counters)

    def checkpoint(self) -> ReconcilerMemory:
        """Everything it remembers between cycles (copies), for an engine checkpoint."""
        return ReconcilerMemory(
            self._last_modify_at, tuple(self._asked.values()), dict(self._counters)
        )

    def restore(self, memory: ReconcilerMemory) -> None:
        """Take up a checkpoint's memory (:meth:`checkpoint`) in place of its own."""
        self._last_modify_at = memory.last_modify_at
        self._asked.clear()
        self._asked.update((id(asked.order), asked) for asked in memory.asked)
        self._counters.update(memory.counters)

    def plan(self, ladder: Ladder, orders: Iterable[Order], book: Book, now: float) -> Plan:
        """Decide what to place, modify and cancel. Reads ``orders``, changes nothing.

        Args:
            ladder: The target quotes, best level first on each side (checked
                when it was built).
            orders: Every order the engine tracks (e.g. ``engine.registry``);
                only those occupying a level on either side are considered.
            book: The top of the book, for crossing and staleness checks.
            now: The current time, on the same clock as ``book.at``.

        Returns:
            The plan; give it to :meth:`apply` in the same cycle.

        Raises:
            ValueError: A level's price rounds down to 0 (the message names
                the level, as in ``ladder.bids[2].price``), or the configured
                ``min_notional_usd`` is not a finite number >= 0.
        """
        return self._planner.plan(ladder, orders, book, now, self._last_modify_at, self._asked)

    # --- applying ----------------------------------------------------------------------

    def apply(self, plan: Plan, engine: AskingEngine, now: float) -> list[Order]:
        """Carry ``plan`` out through the engine's requests: cancels, then modifies, then places.

        An order whose state no longer allows its request (an exchange event
        arrived between :meth:`plan` and this call) is left alone and counted
        in ``requests_skipped_state_changed``. A non-empty modify batch starts
        a new modify-latch interval at ``now``.

        Args:
            plan: A plan from :meth:`plan`, for this cycle.
            engine: The engine tracking the orders of the plan.
            now: The current time.

        Returns:
            The new orders, in PENDING, in the order of ``plan.places``.
        """
        counters = self._counters
        counters["cycles"] += 1
        for side_plan in (plan.bids, plan.asks):
            counters["levels_dropped_crossing"] += len(side_plan.dropped_crossing)
            counters["levels_skipped_min_notional"] += len(side_plan.skipped_min_notional)
        if plan.skipped is not None:
            key = f"cycles_skipped_{plan.skipped}"
            counters[key] = counters.get(key, 0) + 1
            self._log(plan)
            return []
        if plan.cancel_all:
            counters["cancel_alls"] += 1
            self._warn_cancel_all(plan)
        elif plan.bids.decision is Decision.CLEAR:
            counters["clears"] += 1

        skipped = 0
        for order in plan.cancels:
            if order.state in CANCELLABLE:
                engine.cancel(order, now)
                counters["cancels"] += 1
            else:
                skipped += 1
        sent = 0
        for change in plan.modifies:
            order = change.order
            if order.state in MODIFIABLE:
                engine.modify(order, change.price, change.size, now)
                self._asked[id(order)] = Asked(order, change.price, change.size, order.state_since)
                sent += 1
            else:
                skipped += 1
        placed = [engine.place(p.side, p.price, p.size, now) for p in plan.places]

        if sent:
            self._last_modify_at = now
            counters["modify_batches"] += 1
        counters["modifies"] += sent
        counters["places"] += len(placed)
        counters["orders_kept"] += len(plan.bids.kept) + len(plan.asks.kept)
        counters["modifies_latched"] += len(plan.bids.latched) + len(plan.asks.latched)
        counters["requests_skipped_state_changed"] += skipped
        self._forget_answered()
        self._log(plan)
        return placed

    def _forget_answered(self) -> None:
        # A modify stops mattering once its order left MODIFYING (answered,
        # cancelled, filled); the order then rests with its real terms.
        stale = [
            key
            for key, asked in self._asked.items()
            if asked.order.state is not _MODIFYING or asked.order.state_since != asked.since
        ]
        for key in stale:
            del self._asked[key]

    def _log(self, plan: Plan) -> None:
        # A side that keeps every order says so at DEBUG: a bot quoting every second
        # would otherwise log two lines a second of nothing happening.
        if not log.isEnabledFor(logging.INFO):  # neither level is on
            return
        for side_plan in (plan.bids, plan.asks):
            level = logging.DEBUG if side_plan.decision is Decision.KEEP else logging.INFO
            if not log.isEnabledFor(level):
                continue
            drift = side_plan.max_drift_bps
            log.log(
                level,
                "reconcile %s: %s; %d working, %d targets, max drift %s bps; "
                "%d places, %d modifies, %d cancels, %d latched%s",
                side_plan.side.value,
                side_plan.decision.value,
                side_plan.working,
                side_plan.targets,
                "-" if drift is None else f"{drift:.2f}",
                len(side_plan.places),
                len(side_plan.modifies),
                len(side_plan.cancels),
                len(side_plan.latched),
                f" ({plan.note})" if plan.note else "",
                extra={
                    "side": side_plan.side.value,
                    "working": side_plan.working,
                    "targets": side_plan.targets,
                    "max_drift_bps": drift,
                    "decision": side_plan.decision.value,
                    "places": len(side_plan.places),
                    "modifies": len(side_plan.modifies),
                    "cancels": len(side_plan.cancels),
                    "latched": len(side_plan.latched),
                    "skipped": plan.skipped,
                },
            )

    def _warn_cancel_all(self, plan: Plan) -> None:
        bids, asks = plan.bids, plan.asks
        worst = bids if (bids.max_drift_bps or 0.0) >= (asks.max_drift_bps or 0.0) else asks
        drift = worst.max_drift_bps
        log.warning(
            "large drift forcing a full replace: %s orders %.2f bps from every target "
            "(drift_cancel_all_bps %s); cancelling %d orders, placing %d levels",
            worst.side.value,
            drift,
            self.config.drift_cancel_all_bps,
            len(plan.cancels),
            len(plan.places),
            extra={
                "side": worst.side.value,
                "drift_bps": drift,
                "drift_cancel_all_bps": self.config.drift_cancel_all_bps,
                "cancels": len(plan.cancels),
                "places": len(plan.places),
            },
        )
