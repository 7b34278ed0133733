"""Hyperliquid price and size rules, as pure functions on :class:`~decimal.Decimal`.

Theory of operation
-------------------
Hyperliquid refuses a price with more than 5 significant figures or more than
``max_decimals`` decimal places, where ``max_decimals`` is ``6 - szDecimals``
for perps (HIP-3 builder perps included) and ``8 - szDecimals`` for spot.
Integer prices are always allowed, whatever their number of significant
figures. Sizes may have at most ``szDecimals`` decimal places, and an order
worth less than the minimum notional ($10 on perps) is refused.

Within one decade ``[10**k, 10**(k+1))`` these rules allow exactly the
multiples of one step, the *tick* at that price::

    tick = 10 ** max(min(k - 4, 0), -max_decimals)

(``k - 4`` keeps 5 significant figures; ``0`` is the integer rule that takes
over from ``10**4`` up; ``-max_decimals`` caps the decimal places.) Rounding a
price is therefore a single ``quantize`` to the tick of its decade. Rounding
up may carry into the next decade (``99999.5 -> 100000``), whose tick is a
multiple of the lower one, so the result is always valid.

Direction matters for a quote: a bid is rounded down and an ask up, so
rounding never makes an order more aggressive than its caller asked for.
Sizes are truncated (never rounded up) for the same reason: a quote never
grows.

Everything here is pure and raises :class:`ValueError` naming the bad field
for bad input; nothing reads a clock or holds state.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Final

from lifecycle.core.order import Side

__all__ = [
    "MAX_SIGNIFICANT_FIGURES",
    "PERP_MAX_DECIMALS",
    "SPOT_MAX_DECIMALS",
    "AssetRules",
    "is_valid_price",
    "is_valid_size",
    "meets_min_notional",
    "notional",
    "round_price",
    "tick_at",
    "truncate_size",
]

#: Significant figures a non-integer price may have.
MAX_SIGNIFICANT_FIGURES: Final = 5
#: ``MAX_DECIMALS`` of the price rule for perps: a perp price has at most
#: ``6 - szDecimals`` decimal places.
PERP_MAX_DECIMALS: Final = 6
#: ``MAX_DECIMALS`` of the price rule for spot pairs.
SPOT_MAX_DECIMALS: Final = 8

_ONE = Decimal(1)
#: ``10 ** e`` for the exponents prices and sizes use; others are computed.
_QUANTA: Final = {e: _ONE.scaleb(e) for e in range(-12, 13)}
_BUY: Final = Side.BUY
# From 10**4 up a 5-significant-figure step is >= 1 and the integer rule applies.
_INTEGER_EXPONENT = MAX_SIGNIFICANT_FIGURES - 1


# Not a `record`: the rules are built once per asset, so a validating
# constructor (__post_init__, which `record`'s fast __init__ skips) costs nothing.
@dataclass(frozen=True, kw_only=True, slots=True)
class AssetRules:
    """The price and size rules of one asset.

    Build them with :meth:`perp` or :meth:`spot` from the asset's ``szDecimals``
    in the exchange's meta tables (classify the asset from those tables, not
    from its id).

    Attributes:
        sz_decimals: Decimal places a size may have (``szDecimals``).
        max_decimals: Decimal places a price may have (``6 - szDecimals`` for
            perps, ``8 - szDecimals`` for spot).

    Raises:
        ValueError: A field is not an integer >= 0 (the message names it).
    """

    sz_decimals: int
    max_decimals: int

    def __post_init__(self) -> None:
        _check_decimals("sz_decimals", self.sz_decimals)
        _check_decimals("max_decimals", self.max_decimals)

    @classmethod
    def perp(cls, sz_decimals: int) -> AssetRules:
        """Rules of a perp (main dex or HIP-3 builder dex) with ``szDecimals = sz_decimals``.

        Raises:
            ValueError: ``sz_decimals`` is not an integer in ``[0, 6]``.
        """
        return cls._with_base(sz_decimals, PERP_MAX_DECIMALS)

    @classmethod
    def spot(cls, sz_decimals: int) -> AssetRules:
        """Rules of a spot pair whose base token has ``szDecimals = sz_decimals``.

        Raises:
            ValueError: ``sz_decimals`` is not an integer in ``[0, 8]``.
        """
        return cls._with_base(sz_decimals, SPOT_MAX_DECIMALS)

    @classmethod
    def _with_base(cls, sz_decimals: int, base: int) -> AssetRules:
        _check_decimals("sz_decimals", sz_decimals)
        if sz_decimals > base:
            raise ValueError(f"sz_decimals must be <= {base}, got {sz_decimals}")
        return cls(sz_decimals=sz_decimals, max_decimals=base - sz_decimals)


def tick_at(price: Decimal, rules: AssetRules) -> Decimal:
    """Return the smallest price step allowed at ``price``.

    It is the step between the valid prices of ``price``'s decade: at 1234.5
    on a perp with ``sz_decimals`` 0 it is 0.1, at 12345 it is 1. On a decade
    boundary it is the step of the decade above (at 100: 0.01, not 0.001).

    Raises:
        ValueError: ``price`` is not a finite number > 0.
    """
    _check_positive("price", price)
    return _quantum(_tick_exponent(price, rules))


def round_price(price: Decimal, rules: AssetRules, side: Side) -> Decimal:
    """Round ``price`` to a valid price, never more aggressively than asked.

    A bid (``Side.BUY``) is rounded down, an ask (``Side.SELL``) up. The
    result has no trailing zeros (``100``, not ``100.00``).

    Raises:
        ValueError: ``price`` is not a finite number > 0, or a bid rounds down
            to 0 (it is below the smallest valid price).
    """
    _check_positive("price", price)
    rounding = ROUND_FLOOR if side is _BUY else ROUND_CEILING
    rounded = price.quantize(_quantum(_tick_exponent(price, rules)), rounding)
    if rounded <= 0:
        smallest = _ONE.scaleb(-rules.max_decimals)
        raise ValueError(f"price {price} rounds down to 0 (the smallest valid price is {smallest})")
    return _plain(rounded)


def is_valid_price(price: Decimal, rules: AssetRules) -> bool:
    """Return whether the exchange accepts ``price`` as it is (no rounding needed)."""
    if not (price.is_finite() and price > 0):
        return False
    return price == price.quantize(_quantum(_tick_exponent(price, rules)), ROUND_FLOOR)


def truncate_size(size: Decimal, rules: AssetRules) -> Decimal:
    """Truncate ``size`` to ``rules.sz_decimals`` decimal places (toward zero).

    The result may be 0 when ``size`` is below one lot; :func:`meets_min_notional`
    then refuses it. It has no trailing zeros.

    Raises:
        ValueError: ``size`` is not a finite number > 0.
    """
    _check_positive("size", size)
    return _plain(size.quantize(_quantum(-rules.sz_decimals), ROUND_DOWN))


def is_valid_size(size: Decimal, rules: AssetRules) -> bool:
    """Return whether ``size`` is > 0 and has at most ``rules.sz_decimals`` decimals."""
    if not (size.is_finite() and size > 0):
        return False
    return size == size.quantize(_quantum(-rules.sz_decimals), ROUND_DOWN)


def notional(price: Decimal, size: Decimal) -> Decimal:
    """Return what an order is worth in quote currency: ``price * size``.

    Raises:
        ValueError: ``price`` or ``size`` is not a finite number >= 0.
    """
    _check_non_negative("price", price)
    _check_non_negative("size", size)
    return price * size


def meets_min_notional(price: Decimal, size: Decimal, min_notional_usd: Decimal) -> bool:
    """Return whether an order of ``size`` at ``price`` is worth at least ``min_notional_usd``.

    The exchange refuses orders *below* the minimum, so an order worth exactly
    the minimum passes.

    Raises:
        ValueError: An argument is not a finite number >= 0 (the message names it).
    """
    _check_non_negative("min_notional_usd", min_notional_usd)
    return notional(price, size) >= min_notional_usd


# --- internals -----------------------------------------------------------------------


def _tick_exponent(price: Decimal, rules: AssetRules) -> int:
    # adjusted() is the exponent of the most significant digit: 2 for 123.45.
    # Then at most 0 (integers) and at least -max_decimals.
    exponent = price.adjusted() - _INTEGER_EXPONENT
    if exponent > 0:
        exponent = 0
    finest = -rules.max_decimals
    return exponent if exponent > finest else finest


def _quantum(exponent: int) -> Decimal:
    """``10 ** exponent`` as a Decimal quantum (``Decimal('0.01')`` for -2)."""
    quantum = _QUANTA.get(exponent)
    return _ONE.scaleb(exponent) if quantum is None else quantum


def _plain(value: Decimal) -> Decimal:
    """``value`` without trailing zeros and never in exponent form (``100``, not ``1E+2``)."""
    if value == value.to_integral_value():
        return value.quantize(_ONE)
    return value.normalize()


def _check_decimals(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def _check_positive(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise ValueError(f"{name} must be a Decimal, got {type(value).__name__} {value!r}")
    if not (value.is_finite() and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")


def _check_non_negative(name: str, value: object) -> None:
    if not isinstance(value, Decimal):
        raise ValueError(f"{name} must be a Decimal, got {type(value).__name__} {value!r}")
    if not (value.is_finite() and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
