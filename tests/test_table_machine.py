"""The table, the machine and the transitions machine of record, pair by pair."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from transitions import MachineError

from lifecycle.core.errors import IllegalTransition
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.machine import OrderMachine, build_record_machine
from lifecycle.core.order import Order, Side
from lifecycle.core.states import DISCOVERED, OURS, TERMINAL, GoneReason, OrderState, Trigger
from lifecycle.core.table import GONE_REASONS, TABLE, gone_reason, legal_triggers

S, T = OrderState, Trigger
PAIRS = list(itertools.product(OrderState, Trigger))

# A path from a start state to every state, so that tests put an order in any
# state through the machine itself (state is never assigned by hand).
PATHS: dict[OrderState, tuple[Trigger, ...]] = {
    S.PENDING: (),
    S.EXPECTED: (T.SUBMIT,),
    S.LIVE: (T.SUBMIT, T.ACCEPT),
    S.FINALIZED_PROTECTED: (T.SUBMIT, T.ACCEPT, T.FINALIZE),
    S.TRACKED: (T.SUBMIT, T.ACCEPT, T.FINALIZE, T.PROTECTION_ELAPSED),
    S.CANCELLING: (T.SUBMIT, T.CANCEL_REQUEST),
    S.MODIFYING: (T.SUBMIT, T.ACCEPT, T.FINALIZE, T.MODIFY_REQUEST),
    S.GONE: (T.ABANDON,),
    S.ORPHAN_CANDIDATE: (),
    S.AGED_ORPHAN: (T.GRACE_ELAPSED,),
}


def order_in(state: OrderState, machine: OrderMachine) -> Order:
    discovered = state in DISCOVERED
    order = Order(
        cloid=None if discovered else Cloid("0x" + "ab" * 16),
        oid=Oid(1) if discovered else None,
        side=Side.BUY,
        price=Decimal("100"),
        size=Decimal("1"),
        now=0.0,
        state=S.ORPHAN_CANDIDATE if discovered else S.PENDING,
    )
    for trigger in PATHS[state]:
        machine.fire(order, trigger, 0.0)
    assert order.state is state
    return order


def test_table_every_state_is_reachable_from_a_start_state() -> None:
    reached = {S.PENDING, S.ORPHAN_CANDIDATE}
    frontier = list(reached)
    while frontier:
        source = frontier.pop()
        for (s, _), d in TABLE.items():
            if s is source and d not in reached:
                reached.add(d)
                frontier.append(d)
    assert reached == set(OrderState)


def test_table_every_trigger_is_used() -> None:
    assert {t for (_, t) in TABLE} == set(Trigger)


def test_table_gone_is_left_only_by_reflexive_moves_and_late_accept() -> None:
    leaving = {(t, d) for (s, t), d in TABLE.items() if s is S.GONE and d is not S.GONE}
    # The exchange's proof that an order declared never placed rests after all.
    assert leaving == {(T.LATE_ACCEPT, S.LIVE)}


def test_table_reject_ends_an_order_from_every_state_the_exchange_can_say_it() -> None:
    said = {S.EXPECTED, S.FINALIZED_PROTECTED, S.TRACKED, S.CANCELLING, S.MODIFYING,
            S.ORPHAN_CANDIDATE, S.AGED_ORPHAN, S.GONE}
    assert {s for (s, t) in TABLE if t is T.REJECT} == said
    assert all(TABLE[(s, T.REJECT)] is S.GONE for s in said)


def test_table_every_move_into_gone_has_a_reason() -> None:
    for (source, trigger), dest in TABLE.items():
        if dest is S.GONE and source is not S.GONE:
            assert isinstance(gone_reason(source, trigger), GoneReason)


def test_table_local_requests_never_end_an_order_except_abandoning_an_unsent_one() -> None:
    local = {T.SUBMIT, T.CANCEL_REQUEST, T.MODIFY_REQUEST, T.ADOPT, T.ABANDON}
    into_gone = {(s, t) for (s, t), d in TABLE.items() if d is S.GONE and s is not S.GONE}
    assert {(s, t) for (s, t) in into_gone if t in local} == {(S.PENDING, T.ABANDON)}


def test_table_timers_never_end_an_order() -> None:
    timers = {T.PROTECTION_ELAPSED, T.GRACE_ELAPSED, T.FINALIZE}
    assert all(d is not S.GONE for (_, t), d in TABLE.items() if t in timers)


def test_table_real_world_edges_are_legal() -> None:
    assert TABLE[(S.EXPECTED, T.FILL_PARTIAL)] is S.LIVE  # fill before ack
    assert TABLE[(S.EXPECTED, T.FILL_COMPLETE)] is S.GONE  # fill before ack, complete
    assert TABLE[(S.CANCELLING, T.FILL_PARTIAL)] is S.CANCELLING  # fill while cancelling
    assert TABLE[(S.MODIFYING, T.FILL_PARTIAL)] is S.MODIFYING  # fill while modifying
    assert TABLE[(S.GONE, T.LATE_FILL)] is S.GONE  # late fill on a tombstone
    assert TABLE[(S.EXPECTED, T.CANCEL_REQUEST)] is S.CANCELLING  # cancel by cloid
    assert TABLE[(S.MODIFYING, T.MODIFY_ACK)] is S.FINALIZED_PROTECTED  # new oid


def test_table_groups_partition_the_states() -> None:
    assert set(OrderState) == OURS | DISCOVERED | TERMINAL
    assert not (OURS & DISCOVERED or OURS & TERMINAL or DISCOVERED & TERMINAL)


def test_legal_triggers_lists_the_rows_of_a_state() -> None:
    assert legal_triggers(S.PENDING) == (T.SUBMIT, T.ABANDON)
    assert set(legal_triggers(S.GONE)) == {t for (s, t) in TABLE if s is S.GONE}


def test_gone_reason_confirm_absent_depends_on_the_source() -> None:
    assert gone_reason(S.EXPECTED, T.CONFIRM_ABSENT) is GoneReason.NEVER_PLACED
    assert gone_reason(S.TRACKED, T.CONFIRM_ABSENT) is GoneReason.UNKNOWN
    assert GONE_REASONS[T.FILL_COMPLETE] is GoneReason.FILLED


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=lambda v: v.value)
def test_machine_pair_legal_reaches_target_illegal_raises_and_changes_nothing(
    state: OrderState, trigger: Trigger
) -> None:
    machine = OrderMachine(verify=True)  # also fires through `transitions`
    order = order_in(state, machine)
    before = (order.state, order.state_since, order.reason, order.filled, order.history)
    expected = TABLE.get((state, trigger))
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            machine.fire(order, trigger, 5.0)
        assert (info.value.state, info.value.trigger) == (state, trigger)
        assert info.value.order_id == order.label
        assert f"can't apply {trigger.value} in state {state.value}" in str(info.value)
        after = (order.state, order.state_since, order.reason, order.filled, order.history)
        assert after == before
    else:
        assert machine.fire(order, trigger, 5.0) is expected
        assert order.state is expected
        last = order.history[-1]
        assert (last.source, last.trigger, last.dest) == (state, trigger, expected)
        assert order.state_since == (0.0 if expected is state else 5.0)


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=lambda v: v.value)
def test_record_machine_pair_agrees_with_table(state: OrderState, trigger: Trigger) -> None:
    record = build_record_machine()

    class Model:
        state: OrderState

    model = Model()
    model.state = state
    expected = TABLE.get((state, trigger))
    if expected is None:
        with pytest.raises(MachineError):
            record.events[trigger.value].trigger(model)
        assert model.state is state
    else:
        assert record.events[trigger.value].trigger(model) is True
        assert model.state is expected


def test_record_machine_has_no_auto_transitions_and_raises_on_invalid() -> None:
    record = build_record_machine()
    assert record.auto_transitions is False
    assert record.ignore_invalid_triggers is False
    assert set(record.events) == {t.value for t in Trigger}


def test_machine_fire_into_gone_sets_reason_once() -> None:
    machine = OrderMachine()
    order = order_in(S.CANCELLING, machine)
    machine.fire(order, T.CANCEL_ACK, 1.0)
    assert order.reason is GoneReason.CANCELED
    machine.fire(order, T.LATE_FILL, 2.0)
    assert order.reason is GoneReason.CANCELED
    assert order.state_since == 1.0


class Recorder:
    def __init__(self) -> None:
        self.fired: list[tuple[OrderState, Trigger, OrderState]] = []
        self.refused: list[tuple[OrderState, Trigger]] = []

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        self.fired.append((source, trigger, dest))

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        self.refused.append((order.state, trigger))


def test_machine_observers_see_fired_and_refused_until_removed() -> None:
    machine = OrderMachine()
    recorder = Recorder()
    machine.add_observer(recorder)
    order = order_in(S.PENDING, machine)
    machine.fire(order, T.SUBMIT, 1.0)
    with pytest.raises(IllegalTransition):
        machine.fire(order, T.SUBMIT, 1.0)
    machine.remove_observer(recorder)
    machine.fire(order, T.ACCEPT, 2.0)
    assert recorder.fired == [(S.PENDING, T.SUBMIT, S.EXPECTED)]
    assert recorder.refused == [(S.EXPECTED, T.SUBMIT)]
    assert machine.observers == ()


def test_machine_history_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="history_limit"):
        OrderMachine(history_limit=0)
