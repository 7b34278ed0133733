"""Inbound facts: what the exchange (or the safety sync) reports.

Events are frozen, keyword-only :class:`~lifecycle.core.records.Record` structs
named in the past tense. Adapters build them from wire messages and classify
the exchange's words (a cancel answer, a status string) into the fields below,
so the core never parses exchange vocabulary; the exchange's own word is kept
in ``status`` for reports.

Each event checks its fields when it is built (see
:mod:`lifecycle.core.records`): cloids are stored canonical; oids and trade ids
are ``int`` >= 0; prices and sizes finite ``Decimal`` > 0; sides and outcomes
members of their enums; flags ``bool`` and words ``str`` (Unicode text). A
bad value raises ``TypeError`` or ``ValueError`` naming the class, the field
and the value.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Fill, FillId, Side
from lifecycle.core.records import (
    Record,
    bad_type,
    canonical_cloid,
    check_id,
    check_positive,
    check_text,
)

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

# Decimal against Decimal: half the cost of comparing with the int 0.
_ZERO = Decimal(0)

# Every __post_init__ below tests the common case inline and leaves the rest
# (rarer valid forms, and the error) to the checks of records.py: events are
# built on every exchange message.


class OrderAccepted(Record, frozen=True, kw_only=True):
    """The order rests on the book: a REST ``resting``, a ws ``open`` or a snapshot row."""

    cloid: Cloid | None = None
    oid: Oid

    def __post_init__(self) -> None:
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        oid = self.oid
        if oid.__class__ is not int or oid < 0:
            check_id(self, "oid", oid)


class OrderRejected(Record, frozen=True, kw_only=True):
    """The exchange refused the placement (``status``: ``tickRejected``, ...)."""

    cloid: Cloid | None = None
    oid: Oid | None = None
    status: str = "rejected"
    message: str = ""

    def __post_init__(self) -> None:
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        oid = self.oid
        if oid is not None and (oid.__class__ is not int or oid < 0):
            check_id(self, "oid", oid)
        if self.status.__class__ is not str or not self.status.isascii():
            check_text(self, "status", self.status)
        if self.message.__class__ is not str or not self.message.isascii():
            check_text(self, "message", self.message)


class OrderFilled(Record, frozen=True, kw_only=True):
    """One fill, told apart from every other fill by its :attr:`identity`.

    The identity is ``(tid, oid, fill_ref)``: a fill delivered again (a
    websocket duplicate, the same fill in a fetched fill history) must carry
    the same three values, and two different fills must differ in one of them.
    By default ``fill_ref`` is ``""`` and the trade id and oid decide: both
    sides of one trade share the trade id, and the oid tells them apart. An
    adapter must give the oid the same way on every channel (Hyperliquid's
    fills always carry it).

    ``fill_ref`` is for venues whose trade ids are not unique. On Hyperliquid
    every "Spot Dust Conversion" fill carries ``tid: 0`` and an all-zero
    ``hash``, so its adapter sets ``fill_ref`` from what differs between such
    fills and stays the same on every delivery of one: the fill's ``coin``,
    ``time``, ``px``, ``sz`` and ``startPosition`` (and the ``hash`` where it
    is not all zeros), e.g. ``"@107/1735969713869/18.62/43.84/10659.65"``.
    An adapter must set ``fill_ref`` on every fill with ``tid`` 0: without
    one, all of an oid's fills with trade id 0 are one fill to the engine, and
    count once.
    """

    cloid: Cloid | None = None
    oid: Oid | None = None
    tid: Tid
    side: Side
    price: Decimal
    size: Decimal
    fill_ref: str = ""

    def __post_init__(self) -> None:
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        oid = self.oid
        if oid is not None and (oid.__class__ is not int or oid < 0):
            check_id(self, "oid", oid)
        tid = self.tid
        if tid.__class__ is not int or tid < 0:
            check_id(self, "tid", tid)
        if self.side.__class__ is not Side:
            bad_type(self, "side", self.side, Side)
        price = self.price
        if price.__class__ is not Decimal or not price.is_finite() or price <= _ZERO:
            check_positive(self, "price", price)
        size = self.size
        if size.__class__ is not Decimal or not size.is_finite() or size <= _ZERO:
            check_positive(self, "size", size)
        ref = self.fill_ref
        if ref.__class__ is not str or not ref.isascii():
            check_text(self, "fill_ref", ref)

    @property
    def identity(self) -> FillId:
        """``(tid, oid, fill_ref)``: what de-duplicates this fill (see the class)."""
        return (self.tid, self.oid, self.fill_ref)

    def fill_at(self, now: float) -> Fill:
        """The order's record of this fill, received at engine time ``now``.

        Raises:
            TypeError, ValueError: ``now`` is not a finite time.
        """
        return Fill(tid=self.tid, price=self.price, size=self.size, at=now, ref=self.fill_ref)


class OrderCanceled(Record, frozen=True, kw_only=True):
    """The order was canceled.

    ``exchange_initiated`` is True for the exchange's own cancels
    (``marginCanceled``, ``reduceOnlyCanceled``, ``scheduledCancel``, ...);
    ``status`` keeps the exchange's word.
    """

    cloid: Cloid | None = None
    oid: Oid | None = None
    status: str = "canceled"
    exchange_initiated: bool = False

    def __post_init__(self) -> None:
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        oid = self.oid
        if oid is not None and (oid.__class__ is not int or oid < 0):
            check_id(self, "oid", oid)
        if self.status.__class__ is not str or not self.status.isascii():
            check_text(self, "status", self.status)
        if self.exchange_initiated.__class__ is not bool:
            bad_type(self, "exchange_initiated", self.exchange_initiated, bool)


class CancelRejected(Record, frozen=True, kw_only=True):
    """A cancel request was refused.

    ``order_gone`` is True when the refusal says the order no longer rests
    ("Order was never placed, already canceled, or filled"); False when it still does.
    """

    cloid: Cloid | None = None
    oid: Oid | None = None
    order_gone: bool
    message: str = ""

    def __post_init__(self) -> None:
        _check_refusal(self)


class OrderModified(Record, frozen=True, kw_only=True):
    """A modify succeeded; ``oid`` is the order's oid now (it may be new)."""

    cloid: Cloid | None = None
    oid: Oid
    old_oid: Oid | None = None
    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        oid = self.oid
        if oid.__class__ is not int or oid < 0:
            check_id(self, "oid", oid)
        old_oid = self.old_oid
        if old_oid is not None and (old_oid.__class__ is not int or old_oid < 0):
            check_id(self, "old_oid", old_oid)
        price = self.price
        if price.__class__ is not Decimal or not price.is_finite() or price <= _ZERO:
            check_positive(self, "price", price)
        size = self.size
        if size.__class__ is not Decimal or not size.is_finite() or size <= _ZERO:
            check_positive(self, "size", size)


class ModifyRejected(Record, frozen=True, kw_only=True):
    """A modify was refused; ``order_gone`` as for :class:`CancelRejected`
    ("Cannot modify canceled or filled order")."""

    cloid: Cloid | None = None
    oid: Oid | None = None
    order_gone: bool
    message: str = ""

    def __post_init__(self) -> None:
        _check_refusal(self)


def _check_refusal(event: CancelRejected | ModifyRejected) -> None:
    """The checks of the two refusals, which have the same fields."""
    cloid = event.cloid
    if cloid.__class__ is not Cloid and cloid is not None:
        canonical_cloid(event, "cloid")
    oid = event.oid
    if oid is not None and (oid.__class__ is not int or oid < 0):
        check_id(event, "oid", oid)
    if event.order_gone.__class__ is not bool:
        bad_type(event, "order_gone", event.order_gone, bool)
    if event.message.__class__ is not str or not event.message.isascii():
        check_text(event, "message", event.message)


class StatusOutcome(enum.Enum):
    """What a status query answered, classified by the adapter."""

    OPEN = "open"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    #: The exchange does not know the order (Hyperliquid: ``unknownOid``).
    NOT_FOUND = "not_found"


class OrderStatusReport(Record, frozen=True, kw_only=True):
    """The answer to a status query by cloid or oid."""

    cloid: Cloid | None = None
    oid: Oid | None = None
    outcome: StatusOutcome
    status: str = ""

    def __post_init__(self) -> None:
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        oid = self.oid
        if oid is not None and (oid.__class__ is not int or oid < 0):
            check_id(self, "oid", oid)
        if self.outcome.__class__ is not StatusOutcome:
            bad_type(self, "outcome", self.outcome, StatusOutcome)
        if self.status.__class__ is not str or not self.status.isascii():
            check_text(self, "status", self.status)


class OrphanSeen(Record, frozen=True, kw_only=True):
    """The safety sync saw an exchange order that matches no cloid or oid we know."""

    oid: Oid
    cloid: Cloid | None = None
    side: Side
    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        oid = self.oid
        if oid.__class__ is not int or oid < 0:
            check_id(self, "oid", oid)
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        if self.side.__class__ is not Side:
            bad_type(self, "side", self.side, Side)
        price = self.price
        if price.__class__ is not Decimal or not price.is_finite() or price <= _ZERO:
            check_positive(self, "price", price)
        size = self.size
        if size.__class__ is not Decimal or not size.is_finite() or size <= _ZERO:
            check_positive(self, "size", size)


class OrphanVanished(Record, frozen=True, kw_only=True):
    """An orphan is absent from a fresh snapshot."""

    oid: Oid

    def __post_init__(self) -> None:
        oid = self.oid
        if oid.__class__ is not int or oid < 0:
            check_id(self, "oid", oid)


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
