"""What the harness accepts and how it fails: numbers, cloids, ladders, books, expectations.

A script writes prices and sizes as strings (``"100.5"``), cloids in any form
the exchange or a bot uses, and target ladders as ``(price, size)`` pairs;
the helpers here turn them into the engine's values. :func:`expect_state` is
the check behind :meth:`Scenario.expect <lifecycle.testing.Scenario.expect>`,
usable on any order (a runtime harness's included).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

from lifecycle.core.ids import Cloid
from lifecycle.core.order import Order
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.policy.reconciler import Book, Ladder, Level

__all__ = [
    "CloidLike",
    "Levels",
    "Number",
    "ScenarioError",
    "book_of",
    "expect_state",
    "ladder_of",
    "to_decimal",
]

#: What a scenario accepts for a price or a size: a Decimal, or a str or int it can exactly be.
Number = Decimal | str | int
#: A cloid in any form :class:`~lifecycle.core.ids.Cloid` accepts.
CloidLike = Cloid | str | uuid.UUID
#: One side of a target ladder, best level first: levels or ``(price, size)`` pairs.
Levels = Sequence[Level | tuple[Number, Number]]


class ScenarioError(AssertionError):
    """A scenario step or expectation failed (the message says which and why)."""


def to_decimal(value: Number) -> Decimal:
    """``value`` as a Decimal (a str or int converts exactly)."""
    return value if isinstance(value, Decimal) else Decimal(value)


def ladder_of(targets: Ladder | tuple[Levels, Levels]) -> Ladder:
    """A :class:`~lifecycle.policy.reconciler.Ladder`, or one built from ``(bids, asks)``."""
    if isinstance(targets, Ladder):
        return targets
    bids, asks = targets
    return Ladder(bids=_levels(bids), asks=_levels(asks))


def book_of(book: Book | tuple[Number | None, Number | None] | None, at: float) -> Book:
    """A :class:`~lifecycle.policy.reconciler.Book` as given, or one built at ``at``
    from ``(best_bid, best_ask)`` (either may be None) or from nothing (None)."""
    if isinstance(book, Book):
        return book
    bid, ask = book if book is not None else (None, None)
    return Book(
        best_bid=None if bid is None else to_decimal(bid),
        best_ask=None if ask is None else to_decimal(ask),
        at=at,
    )


def expect_state(
    order: Order,
    state: OrderState,
    *,
    reason: GoneReason | None = None,
    filled: Number | None = None,
) -> None:
    """Fail with a clear message unless ``order`` is in ``state``.

    ``reason`` and ``filled``, when given, must match too. The message names
    the order, what differed and the order's transition history.

    Raises:
        ScenarioError: Something differed.
    """
    problems = []
    if order.state is not state:
        problems.append(f"state {order.state.value}, expected {state.value}")
    if reason is not None and order.reason is not reason:
        got = order.reason.value if order.reason else None
        problems.append(f"reason {got}, expected {reason.value}")
    if filled is not None and order.filled != to_decimal(filled):
        problems.append(f"filled {order.filled}, expected {to_decimal(filled)}")
    if problems:
        history = ", ".join(
            f"{r.source.value}-{r.trigger.value}->{r.dest.value}" for r in order.history
        )
        raise ScenarioError(f"{order.label}: {'; '.join(problems)} (history: {history})")


def _levels(levels: Levels) -> tuple[Level, ...]:
    return tuple(
        lv if isinstance(lv, Level) else Level(price=to_decimal(lv[0]), size=to_decimal(lv[1]))
        for lv in levels
    )
