"""One wire item to one core event: fills, order status words, cloids and sides.

These are the conversions the REST and websocket codecs share. Each takes a
decoded wire struct and returns the event, or raises ``ValueError`` /
``TypeError`` (the event's own validation, or a value the wire allowed but an
event refuses: a size of 0, a NaN price) for the caller to turn into a
problem. Text from the exchange goes into events as ASCII
(:func:`~.problems.ascii_text`).

A fill's identity is ``(tid, oid, fill_ref)``. ``fill_ref`` is empty unless the
trade id is 0 (dust conversions all carry 0, with an all-zero hash): then it
is built from what tells such fills apart and stays the same on every
delivery: ``coin/time/px/sz/startPosition``, and the hash when it is not all
zeros (:func:`dust_ref`).
"""

from __future__ import annotations

from decimal import Decimal

from lifecycle.core.errors import InvalidCloid
from lifecycle.core.events import (
    ExchangeEvent,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side

from .problems import ascii_text
from .statuses import Fact
from .wire import WireFill, WireSide

__all__ = [
    "OUTCOMES",
    "cloid_of",
    "dust_ref",
    "fill_event",
    "number_text",
    "side_of",
    "status_event",
]

#: The status query outcome of each fact.
OUTCOMES: dict[Fact, StatusOutcome] = {
    Fact.OPEN: StatusOutcome.OPEN,
    Fact.FILLED: StatusOutcome.FILLED,
    Fact.CANCELED: StatusOutcome.CANCELED,
    Fact.EXCHANGE_CANCELED: StatusOutcome.CANCELED,
    Fact.REJECTED: StatusOutcome.REJECTED,
}


def side_of(side: WireSide) -> Side:
    """``"B"`` (bid) is a buy, ``"A"`` (ask) a sell."""
    return Side.BUY if side == "B" else Side.SELL


def cloid_of(text: str | None) -> tuple[Cloid | None, bool]:
    """The canonical cloid of a wire ``cloid``, and whether the text was readable.

    Absent gives ``(None, True)``; text that is no cloid ``(None, False)``: the
    message still counts (a fill must move the position), without a cloid.
    """
    if text is None:
        return None, True
    try:
        return Cloid(text), True
    except InvalidCloid:
        return None, False


def number_text(value: Decimal | None) -> str:
    """A decimal as plain text without trailing zeros (``""`` for None)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f") if value.is_finite() else str(value)
    return "0" if text in ("-0", "0") else text


def dust_ref(fill: WireFill) -> str:
    """The ``fill_ref`` of a fill whose trade id is 0 (see the module docstring)."""
    parts = [
        fill.coin,
        str(fill.time),
        number_text(fill.px),
        number_text(fill.sz),
        number_text(fill.start_position),
    ]
    digits = fill.hash[2:] if fill.hash[:2] in ("0x", "0X") else fill.hash
    if digits.strip("0"):  # a real hash tells fills apart; an all-zero one does not
        parts.append(fill.hash)
    return ascii_text("/".join(parts), limit=1000)


def fill_event(fill: WireFill, cloid: Cloid | None) -> OrderFilled:
    """The event of one wire fill, with ``cloid`` (the fill's own, read by :func:`cloid_of`).

    Raises:
        TypeError, ValueError: a value the event refuses (a size or price that
            is not > 0...).
    """
    return OrderFilled(
        cloid=cloid,
        oid=Oid(fill.oid),
        tid=Tid(fill.tid),
        side=side_of(fill.side),
        price=fill.px,
        size=fill.sz,
        fill_ref=dust_ref(fill) if fill.tid == 0 else "",
    )


def status_event(fact: Fact, word: str, cloid: Cloid | None, oid: Oid) -> ExchangeEvent | None:
    """The event a status word states about a resting order (``orderUpdates``).

    ``open``/``triggered``: accepted (a modify's new oid included);
    ``canceled``: cancelled by the user; an exchange cancel keeps its word
    with ``exchange_initiated``; a rejection keeps its word. ``filled`` gives
    no event: the fills say how much, and the engine completes the order from
    them; a completion without its fills would end the order early and count
    its fills as late ones.
    """
    status = ascii_text(word)
    if fact is Fact.OPEN:
        return OrderAccepted(cloid=cloid, oid=oid)
    if fact is Fact.CANCELED:
        return OrderCanceled(cloid=cloid, oid=oid, status=status)
    if fact is Fact.EXCHANGE_CANCELED:
        return OrderCanceled(cloid=cloid, oid=oid, status=status, exchange_initiated=True)
    if fact is Fact.REJECTED:
        return OrderRejected(cloid=cloid, oid=oid, status=status)
    return None
