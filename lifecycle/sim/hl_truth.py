"""The loopback exchange's truth in the ids a Hyperliquid client sees.

Theory of operation
-------------------
The loopback exchange (``lifecycle.adapters.hyperliquid.loopback``) keeps
each account's orders in a simulated exchange whose oids and trade ids are
its own; clients see the Hyperliquid oids and trade ids the loopback gives
them (:meth:`LoopbackExchange.hl_oid`, :meth:`LoopbackExchange.hl_tid`).
:class:`HlTruth` is the simulated exchange's :class:`Truth` with every oid and
trade id it hands out translated, so the referee and the invariant counters
(:mod:`lifecycle.adapters.simulated.invariants`) compare the engine's view
with the exchange's in one set of ids. Counts and prices carry no id and are
the simulated exchange's own.

Hyperliquid answers a placement that traded at once with the traded size
before any fill message; the adapter hands that on as a fill of trade id 0
and ``fill_ref`` ``immediate/<oid>`` (and credits the trades' own fills
against it later). :func:`applied_in_trade_ids` names such a fill by the
first trade its order made when placed, so that a trade that moved the
position both as the immediate fill and as its own fill counts as double.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import FillId

if TYPE_CHECKING:
    # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
    # mypy checks it from its source directory under its own name.
    from adapters.hyperliquid.loopback import LoopbackExchange
    from adapters.simulated import (
        CancelReceived,
        Owner,
        SimulatedExchange,
        Truth,
        TruthFill,
        TruthOrder,
    )
else:
    from lifecycle.adapters.simulated import (
        CancelReceived,
        Owner,
        SimulatedExchange,
        Truth,
        TruthFill,
        TruthOrder,
    )

__all__ = ["HlTruth", "HlVenue", "applied_in_trade_ids"]

#: The ``fill_ref`` prefix of the adapter's immediate fills (``immediate/<oid>``).
_IMMEDIATE = "immediate/"


class HlTruth(Truth):
    """A simulated exchange's truth, its oids and trade ids those of the loopback."""

    __slots__ = ("_account", "_coin", "_loopback")

    def __init__(
        self, sim: SimulatedExchange, loopback: LoopbackExchange, account: str, coin: str
    ) -> None:
        super().__init__(sim.book)
        self._loopback = loopback
        self._account = account
        self._coin = coin

    def _oid(self, oid: Oid) -> Oid:
        try:
            return Oid(self._loopback.hl_oid(self._account, self._coin, oid))
        except KeyError:
            return oid  # named by a request, never an order of the book: nothing to map

    def _fill(self, fill: TruthFill) -> TruthFill:
        tid = Tid(self._loopback.hl_tid(self._account, self._coin, fill.tid))
        return dataclasses.replace(fill, tid=tid, oid=self._oid(fill.oid))

    def _order(self, order: TruthOrder) -> TruthOrder:
        return dataclasses.replace(
            order, oid=self._oid(order.oid), fills=tuple(self._fill(f) for f in order.fills),
            replaces=None if order.replaces is None else self._oid(order.replaces),
            replaced_by=None if order.replaced_by is None else self._oid(order.replaced_by),
        )

    def _cancel(self, cancel: CancelReceived) -> CancelReceived:
        return dataclasses.replace(
            cancel, oid=None if cancel.oid is None else self._oid(cancel.oid),
            target=None if cancel.target is None else self._oid(cancel.target),
        )

    @property
    def fills(self) -> tuple[TruthFill, ...]:
        """Every trade of the account, in time order, in the loopback's ids."""
        return tuple(self._fill(f) for f in super().fills)

    @property
    def cancels(self) -> tuple[CancelReceived, ...]:
        """Every cancel request processed, in time order, in the loopback's oids."""
        return tuple(self._cancel(c) for c in super().cancels)

    def orders(self, owner: Owner | None = None) -> tuple[TruthOrder, ...]:
        """Every order that reached the exchange, in the loopback's ids."""
        return tuple(self._order(o) for o in super().orders(owner))

    def order(self, oid: Oid) -> TruthOrder:
        """The order with this (loopback) oid.

        Raises:
            KeyError: The exchange never had such an order.
        """
        for order in self.orders():
            if order.oid == oid:
                return order
        raise KeyError(oid)

    def orders_with_cloid(self, cloid: Cloid) -> tuple[TruthOrder, ...]:
        """Every order that carried ``cloid``, in the loopback's ids."""
        return tuple(self._order(o) for o in super().orders_with_cloid(cloid))

    def resting(self, owner: Owner | None = None) -> tuple[TruthOrder, ...]:
        """The orders on the book now, oldest first, in the loopback's ids."""
        return tuple(self._order(o) for o in super().resting(owner))

    def fill(self, tid: Tid) -> TruthFill:
        """The trade with this (loopback) trade id.

        Raises:
            KeyError: No such trade.
        """
        for fill in self.fills:
            if fill.tid == tid:
                return fill
        raise KeyError(tid)


class HlVenue:
    """What the referee and the report read of the loopback (a
    :class:`~lifecycle.sim.referee.Venue`): one account's truth on one coin."""

    def __init__(
        self, loopback: LoopbackExchange, sim: SimulatedExchange, account: str, coin: str
    ) -> None:
        self._sim = sim
        self._truth = HlTruth(sim, loopback, account, coin)

    @property
    def truth(self) -> Truth:
        """The account's truth in the loopback's ids."""
        return self._truth

    @property
    def fault_counts(self) -> Counter[str]:
        """The faults the account's simulated exchange produced."""
        return self._sim.fault_counts


def applied_in_trade_ids(truth: Truth, applied: Iterable[FillId]) -> list[FillId]:
    """``applied`` with each immediate fill named by its order's first trade at placement
    (module docstring); one that names no such trade is left as it is (and counts as a
    fill the exchange never made)."""
    at_placement: dict[Oid | None, FillId] = {}
    for order in truth.orders(Owner.CLIENT):
        first = order.fills[0] if order.fills else None
        if first is not None and first.at == order.placed_at:
            at_placement[order.oid] = (first.tid, first.oid, "")
    out: list[FillId] = []
    for identity in applied:
        tid, oid, ref = identity
        if tid == 0 and ref.startswith(_IMMEDIATE):
            out.append(at_placement.get(oid, identity))
        else:
            out.append(identity)
    return out
