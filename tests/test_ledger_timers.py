"""Tests for lifecycle.engine.ledger.FillLedger and lifecycle.core.timers.StateTimers.

The ledger's memory by time, its checks and its checkpoints are tested in
test_fill_identity.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pytest

from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.machine import OrderMachine
from lifecycle.core.order import FillId, Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.timers import StateTimers
from lifecycle.engine.ledger import FillLedger

S = OrderState
T = Trigger

DURATIONS: dict[OrderState, float] = {S.FINALIZED_PROTECTED: 10.0, S.GONE: 5.0}

TO_PROTECTED = (T.SUBMIT, T.ACCEPT, T.FINALIZE)


@pytest.fixture
def machine() -> OrderMachine:
    return OrderMachine(verify=True)


@pytest.fixture
def timers() -> StateTimers:
    return StateTimers(DURATIONS)


_FACTORY = CloidFactory("test-timers", 1)


def new_order() -> Order:
    return Order(
        cloid=_FACTORY.next(), side=Side.BUY, price=Decimal("100"), size=Decimal("1"), now=0.0
    )


def order_in(machine: OrderMachine, triggers: Iterable[Trigger], now: float) -> Order:
    """A fresh order moved by ``triggers``, all fired at ``now``."""
    order = new_order()
    for trigger in triggers:
        machine.fire(order, trigger, now)
    return order


def due_list(timers: StateTimers, now: float) -> list[tuple[OrderState, Order]]:
    return list(timers.due(now))


# --- FillLedger --------------------------------------------------------------------------


def fid(tid: int) -> FillId:
    """The identity of a fill of oid 1 with trade id ``tid``."""
    return (Tid(tid), Oid(1), "")


@pytest.mark.parametrize(
    ("fills", "expected"),
    [
        ([], Decimal("0")),
        ([(Side.BUY, Decimal("1.5"))], Decimal("1.5")),
        ([(Side.SELL, Decimal("2"))], Decimal("-2")),
        ([(Side.BUY, Decimal("1")), (Side.SELL, Decimal("0.25"))], Decimal("0.75")),
        ([(Side.SELL, Decimal("0.1")), (Side.SELL, Decimal("0.2"))], Decimal("-0.3")),
    ],
)
def test_ledger_apply_buy_adds_sell_subtracts(
    fills: list[tuple[Side, Decimal]], expected: Decimal
) -> None:
    # Arrange
    ledger = FillLedger(capacity=10)

    # Act
    results = [ledger.apply(fid(i), side, size, 0.0) for i, (side, size) in enumerate(fills)]

    # Assert
    assert results == [True] * len(fills)
    assert ledger.position == expected
    assert ledger.fills == len(fills)
    assert ledger.duplicates == 0


def test_ledger_apply_repeated_tid_changes_nothing_counts_duplicate() -> None:
    # Arrange
    ledger = FillLedger(capacity=10)
    ledger.apply(fid(1), Side.BUY, Decimal("1"), 0.0)

    # Act
    again_same = ledger.apply(fid(1), Side.BUY, Decimal("1"), 0.0)
    again_other = ledger.apply(fid(1), Side.SELL, Decimal("5"), 0.0)

    # Assert
    assert (again_same, again_other) == (False, False)
    assert ledger.position == Decimal("1")
    assert ledger.fills == 1
    assert ledger.duplicates == 2
    assert ledger.remembers(fid(1), 0.0)


def test_ledger_remembers_unknown_tid_false() -> None:
    # Arrange
    ledger = FillLedger(capacity=3)
    ledger.apply(fid(1), Side.BUY, Decimal("1"), 0.0)

    # Act / Assert
    assert ledger.remembers(fid(1), 0.0) is True
    assert ledger.remembers(fid(2), 0.0) is False


def test_ledger_window_full_forgets_oldest_tid() -> None:
    # Arrange
    ledger = FillLedger(capacity=3)

    # Act
    for tid in (1, 2, 3, 4):
        ledger.apply(fid(tid), Side.BUY, Decimal("1"), 0.0)

    # Assert
    assert ledger.remembers(fid(1), 0.0) is False
    assert [ledger.remembers(fid(t), 0.0) for t in (2, 3, 4)] == [True, True, True]
    assert ledger.position == Decimal("4")


def test_ledger_forgotten_tid_applies_again() -> None:
    # Arrange
    ledger = FillLedger(capacity=3)
    for tid in (1, 2, 3, 4):
        ledger.apply(fid(tid), Side.BUY, Decimal("1"), 0.0)

    # Act
    applied = ledger.apply(fid(1), Side.BUY, Decimal("1"), 0.0)

    # Assert
    assert applied is True
    assert ledger.position == Decimal("5")
    assert ledger.remembers(fid(2), 0.0) is False


def test_ledger_duplicates_do_not_evict_window() -> None:
    # Arrange
    ledger = FillLedger(capacity=3)
    for tid in (1, 2, 3):
        ledger.apply(fid(tid), Side.BUY, Decimal("1"), 0.0)

    # Act
    for _ in range(10):
        ledger.apply(fid(3), Side.BUY, Decimal("1"), 0.0)

    # Assert
    assert [ledger.remembers(fid(t), 0.0) for t in (1, 2, 3)] == [True, True, True]
    assert ledger.duplicates == 10


def test_ledger_many_fills_memory_bounded_by_capacity() -> None:
    # Arrange
    capacity = 3
    ledger = FillLedger(capacity=capacity)

    # Act
    for tid in range(1000):
        ledger.apply(fid(tid), Side.SELL if tid % 2 else Side.BUY, Decimal("1"), 0.0)
        # Assert (every step)
        assert len(ledger) <= capacity

    # Assert
    assert len(ledger) == capacity
    assert ledger.fills == 1000
    assert ledger.position == Decimal("0")
    remembered = [ledger.remembers(fid(t), 0.0) for t in (996, 997, 998, 999)]
    assert remembered == [False, True, True, True]


def test_ledger_count_duplicate_increments_only_duplicates() -> None:
    # Arrange
    ledger = FillLedger(capacity=3)
    ledger.apply(fid(1), Side.BUY, Decimal("1"), 0.0)

    # Act
    ledger.count_duplicate()

    # Assert
    assert ledger.duplicates == 1
    assert ledger.fills == 1
    assert ledger.position == Decimal("1")


@pytest.mark.parametrize("capacity", [0, -1])
def test_ledger_capacity_below_one_raises(capacity: int) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="capacity"):
        FillLedger(capacity=capacity)


def test_ledger_capacity_one_remembers_only_last() -> None:
    # Arrange
    ledger = FillLedger(capacity=1)

    # Act
    ledger.apply(fid(1), Side.BUY, Decimal("1"), 0.0)
    ledger.apply(fid(2), Side.BUY, Decimal("1"), 0.0)

    # Assert
    assert (ledger.remembers(fid(1), 0.0), ledger.remembers(fid(2), 0.0)) == (False, True)


# --- StateTimers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected_due"),
    [(104.0, False), (109.999, False), (110.0, True), (500.0, True)],
)
def test_timers_due_yields_order_only_once_deadline_reached(
    machine: OrderMachine, timers: StateTimers, now: float, expected_due: bool
) -> None:
    # Arrange
    order = order_in(machine, TO_PROTECTED, now=100.0)
    timers.arm(order, 100.0)

    # Act
    fired = due_list(timers, now)

    # Assert
    assert fired == ([(S.FINALIZED_PROTECTED, order)] if expected_due else [])


def test_timers_due_yields_each_entry_once(machine: OrderMachine, timers: StateTimers) -> None:
    # Arrange
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)

    # Act
    first = due_list(timers, 10.0)
    second = due_list(timers, 20.0)

    # Assert
    assert first == [(S.FINALIZED_PROTECTED, order)]
    assert second == []
    assert timers.pending() == 0
    assert timers.next_deadline() is None


def test_timers_due_early_call_keeps_entry(machine: OrderMachine, timers: StateTimers) -> None:
    # Arrange
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)

    # Act
    early = due_list(timers, 9.0)
    on_time = due_list(timers, 10.0)

    # Assert
    assert early == []
    assert on_time == [(S.FINALIZED_PROTECTED, order)]


def test_timers_due_within_queue_in_deadline_order(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    orders = [order_in(machine, TO_PROTECTED, now=float(t)) for t in (0, 1, 2)]
    for t, order in enumerate(orders):
        timers.arm(order, float(t))

    # Act
    fired = due_list(timers, 11.0)

    # Assert
    assert fired == [(S.FINALIZED_PROTECTED, orders[0]), (S.FINALIZED_PROTECTED, orders[1])]
    assert timers.next_deadline() == 12.0


def test_timers_next_deadline_empty_none(timers: StateTimers) -> None:
    # Act / Assert
    assert timers.next_deadline() is None
    assert timers.pending() == 0


def test_timers_next_deadline_earliest_across_queues(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange: protected at 0 -> due 10; gone at 3 -> due 8; protected at 1 -> due 11.
    protected_a = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(protected_a, 0.0)
    gone = order_in(machine, [T.ABANDON], now=3.0)
    timers.arm(gone, 3.0)
    protected_b = order_in(machine, TO_PROTECTED, now=1.0)
    timers.arm(protected_b, 1.0)

    # Act
    first = timers.next_deadline()
    fired_at_8 = due_list(timers, 8.0)
    second = timers.next_deadline()

    # Assert
    assert first == 8.0
    assert fired_at_8 == [(S.GONE, gone)]
    assert second == 10.0


def test_timers_next_deadline_does_not_consume_entries(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    order = order_in(machine, [T.ABANDON], now=0.0)
    timers.arm(order, 0.0)

    # Act
    peeks = [timers.next_deadline() for _ in range(3)]

    # Assert
    assert peeks == [5.0, 5.0, 5.0]
    assert due_list(timers, 5.0) == [(S.GONE, order)]


def test_timers_order_left_state_skipped_by_due(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)
    machine.fire(order, T.PROTECTION_ELAPSED, 4.0)  # now TRACKED, untimed

    # Act
    fired = due_list(timers, 10.0)

    # Assert
    assert fired == []
    assert timers.pending() == 0


def test_timers_order_left_state_dropped_by_next_deadline(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    leaver = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(leaver, 0.0)
    machine.fire(leaver, T.CANCEL_REQUEST, 1.0)  # CANCELLING: untimed here
    stayer = order_in(machine, TO_PROTECTED, now=2.0)
    timers.arm(stayer, 2.0)

    # Act
    deadline = timers.next_deadline()

    # Assert
    assert deadline == 12.0
    assert timers.pending() == 1


def test_timers_only_stale_entries_next_deadline_none(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)
    machine.fire(order, T.FILL_COMPLETE, 1.0)  # GONE, but not armed for GONE

    # Act
    deadline = timers.next_deadline()

    # Assert
    assert deadline is None
    assert timers.pending() == 0


def test_timers_moved_to_other_timed_state_fires_only_new_state(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)
    machine.fire(order, T.FILL_COMPLETE, 2.0)  # GONE at 2 -> due 7
    timers.arm(order, 2.0)

    # Act
    at_7 = due_list(timers, 7.0)
    at_10 = due_list(timers, 10.0)

    # Assert
    assert at_7 == [(S.GONE, order)]
    assert at_10 == []


def test_timers_reflexive_move_keeps_timer(machine: OrderMachine, timers: StateTimers) -> None:
    # Arrange
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)
    machine.fire(order, T.FILL_PARTIAL, 3.0)  # FINALIZED_PROTECTED -> itself

    # Act
    fired = due_list(timers, 10.0)

    # Assert
    assert fired == [(S.FINALIZED_PROTECTED, order)]


def test_timers_reentered_state_later_fires_only_new_entry(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange: protected at 0 (due 10), modified 2..4, protected again at 4 (due 14).
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)
    machine.fire(order, T.MODIFY_REQUEST, 2.0)
    machine.fire(order, T.MODIFY_ACK, 4.0)
    assert order.state is S.FINALIZED_PROTECTED
    timers.arm(order, 4.0)

    # Act
    deadline = timers.next_deadline()
    at_10 = due_list(timers, 10.0)
    at_13 = due_list(timers, 13.999)
    at_14 = due_list(timers, 14.0)

    # Assert
    assert deadline == 14.0
    assert at_10 == []
    assert at_13 == []
    assert at_14 == [(S.FINALIZED_PROTECTED, order)]


def test_timers_reentered_state_same_instant_fires_once(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange: FINALIZED_PROTECTED -> MODIFYING -> FINALIZED_PROTECTED, all at t=0.
    order = order_in(machine, TO_PROTECTED, now=0.0)
    timers.arm(order, 0.0)
    machine.fire(order, T.MODIFY_REQUEST, 0.0)
    machine.fire(order, T.MODIFY_ACK, 0.0)
    timers.arm(order, 0.0)

    # Act
    fired = due_list(timers, 10.0)

    # Assert
    assert fired == [(S.FINALIZED_PROTECTED, order)]


@pytest.mark.parametrize(
    "triggers",
    [
        pytest.param((), id="pending"),
        pytest.param((T.SUBMIT,), id="expected"),
        pytest.param((T.SUBMIT, T.ACCEPT), id="live"),
        pytest.param((*TO_PROTECTED, T.PROTECTION_ELAPSED), id="tracked"),
        pytest.param((*TO_PROTECTED, T.MODIFY_REQUEST), id="modifying"),
    ],
)
def test_timers_arm_untimed_state_does_nothing(
    machine: OrderMachine, timers: StateTimers, triggers: tuple[Trigger, ...]
) -> None:
    # Arrange
    order = order_in(machine, triggers, now=0.0)

    # Act
    timers.arm(order, 0.0)

    # Assert
    assert timers.pending() == 0
    assert timers.next_deadline() is None
    assert due_list(timers, 1e9) == []


def test_timers_rearm_schedules_again_from_later_now(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    order = order_in(machine, [T.ABANDON], now=0.0)
    timers.arm(order, 0.0)
    first = due_list(timers, 5.0)

    # Act
    timers.rearm(order, 5.0)

    # Assert
    assert first == [(S.GONE, order)]
    assert timers.next_deadline() == 10.0
    assert due_list(timers, 9.999) == []
    assert due_list(timers, 10.0) == [(S.GONE, order)]
    assert timers.next_deadline() is None


def test_timers_rearm_untimed_state_does_nothing(
    machine: OrderMachine, timers: StateTimers
) -> None:
    # Arrange
    order = order_in(machine, [T.SUBMIT], now=0.0)

    # Act
    timers.rearm(order, 3.0)

    # Assert
    assert timers.pending() == 0


def test_timers_due_visits_queues_in_durations_order(machine: OrderMachine) -> None:
    # Arrange: GONE is listed first here, so its entry comes first despite a later deadline.
    timers = StateTimers({S.GONE: 5.0, S.FINALIZED_PROTECTED: 1.0})
    protected = order_in(machine, TO_PROTECTED, now=0.0)  # due 1
    timers.arm(protected, 0.0)
    gone = order_in(machine, [T.ABANDON], now=0.0)  # due 5
    timers.arm(gone, 0.0)

    # Act
    fired = due_list(timers, 5.0)

    # Assert
    assert fired == [(S.GONE, gone), (S.FINALIZED_PROTECTED, protected)]


def test_timers_runner_fires_trigger_actions_and_calls_the_others() -> None:
    # Arrange: a machine whose moves arm these timers; one order protected, one gone.
    timers = StateTimers(DURATIONS)
    machine = OrderMachine(verify=True, timers=timers)
    protected = order_in(machine, TO_PROTECTED, now=0.0)  # due 10
    gone = order_in(machine, [T.ABANDON], now=0.0)  # due 5
    called: list[tuple[Order, float]] = []
    run = timers.runner(
        {S.FINALIZED_PROTECTED: T.PROTECTION_ELAPSED, S.GONE: lambda o, t: called.append((o, t))},
        machine.fire,
    )

    # Act
    run(9.0)
    state_at_9 = protected.state
    run(10.0)

    # Assert: the callable got (order, now); the trigger was fired at its deadline only.
    assert called == [(gone, 9.0)]
    assert state_at_9 is S.FINALIZED_PROTECTED
    assert protected.state is S.TRACKED
    assert protected.history[-1].at == 10.0
    assert timers.pending() == 0


def test_timers_runner_trigger_action_without_fire_raises_naming_state() -> None:
    timers = StateTimers(DURATIONS)

    with pytest.raises(ValueError, match="finalized_protected"):
        timers.runner({S.FINALIZED_PROTECTED: T.PROTECTION_ELAPSED, S.GONE: lambda o, t: None})


def test_timers_runner_missing_action_raises_key_error() -> None:
    timers = StateTimers(DURATIONS)

    with pytest.raises(KeyError):
        timers.runner({S.GONE: lambda o, t: None})
