"""Engine behaviour that mutation testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutant it kills: a change to
``lifecycle/engine`` that every other test let pass. The engine runs with
``verify=True`` throughout, as in the rest of the suite.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from lifecycle.config import LifecycleConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.clock import ManualClock
from lifecycle.core.commands import CancelOrder, Command, FetchOpenOrders, QueryOrderStatus
from lifecycle.core.events import (
    CancelRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.policy.snapshot import OpenOrder, OpenOrdersSnapshot

S = OrderState
D = Decimal
DEFAULTS = LifecycleConfig()
PROTECTION_S = DEFAULTS.orders.protection_s
EXPECTED_TTL_S = DEFAULTS.orders.expected_ttl_s
CANCEL_TIMEOUT_S = DEFAULTS.orders.cancel_timeout_s
# Far from zero, so that `now - since` and `now + since` differ.
START = 1000.0


class Desk:
    """An engine on a manual clock that starts at :data:`START`, with shortcuts."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.engine = Engine(cloids=CloidFactory("test", run_id=1), verify=True)
        self._oid = 7000
        self._tid = 0

    @property
    def now(self) -> float:
        return self.clock.now()

    def advance(self, seconds: float) -> float:
        return self.clock.advance(seconds)

    def new_oid(self) -> Oid:
        self._oid += 1
        return Oid(self._oid)

    def handle(self, event: object, after: float = 0.0) -> None:
        self.engine.handle(event, self.advance(after))

    def drain(self) -> list[Command]:
        return self.engine.commands_to_send()

    def sent(self, price: str = "100", size: str = "1") -> Order:
        order = self.engine.place(Side.BUY, D(price), D(size), self.now)
        self.drain()
        return order

    def tracked(self, price: str = "100", size: str = "1") -> Order:
        order = self.sent(price, size)
        self.handle(OrderAccepted(cloid=order.cloid, oid=self.new_oid()))
        self.engine.on_timer(self.advance(PROTECTION_S))
        assert order.state is S.TRACKED
        self.drain()
        return order

    def fill(self, order: Order, size: str, *, oid: Oid | None = None, cloid: bool = True,
             price: str | None = None) -> OrderFilled:
        self._tid += 1
        event = OrderFilled(cloid=order.cloid if cloid else None, oid=oid, tid=Tid(self._tid),
                            side=order.side, price=D(price) if price else order.price,
                            size=D(size))
        self.handle(event, 0.01)
        return event

    def modifying(self, price: str = "99", size: str = "1") -> tuple[Order, Oid]:
        """A TRACKED order with a modify in flight; returns it and its oid."""
        order = self.tracked()
        old = order.oid
        assert old is not None
        self.engine.modify(order, D(price), D(size), self.now)
        self.drain()
        return order, old

    def modified(self, price: str = "99", size: str = "1") -> tuple[Order, Oid, Oid]:
        """A TRACKED order modified (answered): returns it, its old and its new oid."""
        order, old = self.modifying(price, size)
        new = self.new_oid()
        self.handle(OrderModified(cloid=order.cloid, oid=new, old_oid=old, price=D(price),
                                  size=D(size)), 0.01)
        assert order.oid == new and order.state is S.FINALIZED_PROTECTED
        self.drain()
        return order, old, new


def state_of(order: Order) -> OrderState:
    """The order's state, read through a call (the engine changes it behind mypy's back)."""
    return order.state


@pytest.fixture
def desk() -> Desk:
    return Desk()


# --- fills around a modify ----------------------------------------------------------------


def test_fill_of_the_replacement_before_the_modify_answer_completes_the_modify(
    desk: Desk,
) -> None:
    # Kills the mutants of the MODIFYING branch of Interpreter.filled (state, oid tests,
    # replace=True, _took_effect and the MODIFY_ACK): the cancel-replace took effect.
    order, old = desk.modifying(price="99", size="1")
    new = desk.new_oid()
    desk.fill(order, "0.4", oid=new, price="99")
    assert order.oid == new and order.prior_oids == (old,)
    assert (order.price, order.size, order.filled, order.requested) == (D(99), D(1), D("0.4"),
                                                                         None)
    assert order.state is S.FINALIZED_PROTECTED
    assert [r.trigger.value for r in order.history[-2:]] == ["modify_ack", "fill_partial"]
    assert not desk.engine.anomalies.counts[AnomalyKind.OID_CONFLICT]
    assert desk.engine.position == D("0.4")


def test_replacement_fill_after_an_earlier_fill_rests_the_requested_size_on_top(
    desk: Desk,
) -> None:
    # Kills `order.filled + size` -> `order.filled - size` in Interpreter._took_effect.
    order = desk.tracked(size="1")
    desk.fill(order, "0.3", oid=order.oid)
    old = order.oid
    desk.engine.modify(order, D(99), D("0.5"), desk.now)
    desk.drain()
    desk.fill(order, "0.5", oid=desk.new_oid(), price="99")
    assert old in order.prior_oids
    assert (order.size, order.filled) == (D("0.8"), D("0.8"))
    assert order.state is S.GONE and order.reason is GoneReason.FILLED


@pytest.mark.parametrize("name_the_oid", [False, True])
def test_fill_after_a_modify_completes_the_order_at_its_new_size(
    desk: Desk, name_the_oid: bool
) -> None:
    # Kills `prior and oid is not None` -> `prior or oid is not None` in
    # Interpreter._apply_fill: only a fill of the replaced leg grows the size.
    order, _old, new = desk.modified(price="99", size="1")
    desk.fill(order, "1", oid=new if name_the_oid else None, price="99")
    assert (order.size, order.filled) == (D(1), D(1))
    assert order.state is S.GONE and order.reason is GoneReason.FILLED


def test_late_fill_of_the_replaced_leg_grows_the_order(desk: Desk) -> None:
    order, old, _new = desk.modified(price="99", size="1")
    desk.fill(order, "0.25", oid=old, price="100")
    assert (order.size, order.filled) == (D("1.25"), D("0.25"))
    assert order.state is S.FINALIZED_PROTECTED


def test_fill_naming_only_the_cloid_of_an_acknowledged_order_changes_no_oid(desk: Desk) -> None:
    order = desk.tracked(size="1")
    oid = order.oid
    desk.fill(order, "1", oid=None)
    assert order.oid == oid and order.prior_oids == ()
    assert (order.size, order.filled) == (D(1), D(1))
    assert order.state is S.GONE and order.reason is GoneReason.FILLED


def test_late_answer_of_a_modify_the_open_completed_leaves_the_next_modify_in_flight(
    desk: Desk,
) -> None:
    # A bug the survivors of Interpreter.modified's late-answer test showed: the REST
    # answer of modify 1 (A -> B), arriving after B's `open` completed it and after
    # modify 2 (B -> ...) was sent, was taken for modify 2's answer. The order then
    # rested under B at modify 1's terms, modify 2's real answer was refused as illegal
    # and the status query named B, which the exchange had cancelled.
    order, a = desk.modifying(price="99")
    b = desk.new_oid()
    desk.handle(OrderAccepted(cloid=order.cloid, oid=b), 0.01)  # B's open: modify 1 done
    assert (order.oid, order.requested) == (b, None)
    desk.engine.modify(order, D(98), D(1), desk.now)
    desk.drain()
    desk.handle(OrderModified(cloid=order.cloid, oid=b, old_oid=a, price=D(99), size=D(1)),
                0.01)
    assert (state_of(order), order.requested) == (S.MODIFYING, (D(98), D(1)))
    c = desk.new_oid()
    desk.handle(OrderModified(cloid=order.cloid, oid=c, old_oid=b, price=D(98), size=D(1)),
                0.01)
    assert order.state is S.FINALIZED_PROTECTED and order.oid == c and order.price == D(98)
    assert order.prior_oids == (a, b) and order.requested is None
    assert len(desk.engine.anomalies) == 0 and desk.drain() == []


def test_late_answer_of_an_older_modify_is_ignored_whatever_leg_rests_now(desk: Desk) -> None:
    # The same for an answer older still: modify 1 (A -> B) answered after modify 2
    # (B -> C) took effect and while modify 3 is in flight.
    order, a, b = desk.modified(price="99")
    desk.engine.modify(order, D(98), D(1), desk.now)
    desk.drain()
    c = desk.new_oid()
    desk.handle(OrderModified(cloid=order.cloid, oid=c, old_oid=b, price=D(98), size=D(1)),
                0.01)
    desk.engine.modify(order, D(97), D(1), desk.now)
    desk.drain()
    desk.handle(OrderModified(cloid=order.cloid, oid=b, old_oid=a, price=D(99), size=D(1)),
                0.01)
    assert (state_of(order), order.requested) == (S.MODIFYING, (D(97), D(1)))
    assert order.oid == c and order.price == D(98)
    assert len(desk.engine.anomalies) == 0 and desk.drain() == []


# --- cancels around a modify --------------------------------------------------------------


def test_cancel_refused_as_gone_for_the_replaced_leg_is_sent_again_for_the_new_oid(
    desk: Desk,
) -> None:
    # Kills the mutants of the prior-oid branch of Interpreter.cancel_rejected.
    order, old = desk.modifying()
    desk.engine.cancel(order, desk.now)
    assert desk.drain() == [CancelOrder(cloid=order.cloid, oid=old)]
    new = desk.new_oid()
    desk.handle(OrderModified(cloid=order.cloid, oid=new, old_oid=old, price=D(99), size=D(1)),
                0.01)
    assert desk.drain() == [CancelOrder(cloid=order.cloid, oid=new)]
    desk.handle(CancelRejected(cloid=order.cloid, oid=old, order_gone=True), 0.01)
    assert order.state is S.CANCELLING
    assert desk.drain() == [CancelOrder(cloid=order.cloid, oid=new)]
    assert not desk.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT]


def test_cancel_refusal_naming_a_replaced_leg_after_the_order_rests_again_is_ignored(
    desk: Desk,
) -> None:
    # The refusal of a cancel of the replaced leg, while no cancel of ours is out.
    order, old, _new = desk.modified()
    desk.handle(CancelRejected(cloid=order.cloid, oid=old, order_gone=True), 0.01)
    assert order.state is S.FINALIZED_PROTECTED
    assert desk.drain() == []


# --- at most one query and one sync request per drain ---------------------------------------


def test_at_most_one_status_query_per_order_per_drain(desk: Desk) -> None:
    # Kills the mutants of Engine.query's guard and of the drain that resets it.
    first, second = desk.tracked("100"), desk.tracked("99")
    for _ in range(3):
        desk.engine.query(first)
        desk.engine.query(second, by_cloid=True)
    assert desk.drain() == [QueryOrderStatus(cloid=first.cloid, oid=first.oid),
                            QueryOrderStatus(cloid=second.cloid, oid=None)]
    desk.engine.query(first)
    assert desk.drain() == [QueryOrderStatus(cloid=first.cloid, oid=first.oid)]
    assert desk.drain() == []


def test_at_most_one_open_orders_request_per_drain(desk: Desk) -> None:
    for reason in ("a", "b"):
        desk.engine.request_sync(reason)
    assert desk.drain() == [FetchOpenOrders(reason="a")]
    desk.engine.request_sync("c")
    assert desk.drain() == [FetchOpenOrders(reason="c")]


# --- status answers and their timing --------------------------------------------------------


def test_not_found_for_a_young_expected_order_is_ignored(desk: Desk) -> None:
    # Kills `now - order.state_since` -> `now + order.state_since` (and `<` -> `<=`) in
    # Interpreter.status_report: the clock starts far from zero here.
    order = desk.sent()
    desk.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.NOT_FOUND),
                EXPECTED_TTL_S - 0.5)
    assert state_of(order) is S.EXPECTED
    desk.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.NOT_FOUND), 0.5)
    assert order.state is S.GONE and order.reason is GoneReason.NEVER_PLACED


def test_open_answer_for_a_modify_younger_than_the_timeout_leaves_it_in_flight(
    desk: Desk,
) -> None:
    # Kills `now - order.state_since` -> `now + ...` (and `>=` -> `>`) on the lost-modify path.
    order, old = desk.modifying()
    desk.handle(OrderStatusReport(cloid=order.cloid, oid=old, outcome=StatusOutcome.OPEN),
                CANCEL_TIMEOUT_S - 0.5)
    assert state_of(order) is S.MODIFYING and order.requested == (D(99), D(1))
    desk.handle(OrderStatusReport(cloid=order.cloid, oid=old, outcome=StatusOutcome.OPEN), 0.5)
    assert order.state is S.TRACKED and order.price == D(100)
    assert order.requested is None


# --- an orphan candidate holding fills ------------------------------------------------------


def test_absorbed_candidate_hands_its_fills_to_our_order_counted_once(desk: Desk) -> None:
    # Kills the mutants of Interpreter._absorb_candidate's loop over the candidate's fills.
    order = desk.sent(size="1")
    oid = desk.new_oid()
    # Listed without its cloid and already part filled (so not like the EXPECTED order).
    row = OpenOrder(coin=desk.engine.sync.coin, oid=oid, cloid=None, side=order.side,
                    price=order.price, size=D("0.6"))
    report = desk.engine.handle_snapshot(OpenOrdersSnapshot(taken_at=desk.now, orders=(row,)),
                                         desk.now)
    assert report.new_candidates == 1
    candidate = desk.engine.registry.find(None, oid)
    assert candidate is not None and candidate is not order
    desk.handle(OrderFilled(cloid=None, oid=oid, tid=Tid(99), side=order.side, price=order.price,
                            size=D("0.4"), fill_ref="r"), 0.01)
    assert candidate.filled == D("0.4") and desk.engine.position == D("0.4")
    desk.handle(OrderAccepted(cloid=order.cloid, oid=oid), 0.01)
    assert candidate not in desk.engine.registry
    assert desk.engine.registry.find(None, oid) is order
    assert order.oid == oid and order.state is S.FINALIZED_PROTECTED
    ((key, fill),) = order.fills.items()
    assert key == (Tid(99), "r")
    assert (fill.price, fill.size, fill.ref) == (order.price, D("0.4"), "r")
    assert order.filled == D("0.4") and desk.engine.position == D("0.4")
    assert desk.engine.counters()["fills"] == 1
    assert desk.engine.parked_fills() == {}


# --- exchange messages the table refuses ------------------------------------------------------


def test_cancel_for_an_order_whose_placement_was_not_sent_is_refused_and_queried(
    desk: Desk,
) -> None:
    # Kills the mutants of the IllegalTransition branch of Interpreter.canceled.
    order = desk.engine.place(Side.BUY, D(100), D(1), desk.now)
    desk.handle(OrderCanceled(cloid=order.cloid, status="marginCanceled"), 0.01)
    assert order.state is S.PENDING and order.status is None
    assert desk.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 1
    assert desk.drain()[-1] == QueryOrderStatus(cloid=order.cloid, oid=None)


def test_fill_for_an_order_whose_placement_was_not_sent_is_refused_but_counted(
    desk: Desk,
) -> None:
    # Kills the mutants of the IllegalTransition branch of _remote_then_finalize.
    order = desk.engine.place(Side.BUY, D(100), D(1), desk.now)
    desk.fill(order, "0.5")
    assert order.state is S.PENDING
    assert desk.engine.anomalies.counts[AnomalyKind.ILLEGAL_EVENT] == 1
    assert desk.engine.position == D("0.5")
    commands = desk.drain()
    assert QueryOrderStatus(cloid=order.cloid, oid=None) in commands


def test_exchange_cancel_sets_the_status_word_only_when_it_ends_the_order(desk: Desk) -> None:
    order = desk.tracked()
    desk.handle(OrderCanceled(cloid=order.cloid, oid=order.oid, status="marginCanceled",
                              exchange_initiated=True), 0.01)
    assert order.state is S.GONE and order.status == "marginCanceled"
    desk.handle(OrderCanceled(cloid=order.cloid, oid=order.oid, status="canceled"), 0.01)
    assert order.status == "marginCanceled"  # the tombstone keeps the first word


# --- counters exported as metrics --------------------------------------------------------------


def test_engine_counters_count_orders_by_state_fills_and_duplicates(desk: Desk) -> None:
    # Kills `+= 1` -> `= 1` in Engine.counters: two orders share a state.
    order = desk.tracked()
    desk.sent("99")
    desk.sent("98")
    event = desk.fill(order, "0.5", oid=order.oid)
    desk.handle(event, 0.01)  # the same trade again
    counters = desk.engine.counters()
    assert counters["orders_tracked"] == 1 and counters["orders_expected"] == 2
    assert counters["orders_gone"] == 0
    assert (counters["fills"], counters["duplicate_fills"]) == (1, 1)
    assert counters["anomaly_illegal_event"] == 0
    assert sum(v for k, v in counters.items() if k.startswith("orders_")) == 3


# --- an order declared never placed that the exchange shows resting ----------------------------


def never_placed(desk: Desk) -> Order:
    order = desk.sent()
    desk.engine.on_timer(desk.advance(EXPECTED_TTL_S))
    desk.drain()
    desk.handle(OrderStatusReport(cloid=order.cloid, outcome=StatusOutcome.NOT_FOUND), 0.01)
    assert order.state is S.GONE and order.reason is GoneReason.NEVER_PLACED
    return order


def test_late_placement_binds_the_oid_and_records_when_and_which(desk: Desk) -> None:
    # Kills `_bind(order, oid, now)` -> `_bind(order, None, now)` and the anomaly's
    # time and order id in Interpreter._late_placement.
    order = never_placed(desk)
    oid = desk.new_oid()
    desk.handle(OrderAccepted(cloid=order.cloid, oid=oid), 1.0)
    assert order.oid == oid and desk.engine.registry.find(None, oid) is order
    assert state_of(order) is S.FINALIZED_PROTECTED
    (late,) = [a for a in desk.engine.anomalies if a.kind is AnomalyKind.LATE_PLACEMENT]
    assert (late.at, late.order_id) == (desk.now, order.label)


def test_late_placement_under_an_oid_of_another_order_is_refused(desk: Desk) -> None:
    # Kills `_bind(order, oid, now)` -> `_bind(order, oid, None)` in _late_placement.
    other = desk.tracked("99")
    order = never_placed(desk)
    assert other.oid is not None
    desk.handle(OrderAccepted(cloid=order.cloid, oid=other.oid), 1.0)
    assert order.state is S.GONE and order.oid is None
    (conflict,) = [a for a in desk.engine.anomalies if a.kind is AnomalyKind.OID_CONFLICT]
    assert (conflict.at, conflict.order_id) == (desk.now, order.label)
    assert not desk.engine.anomalies.counts[AnomalyKind.LATE_PLACEMENT]


# --- what an anomaly names ----------------------------------------------------------------------


def test_an_event_for_an_unknown_order_names_its_cloid_else_its_oid(desk: Desk) -> None:
    # Kills the order-id mutants of Interpreter._unknown.
    cloid = CloidFactory("other", run_id=5).next()
    desk.handle(OrderCanceled(cloid=cloid, oid=Oid(3)), 1.0)
    desk.handle(OrderCanceled(oid=Oid(4)), 1.0)
    assert [(a.kind, a.at, a.order_id) for a in desk.engine.anomalies] == [
        (AnomalyKind.UNKNOWN_ORDER, START + 1, cloid),
        (AnomalyKind.UNKNOWN_ORDER, START + 2, "oid:4"),
    ]
    assert desk.drain() == [FetchOpenOrders(reason="unknown order")]


def test_a_refused_exchange_message_names_the_order(desk: Desk) -> None:
    # Kills `order.label` -> `None` in Engine.remote_refused.
    order = desk.engine.place(Side.BUY, D(100), D(1), desk.now)
    desk.handle(OrderCanceled(cloid=order.cloid), 1.0)
    (refused,) = list(desk.engine.anomalies)
    assert (refused.kind, refused.at, refused.order_id) == (
        AnomalyKind.ILLEGAL_EVENT, desk.now, order.label)


# --- a cancel refused while the order still rests ----------------------------------------


def test_cancel_refused_not_gone_for_the_replaced_leg_means_the_cancel_failed(
    desk: Desk,
) -> None:
    # Kills `event.order_gone and ...` -> `event.order_gone or ...` in cancel_rejected.
    order, old = desk.modifying()
    desk.engine.cancel(order, desk.now)
    desk.drain()
    desk.handle(OrderModified(cloid=order.cloid, oid=desk.new_oid(), old_oid=old, price=D(99),
                              size=D(1)), 0.01)
    desk.drain()
    desk.handle(CancelRejected(cloid=order.cloid, oid=old, order_gone=False), 0.01)
    assert order.state is S.TRACKED
    assert desk.drain() == []


def test_cancel_refused_not_gone_sends_no_status_query(desk: Desk) -> None:
    # Kills `moved and trigger is _CANCEL_GONE` -> `moved or ...` in cancel_rejected.
    order = desk.tracked()
    desk.engine.cancel(order, desk.now)
    desk.drain()
    desk.handle(CancelRejected(cloid=order.cloid, oid=order.oid, order_gone=False), 0.01)
    assert state_of(order) is S.TRACKED and desk.drain() == []
    desk.engine.cancel(order, desk.now)
    desk.drain()
    desk.handle(CancelRejected(cloid=order.cloid, oid=order.oid, order_gone=True), 0.01)
    assert order.state is S.GONE and order.reason is GoneReason.UNKNOWN
    assert desk.drain() == [QueryOrderStatus(cloid=order.cloid, oid=order.oid)]
