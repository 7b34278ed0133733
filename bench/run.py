"""Benchmark of the order-lifecycle engine, with baselines. Not a test.

Run by ``make bench`` as ``BENCH_JSON=path .venv/bin/python bench/run.py``. The
results go as JSON to the file named by the environment variable ``BENCH_JSON``
(default ``bench-results.json``); progress lines go to stderr as each
measurement runs, and a table of the results is printed to stdout at the end.

Method: every figure is the median of several runs made in this one process
(``runs`` gives how many per key); the runs of keys meant to be compared
(the two lifecycle keys; the two event keys) are interleaved, one run of each
in turn, so a slow spell of the machine affects both alike. ``gc.collect()``
is called just before each timed region; the garbage collector stays enabled
while timing, as in production. Setup (building engines, machines,
populations, prebuilt events) is never timed. Time figures are microseconds
of wall-clock time (``time.perf_counter``).

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
``naive_transitions_us_per_order``
    The same six transitions with the ``transitions`` library used naively: one
    shared ``transitions.Machine(model=None, auto_transitions=False)`` built from
    :data:`lifecycle.core.table.TABLE` (states are the ``OrderState`` members, trigger
    names are the ``Trigger`` values). Per order: a plain model object,
    ``machine.add_model(obj)``, the bound trigger methods ``obj.submit()``,
    ``obj.accept()``, ``obj.finalize()``, ``obj.protection_elapsed()``,
    ``obj.cancel_request()``, ``obj.cancel_ack()``, then
    ``machine.remove_model(obj)``. 1,000 other models (in TRACKED) stay
    registered throughout, a steady live population. ``add_model`` binds every
    trigger and state helper onto the model and checks membership in the
    machine's model list, and ``remove_model`` searches that list, so this cost
    grows with the live population; the figure holds for 1,000 live orders only.
    Per order, over 2,000 orders per run. No exchange events, no registry.
``statemachine_us_per_order``
    The same six transitions with ``python-statemachine``: a ``StateMachine``
    class with the seven states of this path and its six events; per order one
    instance is created and the six events are sent with ``send(name)``. Per
    order, over 2,000 orders per run. No exchange events, no registry.
``event_us_at_1k`` / ``event_us_at_100k``
    An engine holding N live orders, all TRACKED (N placed, the commands
    drained, each accepted, then one ``on_timer`` past ``protection_s``) applies
    ``OrderFilled`` events, each for an order drawn by ``random.Random(7)`` from
    the whole population, with a unique trade id and a size of 0.000001 (so the
    order stays TRACKED: FILL_PARTIAL, fill de-duplication, position update).
    The 20,000 events of a run are built before timing; a fresh engine is built
    for every run. Microseconds per event.
``event_ratio_100k_to_1k``
    ``event_us_at_100k / event_us_at_1k``: how the per-event cost grows with the
    number of live orders (1.0 is flat).
``bytes_per_order``
    With ``tracemalloc`` tracing, an engine is built (not counted), then 10,000
    live TRACKED orders as above; the traced size afterwards minus the traced
    size before the orders, divided by 10,000. Each order has its own price and
    size ``Decimal`` objects, as orders parsed from the wire would, so those
    (about 100 bytes each) are counted; so are the engine's index entries,
    queued timer entries and history, and anything else still held.
``sim_speedup``
    Simulated seconds per wall-clock second of the ``lifecycle simulate`` job
    (:func:`lifecycle.sim.simulate.run_simulation`) with the ``default`` fault
    profile over 600 simulated seconds: engine, runtime on the virtual clock,
    ladder quoter and simulated exchange, invariant checks included (the
    diagram is not rendered). Higher is better.
``floor_dict_fire_us``
    Calibration: the cheapest pure-Python transition,
    ``order.state = TABLE[(order.state, trigger)]`` on a ``__slots__`` object,
    alternating TRACKED --cancel_request--> CANCELLING --cancel_failed-->
    TRACKED, loop overhead included; 1,000,000 fires per run. Dividing the
    other time figures by this one makes results from machines of different
    speeds comparable.
``python``, ``transitions``, ``statemachine``
    The Python version and the versions of the two libraries.
``runs``
    Number of runs behind each measured key.
``targets`` / ``targets_met``
    The performance goals (``lifecycle_us_per_order`` <= 6 us,
    ``event_ratio_100k_to_1k`` <= 1.5, ``bytes_per_order`` <= 1024,
    ``sim_speedup`` >= 1000) and whether the measured values meet them.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import random
import statistics
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import statemachine
import transitions
from statemachine import State, StateMachine
from transitions import Machine

from lifecycle.config import LifecycleConfig
from lifecycle.core.commands import CancelOrder, PlaceOrder
from lifecycle.core.events import OrderAccepted, OrderCanceled, OrderFilled
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.engine.facade import Engine

S = OrderState
T = Trigger

LIFECYCLE_ORDERS = 20_000
LIBRARY_ORDERS = 2_000
NAIVE_POPULATION = 1_000
EVENTS_PER_RUN = 20_000
MEMORY_ORDERS = 10_000
FLOOR_FIRES = 1_000_000

RUNS_CHEAP = 9
RUNS_LIBRARY = 5
#: Runs of each event key: their ratio is a target and this VM's memory timing is noisy.
RUNS_EVENTS = 11
RUNS_SIM = 3
SIM_SECONDS = 600.0

TARGETS: dict[str, float] = {
    "lifecycle_us_per_order": 6.0,
    "event_ratio_100k_to_1k": 1.5,
    "bytes_per_order": 1024.0,
    "sim_speedup": 1000.0,
}
#: The targets that are floors (the value must be at least the target); the others are ceilings.
AT_LEAST: frozenset[str] = frozenset({"sim_speedup"})

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
TINY = Decimal("0.000001")


class BenchError(RuntimeError):
    """A measurement did not do what it claims to measure."""


def log(message: str) -> None:
    """Write one progress line to stderr."""
    print(message, file=sys.stderr, flush=True)


class Measurement(NamedTuple):
    """One key to measure: ``run`` returns one run's figure."""

    key: str
    runs: int
    what: str
    run: Callable[[], float]
    unit: str


def measure(*measurements: Measurement) -> dict[str, float]:
    """Announce each measurement, run them and return the median of each by key.

    The runs of several measurements are interleaved (one run of each in turn),
    so a slow spell of the machine hits them alike and their comparison holds.
    Each ``run`` does its own setup, calls :func:`gc.collect` and times only
    its measured region.
    """
    for m in measurements:
        log(f"{m.key}: {m.runs} runs of {m.what}")
    values: dict[str, list[float]] = {m.key: [] for m in measurements}
    for i in range(max(m.runs for m in measurements)):
        for m in measurements:
            if i < m.runs:
                value = m.run()
                values[m.key].append(value)
                log(f"  {m.key} run {i + 1}/{m.runs}: {value:.4f} {m.unit}")
    medians: dict[str, float] = {}
    for m in measurements:
        got = values[m.key]
        medians[m.key] = statistics.median(got)
        log(
            f"  -> {m.key} = {medians[m.key]:.4f} {m.unit} (min {min(got):.4f}, max {max(got):.4f})"
        )
    return medians


# --- calibration ------------------------------------------------------------------------


class _SlottedOrder:
    __slots__ = ("state",)

    def __init__(self, state: OrderState) -> None:
        self.state = state


def floor_run(fires: int = FLOOR_FIRES) -> float:
    """Microseconds per ``order.state = TABLE[(order.state, trigger)]``."""
    order = _SlottedOrder(S.TRACKED)
    table = TABLE
    there, back = T.CANCEL_REQUEST, T.CANCEL_FAILED
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(fires // 2):
        order.state = table[(order.state, there)]
        order.state = table[(order.state, back)]
    elapsed = time.perf_counter() - t0
    if order.state is not S.TRACKED:
        raise BenchError(f"floor loop ended in {order.state}")
    return elapsed / (fires // 2 * 2) * 1e6


# --- the engine: lifecycle ------------------------------------------------------------------


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


# --- transitions, used naively ----------------------------------------------------------------


class _NaiveOrder:
    """A plain model object: ``add_model`` writes its state and trigger methods."""


def naive_machine() -> Any:
    """A shared ``transitions`` machine with no models, built from the table."""
    return Machine(
        model=None,
        states=list(OrderState),
        transitions=[
            {"trigger": trigger.value, "source": source, "dest": dest}
            for (source, trigger), dest in TABLE.items()
        ],
        auto_transitions=False,
        initial=S.PENDING,
    )


def naive_population(machine: Any, n: int = NAIVE_POPULATION) -> list[Any]:
    """Register ``n`` models with ``machine`` and bring each to TRACKED."""
    population: list[Any] = []
    for _ in range(n):
        model: Any = _NaiveOrder()
        machine.add_model(model)
        for trigger in PATH[:4]:
            model.trigger(trigger.value)
        if model.state is not S.TRACKED:
            raise BenchError(f"a background model ended in {model.state}")
        population.append(model)
    return population


def naive_run(machine: Any, n: int = LIBRARY_ORDERS) -> float:
    """Microseconds per order with ``add_model``, six bound triggers, ``remove_model``."""
    add_model, remove_model = machine.add_model, machine.remove_model
    population = len(machine.models)
    model: Any = None
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(n):
        model = _NaiveOrder()
        add_model(model)
        model.submit()
        model.accept()
        model.finalize()
        model.protection_elapsed()
        model.cancel_request()
        model.cancel_ack()
        remove_model(model)
    elapsed = time.perf_counter() - t0
    if model is None or model.state is not S.GONE:
        raise BenchError("the last naive model did not end GONE")
    if len(machine.models) != population:
        raise BenchError(f"live population changed: {population} -> {len(machine.models)}")
    return elapsed / n * 1e6


def measure_naive(runs: int) -> dict[str, float]:
    """Build the shared machine and its live population, then :func:`measure` it."""
    machine = naive_machine()
    population = naive_population(machine)
    return measure(
        Measurement(
            "naive_transitions_us_per_order",
            runs,
            f"{LIBRARY_ORDERS:,} transitions add_model/6 triggers/remove_model "
            f"with {len(population):,} live models",
            lambda: naive_run(machine),
            "us/order",
        )
    )


# --- python-statemachine ------------------------------------------------------------------------


class PathMachine(StateMachine):
    """The seven states and six events of the measured path."""

    pending = State(initial=True)
    expected = State()
    live = State()
    finalized_protected = State()
    tracked = State()
    cancelling = State()
    gone = State(final=True)

    submit = pending.to(expected)
    accept = expected.to(live)
    finalize = live.to(finalized_protected)
    protection_elapsed = finalized_protected.to(tracked)
    cancel_request = tracked.to(cancelling)
    cancel_ack = cancelling.to(gone)


def statemachine_run(n: int = LIBRARY_ORDERS) -> float:
    """Microseconds per order: one instance, six ``send`` calls."""
    events = tuple(trigger.value for trigger in PATH)
    machine: PathMachine | None = None
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(n):
        machine = PathMachine()
        send = machine.send
        for event in events:
            send(event)
    elapsed = time.perf_counter() - t0
    if machine is None or machine.current_state_value != "gone" or not machine.is_terminated:
        raise BenchError("the last python-statemachine instance did not end in gone")
    return elapsed / n * 1e6


# --- the engine: live population ------------------------------------------------------------------


def place_tracked(engine: Engine, n: int) -> None:
    """Give ``engine`` ``n`` live TRACKED orders (own price and size objects each)."""
    now = engine.now if engine.now > 0.0 else 0.0
    cloids = [engine.place(Side.BUY, Decimal("100"), Decimal("1"), now).cloid for _ in range(n)]
    engine.commands_to_send()
    first = len(engine.registry) - n + 1
    for i, cloid in enumerate(cloids, first):
        engine.handle(OrderAccepted(cloid=cloid, oid=Oid(i)), now)
    engine.on_timer(now + engine.config.orders.protection_s + 1.0)
    tracked = engine.registry.count(S.TRACKED)
    if tracked != len(engine.registry) or len(engine.anomalies):
        raise BenchError(f"{tracked} of {len(engine.registry)} orders are TRACKED")


def event_run(population: int, n: int = EVENTS_PER_RUN) -> float:
    """Microseconds per ``OrderFilled`` applied to an engine of ``population`` orders."""
    engine = Engine()
    place_tracked(engine, population)
    orders = list(engine.registry)
    rng = random.Random(7)
    events = [
        OrderFilled(
            cloid=order.cloid,
            oid=order.oid,
            tid=Tid(k),
            side=Side.BUY,
            price=PRICE,
            size=TINY,
        )
        for k, order in enumerate((orders[rng.randrange(population)] for _ in range(n)), 1)
    ]
    del orders
    handle = engine.handle
    now = engine.now
    gc.collect()
    t0 = time.perf_counter()
    for event in events:
        handle(event, now)
    elapsed = time.perf_counter() - t0
    if engine.ledger.fills != n or len(engine.anomalies):
        raise BenchError(f"{engine.ledger.fills} of {n} fills applied")
    if engine.registry.count(S.TRACKED) != population:
        raise BenchError("a filled order left TRACKED")
    return elapsed / n * 1e6


def bytes_run(n: int = MEMORY_ORDERS) -> float:
    """Traced bytes per live TRACKED order (engine construction excluded)."""
    gc.collect()
    tracemalloc.start()
    try:
        engine = Engine()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        place_tracked(engine, n)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if len(engine.registry) != n:
        raise BenchError(f"{len(engine.registry)} orders held, expected {n}")
    return (after - before) / n


def sim_run(duration_s: float = SIM_SECONDS) -> float:
    """Simulated seconds per wall second of one default-profile simulation."""
    from lifecycle.sim import SimulationSpec, run_simulation

    package_log = logging.getLogger("lifecycle")
    level = package_log.level
    package_log.setLevel(logging.ERROR)  # anomalies are expected under faults
    try:
        gc.collect()
        report = run_simulation(SimulationSpec(duration_s=duration_s, faults="default"))
    finally:
        package_log.setLevel(level)
    if not report.ok:
        raise BenchError(f"simulation broke an invariant: {report.counters()}")
    return report.sim_seconds / report.wall_seconds


# --- main --------------------------------------------------------------------------------


def main() -> int:
    """Run every measurement, write the JSON file and print the table."""
    out_path = os.environ.get("BENCH_JSON", "bench-results.json")
    started = time.perf_counter()
    log(f"bench: python {platform.python_version()}, writing {out_path}")

    results: dict[str, float] = {}
    runs: dict[str, int] = {}

    def record(*measurements: Measurement) -> None:
        results.update(measure(*measurements))
        runs.update({m.key: m.runs for m in measurements})

    record(
        Measurement(
            "floor_dict_fire_us", RUNS_CHEAP, f"{FLOOR_FIRES:,} dict fires", floor_run, "us/fire"
        )
    )
    record(
        Measurement(
            "lifecycle_us_per_order",
            RUNS_CHEAP,
            f"{LIFECYCLE_ORDERS:,} engine lifecycles (events built in the loop)",
            lifecycle_run,
            "us/order",
        ),
        Measurement(
            "lifecycle_prebuilt_events_us_per_order",
            RUNS_CHEAP,
            f"{LIFECYCLE_ORDERS:,} engine lifecycles (events prebuilt)",
            lifecycle_prebuilt_run,
            "us/order",
        ),
        Measurement(
            "lifecycle_floor_us_per_order",
            RUNS_CHEAP,
            f"{LIFECYCLE_ORDERS:,} lifecycles of the same work in one loop, no engine",
            lifecycle_floor_run,
            "us/order",
        ),
    )
    results.update(measure_naive(RUNS_LIBRARY))
    runs["naive_transitions_us_per_order"] = RUNS_LIBRARY
    record(
        Measurement(
            "statemachine_us_per_order",
            RUNS_LIBRARY,
            f"{LIBRARY_ORDERS:,} python-statemachine instances x 6 events",
            statemachine_run,
            "us/order",
        )
    )
    record(
        Measurement(
            "event_us_at_1k",
            RUNS_EVENTS,
            f"{EVENTS_PER_RUN:,} fills on an engine of 1,000 TRACKED orders",
            lambda: event_run(1_000),
            "us/event",
        ),
        Measurement(
            "event_us_at_100k",
            RUNS_EVENTS,
            f"{EVENTS_PER_RUN:,} fills on an engine of 100,000 TRACKED orders",
            lambda: event_run(100_000),
            "us/event",
        ),
    )
    record(
        Measurement(
            "bytes_per_order",
            RUNS_LIBRARY,
            f"tracemalloc over {MEMORY_ORDERS:,} TRACKED orders",
            bytes_run,
            "bytes/order",
        )
    )
    record(
        Measurement(
            "sim_speedup",
            RUNS_SIM,
            f"`lifecycle simulate`, default faults, {SIM_SECONDS:.0f} simulated s",
            sim_run,
            "sim s / wall s",
        )
    )
    ratio = results["event_us_at_100k"] / results["event_us_at_1k"]

    report: dict[str, Any] = {
        "python": platform.python_version(),
        "transitions": str(transitions.__version__),
        "statemachine": str(statemachine.__version__),
        "floor_dict_fire_us": round(results["floor_dict_fire_us"], 4),
        "lifecycle_us_per_order": round(results["lifecycle_us_per_order"], 3),
        "lifecycle_prebuilt_events_us_per_order": round(
            results["lifecycle_prebuilt_events_us_per_order"], 3
        ),
        "lifecycle_floor_us_per_order": round(results["lifecycle_floor_us_per_order"], 3),
        "naive_transitions_us_per_order": round(results["naive_transitions_us_per_order"], 3),
        "statemachine_us_per_order": round(results["statemachine_us_per_order"], 3),
        "event_us_at_1k": round(results["event_us_at_1k"], 3),
        "event_us_at_100k": round(results["event_us_at_100k"], 3),
        "event_ratio_100k_to_1k": round(ratio, 3),
        "bytes_per_order": round(results["bytes_per_order"], 1),
        "sim_speedup": round(results["sim_speedup"], 1),
        "runs": runs,
        "targets": TARGETS,
        "targets_met": {
            "lifecycle_us_per_order": results["lifecycle_us_per_order"]
            <= TARGETS["lifecycle_us_per_order"],
            "event_ratio_100k_to_1k": ratio <= TARGETS["event_ratio_100k_to_1k"],
            "bytes_per_order": results["bytes_per_order"] <= TARGETS["bytes_per_order"],
            "sim_speedup": results["sim_speedup"] >= TARGETS["sim_speedup"],
        },
    }
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")

    total = time.perf_counter() - started
    log(f"bench: done in {total:.1f} s, results in {out_path}")
    print_table(report)
    return 0


def print_table(report: dict[str, Any]) -> None:
    """Print the results as a table to stdout."""
    floor = float(report["floor_dict_fire_us"])
    rows: list[tuple[str, str, str, str]] = []
    for key, value in report.items():
        if not isinstance(value, float) or key.startswith("floor"):
            continue
        unit = (
            "bytes" if key.startswith("bytes")
            else "x" if "ratio" in key or "speedup" in key else "us"
        )
        in_floors = f"{value / floor:,.1f}" if unit == "us" else ""
        target = report["targets"].get(key)
        met = report["targets_met"].get(key)
        sense = ">=" if key in AT_LEAST else "<="
        goal = f"{sense} {target:g} {'met' if met else 'MISSED'}" if target is not None else ""
        rows.append((key, f"{value:,.3f} {unit}", in_floors, goal))
    header = ("key", "median", "x floor", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    print(
        f"python {report['python']}, transitions {report['transitions']}, "
        f"python-statemachine {report['statemachine']}; "
        f"floor_dict_fire_us = {floor:.4f} us"
    )
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i in (0, 3) else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


if __name__ == "__main__":
    sys.exit(main())
