"""Outbound intents: what the engine asks the driver to send.

Commands are frozen, keyword-only dataclasses named in the imperative. The
engine appends them to its outbox; the driver drains them with
:meth:`lifecycle.engine.facade.Engine.commands_to_send` and performs the I/O.
"""

from __future__ import annotations

from decimal import Decimal

from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.core.records import record

__all__ = [
    "CancelOrder",
    "Command",
    "FetchOpenOrders",
    "ModifyOrder",
    "PlaceOrder",
    "QueryOrderStatus",
]


@record
class PlaceOrder:
    """Place a limit order (post-only unless ``post_only`` is False)."""

    cloid: Cloid
    side: Side
    price: Decimal
    size: Decimal
    post_only: bool = True
    reduce_only: bool = False


@record
class CancelOrder:
    """Cancel by ``oid`` when known, else by ``cloid``."""

    cloid: Cloid | None
    oid: Oid | None


@record
class ModifyOrder:
    """Change an order's price and size, by ``oid`` when known, else by ``cloid``.

    The exchange may answer with a new oid.
    """

    cloid: Cloid | None
    oid: Oid | None
    price: Decimal
    size: Decimal


@record
class QueryOrderStatus:
    """Ask the exchange what became of an order (by cloid when we have one)."""

    cloid: Cloid | None
    oid: Oid | None


@record
class FetchOpenOrders:
    """Ask for an open-orders snapshot (a safety sync on demand)."""

    reason: str


Command = PlaceOrder | CancelOrder | ModifyOrder | QueryOrderStatus | FetchOpenOrders
