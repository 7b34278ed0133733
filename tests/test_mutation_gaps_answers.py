"""Exchange answers (cancels, modifies, status reports, refusals): behaviour that
mutation testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutants it kills: changes to
``lifecycle/engine/interpret.py`` and ``facade.py`` that every other test let pass.
Driven through the suite's ``session`` fixture (``conftest.Session``: an engine with
``verify=True`` on a manual clock).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import Session

from lifecycle.config import LifecycleConfig, OrdersConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder, FetchOpenOrders
from lifecycle.core.errors import UnknownOrder
from lifecycle.core.events import (
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine

S = OrderState
D = Decimal


def modifying(session: Session) -> tuple[Order, Oid]:
    """A TRACKED order with a modify to 99 in flight; returns it and its oid."""
    order = session.tracked()
    assert order.oid is not None
    session.engine.modify(order, D(99), D(1), session.now)
    session.engine.commands_to_send()
    return order, order.oid


def state_of(order: Order) -> OrderState:
    """The order's state, read through a call (the engine changes it behind mypy's back)."""
    return order.state


def anomalies(session: Session, kind: AnomalyKind) -> list[tuple[float, str | None]]:
    return [(a.at, a.order_id) for a in session.engine.anomalies if a.kind is kind]


# --- cancels -------------------------------------------------------------------------------


def test_the_replaced_legs_cancel_does_not_set_the_status_word(session: Session) -> None:
    # Kills `dest is _GONE and state is not _GONE` -> `or` in Interpreter.canceled.
    order, old = modifying(session)
    session.engine.handle(OrderCanceled(cloid=order.cloid, oid=old, status="canceled"),
                          session.advance(1))
    assert order.state is S.MODIFYING and order.status is None


def test_a_refused_cancel_is_recorded_with_the_refusal(session: Session) -> None:
    # Kills the mutants of the arguments of Interpreter.canceled's refusal.
    order = session.engine.place(Side.BUY, D(100), D(1), session.now)
    session.engine.handle(OrderCanceled(cloid=order.cloid), session.advance(1))
    (refused,) = list(session.engine.anomalies)
    assert (refused.at, refused.order_id, refused.detail) == (
        session.now, order.label, f"{order.label}: can't apply exchange_canceled in state pending")


def test_cancel_of_an_unknown_cloid_names_it(session: Session) -> None:
    # Kills `UnknownOrder(key)` -> `UnknownOrder(None)` in Engine.cancel.
    cloid = CloidFactory("other").next()
    with pytest.raises(UnknownOrder) as raised:
        session.engine.cancel(cloid, session.now)
    assert raised.value.order_id == cloid
    assert str(raised.value) == f"no order {cloid!r} in the registry"


def test_cancel_of_an_order_the_engine_does_not_hold_names_it(session: Session) -> None:
    # Kills `UnknownOrder(key.label)` -> `UnknownOrder(None)` in Engine._local.
    stranger = Order(cloid=CloidFactory("other").next(), side=Side.BUY, price=D(1), size=D(1),
                     now=0.0)
    with pytest.raises(UnknownOrder) as raised:
        session.engine.cancel(stranger, session.now)
    assert raised.value.order_id == stranger.label


# --- modify answers ---------------------------------------------------------------------------


def test_a_modify_answer_without_cloid_is_found_by_its_old_oid(session: Session) -> None:
    # Kills `_find(event.cloid, event.old_oid) or ...` -> `... and ...` and the old oid
    # dropped from that lookup in Interpreter.modified.
    order, old = modifying(session)
    session.engine.handle(OrderModified(oid=Oid(9001), old_oid=old, price=D(99), size=D(1)),
                          session.advance(1))
    assert order.oid == Oid(9001) and order.state is S.FINALIZED_PROTECTED
    assert len(session.engine.anomalies) == 0


def test_a_modify_answer_for_an_unknown_order_is_an_anomaly_and_a_sync(session: Session) -> None:
    # Kills the mutants of `self._resolve(event, now)` in Interpreter.modified.
    cloid = CloidFactory("other").next()
    session.engine.handle(OrderModified(cloid=cloid, oid=Oid(5), old_oid=Oid(4), price=D(1),
                                        size=D(1)), session.advance(1))
    assert anomalies(session, AnomalyKind.UNKNOWN_ORDER) == [(session.now, cloid)]
    assert session.engine.commands_to_send() == [FetchOpenOrders(reason="unknown order")]


def test_a_modify_answer_for_an_order_not_modifying_is_refused_when_it_came(
    session: Session,
) -> None:
    # Kills `move_remote(order, _MODIFY_ACK, now)` -> `..., None)` on the refused path.
    order = session.tracked()
    session.engine.handle(OrderModified(cloid=order.cloid, oid=Oid(9001), old_oid=order.oid,
                                        price=D(99), size=D(1)), session.advance(1))
    assert anomalies(session, AnomalyKind.ILLEGAL_EVENT) == [(session.now, order.label)]
    assert order.oid != Oid(9001) and order.state is S.TRACKED


# --- status answers ---------------------------------------------------------------------------


def test_open_under_the_old_oid_while_cancelling_a_modify_sends_the_cancel_again(
    session: Session,
) -> None:
    # Kills `... and event.oid != order.oid and order.requested is not None` -> `... or
    # order.requested is not None` in Interpreter.status_report.
    order, old = modifying(session)
    session.engine.cancel(order, session.now)
    session.engine.commands_to_send()
    session.engine.handle(OrderStatusReport(cloid=order.cloid, oid=old,
                                            outcome=StatusOutcome.OPEN), session.advance(1))
    assert order.state is S.CANCELLING and order.oid == old
    assert session.engine.commands_to_send() == [CancelOrder(cloid=order.cloid, oid=old)]


def test_filled_answer_with_fills_missing_names_the_order(session: Session) -> None:
    # Kills `order.label` -> `None` in the FILLS_MISSING anomaly.
    order = session.tracked(size="2")
    session.engine.handle(OrderFilled(cloid=order.cloid, oid=order.oid, tid=Tid(1),
                                      side=order.side, price=order.price, size=D(1)),
                          session.advance(1))
    session.engine.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.FILLED,
                                            status="filled"), session.advance(1))
    assert anomalies(session, AnomalyKind.FILLS_MISSING) == [(session.now, order.label)]
    assert order.state is S.GONE and order.reason is GoneReason.FILLED
    assert order.status == "filled"


def test_not_found_without_a_confirmed_absence_names_the_order(session: Session) -> None:
    # Kills `order.label` -> `None` in the UNCONFIRMED_ABSENCE anomaly.
    order = session.tracked()
    session.engine.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.NOT_FOUND),
                          session.advance(1))
    assert anomalies(session, AnomalyKind.UNCONFIRMED_ABSENCE) == [(session.now, order.label)]
    assert order.state is S.TRACKED


def test_a_refused_status_answer_leaves_the_status_word_alone(session: Session) -> None:
    # Kills `move_remote(...) and event.status` -> `or` in status_report, and
    # `return False` -> `return True` in Engine.move_remote (OrderRejected below).
    order = session.engine.place(Side.BUY, D(100), D(1), session.now)
    session.engine.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.CANCELED,
                                            status="marginCanceled"), session.advance(1))
    assert state_of(order) is S.PENDING and order.status is None
    session.engine.handle(OrderRejected(cloid=order.cloid, status="badAloPx"),
                          session.advance(1))
    assert order.state is S.PENDING and order.status is None
    assert session.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 2


def test_a_modify_answer_for_an_order_already_ended_teaches_the_tombstone_its_new_oid(
    session: Session,
) -> None:
    # Kills the mutants of the GONE branch of Interpreter.modified (its `_bind` and its
    # absorbed MODIFY_ACK): a late fill naming only the new oid must find the tombstone.
    order, old = modifying(session)
    engine = session.engine
    engine.handle(OrderCanceled(cloid=order.cloid, oid=old, exchange_initiated=True),
                  session.advance(1))
    assert state_of(order) is S.GONE
    engine.handle(OrderModified(cloid=order.cloid, oid=Oid(9001), old_oid=old, price=D(99),
                                size=D(1)), session.advance(1))
    assert order.oid == Oid(9001) and order.prior_oids == (old,)
    assert order.history[-1].trigger.value == "modify_ack" and order.history[-1].at == session.now
    engine.handle(OrderFilled(oid=Oid(9001), tid=Tid(3), side=order.side, price=D(99),
                              size=D("0.5")), session.advance(1))
    assert order.filled == D("0.5") and len(engine.anomalies) == 0


def test_a_modify_answer_under_an_oid_of_another_order_is_a_conflict(session: Session) -> None:
    # Kills `_bind(order, event.oid, now, ...)` -> `..., None, ...` in modified.
    other = session.resting(price="98")
    order, old = modifying(session)
    assert other.oid is not None
    session.engine.handle(OrderModified(cloid=order.cloid, oid=other.oid, old_oid=old,
                                        price=D(99), size=D(1)), session.advance(1))
    assert state_of(order) is S.MODIFYING and order.oid == old
    assert anomalies(session, AnomalyKind.OID_CONFLICT) == [(session.now, order.label)]


def test_the_engine_verifies_against_the_record_only_when_asked() -> None:
    # Kills the mutants of `verify` and `history_limit` handed to the machine in Engine.
    assert Engine().machine.verify is False
    assert Engine(verify=True).machine.verify is True
    config = LifecycleConfig(orders=OrdersConfig(history_limit=5))
    assert Engine(config).machine.history_limit == 5
