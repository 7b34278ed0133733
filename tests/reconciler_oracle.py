"""Reference implementation: the reconciler as it was, on Decimal arithmetic.

This is the test oracle of ``tests/test_reconciler_equivalence.py``: the
module :mod:`lifecycle.policy.reconciler` had before it moved to integer ticks
and lots, kept verbatim (only its ``record`` decorator is a plain frozen
dataclass here, so that the oracle depends on nothing that may change). The
equivalence test runs the same ladders, books and orders through it and
through :class:`lifecycle.policy.reconciler.Reconciler` and requires identical
plans. Do not edit it to follow the package: it is the behaviour the package
must keep. It changes only with a deliberate change of behaviour, made here
and in the package alike:

* a book exactly ``book_stale_s`` old is stale (``>=``, as the seed's
  "book >= 5 s old: skip");
* a ladder whose every level is dropped (crossing, below the minimum
  notional) is no longer skipped as ``no_levels``: each side without targets
  has its orders cancelled, as a side without targets always had.

Its own documentation follows.

The reconciler: a target ladder and the working orders in, a plan of requests out.

Theory of operation
-------------------
A quoting strategy says where it wants to rest (a :class:`Ladder` of
:class:`Level` records per side, best first). :meth:`Reconciler.plan` compares that
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
   (``Plan.skipped``); nothing is sent.
3. **Targets.** Each level's price is rounded with :mod:`lifecycle.policy.pricing`
   (bids down, asks up: never more aggressive) and its size truncated to
   ``sz_decimals``. A level that would cross is dropped on its own (a bid at or
   above ``best_ask - m`` ticks, an ask at or below ``best_bid + m`` ticks, with
   ``m = cross_margin_ticks`` plus one tick per started second of book age
   beyond ``book_age_grace_s``); so is a level worth less than
   ``min_notional_usd``. A side left without targets has its orders
   cancelled, also when no level survives on either side.
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

:meth:`Reconciler.apply` logs one INFO line per side per cycle, with the
structured fields ``side``, ``working``, ``targets``, ``max_drift_bps`` and
``decision`` (and the counts sent) in ``extra``, and a WARNING for each
cancel-all with the drift that forced it.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import operator
from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from lifecycle.config import ReconcilerConfig
from lifecycle.core.order import Order, Side
from lifecycle.core.states import WORKING, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.policy.asking import AskingEngine
from lifecycle.policy.pricing import (
    AssetRules,
    meets_min_notional,
    round_price,
    tick_at,
    truncate_size,
)

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
    "SidePlan",
]

log = logging.getLogger("lifecycle.reconciler")

#: The records of this reference: frozen, keyword-only dataclasses.
record = dataclasses.dataclass(frozen=True, kw_only=True)

#: ``Plan.skipped`` when the book is ``book_stale_s`` old or older.
SKIP_STALE_BOOK: Final = "stale_book"

S = OrderState

#: Orders that hold their ladder level: nothing is placed twice at it.
_OCCUPYING: Final = WORKING | {S.PENDING}
#: States the engine can modify, read from the table.
_MODIFIABLE: Final = frozenset(s for (s, t) in TABLE if t is Trigger.MODIFY_REQUEST)
#: States the engine can cancel (a PENDING order is abandoned), read from the table.
_CANCELLABLE: Final = frozenset(
    s for (s, t) in TABLE if t is Trigger.CANCEL_REQUEST or t is Trigger.ABANDON
)
_BPS = Decimal(10_000)
_PERCENT = Decimal(100)


# --- records ----------------------------------------------------------------------------


@record
class Level:
    """One target quote: rest ``size`` at ``price``."""

    price: Decimal
    size: Decimal


@record
class Ladder:
    """The quotes a strategy wants, per side, best level first.

    Bids in non-increasing price order, asks in non-decreasing order. Both
    sides empty means "rest nothing".
    """

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    def side(self, side: Side) -> tuple[Level, ...]:
        """Return the levels of ``side`` (``bids`` for a buy)."""
        return self.bids if side is Side.BUY else self.asks


@record
class Book:
    """The top of the exchange's book, as seen at time ``at``.

    A side may be None when the book has no order on it; levels are then not
    checked against it.
    """

    best_bid: Decimal | None
    best_ask: Decimal | None
    at: float


@record
class Placement:
    """Place a new order of ``size`` at ``price``, for target level ``level``."""

    side: Side
    price: Decimal
    size: Decimal
    level: int


@record
class Modification:
    """Modify ``order`` to ``price`` and ``size``, for target level ``level``."""

    order: Order
    price: Decimal
    size: Decimal
    level: int


class Decision(enum.Enum):
    """What a cycle decided for one side."""

    #: Nothing to send: every order kept, held or latched.
    KEEP = "keep"
    #: Some places, modifies or cancels.
    UPDATE = "update"
    #: Drift beyond ``drift_cancel_all_bps``: cancel everything, place the whole ladder.
    REPLACE_ALL = "replace_all"
    #: Empty ladder: cancel every order of ours that may rest.
    CLEAR = "clear"
    #: The cycle was skipped (``Plan.skipped`` says why).
    SKIP = "skip"


@record
class SidePlan:
    """What one cycle does on one side, and why.

    Attributes:
        side: The side.
        places: New orders, one place batch.
        modifies: Modifies, sent in the cycle's modify batch.
        cancels: Orders to cancel, one cancel batch.
        kept: Matched orders left as they are: within the latch band, or
            waiting for an outstanding answer.
        latched: Modifies withheld because the previous modify batch is younger
            than ``min_modify_interval_ms``; their orders stay as they are.
        dropped_crossing: Levels (as given) dropped because they would cross.
        skipped_min_notional: Levels (as given) worth less than ``min_notional_usd``.
        working: Orders occupying a level on this side before the cycle.
        targets: Target levels left after rounding and filtering.
        max_drift_bps: The largest distance from a working order to its nearest
            target; None without orders or without targets.
        decision: The side's decision.
    """

    side: Side
    places: tuple[Placement, ...] = ()
    modifies: tuple[Modification, ...] = ()
    cancels: tuple[Order, ...] = ()
    kept: tuple[Order, ...] = ()
    latched: tuple[Modification, ...] = ()
    dropped_crossing: tuple[Level, ...] = ()
    skipped_min_notional: tuple[Level, ...] = ()
    working: int = 0
    targets: int = 0
    max_drift_bps: float | None = None
    decision: Decision = Decision.KEEP


@record
class Plan:
    """The outcome of :meth:`Reconciler.plan`: per side, what to send.

    Attributes:
        bids: The buy side.
        asks: The sell side.
        cancel_all: Drift forced a full replace: every working order is
            cancelled and the whole ladder placed again.
        skipped: Why the cycle was skipped (:data:`SKIP_STALE_BOOK`), None
            when it was not.
        note: A human-readable detail of ``skipped`` or ``cancel_all``.
    """

    bids: SidePlan
    asks: SidePlan
    cancel_all: bool = False
    skipped: str | None = None
    note: str = ""

    def side(self, side: Side) -> SidePlan:
        """Return the plan of ``side``."""
        return self.bids if side is Side.BUY else self.asks

    @property
    def places(self) -> tuple[Placement, ...]:
        """Every placement, bids first."""
        return self.bids.places + self.asks.places

    @property
    def modifies(self) -> tuple[Modification, ...]:
        """Every modify, bids first."""
        return self.bids.modifies + self.asks.modifies

    @property
    def cancels(self) -> tuple[Order, ...]:
        """Every order to cancel, bids first."""
        return self.bids.cancels + self.asks.cancels


class _Candidate:
    """One working order of a side as the matching sees it."""

    __slots__ = ("distances", "order", "size")

    def __init__(self, order: Order, size: Decimal, distances: list[Decimal]) -> None:
        self.order = order
        #: The size it rests with, or is moving to.
        self.size = size
        #: Its price's distance to each target of its side, in bps of the target.
        self.distances = distances


@record
class _Asked:
    """A modify this reconciler sent: what the order should become."""

    order: Order
    price: Decimal
    size: Decimal
    since: float


# --- the reconciler ---------------------------------------------------------------------


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
        # Thresholds as Decimals (from the float's shortest repr, so 3.0 is
        # exactly 3): a distance of exactly latch_bps is within the latch.
        self._tolerances = tuple(_decimal(t) for t in config.level_tolerance_bps)
        self._latch_bps = _decimal(config.latch_bps)
        self._latch_size_pct = _decimal(config.latch_size_pct)
        self._max_modify_bps = _decimal(config.max_modify_bps)
        self._drift_bps = _decimal(config.drift_cancel_all_bps)
        self._min_notional = _decimal(config.min_notional_usd)
        self._last_modify_at: float | None = None
        self._asked: dict[int, _Asked] = {}
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

    # --- planning ----------------------------------------------------------------------

    def plan(self, ladder: Ladder, orders: Iterable[Order], book: Book, now: float) -> Plan:
        """Decide what to place, modify and cancel. Reads ``orders``, changes nothing.

        Args:
            ladder: The target quotes, best level first on each side.
            orders: Every order the engine tracks (e.g. ``engine.registry``);
                only those occupying a level on either side are considered.
            book: The top of the book, for crossing and staleness checks.
            now: The current time, on the same clock as ``book.at``.

        Returns:
            The plan; give it to :meth:`apply` in the same cycle.

        Raises:
            ValueError: A level or a book price is not a finite number > 0, or
                a side of the ladder is not ordered best level first (the
                message names the field).
        """
        _check_ladder(ladder)
        _check_book(book)
        working: dict[Side, list[Order]] = {Side.BUY: [], Side.SELL: []}
        for order in orders:
            if order.state in _OCCUPYING:
                working[order.side].append(order)

        if not ladder.bids and not ladder.asks:
            return self._clear(working)

        age_s = max(0.0, now - book.at)
        config = self.config
        if age_s >= config.book_stale_s:
            note = f"book is {age_s:.3f} s old (book_stale_s {config.book_stale_s})"
            return self._skipped(working, ladder, SKIP_STALE_BOOK, note)

        # One more tick of margin per started second beyond the grace period.
        beyond_s = age_s - config.book_age_grace_s
        margin_ticks = config.cross_margin_ticks + (math.ceil(beyond_s) if beyond_s > 0 else 0)
        bid_targets, bid_crossing, bid_small = self._targets(
            Side.BUY, ladder.bids, book, margin_ticks
        )
        ask_targets, ask_crossing, ask_small = self._targets(
            Side.SELL, ladder.asks, book, margin_ticks
        )
        targets = {Side.BUY: bid_targets, Side.SELL: ask_targets}
        dropped = {Side.BUY: bid_crossing, Side.SELL: ask_crossing}
        small = {Side.BUY: bid_small, Side.SELL: ask_small}

        bid_candidates = self._candidates(working[Side.BUY], bid_targets)
        ask_candidates = self._candidates(working[Side.SELL], ask_targets)
        drift = {Side.BUY: _max_drift(bid_candidates), Side.SELL: _max_drift(ask_candidates)}
        worst = max((d for d in drift.values() if d is not None), default=None)
        if worst is not None and worst > self._drift_bps:
            return self._replace_all(working, targets, dropped, small, drift, worst)

        modify_due = (
            self._last_modify_at is None
            or (now - self._last_modify_at) * 1000.0 >= config.min_modify_interval_ms
        )
        bids = self._side(
            Side.BUY, bid_candidates, bid_targets, modify_due,
            bid_crossing, bid_small, drift[Side.BUY],
        )
        asks = self._side(
            Side.SELL, ask_candidates, ask_targets, modify_due,
            ask_crossing, ask_small, drift[Side.SELL],
        )
        return Plan(bids=bids, asks=asks)

    def _targets(
        self, side: Side, levels: tuple[Level, ...], book: Book, margin_ticks: int
    ) -> tuple[tuple[Level, ...], tuple[Level, ...], tuple[Level, ...]]:
        """Round the levels of one side; return (targets, dropped crossing, too small)."""
        rules = self.rules
        name = "bids" if side is Side.BUY else "asks"
        limit: Decimal | None = None
        if side is Side.BUY and book.best_ask is not None:
            limit = book.best_ask - margin_ticks * tick_at(book.best_ask, rules)
        elif side is Side.SELL and book.best_bid is not None:
            limit = book.best_bid + margin_ticks * tick_at(book.best_bid, rules)
        targets: list[Level] = []
        crossing: list[Level] = []
        small: list[Level] = []
        for index, level in enumerate(levels):
            try:
                price = round_price(level.price, rules, side)
            except ValueError as exc:
                raise ValueError(f"ladder.{name}[{index}].price: {exc}") from None
            size = truncate_size(level.size, rules)
            if limit is not None and (price >= limit if side is Side.BUY else price <= limit):
                crossing.append(level)
            elif not meets_min_notional(price, size, self._min_notional):
                small.append(level)
            else:
                targets.append(Level(price=price, size=size))
        return tuple(targets), tuple(crossing), tuple(small)

    def _terms(self, order: Order) -> tuple[Decimal, Decimal]:
        """The price and size ``order`` rests with, or is moving to if we modified it."""
        if order.state is S.MODIFYING:
            asked = self._asked.get(id(order))
            if asked is not None and asked.order is order and asked.since == order.state_since:
                return asked.price, asked.size
        return order.price, order.remaining

    def _candidates(self, orders: list[Order], targets: tuple[Level, ...]) -> list[_Candidate]:
        """Each order of a side with its terms and its distance to every target, in bps."""
        prices = [target.price for target in targets]
        out = []
        for order in orders:
            price, size = self._terms(order)
            out.append(_Candidate(order, size, [abs(price - p) / p * _BPS for p in prices]))
        return out

    def _side(
        self,
        side: Side,
        candidates: list[_Candidate],
        targets: tuple[Level, ...],
        modify_due: bool,
        dropped: tuple[Level, ...],
        small: tuple[Level, ...],
        drift: Decimal | None,
    ) -> SidePlan:
        """Match one side's orders to its targets and classify every pair."""
        tolerances = self._tolerances
        last = len(tolerances) - 1
        unmatched = list(candidates)
        places: list[Placement] = []
        modifies: list[Modification] = []
        cancels: list[Order] = []
        kept: list[Order] = []
        latched: list[Modification] = []

        for index, target in enumerate(targets):
            tolerance = tolerances[min(index, last)]
            chosen: _Candidate | None = None
            best_key: tuple[Decimal, Decimal] | None = None
            for candidate in unmatched:
                distance = candidate.distances[index]
                if distance > tolerance:
                    continue
                # Nearest price wins; then nearest size; then the older order.
                key = (distance, _size_pct(candidate.size, target.size))
                if best_key is None or key < best_key:
                    chosen, best_key = candidate, key
            if chosen is None or best_key is None:
                places.append(_placement(side, target, index))
                continue
            unmatched.remove(chosen)
            best = chosen.order
            distance, size_pct = best_key
            if distance <= self._latch_bps and size_pct <= self._latch_size_pct:
                kept.append(best)
            elif distance <= self._max_modify_bps:
                if best.state in _MODIFIABLE:
                    # A size-only change keeps the current price (and, for a
                    # reduction, the order's queue place).
                    price = best.price if distance <= self._latch_bps else target.price
                    change = Modification(order=best, price=price, size=target.size, level=index)
                    (modifies if modify_due else latched).append(change)
                else:
                    kept.append(best)  # answer outstanding: modifiable once it comes
            elif best.state in _CANCELLABLE:
                cancels.append(best)
                places.append(_placement(side, target, index))
            else:
                kept.append(best)

        for candidate in unmatched:
            if candidate.order.state in _CANCELLABLE:
                cancels.append(candidate.order)
            else:
                kept.append(candidate.order)

        busy = places or modifies or cancels
        return SidePlan(
            side=side,
            places=tuple(places),
            modifies=tuple(modifies),
            cancels=tuple(cancels),
            kept=tuple(kept),
            latched=tuple(latched),
            dropped_crossing=dropped,
            skipped_min_notional=small,
            working=len(candidates),
            targets=len(targets),
            max_drift_bps=_float(drift),
            decision=Decision.UPDATE if busy else Decision.KEEP,
        )

    def _replace_all(
        self,
        working: dict[Side, list[Order]],
        targets: dict[Side, tuple[Level, ...]],
        dropped: dict[Side, tuple[Level, ...]],
        small: dict[Side, tuple[Level, ...]],
        drift: dict[Side, Decimal | None],
        worst: Decimal,
    ) -> Plan:
        plans = []
        for side in (Side.BUY, Side.SELL):
            orders = working[side]
            plans.append(
                SidePlan(
                    side=side,
                    places=tuple(
                        _placement(side, t, i) for i, t in enumerate(targets[side])
                    ),
                    cancels=tuple(o for o in orders if o.state in _CANCELLABLE),
                    kept=tuple(o for o in orders if o.state not in _CANCELLABLE),
                    dropped_crossing=dropped[side],
                    skipped_min_notional=small[side],
                    working=len(orders),
                    targets=len(targets[side]),
                    max_drift_bps=_float(drift[side]),
                    decision=Decision.REPLACE_ALL,
                )
            )
        limit = self.config.drift_cancel_all_bps
        note = f"drift {float(worst):.2f} bps > drift_cancel_all_bps {limit}"
        return Plan(bids=plans[0], asks=plans[1], cancel_all=True, note=note)

    def _clear(self, working: dict[Side, list[Order]]) -> Plan:
        plans = [
            SidePlan(
                side=side,
                cancels=tuple(o for o in working[side] if o.state in _CANCELLABLE),
                kept=tuple(o for o in working[side] if o.state not in _CANCELLABLE),
                working=len(working[side]),
                decision=Decision.CLEAR,
            )
            for side in (Side.BUY, Side.SELL)
        ]
        return Plan(bids=plans[0], asks=plans[1], note="empty ladder")

    def _skipped(
        self, working: dict[Side, list[Order]], ladder: Ladder, why: str, note: str
    ) -> Plan:
        plans = [
            SidePlan(
                side=side,
                working=len(working[side]),
                targets=len(ladder.side(side)),
                decision=Decision.SKIP,
            )
            for side in (Side.BUY, Side.SELL)
        ]
        return Plan(bids=plans[0], asks=plans[1], skipped=why, note=note)

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
            if order.state in _CANCELLABLE:
                engine.cancel(order, now)
                counters["cancels"] += 1
            else:
                skipped += 1
        sent = 0
        for change in plan.modifies:
            order = change.order
            if order.state in _MODIFIABLE:
                engine.modify(order, change.price, change.size, now)
                self._asked[id(order)] = _Asked(
                    order=order, price=change.price, size=change.size, since=order.state_since
                )
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
            if asked.order.state is not S.MODIFYING or asked.order.state_since != asked.since
        ]
        for key in stale:
            del self._asked[key]

    def _log(self, plan: Plan) -> None:
        if not log.isEnabledFor(logging.INFO):
            return
        for side_plan in (plan.bids, plan.asks):
            drift = side_plan.max_drift_bps
            log.info(
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


# --- helpers ----------------------------------------------------------------------------


def _placement(side: Side, target: Level, index: int) -> Placement:
    return Placement(side=side, price=target.price, size=target.size, level=index)


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _max_drift(candidates: list[_Candidate]) -> Decimal | None:
    """The largest distance from an order of a side to its nearest target (None when
    the side has no order or no target)."""
    if not candidates or not candidates[0].distances:
        return None
    return max(min(candidate.distances) for candidate in candidates)


def _size_pct(size: Decimal, target: Decimal) -> Decimal:
    """Distance from ``size`` to ``target``, in percent of ``target``."""
    return abs(size - target) / target * _PERCENT


def _check_ladder(ladder: Ladder) -> None:
    for name, levels, better in (
        ("bids", ladder.bids, operator.ge),
        ("asks", ladder.asks, operator.le),
    ):
        previous: Decimal | None = None
        for index, level in enumerate(levels):
            for field in ("price", "size"):
                value = getattr(level, field)
                if not isinstance(value, Decimal) or not (value.is_finite() and value > 0):
                    raise ValueError(
                        f"ladder.{name}[{index}].{field} must be a finite Decimal > 0, "
                        f"got {value!r}"
                    )
            if previous is not None and not better(previous, level.price):
                raise ValueError(
                    f"ladder.{name} must be best level first: ladder.{name}[{index}].price "
                    f"{level.price} is better than the level before it ({previous})"
                )
            previous = level.price


def _check_book(book: Book) -> None:
    for field in ("best_bid", "best_ask"):
        value = getattr(book, field)
        if value is not None and (
            not isinstance(value, Decimal) or not (value.is_finite() and value > 0)
        ):
            raise ValueError(f"book.{field} must be a finite Decimal > 0 or None, got {value!r}")


def unchecked_config(**values: object) -> ReconcilerConfig:
    """A :class:`ReconcilerConfig` holding ``values`` as they are, without its checks.

    The reference and the package are compared on thresholds no configuration
    may hold (NaN, negative, an empty tolerance list, a latch above the modify
    limit): a reconciler handed one anyway must still plan as the reference
    does. Keys not given take their defaults.
    """
    config = object.__new__(ReconcilerConfig)
    for field in dataclasses.fields(ReconcilerConfig):
        object.__setattr__(config, field.name, values.pop(field.name, field.default))
    if values:
        raise TypeError(f"unknown ReconcilerConfig fields: {sorted(values)}")
    return config
