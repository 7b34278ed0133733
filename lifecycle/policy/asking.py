"""The asking protocol: what a policy may see of the engine and ask of it.

The reconciler and the safety sync are clients of the engine that may only
ask. They never import the engine module (the engine composes them, so that
would be a circle); they are handed an object satisfying :class:`AskingEngine`,
which the engine is. Through it a policy reads the orders and the
configuration and asks: place, cancel, modify, query, or report an exchange
fact with :meth:`AskingEngine.handle`. Every change of state still happens in
the machine, behind these calls.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from decimal import Decimal
from typing import Any, Protocol

from lifecycle.config import LifecycleConfig
from lifecycle.core.anomalies import AnomalyLog
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger

__all__ = ["AskingEngine", "OrderIndex"]


class OrderIndex(Protocol):
    """The engine's orders as a policy reads them: iterate, test, look up, select."""

    def __iter__(self) -> Iterator[Order]: ...

    def __contains__(self, order: object) -> bool: ...

    def find(self, cloid: Cloid | None, oid: Oid | None) -> Order | None:
        """The order named by ``cloid`` (first) or ``oid``, or None."""
        ...

    def by_oid(self, oid: Oid) -> Order | None:
        """The order holding ``oid`` (its current or a prior oid), or None."""
        ...

    def select(
        self, *, states: Collection[OrderState] | None = None, side: Side | None = None
    ) -> list[Order]:
        """The orders in ``states`` on ``side``, oldest first."""
        ...


class AskingEngine(Protocol):
    """The surface of the engine that the policies use (the engine satisfies it)."""

    @property
    def config(self) -> LifecycleConfig:
        """The engine's configuration."""
        ...

    @property
    def registry(self) -> OrderIndex:
        """Every order the engine tracks, tombstones included."""
        ...

    @property
    def anomalies(self) -> AnomalyLog:
        """Where remote inconsistencies are recorded."""
        ...

    @property
    def cloids(self) -> CloidFactory:
        """The engine's cloid factory (it tells our namespace from foreign ones)."""
        ...

    @property
    def now(self) -> float:
        """The latest time the engine was given."""
        ...

    def place(
        self, side: Side, price: Decimal, size: Decimal, now: float, *, cloid: Cloid | None = None
    ) -> Order:
        """Ask for a new order (PENDING, its placement queued)."""
        ...

    def cancel(self, key: Order | Cloid | Oid, now: float) -> Order:
        """Ask for an order to be cancelled."""
        ...

    def modify(self, key: Order | Cloid | Oid, price: Decimal, size: Decimal, now: float) -> Order:
        """Ask for an order's price and size to change."""
        ...

    def move(self, order: Order, trigger: Trigger, now: float) -> OrderState:
        """Fire a local trigger through the machine (illegal ones raise)."""
        ...

    def handle(self, event: Any, now: float) -> None:
        """Report an exchange fact, as an adapter would."""
        ...

    def query(self, order: Order, *, by_cloid: bool = False) -> None:
        """Queue one status query for ``order``."""
        ...
