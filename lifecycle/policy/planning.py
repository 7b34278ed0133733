"""Planning one reconcile cycle: a ladder, the working orders and a book in, a plan out.

Theory of operation
-------------------
:class:`Planner` holds the steps of a cycle that only read (the order of the
steps and what each decides are described in :mod:`lifecycle.policy.reconciler`):
the empty-ladder clear, the stale-book skip, the targets (rounded, crossing and
minimum-notional checks), the drift that forces a full replace, and per side
the matching and the keep / modify / cancel decision of each pair.

Everything between the edges is integer arithmetic on the asset's grid
(:mod:`lifecycle.policy.ticks`): level prices are rounded to units and sizes
truncated to lots once (cached by value; a side re-sent as the very same tuple
of levels, against the same crossing limit, reuses its targets whole),
orders' prices and sizes are read
as units and lots (cached per order while its terms stay the same objects),
and every distance is compared with its threshold exactly
(:mod:`lifecycle.policy.matching`). Decimals appear again only in what a plan
carries: the target prices and sizes of placements and modifies, exactly the
values :func:`~lifecycle.policy.pricing.round_price` and
:func:`~lifecycle.policy.pricing.truncate_size` give, and ``max_drift_bps``,
computed as ``float(|p - t| / t * 10000)`` in Decimal for the one pair that
sets it.

An order whose price or size is not on the grid (placed by hand with more
decimals than the asset allows, say) is still measured exactly: its side is
then worked on a finer common scale, ``10 ** -k`` with the least ``k`` that
holds every value of the side.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Final, NoReturn

from lifecycle.config import ReconcilerConfig
from lifecycle.core.order import Order, Side
from lifecycle.core.states import WORKING, OrderState, Trigger
from lifecycle.core.table import TABLE
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
from lifecycle.policy.matching import Asked, Drift, SideView, Terms, match, max_drift, read_side
from lifecycle.policy.pricing import AssetRules, meets_min_notional, tick_at
from lifecycle.policy.ticks import Grid, threshold

__all__ = ["CANCELLABLE", "MODIFIABLE", "Planner"]

S = OrderState
_BUY: Final = Side.BUY
_SELL: Final = Side.SELL

#: Orders that hold their ladder level: nothing is placed twice at it.
_OCCUPYING: Final = WORKING | {S.PENDING}
#: States the engine can modify, read from the table.
MODIFIABLE: Final = frozenset(s for (s, t) in TABLE if t is Trigger.MODIFY_REQUEST)
#: States the engine can cancel (a PENDING order is abandoned), read from the table.
CANCELLABLE: Final = frozenset(
    s for (s, t) in TABLE if t is Trigger.CANCEL_REQUEST or t is Trigger.ABANDON
)
_BPS = 10_000
_PERCENT = 100
# One side's targets: prices in units, sizes in lots, levels dropped crossing,
# levels below the minimum notional.
_Targets = tuple[list[int], list[int], tuple[Level, ...], tuple[Level, ...]]
_DECIMAL_BPS = Decimal(_BPS)
_ZERO = Decimal(0)


class Planner:
    """Turns a ladder, the working orders and a book into a :class:`Plan`; reads only.

    Args:
        config: Thresholds (section ``reconciler`` of the configuration).
        rules: The price and size rules of the traded asset.
    """

    def __init__(self, config: ReconcilerConfig, rules: AssetRules) -> None:
        self.config = config
        self.rules = rules
        self.grid = Grid(rules)
        # Thresholds as exact fractions of the Decimal of each float's shortest
        # repr (3.0 is exactly 3): a distance of exactly latch_bps is within it.
        self._tolerances = tuple(threshold(t, _BPS) for t in config.level_tolerance_bps)
        self._latch = threshold(config.latch_bps, _BPS)
        self._latch_size = threshold(config.latch_size_pct, _PERCENT)
        self._max_modify = threshold(config.max_modify_bps, _BPS)
        self._drift = threshold(config.drift_cancel_all_bps, _BPS)
        self._min_notional = Decimal(repr(config.min_notional_usd))
        # price * size >= min  <=>  units * lots * den >= num * 10**(decimals of both).
        self._notional: tuple[int, int] | None = None
        if self._min_notional.is_finite() and self._min_notional >= 0:
            num, den = self._min_notional.as_integer_ratio()
            self._notional = num * 10 ** (rules.max_decimals + rules.sz_decimals), den
        # The crossing limit in units, by (side, book price, margin in ticks).
        self._limits: dict[tuple[Side, Decimal, int], int] = {}
        # Each working order's terms as integers, while they are the same objects.
        self._terms: dict[Order, Terms] = {}
        # Per side (True for bids), the last levels rounded: (levels, limit, targets).
        self._memo: dict[bool, tuple[Sequence[Level], int | None, _Targets] | None] = {
            True: None,
            False: None,
        }

    def plan(
        self,
        ladder: Ladder,
        orders: Iterable[Order],
        book: Book,
        now: float,
        last_modify_at: float | None,
        asked: dict[int, Asked],
    ) -> Plan:
        """Decide what to place, modify and cancel (see :meth:`Reconciler.plan`).

        ``last_modify_at`` is when the last modify batch was sent (None before
        the first), ``asked`` the modifies in flight by ``id`` of their order.
        """
        working: dict[Side, list[Order]] = {_BUY: [], _SELL: []}
        for order in orders:
            if order.state in _OCCUPYING:
                working[order.side].append(order)

        if not ladder.bids and not ladder.asks:
            return _clear(working)

        age_s = max(0.0, now - book.at)
        config = self.config
        if age_s >= config.book_stale_s:
            # At the limit the book is already too old to decide on (the seed's
            # "book >= 5 s old: skip").
            note = f"book is {age_s:.3f} s old (book_stale_s {config.book_stale_s})"
            return _skipped(working, ladder, SKIP_STALE_BOOK, note)

        # One more tick of margin per started second beyond the grace period.
        beyond_s = age_s - config.book_age_grace_s
        margin_ticks = config.cross_margin_ticks + (math.ceil(beyond_s) if beyond_s > 0 else 0)
        bid_units, bid_lots, bid_crossing, bid_small = self._targets(
            _BUY, ladder.bids, book, margin_ticks
        )
        ask_units, ask_lots, ask_crossing, ask_small = self._targets(
            _SELL, ladder.asks, book, margin_ticks
        )
        grid, terms = self.grid, self._terms
        fresh: dict[Order, Terms] = {}
        self._terms = fresh
        bids = read_side(grid, working[_BUY], bid_units, bid_lots, asked, terms, fresh)
        asks = read_side(grid, working[_SELL], ask_units, ask_lots, asked, terms, fresh)
        bid_drift = self._drift_bps(bids, max_drift(bids.prices, bids.targets[0], False))
        ask_drift = self._drift_bps(asks, max_drift(asks.prices, asks.targets[0], True))
        if bid_drift[1] or ask_drift[1]:
            worst = max(d for d, _ in (bid_drift, ask_drift) if d is not None)
            return self._replace_all(
                working,
                (bids.units, bid_lots, bid_crossing, bid_small, bid_drift[0]),
                (asks.units, ask_lots, ask_crossing, ask_small, ask_drift[0]),
                worst,
            )

        modify_due = (
            last_modify_at is None
            or (now - last_modify_at) * 1000.0 >= config.min_modify_interval_ms
        )
        return Plan(
            bids=self._decide(
                _BUY, bids, bid_lots, modify_due, bid_crossing, bid_small, bid_drift[0]
            ),
            asks=self._decide(
                _SELL, asks, ask_lots, modify_due, ask_crossing, ask_small, ask_drift[0]
            ),
        )

    # --- targets -----------------------------------------------------------------------

    def _targets(
        self, side: Side, levels: Sequence[Level], book: Book, margin_ticks: int
    ) -> _Targets:
        """Round the levels of one side: (units, lots, dropped crossing, too small)."""
        grid = self.grid
        limit = self._limit(side, book, margin_ticks)
        buy = side is _BUY
        # The same tuple of levels (immutable, kept alive by the memo) against the
        # same limit gives the same targets: a quoter re-sending its ladder.
        memo = self._memo[buy]
        if memo is not None and memo[0] is levels and memo[1] == limit:
            return memo[2]
        rounded = grid.rounded(side)
        truncated = grid.truncated
        notional = self._notional
        units_out: list[int] = []
        lots_out: list[int] = []
        crossing: list[Level] = []
        small: list[Level] = []
        last_size: Decimal | None = None
        lots = 0
        for index, level in enumerate(levels):
            price = level.price
            units = rounded.get(price)
            if units is None:
                try:
                    units = grid.round_price(price, side)
                except ValueError as exc:
                    name = "bids" if buy else "asks"
                    raise ValueError(f"ladder.{name}[{index}].price: {exc}") from None
            size = level.size
            if size is not last_size:
                last_size = size
                cached = truncated.get(size)
                lots = grid.truncate_size(size) if cached is None else cached
            if limit is not None and (units >= limit if buy else units <= limit):
                crossing.append(level)
            elif notional is None:
                # Not a valid minimum: the Decimal check raises, naming it.
                meets_min_notional(grid.price(units), grid.size(lots), self._min_notional)
            elif units * lots * notional[1] < notional[0]:
                small.append(level)
            else:
                units_out.append(units)
                lots_out.append(lots)
        result = units_out, lots_out, tuple(crossing), tuple(small)
        if type(levels) is tuple:
            self._memo[buy] = (levels, limit, result)
        return result

    def _limit(self, side: Side, book: Book, margin_ticks: int) -> int | None:
        """The crossing limit of ``side`` in units: a bid at or above it crosses,
        an ask at or below it; None without the opposite side of the book."""
        best = book.best_ask if side is _BUY else book.best_bid
        if best is None:
            return None
        key = (side, best, margin_ticks)
        limit = self._limits.get(key)
        if limit is None:
            rules, grid = self.rules, self.grid
            if side is _BUY:
                limit = grid.ceil_units(best - margin_ticks * tick_at(best, rules))
            else:
                limit = grid.floor_units(best + margin_ticks * tick_at(best, rules))
            if len(self._limits) >= 256:
                self._limits.clear()
            self._limits[key] = limit
        return limit

    def _drift_bps(self, view: SideView, drift: Drift | None) -> tuple[Decimal | None, bool]:
        """The side's drift in bps as the Decimal it always was, and whether it
        exceeds ``drift_cancel_all_bps`` (compared exactly)."""
        if drift is None:
            return None, False
        if drift.num:
            price = view.price_values[drift.candidate]
            target = self.grid.price(view.units[drift.target])
            value = abs(price - target) / target * _DECIMAL_BPS
        else:
            value = _ZERO  # every order at a target: any zero gives 0.0 and "0.00"
        num, den = self._drift
        return value, drift.num * den > num * drift.den

    # --- decisions ---------------------------------------------------------------------

    def _decide(
        self,
        side: Side,
        view: SideView,
        target_lots: list[int],
        modify_due: bool,
        dropped: tuple[Level, ...],
        small: tuple[Level, ...],
        drift: Decimal | None,
    ) -> SidePlan:
        """Match one side's orders to its targets and classify every pair."""
        orders = view.orders
        target_prices, target_sizes = view.targets
        size_values = view.size_values

        def zero_size(k: int) -> NoReturn:
            # A percentage of a size of 0: the Decimal division raises, as it did.
            abs(size_values[k] - _ZERO) / _ZERO * _PERCENT
            raise AssertionError("unreachable")  # pragma: no cover

        chosen, distances, size_distances, unmatched = match(
            view.prices, view.sizes, target_prices, target_sizes, self._tolerances, zero_size
        )
        grid = self.grid
        price_of, size_of, units = grid.price, grid.size, view.units
        latch_num, latch_den = self._latch
        size_num, size_den = self._latch_size
        modify_num, modify_den = self._max_modify
        places: list[Placement] = []
        modifies: list[Modification] = []
        cancels: list[Order] = []
        kept: list[Order] = []
        latched: list[Modification] = []
        send = modifies.append if modify_due else latched.append
        keep = kept.append
        for index, k in enumerate(chosen):
            if k < 0:
                places.append(_placement(grid, side, units[index], target_lots[index], index))
                continue
            best = orders[k]
            distance = distances[index]
            target = target_prices[index]
            if distance * latch_den <= latch_num * target and (
                size_distances[index] * size_den <= size_num * target_sizes[index]
            ):
                keep(best)
            elif distance * modify_den <= modify_num * target:
                if best.state in MODIFIABLE:
                    # A size-only change keeps the current price (and, for a
                    # reduction, the order's queue place).
                    price = (
                        best.price
                        if distance * latch_den <= latch_num * target
                        else price_of(units[index])
                    )
                    send(
                        Modification(
                            order=best, price=price, size=size_of(target_lots[index]), level=index
                        )
                    )
                else:
                    keep(best)  # answer outstanding: modifiable once it comes
            elif best.state in CANCELLABLE:
                cancels.append(best)
                places.append(_placement(grid, side, units[index], target_lots[index], index))
            else:
                keep(best)

        for k in unmatched:
            order = orders[k]
            if order.state in CANCELLABLE:
                cancels.append(order)
            else:
                kept.append(order)

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
            working=len(orders),
            targets=len(target_prices),
            max_drift_bps=None if drift is None else float(drift),
            decision=Decision.UPDATE if busy else Decision.KEEP,
        )

    def _replace_all(
        self,
        working: dict[Side, list[Order]],
        bids: tuple[list[int], list[int], tuple[Level, ...], tuple[Level, ...], Decimal | None],
        asks: tuple[list[int], list[int], tuple[Level, ...], tuple[Level, ...], Decimal | None],
        worst: Decimal,
    ) -> Plan:
        grid = self.grid
        plans = []
        for side, (units, lots, dropped, small, drift) in ((_BUY, bids), (_SELL, asks)):
            orders = working[side]
            plans.append(
                SidePlan(
                    side=side,
                    places=tuple(
                        _placement(grid, side, units[i], lots[i], i) for i in range(len(units))
                    ),
                    cancels=tuple(o for o in orders if o.state in CANCELLABLE),
                    kept=tuple(o for o in orders if o.state not in CANCELLABLE),
                    dropped_crossing=dropped,
                    skipped_min_notional=small,
                    working=len(orders),
                    targets=len(units),
                    max_drift_bps=None if drift is None else float(drift),
                    decision=Decision.REPLACE_ALL,
                )
            )
        limit = self.config.drift_cancel_all_bps
        note = f"drift {float(worst):.2f} bps > drift_cancel_all_bps {limit}"
        return Plan(bids=plans[0], asks=plans[1], cancel_all=True, note=note)


# --- helpers ----------------------------------------------------------------------------


def _placement(grid: Grid, side: Side, units: int, lots: int, index: int) -> Placement:
    return Placement(side=side, price=grid.price(units), size=grid.size(lots), level=index)


def _clear(working: dict[Side, list[Order]]) -> Plan:
    plans = [
        SidePlan(
            side=side,
            cancels=tuple(o for o in working[side] if o.state in CANCELLABLE),
            kept=tuple(o for o in working[side] if o.state not in CANCELLABLE),
            working=len(working[side]),
            decision=Decision.CLEAR,
        )
        for side in (_BUY, _SELL)
    ]
    return Plan(bids=plans[0], asks=plans[1], note="empty ladder")


def _skipped(working: dict[Side, list[Order]], ladder: Ladder, why: str, note: str) -> Plan:
    plans = [
        SidePlan(
            side=side,
            working=len(working[side]),
            targets=len(ladder.side(side)),
            decision=Decision.SKIP,
        )
        for side in (_BUY, _SELL)
    ]
    return Plan(bids=plans[0], asks=plans[1], skipped=why, note=note)
