"""The simulated websocket: delays, reordering, duplicates, drops and disconnects.

Each event the exchange emits gets a delivery time ``t + ws_latency``. Messages
keep their order (one TCP stream) unless one is held back by
``ws_reorder_delay`` and overtaken; a message may be lost, or delivered twice.

A disconnect at ``t`` loses every message not delivered by ``t`` and every
message emitted while the socket is down; after ``ws_downtime`` the client is
told (:class:`~lifecycle.adapters.simulated.wire.WsReconnected`) and gets the
venue's fills snapshot (the recent fills, flagged ``snapshot``), but no order
update of the downtime is replayed. Messages are tagged with the connection
they were sent on, so the exchange can drop the ones a disconnect cut off.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable

from lifecycle.core.events import ExchangeEvent, OrderFilled

from .profiles import FaultProfile
from .wire import Delivery, WsMessage, WsReconnected

__all__ = ["FILL_SNAPSHOT_SIZE", "WsFeed"]

#: How many recent fills a (re)subscription replays.
FILL_SNAPSHOT_SIZE = 50
#: Gap between a message and its duplicate.
_DUPLICATE_GAP_S = 0.001

Deliver = Callable[[float, Delivery, int | None], None]


class WsFeed:
    """One websocket connection's worth of faults.

    Args:
        profile: Delay distributions and fault rates.
        rng: The feed's own random stream.
        deliver: Schedules a delivery: ``(at, item, connection)``; the
            connection is None for items that no disconnect can cut off.
        counts: Where the faults produced are counted (``ws_drop``,
            ``ws_duplicate``, ``ws_reorder``, ``ws_lost_while_down``).
    """

    def __init__(
        self, profile: FaultProfile, rng: random.Random, deliver: Deliver, counts: Counter[str]
    ) -> None:
        self._profile = profile
        self._rng = rng
        self._deliver = deliver
        self._counts = counts
        self._connection = 0
        self._cut_at: dict[int, float] = {}
        self._down_since: float | None = None
        self._held = False
        self._fifo_at = float("-inf")
        self._seq = 0
        self._recent_fills: deque[OrderFilled] = deque(maxlen=FILL_SNAPSHOT_SIZE)

    @property
    def connected(self) -> bool:
        """False while the socket is down."""
        return self._down_since is None

    def send(self, event: ExchangeEvent, t: float) -> None:
        """Emit ``event`` at ``t``, through the faults of the profile."""
        if isinstance(event, OrderFilled):
            self._recent_fills.append(event)  # the venue's record, whatever the socket does
        self._seq += 1
        if self._down_since is not None:
            self._counts["ws_lost_while_down"] += 1
            return
        p, rng = self._profile, self._rng
        if p.ws_drop_rate and rng.random() < p.ws_drop_rate:
            self._counts["ws_drop"] += 1
            return
        at = t + p.ws_latency.draw(rng)
        if p.ws_reorder_rate and rng.random() < p.ws_reorder_rate:
            self._counts["ws_reorder"] += 1
            at += p.ws_reorder_delay.draw(rng)  # held back; later messages overtake it
        else:
            at = max(at, self._fifo_at)
            self._fifo_at = at
        message = WsMessage(at=at, event=event, seq=self._seq)
        self._deliver(at, message, self._connection)
        if p.ws_duplicate_rate and rng.random() < p.ws_duplicate_rate:
            self._counts["ws_duplicate"] += 1
            again = at + _DUPLICATE_GAP_S
            self._deliver(again, WsMessage(at=again, event=event, seq=self._seq), self._connection)

    def disconnect(self, t: float) -> bool:
        """Cut the connection at ``t``. Returns False if it was already down."""
        if self._down_since is not None:
            return False
        self._down_since = t
        self._cut_at[self._connection] = t
        self._counts["ws_disconnect"] += 1
        return True

    def hold(self, t: float) -> None:
        """The client is gone (its process stopped) at ``t``: cut the connection,
        and keep it down, whatever reconnect is due, until :meth:`release`."""
        self.disconnect(t)
        self._held = True

    def release(self, t: float) -> None:
        """The client is back at ``t``: it connects again (see :meth:`reconnect`)."""
        self._held = False
        self.reconnect(t)

    def reconnect(self, t: float) -> None:
        """Connect again at ``t``: announce it, then replay the fills snapshot.

        Does nothing while the client is held down (:meth:`hold`).
        """
        down_since = self._down_since
        if down_since is None or self._held:
            return
        self._down_since = None
        self._connection += 1
        self._fifo_at = t
        self._deliver(t, WsReconnected(at=t, down_since=down_since), None)
        for fill in self._recent_fills:
            self._seq += 1
            self._deliver(t, WsMessage(at=t, event=fill, seq=self._seq, snapshot=True), None)

    def alive(self, connection: int, at: float) -> bool:
        """Whether a message sent on ``connection`` is received at ``at``.

        A message the disconnect cut off is counted (``ws_cut_off``) when asked about.
        """
        cut = self._cut_at.get(connection)
        if cut is None or at < cut:
            return True
        self._counts["ws_cut_off"] += 1
        return False

    def downtime(self) -> float:
        """Draw how long the next disconnect lasts."""
        return self._profile.ws_downtime.draw(self._rng)
