"""The adapter protocol: what an exchange connection offers the runtime.

An adapter turns commands into exchange requests and exchange answers into
events, and it classifies every outcome before the core sees it:

* **definitive**: the exchange answered. The :class:`CommandResult` carries the
  events the engine must handle (``OrderAccepted`` for a resting placement,
  ``OrderRejected`` with the exchange's status word, ``OrderFilled`` for an
  immediate fill, ``CancelRejected(order_gone=True)`` for "Order was never
  placed, already canceled, or filled", ``ModifyRejected(order_gone=True)`` for
  "Cannot modify canceled or filled order", ``OrderModified`` with the new oid,
  ``OrderStatusReport`` for a status query...).
* **refused for rate limits**: the exchange refused the whole request without
  acting on it (``rate_limited=True``, its own words in ``error``). Nothing
  happened to any order; the caller may retry later.
* **ambiguous**: timeout, 5xx, transport error, whole-batch failure. The
  order may or may not have been placed, cancelled or modified. Never taken as
  a rejection: the order stays in its asking state until a status query or a
  later exchange message decides.

This module is typing only: the core defines the contract and never imports
an adapter, an event loop or a network library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from lifecycle.core.commands import (
    CancelOrder,
    Command,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import LifecycleError
from lifecycle.core.events import ExchangeEvent
from lifecycle.core.records import record
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot

__all__ = [
    "CommandResult",
    "ExchangeAdapter",
    "FillsUnavailable",
    "OpenOrder",
    "OpenOrdersSnapshot",
    "SnapshotUnavailable",
]


@record
class CommandResult:
    """The outcome of one command, classified by the adapter.

    Attributes:
        command: The command this answers.
        events: What the engine must handle when the outcome is definitive;
            empty when ``ambiguous`` or ``rate_limited``.
        ambiguous: The outcome is unknown (timeout, 5xx, transport error):
            the action may or may not have happened. Never a rejection.
        error: The exchange's (or the transport's) own words, when any.
        rate_limited: The exchange refused the whole request for its rate
            limits, without acting on it. Definitive, and distinct from a
            rejection of the order itself.
    """

    command: Command
    events: tuple[ExchangeEvent, ...]
    ambiguous: bool
    error: str = ""
    rate_limited: bool = False

    @property
    def definitive(self) -> bool:
        """True when the exchange's answer is known (a rate-limit refusal included)."""
        return not self.ambiguous


class _RequestUnavailable(LifecycleError):
    """A read request got no answer (ambiguous failure or rate limit).

    Attributes:
        rate_limited: The exchange refused the request for its rate limits.
        error: The exchange's or the transport's words.
    """

    #: What the request would have returned, for the message.
    missing = "answer"

    def __init__(self, error: str, *, rate_limited: bool = False) -> None:
        self.error = error
        self.rate_limited = rate_limited
        super().__init__(f"no {self.missing}: {error}")


class SnapshotUnavailable(_RequestUnavailable):
    """An open-orders request got no snapshot (ambiguous failure or rate limit).

    Attributes:
        rate_limited: The exchange refused the request for its rate limits.
        error: The exchange's or the transport's words.
    """

    missing = "open-orders snapshot"


class FillsUnavailable(_RequestUnavailable):
    """A fill-history request got no answer (ambiguous failure or rate limit).

    Attributes:
        rate_limited: The exchange refused the request for its rate limits.
        error: The exchange's or the transport's words.
    """

    missing = "fill history"


class ExchangeAdapter(Protocol):
    """One account on one market of one exchange, as the runtime drives it.

    Every batch method returns one :class:`CommandResult` per command, in the
    order of the commands. Methods never raise for the exchange's answers
    (those are results); they raise only for the caller's misuse.
    """

    async def place(self, orders: Sequence[PlaceOrder]) -> list[CommandResult]:
        """Place a batch of limit orders."""
        ...

    async def cancel(self, cancels: Sequence[CancelOrder]) -> list[CommandResult]:
        """Cancel a batch of orders (by oid when known, else by cloid)."""
        ...

    async def modify(self, modifies: Sequence[ModifyOrder]) -> list[CommandResult]:
        """Modify a batch of orders; a success may carry a new oid."""
        ...

    async def open_orders(self) -> OpenOrdersSnapshot:
        """Fetch the open orders of the configured market.

        Raises:
            SnapshotUnavailable: No snapshot could be obtained.
        """
        ...

    async def order_status(self, query: QueryOrderStatus) -> CommandResult:
        """Ask what became of one order; definitive results carry one
        :class:`~lifecycle.core.events.OrderStatusReport`."""
        ...

    def events(self) -> AsyncIterator[ExchangeEvent]:
        """The stream of websocket order updates and fills, in arrival order."""
        ...
