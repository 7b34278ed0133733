"""The exact texts of the engine's argument errors: the value shown, its length limits, hints.

A user reads these to find the argument they got wrong, so the value shown, when it is
cut, and when a ``Decimal(...)`` or ``Side`` hint is offered are part of the contract.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from lifecycle.config import LifecycleConfig
from lifecycle.core.ids import CloidFactory
from lifecycle.core.order import Side
from lifecycle.engine.arguments import check_order_arguments, shown
from lifecycle.engine.facade import Engine

D = Decimal(1)


def message(**arguments: object) -> str:
    base: dict[str, object] = {"side": Side.BUY, "price": D, "size": D, "now": 0.0}
    with pytest.raises(TypeError) as caught:
        check_order_arguments("place", **{**base, **arguments})
    return str(caught.value)


def test_a_value_is_shown_whole_up_to_60_characters_then_cut_to_57_and_dots() -> None:
    assert shown("x" * 58) == repr("x" * 58) + " (str)"  # 60 characters with its quotes
    cut = shown("x" * 59)  # 61: cut
    assert cut == repr("x" * 59)[:57] + "... (str)"


def test_a_side_hint_only_for_buy_or_sell_spelled_as_text() -> None:
    assert message(side="Buy").endswith("got 'Buy' (str); write Side.BUY")
    assert message(side="up").endswith("got 'up' (str)")


def test_a_decimal_hint_for_numbers_and_text_up_to_40_characters() -> None:
    assert message(price=100.1).endswith("got 100.1 (float); write Decimal('100.1')")
    forty = "1" * 40
    assert message(size=forty).endswith(f"; write Decimal('{forty}')")
    assert message(size=forty + "1").endswith(f"got '{forty}1' (str)")
    assert message(price=[1]).endswith("got [1] (list)")
    assert message(price=True).endswith("got True (bool)")


def test_an_order_named_by_something_else_is_shown_in_the_error() -> None:
    engine = Engine(LifecycleConfig(), cloids=CloidFactory("args", run_id=1))
    with pytest.raises(TypeError, match=r"got 3\.5 \(float\)$"):
        engine.cancel(3.5, 0.0)  # type: ignore[arg-type]
