"""What every handler of the loopback shares: its books, its clock and its refusals.

Theory of operation
-------------------
Time has one source, the injectable ``clock`` (seconds since the epoch; the
wall clock by default, a virtual loop's clock in a simulation), read through
:meth:`Context.now`, which never goes backwards, so the sims never see time
run back. A request to a sim (:meth:`Context.request`) wakes the pump that
moves the sims (the server's), and waits for the sim to answer after its
latency. The answer is then read with :meth:`Context.results`, which turns
what the fault profile did to it into the HTTP layer's terms:

* a lost answer (the sim's timeout or 5xx) raises :class:`Lost`: the server
  drops the connection without answering, or answers 502;
* an IP rate-limit refusal raises :class:`HttpRefusal` (429);
* an address rate-limit refusal raises :class:`AddressLimited`, which the
  action handlers answer with ``{"status": "err"}`` (HTTP 200).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from lifecycle.core.commands import Command
from lifecycle.runtime import CommandResult

from ...simulated import FaultProfile, Response
from ...simulated.wire import IP_RATE_LIMITED, SERVER_ERROR
from .auth import Accounts, NonceBook
from .markets import MarketSpec
from .rules import BAD_JSON, WeightLimiter
from .state import Desk, Ledger

__all__ = ["AddressLimited", "Context", "HttpRefusal", "Lost"]


class HttpRefusal(Exception):
    """An answer other than HTTP 200: ``status`` and a text/plain body."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text

    @classmethod
    def malformed(cls) -> HttpRefusal:
        """The 422 of a body that does not fit the schema."""
        return cls(422, BAD_JSON)


class Lost(Exception):
    """The sim lost the answer: ``timeout`` (no answer at all) or ``server_error`` (5xx)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class AddressLimited(Exception):
    """The account's request budget refused the action (the exchange's words)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(kw_only=True)
class Context:
    """The loopback's shared state (one per server)."""

    ledger: Ledger
    accounts: Accounts
    nonces: NonceBook
    limiter: WeightLimiter
    profile: FaultProfile
    mainnet: bool
    clock: Callable[[], float]
    wake: Callable[[], None]
    #: Volume an account must have traded before it may set a dead man's switch.
    schedule_cancel_volume: int = 1_000_000
    #: Dead man's switches: account -> when (ms).
    deadlines: dict[str, int] = field(default_factory=dict)
    #: How many times each account's dead man's switch fired.
    triggers: Counter[str] = field(default_factory=Counter)
    #: Leverage set by ``updateLeverage``: (account, asset) -> (is_cross, leverage).
    leverage: dict[tuple[str, int], tuple[bool, int]] = field(default_factory=dict)
    #: Actions counted against each account's request budget (orders, cancels...).
    actions_used: Counter[str] = field(default_factory=Counter)
    _last: float = 0.0

    @property
    def markets(self) -> tuple[MarketSpec, ...]:
        """The markets, asset id = position."""
        return self.ledger.markets

    def now(self) -> float:
        """The clock, never earlier than it read before."""
        t = self.clock()
        if t > self._last:
            self._last = t
        return self._last

    def now_ms(self) -> int:
        """:meth:`now` in milliseconds."""
        return round(self.now() * 1000)

    def mid(self, asset: int) -> Decimal:
        """The market's mid now."""
        return self.ledger.quotes[asset].sim.mid

    def asset_of(self, coin: object) -> int | None:
        """The asset id of a coin name, or None."""
        for i, market in enumerate(self.markets):
            if market.name == coin:
                return i
        return None

    async def request(self, desk: Desk, commands: Sequence[Command]) -> Response:
        """Send one request to ``desk``'s sim and wait for its answer."""
        future = desk.submit(commands, self.now())
        self.wake()
        return await future

    @staticmethod
    def results(response: Response) -> tuple[CommandResult, ...]:
        """The results of an answer that arrived and was not refused as a whole.

        Raises:
            Lost: The answer was lost (timeout or 5xx).
            HttpRefusal: The IP budget refused the request (429).
            AddressLimited: The account's budget refused the action.
        """
        first = response.results[0]
        if first.ambiguous:
            raise Lost("server_error" if first.error == SERVER_ERROR else "timeout")
        if first.rate_limited:
            if first.error == IP_RATE_LIMITED:
                raise HttpRefusal(429, IP_RATE_LIMITED)
            raise AddressLimited(first.error)
        return response.results
