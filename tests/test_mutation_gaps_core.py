"""Core behaviour that mutation testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutant it kills: a change to
``lifecycle/core`` that every other test let pass.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from conftest import Recorder
from transitions import Machine

from lifecycle.core.anomalies import AnomalyKind, AnomalyLog
from lifecycle.core.clock import ManualClock
from lifecycle.core.errors import IllegalTransition, TimeWentBackwards
from lifecycle.core.events import OrderCanceled, OrderFilled
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.machine import MachineDisagreement, OrderMachine
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE

S = OrderState
T = Trigger


# --- verify=True: the table and the machine of record must agree ---------------------------


def record_of(rows: Mapping[tuple[OrderState, Trigger], OrderState]) -> Any:
    """A ``transitions`` machine built as the machine of record is, from other rows."""
    return Machine(
        model=None, states=OrderState, initial=OrderState.PENDING,
        transitions=[{"trigger": t.value, "source": s, "dest": d} for (s, t), d in rows.items()],
        auto_transitions=False, ignore_invalid_triggers=False, send_event=False,
    )


def pending() -> Order:
    return Order(cloid=CloidFactory("test").next(), side=Side.BUY, price=Decimal(100),
                 size=Decimal(1), now=0.0)


def test_verify_raises_when_the_record_refuses_a_move_the_table_allows() -> None:
    # Kills `if dest is not None` -> `is None` (and the removal of the raise) in _verify.
    machine = OrderMachine(verify=True)
    # `submit` stays an event of the record, from another state only.
    rows = {k: v for k, v in TABLE.items() if k != (S.PENDING, T.SUBMIT)}
    machine.record = record_of({**rows, (S.LIVE, T.SUBMIT): S.EXPECTED})
    order = pending()
    with pytest.raises(MachineDisagreement,
                       match=r"^table allows pending --submit--> expected; the transitions "
                             r"machine refused it$"):
        machine.fire(order, T.SUBMIT, 1.0)
    assert order.state is S.PENDING and order.history == ()


def test_verify_raises_when_the_record_reaches_another_state() -> None:
    # Kills `reached is not dest` -> `is dest` and `order.state = source` -> `= None`.
    machine = OrderMachine(verify=True)
    machine.record = record_of({**TABLE, (S.PENDING, T.SUBMIT): S.GONE})
    order = pending()
    with pytest.raises(MachineDisagreement,
                       match=r"^pending --submit-->: table says expected, transitions reached "):
        machine.fire(order, T.SUBMIT, 1.0)
    assert order.state is S.PENDING and order.history == ()


def test_verify_raises_when_the_record_allows_a_move_the_table_refuses() -> None:
    # Kills the mutants of _refused's verify call and of _verify's `return` on refusal.
    machine = OrderMachine(verify=True)
    machine.record = record_of({**TABLE, (S.PENDING, T.ACCEPT): S.LIVE})
    order = pending()
    with pytest.raises(MachineDisagreement, match=r"^pending --accept-->: table says illegal, "):
        machine.fire(order, T.ACCEPT, 1.0)
    assert order.state is S.PENDING


def test_verify_passes_when_both_agree_and_the_table_writes_the_state() -> None:
    machine = OrderMachine(verify=True)
    order = pending()
    assert machine.fire(order, T.SUBMIT, 1.0) is S.EXPECTED
    assert order.state is S.EXPECTED and order.state_since == 1.0
    with pytest.raises(IllegalTransition, match="modify_request in state expected"):
        machine.fire(order, T.MODIFY_REQUEST, 2.0)
    assert order.state is S.EXPECTED


def test_without_verify_the_record_is_not_consulted() -> None:
    machine = OrderMachine(verify=False)
    machine.record = record_of({})
    order = pending()
    assert machine.fire(order, T.SUBMIT, 1.0) is S.EXPECTED


# --- the cloid counter's limit ------------------------------------------------------------------


def test_cloid_factory_makes_the_last_cloid_then_refuses() -> None:
    # Kills `n >= 2**64` -> `n > 2**64` in CloidFactory.next.
    factory = CloidFactory("test", run_id=7, start=2**64 - 1)
    last = factory.next()
    assert last == Cloid(last) and last.endswith("f" * 16) and len(last) == 34
    assert factory.counter == 2**64
    with pytest.raises(OverflowError, match=r"^cloid counter exhausted for run 7$"):
        factory.next()
    assert factory.counter == 2**64


# --- the slow half of record validation: rarer valid forms --------------------------------------


class _Int(int):
    """An int subclass: valid, but not taken by the fast path."""


class _Decimal(Decimal):
    """A Decimal subclass: valid, but not taken by the fast path."""


def test_records_accept_id_zero_and_size_one_in_subclassed_forms() -> None:
    # Kills `value < 0` -> `<= 0` / `< 1` in check_id and `value > 0` -> `> 1` in
    # check_positive: only the slow path sees a subclass, and it decides.
    fill = OrderFilled(oid=Oid(_Int(0)), tid=Tid(_Int(0)), side=Side.BUY, price=_Decimal("0.5"),
                       size=_Decimal("1"))
    assert (fill.oid, fill.tid, fill.price, fill.size) == (0, 0, Decimal("0.5"), Decimal(1))
    with pytest.raises(ValueError, match=r"^OrderFilled\.tid must be an int >= 0, got -1$"):
        OrderFilled(tid=Tid(_Int(-1)), side=Side.BUY, price=Decimal(1), size=Decimal(1))
    with pytest.raises(ValueError, match=r"^OrderFilled\.size must be a finite Decimal > 0"):
        OrderFilled(tid=Tid(1), side=Side.BUY, price=Decimal(1), size=_Decimal("0"))


def test_a_field_of_the_wrong_class_is_named_with_the_class_it_needs() -> None:
    # Kills `... if issubclass(expected, enum.Enum) else ...` -> `... or True ...` in bad_type.
    with pytest.raises(TypeError, match=r"^OrderCanceled\.exchange_initiated must be a bool, "
                                        r"got 1$"):
        OrderCanceled(oid=Oid(1), exchange_initiated=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^OrderFilled\.side must be a Side member, got 'buy'$"):
        OrderFilled(tid=Tid(1), side="buy", price=Decimal(1), size=Decimal(1))  # type: ignore[arg-type]


# --- the manual clock -----------------------------------------------------------------------------


def test_manual_clock_advances_by_zero_and_refuses_going_back() -> None:
    # Kills `seconds < 0` -> `seconds <= 0` in ManualClock.advance.
    clock = ManualClock(5.0)
    assert clock.advance(0) == 5.0 and clock.now() == 5.0
    with pytest.raises(TimeWentBackwards, match=r"^cannot advance by a negative amount: -1$"):
        clock.advance(-1)
    clock.set(5.0)
    with pytest.raises(TimeWentBackwards, match=r"^cannot set the clock back from 5\.0 to 4$"):
        clock.set(4)
    assert clock.now() == 5.0


# --- the anomaly log ----------------------------------------------------------------------------


def test_the_anomaly_log_keeps_the_last_thousand_and_counts_them_all(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Kills the mutants of AnomalyLog's default bound (1000 -> 1001, or no bound).
    caplog.set_level(logging.ERROR, logger="lifecycle.anomalies")
    log = AnomalyLog()
    for i in range(1001):
        log.record(AnomalyKind.OVERFILL, float(i), None, f"#{i}")
    recent = list(log)
    assert len(recent) == 1000 and recent[0].detail == "#1" and recent[-1].detail == "#1000"
    assert len(log) == 1001 and log.counts[AnomalyKind.OVERFILL] == 1001


# --- the machine's observers, defaults and entry count -------------------------------------------


def test_a_machines_observers_hear_every_fired_and_refused_trigger() -> None:
    # Kills the mutants of the arguments passed to a machine's own observers in fire.
    machine, recorder = OrderMachine(), Recorder()
    machine.add_observer(recorder)
    assert machine.observers == (recorder,)
    order = pending()
    machine.fire(order, T.SUBMIT, 1.0)
    with pytest.raises(IllegalTransition):
        machine.fire(order, T.FINALIZE, 2.0)
    machine.remove_observer(recorder)
    machine.fire(order, T.ACCEPT, 3.0)
    assert recorder.fired == [(order, S.PENDING, T.SUBMIT, S.EXPECTED, 1.0)]
    assert recorder.refused == [(order, T.FINALIZE, 2.0)]


def test_an_order_counts_its_state_entries_one_by_one() -> None:
    # Kills `order._entries + 1` -> `- 1` / `+ 2` in OrderMachine.fire.
    machine = OrderMachine()
    order = pending()
    assert order.entries == 0
    machine.fire(order, T.SUBMIT, 1.0)
    machine.fire(order, T.ACCEPT, 2.0)
    assert order.entries == 2
    machine.fire(order, T.FINALIZE, 3.0)
    machine.fire(order, T.ACCEPT, 4.0)  # reflexive: not an entry
    assert order.entries == 3


def test_machine_and_factory_defaults() -> None:
    # Kills the mutants of the default arguments of OrderMachine and CloidFactory.
    machine = OrderMachine()
    assert (machine.history_limit, machine.verify) == (32, False)
    assert OrderMachine(history_limit=5).history_limit == 5
    factory = CloidFactory("test")
    assert factory.run_id == 0 and factory.next()[10:18] == "00000000"
