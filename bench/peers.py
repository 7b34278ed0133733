"""Side-by-side comparison of the order lifecycle with peer libraries. Not a test.

The measurements of one comparison run alternately in this one process (one
run of each in turn, after one untimed warm-up run of each), so a slow spell
of the machine hits both sides alike; each figure is the median of its runs,
and each ratio is the peer's median divided by ours. ``gc.collect()`` runs
just before each timed region; setup (engines, caches, clients, identifiers
shared by every order) is never timed. Microseconds per order of wall-clock
time (``time.perf_counter``). Each run checks that its orders really went
through the whole path and raises :class:`BenchError` otherwise.

Keys
----
``lifecycle_fsm_equiv_us_per_order``
    Ours: one order through :class:`lifecycle.Engine`, as ``bench/engine.py``'s
    ``lifecycle_us_per_order``: ``place`` (PENDING), ``commands_to_send``
    (EXPECTED), ``handle(OrderAccepted)`` (LIVE, FINALIZED_PROTECTED),
    ``on_timer`` after ``protection_s`` (TRACKED), ``cancel`` (CANCELLING),
    ``commands_to_send``, ``handle(OrderCanceled)`` (GONE). The two exchange
    events are built in the timed loop. Over :data:`LIFECYCLE_ORDERS` orders. It is
    ``bench/engine.py``'s ``lifecycle_run`` itself, measured here again so that it
    alternates with NautilusTrader's runs.
``nautilus_fsm_us_per_order``
    NautilusTrader's order state machine (Cython): per order a
    ``ClientOrderId``, a ``LimitOrder`` (which builds its ``OrderInitialized``),
    then ``OrderSubmitted``, ``OrderAccepted`` (with a ``VenueOrderId``),
    ``OrderPendingCancel`` and ``OrderCanceled`` built and applied with
    ``order.apply``: INITIALIZED -> SUBMITTED -> ACCEPTED -> PENDING_CANCEL ->
    CANCELED. Each event gets its own ``UUID4`` event id, as the library's
    own producers give it. Over :data:`NAUTILUS_FSM_ORDERS` orders.
``nautilus_fsm_ratio``
    ``nautilus_fsm_us_per_order / lifecycle_fsm_equiv_us_per_order``.
``nautilus_exec_us_per_order``
    NautilusTrader's execution path, as a backtest wires it without a
    strategy: a ``TestClock``, ``MessageBus``, ``Cache`` holding the
    instrument, an ``ExecutionEngine`` and a registered ``ExecutionClient``
    whose ``submit_order`` answers with ``generate_order_submitted``. Per
    order: ``OrderFactory.limit``, ``engine.execute(SubmitOrder)`` (cached,
    routed to the client, SUBMITTED processed by the engine),
    ``client.generate_order_accepted`` (processed by the engine),
    ``engine.process(OrderPendingCancel)`` (what a strategy's
    ``cancel_order`` sends), ``engine.execute(CancelOrder)`` and
    ``client.generate_order_canceled``. Every event is applied to the cached
    order and published on the bus by the engine. The cache keeps every order,
    so a fresh engine is built per run of :data:`NAUTILUS_EXEC_ORDERS` orders.
``nautilus_exec_ratio``
    ``nautilus_exec_us_per_order / lifecycle_fsm_equiv_us_per_order``.

Hummingbot's ``ClientOrderTracker`` is looked for too; it is skipped, with
the reason logged, when ``hummingbot`` is not importable.
"""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.util
import logging
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine import lifecycle_run as lifecycle_equiv_run
from measure import BenchError, log_to_stderr

__all__ = [
    "LIFECYCLE_ORDERS",
    "NAUTILUS_EXEC_ORDERS",
    "NAUTILUS_FSM_ORDERS",
    "BenchError",
    "lifecycle_equiv_run",
    "measure_peers",
    "nautilus_exec_run",
    "nautilus_fsm_run",
    "peer_versions",
    "skip_reason",
]

log = logging.getLogger("bench.peers")

LIFECYCLE_ORDERS = 20_000
NAUTILUS_FSM_ORDERS = 20_000
NAUTILUS_EXEC_ORDERS = 5_000
#: Runs of each key in :func:`measure_peers` when called without an argument.
RUNS = 7
#: Orders in the untimed warm-up run of each measurement.
WARMUP_ORDERS = 1_000

PRICE = Decimal("100")
SIZE = Decimal("1")
#: Nanoseconds between two orders' time bases (NautilusTrader's clock unit).
_NS_PER_ORDER = 20_000_000_000

#: The peers measured, by the module each needs: (label, module).
PEERS: tuple[tuple[str, str], ...] = (
    ("nautilus_trader", "nautilus_trader.model.orders"),
    ("hummingbot", "hummingbot.connector.client_order_tracker"),
)


def skip_reason(module: str) -> str | None:
    """Why ``module`` cannot be measured (it is not importable), or None when it is."""
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        return f"{module} is not importable: {type(exc).__name__}: {exc}"
    if found is None:
        return f"{module} is not installed"
    return None


def peer_versions() -> dict[str, str]:
    """The installed version of each peer distribution, ``"missing"`` when absent."""
    versions = {}
    for label, _ in PEERS:
        try:
            versions[label] = importlib.metadata.version(label)
        except importlib.metadata.PackageNotFoundError:
            versions[label] = "missing"
    return versions


# --- ours ----------------------------------------------------------------------------------


# --- NautilusTrader ------------------------------------------------------------------------


def nautilus_fsm_run(n: int = NAUTILUS_FSM_ORDERS) -> float:
    """Microseconds per NautilusTrader ``LimitOrder`` built and driven to CANCELED by its events."""
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.model.enums import OrderSide, OrderStatus
    from nautilus_trader.model.events import (
        OrderAccepted as NOrderAccepted,
    )
    from nautilus_trader.model.events import (
        OrderCanceled as NOrderCanceled,
    )
    from nautilus_trader.model.events import (
        OrderPendingCancel,
        OrderSubmitted,
    )
    from nautilus_trader.model.identifiers import (
        AccountId,
        ClientOrderId,
        InstrumentId,
        StrategyId,
        TraderId,
        VenueOrderId,
    )
    from nautilus_trader.model.objects import Price, Quantity
    from nautilus_trader.model.orders import LimitOrder

    trader = TraderId("TRADER-001")
    strategy = StrategyId("MM-001")
    instrument = InstrumentId.from_str("BTC-PERP.HYPERLIQUID")
    account = AccountId("HYPERLIQUID-001")
    quantity = Quantity.from_str("1")
    price = Price.from_str("100.0")
    buy = OrderSide.BUY
    order: Any = None
    gc.collect()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        ts = i * _NS_PER_ORDER
        coid = ClientOrderId(f"O-{i}")
        order = LimitOrder(
            trader_id=trader,
            strategy_id=strategy,
            instrument_id=instrument,
            client_order_id=coid,
            order_side=buy,
            quantity=quantity,
            price=price,
            init_id=UUID4(),
            ts_init=ts,
        )
        order.apply(
            OrderSubmitted(
                trader_id=trader,
                strategy_id=strategy,
                instrument_id=instrument,
                client_order_id=coid,
                account_id=account,
                event_id=UUID4(),
                ts_event=ts,
                ts_init=ts,
            )
        )
        venue_id = VenueOrderId(str(i))
        order.apply(
            NOrderAccepted(
                trader_id=trader,
                strategy_id=strategy,
                instrument_id=instrument,
                client_order_id=coid,
                venue_order_id=venue_id,
                account_id=account,
                event_id=UUID4(),
                ts_event=ts,
                ts_init=ts,
            )
        )
        order.apply(
            OrderPendingCancel(
                trader_id=trader,
                strategy_id=strategy,
                instrument_id=instrument,
                client_order_id=coid,
                venue_order_id=venue_id,
                account_id=account,
                event_id=UUID4(),
                ts_event=ts,
                ts_init=ts,
            )
        )
        order.apply(
            NOrderCanceled(
                trader_id=trader,
                strategy_id=strategy,
                instrument_id=instrument,
                client_order_id=coid,
                venue_order_id=venue_id,
                account_id=account,
                event_id=UUID4(),
                ts_event=ts,
                ts_init=ts,
            )
        )
    elapsed = time.perf_counter() - t0
    if order is None or order.status != OrderStatus.CANCELED or order.event_count != 5:
        raise BenchError(f"the last nautilus order did not end CANCELED after 5 events: {order!r}")
    return elapsed / n * 1e6


def _nautilus_exec_setup() -> dict[str, Any]:
    """A backtest-style execution engine with one client and one instrument (untimed)."""
    from nautilus_trader.cache.cache import Cache
    from nautilus_trader.common.component import MessageBus, TestClock
    from nautilus_trader.common.factories import OrderFactory
    from nautilus_trader.execution.client import ExecutionClient
    from nautilus_trader.execution.engine import ExecutionEngine
    from nautilus_trader.model.enums import AccountType, OmsType
    from nautilus_trader.model.identifiers import (
        AccountId,
        ClientId,
        StrategyId,
        TraderId,
        Venue,
    )
    from nautilus_trader.test_kit.providers import TestInstrumentProvider

    class VenueClient(ExecutionClient):  # type: ignore[misc]
        """A venue that acknowledges every submission; the caller plays its answers."""

        def submit_order(self, command: Any) -> None:
            """Report the order SUBMITTED to the engine, as a live client does on sending."""
            self.generate_order_submitted(
                command.strategy_id,
                command.instrument_id,
                command.order.client_order_id,
                command.ts_init,
            )

        def cancel_order(self, command: Any) -> None:
            """Accept the cancel request; its answer is played by the caller."""

    trader = TraderId("TRADER-001")
    clock = TestClock()
    msgbus = MessageBus(trader_id=trader, clock=clock)
    cache = Cache()
    instrument = TestInstrumentProvider.btcusdt_binance()
    cache.add_instrument(instrument)
    engine = ExecutionEngine(msgbus=msgbus, cache=cache, clock=clock)
    venue = instrument.id.venue
    client = VenueClient(
        ClientId(venue.value),
        Venue(venue.value),
        OmsType.NETTING,
        AccountType.CASH,
        None,
        msgbus,
        cache,
        clock,
    )
    client._set_account_id(AccountId(f"{venue.value}-001"))
    engine.register_client(client)
    engine.start()
    client.start()
    strategy = StrategyId("MM-001")
    return {
        "trader": trader,
        "strategy": strategy,
        "clock": clock,
        "cache": cache,
        "engine": engine,
        "client": client,
        "instrument": instrument,
        "factory": OrderFactory(trader, strategy, clock),
    }


def nautilus_exec_run(n: int = NAUTILUS_EXEC_ORDERS) -> float:
    """Microseconds per order submitted, accepted and cancelled through an ``ExecutionEngine``."""
    from nautilus_trader.core.uuid import UUID4
    from nautilus_trader.execution.messages import CancelOrder, SubmitOrder
    from nautilus_trader.model.enums import OrderSide, OrderStatus
    from nautilus_trader.model.events import OrderPendingCancel
    from nautilus_trader.model.identifiers import VenueOrderId
    from nautilus_trader.model.objects import Price, Quantity

    parts = _nautilus_exec_setup()
    trader, strategy = parts["trader"], parts["strategy"]
    clock, cache, engine = parts["clock"], parts["cache"], parts["engine"]
    client, factory = parts["client"], parts["factory"]
    instrument = parts["instrument"]
    instrument_id = instrument.id
    account = client.account_id
    quantity = Quantity.from_str(f"{1:.{instrument.size_precision}f}")
    price = Price.from_str(f"{100:.{instrument.price_precision}f}")
    buy = OrderSide.BUY
    execute, process = engine.execute, engine.process
    accepted, canceled = client.generate_order_accepted, client.generate_order_canceled
    order: Any = None
    gc.collect()
    t0 = time.perf_counter()
    for i in range(1, n + 1):
        ts = i * _NS_PER_ORDER
        clock.set_time(ts)
        order = factory.limit(instrument_id, buy, quantity, price)
        execute(SubmitOrder(trader, strategy, order, UUID4(), ts))
        coid = order.client_order_id
        venue_id = VenueOrderId(str(i))
        accepted(strategy, instrument_id, coid, venue_id, ts)
        process(
            OrderPendingCancel(
                trader_id=trader,
                strategy_id=strategy,
                instrument_id=instrument_id,
                client_order_id=coid,
                venue_order_id=venue_id,
                account_id=account,
                event_id=UUID4(),
                ts_event=ts,
                ts_init=ts,
            )
        )
        execute(CancelOrder(trader, strategy, instrument_id, coid, venue_id, UUID4(), ts))
        canceled(strategy, instrument_id, coid, venue_id, ts)
    elapsed = time.perf_counter() - t0
    if order is None or order.status != OrderStatus.CANCELED or order.event_count != 5:
        raise BenchError(f"the last nautilus order did not end CANCELED after 5 events: {order!r}")
    closed = len(cache.orders_closed())
    if (closed, engine.event_count, engine.command_count) != (n, 4 * n, 2 * n):
        raise BenchError(
            f"expected {n} closed orders, {4 * n} events and {2 * n} commands through the "
            f"engine, got {closed}, {engine.event_count}, {engine.command_count}"
        )
    engine.stop()
    return elapsed / n * 1e6


# --- driving -------------------------------------------------------------------------------


def _interleaved(
    runs: int, measured: dict[str, tuple[Callable[[int], float], int]], warmup: int
) -> dict[str, float]:
    """One warm-up run of each (``warmup`` orders), then ``runs`` runs in turn; medians by key."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    for run, n in measured.values():
        run(min(n, warmup))
    values: dict[str, list[float]] = {key: [] for key in measured}
    for i in range(runs):
        for key, (run, n) in measured.items():
            value = run(n)
            values[key].append(value)
            log.info("%s run %d/%d: %.3f us/order", key, i + 1, runs, value)
    return {key: statistics.median(got) for key, got in values.items()}


def measure_peers(
    runs: int = RUNS,
    *,
    lifecycle_orders: int = LIFECYCLE_ORDERS,
    nautilus_fsm_orders: int = NAUTILUS_FSM_ORDERS,
    nautilus_exec_orders: int = NAUTILUS_EXEC_ORDERS,
    warmup: int = WARMUP_ORDERS,
) -> dict[str, float]:
    """Medians of our lifecycle and of each importable peer's, with the ratios (see the module doc).

    A peer whose package is not importable is skipped and the reason logged
    (WARNING on the ``bench.peers`` logger); its keys are then absent.
    """
    measured: dict[str, tuple[Callable[[int], float], int]] = {
        "lifecycle_fsm_equiv_us_per_order": (lifecycle_equiv_run, lifecycle_orders),
    }
    reason = skip_reason("nautilus_trader.model.orders")
    if reason is None:
        log.info("nautilus_trader %s", peer_versions()["nautilus_trader"])
        measured["nautilus_fsm_us_per_order"] = (nautilus_fsm_run, nautilus_fsm_orders)
        measured["nautilus_exec_us_per_order"] = (nautilus_exec_run, nautilus_exec_orders)
    else:
        log.warning("nautilus_trader skipped: %s", reason)
    reason = skip_reason("hummingbot.connector.client_order_tracker")
    if reason is None:
        log.warning("hummingbot skipped: importable, but no ClientOrderTracker run is written")
    else:
        log.warning("hummingbot skipped: %s", reason)

    results = _interleaved(runs, measured, warmup)
    ours = results["lifecycle_fsm_equiv_us_per_order"]
    for peer, ratio in (
        ("nautilus_fsm_us_per_order", "nautilus_fsm_ratio"),
        ("nautilus_exec_us_per_order", "nautilus_exec_ratio"),
    ):
        if peer in results:
            results[ratio] = results[peer] / ours
    return results


if __name__ == "__main__":
    log_to_stderr()
    print(peer_versions())
    for name, value in measure_peers().items():
        print(f"{name} = {value:.3f}")
