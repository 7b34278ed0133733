"""The discrete-event core: happenings at the venue and deliveries to the client.

Two heaps ordered by ``(time, sequence)``. Happenings are callables run at
their time (a request arriving, a price step, a taker...); running one may
schedule others at the same or a later instant. Deliveries are what the client
receives, each at its own time. Since every delivery is scheduled by a
happening no later than itself, running every happening up to ``now`` before
popping the deliveries due by ``now`` yields deliveries in global time order
across calls. The sequence number breaks ties in scheduling order, which keeps
runs reproducible.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from lifecycle.core.errors import TimeWentBackwards

from .wire import Delivery

__all__ = ["Action", "Scheduler"]

#: A happening: called with the time it happens at.
Action = Callable[[float], None]


class Scheduler:
    """Virtual time for the simulated exchange.

    Args:
        start: The initial time.
    """

    def __init__(self, start: float) -> None:
        self._now = start
        self._seq = itertools.count()
        self._happenings: list[tuple[float, int, Action]] = []
        self._deliveries: list[tuple[float, int, Delivery, int | None]] = []
        #: Called with ``t`` whenever a happening or a delivery is scheduled at ``t``.
        self.listener: Callable[[float], None] | None = None

    @property
    def now(self) -> float:
        """The latest time run to."""
        return self._now

    def at(self, t: float, action: Action) -> None:
        """Run ``action`` at ``t`` (after anything already scheduled for ``t``)."""
        heapq.heappush(self._happenings, (t, next(self._seq), action))
        if self.listener is not None:
            self.listener(t)

    def deliver(self, at: float, item: Delivery, connection: int | None) -> None:
        """Hand ``item`` to the client at ``at``; ``connection`` names the websocket
        connection it travels on (None for REST answers and notices)."""
        heapq.heappush(self._deliveries, (at, next(self._seq), item, connection))
        if self.listener is not None:
            self.listener(at)

    def run_until(self, now: float) -> None:
        """Run every happening at or before ``now``, in time order.

        Raises:
            TimeWentBackwards: ``now`` is before the latest time run to.
        """
        if now < self._now:
            raise TimeWentBackwards(f"now={now} is earlier than the model's time {self._now}")
        happenings = self._happenings
        while happenings and happenings[0][0] <= now:
            t, _, action = heapq.heappop(happenings)
            action(t)
        self._now = now

    def pop_due(self, now: float, alive: Callable[[int, float], bool]) -> list[Delivery]:
        """Remove and return the deliveries due by ``now``, in time order, without
        the websocket messages ``alive(connection, at)`` says were cut off."""
        out: list[Delivery] = []
        deliveries = self._deliveries
        while deliveries and deliveries[0][0] <= now:
            at, _, item, connection = heapq.heappop(deliveries)
            if connection is None or alive(connection, at):
                out.append(item)
        return out

    def next_time(self) -> float | None:
        """The time of the next happening or delivery; None when there is none."""
        times = [heap[0][0] for heap in (self._happenings, self._deliveries) if heap]
        return min(times) if times else None
