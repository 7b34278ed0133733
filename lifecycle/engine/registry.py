"""The book of record: every order we know, indexed by cloid and by oid.

Orders are looked up by cloid first (canonical form, see :class:`~lifecycle.core.ids.Cloid`),
then by oid. A modify that returns a new oid rebinds the order: the new oid is
indexed and the old one keeps resolving to the same order, so late messages
about the old oid still land. GONE orders stay as tombstones until the engine
evicts them (after ``tombstone_s``), so late fills find their order.
The registry decides nothing about legality and never changes an order's state.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from types import MappingProxyType

from lifecycle.core.errors import UnknownOrder
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState

__all__ = ["OrderRegistry"]


class OrderRegistry:
    """Orders by cloid and by oid, with rebinding and tombstones.

    Attributes:
        by_cloid: ``by_cloid(cloid)`` returns the order with this cloid, or
            None (also for a None cloid).
        by_oid: ``by_oid(oid)`` returns the order this oid names, now or before
            a modify, or None (also for a None oid).

    The two lookups are the indexes' own ``dict.get``: they run in C, with no
    Python call, on every exchange message.
    """

    __slots__ = ("_by_cloid", "_by_oid", "_orders", "by_cloid", "by_oid")

    def __init__(self) -> None:
        self._orders: dict[int, Order] = {}
        self._by_cloid: dict[Cloid, Order] = {}
        self._by_oid: dict[Oid, Order] = {}
        # The indexes are never replaced, so their bound ``get`` stays theirs.
        # A None key is never stored, so looking it up finds nothing.
        self.by_cloid: Callable[[Cloid | None], Order | None] = (
            self._by_cloid.get  # type: ignore[assignment]
        )
        self.by_oid: Callable[[Oid | None], Order | None] = (
            self._by_oid.get  # type: ignore[assignment]
        )

    def __len__(self) -> int:
        return len(self._orders)

    def __iter__(self) -> Iterator[Order]:
        return iter(list(self._orders.values()))

    def __contains__(self, order: object) -> bool:
        return id(order) in self._orders

    def add(self, order: Order) -> None:
        """Register ``order`` under its cloid and oid.

        Raises:
            ValueError: Its cloid or oid already names another order.
        """
        by_cloid, by_oid = self._by_cloid, self._by_oid
        cloid, oid = order.cloid, order.oid
        if cloid is not None and cloid in by_cloid:
            raise ValueError(f"cloid {cloid} is already registered")
        if oid is not None and oid in by_oid:
            raise ValueError(f"oid {oid} is already registered")
        self._orders[id(order)] = order
        if cloid is not None:
            by_cloid[cloid] = order
        if oid is not None:
            by_oid[oid] = order

    def bind_oid(self, order: Order, oid: Oid) -> bool:
        """Make ``oid`` name ``order``; a previous oid keeps resolving to it.

        Returns:
            True if the binding changed, False if ``oid`` already named the order.

        Raises:
            UnknownOrder: ``order`` is not in the registry.
            ValueError: ``oid`` names a different order.
        """
        if id(order) not in self._orders:
            raise UnknownOrder(order.label)
        current = order.oid
        if current == oid:
            return False
        other = self._by_oid.get(oid)
        if other is not None and other is not order:
            raise ValueError(f"oid {oid} already names {other.label}, not {order.label}")
        if current is not None:
            order.prior_oids += (current,)
        order.oid = oid
        self._by_oid[oid] = order
        return True

    def find(self, cloid: Cloid | None, oid: Oid | None) -> Order | None:
        """Resolve an exchange message's ids: cloid first, then oid."""
        return self.by_cloid(cloid) or self.by_oid(oid)  # an Order is always true

    def get(self, key: Cloid | Oid) -> Order:
        """Return the order named by a cloid or an oid.

        Raises:
            UnknownOrder: No order has that id.
        """
        order = self._by_cloid.get(key) if isinstance(key, str) else self._by_oid.get(key)
        if order is None:
            raise UnknownOrder(key)
        return order

    def remove(self, order: Order) -> None:
        """Forget ``order`` and every id that names it (tombstone eviction)."""
        if self._orders.pop(id(order), None) is None:
            return
        cloid, oid = order.cloid, order.oid
        if cloid is not None and self._by_cloid.get(cloid) is order:
            del self._by_cloid[cloid]
        by_oid = self._by_oid
        if oid is not None and by_oid.get(oid) is order:
            del by_oid[oid]
        for oid in order.prior_oids:
            if by_oid.get(oid) is order:
                del by_oid[oid]

    def indexes(self) -> tuple[Mapping[Cloid, Order], Mapping[Oid, Order]]:
        """The cloid and the oid index as they are (read-only views), prior oids included."""
        return MappingProxyType(self._by_cloid), MappingProxyType(self._by_oid)

    def restore(
        self,
        orders: Iterable[Order],
        by_cloid: Iterable[tuple[Cloid, Order]],
        by_oid: Iterable[tuple[Oid, Order]],
    ) -> None:
        """Load a checkpoint: the orders, in order, and the two indexes as captured.

        The counterpart of iterating the registry and :meth:`indexes`. The
        indexes are taken as given, not derived from the orders (a prior oid
        keeps naming its order). They are filled in place: the lookups
        :attr:`by_cloid` and :attr:`by_oid` are their bound ``get``.

        Raises:
            ValueError: The registry is not empty.
        """
        if self._orders or self._by_cloid or self._by_oid:
            raise ValueError("restore needs an empty registry")
        self._orders.update((id(o), o) for o in orders)
        self._by_cloid.update(by_cloid)
        self._by_oid.update(by_oid)

    def select(
        self, *, states: Collection[OrderState] | None = None, side: Side | None = None
    ) -> list[Order]:
        """Return the orders in ``states`` (all states if None) on ``side``, oldest first."""
        return [
            o
            for o in self._orders.values()
            if (states is None or o.state in states) and (side is None or o.side is side)
        ]

    def count(self, state: OrderState) -> int:
        """Return how many orders are in ``state``."""
        return sum(1 for o in self._orders.values() if o.state is state)
