"""The market's own processes: price steps, takers, venue-initiated cancels, disconnects.

Each process reschedules itself on the :class:`~.scheduler.Scheduler` (price
steps when the path says, the others as Poisson processes with the rates of
the market and the fault profile) until the market closes; after that none
runs again, so in-flight requests and messages can settle and the scheduler
empties.
"""

from __future__ import annotations

import random

from .market import MarketParams
from .profiles import FaultProfile
from .scheduler import Scheduler
from .venue import Venue
from .websocket import WsFeed

__all__ = ["MarketProcesses"]


class MarketProcesses:
    """Starts and runs the processes of one market (see the module docstring).

    Args:
        scheduler: Where the processes schedule themselves.
        venue: Acts on the account's orders.
        ws: The websocket that disconnects.
        market: Taker arrival rate.
        profile: Venue-initiated cancel and disconnect rates.
        taker_rng: The takers' random stream.
        event_rng: The venue-initiated events' random stream.
    """

    def __init__(
        self,
        *,
        scheduler: Scheduler,
        venue: Venue,
        ws: WsFeed,
        market: MarketParams,
        profile: FaultProfile,
        taker_rng: random.Random,
        event_rng: random.Random,
    ) -> None:
        self._scheduler = scheduler
        self._venue = venue
        self._ws = ws
        self._market = market
        self._profile = profile
        self._taker_rng = taker_rng
        self._event_rng = event_rng
        self.closed_at: float | None = None

    def start(self, start: float) -> None:
        """Schedule the first occurrence of every process with a rate above zero."""
        at = self._scheduler.at
        first_step = self._venue.prices.next_change()
        if first_step is not None:
            at(first_step, self._price_step)
        if self._market.takers_per_s > 0:
            at(start + self._taker_rng.expovariate(self._market.takers_per_s), self._taker)
        # The per-second rates, not the profile's: a rate so small that it
        # underflows to 0 per second means the process never happens.
        if self._cancel_rate > 0:
            at(start + self._event_rng.expovariate(self._cancel_rate), self._exchange_cancel)
        if self._disconnect_rate > 0:
            at(start + self._event_rng.expovariate(self._disconnect_rate), self._ws_disconnect)

    def close(self, at: float) -> None:
        """Nothing runs after ``at``."""
        self.closed_at = at

    @property
    def _cancel_rate(self) -> float:
        return self._profile.exchange_cancels_per_min / 60.0

    @property
    def _disconnect_rate(self) -> float:
        return self._profile.ws_disconnects_per_hour / 3600.0

    def _open(self, t: float) -> bool:
        return self.closed_at is None or t <= self.closed_at

    def _price_step(self, t: float) -> None:
        if not self._open(t):
            return
        self._venue.move_price(t)
        nxt = self._venue.prices.next_change()
        if nxt is not None:
            self._scheduler.at(nxt, self._price_step)

    def _taker(self, t: float) -> None:
        if not self._open(t):
            return
        self._venue.taker(self._taker_rng, t)
        next_at = t + self._taker_rng.expovariate(self._market.takers_per_s)
        self._scheduler.at(next_at, self._taker)

    def _exchange_cancel(self, t: float) -> None:
        if not self._open(t):
            return
        rng, statuses = self._event_rng, self._profile.exchange_cancel_statuses
        resting = list(self._venue.book.resting.values())
        if resting and statuses:
            status = rng.choice(statuses)
            self._venue.exchange_cancel(rng.choice(resting), status, t)
        self._scheduler.at(t + rng.expovariate(self._cancel_rate), self._exchange_cancel)

    def _ws_disconnect(self, t: float) -> None:
        if not self._open(t):
            return
        back = t
        if self._ws.disconnect(t):
            back = t + self._ws.downtime()
            self._scheduler.at(back, self._ws.reconnect)
        next_at = back + self._event_rng.expovariate(self._disconnect_rate)
        self._scheduler.at(next_at, self._ws_disconnect)
