"""A scripted session through the engine, printing every transition.

It replays, on a manual clock, the situations that cost real money when order
tracking drifts: a fill that beats its acknowledgement, a modify that returns a
new oid (with the old oid's cancel arriving late), a fill racing a cancel and
landing on the tombstone, an exchange-initiated cancel, an out-of-order message
recorded as an anomaly, and a placement that never reached the book, resolved
by a status query rather than by its timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from lifecycle.config import LifecycleConfig
from lifecycle.core.clock import ManualClock
from lifecycle.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.engine.facade import Engine

__all__ = ["PrintingObserver", "run_demo"]


class PrintingObserver:
    """Prints every fired and refused transition as one line."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        """Print one fired transition."""
        reason = f"  [{order.reason.value}]" if order.reason and source is not dest else ""
        self._write(
            f"t={now:7.3f}  {order.label}  {source.value} --{trigger.value}--> {dest.value}{reason}"
        )

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        """Print one refused trigger."""
        self._write(
            f"t={now:7.3f}  {order.label}  {order.state.value} --{trigger.value}--> REFUSED"
        )


def run_demo(config: LifecycleConfig | None = None, write: Callable[[str], None] = print) -> Engine:
    """Run the scripted session and return the engine it drove."""
    engine = Engine(config, cloids=CloidFactory("demo", run_id=1), verify=True)
    engine.machine.add_observer(PrintingObserver(write))
    clock = ManualClock()
    px, sz = Decimal("100.0"), Decimal("1.0")

    def step(title: str) -> None:
        write(f"\n== {title}")

    def drain() -> None:
        for command in engine.commands_to_send():
            write(f"t={clock.now():7.3f}  -> send {command}")

    step("1. placement acknowledged, protection, then tracked")
    a = engine.place(Side.BUY, px, sz, clock.now())
    drain()
    engine.handle(OrderAccepted(cloid=a.cloid, oid=Oid(101)), clock.advance(0.4))

    step("2. fill before ack: the ws fill beats the placement response")
    b = engine.place(Side.SELL, Decimal("101.0"), sz, clock.advance(0.1))
    drain()
    fill = OrderFilled(cloid=b.cloid, oid=Oid(102), tid=Tid(9001), side=Side.SELL,
                       price=Decimal("101.0"), size=Decimal("0.4"))
    engine.handle(fill, clock.advance(0.2))
    engine.handle(fill, clock.now())  # the same trade again, over REST: changes nothing
    engine.handle(OrderAccepted(cloid=b.cloid, oid=Oid(102)), clock.advance(0.1))
    write(f"position {engine.position} after one distinct fill of 0.4")

    step("3. protection elapses")
    engine.on_timer(clock.advance(10.0))

    step("4. modify returns a new oid; the old oid's cancel arrives after")
    engine.modify(a, Decimal("99.5"), sz, clock.advance(1.0))
    drain()
    engine.handle(OrderModified(cloid=a.cloid, oid=Oid(201), old_oid=Oid(101),
                                price=Decimal("99.5"), size=sz), clock.advance(0.3))
    engine.handle(OrderCanceled(cloid=a.cloid, oid=Oid(101)), clock.advance(0.1))
    write(f"oid 101 still resolves to {engine.order(Oid(101)).label}")

    step("5. cancel raced by a fill that lands on the tombstone")
    engine.cancel(b, clock.advance(1.0))
    drain()
    engine.handle(OrderCanceled(cloid=b.cloid, oid=Oid(102)), clock.advance(0.2))
    engine.handle(OrderFilled(cloid=b.cloid, oid=Oid(102), tid=Tid(9002), side=Side.SELL,
                              price=Decimal("101.0"), size=Decimal("0.1")), clock.advance(0.3))
    write(f"position {engine.position}")

    step("6. the exchange cancels an order on its own (marginCanceled)")
    engine.on_timer(clock.advance(10.0))
    engine.handle(OrderCanceled(cloid=a.cloid, oid=Oid(201), status="marginCanceled",
                                exchange_initiated=True), clock.advance(0.5))

    step("7. an out-of-order message is an anomaly, not a crash")
    c = engine.place(Side.BUY, Decimal("98.0"), sz, clock.advance(0.5))
    drain()
    engine.handle(OrderAccepted(cloid=c.cloid, oid=Oid(301)), clock.advance(0.2))
    engine.handle(OrderModified(cloid=c.cloid, oid=Oid(302), price=px, size=sz),
                  clock.advance(0.1))
    drain()

    step("8. no answer to a placement: the TTL asks, only the answer ends it")
    d = engine.place(Side.BUY, Decimal("97.0"), sz, clock.advance(0.5))
    drain()
    ttl = engine.config.orders.expected_ttl_s
    engine.on_timer(clock.advance(ttl))
    drain()
    write(f"still {d.state.value} after the timeout")
    engine.handle(OrderStatusReport(cloid=d.cloid, outcome=StatusOutcome.NOT_FOUND,
                                    status="unknownOid"), clock.advance(0.2))

    step("summary")
    write(f"position {engine.position}")
    for anomaly in engine.anomalies:
        write(f"anomaly {anomaly.kind.value}: {anomaly.detail}")
    return engine
