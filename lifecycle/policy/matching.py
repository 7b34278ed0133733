"""Matching working orders to target levels, on integer prices and sizes.

Theory of operation
-------------------
:func:`read_side` puts one side of a cycle on integers (see
:mod:`lifecycle.policy.ticks`): the working orders' prices and sizes (the
*candidates*, in the order the engine lists them; a MODIFYING order at the
terms its modify asked for, an :class:`Asked`) and the targets' prices and
sizes, best level first. An order's reading is kept while its price, size and
filled size stay the same objects, so a resting ladder is read without any
Decimal work; a side holding a value off the grid is moved to the least finer
scale that holds every value of it. Distances are ratios, ``|p - t| / t`` for a price and
``|s - ts| / ts`` for a size, and are never divided out: two distances to the
same target compare by their numerators alone, and a distance compares with a
threshold ``(num, den)`` from :func:`lifecycle.policy.ticks.threshold` as
``|p - t| * den <= num * t``. Every comparison is therefore exact.

:func:`match` serves the targets in order, best level first: each takes the
unmatched candidate nearest in price, then nearest in size, then the one
listed first, provided it is within that level's tolerance. The candidates are
kept sorted by price, so the nearest ones are found by bisection (those at the
target's price, or the nearest below and the nearest above), not by measuring
every candidate against every target.

:func:`max_drift` finds, for each candidate, its nearest target, and returns
the farthest of those: the drift that may force a full replace. Targets are
sorted (rounding keeps a ladder's order), and ``|p - t| / t`` grows as ``t``
moves away from ``p`` on either side, so a candidate's nearest target is one
of the two that surround its price.

Both have a shortcut for a ladder at rest, taken only where it gives what the
search would: when every candidate sits at a target the drift is 0, and when
the candidates are the targets, in order, all apart, with sizes above 0 and
tolerances that are numbers >= 0, target ``i`` takes candidate ``i``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final, NamedTuple

import msgspec

from lifecycle.core.order import Order
from lifecycle.core.states import OrderState
from lifecycle.policy.ticks import Grid, exact

__all__ = [
    "Asked",
    "Drift",
    "Matching",
    "SideView",
    "Terms",
    "match",
    "max_drift",
    "read_side",
]

_MODIFYING: Final = OrderState.MODIFYING

#: An order's (price, size, filled) objects, the size it rests with, and that
#: price and size in units and lots: what :func:`read_side` remembers of it.
Terms = tuple[Decimal, Decimal, Decimal, Decimal, int, int]


class Asked(msgspec.Struct, frozen=True, gc=False):
    """A modify the reconciler sent: what the order should become.

    ``since`` is when the order entered MODIFYING for it: the terms hold while
    the order is still in that stay.
    """

    order: Order
    price: Decimal
    size: Decimal
    since: float


class SideView:
    """One side of a cycle as integers on a common scale: its candidates and targets."""

    __slots__ = ("orders", "price_values", "prices", "size_values", "sizes", "targets", "units")

    def __init__(self, orders: list[Order], units: list[int], lots: list[int]) -> None:
        #: The working orders of the side, as the engine lists them.
        self.orders = orders
        #: Their prices and sizes (resting, or moving to), as Decimals ...
        self.price_values: list[Decimal] = []
        self.size_values: list[Decimal] = []
        #: ... and as integers on the side's scale.
        self.prices: list[int] = []
        self.sizes: list[int] = []
        #: The targets' prices and sizes on the same scale.
        self.targets: tuple[list[int], list[int]] = (units, lots)
        #: The targets' prices in units of the grid (for their Decimals).
        self.units = units


class Drift(NamedTuple):
    """The farthest candidate from its nearest target: ``num / den`` as a ratio."""

    #: ``|p - t|`` of the candidate and its nearest target.
    num: int
    #: ``t``, that target's price.
    den: int
    #: The candidate's index.
    candidate: int
    #: The target's index.
    target: int


class Matching(NamedTuple):
    """What :func:`match` found for each target, and what is left over."""

    #: Per target, the index of the candidate it took, or -1.
    chosen: list[int]
    #: Per target with a candidate, ``|p - t|`` (0 for the others).
    distances: list[int]
    #: Per target with a candidate, ``|s - ts|`` (0 for the others).
    size_distances: list[int]
    #: Indices of the candidates no target took, in the order given.
    unmatched: list[int]


def match(
    prices: Sequence[int],
    sizes: Sequence[int],
    target_prices: Sequence[int],
    target_sizes: Sequence[int],
    tolerances: Sequence[tuple[int, int]],
    zero_size: Callable[[int], None],
) -> Matching:
    """Match candidates to targets, best target first (see the module).

    Args:
        prices: The candidates' prices.
        sizes: The candidates' sizes.
        target_prices: The targets' prices, best level first (all > 0).
        target_sizes: The targets' sizes.
        tolerances: Per level, the price tolerance as ``(num, den)``; level
            ``i`` uses entry ``min(i, len - 1)``.
        zero_size: Called with the index of the first candidate (in the
            order given) within tolerance of a target whose size is 0; it
            raises, as a distance in percent of 0 cannot be measured.

    Raises:
        IndexError: A target exists and ``tolerances`` is empty.
    """
    last = len(tolerances) - 1
    if prices == target_prices and _at_rest(target_prices, target_sizes, tolerances):
        # Each order at its own target, all targets apart: target i takes order
        # i at distance 0, whatever the tolerances (all >= 0).
        return Matching(
            list(range(len(prices))),
            [0] * len(prices),
            [abs(s - t) for s, t in zip(sizes, target_sizes, strict=True)],
            [],
        )
    order = sorted(range(len(prices)), key=prices.__getitem__)  # stable: ties keep order
    line = [prices[k] for k in order]
    chosen: list[int] = []
    distances: list[int] = []
    size_distances: list[int] = []
    for i, target in enumerate(target_prices):
        num, den = tolerances[i if i < last else last]
        count = len(line)
        if not count:
            chosen.append(-1)
            distances.append(0)
            size_distances.append(0)
            continue
        # The nearest prices: at the target, else the nearest below and above
        # (both when they are equally far); [start, stop) of `line` holds them.
        start = bisect_left(line, target)
        if start < count and line[start] == target:
            distance, stop = 0, start + 1
        elif start == 0:
            distance, stop = line[0] - target, 1
        elif start == count:
            start -= 1
            distance, stop = target - line[start], count
        else:
            below, above = target - line[start - 1], line[start] - target
            if below < above:
                distance, stop, start = below, start, start - 1
            elif above < below:
                distance, stop = above, start + 1
            else:
                distance, stop, start = below, start + 1, start - 1
        # Widened to whole runs of equal prices (several orders at one price).
        if start and line[start - 1] == line[start]:
            start = _run_start(line, start)
        if stop < count and line[stop] == line[stop - 1]:
            stop = _run_end(line, stop - 1, count)
        if distance * den > num * target:
            chosen.append(-1)
            distances.append(0)
            size_distances.append(0)
            continue
        target_size = target_sizes[i]
        if not target_size:
            for k in sorted(order):
                if abs(prices[k] - target) * den <= num * target:
                    zero_size(k)
        at = start
        k = order[start]
        size_distance = abs(sizes[k] - target_size)
        if stop - start > 1:
            for j in range(start + 1, stop):
                other = order[j]
                other_distance = abs(sizes[other] - target_size)
                if other_distance < size_distance or (
                    other_distance == size_distance and other < k
                ):
                    at, k, size_distance = j, other, other_distance
        del line[at]
        del order[at]
        chosen.append(k)
        distances.append(distance)
        size_distances.append(size_distance)
    order.sort()
    return Matching(chosen, distances, size_distances, order)


def _run_start(line: list[int], at: int) -> int:
    """Where the run of prices equal to ``line[at]`` starts (runs are short: scanned)."""
    price = line[at]
    while at and line[at - 1] == price:
        at -= 1
    return at


def _run_end(line: list[int], at: int, count: int) -> int:
    """Just past the run of prices equal to ``line[at]``."""
    price = line[at]
    at += 1
    while at < count and line[at] == price:
        at += 1
    return at


def _at_rest(
    target_prices: Sequence[int],
    target_sizes: Sequence[int],
    tolerances: Sequence[tuple[int, int]],
) -> bool:
    """Whether matching needs no search: distinct targets of sizes > 0, and
    tolerances that are numbers >= 0 (a NaN one must raise as it is compared)."""
    return (
        len(set(target_prices)) == len(target_prices)
        and all(target_sizes)
        and bool(tolerances)
        and all(type(num) is int and num >= 0 for num, _ in tolerances)
    )


def max_drift(
    prices: Sequence[int], target_prices: Sequence[int], ascending: bool
) -> Drift | None:
    """The farthest candidate from its nearest target (see the module).

    Args:
        prices: The candidates' prices.
        target_prices: The targets' prices (all > 0), sorted: non-decreasing
            when ``ascending``, else non-increasing.
        ascending: How ``target_prices`` is sorted.

    Returns:
        The drift, or None without candidates or without targets. Of equally
        far candidates the first is named.
    """
    if not prices or not target_prices:
        return None
    if set(target_prices).issuperset(prices):
        return Drift(0, 1, 0, target_prices.index(prices[0]))  # every order at a target
    line = target_prices if ascending else target_prices[::-1]
    count = len(line)
    best_num, best_den, best_k, best_at = -1, 1, 0, 0
    for k, price in enumerate(prices):
        at = bisect_left(line, price)
        if at < count and line[at] == price:
            num, den = 0, price
        elif at == 0:
            den = line[0]
            num = den - price
        elif at == count:
            at -= 1
            den = line[at]
            num = price - den
        else:
            below, above = line[at - 1], line[at]
            if (price - below) * above <= (above - price) * below:
                at -= 1
                num, den = price - below, below
            else:
                num, den = above - price, above
        if num * best_den > best_num * den:
            best_num, best_den, best_k, best_at = num, den, k, at
    target = best_at if ascending else count - 1 - best_at
    return Drift(best_num, best_den, best_k, target)


# --- candidates -------------------------------------------------------------------------


def read_side(
    grid: Grid,
    orders: list[Order],
    units: list[int],
    lots: list[int],
    asked: dict[int, Asked],
    terms: dict[Order, Terms],
    fresh: dict[Order, Terms],
) -> SideView:
    """One side's orders and targets as integers on a common scale.

    Args:
        grid: The asset's grid.
        orders: The side's working orders, as the engine lists them.
        units: The side's target prices, in units, best level first.
        lots: The side's target sizes, in lots.
        asked: The modifies in flight, by ``id`` of their order: a MODIFYING
            order is read at the terms its modify asked for.
        terms: The orders' terms as the previous cycle read them.
        fresh: Where this cycle's readings go (the next cycle's ``terms``).
    """
    view = SideView(orders, units, lots)
    known_units, known_lots = grid.known_units, grid.known_lots
    price_values, size_values = view.price_values, view.size_values
    prices, sizes = view.prices, view.sizes
    on_grid = True
    for order in orders:
        price = order.price
        if order.state is _MODIFYING:
            # Matched at the terms our modify asked for, while it is in flight.
            entry = asked.get(id(order))
            if entry is not None and entry.order is order and entry.since == order.state_since:
                price, size = entry.price, entry.size
                price_units = known_units.get(price)
                if price_units is None:
                    price_units = grid.price_units(price)
                size_lots = known_lots.get(size)
                if size_lots is None:
                    size_lots = grid.size_lots(size)
                if price_units is None or size_lots is None:
                    on_grid = False
                    price_units = size_lots = 0
                price_values.append(price)
                size_values.append(size)
                prices.append(price_units)
                sizes.append(size_lots)
                continue
        known = terms.get(order)
        filled = order.filled
        if (
            known is not None
            and known[0] is price
            and known[1] is order.size
            and known[2] is filled
        ):
            fresh[order] = known
            price_values.append(price)
            size_values.append(known[3])
            prices.append(known[4])
            sizes.append(known[5])
            continue
        if known is not None and known[1] is order.size and known[2] is filled:
            size, size_lots = known[3], known[5]  # only the price moved (a modify)
        else:
            size = order.size if not filled else order.remaining
            size_lots = known_lots.get(size)
            if size_lots is None:
                size_lots = grid.size_lots(size)
        price_units = known_units.get(price)
        if price_units is None:
            price_units = grid.price_units(price)
        if price_units is None or size_lots is None:
            on_grid = False
            price_units = size_lots = 0
        else:
            fresh[order] = (price, order.size, filled, size, price_units, size_lots)
        price_values.append(price)
        size_values.append(size)
        prices.append(price_units)
        sizes.append(size_lots)
    if not on_grid:
        _rescale(grid, view)
    return view

def _rescale(grid: Grid, view: SideView) -> None:
    """Put a side with off-grid terms on the least common scale that holds them."""
    price_terms = [exact(p) for p in view.price_values]
    size_terms = [exact(s) for s in view.size_values]
    price_k = max([grid.max_decimals] + [k for _, k in price_terms])
    size_k = max([grid.sz_decimals] + [k for _, k in size_terms])
    view.prices = [n * 10 ** (price_k - k) for n, k in price_terms]
    view.sizes = [n * 10 ** (size_k - k) for n, k in size_terms]
    units, lots = view.targets
    price_factor = 10 ** (price_k - grid.max_decimals)
    size_factor = 10 ** (size_k - grid.sz_decimals)
    view.targets = ([u * price_factor for u in units], [n * size_factor for n in lots])
