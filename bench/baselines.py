"""The baselines the engine is compared against: the cheapest fire and two FSM libraries.

Theory of operation: each baseline drives the same six transitions as the
engine's lifecycle keys (:data:`engine.PATH`, PENDING to GONE) with no
exchange events and no registry, and checks that its last order ended GONE
(raising :class:`~measure.BenchError` otherwise). The dict fire is the
machine's calibration: the other time figures divided by it compare across
machines of different speeds. Setup (the shared ``transitions`` machine and
its live population) is never timed.

Keys
----
``floor_dict_fire_us``
    Calibration: the cheapest pure-Python transition,
    ``order.state = TABLE[(order.state, trigger)]`` on a ``__slots__`` object,
    alternating TRACKED --cancel_request--> CANCELLING --cancel_failed-->
    TRACKED, loop overhead included; 1,000,000 fires per run. Dividing the
    other time figures by this one makes results from machines of different
    speeds comparable.
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
``transitions`` / ``statemachine``
    The versions of the two libraries (:func:`library_versions`).
"""

from __future__ import annotations

import gc
import time
from typing import Any

import statemachine
import transitions
from engine import PATH
from measure import BenchError, Measurement, measure
from statemachine import State, StateMachine
from transitions import Machine

from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE

__all__ = [
    "FLOOR_FIRES",
    "LIBRARY_ORDERS",
    "NAIVE_POPULATION",
    "RUNS_FLOOR",
    "RUNS_LIBRARY",
    "PathMachine",
    "floor_run",
    "library_versions",
    "measure_floor",
    "measure_libraries",
    "measure_naive",
    "naive_machine",
    "naive_population",
    "naive_run",
    "statemachine_run",
]

S = OrderState
T = Trigger

#: Fires per run of the calibration key.
FLOOR_FIRES = 1_000_000
#: Orders per run of each library key.
LIBRARY_ORDERS = 2_000
#: Models kept registered with the shared ``transitions`` machine.
NAIVE_POPULATION = 1_000
#: Runs of the calibration key in :func:`measure_floor` when called without an argument.
RUNS_FLOOR = 9
#: Runs of each library key in :func:`measure_libraries` when called without an argument.
RUNS_LIBRARY = 5


def library_versions() -> dict[str, str]:
    """The versions of ``transitions`` and ``python-statemachine``."""
    return {
        "transitions": str(transitions.__version__),
        "statemachine": str(statemachine.__version__),
    }


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


def measure_floor(runs: int = RUNS_FLOOR) -> dict[str, float]:
    """The median of the calibration key ``floor_dict_fire_us``."""
    return measure(
        Measurement(
            "floor_dict_fire_us", runs, f"{FLOOR_FIRES:,} dict fires", floor_run, "us/fire"
        )
    )


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


def measure_libraries(runs: int = RUNS_LIBRARY) -> dict[str, float]:
    """Medians of the two library keys (see the module doc)."""
    results = measure_naive(runs)
    results.update(
        measure(
            Measurement(
                "statemachine_us_per_order",
                runs,
                f"{LIBRARY_ORDERS:,} python-statemachine instances x 6 events",
                statemachine_run,
                "us/order",
            )
        )
    )
    return results
