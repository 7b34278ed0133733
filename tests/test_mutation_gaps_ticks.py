"""The integer grid against the Decimal price rules, at their edges.

:class:`lifecycle.policy.ticks.Grid` promises the results and the errors of
:mod:`lifecycle.policy.pricing`, in units and lots, whatever the input: decade
edges, values past the fast path and past the decimal context's 28 digits,
zero, negatives, NaN, infinities and non-Decimal values. These tests compare
the two over seeded samples and pin the caches the grid exposes for its
callers to read, plus the pricing and ladder edges next to them.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import partial
from typing import Any

import pytest

from lifecycle.core.order import Side
from lifecycle.policy.ladder import Ladder, Level
from lifecycle.policy.pricing import (
    AssetRules,
    is_valid_price,
    is_valid_size,
    notional,
    round_price,
    tick_at,
    truncate_size,
)
from lifecycle.policy.ticks import NOT_A_NUMBER, Grid, exact, threshold

D = Decimal

#: Rule sets from integer-only prices to more decimals than the quanta table holds.
RULES = [
    AssetRules.perp(0),
    AssetRules.perp(3),
    AssetRules.perp(6),
    AssetRules.spot(0),
    AssetRules.spot(8),
    AssetRules(sz_decimals=14, max_decimals=16),
]

#: 28 nines: the largest integer the default decimal context holds.
NINES = "9" * 28


def _name(rules: AssetRules) -> str:
    return f"sz{rules.sz_decimals}-md{rules.max_decimals}"


def _edges() -> Iterator[Any]:
    """Decade edges and their neighbours, the fast-path and 28-digit limits, bad values."""
    for k in range(-20, 32):
        edge = D(1).scaleb(k)
        yield edge
        yield D(10**k) if k >= 0 else D("0." + "0" * (-k - 1) + "1")  # plain form
        yield D(99999).scaleb(k - 5)  # 5 significant nines just below the edge
        yield D(999995).scaleb(k - 6)  # rounds up across the edge
        yield D(NINES).scaleb(k - 28)  # 28 significant nines just below the edge
        yield D(100001).scaleb(k - 5)
    yield from (D("123456789012345678901.5"), D("1234567890123456789012.5"))  # adjusted 20, 21
    yield from (D(NINES), D(NINES + ".5"), D(NINES + ".9"), D("1" + "0" * 27 + ".5"))
    yield from (D("1E+20"), D("1E+21"), D("1E+28"), D("1E+30"), D("-1E+30"))
    yield from (D("1000.000"), D("0.00001234"), D("99999.5"), D("1.23456789012345678901234567890"))
    yield from (D(0), D("-0"), D("0E-9"), D("-1"), D("-0.000001"), D("-5E+25"))
    yield from (D("NaN"), D("-NaN"), D("Infinity"), D("-Infinity"))
    yield from (1.5, 2, None, "1.5")


def _samples(seed: int) -> list[Any]:
    rng = random.Random(seed)
    out = list(_edges())
    for _ in range(400):
        digits = rng.randint(1, 30)
        exponent = rng.randint(-22, 30)
        sign = -1 if rng.random() < 0.05 else 1
        out.append(D(sign * rng.randint(1, 10**digits - 1)).scaleb(exponent - digits + 1))
    return out


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gives: its value, or its error's type (and message for a ValueError)."""
    try:
        return ("value", call())
    except ValueError as exc:
        return ("ValueError", str(exc))
    except (ArithmeticError, TypeError, AttributeError) as exc:
        return (type(exc).__name__, None)


def _units(value: Decimal, scale: int) -> int:
    ratio = Fraction(value) * scale
    assert ratio.denominator == 1
    return ratio.numerator


# The grid rounds every price and truncates every size as pricing does, errors included,
# and turns its units and lots back into pricing's very Decimal values.
@pytest.mark.parametrize("rules", RULES, ids=_name)
def test_grid_gives_what_pricing_gives_on_every_edge(rules: AssetRules) -> None:
    unit_scale, lot_scale = 10**rules.max_decimals, 10**rules.sz_decimals
    for value in _samples(rules.max_decimals * 31 + rules.sz_decimals):
        # A fresh grid for each value: its caches must not answer for another key.
        grid = Grid(rules)
        for side in (Side.BUY, Side.SELL):
            kind, expected = _outcome(partial(round_price, value, rules, side))
            got = _outcome(partial(grid.round_price, value, side))
            if kind != "value":
                assert got == (kind, expected), (value, side)
                continue
            units = _units(expected, unit_scale)
            assert got == ("value", units), (value, side)
            assert grid.round_price(value, side) == units  # again, from the cache
            shown = grid.price(units)
            assert (repr(shown), shown.as_tuple()) == (repr(expected), expected.as_tuple())
        kind, truncated = _outcome(partial(truncate_size, value, rules))
        got = _outcome(partial(grid.truncate_size, value))
        if kind != "value":
            assert got == (kind, truncated), value
            continue
        lots = _units(truncated, lot_scale)
        assert got == ("value", lots), value
        assert grid.truncate_size(value) == lots
        shown = grid.size(lots)
        assert (repr(shown), shown.as_tuple()) == (repr(truncated), truncated.as_tuple())


# The caches a caller reads before calling the grid hold, for each key, the grid's answer.
@pytest.mark.parametrize("rules", RULES[:3], ids=_name)
def test_grid_caches_hold_the_answer_for_their_own_key(rules: AssetRules) -> None:
    grid = Grid(rules)
    asked: dict[tuple[Side, Decimal], int] = {}
    truncated: dict[Decimal, int] = {}
    for value in _samples(7):
        if not (isinstance(value, Decimal) and value.is_finite() and 0 < value < D("1E+19")):
            continue
        for side in (Side.BUY, Side.SELL):
            with contextlib.suppress(ValueError):
                asked[side, value] = grid.round_price(value, side)
        truncated[value] = grid.truncate_size(value)
    assert asked and truncated
    for (side, value), units in asked.items():
        assert grid.rounded(side)[value] == units
        price = grid.price(units)
        assert grid.known_units[price] == units
    for value, lots in truncated.items():
        assert grid.truncated[value] == lots
        size = grid.size(lots)
        assert grid.known_lots[size] == lots
    assert None not in grid.known_units and None not in grid.known_lots


# A price or size read from an order is remembered under that value, in units or lots.
def test_grid_remembers_prices_and_sizes_it_has_read() -> None:
    grid = Grid(AssetRules.perp(2))  # prices to 4 decimals, sizes to 2
    assert grid.price_units(D("100.05")) == 1_000_500
    assert grid.known_units == {D("100.05"): 1_000_500}
    assert grid.size_lots(D("1.5")) == 150
    assert grid.known_lots == {D("1.5"): 150}
    assert grid.price(7) == D("0.0007") and grid.known_units[D("0.0007")] == 7
    assert grid.size(3) == D("0.03") and grid.known_lots[D("0.03")] == 3


# Sizes at or below zero, and non-finite sizes, are refused by the grid as by pricing.
@pytest.mark.parametrize("size", ["0", "-0", "-1", "-0.5", "NaN", "Infinity"])
def test_grid_truncate_size_refuses_non_positive_sizes(size: str) -> None:
    with pytest.raises(ValueError, match="size must be a finite number > 0"):
        Grid(AssetRules.perp(2)).truncate_size(D(size))


# Non-finite and non-Decimal prices are refused by the grid as by pricing.
@pytest.mark.parametrize("price", [D("NaN"), D("Infinity"), 1.5])
def test_grid_round_price_refuses_non_finite_prices(price: Any) -> None:
    for side in (Side.BUY, Side.SELL):
        with pytest.raises(ValueError, match="price must be a"):
            Grid(AssetRules.perp(2)).round_price(price, side)


# A bid past the fast path is still rounded down, an ask up.
def test_grid_rounds_huge_bids_down_and_asks_up() -> None:
    grid = Grid(AssetRules.perp(6))  # integer prices only: one unit is 1
    price = D("1234567890123456789012.5")
    assert grid.round_price(price, Side.BUY) == 1234567890123456789012
    assert grid.round_price(price, Side.SELL) == 1234567890123456789013


# A price whose rounding needs more than 28 digits raises as pricing does.
def test_grid_round_price_past_the_context_raises_invalid_operation() -> None:
    for side in (Side.BUY, Side.SELL):
        with pytest.raises(InvalidOperation):
            Grid(AssetRules.perp(0)).round_price(D("1E+28"), side)


# Rules with more decimals than the precomputed steps still round and truncate.
def test_pricing_handles_more_decimals_than_its_step_table() -> None:
    rules = AssetRules(sz_decimals=14, max_decimals=16)
    assert tick_at(D("1E-15"), rules) == D("1E-16")
    assert round_price(D("0.00000000000000123456"), rules, Side.BUY) == D("0.0000000000000012")
    assert truncate_size(D("0.123456789012345678"), rules) == D("0.12345678901234")
    assert is_valid_size(D("0.00000000000001"), rules)
    assert not is_valid_size(D("0.000000000000001"), rules)
    assert is_valid_price(D("1E-16"), rules)


# Validity near the 28-digit limit is a plain answer: truncation never rounds up past it.
def test_validity_checks_just_below_the_context_limit_answer_false() -> None:
    value = D(NINES + ".9")
    assert is_valid_price(value, AssetRules.perp(0)) is False
    assert is_valid_size(value, AssetRules.perp(0)) is False


# A bid below the smallest price names that price in its error.
def test_round_price_bid_below_smallest_names_the_smallest_price() -> None:
    with pytest.raises(ValueError, match=r"smallest valid price is 0\.000001\)"):
        round_price(D("0.0000001"), AssetRules.perp(0), Side.BUY)
    with pytest.raises(ValueError, match=r"smallest valid price is 1E-8\)"):
        round_price(D("1E-9"), AssetRules.spot(0), Side.BUY)


# A non-Decimal argument is refused naming the field and the type it had.
def test_pricing_names_field_and_type_of_a_non_decimal() -> None:
    with pytest.raises(ValueError, match=r"^price must be a Decimal, got float 1\.5$"):
        notional(1.5, D(1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^size must be a Decimal, got int 2$"):
        notional(D(1), 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^price must be a Decimal, got float 1\.5$"):
        round_price(1.5, AssetRules.perp(0), Side.BUY)  # type: ignore[arg-type]


# A level whose size is not a Decimal is refused naming the size.
@pytest.mark.parametrize("size", [1.5, 2, "1"])
def test_level_non_decimal_size_raises_naming_size(size: Any) -> None:
    with pytest.raises(ValueError, match=r"Level\.size must be a finite Decimal > 0"):
        Level(price=D(1), size=size)


# Levels of at most one unit are valid; asks must rise.
def test_levels_below_one_are_valid_and_asks_must_not_fall() -> None:
    level = Level(price=D("0.5"), size=D("0.25"))
    assert (level.price, level.size) == (D("0.5"), D("0.25"))
    with pytest.raises(ValueError, match=r"ladder\.asks must be best level first"):
        Ladder(asks=(Level(price=D(2), size=D(1)), Level(price=D(1), size=D(1))))


# exact() stays exact for scales past what a float can hold.
def test_exact_handles_scales_past_float_range() -> None:
    assert exact(D("1E-500")) == (1, 500)
    assert exact(D("3E-400")) == (3, 400)
    assert exact(D(2**70).scaleb(-70)) == (2**70, 70)


# A NaN threshold is the NaN numerator over one, and raises only when compared.
def test_threshold_nan_is_the_nan_numerator_over_one() -> None:
    num, den = threshold(float("nan"), 10_000)
    assert num is NOT_A_NUMBER and den == 1


# A size whose truncation needs more than 28 digits raises as pricing does, even
# with many size decimals.
def test_grid_truncate_size_past_the_context_raises_invalid_operation() -> None:
    rules = AssetRules.spot(8)
    with pytest.raises(InvalidOperation):
        truncate_size(D("1E+20"), rules)
    with pytest.raises(InvalidOperation):
        Grid(rules).truncate_size(D("1E+20"))
    assert Grid(rules).truncate_size(D("9.5E+19")) == 95 * 10**26
