"""Engine checkpoints: behaviour that mutation testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutants it kills: changes to
``lifecycle/engine/state.py`` that every other test let pass.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from lifecycle.config import LifecycleConfig, OrdersConfig, OrphanPolicy
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import OrderAccepted, OrderCanceled, OrderFilled
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.engine.state import capture, decode, encode, restore
from lifecycle.policy.reconciler import Book, Ladder, Level
from lifecycle.policy.snapshot import OpenOrder, OpenOrdersSnapshot

D = Decimal


def cloid_of(order: Order) -> Cloid:
    assert order.cloid is not None
    return order.cloid


def engine() -> Engine:
    return Engine(cloids=CloidFactory("test", run_id=1), verify=True)


def test_every_queued_command_survives_a_checkpoint_field_for_field() -> None:
    # Kills the mutants of _command_data's field list and cloid conversion, and of
    # _command's rebuilding (a SELL placement restored as a BUY, flags lost...).
    live = engine()
    sell = live.place(Side.SELL, D("101.5"), D("0.25"), 1.0)
    buy = live.place(Side.BUY, D(99), D(2), 1.0)
    live.commands_to_send()
    live.handle(OrderAccepted(cloid=buy.cloid, oid=Oid(42)), 2.0)
    cloid = CloidFactory("other", run_id=3).next()
    queued: list[Command] = [
        PlaceOrder(cloid=cloid, side=Side.SELL, price=D(103), size=D("0.5"), post_only=False,
                   reduce_only=True),
        CancelOrder(cloid=sell.cloid, oid=None),
        CancelOrder(cloid=None, oid=Oid(7)),
        ModifyOrder(cloid=buy.cloid, oid=Oid(42), price=D("98.5"), size=D(1)),
        QueryOrderStatus(cloid=sell.cloid, oid=None),
        QueryOrderStatus(cloid=None, oid=Oid(42)),
        FetchOpenOrders(reason="fill for an unknown order"),
    ]
    for command in queued:
        live.send(command)
    restored = engine()
    restore(restored, decode(encode(capture(live))))
    commands = restored.outbox_state().commands
    assert commands == live.outbox_state().commands == tuple(queued)
    cloids = [getattr(c, "cloid", None) for c in commands]
    assert all(type(x) is Cloid for x in cloids if x is not None)
    oids = [getattr(c, "oid", None) for c in commands]
    assert [type(x) for x in oids if x is not None] == [int] * 3


def test_encode_refuses_what_it_cannot_write() -> None:
    state = capture(engine())
    with pytest.raises(NotImplementedError, match=r"^cannot encode complex: \(1\+2j\)$"):
        encode(type(state)(**{**{f: getattr(state, f) for f in state.__struct_fields__},
                              "now": 1 + 2j}))


def test_a_tombstone_keeps_its_status_word_and_fills_through_a_checkpoint() -> None:
    # Kills `self.status = status` -> `= None` in Order.restored.
    live = engine()
    order = live.place(Side.BUY, D(100), D(2), 1.0)
    live.commands_to_send()
    live.handle(OrderAccepted(cloid=order.cloid, oid=Oid(5)), 2.0)
    live.handle(OrderFilled(cloid=order.cloid, oid=Oid(5), tid=Tid(1), side=Side.BUY,
                            price=D(100), size=D("0.5")), 3.0)
    live.handle(OrderCanceled(cloid=order.cloid, oid=Oid(5), status="marginCanceled",
                              exchange_initiated=True), 4.0)
    restored = engine()
    restore(restored, decode(encode(capture(live))))
    copy = restored.order(cloid_of(order))
    assert (copy.state, copy.reason, copy.status) == (OrderState.GONE, GoneReason.CANCELED,
                                                      "marginCanceled")
    assert copy.filled == D("0.5") and copy.has_fill(Tid(1)) and not copy.has_fill(Tid(2))


# --- every part of an engine, through a checkpoint -------------------------------------------


def session() -> tuple[Engine, dict[str, Order]]:
    """An engine holding one of everything a checkpoint captures.

    C: a modify asked by the reconciler, absent from two snapshots, then cancelled by
    the exchange and evicted, so only its absence streak and the reconciler's memory
    still refer to it (one order, referred to twice); K: a foreign aged orphan left
    alone (``ignore``); B: a tombstone with a fill and a status word; a fill parked
    for an unknown oid; a status query for A and an open-orders request queued and
    not drained.
    """
    config = LifecycleConfig(orders=OrdersConfig(orphan_policy=OrphanPolicy.IGNORE))
    live = Engine(config, cloids=CloidFactory("test", run_id=1), verify=True)
    coin = live.sync.coin

    def row(oid: int, order: Order | None = None) -> OpenOrder:
        if order is None:
            return OpenOrder(coin=coin, oid=Oid(oid), side=Side.SELL, price=D(105), size=D(2))
        return OpenOrder(coin=coin, oid=Oid(oid), cloid=order.cloid, side=order.side,
                         price=order.price, size=order.size)

    def snap(now: float, *rows: OpenOrder) -> None:
        live.handle_snapshot(OpenOrdersSnapshot(taken_at=now, orders=rows), now)

    c = live.place(Side.BUY, D(99), D(1), 0.0)
    live.commands_to_send()
    live.handle(OrderAccepted(cloid=c.cloid, oid=Oid(30)), 0.0)
    live.on_timer(10.0)  # C TRACKED
    book = Book(best_bid=D(100), best_ask=D(101), at=10.0)
    live.set_targets(Ladder(bids=(Level(price=D("99.2"), size=D(1)),)), book, 10.0)
    a = live.place(Side.BUY, D(100), D(1), 10.0)
    live.commands_to_send()  # C MODIFYING
    live.handle(OrderAccepted(cloid=a.cloid, oid=Oid(10)), 10.0)
    snap(10.0, row(10, a), row(500))  # K: an orphan candidate; C absent
    live.on_timer(15.0)  # K aged
    snap(15.0, row(10, a), row(500))  # K left alone; C absent again
    live.handle(OrderCanceled(cloid=c.cloid, oid=Oid(30), exchange_initiated=True), 16.0)
    live.on_timer(21.0)  # C's tombstone evicted; A TRACKED
    b = live.place(Side.SELL, D(101), D(2), 21.0)
    live.commands_to_send()
    live.handle(OrderAccepted(cloid=b.cloid, oid=Oid(20)), 21.0)
    live.handle(OrderFilled(cloid=b.cloid, oid=Oid(20), tid=Tid(7), side=Side.SELL,
                            price=D(101), size=D("0.5"), fill_ref="x"), 21.0)
    live.handle(OrderCanceled(cloid=b.cloid, oid=Oid(20), status="marginCanceled",
                              exchange_initiated=True), 21.0)
    foreign = CloidFactory("other", run_id=2).next()
    live.handle(OrderFilled(cloid=foreign, oid=Oid(99), tid=Tid(8), side=Side.BUY,
                            price=D(100), size=D("0.1"), fill_ref="y"), 22.0)
    live.query(a)
    order_k = live.registry.find(None, Oid(500))
    assert order_k is not None
    return live, {"A": a, "B": b, "C": c, "K": order_k}


def test_a_checkpoint_keeps_every_part_of_the_engine() -> None:
    # Kills the mutants of capture/restore that drop or misplace a part the random
    # sessions of test_checkpoint.py never hold at once (ignored orphans, modifies in
    # flight, orders only the sync and the reconciler refer to, parked fills with a
    # cloid...).
    live, orders = session()
    a, b, c, k = orders["A"], orders["B"], orders["C"], orders["K"]
    assert (a.state, b.state, k.state) == (OrderState.TRACKED, OrderState.GONE,
                                           OrderState.AGED_ORPHAN)
    assert c not in live.registry
    state = capture(live)
    restored = engine_like(live)
    restore(restored, decode(encode(state)))
    assert capture(restored) == msgspec.structs.replace(state, cloid_counter=0)
    assert [o.label for o in restored.registry] == [o.label for o in live.registry]
    assert restored.now == live.now == 22.0
    assert restored.parked_fills() == live.parked_fills() != {}
    assert [(x.kind, x.at, x.order_id, x.detail) for x in restored.anomalies] == [
        (x.kind, x.at, x.order_id, x.detail) for x in live.anomalies]
    assert restored.counters() == live.counters()
    assert restored.reconciler.last_modify_at == live.reconciler.last_modify_at == 10.0
    (asked,) = restored.reconciler.checkpoint().asked
    assert (asked.order.label, asked.price, asked.size, asked.since) == (
        c.label, D("99.2"), D(1), 10.0)
    memory = restored.sync.checkpoint()
    ((absent, streak),) = memory.streaks.items()
    assert absent is asked.order and streak == (2, 10.0, False)
    assert absent.state is OrderState.GONE and absent not in restored.registry
    assert [o.label for o in memory.ignored] == [k.label]
    assert memory.ignored[0] is restored.registry.find(None, Oid(500))
    assert (memory.last_sync_at, memory.last_taken_at) == (15.0, 15.0)
    tombstone = restored.order(cloid_of(b))
    assert (tombstone.status, tombstone.filled, dict(tombstone.fills)) == (
        "marginCanceled", D("0.5"), dict(b.fills))
    outbox = restored.outbox_state()
    assert outbox.commands == live.outbox_state().commands and outbox.sync_requested
    restored.query(restored.order(cloid_of(a)))  # queried in this drain already
    live.query(a)
    assert restored.outbox_state().commands == live.outbox_state().commands
    assert restored.commands_to_send() == live.commands_to_send()


def engine_like(live: Engine) -> Engine:
    return Engine(live.config, cloids=CloidFactory("test", run_id=1), verify=True)


def test_a_checkpoint_of_a_fresh_engine_has_no_time_and_restores_to_none() -> None:
    # Kills the mutants of _finite and of restore's `-inf` for a state without a time.
    state = capture(engine())
    assert state.now is None
    restored = engine()
    restore(restored, decode(encode(state)))
    assert restored.now == float("-inf")
    restored.place(Side.BUY, D(1), D(1), -1e9)  # any time is later than none


def test_restore_refuses_an_engine_with_orders_timers_or_fills() -> None:
    # Kills `or` -> `and` in restore's freshness check: each part alone refuses it.
    state = capture(engine())
    with_fill = engine()
    with_fill.handle(OrderFilled(oid=Oid(1), tid=Tid(1), side=Side.BUY, price=D(1),
                                 size=D(1)), 0.0)
    assert len(with_fill.registry) == 0 and with_fill.timers.pending() == 0
    with pytest.raises(ValueError, match=r"^restore needs a fresh engine$"):
        restore(with_fill, state)
