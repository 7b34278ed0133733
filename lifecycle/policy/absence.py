"""Absence streaks: how long each of our orders has been missing from the snapshots.

Theory of operation
-------------------
The safety sync counts, per order of ours, the consecutive fresh snapshots it
was absent from and when the first of them was taken: a *streak*. Being listed
again ends the streak; so does leaving the registry or the states whose
absence is kept (the sync says which, :meth:`Absences.forget`). A streak long
enough in both count (``sync.missing_snapshots``) and span
(``sync.missing_min_s``) is *due* its one status query (:meth:`Absences.absent`
says so once per streak), and *confirms* a "not found" answer
(:meth:`Absences.confirmed`): Hyperliquid answers ``unknownOid`` even for orders
``openOrders`` just listed, so only a streak makes that answer credible.

Absence never ends an order here: this only counts, the sync asks, and only
the exchange's answer moves the order.

Which absences count: EXPECTED and FINALIZED_PROTECTED orders are too young to
be listed reliably, so their absence neither counts nor is reported. CANCELLING
orders are expected to vanish, and the engine already queries them after
``orders.cancel_timeout_s``: their streaks are kept (to confirm a "not found")
but get no query of their own. MODIFYING orders do count: a cancel-replace
keeps the cloid, so a modified order stays listed under it, and the engine has
no timer of its own for a modify whose answer was lost. One query is sent per
absence streak; the order must be listed again (or leave those states) before
another streak can start, so a snapshot that persistently lacks our orders
costs one query per order, not one per sync.
"""

from __future__ import annotations

from collections.abc import Collection, Container

from lifecycle.config import SyncConfig
from lifecycle.core.order import Order
from lifecycle.core.states import OrderState

__all__ = ["MISSING_STATES", "STREAK_STATES", "Absences"]

#: States of ours whose absence from fresh snapshots counts towards a query.
MISSING_STATES: frozenset[OrderState] = frozenset({OrderState.TRACKED, OrderState.MODIFYING})
#: States whose absence streaks are kept: those above, and CANCELLING (queried on
#: the engine's cancel timer instead), so that a "not found" answer can be confirmed.
STREAK_STATES: frozenset[OrderState] = MISSING_STATES | {OrderState.CANCELLING}


class Absences(dict[Order, tuple[int, float, bool]]):
    """The absence streaks of the orders of one engine.

    A dict from each order in a streak to ``(count, since, queried)``: the
    consecutive fresh snapshots it was absent from, when the first of them was
    taken, and whether the streak's query was sent. Read it as a dict (a
    checkpoint copies it); an order listed again is popped (its streak ends);
    otherwise change it through the methods below.
    """

    def absent(
        self, order: Order, taken_at: float, sync: SyncConfig, *, queried: bool = True
    ) -> tuple[int, float] | None:
        """Count one more absence of ``order``, from the snapshot taken at ``taken_at``.

        Args:
            order: The order missing from the snapshot.
            taken_at: When the snapshot was taken.
            sync: The thresholds of a due streak.
            queried: Whether this order's streak gets a query of its own
                (False for an order whose state has another timer for that).

        Returns:
            ``(count, span_s)`` when the streak has just become due its query
            (once per streak, and only when ``queried``), else None.
        """
        count, since, sent = self.get(order, (0, taken_at, False))
        count += 1
        span_s = taken_at - since
        due = None
        long_enough = count >= sync.missing_snapshots and span_s >= sync.missing_min_s
        if queried and not sent and long_enough:
            due = count, span_s
            sent = True
        self[order] = (count, since, sent)
        return due

    def confirmed(self, order: Order, last_taken_at: float | None, sync: SyncConfig) -> bool:
        """Whether ``order``'s streak is long enough to prove it gone.

        True when it was absent from the last ``sync.missing_snapshots``
        consecutive fresh snapshots, the last taken at ``last_taken_at``,
        spanning at least ``sync.missing_min_s``.
        """
        streak = self.get(order)
        if streak is None:
            return False
        count, since, _ = streak
        return (
            count >= sync.missing_snapshots
            and last_taken_at is not None
            and last_taken_at - since >= sync.missing_min_s
        )

    def forget(self, registry: Container[Order], states: Collection[OrderState]) -> None:
        """End the streaks of orders gone from ``registry`` or out of ``states``."""
        for order in [o for o in self if o not in registry or o.state not in states]:
            del self[order]
