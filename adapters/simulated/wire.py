"""What the simulated exchange hands its client: tickets, deliveries and its own words.

A client submits commands and gets a :class:`Ticket`; later
:meth:`~lifecycle.adapters.simulated.exchange.SimulatedExchange.advance`
returns :data:`Delivery` items in delivery-time order: a :class:`Response` to a
ticket (one :class:`~lifecycle.runtime.adapter.CommandResult` per command, or a
snapshot), a :class:`WsMessage` carrying one event, or a :class:`WsReconnected`
notice after the websocket came back (order updates of the downtime are lost).

The message texts below are the exchange's own words (Hyperliquid's error
strings), so a client's classification can be tested against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import ExchangeEvent
from lifecycle.runtime import CommandResult, OpenOrdersSnapshot

__all__ = [
    "CANCEL_GONE",
    "INVALID_SIZE",
    "IP_RATE_LIMITED",
    "MIN_NOTIONAL",
    "MODIFY_GONE",
    "REJECT_MESSAGES",
    "SERVER_ERROR",
    "TICK",
    "Delivery",
    "Response",
    "Ticket",
    "WsMessage",
    "WsReconnected",
    "address_rate_limited",
    "bad_alo_px",
    "request_weight",
    "timed_out",
]

#: The cancel answer for an order that does not rest (any reason).
CANCEL_GONE = "Order was never placed, already canceled, or filled."
#: The modify answer for an order that does not rest.
MODIFY_GONE = "Cannot modify canceled or filled order"
TICK = "Price must be divisible by tick size."
MIN_NOTIONAL = "Order must have minimum value of $10."
INVALID_SIZE = "Order has invalid size."
#: The HTTP status line of an IP rate-limit refusal.
IP_RATE_LIMITED = "429 Too Many Requests"
#: The HTTP status line of a server error (outcome unknown).
SERVER_ERROR = "502 Bad Gateway"

#: Rejection messages by status word; statuses not listed get no message.
REJECT_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        "tickRejected": TICK,
        "minTradeNtlRejected": MIN_NOTIONAL,
        "perpMarginRejected": "Insufficient margin to place order.",
        "reduceOnlyRejected": "Reduce only order would increase position.",
        "iocCancelRejected": "Order could not immediately match against any resting orders.",
        "oracleRejected": "Order price too far from oracle",
        "perpMaxPositionRejected": (
            "Order would cause position to exceed margin tier limit at current leverage"
        ),
        "positionIncreaseAtOpenInterestCapRejected": (
            "Order would increase open interest while open interest is capped"
        ),
        "openInterestIncreaseRejected": "Order would increase open interest too quickly",
    }
)


def bad_alo_px(bid: Decimal, ask: Decimal) -> str:
    """The post-only rejection, naming the book's touch."""
    return f"Post only order would have immediately matched, bbo was {bid}@{ask}."


def address_rate_limited(used: int, cap: int, volume_usd: Decimal) -> str:
    """The address rate-limit refusal (HTTP 200, ``status: err``)."""
    return (
        f"Too many cumulative requests sent ({used} > {cap}) for cumulative volume traded "
        f"${volume_usd:.2f}. Place taker orders to free up 1 request per USDC traded."
    )


def timed_out(seconds: float) -> str:
    """The client's own words for a request that got no answer in time."""
    return f"request timed out after {seconds:g} s"


def request_weight(commands: tuple[Command, ...]) -> int:
    """The IP-limit weight of a request: actions 1 + n // 40, orderStatus 2, openOrders 20."""
    first = commands[0]
    if isinstance(first, FetchOpenOrders):
        return 20
    if isinstance(first, QueryOrderStatus):
        return 2 * len(commands)
    return 1 + len(commands) // 40


@dataclass(frozen=True, kw_only=True, slots=True)
class Ticket:
    """A submitted request: what was sent, and when."""

    id: int
    commands: tuple[Command, ...]
    submitted_at: float

    @property
    def kind(self) -> str:
        """The exchange's name for the request: ``order``, ``cancel``, ``batchModify``,
        ``orderStatus`` or ``openOrders``."""
        first = self.commands[0]
        if isinstance(first, PlaceOrder):
            return "order"
        if isinstance(first, CancelOrder):
            return "cancel"
        if isinstance(first, ModifyOrder):
            return "batchModify"
        if isinstance(first, QueryOrderStatus):
            return "orderStatus"
        return "openOrders"


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    """The REST answer to a ticket, as the client receives it at ``at``.

    ``results`` has one result per command, in order (for an ``openOrders``
    request: one result for the fetch, definitive when ``snapshot`` is set).
    """

    at: float
    ticket: Ticket
    results: tuple[CommandResult, ...]
    snapshot: OpenOrdersSnapshot | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class WsMessage:
    """One websocket event (an order update or a fill), received at ``at``.

    ``seq`` numbers the exchange's messages (a duplicate repeats it);
    ``snapshot`` marks fills replayed by a (re)subscription, already sent before.
    """

    at: float
    event: ExchangeEvent
    seq: int
    snapshot: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class WsReconnected:
    """The websocket is connected again at ``at``; it was down since ``down_since``.

    Order updates sent in between are lost (the venue replays none).
    """

    at: float
    down_since: float


Delivery = Response | WsMessage | WsReconnected
