"""The engine's lifecycle keys: one order's whole life through the facade, and its floor.

Theory of operation: three measurements of the same lifecycle run
interleaved (see :func:`measure.measure`), so their differences hold: the
lifecycle with its two exchange events built in the timed loop, the same with
the events prebuilt, and the same work written out as one loop with no
engine. Every run ends by checking that each order went the whole path
(:func:`check_lifecycle`, or the floor loop's own history check) and raises
:class:`~measure.BenchError` otherwise. Setup (the engine, prebuilt events)
is never timed.

Keys
----
``lifecycle_us_per_order``
    One order's whole lifecycle through :class:`lifecycle.engine.facade.Engine`,
    registry, timers and history included: ``place`` (create, PENDING),
    ``commands_to_send`` (-> EXPECTED), ``handle(OrderAccepted)`` (-> LIVE ->
    FINALIZED_PROTECTED), ``on_timer`` after ``protection_s`` (-> TRACKED),
    ``cancel`` (-> CANCELLING), ``commands_to_send``, ``handle(OrderCanceled)``
    (-> GONE). Each order has its own time base (``i * 20`` s), so the
    ``on_timer`` calls also evict the previous orders' tombstones
    (``tombstone_s``). The two exchange events are built inside the timed loop,
    as an adapter would build them from wire messages. Price and size are
    ``Decimal`` constants built once. Per order, over 20,000 orders per run.
``lifecycle_prebuilt_events_us_per_order``
    The same lifecycle with the ``OrderAccepted``/``OrderCanceled`` objects built
    before timing, so the difference to the previous key is the cost of
    building the two events.
``lifecycle_floor_us_per_order``
    Calibration: the work of ``lifecycle_us_per_order`` written out as one
    loop with no engine and no calls (see :func:`lifecycle_floor_run`): the same
    cloids, ``Order`` objects, indexes, command and event records (the events
    built in the loop), table lookups, bounded history, timer deques and
    tombstone eviction, without input checks, observers or the engine's API
    and fire calls: what a pure-Python engine of this API doing the same work
    cannot undercut on this machine. Measured interleaved with the two keys above.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from decimal import Decimal
from typing import Any

from measure import BenchError, Measurement, measure

from lifecycle.config import LifecycleConfig
from lifecycle.core.commands import CancelOrder, PlaceOrder
from lifecycle.core.events import OrderAccepted, OrderCanceled
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.engine.facade import Engine

__all__ = [
    "LIFECYCLE_ORDERS",
    "PATH",
    "PRICE",
    "RUNS_LIFECYCLE",
    "SIZE",
    "check_lifecycle",
    "lifecycle_floor_run",
    "lifecycle_prebuilt_run",
    "lifecycle_run",
    "measure_lifecycle",
]

S = OrderState
T = Trigger

#: Orders per run of each key.
LIFECYCLE_ORDERS = 20_000
#: Runs of each key in :func:`measure_lifecycle` when called without an argument.
RUNS_LIFECYCLE = 9

#: The triggers of the measured path, in order (PENDING ... GONE).
PATH: tuple[Trigger, ...] = (
    T.SUBMIT,
    T.ACCEPT,
    T.FINALIZE,
    T.PROTECTION_ELAPSED,
    T.CANCEL_REQUEST,
    T.CANCEL_ACK,
)

PRICE = Decimal("100")
SIZE = Decimal("1")


def check_lifecycle(engine: Engine, last: Order | None, n: int) -> None:
    """Raise unless every one of the ``n`` orders ended GONE(canceled) cleanly."""
    if last is None or last.state is not S.GONE or last.reason is not GoneReason.CANCELED:
        raise BenchError(f"the last order did not end gone(canceled): {last!r}")
    if len(engine.anomalies):
        first = next(iter(engine.anomalies))
        raise BenchError(f"{len(engine.anomalies)} anomalies, first: {first}")
    if len(engine.registry) > 1:  # all but the last tombstone were evicted
        raise BenchError(f"{len(engine.registry)} orders left in the registry")
    if engine.cloids.next() != CloidFactory(engine.config.orders.namespace, start=n).next():
        raise BenchError("the engine did not create exactly one cloid per order")


def lifecycle_run(n: int = LIFECYCLE_ORDERS) -> float:
    """Microseconds per order lifecycle, exchange events built in the loop."""
    engine = Engine()
    place, drain, handle = engine.place, engine.commands_to_send, engine.handle
    on_timer, cancel = engine.on_timer, engine.cancel
    buy, price, size = Side.BUY, PRICE, SIZE
    protection = engine.config.orders.protection_s
    order: Order | None = None
    gc.collect()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        now = i * 20.0
        order = place(buy, price, size, now)
        cloid = order.cloid
        if cloid is None:
            raise BenchError("placed an order without a cloid")
        drain()
        handle(OrderAccepted(cloid=cloid, oid=Oid(i)), now)
        later = now + protection
        on_timer(later)
        cancel(cloid, later)
        drain()
        handle(OrderCanceled(cloid=cloid, oid=Oid(i)), later)
    elapsed = time.perf_counter() - t0
    check_lifecycle(engine, order, n)
    return elapsed / n * 1e6


def lifecycle_prebuilt_run(n: int = LIFECYCLE_ORDERS) -> float:
    """Microseconds per order lifecycle, exchange events built before timing."""
    engine = Engine()
    # The engine's own factory makes the same cloids in the same order.
    cloids = CloidFactory(engine.config.orders.namespace)
    accepts: list[OrderAccepted] = []
    cancels: list[OrderCanceled] = []
    for i in range(1, n + 1):
        cloid = cloids.next()
        accepts.append(OrderAccepted(cloid=cloid, oid=Oid(i)))
        cancels.append(OrderCanceled(cloid=cloid, oid=Oid(i)))
    place, drain, handle = engine.place, engine.commands_to_send, engine.handle
    on_timer, cancel = engine.on_timer, engine.cancel
    buy, price, size = Side.BUY, PRICE, SIZE
    protection = engine.config.orders.protection_s
    order: Order | None = None
    gc.collect()
    t0 = time.perf_counter()
    for i, accepted, canceled in zip(range(1, n + 1), accepts, cancels, strict=True):
        now = i * 20.0
        order = place(buy, price, size, now)
        key = order.cloid
        if key is None:
            raise BenchError("placed an order without a cloid")
        drain()
        handle(accepted, now)
        later = now + protection
        on_timer(later)
        cancel(key, later)
        drain()
        handle(canceled, later)
    elapsed = time.perf_counter() - t0
    check_lifecycle(engine, order, n)
    return elapsed / n * 1e6


# --- the floor of the lifecycle: the same work, no engine -----------------------------------


def lifecycle_floor_run(n: int = LIFECYCLE_ORDERS) -> float:
    """Microseconds per lifecycle of :func:`lifecycle_run`'s work written as one loop.

    What the engine must do for that lifecycle, with no engine: a cloid string
    of the factory's layout, an :class:`Order` with every slot written, the
    cloid and oid indexes, the two commands and the two events of the same
    record classes (built in the loop), the outbox handed over at each drain,
    the six moves looked up in the same table (state, then trigger) with the
    state, entry time, entry count, history (bounded) and reason written, the
    four timer entries appended to per-state deques and popped when due, and
    the previous tombstone evicted from both indexes. Left out: every call
    (the engine's seven API calls, its six fires), input checks, time checks,
    observers, the anomaly log, the id-keyed registry of all orders. A pure-
    Python engine of this API that does the same work cannot cost less.
    """
    config = LifecycleConfig().orders
    moves: dict[OrderState, dict[Trigger, tuple[OrderState, tuple[Trigger, OrderState]]]]
    moves = {s: {} for s in S}
    for (source, trigger), dest in TABLE.items():
        moves[source][trigger] = (dest, (trigger, dest))
    prefix = CloidFactory(config.namespace).next()[:-16]
    new, new_str = object.__new__, str.__new__
    by_cloid: dict[Cloid | None, Order] = {}
    by_oid: dict[Oid | None, Order] = {}
    expected_q: deque[tuple[float, int, Order]] = deque()
    protected_q: deque[tuple[float, int, Order]] = deque()
    cancelling_q: deque[tuple[float, int, Order]] = deque()
    gone_q: deque[tuple[float, int, Order]] = deque()
    ttl, protection = config.expected_ttl_s, config.protection_s
    cancel_timeout, tombstone = config.cancel_timeout_s, config.tombstone_s
    longest = 2 * config.history_limit
    outbox: list[Any] = []
    sent: list[Any] = []
    buy, price, size, zero = Side.BUY, PRICE, SIZE, Decimal(0)
    pending, canceled = S.PENDING, GoneReason.CANCELED
    submit, accept, finalize = T.SUBMIT, T.ACCEPT, T.FINALIZE
    elapsed_, cancel_request, cancel_ack = T.PROTECTION_ELAPSED, T.CANCEL_REQUEST, T.CANCEL_ACK
    order: Any = None
    gc.collect()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        now = i * 20.0
        # place: a PENDING order, indexed by cloid, and its placement queued
        cloid = new_str(Cloid, "%s%016x" % (prefix, i - 1))  # noqa: UP031 - as the factory
        order = new(Order)
        order.cloid = cloid
        order.oid = None
        order.prior_oids = ()
        order.side = buy
        order.price = price
        order.size = size
        order.filled = zero
        order.state = pending
        order.reason = None
        order.requested = None
        order.status = None
        order.created_at = now
        order.state_since = now
        order._entries = 0
        order._fills = None
        order._history = []
        order._history_origin = pending
        by_cloid[cloid] = order
        outbox.append(PlaceOrder(cloid=cloid, side=buy, price=price, size=size))
        # drain: each placement sent moves its order PENDING -> EXPECTED
        sent, outbox = outbox, []
        for command in sent:
            o = by_cloid[command.cloid]
            dest, step = moves[o.state][submit]
            o.state = dest
            o.state_since = now
            entries = o._entries = o._entries + 1
            expected_q.append((now + ttl, entries, o))
            history = o._history
            history += (now, step)
            if len(history) > longest:
                del history[:2]
        # accepted: EXPECTED -> LIVE, the oid bound, LIVE -> FINALIZED_PROTECTED
        accepted = OrderAccepted(cloid=cloid, oid=Oid(i))
        o = by_cloid[accepted.cloid]
        dest, step = moves[o.state][accept]
        o.state = dest
        o.state_since = now
        o._entries += 1
        history = o._history
        history += (now, step)
        o.oid = accepted.oid
        by_oid[accepted.oid] = o
        dest, step = moves[o.state][finalize]
        o.state = dest
        o.state_since = now
        entries = o._entries = o._entries + 1
        protected_q.append((now + protection, entries, o))
        history += (now, step)
        if len(history) > longest:
            del history[:2]
        # timers at the end of protection: FINALIZED_PROTECTED -> TRACKED, evictions
        later = now + protection
        for queue in (expected_q, cancelling_q):
            while queue and queue[0][0] <= later:
                _, entries, o = queue.popleft()
                if o._entries == entries:
                    raise BenchError("a query timer came due in the floor loop")
        while protected_q and protected_q[0][0] <= later:
            _, entries, o = protected_q.popleft()
            if o._entries == entries:
                dest, step = moves[o.state][elapsed_]
                o.state = dest
                o.state_since = later
                o._entries += 1
                history = o._history
                history += (later, step)
                if len(history) > longest:
                    del history[:2]
        while gone_q and gone_q[0][0] <= later:
            _, entries, o = gone_q.popleft()
            if o._entries == entries:
                del by_cloid[o.cloid]
                del by_oid[o.oid]
        # cancel: TRACKED -> CANCELLING, the cancel queued and drained
        o = by_cloid[cloid]
        dest, step = moves[o.state][cancel_request]
        o.state = dest
        o.state_since = later
        entries = o._entries = o._entries + 1
        cancelling_q.append((later + cancel_timeout, entries, o))
        history = o._history
        history += (later, step)
        if len(history) > longest:
            del history[:2]
        outbox.append(CancelOrder(cloid=o.cloid, oid=o.oid))
        sent, outbox = outbox, []
        # canceled: CANCELLING -> GONE(canceled), a tombstone
        ack = OrderCanceled(cloid=cloid, oid=Oid(i))
        o = by_cloid[ack.cloid]
        dest, step = moves[o.state][cancel_ack]
        o.state = dest
        o.state_since = later
        entries = o._entries = o._entries + 1
        gone_q.append((later + tombstone, entries, o))
        o.reason = canceled
        history = o._history
        history += (later, step)
        if len(history) > longest:
            del history[:2]
    elapsed = time.perf_counter() - t0
    if order is None or order.reason is not canceled or len(by_cloid) > 1 or len(by_oid) > 1:
        raise BenchError(f"the floor loop did not end with one tombstone: {order!r}")
    history = order.history
    if [r.trigger for r in history] != list(PATH) or history[-1].dest is not S.GONE:
        raise BenchError(f"the floor loop wrote a wrong history: {history}")
    return elapsed / n * 1e6


def measure_lifecycle(runs: int = RUNS_LIFECYCLE, n: int = LIFECYCLE_ORDERS) -> dict[str, float]:
    """Medians of the three lifecycle keys, their runs interleaved (see the module doc)."""
    return measure(
        Measurement(
            "lifecycle_us_per_order",
            runs,
            f"{n:,} engine lifecycles (events built in the loop)",
            lambda: lifecycle_run(n),
            "us/order",
        ),
        Measurement(
            "lifecycle_prebuilt_events_us_per_order",
            runs,
            f"{n:,} engine lifecycles (events prebuilt)",
            lambda: lifecycle_prebuilt_run(n),
            "us/order",
        ),
        Measurement(
            "lifecycle_floor_us_per_order",
            runs,
            f"{n:,} lifecycles of the same work in one loop, no engine",
            lambda: lifecycle_floor_run(n),
            "us/order",
        ),
    )
