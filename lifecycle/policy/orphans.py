"""Orphans: what the safety sync does with an exchange order no order here holds.

Theory of operation
-------------------
A row naming no order the engine tracks is an orphan, unless its cloid says it
is ours from this very run. Who owns a cloid is read from its first 8 bytes
(see :class:`~lifecycle.core.ids.CloidFactory`): the namespace tag and the run
id.

**This run's cloids are never orphans.** The engine made the cloid, so the
order is ours even when the engine no longer holds it: an order declared never
placed whose tombstone was evicted before the exchange showed it resting, say.
Such a row is adopted at once (no grace, whatever ``orders.orphan_policy``
says) and recorded as an anomaly naming what happened; the reconciler then
keeps, modifies or cancels it like any order of ours. The engine's table
adopts only an aged orphan, so the order is entered as a candidate and aged
on the spot (``orphan_seen``, ``grace_elapsed``, ``adopt``): every step is a
legal move of the table, taken through the engine.

**Other orphans** become ORPHAN_CANDIDATE, age on the engine's timer after
``orders.orphan_grace_s`` and, still listed, are handled by
``orders.orphan_policy``, by who owns the order's cloid
(:meth:`CloidFactory.owns <lifecycle.core.ids.CloidFactory.owns>`: our
namespace, any run):

============  ==========================  =====================
policy        our namespace, earlier run  foreign or no cloid
============  ==========================  =====================
``cancel``    cancel                      cancel
``adopt``     adopt (TRACKED)             cancel
``ignore``    adopt (TRACKED)             left alone, reported
============  ==========================  =====================

``ignore`` exists to leave other traders' orders on a shared account alone. An
order carrying our namespace is ours by construction (left by an earlier run),
and leaving it untracked would leave a quote resting that nothing manages;
adoption sends nothing by itself.
"""

from __future__ import annotations

import logging

from lifecycle.config import OrphanPolicy
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.ids import Cloid, CloidFactory
from lifecycle.core.order import Order
from lifecycle.core.states import OrderState, Trigger
from lifecycle.policy.asking import AskingEngine
from lifecycle.policy.snapshot import Tally

__all__ = ["OrphanHandler", "run_prefix"]

log = logging.getLogger("lifecycle.safety_sync")

S = OrderState


def run_prefix(cloids: CloidFactory) -> str:
    """The text every cloid of ``cloids``' run starts with: ``0x``, namespace tag, run id."""
    return cloids.prefix


class OrphanHandler:
    """Applies the orphan rules above for one engine's safety sync.

    Args:
        engine: The engine the sync drives.
        counts: The sync's counters, updated here (``orphans_cancelled``,
            ``orphans_adopted``, ``orphans_ignored``, ``own_orders_adopted``).
        ignored: The foreign aged orphans already reported as left alone (the
            sync's set, reported once each).
    """

    __slots__ = ("_counts", "_engine", "_ignored")

    def __init__(self, engine: AskingEngine, counts: dict[str, int], ignored: set[Order]) -> None:
        self._engine = engine
        self._counts = counts
        self._ignored = ignored

    def this_run(self, cloid: Cloid | None) -> bool:
        """Whether ``cloid`` was made by the engine's cloid factory in this run."""
        if cloid is None:
            return False
        return cloid.startswith(self._engine.cloids.prefix)

    def adopt_own(self, order: Order, tally: Tally, now: float, why: str) -> None:
        """Adopt ``order`` (a candidate or an aged orphan of this run) at once, as TRACKED."""
        engine = self._engine
        engine.move(order, Trigger.ADOPT, now)
        tally.own_adopted += 1
        self._counts["own_orders_adopted"] += 1
        engine.anomalies.record(
            AnomalyKind.UNKNOWN_ORDER, now, order.label,
            f"the open-orders snapshot lists oid {order.oid} under a cloid of this run "
            f"({why}): ours, adopted as TRACKED, never an orphan",
        )

    def handle_aged(self, order: Order, tally: Tally, now: float) -> None:
        """Apply the orphan policy to an aged orphan the snapshot still lists."""
        engine = self._engine
        policy = engine.config.orders.orphan_policy
        counts = self._counts
        if policy is not OrphanPolicy.CANCEL and engine.cloids.owns(order.cloid):
            engine.move(order, Trigger.ADOPT, now)
            tally.adopted += 1
            counts["orphans_adopted"] += 1
            log.info(
                "safety sync: adopted orphan %s (our namespace)",
                order.label,
                extra={"order_id": order.label, "oid": order.oid, "policy": policy.value},
            )
        elif policy is OrphanPolicy.IGNORE:
            tally.ignored += 1
            if order not in self._ignored:
                self._ignored.add(order)
                counts["orphans_ignored"] += 1
                log.info(
                    "safety sync: left foreign orphan %s alone (%s %s@%s)",
                    order.label, order.side.value, order.size, order.price,
                    extra={"order_id": order.label, "oid": order.oid, "policy": policy.value},
                )
        else:
            engine.cancel(order, now)
            tally.cancelled += 1
            counts["orphans_cancelled"] += 1
            log.info(
                "safety sync: cancelling orphan %s",
                order.label,
                extra={"order_id": order.label, "oid": order.oid, "policy": policy.value},
            )
