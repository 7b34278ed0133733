"""Hyperliquid's price and size rules, in Decimal.

Prices have at most 5 significant figures and at most ``max_decimals -
sz_decimals`` decimal places (``max_decimals`` is 6 for perps); an integer
price is always valid, however many figures it has. Sizes have at most
``sz_decimals`` decimal places. The exchange rejects anything else
(``tickRejected`` for prices), so generated prices are rounded here first.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

__all__ = ["PERP_MAX_DECIMALS", "price_is_valid", "round_price", "round_size", "size_is_valid"]

#: Decimal places allowed in perp prices before subtracting ``sz_decimals``.
PERP_MAX_DECIMALS = 6
_SIG_FIGS = 5


def round_price(
    price: Decimal,
    sz_decimals: int,
    *,
    max_decimals: int = PERP_MAX_DECIMALS,
    rounding: str = ROUND_HALF_EVEN,
) -> Decimal:
    """Round ``price`` to the nearest valid price (5 significant figures).

    Prices of 100000 and more become integers (the venue's own recipe), since
    integer prices are always valid.

    Raises:
        ValueError: ``price`` is not a finite number > 0.
    """
    if not (price.is_finite() and price > 0):
        raise ValueError(f"price must be a finite number > 0, got {price}")
    if price.adjusted() >= _SIG_FIGS:
        return price.quantize(Decimal(1), rounding=rounding)
    exponent = max(price.adjusted() - (_SIG_FIGS - 1), -(max_decimals - sz_decimals))
    rounded = price.quantize(Decimal(1).scaleb(exponent), rounding=rounding)
    if rounded.adjusted() >= _SIG_FIGS:  # 99999.5 rounds up to 100000
        return rounded.quantize(Decimal(1), rounding=rounding)
    return rounded


def price_is_valid(
    price: Decimal, sz_decimals: int, *, max_decimals: int = PERP_MAX_DECIMALS
) -> bool:
    """Return whether the exchange accepts ``price`` as it is."""
    if not (price.is_finite() and price > 0):
        return False
    if price == price.to_integral_value():
        return True
    _, digits, exponent = price.normalize().as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    return len(digits) <= _SIG_FIGS and -exponent <= max_decimals - sz_decimals


def round_size(size: Decimal, sz_decimals: int) -> Decimal:
    """Round ``size`` down to ``sz_decimals`` places (never above what was asked)."""
    return size.quantize(Decimal(1).scaleb(-sz_decimals), rounding="ROUND_DOWN")


def size_is_valid(size: Decimal, sz_decimals: int) -> bool:
    """Return whether ``size`` is > 0 with at most ``sz_decimals`` decimal places."""
    return size.is_finite() and size > 0 and size == round_size(size, sz_decimals)
