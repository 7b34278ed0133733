"""Decimal prices and sizes to Hyperliquid wire strings, refusing any rounding.

Theory of operation
-------------------
Numbers in signed actions travel as strings, and the string is hashed: ``"100"``
and ``"100.0"`` sign different bytes, and the exchange recomputes the hash from
its own canonical form, so only that form verifies. The canonical form (the
protocol reference, section 4.3) has at most 8 decimal places, no trailing
zeros, no trailing dot, no exponent, and ``"0"`` for zero of either sign.

:func:`to_wire` builds that string from the decimal's digits and exponent
directly, so no decimal context (precision, rounding mode) can change a digit.
A value that needs more than 8 decimals is refused with an error that names
it, where the official client's float conversion would raise too and a
lenient one would silently round (and sign a different order than asked).

:func:`price_to_wire` and :func:`size_to_wire` first check the asset's tick
and lot rules (:class:`~lifecycle.policy.pricing.AssetRules`: a price has at
most 5 significant figures and ``6 - szDecimals`` decimals on perps, ``8 -
szDecimals`` on spot, integers always allowed; a size at most ``szDecimals``
decimals) and refuse a value the exchange would refuse, naming the nearest
valid values. Rounding is the caller's decision, made with
:func:`~lifecycle.policy.pricing.round_price` and
:func:`~lifecycle.policy.pricing.truncate_size` before the wire.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from lifecycle.core.order import Side
from lifecycle.policy.pricing import (
    AssetRules,
    is_valid_price,
    is_valid_size,
    round_price,
    truncate_size,
)

__all__ = [
    "WIRE_MAX_DECIMALS",
    "WireNumberError",
    "max_price_decimals",
    "price_to_wire",
    "size_to_wire",
    "to_scaled_int",
    "to_wire",
]

#: Decimal places a wire number may carry.
WIRE_MAX_DECIMALS: Final = 8


class WireNumberError(ValueError):
    """A number cannot go on the wire as it is; the message names the field and the value."""


def to_wire(value: Decimal | int, *, field: str = "value") -> str:
    """Return the canonical wire string of ``value`` (``Decimal("1670.10")`` -> ``"1670.1"``).

    Args:
        value: A finite Decimal (or int) with at most 8 significant decimal places.
        field: The name the error message gives the value (``"p"``, ``"s"``, ``"triggerPx"``).

    Raises:
        WireNumberError: ``value`` is not a Decimal or int, is not finite, or
            would need rounding to fit 8 decimal places.
    """
    negative, digits, exponent = _parts(value, field)
    if exponent < -WIRE_MAX_DECIMALS:
        raise WireNumberError(
            f"{field}: {value} has {-exponent} decimal places, the wire carries at most "
            f"{WIRE_MAX_DECIMALS}; rounding it is refused"
        )
    if digits == "0":
        return "0"
    if exponent >= 0:
        text = digits + "0" * exponent
    else:
        whole, fraction = digits[:exponent], digits[exponent:]
        text = (whole or "0") + "." + fraction.rjust(-exponent, "0")
    return "-" + text if negative else text


def to_scaled_int(value: Decimal | int, decimals: int, *, field: str = "value") -> int:
    """Return ``value * 10**decimals`` as an exact integer (8 for hashed amounts, 6 for USD).

    Raises:
        WireNumberError: ``value`` is not a finite Decimal or int, or has more
            than ``decimals`` decimal places (the product is not an integer).
    """
    negative, digits, exponent = _parts(value, field)
    shift = exponent + decimals
    if shift < 0:
        raise WireNumberError(
            f"{field}: {value} has {-exponent} decimal places, at most {decimals} fit; "
            "rounding it is refused"
        )
    scaled = int(digits + "0" * shift)
    return -scaled if negative else scaled


def max_price_decimals(sz_decimals: int, *, spot: bool = False) -> int:
    """Decimal places a price may have: ``6 - sz_decimals`` on perps, ``8 - sz_decimals`` on spot.

    Raises:
        ValueError: ``sz_decimals`` is not an integer in ``[0, 6]`` (perps) or ``[0, 8]`` (spot).
    """
    rules = AssetRules.spot(sz_decimals) if spot else AssetRules.perp(sz_decimals)
    return rules.max_decimals


def price_to_wire(price: Decimal, rules: AssetRules, *, field: str = "p") -> str:
    """Return the wire string of a price the exchange accepts for an asset of ``rules``.

    Raises:
        WireNumberError: ``price`` is not a finite Decimal > 0, or breaks the
            tick rule (more than 5 significant figures for a non-integer, or more
            than ``rules.max_decimals`` decimals); the message names the nearest
            valid prices.
    """
    _check_positive(price, field)
    if not is_valid_price(price, rules):
        above = round_price(price, rules, Side.SELL)
        try:
            nearest = f"{round_price(price, rules, Side.BUY)} or {above}"
        except ValueError:  # below the smallest valid price: only the one above exists
            nearest = f"{above}"
        raise WireNumberError(
            f"{field}: price {price} is not a valid price here (at most 5 significant "
            f"figures, unless an integer, and at most {rules.max_decimals} decimals); "
            f"nearest valid: {nearest}; rounding it is refused"
        )
    return to_wire(price, field=field)


def size_to_wire(size: Decimal, rules: AssetRules, *, field: str = "s") -> str:
    """Return the wire string of a size the exchange accepts for an asset of ``rules``.

    Raises:
        WireNumberError: ``size`` is not a finite Decimal > 0, or has more than
            ``rules.sz_decimals`` decimals (the message names the truncated size).
    """
    _check_positive(size, field)
    if not is_valid_size(size, rules):
        raise WireNumberError(
            f"{field}: size {size} has more than {rules.sz_decimals} decimals "
            f"(truncated: {truncate_size(size, rules)}); rounding it is refused"
        )
    return to_wire(size, field=field)


# --- internals -----------------------------------------------------------------------


def _parts(value: object, field: str) -> tuple[bool, str, int]:
    """Sign, digits without trailing zeros (``"0"`` for zero) and exponent of ``value``."""
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise WireNumberError(
            f"{field} must be a Decimal (or int), got {type(value).__name__} {value!r}"
        )
    number = Decimal(value) if isinstance(value, int) else value
    if not number.is_finite():
        raise WireNumberError(f"{field} must be a finite number, got {value}")
    sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # finite, checked above
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    if not digits:
        return False, "0", 0
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    return bool(sign), stripped, exponent


def _check_positive(value: object, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise WireNumberError(f"{field} must be a Decimal, got {type(value).__name__} {value!r}")
    if not (value.is_finite() and value > 0):
        raise WireNumberError(f"{field} must be a finite number > 0, got {value}")
