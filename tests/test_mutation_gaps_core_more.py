"""Core behaviour pinned after a second mutation-testing pass over ``lifecycle/core``.

The machine of record's configuration, the process-wide transition observers,
the reason an order carries after a tombstone is tracked again, and the
argument errors of the cloid factory.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from conftest import Recorder

from lifecycle.core.ids import CloidFactory
from lifecycle.core.machine import (
    OrderMachine,
    build_record_machine,
    observe_all,
    stop_observing_all,
)
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger

S = OrderState
T = Trigger


def pending() -> Order:
    return Order(cloid=CloidFactory("more").next(), side=Side.SELL, price=Decimal(50),
                 size=Decimal(2), now=0.0)


@pytest.fixture
def everywhere() -> Iterator[Recorder]:
    """A recorder observing every machine for the length of one test."""
    recorder = Recorder()
    observe_all(recorder)
    try:
        yield recorder
    finally:
        stop_observing_all(recorder)


class Model:
    """A plain object the machine of record can move."""

    state: OrderState


# --- the machine of record ---------------------------------------------------------------


# The machine of record has no model of its own and exactly the table's states.
def test_the_record_machine_has_no_models_and_only_the_order_states() -> None:
    record = build_record_machine()
    assert record.models == []
    assert not hasattr(record, "state")
    assert list(record.states) == [s.name for s in OrderState]


# A model added to the machine of record starts where every placed order starts.
def test_a_model_added_to_the_record_machine_starts_pending() -> None:
    record = build_record_machine()
    assert record.initial == S.PENDING.name
    model = Model()
    record.add_model(model)
    assert model.state is S.PENDING
    assert record.events[T.SUBMIT.value].trigger(model) is True
    assert record.get_model_state(model).name == S.EXPECTED.name


# Callbacks on the machine of record get the trigger's own arguments, not an EventData.
def test_record_machine_callbacks_receive_the_trigger_arguments() -> None:
    record = build_record_machine()
    assert record.send_event is False
    seen: list[tuple[object, ...]] = []
    event = record.events[T.SUBMIT.value]
    event.add_callback("after", lambda *args: seen.append(args))
    model = Model()
    model.state = S.PENDING
    assert event.trigger(model, "why") is True
    assert seen == [("why",)]


# --- observers of every machine ----------------------------------------------------------


# An observer of every machine hears each fired move with the order, both states and the time.
def test_an_observer_of_every_machine_hears_every_fired_move(everywhere: Recorder) -> None:
    machine = OrderMachine()
    order = pending()
    machine.fire(order, T.SUBMIT, 1.5)
    machine.fire(order, T.ACCEPT, 2.5)
    assert everywhere.fired == [
        (order, S.PENDING, T.SUBMIT, S.EXPECTED, 1.5),
        (order, S.EXPECTED, T.ACCEPT, S.LIVE, 2.5),
    ]
    assert everywhere.refused == []


# Once it stops observing, an observer of every machine hears nothing more; stopping one
# that never observed is no error.
def test_an_observer_that_stopped_observing_every_machine_hears_nothing_more() -> None:
    recorder = Recorder()
    stop_observing_all(recorder)  # not observing: nothing to undo
    observe_all(recorder)
    stop_observing_all(recorder)
    OrderMachine().fire(pending(), T.SUBMIT, 1.0)
    assert recorder.fired == []


# --- a tombstone tracked again ------------------------------------------------------------


# An order declared never placed, then accepted late, is live again and no longer has a reason.
def test_a_late_accept_clears_the_reason_of_the_tombstone() -> None:
    machine = OrderMachine()
    order = pending()
    machine.fire(order, T.SUBMIT, 1.0)
    machine.fire(order, T.CONFIRM_ABSENT, 2.0)
    assert (order.state, order.reason) == (S.GONE, GoneReason.NEVER_PLACED)
    machine.fire(order, T.ACCEPT, 3.0)  # reflexive on the tombstone: the reason stays
    assert (order.state, order.reason) == (S.GONE, GoneReason.NEVER_PLACED)
    assert machine.fire(order, T.LATE_ACCEPT, 4.0) is S.LIVE
    assert order.reason is None and order.state_since == 4.0


# --- the cloid factory's arguments ----------------------------------------------------------


# A counter start out of range is refused with a message naming the argument and its value.
@pytest.mark.parametrize("start", [-1, 2**64])
def test_cloid_factory_names_a_bad_start(start: int) -> None:
    with pytest.raises(ValueError, match=rf"^start must be in \[0, 2\*\*64\), got {start}$"):
        CloidFactory("more", start=start)
