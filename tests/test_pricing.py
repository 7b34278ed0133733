"""Hyperliquid price and size rules: rounding direction, ticks, truncation, notional."""

from __future__ import annotations

from decimal import Decimal

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
