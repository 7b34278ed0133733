"""The reconciler's values: what a strategy asks for and what a cycle decides.

A strategy describes where it wants to rest with a :class:`Ladder` of
:class:`Level` values per side and the top of the book with a :class:`Book`;
:class:`~lifecycle.policy.reconciler.Reconciler` answers with a :class:`Plan`,
one :class:`SidePlan` per side listing :class:`Placement` and
:class:`Modification` values and the orders to cancel or keep.

All of them are frozen, keyword-only ``msgspec.Struct`` classes, untracked by
the garbage collector (they hold decimals, enum members, tuples of their own
kind and orders, none of which refer back to them, so no reference cycle can
form). The inputs check themselves once, at construction (and after
``msgspec.structs.replace`` or decoding, which run ``__post_init__`` too): a
level's price and size are finite ``Decimal`` values above zero, a ladder's
sides are best level first, a book's prices are finite and above zero or
missing. Each failure raises :class:`ValueError` naming the field, so a plan
never has to check its inputs again.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

import msgspec

from lifecycle.core.order import Order, Side

__all__ = [
    "SKIP_STALE_BOOK",
    "Book",
    "Decision",
    "Ladder",
    "Level",
    "Modification",
    "Placement",
    "Plan",
    "SidePlan",
]

#: ``Plan.skipped`` when the book is ``book_stale_s`` old or older.
SKIP_STALE_BOOK: Final = "stale_book"

_BUY: Final = Side.BUY


class Level(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One target quote: rest ``size`` at ``price``.

    Raises:
        ValueError: ``price`` or ``size`` is not a finite ``Decimal`` > 0 (the
            message names the field).
    """

    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        # The common case inline; _positive names the field when it fails.
        price, size = self.price, self.size
        if not (type(price) is Decimal and price.is_finite() and price > 0):
            _positive("Level.price", price)
        if not (type(size) is Decimal and size.is_finite() and size > 0):
            _positive("Level.size", size)


class Ladder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The quotes a strategy wants, per side, best level first.

    Bids in non-increasing price order, asks in non-decreasing order. Both
    sides empty means "rest nothing".

    Raises:
        ValueError: A side is not ordered best level first, or one of its
            items is not a valid level (the message names the field, as in
            ``ladder.bids[1].price``).
    """

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    def __post_init__(self) -> None:
        _check_side("bids", self.bids, _BUY)
        _check_side("asks", self.asks, Side.SELL)

    def side(self, side: Side) -> tuple[Level, ...]:
        """Return the levels of ``side`` (``bids`` for a buy)."""
        return self.bids if side is _BUY else self.asks


class Book(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The top of the exchange's book, as seen at time ``at``.

    A side may be None when the book has no order on it; levels are then not
    checked against it.

    Raises:
        ValueError: ``best_bid`` or ``best_ask`` is neither None nor a finite
            ``Decimal`` > 0 (the message names the field).
    """

    best_bid: Decimal | None
    best_ask: Decimal | None
    at: float

    def __post_init__(self) -> None:
        for field, value in (("best_bid", self.best_bid), ("best_ask", self.best_ask)):
            if value is not None and not (
                isinstance(value, Decimal) and value.is_finite() and value > 0
            ):
                raise ValueError(
                    f"book.{field} must be a finite Decimal > 0 or None, got {value!r}"
                )


class Placement(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Place a new order of ``size`` at ``price``, for target level ``level``."""

    side: Side
    price: Decimal
    size: Decimal
    level: int


class Modification(msgspec.Struct, frozen=True, kw_only=True, gc=False):
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


class SidePlan(msgspec.Struct, frozen=True, kw_only=True, gc=False):
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


class Plan(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The outcome of :meth:`Reconciler.plan <lifecycle.policy.reconciler.Reconciler.plan>`.

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
        return self.bids if side is _BUY else self.asks

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


# --- checks -----------------------------------------------------------------------------


def _positive(name: str, value: object) -> None:
    if not (isinstance(value, Decimal) and value.is_finite() and value > 0):
        raise ValueError(f"{name} must be a finite Decimal > 0, got {value!r}")


def _check_side(name: str, levels: Sequence[Level], side: Side) -> None:
    """Check one side of a ladder: valid levels, best level first."""
    previous: Decimal | None = None
    for index, level in enumerate(levels):
        if type(level) is not Level:
            # A Level checked itself; anything else with a price and a size is
            # checked here, field by field.
            for field in ("price", "size"):
                _positive(f"ladder.{name}[{index}].{field}", getattr(level, field, None))
        price = level.price
        if previous is not None and (price > previous if side is _BUY else price < previous):
            raise ValueError(
                f"ladder.{name} must be best level first: ladder.{name}[{index}].price "
                f"{price} is better than the level before it ({previous})"
            )
        previous = price
