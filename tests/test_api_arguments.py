"""The engine checks its arguments at the public boundary: a wrong type is a TypeError
naming the argument and what it takes, raised before anything changes."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lifecycle.config import LifecycleConfig
from lifecycle.core.commands import ModifyOrder
from lifecycle.core.events import OrderAccepted
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Side
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine

D = Decimal
GOOD: dict[str, Any] = {"side": Side.BUY, "price": D("100.5"), "size": D("2"), "now": 1.0}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("config.yaml", "Engine(config=...) takes a LifecycleConfig or None, got 'config.yaml' "
                        "(str); read the file first: Engine(load_config('config.yaml'))"),
        (Path("etc/bot.yaml"), "read the file first: Engine(load_config('etc/bot.yaml'))"),
        ({"orders": {}}, "got {'orders': {}} (dict); build it first: Engine(parse_config(data))"),
        (3, "Engine(config=...) takes a LifecycleConfig or None, got 3 (int)"),
    ],
)
def test_engine_config_of_the_wrong_type(config: object, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        Engine(config)  # type: ignore[arg-type]


def test_engine_cloids_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=re.escape("Engine(cloids=...) takes a CloidFactory, "
                                                  "got 'lifecycle' (str)")):
        Engine(cloids="lifecycle")  # type: ignore[arg-type]
    assert Engine(LifecycleConfig(), cloids=CloidFactory("x")).cloids.namespace == "x"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("side", "buy", "place(side=...) takes a Side (Side.BUY or Side.SELL), got 'buy' (str); "
                        "write Side.BUY"),
        ("side", "Sell", "got 'Sell' (str); write Side.SELL"),
        ("side", 1, "place(side=...) takes a Side (Side.BUY or Side.SELL), got 1 (int)"),
        ("price", 100.5, "place(price=...) takes a Decimal, got 100.5 (float); "
                         "write Decimal('100.5')"),
        ("price", 100.1, "write Decimal('100.1')"),  # never the float's binary expansion
        ("price", "100.5", "place(price=...) takes a Decimal, got '100.5' (str); "
                           "write Decimal('100.5')"),
        ("size", 2, "place(size=...) takes a Decimal, got 2 (int); write Decimal('2')"),
        ("size", None, "place(size=...) takes a Decimal, got None (NoneType)"),
        ("size", True, "place(size=...) takes a Decimal, got True (bool)"),
        ("now", "1", "place(now=...) takes the current time in seconds (a float), got '1' (str)"),
        ("now", None, "place(now=...) takes the current time in seconds (a float), got None"),
        ("now", False, "place(now=...) takes the current time in seconds (a float), got False"),
    ],
)
def test_place_argument_of_the_wrong_type_changes_nothing(
    name: str, value: object, message: str
) -> None:
    engine = Engine()
    with pytest.raises(TypeError, match=re.escape(message)):
        engine.place(**{**GOOD, name: value})
    assert len(engine.registry) == 0 and not engine.has_commands()
    assert engine.now == float("-inf")
    # No cloid was drawn for the refused order: the next one is the factory's first.
    assert engine.place(**GOOD).cloid == CloidFactory(engine.config.orders.namespace).next()


def test_place_accepts_an_int_time_and_decimal_subclasses() -> None:
    class Price(Decimal):
        pass

    engine = Engine()
    order = engine.place(Side.SELL, Price("7.5"), D(1), 3)
    assert (order.price, order.created_at, engine.now) == (D("7.5"), 3, 3)


def test_place_takes_a_cloid_in_any_accepted_form() -> None:
    engine = Engine()
    chosen = uuid.UUID(int=7)
    order = engine.place(**GOOD, cloid=str(chosen).upper())  # type: ignore[arg-type]
    assert order.cloid == Cloid(chosen) and order.cloid.__class__ is Cloid
    assert engine.order(Cloid(chosen)) is order
    order = engine.place(**GOOD, cloid=uuid.UUID(int=8))  # type: ignore[arg-type]
    assert order.cloid == Cloid(uuid.UUID(int=8))
    with pytest.raises(TypeError, match=re.escape(
            "place(cloid=...) takes a Cloid, a str or a uuid.UUID, got 9 (int)")):
        engine.place(**GOOD, cloid=9)  # type: ignore[arg-type]
    assert len(engine.registry) == 2


def tracked(engine: Engine) -> Any:
    order = engine.place(**GOOD)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(1)), 1.0)
    engine.on_timer(100.0)
    assert order.state is OrderState.TRACKED
    return order


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        ("price", 99.5, TypeError, "modify(price=...) takes a Decimal, got 99.5 (float); "
                                   "write Decimal('99.5')"),
        ("size", "1", TypeError, "modify(size=...) takes a Decimal, got '1' (str)"),
        ("now", "100", TypeError, "modify(now=...) takes the current time in seconds"),
        ("price", D(-1), ValueError, "ModifyOrder.price must be a finite Decimal > 0"),
        ("size", D("NaN"), ValueError, "ModifyOrder.size must be a finite Decimal > 0"),
    ],
)
def test_modify_with_a_bad_argument_leaves_the_order_as_it_was(
    name: str, value: object, error: type[Exception], message: str
) -> None:
    engine = Engine()
    order = tracked(engine)
    arguments: dict[str, Any] = {"price": D("99"), "size": D("1"), "now": 100.0, name: value}
    with pytest.raises(error, match=re.escape(message)):
        engine.modify(order, **arguments)
    assert order.state is OrderState.TRACKED and order.requested is None
    assert not engine.has_commands()
    engine.modify(order, D("99"), D("1"), 100)  # an int time is a time
    assert [type(c) for c in engine.commands_to_send()] == [ModifyOrder]


@pytest.mark.parametrize("key", [1.5, None, b"0x01"])
def test_cancel_names_what_an_order_key_is(key: object) -> None:
    engine = Engine()
    with pytest.raises(TypeError, match=re.escape(
            "an order is named by an Order, a cloid (str) or an oid (int), got ")):
        engine.cancel(key, 1.0)  # type: ignore[arg-type]


def test_cancel_of_an_unknown_oid_or_cloid_stays_unknown_order() -> None:
    from lifecycle.core.errors import UnknownOrder

    engine = Engine()
    for key in (Oid(5), Cloid(uuid.UUID(int=5))):
        with pytest.raises(UnknownOrder):
            engine.cancel(key, 1.0)


def test_long_values_are_cut_in_messages() -> None:
    with pytest.raises(TypeError) as info:
        Engine().place(**{**GOOD, "price": "9" * 200})
    assert "'99999" in str(info.value) and "... (str)" in str(info.value)
    assert len(str(info.value)) < 200 + 60
