"""Prices and sizes as integers: units of the finest price step, lots of the asset.

Theory of operation
-------------------
Whatever its decade, every price :mod:`lifecycle.policy.pricing` accepts for
an asset is a multiple of ``10 ** -max_decimals``: the tick of a decade is
``10 ** max(min(k - 4, 0), -max_decimals)``, a multiple of that finest step.
Every valid size is a multiple of ``10 ** -sz_decimals``. A :class:`Grid`
writes them as integers: a price as a number of *units* of
``10 ** -max_decimals`` and a size as a number of *lots* of
``10 ** -sz_decimals``. Rounding a price to its decade's tick stays exact on
that grid (the tick is ``10 ** (e + max_decimals)`` units), so the
significant-figure rule and the decimal-places rule are both kept, and every
comparison and distance after it is integer arithmetic.

The conversions are exact in both directions and give what the Decimal
functions give: :meth:`Grid.round_price` is :func:`~lifecycle.policy.pricing.round_price`
(same rounding direction, same errors) and :meth:`Grid.truncate_size` is
:func:`~lifecycle.policy.pricing.truncate_size`, in units and lots;
:meth:`Grid.price` and :meth:`Grid.size` turn units and lots back into the
very ``Decimal`` values those functions return (no trailing zeros, never in
exponent form for integers). Reading a ``Decimal`` goes through
``as_integer_ratio``, which is exact whatever its number of digits; the rare
value whose rounding would exceed the decimal context's 28 digits is handed
to the Decimal functions themselves, which raise as they always did.

Each conversion is cached by value (a ladder mostly repeats the previous
cycle's prices and sizes, and orders rest at prices the grid produced); a
cache that grows past :data:`CACHE_LIMIT` entries is emptied.

Thresholds from the configuration (floats such as ``22.5``) are read as the
decimal their shortest ``repr`` spells, as the reconciler always read them
(``0.1`` is one tenth, not the binary float), and kept as an exact fraction by
:func:`threshold`: a distance ``x / base`` in basis points is within a
threshold ``(num, den)`` when ``x * den <= num * base``, without a division.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, TypeVar

from lifecycle.core.order import Side
from lifecycle.policy.pricing import (
    MAX_SIGNIFICANT_FIGURES,
    AssetRules,
    round_price,
    truncate_size,
)

__all__ = ["CACHE_LIMIT", "NOT_A_NUMBER", "Grid", "exact", "threshold"]

#: Entries a conversion cache holds before it is emptied.
CACHE_LIMIT: Final = 8192

_BUY: Final = Side.BUY
# From 10**4 up a 5-significant-figure step is >= 1 and the integer rule applies.
_INTEGER_EXPONENT: Final = MAX_SIGNIFICANT_FIGURES - 1
# Beyond this adjusted exponent a quantize could exceed the context's 28 digits
# (and raise); such values take the Decimal functions' own path.
_LARGEST_FAST_EXPONENT: Final = 20
# The default decimal context's precision: a size truncated to ``sz_decimals``
# places needs ``adjusted + 1 + sz_decimals`` of these digits.
_CONTEXT_DIGITS: Final = 28
_NAN: Final = Decimal("NaN")

_K = TypeVar("_K")
_V = TypeVar("_V")


class _NotANumber(int):
    """The numerator of a NaN threshold: any product with it raises.

    A NaN ``Decimal`` raises ``InvalidOperation`` when compared; so does a
    comparison against a NaN threshold, at the same moment (the product is
    computed just before the comparison it stands for).
    """

    def __mul__(self, other: object) -> int:
        _NAN.compare_signal(0)  # raises decimal.InvalidOperation, as a NaN comparison does
        raise AssertionError("unreachable")  # pragma: no cover

    __rmul__ = __mul__


#: The numerator :func:`threshold` gives a NaN value.
NOT_A_NUMBER: Final[int] = _NotANumber(0)


def threshold(value: float, per: int) -> tuple[int, int]:
    """Return the threshold ``value`` (in ``1/per`` parts) as an exact ``(num, den)``.

    ``value`` is read as ``Decimal(repr(value))``: its shortest repr, so
    ``22.5`` is exactly 45/2. A ratio ``x / base`` (``base > 0``) is within the
    threshold when ``x * den <= num * base``: with ``per`` 10 000 that is
    ``x / base * 10_000 <= value``, in basis points. Infinite values give
    ``den == 0`` (always within for +inf, never for -inf); NaN gives the
    numerator :data:`NOT_A_NUMBER`, whose comparisons raise
    ``decimal.InvalidOperation`` as a NaN ``Decimal``'s do.

    Raises:
        decimal.InvalidOperation: ``repr(value)`` is not a number.
    """
    decimal = Decimal(repr(value))
    if decimal.is_nan():
        return NOT_A_NUMBER, 1
    if decimal.is_infinite():
        return (1 if decimal > 0 else -1), 0
    num, den = decimal.as_integer_ratio()
    return num, den * per


def exact(value: Decimal) -> tuple[int, int]:
    """Return ``(n, k)`` with ``value == n / 10**k`` exactly (``k >= 0``, the least such)."""
    num, den = value.as_integer_ratio()
    if den == 1:
        return num, 0
    twos = (den & -den).bit_length() - 1
    rest, fives = den >> twos, 0
    while rest > 1:
        rest //= 5
        fives += 1
    k = max(twos, fives)
    return num * (10**k // den), k


class Grid:
    """The integer prices (units) and sizes (lots) of one asset.

    Args:
        rules: The asset's price and size rules.
    """

    __slots__ = (
        "_asks",
        "_bids",
        "_largest_fast_size",
        "_lot_scale",
        "_prices",
        "_sizes",
        "_unit_scale",
        "known_lots",
        "known_units",
        "max_decimals",
        "rules",
        "sz_decimals",
        "truncated",
    )

    def __init__(self, rules: AssetRules) -> None:
        self.rules = rules
        #: A price unit is ``10 ** -max_decimals``.
        self.max_decimals = rules.max_decimals
        #: A lot is ``10 ** -sz_decimals``.
        self.sz_decimals = rules.sz_decimals
        self._unit_scale: int = 10**rules.max_decimals
        self._lot_scale: int = 10**rules.sz_decimals
        # Past this adjusted exponent truncate_size would raise: take its path.
        self._largest_fast_size: int = min(
            _LARGEST_FAST_EXPONENT, _CONTEXT_DIGITS - 1 - rules.sz_decimals
        )
        # Level prices already rounded, per direction: price -> units.
        self._bids: dict[Decimal, int] = {}
        self._asks: dict[Decimal, int] = {}
        #: Prices known to be on the grid, in units (look a price up here before
        #: calling :meth:`price_units`; read only).
        self.known_units: dict[Decimal, int] = {}
        #: Sizes known to be whole lots, in lots (likewise for :meth:`size_lots`).
        self.known_lots: dict[Decimal, int] = {}
        #: Level sizes already truncated, in lots (likewise for :meth:`truncate_size`).
        self.truncated: dict[Decimal, int] = {}
        self._prices: dict[int, Decimal] = {}
        self._sizes: dict[int, Decimal] = {}

    # --- levels in -------------------------------------------------------------------

    def rounded(self, side: Side) -> dict[Decimal, int]:
        """The cache of :meth:`round_price` for ``side``: look a price up there first."""
        return self._bids if side is _BUY else self._asks

    def round_price(self, price: Decimal, side: Side) -> int:
        """:func:`~lifecycle.policy.pricing.round_price` in units: bids down, asks up.

        Raises:
            ValueError: As ``round_price`` (not a finite number > 0, or a bid
                rounding down to 0), with its message.
        """
        cache = self._bids if side is _BUY else self._asks
        units = cache.get(price)
        if units is not None:
            return units
        adjusted = price.adjusted() if isinstance(price, Decimal) and price.is_finite() else None
        if adjusted is None or not price > 0 or adjusted > _LARGEST_FAST_EXPONENT:
            units = self._units_of(round_price(price, self.rules, side))
        else:
            exponent = adjusted - _INTEGER_EXPONENT
            if exponent > 0:
                exponent = 0
            elif exponent < -self.max_decimals:
                exponent = -self.max_decimals
            step: int = 10 ** (exponent + self.max_decimals)  # the tick, in units
            num, den = price.as_integer_ratio()
            if side is _BUY:
                units = num * self._unit_scale // (den * step) * step
            else:
                units = -(-num * self._unit_scale // (den * step)) * step
            if units <= 0:
                round_price(price, self.rules, side)  # raises, naming the smallest price
                raise AssertionError("unreachable")  # pragma: no cover
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[price] = units
        return units

    def truncate_size(self, size: Decimal) -> int:
        """:func:`~lifecycle.policy.pricing.truncate_size` in lots (toward zero).

        Raises:
            ValueError: As ``truncate_size`` (``size`` not a finite number > 0).
        """
        cache = self.truncated
        lots = cache.get(size)
        if lots is not None:
            return lots
        if (
            isinstance(size, Decimal)
            and size.is_finite()
            and size > 0
            and size.adjusted() <= self._largest_fast_size
        ):
            num, den = size.as_integer_ratio()
            lots = num * self._lot_scale // den
        else:
            lots = self._lots_of(truncate_size(size, self.rules))
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[size] = lots
        return lots

    def ceil_units(self, value: Decimal) -> int:
        """The least number of units >= ``value`` (a finite Decimal)."""
        num, den = value.as_integer_ratio()
        return -(-num * self._unit_scale // den)

    def floor_units(self, value: Decimal) -> int:
        """The greatest number of units <= ``value`` (a finite Decimal)."""
        num, den = value.as_integer_ratio()
        return num * self._unit_scale // den

    # --- orders in -------------------------------------------------------------------

    def price_units(self, price: Decimal) -> int | None:
        """``price`` in units, or None when it is not on the grid (too many decimals)."""
        units = self.known_units.get(price)
        if units is None:
            num, den = price.as_integer_ratio()
            scaled = num * self._unit_scale
            if scaled % den:
                return None
            units = scaled // den
            self._remember(self.known_units, price, units)
        return units

    def size_lots(self, size: Decimal) -> int | None:
        """``size`` in lots, or None when it is not a whole number of lots."""
        lots = self.known_lots.get(size)
        if lots is None:
            num, den = size.as_integer_ratio()
            scaled = num * self._lot_scale
            if scaled % den:
                return None
            lots = scaled // den
            self._remember(self.known_lots, size, lots)
        return lots

    # --- out -------------------------------------------------------------------------

    def price(self, units: int) -> Decimal:
        """``units`` as the Decimal :func:`~lifecycle.policy.pricing.round_price` returns."""
        price = self._prices.get(units)
        if price is None:
            price = _plain(units, self.max_decimals)
            self._remember(self._prices, units, price)
            self._remember(self.known_units, price, units)
        return price

    def size(self, lots: int) -> Decimal:
        """``lots`` as the Decimal :func:`~lifecycle.policy.pricing.truncate_size` returns."""
        size = self._sizes.get(lots)
        if size is None:
            size = _plain(lots, self.sz_decimals)
            self._remember(self._sizes, lots, size)
            self._remember(self.known_lots, size, lots)
        return size

    # --- internals -------------------------------------------------------------------

    def _units_of(self, price: Decimal) -> int:
        units = self.price_units(price)
        assert units is not None, "a rounded price is on the grid"
        return units

    def _lots_of(self, size: Decimal) -> int:
        lots = self.size_lots(size)
        assert lots is not None, "a truncated size is on the grid"
        return lots

    @staticmethod
    def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[key] = value


def _plain(count: int, decimals: int) -> Decimal:
    """``count * 10**-decimals`` without trailing zeros and never in exponent form.

    The same value and representation as pricing's ``_plain`` of the quantized
    Decimal: ``Decimal('100')`` for an integer, ``Decimal('99.9')`` otherwise.
    """
    if decimals == 0:
        return Decimal(count)
    whole, fraction = divmod(count, 10**decimals)
    if not fraction:
        return Decimal(whole)
    return Decimal(f"{whole}.{fraction:0{decimals}d}".rstrip("0"))
