"""Hyperliquid price and size rules: rounding direction, ticks, truncation, notional,
and the integer grid of prices and sizes that gives the same answers."""

from __future__ import annotations

import random
import re
from decimal import Decimal, InvalidOperation

import pytest

from lifecycle.core.order import Side
from lifecycle.policy.pricing import (
    AssetRules,
    is_valid_price,
    is_valid_size,
    meets_min_notional,
    notional,
    round_price,
    tick_at,
    truncate_size,
)
from lifecycle.policy.ticks import Grid, exact, threshold

D = Decimal


# --- AssetRules -----------------------------------------------------------------------


def test_perp_rules_sz_decimals_2_allow_4_price_decimals() -> None:
    rules = AssetRules.perp(2)
    assert (rules.sz_decimals, rules.max_decimals) == (2, 4)


def test_spot_rules_sz_decimals_2_allow_6_price_decimals() -> None:
    rules = AssetRules.spot(2)
    assert (rules.sz_decimals, rules.max_decimals) == (2, 6)


@pytest.mark.parametrize("sz_decimals", [-1, 7])
def test_perp_rules_sz_decimals_out_of_range_raise_naming_field(sz_decimals: int) -> None:
    with pytest.raises(ValueError, match="sz_decimals"):
        AssetRules.perp(sz_decimals)


@pytest.mark.parametrize("sz_decimals", [True, 1.0, "2"])
def test_perp_rules_sz_decimals_not_an_integer_raise_naming_field(sz_decimals: object) -> None:
    with pytest.raises(ValueError, match="sz_decimals must be an integer"):
        AssetRules.perp(sz_decimals)  # type: ignore[arg-type]


def test_asset_rules_negative_max_decimals_raise_naming_field() -> None:
    with pytest.raises(ValueError, match="max_decimals must be >= 0, got -1"):
        AssetRules(sz_decimals=0, max_decimals=-1)


def test_asset_rules_are_frozen() -> None:
    rules = AssetRules.perp(0)
    with pytest.raises(AttributeError):
        rules.sz_decimals = 3  # type: ignore[misc]


# --- tick_at --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sz_decimals", "price", "tick"),
    [
        (0, "1234.5", "0.1"),  # 5 significant figures
        (0, "12345", "1"),
        (0, "123456", "1"),  # integers are always allowed
        (0, "100", "0.01"),  # a decade boundary takes the step of the decade above
        (0, "99.99", "0.001"),
        (0, "0.001234", "0.000001"),  # capped by 6 - sz_decimals decimals
        (3, "1.2", "0.001"),
        (5, "0.5", "0.1"),
        (6, "0.5", "1"),
    ],
)
def test_tick_at_price_is_smallest_step_of_its_decade(
    sz_decimals: int, price: str, tick: str
) -> None:
    assert tick_at(D(price), AssetRules.perp(sz_decimals)) == D(tick)


@pytest.mark.parametrize("price", ["0", "-1", "NaN", "Infinity"])
def test_tick_at_non_positive_price_raises_naming_price(price: str) -> None:
    with pytest.raises(ValueError, match="price must be a finite number > 0"):
        tick_at(D(price), AssetRules.perp(0))


# --- round_price ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sz_decimals", "price", "bid", "ask"),
    [
        (0, "1234.56", "1234.5", "1234.6"),
        (0, "12345.6", "12345", "12346"),
        (0, "123456.7", "123456", "123457"),
        (0, "0.0012345", "0.001234", "0.001235"),
        (1, "0.012345", "0.01234", "0.01235"),
        (2, "100.004", "100", "100.01"),
        (0, "99999.5", "99999", "100000"),  # rounding up carries into the next decade
        (0, "9.99995", "9.9999", "10"),
        (0, "1234.5", "1234.5", "1234.5"),  # already valid: unchanged
    ],
)
def test_round_price_bid_rounds_down_and_ask_up(
    sz_decimals: int, price: str, bid: str, ask: str
) -> None:
    rules = AssetRules.perp(sz_decimals)
    assert round_price(D(price), rules, Side.BUY) == D(bid)
    assert round_price(D(price), rules, Side.SELL) == D(ask)


def test_round_price_grid_results_are_valid_and_never_more_aggressive() -> None:
    for sz_decimals in (0, 2, 5):
        rules = AssetRules.perp(sz_decimals)
        for mantissa in range(1001, 9999, 397):
            for exponent in range(-7, 4):
                price = D(mantissa).scaleb(exponent) + D("0.000000013")
                smallest = D(1).scaleb(-rules.max_decimals)
                bid = round_price(price, rules, Side.BUY) if price >= smallest else None
                ask = round_price(price, rules, Side.SELL)
                assert is_valid_price(ask, rules), (price, ask)
                assert ask >= price
                if bid is not None:
                    assert is_valid_price(bid, rules), (price, bid)
                    assert bid <= price


def test_round_price_strips_trailing_zeros() -> None:
    rounded = round_price(D("100.000"), AssetRules.perp(0), Side.BUY)
    assert str(rounded) == "100"
    assert str(round_price(D("0.10"), AssetRules.perp(0), Side.SELL)) == "0.1"


@pytest.mark.parametrize("price", ["0", "-5", "NaN", "-Infinity"])
def test_round_price_non_positive_price_raises_naming_price(price: str) -> None:
    with pytest.raises(ValueError, match="price must be a finite number > 0"):
        round_price(D(price), AssetRules.perp(0), Side.BUY)


def test_round_price_float_price_raises_naming_price() -> None:
    with pytest.raises(ValueError, match="price must be a Decimal"):
        round_price(100.5, AssetRules.perp(0), Side.BUY)  # type: ignore[arg-type]


def test_round_price_bid_below_smallest_price_raises() -> None:
    rules = AssetRules.perp(6)  # integer prices only
    with pytest.raises(ValueError, match="rounds down to 0"):
        round_price(D("0.5"), rules, Side.BUY)
    assert round_price(D("0.5"), rules, Side.SELL) == D("1")


# --- is_valid_price -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rules", "price", "valid"),
    [
        (AssetRules.perp(0), "1234.5", True),
        (AssetRules.perp(0), "1234.56", False),
        (AssetRules.perp(0), "0.001234", True),
        (AssetRules.perp(0), "0.0012345", False),
        (AssetRules.perp(1), "0.01234", True),
        (AssetRules.perp(1), "0.012345", False),
        (AssetRules.perp(0), "123456", True),
        (AssetRules.perp(0), "12345.6", False),
        (AssetRules.spot(0), "0.0001234", True),
        (AssetRules.spot(1), "0.0001234", True),
        (AssetRules.spot(3), "0.0001234", False),
        (AssetRules.perp(0), "0", False),
        (AssetRules.perp(0), "-1", False),
    ],
)
def test_is_valid_price_documented_examples_match(
    rules: AssetRules, price: str, valid: bool
) -> None:
    assert is_valid_price(D(price), rules) is valid


# --- sizes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sz_decimals", "size", "truncated"),
    [
        (3, "1.0009", "1"),
        (2, "123.456789", "123.45"),
        (0, "7.99", "7"),
        (4, "1.0000", "1"),
        (2, "0.009", "0"),  # below one lot
    ],
)
def test_truncate_size_drops_extra_decimals_toward_zero(
    sz_decimals: int, size: str, truncated: str
) -> None:
    result = truncate_size(D(size), AssetRules.perp(sz_decimals))
    assert result == D(truncated)
    assert str(result) == truncated


@pytest.mark.parametrize("size", ["0", "-1", "NaN"])
def test_truncate_size_non_positive_size_raises_naming_size(size: str) -> None:
    with pytest.raises(ValueError, match="size must be a finite number > 0"):
        truncate_size(D(size), AssetRules.perp(2))


@pytest.mark.parametrize(
    ("size", "valid"), [("1.001", True), ("1.0001", False), ("0", False), ("-1", False)]
)
def test_is_valid_size_sz_decimals_3_examples_match(size: str, valid: bool) -> None:
    assert is_valid_size(D(size), AssetRules.perp(3)) is valid


# --- notional -------------------------------------------------------------------------


def test_notional_is_price_times_size() -> None:
    assert notional(D("100.5"), D("0.2")) == D("20.1")


@pytest.mark.parametrize(("size", "ok"), [("0.1", True), ("0.0999", False), ("0.2", True)])
def test_meets_min_notional_at_or_above_minimum_passes(size: str, ok: bool) -> None:
    assert meets_min_notional(D("100"), D(size), D("10")) is ok


def test_meets_min_notional_negative_minimum_raises_naming_field() -> None:
    with pytest.raises(ValueError, match="min_notional_usd"):
        meets_min_notional(D("100"), D("1"), D("-10"))


def test_notional_negative_size_raises_naming_size() -> None:
    with pytest.raises(ValueError, match="size must be a finite number >= 0"):
        notional(D("100"), D("-1"))


# --- the integer grid (lifecycle.policy.ticks) --------------------------------------------


def _samples(seed: int, count: int) -> list[Decimal]:
    """Prices and sizes across the magnitudes an asset may have, many decimals deep."""
    rng = random.Random(seed)
    out = [D("0.00001234"), D("0.1"), D("1"), D("9.99995"), D("99999.5"), D("100000"), D("1E+3")]
    for _ in range(count):
        digits = rng.randint(1, 12)
        exponent = rng.randint(-10, 6)
        out.append(D(rng.randint(1, 10**digits - 1)).scaleb(exponent - digits + 1))
    return out


@pytest.mark.parametrize("sz_decimals", range(6))
@pytest.mark.parametrize("spot", [False, True])
def test_grid_rounds_and_truncates_as_the_decimal_functions(sz_decimals: int, spot: bool) -> None:
    rules = AssetRules.spot(sz_decimals) if spot else AssetRules.perp(sz_decimals)
    grid = Grid(rules)
    unit = D(1).scaleb(-rules.max_decimals)
    for value in _samples(sz_decimals * 2 + spot, 300):
        for side in (Side.BUY, Side.SELL):
            try:
                expected = round_price(value, rules, side)
            except ValueError as exc:
                with pytest.raises(ValueError, match=re.escape(str(exc))):
                    grid.round_price(value, side)
                continue
            units = grid.round_price(value, side)
            assert D(units) * unit == expected
            shown = grid.price(units)
            assert (repr(shown), shown.as_tuple()) == (repr(expected), expected.as_tuple())
            assert grid.price_units(expected) == units
        truncated = truncate_size(value, rules)
        lots = grid.truncate_size(value)
        shown = grid.size(lots)
        assert (repr(shown), shown.as_tuple()) == (repr(truncated), truncated.as_tuple())


def test_grid_reads_off_grid_values_as_none_and_exact_gives_the_least_scale() -> None:
    grid = Grid(AssetRules.perp(2))  # prices to 4 decimals, sizes to 2
    assert grid.price_units(D("100.0001")) == 1_000_001
    assert grid.price_units(D("100.00001")) is None
    assert grid.size_lots(D("0.125")) is None
    assert exact(D("100.00001")) == (10_000_001, 5)
    assert exact(D("1E+3")) == (1000, 0)
    assert exact(D("0.0125")) == (125, 4)


@pytest.mark.parametrize(
    ("value", "per", "expected"),
    [(22.5, 10_000, (45, 20_000)), (0.1, 100, (1, 1_000)), (3, 10_000, (3, 10_000)),
     (float("inf"), 1, (1, 0)), (float("-inf"), 1, (-1, 0))],
)
def test_threshold_reads_the_shortest_repr_exactly(
    value: float, per: int, expected: tuple[int, int]
) -> None:
    assert threshold(value, per) == expected


def test_threshold_nan_raises_invalid_operation_when_compared() -> None:
    num, den = threshold(float("nan"), 10_000)
    with pytest.raises(InvalidOperation):
        assert 1 * den <= num * 100
