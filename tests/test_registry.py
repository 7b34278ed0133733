"""Tests for lifecycle.engine.registry.OrderRegistry and the lifecycle.core.order.Order record."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from itertools import pairwise

import pytest

from lifecycle.core.errors import LifecycleError, UnknownOrder
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.machine import OrderMachine
from lifecycle.core.order import Fill, Order, Side, TransitionRecord
from lifecycle.core.states import OrderState, Trigger
from lifecycle.engine.registry import OrderRegistry

S = OrderState
T = Trigger

#: Triggers that take a fresh PENDING order to each state (fired in order).
PATH_TO: dict[OrderState, tuple[Trigger, ...]] = {
    S.PENDING: (),
    S.EXPECTED: (T.SUBMIT,),
    S.LIVE: (T.SUBMIT, T.ACCEPT),
    S.FINALIZED_PROTECTED: (T.SUBMIT, T.ACCEPT, T.FINALIZE),
    S.TRACKED: (T.SUBMIT, T.ACCEPT, T.FINALIZE, T.PROTECTION_ELAPSED),
    S.CANCELLING: (T.SUBMIT, T.CANCEL_REQUEST),
    S.MODIFYING: (T.SUBMIT, T.ACCEPT, T.FINALIZE, T.MODIFY_REQUEST),
    S.GONE: (T.ABANDON,),
}


def cloids(n: int, namespace: str = "test-registry") -> list[Cloid]:
    factory = CloidFactory(namespace, 1)
    return [factory.next() for _ in range(n)]


def make_order(
    cloid: Cloid | None,
    *,
    side: Side = Side.BUY,
    oid: Oid | None = None,
    now: float = 0.0,
) -> Order:
    return Order(cloid=cloid, side=side, price=Decimal("100"), size=Decimal("1"), now=now, oid=oid)


def drive(
    machine: OrderMachine, order: Order, triggers: Iterable[Trigger], t0: float = 1.0
) -> None:
    """Fire ``triggers`` one after the other at t0, t0 + 1, ..."""
    for i, trigger in enumerate(triggers):
        machine.fire(order, trigger, t0 + i)


@pytest.fixture
def machine() -> OrderMachine:
    return OrderMachine(verify=True)


@pytest.fixture
def registry() -> OrderRegistry:
    return OrderRegistry()


# --- OrderRegistry: add and look up ----------------------------------------------------


def test_registry_add_order_found_by_cloid_and_oid(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    order = make_order(c, oid=Oid(11))

    # Act
    registry.add(order)

    # Assert
    assert registry.by_cloid(c) is order
    assert registry.by_oid(Oid(11)) is order
    assert registry.get(c) is order
    assert registry.get(Oid(11)) is order
    assert registry.find(c, None) is order
    assert registry.find(None, Oid(11)) is order


def test_registry_lookups_none_and_unknown_ids_find_nothing(registry: OrderRegistry) -> None:
    # Arrange: one order, then removed; the lookups are bound once, at construction.
    c, other = cloids(2)
    order = make_order(c, oid=Oid(11))
    by_cloid, by_oid = registry.by_cloid, registry.by_oid
    registry.add(order)
    found = (by_cloid(c), by_oid(Oid(11)))

    # Act
    registry.remove(order)

    # Assert: the bound lookups saw the add and see the removal.
    assert found == (order, order)
    assert by_cloid(c) is None and by_oid(Oid(11)) is None
    assert by_cloid(None) is None and by_oid(None) is None
    assert by_cloid(other) is None and by_oid(Oid(12)) is None


def test_registry_by_cloid_plain_str_equal_to_canonical_found(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    order = make_order(c)
    registry.add(order)

    # Act
    found = registry.by_cloid(str(c))  # type: ignore[arg-type]

    # Assert
    assert found is order


def test_registry_find_cloid_and_oid_name_different_orders_prefers_cloid(
    registry: OrderRegistry,
) -> None:
    # Arrange
    ca, cb = cloids(2)
    order_a = make_order(ca, oid=Oid(1))
    order_b = make_order(cb, oid=Oid(2))
    registry.add(order_a)
    registry.add(order_b)

    # Act
    found = registry.find(ca, Oid(2))

    # Assert
    assert found is order_a


def test_registry_find_unknown_cloid_falls_back_to_oid(registry: OrderRegistry) -> None:
    # Arrange
    known, unknown = cloids(2)
    order = make_order(known, oid=Oid(2))
    registry.add(order)

    # Act
    found = registry.find(unknown, Oid(2))

    # Assert
    assert found is order


@pytest.mark.parametrize(
    ("use_cloid", "oid"),
    [(False, None), (True, None), (False, Oid(99)), (True, Oid(99))],
)
def test_registry_find_unknown_ids_none(
    registry: OrderRegistry, use_cloid: bool, oid: Oid | None
) -> None:
    # Arrange
    known, unknown = cloids(2)
    registry.add(make_order(known, oid=Oid(1)))

    # Act
    found = registry.find(unknown if use_cloid else None, oid)

    # Assert
    assert found is None


def test_registry_add_duplicate_cloid_raises(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    first = make_order(c, oid=Oid(1))
    registry.add(first)
    second = make_order(c, oid=Oid(2))

    # Act
    with pytest.raises(ValueError, match="cloid"):
        registry.add(second)

    # Assert
    assert len(registry) == 1
    assert registry.by_oid(Oid(2)) is None
    assert registry.by_cloid(c) is first


def test_registry_add_duplicate_oid_raises(registry: OrderRegistry) -> None:
    # Arrange
    ca, cb = cloids(2)
    first = make_order(ca, oid=Oid(1))
    registry.add(first)
    second = make_order(cb, oid=Oid(1))

    # Act
    with pytest.raises(ValueError, match="oid"):
        registry.add(second)

    # Assert
    assert len(registry) == 1
    assert registry.by_cloid(cb) is None
    assert registry.by_oid(Oid(1)) is first


def test_registry_add_orphan_without_cloid_found_by_oid(registry: OrderRegistry) -> None:
    # Arrange
    orphan = Order(
        cloid=None,
        oid=Oid(5),
        side=Side.SELL,
        price=Decimal("100"),
        size=Decimal("1"),
        now=0.0,
        state=S.ORPHAN_CANDIDATE,
    )

    # Act
    registry.add(orphan)

    # Assert
    assert registry.get(Oid(5)) is orphan
    assert registry.find(None, Oid(5)) is orphan
    assert orphan.state is S.ORPHAN_CANDIDATE
    assert orphan.label == "oid:5"


# --- OrderRegistry: oid binding ------------------------------------------------------------


def test_registry_bind_oid_order_without_oid_binds(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    order = make_order(c)
    registry.add(order)

    # Act
    changed = registry.bind_oid(order, Oid(7))

    # Assert
    assert changed is True
    assert order.oid == Oid(7)
    assert order.prior_oids == ()
    assert registry.by_oid(Oid(7)) is order
    assert registry.find(None, Oid(7)) is order


def test_registry_bind_oid_new_oid_keeps_old_resolving(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    order = make_order(c, oid=Oid(7))
    registry.add(order)

    # Act
    changed = registry.bind_oid(order, Oid(8))

    # Assert
    assert changed is True
    assert order.oid == Oid(8)
    assert order.prior_oids == (Oid(7),)
    assert registry.by_oid(Oid(7)) is order
    assert registry.by_oid(Oid(8)) is order
    assert order.knows_oid(Oid(7))
    assert order.knows_oid(Oid(8))


def test_registry_bind_oid_two_modifies_records_both_prior_oids(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    order = make_order(c, oid=Oid(1))
    registry.add(order)

    # Act
    registry.bind_oid(order, Oid(2))
    registry.bind_oid(order, Oid(3))

    # Assert
    assert order.prior_oids == (Oid(1), Oid(2))
    assert [registry.get(Oid(n)) for n in (1, 2, 3)] == [order, order, order]


def test_registry_bind_oid_same_oid_returns_false(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    order = make_order(c, oid=Oid(7))
    registry.add(order)

    # Act
    changed = registry.bind_oid(order, Oid(7))

    # Assert
    assert changed is False
    assert order.oid == Oid(7)
    assert order.prior_oids == ()


@pytest.mark.parametrize("other_oid_is_prior", [False, True])
def test_registry_bind_oid_naming_other_order_raises(
    registry: OrderRegistry, other_oid_is_prior: bool
) -> None:
    # Arrange
    ca, cb = cloids(2)
    order_a = make_order(ca, oid=Oid(1))
    order_b = make_order(cb, oid=Oid(2))
    registry.add(order_a)
    registry.add(order_b)
    if other_oid_is_prior:
        registry.bind_oid(order_b, Oid(3))  # Oid(2) is now a prior oid of B

    # Act
    with pytest.raises(ValueError, match="oid 2"):
        registry.bind_oid(order_a, Oid(2))

    # Assert
    assert order_a.oid == Oid(1)
    assert order_a.prior_oids == ()
    assert registry.by_oid(Oid(2)) is order_b


# --- OrderRegistry: remove and get -------------------------------------------------------


def test_registry_remove_forgets_cloid_current_and_prior_oids(registry: OrderRegistry) -> None:
    # Arrange
    ca, cb = cloids(2)
    order = make_order(ca, oid=Oid(1))
    keeper = make_order(cb, oid=Oid(10))
    registry.add(order)
    registry.add(keeper)
    registry.bind_oid(order, Oid(2))
    registry.bind_oid(order, Oid(3))

    # Act
    registry.remove(order)

    # Assert
    assert order not in registry
    assert len(registry) == 1
    assert registry.by_cloid(ca) is None
    assert [registry.by_oid(Oid(n)) for n in (1, 2, 3)] == [None, None, None]
    assert registry.get(cb) is keeper
    assert registry.get(Oid(10)) is keeper


def test_registry_remove_twice_harmless(registry: OrderRegistry) -> None:
    # Arrange
    ca, cb = cloids(2)
    order = make_order(ca, oid=Oid(1))
    keeper = make_order(cb, oid=Oid(2))
    registry.add(order)
    registry.add(keeper)
    registry.remove(order)

    # Act
    registry.remove(order)

    # Assert
    assert len(registry) == 1
    assert list(registry) == [keeper]
    assert registry.by_oid(Oid(2)) is keeper


def test_registry_remove_then_ids_reusable(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    old = make_order(c, oid=Oid(1))
    registry.add(old)
    registry.remove(old)
    new = make_order(c, oid=Oid(1))

    # Act
    registry.add(new)

    # Assert
    assert registry.get(c) is new
    assert registry.get(Oid(1)) is new


@pytest.mark.parametrize("key", [Cloid("0x" + "ab" * 16), Oid(404)], ids=["cloid", "oid"])
def test_registry_get_unknown_raises_unknown_order_naming_id(
    registry: OrderRegistry, key: Cloid | Oid
) -> None:
    # Arrange
    (c,) = cloids(1)
    registry.add(make_order(c, oid=Oid(1)))

    # Act
    with pytest.raises(UnknownOrder) as info:
        registry.get(key)

    # Assert
    error = info.value
    assert isinstance(error, KeyError)
    assert isinstance(error, LifecycleError)
    assert error.order_id == key
    assert str(key) in str(error)


def test_registry_get_removed_order_raises_unknown_order(registry: OrderRegistry) -> None:
    # Arrange
    (c,) = cloids(1)
    order = make_order(c, oid=Oid(1))
    registry.add(order)
    registry.remove(order)

    # Act / Assert
    with pytest.raises(UnknownOrder):
        registry.get(c)
    with pytest.raises(UnknownOrder):
        registry.get(Oid(1))


# --- OrderRegistry: select, count, container protocol ---------------------------------------


@pytest.fixture
def populated(registry: OrderRegistry, machine: OrderMachine) -> dict[str, Order]:
    """Five orders in insertion order, in various states and sides."""
    ids = cloids(5)
    specs = [
        ("buy_pending", Side.BUY, S.PENDING),
        ("sell_tracked", Side.SELL, S.TRACKED),
        ("buy_tracked", Side.BUY, S.TRACKED),
        ("sell_gone", Side.SELL, S.GONE),
        ("buy_cancelling", Side.BUY, S.CANCELLING),
    ]
    orders: dict[str, Order] = {}
    for cloid, (name, side, state) in zip(ids, specs, strict=True):
        order = make_order(cloid, side=side)
        drive(machine, order, PATH_TO[state])
        assert order.state is state
        registry.add(order)
        orders[name] = order
    return orders


@pytest.mark.parametrize(
    ("states", "side", "expected"),
    [
        (None, None, ["buy_pending", "sell_tracked", "buy_tracked", "sell_gone", "buy_cancelling"]),
        (None, Side.BUY, ["buy_pending", "buy_tracked", "buy_cancelling"]),
        (None, Side.SELL, ["sell_tracked", "sell_gone"]),
        ({S.TRACKED}, None, ["sell_tracked", "buy_tracked"]),
        ({S.TRACKED}, Side.BUY, ["buy_tracked"]),
        ({S.TRACKED, S.CANCELLING}, Side.BUY, ["buy_tracked", "buy_cancelling"]),
        ([S.GONE, S.PENDING], None, ["buy_pending", "sell_gone"]),
        ({S.GONE}, Side.BUY, []),
        (set(), None, []),
    ],
)
def test_registry_select_filters_and_keeps_insertion_order(
    registry: OrderRegistry,
    populated: dict[str, Order],
    states: set[OrderState] | list[OrderState] | None,
    side: Side | None,
    expected: list[str],
) -> None:
    # Act
    selected = registry.select(states=states, side=side)

    # Assert
    assert selected == [populated[name] for name in expected]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (S.PENDING, 1),
        (S.TRACKED, 2),
        (S.GONE, 1),
        (S.CANCELLING, 1),
        (S.EXPECTED, 0),
        (S.ORPHAN_CANDIDATE, 0),
    ],
)
def test_registry_count_state_counts_orders_in_state(
    registry: OrderRegistry, populated: dict[str, Order], state: OrderState, expected: int
) -> None:
    # Act
    n = registry.count(state)

    # Assert
    assert n == expected


def test_registry_count_follows_machine_moves(
    registry: OrderRegistry, populated: dict[str, Order], machine: OrderMachine
) -> None:
    # Act
    machine.fire(populated["buy_pending"], T.SUBMIT, 50.0)

    # Assert
    assert registry.count(S.PENDING) == 0
    assert registry.count(S.EXPECTED) == 1


def test_registry_len_iter_contains(registry: OrderRegistry, populated: dict[str, Order]) -> None:
    # Arrange
    stranger = make_order(cloids(1, namespace="other")[0])

    # Act
    listed = list(registry)

    # Assert
    assert len(registry) == 5
    assert listed == list(populated.values())
    assert all(order in registry for order in populated.values())
    assert stranger not in registry


def test_registry_iteration_tolerates_removal_during_loop(
    registry: OrderRegistry, populated: dict[str, Order]
) -> None:
    # Act
    for order in registry:
        if order.state is S.GONE:
            registry.remove(order)

    # Assert
    assert len(registry) == 4
    assert populated["sell_gone"] not in registry


def test_registry_empty_len_zero_and_nothing_selected(registry: OrderRegistry) -> None:
    # Act / Assert
    assert len(registry) == 0
    assert list(registry) == []
    assert registry.select() == []
    assert registry.count(S.PENDING) == 0


# --- Order ----------------------------------------------------------------------------------


def test_order_new_starts_pending_with_nothing_filled() -> None:
    # Act
    order = make_order(cloids(1)[0], now=3.5)

    # Assert
    assert order.state is S.PENDING
    assert order.filled == 0
    assert order.remaining == Decimal("1")
    assert order.fills == {}
    assert order.history == ()
    assert order.reason is None
    assert order.created_at == order.state_since == 3.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"size": Decimal("0")}, "size", id="size-zero"),
        pytest.param({"size": Decimal("-1")}, "size", id="size-negative"),
        pytest.param({"price": Decimal("0")}, "price", id="price-zero"),
        pytest.param({"price": Decimal("-0.01")}, "price", id="price-negative"),
        pytest.param({"cloid": None, "oid": None}, "cloid or an oid", id="no-ids"),
        pytest.param({"state": S.EXPECTED}, "pending", id="state-expected"),
        pytest.param({"state": S.LIVE}, "pending", id="state-live"),
        pytest.param({"state": S.TRACKED}, "pending", id="state-tracked"),
        pytest.param({"state": S.GONE}, "pending", id="state-gone"),
        pytest.param({"state": S.AGED_ORPHAN}, "pending", id="state-aged-orphan"),
    ],
)
def test_order_invalid_arguments_raise_value_error(kwargs: dict[str, object], match: str) -> None:
    # Arrange
    args: dict[str, object] = {
        "cloid": cloids(1)[0],
        "side": Side.BUY,
        "price": Decimal("100"),
        "size": Decimal("1"),
        "now": 0.0,
    }
    args.update(kwargs)

    # Act / Assert
    with pytest.raises(ValueError, match=match):
        Order(**args)  # type: ignore[arg-type]


def test_order_placed_fast_path_builds_what_the_constructor_builds() -> None:
    # The engine's Order._placed sets every slot itself: compare it with __init__ slot by slot.
    cloid = cloids(1)[0]
    terms = (Side.SELL, Decimal("101.5"), Decimal("2"), 7.0)
    fast = Order._placed(cloid, *terms)
    slow = Order(cloid=cloid, side=terms[0], price=terms[1], size=terms[2], now=terms[3])
    slots = [name for cls in Order.__mro__ for name in getattr(cls, "__slots__", ())]
    assert len(slots) == len(set(slots)) > 10
    assert {n: getattr(fast, n) for n in slots} == {n: getattr(slow, n) for n in slots}
    for bad in (Decimal("0"), Decimal("-1"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(ValueError, match="size must be a finite number > 0"):
            Order._placed(cloid, Side.BUY, Decimal("1"), bad, 0.0)
        with pytest.raises(ValueError, match="price must be a finite number > 0"):
            Order._placed(cloid, Side.BUY, bad, Decimal("1"), 0.0)


@pytest.mark.parametrize("state", [S.PENDING, S.ORPHAN_CANDIDATE])
def test_order_allowed_start_states_accepted(state: OrderState) -> None:
    # Act
    order = Order(
        cloid=None,
        oid=Oid(5),
        side=Side.SELL,
        price=Decimal("1"),
        size=Decimal("1"),
        now=0.0,
        state=state,
    )

    # Assert
    assert order.state is state


@pytest.mark.parametrize(
    ("fill_sizes", "expected_remaining"),
    [
        ([], Decimal("1")),
        ([Decimal("0.25")], Decimal("0.75")),
        ([Decimal("0.5"), Decimal("0.5")], Decimal("0")),
        ([Decimal("0.75"), Decimal("0.5")], Decimal("0")),
        ([Decimal("3")], Decimal("0")),
    ],
)
def test_order_remaining_after_fills_never_negative(
    fill_sizes: list[Decimal], expected_remaining: Decimal
) -> None:
    # Arrange
    order = make_order(cloids(1)[0])

    # Act
    for i, size in enumerate(fill_sizes):
        order.add_fill(Fill(tid=Tid(i), price=Decimal("100"), size=size, at=float(i)))

    # Assert
    assert order.remaining == expected_remaining
    assert order.remaining >= 0
    assert order.filled == sum(fill_sizes, Decimal(0))


def test_order_add_fill_repeated_tid_returns_false_changes_nothing() -> None:
    # Arrange
    order = make_order(cloids(1)[0])
    first = Fill(tid=Tid(1), price=Decimal("100"), size=Decimal("0.25"), at=1.0)
    assert order.add_fill(first) is True
    repeat = Fill(tid=Tid(1), price=Decimal("99"), size=Decimal("0.5"), at=2.0)

    # Act
    added = order.add_fill(repeat)

    # Assert
    assert added is False
    assert order.filled == Decimal("0.25")
    assert order.remaining == Decimal("0.75")
    assert dict(order.fills) == {Tid(1): first}


def test_order_fills_keep_arrival_order() -> None:
    # Arrange
    order = make_order(cloids(1)[0])
    tids = [Tid(t) for t in (30, 10, 20, 5)]

    # Act
    for i, tid in enumerate(tids):
        order.add_fill(Fill(tid=tid, price=Decimal("100"), size=Decimal("0.1"), at=float(i)))

    # Assert
    assert list(order.fills) == tids
    assert [f.at for f in order.fills.values()] == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_order_fills_repeat_caught_at_every_count(count: int) -> None:
    # One fill is kept on its own and two or more in a dict: a repeat of any
    # recorded trade id changes nothing, and has_fill agrees with fills.
    order = make_order(cloids(1)[0])
    recorded = [
        Fill(tid=Tid(10 + i), price=Decimal("100"), size=Decimal("0.1"), at=float(i))
        for i in range(count)
    ]
    assert not order.has_fill(Tid(10))
    for fill in recorded:
        assert order.add_fill(fill) is True

    for fill in recorded:
        again = Fill(tid=fill.tid, price=Decimal("1"), size=Decimal("0.5"), at=99.0)
        assert order.add_fill(again) is False
        assert order.has_fill(fill.tid)

    assert not order.has_fill(Tid(9))
    assert order.filled == Decimal("0.1") * count
    assert dict(order.fills) == {f.tid: f for f in recorded}


@pytest.mark.parametrize(
    ("cloid", "oid", "expected"),
    [
        (Cloid("0x" + "cd" * 16), None, "0x" + "cd" * 16),
        (Cloid("0x" + "cd" * 16), Oid(9), "0x" + "cd" * 16),
        (None, Oid(9), "oid:9"),
    ],
)
def test_order_label_cloid_else_oid(cloid: Cloid | None, oid: Oid | None, expected: str) -> None:
    # Arrange
    order = make_order(cloid, oid=oid)

    # Act
    label = order.label

    # Assert
    assert label == expected


def test_order_history_sources_chain_from_start_state(machine: OrderMachine) -> None:
    # Arrange
    order = make_order(cloids(1)[0])
    triggers = [T.SUBMIT, T.ACCEPT, T.FINALIZE, T.MODIFY_REQUEST, T.MODIFY_ACK]

    # Act
    drive(machine, order, triggers, t0=10.0)

    # Assert
    history = order.history
    assert all(isinstance(r, TransitionRecord) for r in history)
    assert [r.trigger for r in history] == triggers
    assert [r.at for r in history] == [10.0, 11.0, 12.0, 13.0, 14.0]
    assert history[0].source is S.PENDING
    for before, after in pairwise(history):
        assert after.source is before.dest
    assert [r.dest for r in history] == [
        S.EXPECTED,
        S.LIVE,
        S.FINALIZED_PROTECTED,
        S.MODIFYING,
        S.FINALIZED_PROTECTED,
    ]
    assert history[-1].dest is order.state


def test_order_history_orphan_chain_starts_at_orphan_candidate(machine: OrderMachine) -> None:
    # Arrange
    orphan = Order(
        cloid=None,
        oid=Oid(5),
        side=Side.BUY,
        price=Decimal("100"),
        size=Decimal("1"),
        now=0.0,
        state=S.ORPHAN_CANDIDATE,
    )

    # Act
    drive(machine, orphan, [T.ORPHAN_SEEN, T.GRACE_ELAPSED, T.ADOPT])

    # Assert
    assert [(r.source, r.dest) for r in orphan.history] == [
        (S.ORPHAN_CANDIDATE, S.ORPHAN_CANDIDATE),
        (S.ORPHAN_CANDIDATE, S.AGED_ORPHAN),
        (S.AGED_ORPHAN, S.TRACKED),
    ]


@pytest.mark.parametrize("verify", [False, True])
def test_order_history_bounded_by_machine_history_limit(verify: bool) -> None:
    # Arrange
    machine = OrderMachine(history_limit=2, verify=verify)
    order = make_order(cloids(1)[0])
    triggers = [T.SUBMIT, T.ACCEPT, T.FINALIZE, T.MODIFY_REQUEST, T.MODIFY_ACK]

    # Act
    drive(machine, order, triggers, t0=0.0)

    # Assert
    history = order.history
    assert history == (
        TransitionRecord(3.0, S.FINALIZED_PROTECTED, T.MODIFY_REQUEST, S.MODIFYING),
        TransitionRecord(4.0, S.MODIFYING, T.MODIFY_ACK, S.FINALIZED_PROTECTED),
    )
    # The first kept record starts where the last dropped one (FINALIZE) ended.
    assert history[0].source is S.FINALIZED_PROTECTED


def test_order_history_limit_one_keeps_only_last() -> None:
    # Arrange
    short = OrderMachine(history_limit=1)
    order = make_order(cloids(1)[0])

    # Act
    drive(short, order, [T.SUBMIT, T.ACCEPT, T.FINALIZE])

    # Assert
    assert order.history == (TransitionRecord(3.0, S.LIVE, T.FINALIZE, S.FINALIZED_PROTECTED),)


def test_order_machine_gone_sets_reason_and_state_since(machine: OrderMachine) -> None:
    # Arrange
    order = make_order(cloids(1)[0])

    # Act
    machine.fire(order, T.ABANDON, 7.0)

    # Assert
    assert order.state is S.GONE
    assert order.state_since == 7.0
    assert order.reason is not None
    assert order.reason.value == "never_placed"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_order_non_finite_price_or_size_raises_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="finite"):
        Order(
            cloid=Cloid(uuid.UUID(int=1)),
            side=Side.BUY,
            price=Decimal(value),
            size=Decimal("1"),
            now=0.0,
        )
    with pytest.raises(ValueError, match="finite"):
        Order(
            cloid=Cloid(uuid.UUID(int=1)),
            side=Side.BUY,
            price=Decimal("1"),
            size=Decimal(value),
            now=0.0,
        )


def test_registry_bind_oid_of_unregistered_order_raises_unknown_order() -> None:
    registry = OrderRegistry()
    order = Order(
        cloid=Cloid(uuid.UUID(int=2)), side=Side.BUY, price=Decimal("1"), size=Decimal("1"), now=0.0
    )
    with pytest.raises(UnknownOrder):
        registry.bind_oid(order, Oid(3))
    assert registry.by_oid(Oid(3)) is None


def test_order_fills_view_is_read_only() -> None:
    order = Order(
        cloid=Cloid(uuid.UUID(int=3)), side=Side.BUY, price=Decimal("1"), size=Decimal("1"), now=0.0
    )
    with pytest.raises(TypeError):
        order.fills[Tid(1)] = None  # type: ignore[index]
