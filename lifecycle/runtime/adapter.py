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

Hyperliquid refuses for rate limits in two ways: HTTP 429 for the IP limit, and
an HTTP 200 ``err`` saying "Too many cumulative requests sent ..." for the
address limit; :func:`is_rate_limit_refusal` recognises both texts, for
adapters classifying answers. An adapter may also offer the account's request
headroom (:class:`HeadroomSource`, Hyperliquid's ``userRateLimit``), which the
runtime polls to stop new placements before the address limit refuses them.

An adapter may also report what it could not use (a message it could not
decode, a status word it does not know): :class:`AnomalySource`. The runtime
takes those reports after every change to the engine and records each as an
anomaly of the engine (:func:`anomaly_drain`); an adapter without the method is
driven as before.

This module states the contract (and that one small drain): the core defines
it and never imports an adapter, an event loop or a network library.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from typing import Protocol, runtime_checkable

import msgspec

from lifecycle.core.anomalies import AnomalyKind, AnomalyLog
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import LifecycleError
from lifecycle.core.events import ExchangeEvent
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot

__all__ = [
    "AdapterAnomaly",
    "AnomalySource",
    "CommandResult",
    "ExchangeAdapter",
    "FillsUnavailable",
    "HeadroomReading",
    "HeadroomSource",
    "HeadroomUnavailable",
    "OpenOrder",
    "OpenOrdersSnapshot",
    "SnapshotUnavailable",
    "anomaly_drain",
    "is_rate_limit_refusal",
]

#: How the exchange's words for a rate-limit refusal begin: the address limit's
#: (HTTP 200, ``status: err``) and the IP limit's HTTP status line.
RATE_LIMIT_PREFIXES = ("Too many cumulative requests sent", "429")


def is_rate_limit_refusal(error: str) -> bool:
    """Whether ``error`` is Hyperliquid refusing a request for its rate limits.

    True for the address limit's "Too many cumulative requests sent ..." and
    for an HTTP 429 ("429 Too Many Requests"). An adapter seeing either sets
    :attr:`CommandResult.rate_limited`: nothing happened, the request may be
    sent again later.
    """
    return error.startswith(RATE_LIMIT_PREFIXES) or "Too Many Requests" in error


class CommandResult(msgspec.Struct, frozen=True, kw_only=True):
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


class HeadroomUnavailable(_RequestUnavailable):
    """A headroom request got no answer (ambiguous failure or rate limit).

    Attributes:
        rate_limited: The exchange refused the request for its rate limits.
        error: The exchange's or the transport's words.
    """

    missing = "rate-limit status"


class HeadroomReading(msgspec.Struct, frozen=True, kw_only=True):
    """The account's address-based request allowance (Hyperliquid ``userRateLimit``).

    Attributes:
        used: Requests used (``nRequestsUsed``: cumulative use beyond what was reserved).
        cap: Requests allowed so far (``nRequestsCap``: the initial buffer plus
            one per USDC traded).
        surplus: Reserved requests not used yet (``nRequestsSurplus``).
        cum_volume: Cumulative traded volume in USDC (``cumVlm``).
    """

    used: int
    cap: int
    surplus: int = 0
    cum_volume: Decimal = Decimal(0)

    @property
    def fraction(self) -> float:
        """Headroom as a fraction of the cap: ``(cap - used) / cap``, 0 when spent."""
        if self.cap <= 0:
            return 0.0
        return max(0, self.cap - self.used) / self.cap


@runtime_checkable
class HeadroomSource(Protocol):
    """An adapter that can read the account's request headroom (``userRateLimit``)."""

    async def rate_limit_status(self) -> HeadroomReading:
        """The account's request allowance now.

        Raises:
            HeadroomUnavailable: The request failed or was rate limited; the
                runtime asks again later.
        """
        ...


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


class AdapterAnomaly(msgspec.Struct, frozen=True, kw_only=True):
    """Something the adapter found it could not use, to record as an engine anomaly.

    Attributes:
        kind: The anomaly's kind (``malformed_message``, ``unknown_status``...).
        at: When the adapter found it (runtime clock).
        detail: What and where, in ASCII (never an exchange body holding a secret).
        order_id: The order it concerns (its cloid, or ``oid:N``), if known.
    """

    kind: AnomalyKind
    at: float
    detail: str
    order_id: str | None = None


@runtime_checkable
class AnomalySource(Protocol):
    """An adapter that reports what it could not use (optional)."""

    def take_anomalies(self) -> Sequence[AdapterAnomaly]:
        """The anomalies found since the last call, oldest first (each given once)."""
        ...


def _nothing() -> None:
    return None


def anomaly_drain(adapter: object, log: AnomalyLog) -> Callable[[], None]:
    """A call that records in ``log`` what ``adapter`` reported since the last call.

    A no-op when ``adapter`` is no :class:`AnomalySource`, so the runtime can
    call it after every change to the engine whatever its adapter offers.
    """
    if not isinstance(adapter, AnomalySource):
        return _nothing
    take = adapter.take_anomalies

    def drain() -> None:
        for found in take():
            log.record(found.kind, found.at, found.order_id, found.detail)

    return drain
