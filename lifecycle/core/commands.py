"""Outbound intents: what the engine asks the driver to send.

Commands are frozen, keyword-only :class:`~lifecycle.core.records.Record`
structs named in the imperative. The engine appends them to its outbox; the
driver drains them with :meth:`lifecycle.engine.facade.Engine.commands_to_send`
and performs the I/O.

Each command checks its fields when it is built, as events do (see
:mod:`lifecycle.core.records`); a placement always names its cloid.
"""

from __future__ import annotations

from decimal import Decimal

from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.core.records import (
    Record,
    bad_type,
    canonical_cloid,
    check_id,
    check_positive,
    check_text,
)

__all__ = [
    "CancelOrder",
    "Command",
    "FetchOpenOrders",
    "ModifyOrder",
    "PlaceOrder",
    "QueryOrderStatus",
]

# Decimal against Decimal: half the cost of comparing with the int 0.
_ZERO = Decimal(0)


class PlaceOrder(Record, frozen=True, kw_only=True):
    """Place a limit order (post-only unless ``post_only`` is False)."""

    cloid: Cloid
    side: Side
    price: Decimal
    size: Decimal
    post_only: bool = True
    reduce_only: bool = False

    def __post_init__(self) -> None:
        if self.cloid.__class__ is not Cloid:
            canonical_cloid(self, "cloid")  # None included: it raises TypeError
        if self.side.__class__ is not Side:
            bad_type(self, "side", self.side, Side)
        price = self.price
        if price.__class__ is not Decimal or not price.is_finite() or price <= _ZERO:
            check_positive(self, "price", price)
        size = self.size
        if size.__class__ is not Decimal or not size.is_finite() or size <= _ZERO:
            check_positive(self, "size", size)
        if self.post_only.__class__ is not bool:
            bad_type(self, "post_only", self.post_only, bool)
        if self.reduce_only.__class__ is not bool:
            bad_type(self, "reduce_only", self.reduce_only, bool)


class CancelOrder(Record, frozen=True, kw_only=True):
    """Cancel by ``oid`` when known, else by ``cloid``."""

    cloid: Cloid | None
    oid: Oid | None

    def __post_init__(self) -> None:
        # _check_order_ids, inlined: the engine builds one on every cancel.
        cloid = self.cloid
        if cloid.__class__ is not Cloid and cloid is not None:
            canonical_cloid(self, "cloid")
        oid = self.oid
        if oid is not None and (oid.__class__ is not int or oid < 0):
            check_id(self, "oid", oid)


class ModifyOrder(Record, frozen=True, kw_only=True):
    """Change an order's price and size, by ``oid`` when known, else by ``cloid``.

    The exchange may answer with a new oid.
    """

    cloid: Cloid | None
    oid: Oid | None
    price: Decimal
    size: Decimal

    def __post_init__(self) -> None:
        _check_order_ids(self)
        price = self.price
        if price.__class__ is not Decimal or not price.is_finite() or price <= _ZERO:
            check_positive(self, "price", price)
        size = self.size
        if size.__class__ is not Decimal or not size.is_finite() or size <= _ZERO:
            check_positive(self, "size", size)


class QueryOrderStatus(Record, frozen=True, kw_only=True):
    """Ask the exchange what became of an order (by cloid when we have one)."""

    cloid: Cloid | None
    oid: Oid | None

    def __post_init__(self) -> None:
        _check_order_ids(self)


class FetchOpenOrders(Record, frozen=True, kw_only=True):
    """Ask for an open-orders snapshot (a safety sync on demand)."""

    reason: str

    def __post_init__(self) -> None:
        if self.reason.__class__ is not str or not self.reason.isascii():
            check_text(self, "reason", self.reason)


def _check_order_ids(command: ModifyOrder | QueryOrderStatus) -> None:
    """Check the optional cloid and oid of a command naming an order."""
    cloid = command.cloid
    if cloid.__class__ is not Cloid and cloid is not None:
        canonical_cloid(command, "cloid")
    oid = command.oid
    if oid is not None and (oid.__class__ is not int or oid < 0):
        check_id(command, "oid", oid)


Command = PlaceOrder | CancelOrder | ModifyOrder | QueryOrderStatus | FetchOpenOrders
