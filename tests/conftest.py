"""Shared fixtures: an engine that verifies every fire against `transitions`."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lifecycle.core.clock import ManualClock
from lifecycle.core.events import OrderAccepted
from lifecycle.core.ids import CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.engine.facade import Engine


class Session:
    """An engine on a manual clock, with shortcuts for common steps."""

    def __init__(self) -> None:
        self.clock = ManualClock()
        self.engine = Engine(cloids=CloidFactory("test", run_id=1), verify=True)
        self._next_oid = 1000

    @property
    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        return self.clock.advance(seconds)

    def sent(self, side: Side = Side.BUY, price: str = "100", size: str = "1") -> Order:
        """Place an order and drain its placement (EXPECTED)."""
        order = self.engine.place(side, Decimal(price), Decimal(size), self.now)
        self.engine.commands_to_send()
        return order

    def resting(self, side: Side = Side.BUY, price: str = "100", size: str = "1") -> Order:
        """An acknowledged order (FINALIZED_PROTECTED)."""
        order = self.sent(side, price, size)
        self._next_oid += 1
        self.engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(self._next_oid)), self.now)
        return order

    def tracked(self, side: Side = Side.BUY, price: str = "100", size: str = "1") -> Order:
        """An acknowledged order past its protection (TRACKED)."""
        order = self.resting(side, price, size)
        self.engine.on_timer(self.advance(self.engine.config.orders.protection_s))
        return order


class Recorder:
    """A transition observer that keeps what it is told."""

    def __init__(self) -> None:
        self.fired: list[tuple[Order, OrderState, Trigger, OrderState, float]] = []
        self.refused: list[tuple[Order, Trigger, float]] = []

    def transition_fired(self, order: Order, source: OrderState, trigger: Trigger,
                         dest: OrderState, now: float) -> None:
        self.fired.append((order, source, trigger, dest, now))

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        self.refused.append((order, trigger, now))


@pytest.fixture
def session() -> Session:
    return Session()
