"""``lifecycle run``'s view of the market and its quoting cycle.

Theory of operation
-------------------
The quoter needs the best bid and ask. :class:`Touch` keeps them from the
websocket's ``bbo`` channel (subscribed on the same connection as the
account's channels; the adapter hands it market messages). Hyperliquid sends
``bbo`` only when it changes, so a quiet market looks stale: when the last
``bbo`` is older than ``fresh_s``, :meth:`Touch.book` asks ``l2Book`` over REST
once and uses that. A side with no order is None (the quoter then pulls every
quote).

:func:`quote_forever` runs the cycle every ``quote_interval_s``, as the
simulated bot does: with none of our orders working, a cycle places only as a
recovery the runtime allows (:meth:`Runtime.try_recovery
<lifecycle.runtime.driver.Runtime.try_recovery>`); otherwise it hands the
quoter the touch, and the engine's commands go out at once
(:meth:`Runtime.request <lifecycle.runtime.driver.Runtime.request>`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from lifecycle.core.states import WORKING
from lifecycle.engine.facade import Engine
from lifecycle.policy.reconciler import Book
from lifecycle.runtime import Runtime, current_time, sleep
from lifecycle.sim.quoter import LadderQuoter

from .errors import HyperliquidError
from .rest import RestClient
from .ws import WsMessage

__all__ = ["Touch", "quote_forever"]

log = logging.getLogger("lifecycle.hyperliquid.run")


class _Level(msgspec.Struct):
    px: Decimal


class _Bbo(msgspec.Struct):
    coin: str
    bbo: tuple[_Level | None, _Level | None]


class _L2Book(msgspec.Struct):
    coin: str
    levels: tuple[list[_Level], list[_Level]]


def _price(level: _Level | None) -> Decimal | None:
    if level is None or not level.px.is_finite() or level.px <= 0:
        return None
    return level.px


class Touch:
    """The best bid and ask of one coin (see the module docstring).

    Args:
        rest: Asks ``l2Book`` when the websocket's touch is stale.
        coin: The market's wire name.
        fresh_s: How old a websocket touch may be before ``l2Book`` is asked.
    """

    def __init__(self, rest: RestClient, coin: str, *, fresh_s: float) -> None:
        self.rest = rest
        self.coin = coin
        self.fresh_s = fresh_s
        self.bid: Decimal | None = None
        self.ask: Decimal | None = None
        #: When the touch was last read (runtime clock); None before the first reading.
        self.at: float | None = None
        #: ``l2Book`` requests made because the websocket's touch was stale.
        self.polls = 0

    def on_market(self, message: WsMessage, now: float) -> None:
        """Take a ``bbo`` message of this coin (others are ignored)."""
        if message.channel != "bbo":
            return
        try:
            bbo = msgspec.json.decode(message.data, type=_Bbo)
        except msgspec.DecodeError as exc:
            log.warning("bbo message not read: %s", exc)
            return
        if bbo.coin == self.coin:
            self._set(_price(bbo.bbo[0]), _price(bbo.bbo[1]), now)

    async def book(self) -> Book | None:
        """The touch now: the websocket's if fresh, else ``l2Book``'s; None if neither."""
        now = current_time()
        if self.at is None or now - self.at > self.fresh_s:
            await self._poll()
        if self.at is None:
            return None
        return Book(best_bid=self.bid, best_ask=self.ask, at=self.at)

    async def _poll(self) -> None:
        self.polls += 1
        try:
            answer: Any = await self.rest.info({"type": "l2Book", "coin": self.coin})
            book = msgspec.convert(answer, _L2Book)
        except (HyperliquidError, msgspec.ValidationError) as exc:
            log.warning("l2Book of %s not read: %s", self.coin, exc)
            return
        bids, asks = book.levels
        self._set(_price(bids[0] if bids else None), _price(asks[0] if asks else None),
                  current_time())

    def _set(self, bid: Decimal | None, ask: Decimal | None, now: float) -> None:
        self.bid, self.ask, self.at = bid, ask, now


async def quote_forever(
    runtime: Runtime, engine: Engine, quoter: LadderQuoter, touch: Touch, interval_s: float
) -> None:
    """Quote every ``interval_s`` until cancelled (see the module docstring)."""
    while True:
        now = current_time()
        working = any(o.state in WORKING for o in engine.registry)
        if working or runtime.try_recovery(now):
            book = await touch.book()
            if book is not None:
                runtime.request(_quoting(quoter, book))
        await sleep(interval_s)


def _quoting(quoter: LadderQuoter, book: Book) -> Callable[[Engine, float], object]:
    def quote(engine: Engine, now: float) -> object:
        return quoter.quote(engine, book, now)

    return quote
