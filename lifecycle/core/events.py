"""Inbound facts: what the exchange (or the safety sync) reports.

Events are frozen, keyword-only dataclasses named in the past tense. Adapters
build them from wire messages and classify the exchange's words (a cancel
answer, a status string) into the fields below, so the core never parses
exchange vocabulary; the exchange's own word is kept in ``status`` for reports.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side
from lifecycle.core.records import record

__all__ = [
    "CancelRejected",
    "ExchangeEvent",
    "ModifyRejected",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderModified",
    "OrderRejected",
    "OrderStatusReport",
    "OrphanSeen",
    "OrphanVanished",
    "StatusOutcome",
]


@record
class OrderAccepted:
    """The order rests on the book: a REST ``resting``, a ws ``open`` or a snapshot row."""

    cloid: Cloid | None = None
    oid: Oid


@record
class OrderRejected:
    """The exchange refused the placement (``status``: ``tickRejected``, ...)."""

    cloid: Cloid | None = None
    oid: Oid | None = None
    status: str = "rejected"
    message: str = ""


@record
class OrderFilled:
    """One fill. ``tid`` is the trade id that de-duplicates it."""

    cloid: Cloid | None = None
    oid: Oid | None = None
    tid: Tid
    side: Side
    price: Decimal
    size: Decimal


@record
class OrderCanceled:
    """The order was canceled.

    ``exchange_initiated`` is True for the exchange's own cancels
    (``marginCanceled``, ``reduceOnlyCanceled``, ``scheduledCancel``, ...);
    ``status`` keeps the exchange's word.
    """

    cloid: Cloid | None = None
    oid: Oid | None = None
    status: str = "canceled"
    exchange_initiated: bool = False


@record
class CancelRejected:
    """A cancel request was refused.

    ``order_gone`` is True when the refusal says the order no longer rests
    ("Order was never placed, already canceled, or filled"); False when it still does.
    """

    cloid: Cloid | None = None
    oid: Oid | None = None
    order_gone: bool
    message: str = ""


@record
class OrderModified:
    """A modify succeeded; ``oid`` is the order's oid now (it may be new)."""

    cloid: Cloid | None = None
    oid: Oid
    old_oid: Oid | None = None
    price: Decimal
    size: Decimal


@record
class ModifyRejected:
    """A modify was refused; ``order_gone`` as for :class:`CancelRejected`
    ("Cannot modify canceled or filled order")."""

    cloid: Cloid | None = None
    oid: Oid | None = None
    order_gone: bool
    message: str = ""


class StatusOutcome(enum.Enum):
    """What a status query answered, classified by the adapter."""

    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    #: The exchange does not know the order (Hyperliquid: ``unknownOid``).
    NOT_FOUND = "not_found"


@record
class OrderStatusReport:
    """The answer to a status query by cloid or oid."""

    cloid: Cloid | None = None
    oid: Oid | None = None
    outcome: StatusOutcome
    status: str = ""


@record
class OrphanSeen:
    """The safety sync saw an exchange order that matches no cloid or oid we know."""

    oid: Oid
    cloid: Cloid | None = None
    side: Side
    price: Decimal
    size: Decimal


@record
class OrphanVanished:
    """An orphan is absent from a fresh snapshot."""

    oid: Oid


ExchangeEvent = (
    OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderCanceled
    | CancelRejected
    | OrderModified
    | ModifyRejected
    | OrderStatusReport
    | OrphanSeen
    | OrphanVanished
)
