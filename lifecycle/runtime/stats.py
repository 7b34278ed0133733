"""What the runtime reports: its counters (:class:`RuntimeStats`) and the observer it
tells of every change to the engine (:class:`RuntimeObserver`).

Theory of operation
-------------------
The runtime and its collaborators (executor, safety sync, fill sync) count
what they do in one shared :class:`RuntimeStats`, readable at any time. An
optional :class:`RuntimeObserver` (metrics, a simulation's referee) hears of
each event the engine handled and of each change to the engine, as it happens.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from lifecycle.core.events import ExchangeEvent

__all__ = ["RuntimeObserver", "RuntimeStats"]


@dataclass(slots=True)
class RuntimeStats:
    """What the runtime did (counters; read them at any time)."""

    #: Requests sent, by kind (``place``, ``cancel``, ``modify``, ``query``,
    #: ``open_orders``, ``fills``, ``headroom``).
    requests: Counter[str] = field(default_factory=Counter)
    #: Commands carried by those requests (a batch of n counts n).
    commands: int = 0
    #: Results the adapter classified ambiguous.
    ambiguous: int = 0
    #: Results refused for rate limits (whole requests count once per command).
    rate_limited: int = 0
    #: Commands sent again, or follow-up queries, after a backoff.
    retries: int = 0
    #: Retries and held commands dropped because their order no longer needed
    #: them (a cancel whose order is gone, a modify overtaken by a cancel).
    dropped: int = 0
    #: Commands given up after ``max_attempts`` (left to the engine's timers).
    gave_up: int = 0
    #: Commands that waited for an earlier request about the same order.
    held: int = 0
    #: Placements and modifies a backoff or the headroom gate held back (once each).
    gated: int = 0
    #: Events handed to the engine (websocket and REST).
    events: int = 0
    #: Safety syncs applied, and fetches that returned no snapshot.
    syncs: int = 0
    syncs_failed: int = 0
    #: Fill-history fetches, the fills they returned, and fetches that failed.
    fill_syncs: int = 0
    fills_fetched: int = 0
    fill_syncs_failed: int = 0
    #: Headroom readings that failed (adapters offering them).
    headroom_failed: int = 0
    #: Websocket reconnects reported by the adapter.
    reconnects: int = 0
    #: Request weight spent, and seconds spent waiting for weight budget.
    weight: int = 0
    throttled_s: float = 0.0


class RuntimeObserver(Protocol):
    """Told what the runtime does to the engine (metrics, simulation referees)."""

    def event_handled(self, event: ExchangeEvent, now: float, fills_applied: int) -> None:
        """``event`` was handled at ``now``; ``fills_applied`` is how many fills moved
        the position while handling it (0 or 1)."""

    def engine_changed(self, now: float) -> None:
        """The engine was changed at ``now`` (events, timers, a snapshot, a request)."""

