"""The engine under a live population: per-event cost as it grows, and memory per order.

Theory of operation: :func:`place_tracked` gives a fresh engine ``N`` live
TRACKED orders (untimed); :func:`event_run` then times a prebuilt stream of
small fills spread over the whole population, and :func:`bytes_run` traces
the memory those orders hold. The two event keys run interleaved (see
:func:`measure.measure`) because their ratio is a target. Each run checks
that every fill was applied and every order stayed TRACKED, and raises
:class:`~measure.BenchError` otherwise.

Keys
----
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
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from decimal import Decimal

from engine import PRICE
from measure import BenchError, Measurement, measure

from lifecycle.core.events import OrderAccepted, OrderFilled
from lifecycle.core.ids import Oid, Tid
from lifecycle.core.order import Side
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine

__all__ = [
    "EVENTS_PER_RUN",
    "MEMORY_ORDERS",
    "RUNS_EVENTS",
    "RUNS_MEMORY",
    "bytes_run",
    "event_run",
    "measure_events",
    "measure_memory",
    "place_tracked",
]

S = OrderState

#: Fills applied per run of each event key.
EVENTS_PER_RUN = 20_000
#: Live orders behind ``bytes_per_order``.
MEMORY_ORDERS = 10_000
#: Runs of each event key: their ratio is a target and this VM's memory timing is noisy.
RUNS_EVENTS = 11
#: Runs of ``bytes_per_order`` (its figure does not vary from run to run).
RUNS_MEMORY = 5
#: The size of each fill: small enough that every order stays TRACKED.
TINY = Decimal("0.000001")


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


def measure_events(runs: int = RUNS_EVENTS) -> dict[str, float]:
    """Medians of the two event keys, their runs interleaved, and their ratio."""
    results = measure(
        Measurement(
            "event_us_at_1k",
            runs,
            f"{EVENTS_PER_RUN:,} fills on an engine of 1,000 TRACKED orders",
            lambda: event_run(1_000),
            "us/event",
        ),
        Measurement(
            "event_us_at_100k",
            runs,
            f"{EVENTS_PER_RUN:,} fills on an engine of 100,000 TRACKED orders",
            lambda: event_run(100_000),
            "us/event",
        ),
    )
    results["event_ratio_100k_to_1k"] = results["event_us_at_100k"] / results["event_us_at_1k"]
    return results


def measure_memory(runs: int = RUNS_MEMORY) -> dict[str, float]:
    """The median of ``bytes_per_order``."""
    return measure(
        Measurement(
            "bytes_per_order",
            runs,
            f"tracemalloc over {MEMORY_ORDERS:,} TRACKED orders",
            bytes_run,
            "bytes/order",
        )
    )
