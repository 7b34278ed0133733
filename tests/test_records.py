"""Records (events, commands, ...) behave as frozen, keyword-only dataclasses."""

from __future__ import annotations

import copy
import dataclasses
import operator
import pickle
import typing
from decimal import Decimal

import pytest

from lifecycle.core.commands import CancelOrder, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import OrderAccepted, OrderCanceled
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Fill, Side
from lifecycle.core.records import positional, record

CLOID = CloidFactory("test-records").next()


def test_record_is_a_dataclass_with_its_fields_in_order() -> None:
    assert dataclasses.is_dataclass(OrderCanceled)
    fields = dataclasses.fields(OrderCanceled)
    assert [f.name for f in fields] == ["cloid", "oid", "status", "exchange_initiated"]
    assert [f.default for f in fields] == [None, None, "canceled", False]
    assert all(f.kw_only for f in fields)
    assert typing.get_type_hints(OrderAccepted) == {"cloid": Cloid | None, "oid": Oid}


def test_record_takes_keywords_only_with_defaults() -> None:
    event = OrderCanceled(oid=Oid(3))
    assert (event.cloid, event.oid, event.status, event.exchange_initiated) == (
        None, 3, "canceled", False,
    )
    with pytest.raises(TypeError):
        OrderAccepted(CLOID, Oid(1))  # type: ignore[misc]
    with pytest.raises(TypeError, match="oid"):
        OrderAccepted(cloid=CLOID)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="bogus"):
        OrderAccepted(oid=Oid(1), bogus=2)  # type: ignore[call-arg]


def test_record_is_frozen() -> None:
    event = OrderAccepted(cloid=CLOID, oid=Oid(1))
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.oid = Oid(2)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.other = 1  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del event.oid  # type: ignore[misc]
    assert event.oid == 1


def test_record_equality_needs_the_same_class() -> None:
    a = CancelOrder(cloid=CLOID, oid=Oid(1))
    b = CancelOrder(cloid=CLOID, oid=Oid(1))
    assert (a == b, a != b) == (True, False)
    c = CancelOrder(cloid=CLOID, oid=Oid(2))
    assert (a == c, a != c) == (False, True)
    same_values = QueryOrderStatus(cloid=CLOID, oid=Oid(1))
    assert (a == same_values, a != same_values) == (False, True)
    plain: object = (CLOID, 1)
    assert (a == plain, a != plain, plain == a, plain != a) == (False, True, False, True)
    assert a in {b} and plain not in {a}


def test_record_hash_is_the_hash_of_its_values() -> None:
    event = OrderAccepted(cloid=CLOID, oid=Oid(7))
    assert hash(event) == hash((CLOID, 7))
    assert len({event, OrderAccepted(cloid=CLOID, oid=Oid(7))}) == 1


def test_record_has_no_ordering() -> None:
    a: typing.Any = OrderAccepted(oid=Oid(1))
    for b in (OrderAccepted(oid=Oid(2)), OrderCanceled(oid=Oid(2)), (None, 2), 2):
        for compare in (operator.lt, operator.le, operator.gt, operator.ge):
            for left, right in ((a, b), (b, a)):
                with pytest.raises(TypeError, match="not supported between"):
                    compare(left, right)


def test_record_repr_is_the_dataclass_repr() -> None:
    event = OrderCanceled(cloid=None, oid=Oid(4), status="marginCanceled", exchange_initiated=True)
    assert repr(event) == (
        "OrderCanceled(cloid=None, oid=4, status='marginCanceled', exchange_initiated=True)"
    )


def test_record_replace_pickle_and_copy_keep_class_and_values() -> None:
    command = PlaceOrder(cloid=CLOID, side=Side.SELL, price=Decimal("1.5"), size=Decimal("2"))
    changed = dataclasses.replace(command, reduce_only=True)
    assert type(changed) is PlaceOrder
    assert changed.reduce_only and changed.price == Decimal("1.5")
    for clone in (pickle.loads(pickle.dumps(command)), copy.copy(command), copy.deepcopy(command)):
        assert type(clone) is PlaceOrder and clone == command
        assert type(clone.cloid) is Cloid
    assert dataclasses.asdict(command)["side"] is Side.SELL


def test_positional_constructor_equals_keyword_construction() -> None:
    make = positional(PlaceOrder)
    built = make(CLOID, Side.BUY, Decimal("100"), Decimal("1"))
    assert type(built) is PlaceOrder
    assert built == PlaceOrder(cloid=CLOID, side=Side.BUY, price=Decimal("100"), size=Decimal("1"))
    assert make(CLOID, Side.BUY, Decimal("1"), Decimal("1"), False, True).reduce_only
    # A field with a default before a field without one is taken by position too.
    assert positional(OrderAccepted)(None, Oid(5)) == OrderAccepted(oid=Oid(5))
    fill = positional(Fill)(1, Decimal("1"), Decimal("2"), 3.0)
    assert fill == Fill(tid=1, price=Decimal("1"), size=Decimal("2"), at=3.0)  # type: ignore[arg-type]


def test_record_keeps_methods_and_an_empty_record_is_true() -> None:
    @record
    class Empty:
        """Nothing."""

    @record
    class Pair:
        """Two numbers."""

        a: int
        b: int = 2

        @property
        def total(self) -> int:
            """The sum."""
            return self.a + self.b

    assert Empty() and Empty() == Empty() and repr(Empty()) == "Empty()"
    assert Pair(a=1).total == 3
    assert Pair.__doc__ == "Two numbers."
    with pytest.raises(KeyError):
        positional(int)
