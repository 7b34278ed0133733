"""Records: events, commands and fills are frozen, keyword-only msgspec structs.

What users rely on is kept from the dataclass records they replace: keyword
construction with defaults, fields in declaration order, frozen instances,
equality only within a class, hashing, no ordering, the dataclass ``repr``,
pickling and copying, and a way to copy with changes (``msgspec.structs.replace``).
"""

from __future__ import annotations

import copy
import gc
import inspect
import operator
import pickle
import typing
from decimal import Decimal

import msgspec
import pytest

from lifecycle.core.commands import CancelOrder, Command, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import ExchangeEvent, OrderAccepted, OrderCanceled
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Fill, Side
from lifecycle.core.records import Record

CLOID = CloidFactory("test-records").next()
RECORD_CLASSES = [*typing.get_args(ExchangeEvent), *typing.get_args(Command), Fill]


@pytest.mark.parametrize("cls", RECORD_CLASSES, ids=lambda cls: cls.__name__)
def test_every_record_class_is_a_frozen_keyword_only_untracked_struct(cls: type) -> None:
    assert issubclass(cls, Record) and issubclass(cls, msgspec.Struct)
    config = cls.__struct_config__  # type: ignore[attr-defined]
    assert config.frozen and not config.gc
    # msgspec applies kw_only per class: a subclass that forgot it would take positions.
    parameters = inspect.signature(cls).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    assert config.tag == cls.__name__ and config.tag_field == "kind"


def test_record_fields_are_in_declaration_order_with_their_defaults() -> None:
    fields = msgspec.structs.fields(OrderCanceled)
    assert [f.name for f in fields] == ["cloid", "oid", "status", "exchange_initiated"]
    assert [f.default for f in fields] == [None, None, "canceled", False]
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
    with pytest.raises(AttributeError):
        event.oid = Oid(2)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.other = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
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


def test_equal_records_hash_alike() -> None:
    event = OrderAccepted(cloid=CLOID, oid=Oid(7))
    assert hash(event) == hash(OrderAccepted(cloid=CLOID, oid=Oid(7)))
    assert len({event, OrderAccepted(cloid=CLOID, oid=Oid(7)), OrderAccepted(oid=Oid(7))}) == 2


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
    assert repr(OrderAccepted(cloid=CLOID, oid=Oid(1))) == f"OrderAccepted(cloid={CLOID!r}, oid=1)"


def test_record_replace_pickle_and_copy_keep_class_and_values() -> None:
    command = PlaceOrder(cloid=CLOID, side=Side.SELL, price=Decimal("1.5"), size=Decimal("2"))
    changed = msgspec.structs.replace(command, reduce_only=True)
    assert type(changed) is PlaceOrder
    assert changed.reduce_only and changed.price == Decimal("1.5")
    for clone in (pickle.loads(pickle.dumps(command)), copy.copy(command), copy.deepcopy(command)):
        assert type(clone) is PlaceOrder and clone == command
        assert type(clone.cloid) is Cloid
    assert msgspec.structs.asdict(command)["side"] is Side.SELL


def test_records_are_not_tracked_by_the_garbage_collector() -> None:
    # gc=False: events and fills are numerous and hold no container that could form a cycle.
    assert not gc.is_tracked(OrderAccepted(cloid=CLOID, oid=Oid(1)))
    assert not gc.is_tracked(Fill(tid=1, price=Decimal(1), size=Decimal(1), at=0.0))  # type: ignore[arg-type]
