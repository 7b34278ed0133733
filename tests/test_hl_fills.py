"""The immediate-fill credit (seed system B1-B4): an order answer's ``filled`` status
counted once, whatever order it and the same order's fills with trade ids arrive in,
repeats included; checked on the credit alone, through the codec, and through the engine.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from lifecycle.adapters.hyperliquid.codec import Codec
from lifecycle.adapters.hyperliquid.fills import (
    CreditsState,
    FillCredits,
    immediate_ref,
)
from lifecycle.adapters.hyperliquid.problems import ProblemKind

from lifecycle import Engine, OrderState
from lifecycle.core.events import OrderAccepted, OrderFilled
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side

D = Decimal
CLOID = Cloid("0x" + "ab" * 16)


def fill(oid: int, tid: int, size: str, *, price: str = "100") -> OrderFilled:
    return OrderFilled(oid=Oid(oid), tid=Tid(tid), side=Side.BUY, price=D(price), size=D(size))


def credit(c: FillCredits, oid: int, total: str, now: float = 0.0) -> OrderFilled | None:
    return c.immediate(oid=Oid(oid), cloid=CLOID, side=Side.BUY, total=D(total),
                       avg_px=D("100.5"), now=now)


def sizes(events: list[OrderFilled | None]) -> list[str]:
    return ["-" if e is None else str(e.size) for e in events]


# --- the credit alone ---------------------------------------------------------------------


def test_b1_immediate_fill_is_handed_on_at_once_with_a_stable_synthetic_identity() -> None:
    c = FillCredits()

    event = credit(c, 9, "1.0")

    assert event is not None and event.size == D("1.0") and event.price == D("100.5")
    assert event.identity == (0, 9, "immediate/9") and event.cloid == CLOID
    assert immediate_ref(Oid(9)) == "immediate/9"
    assert credit(c, 9, "1.0") is None  # applied once


def test_b2_fills_of_a_full_immediate_fill_hand_on_nothing() -> None:
    c = FillCredits()
    credit(c, 9, "1.0")

    handed = [c.fill(fill(9, 1, "0.4"), 1), c.fill(fill(9, 2, "0.6"), 2)]

    assert sizes(handed) == ["-", "-"]
    assert c.outstanding(Oid(9)) == 0


def test_b3_b4_partial_immediate_fill_then_fills_only_beyond_it_count() -> None:
    c = FillCredits()
    first = credit(c, 9, "0.6")

    handed = [c.fill(fill(9, t, s), t) for t, s in [(1, "0.3"), (2, "0.3"), (3, "0.2"), (4, "0.2")]]

    assert first is not None and first.size == D("0.6")
    assert sizes(handed) == ["-", "-", "0.2", "0.2"]


def test_a_fill_straddling_the_end_of_the_credit_hands_on_its_excess() -> None:
    c = FillCredits()
    credit(c, 9, "0.6")

    handed = [c.fill(fill(9, 1, "0.5"), 1), c.fill(fill(9, 2, "0.5"), 2)]

    assert sizes(handed) == ["-", "0.4"]
    assert handed[1] is not None and handed[1].identity == (2, 9, "")


def test_fills_before_the_answer_reduce_what_the_answer_hands_on() -> None:
    c = FillCredits()
    early = c.fill(fill(9, 1, "0.25"), 0)

    late_credit = credit(c, 9, "0.6", now=1)
    rest = [c.fill(fill(9, 2, "0.35"), 2), c.fill(fill(9, 3, "0.4"), 3)]

    assert early is not None and early.size == D("0.25")
    assert late_credit is not None and late_credit.size == D("0.35")
    assert sizes(rest) == ["-", "0.4"]


def test_fills_covering_the_answer_first_leave_the_answer_nothing() -> None:
    c = FillCredits()
    c.fill(fill(9, 1, "0.6"), 0)
    c.fill(fill(9, 2, "0.4"), 0)

    assert credit(c, 9, "0.6") is None


def test_repeats_are_recognised_and_hand_on_nothing() -> None:
    c = FillCredits()
    credit(c, 9, "0.5")
    first = [c.fill(fill(9, 1, "0.5"), 1), c.fill(fill(9, 2, "0.5"), 2)]

    again = [c.fill(fill(9, 1, "0.5"), 3), c.fill(fill(9, 2, "0.5"), 4)]

    assert sizes(first) == ["-", "0.5"] and sizes(again) == ["-", "-"]
    assert c.repeats == 2


def test_a_fill_without_an_oid_passes_as_it_is() -> None:
    c = FillCredits()
    event = OrderFilled(oid=None, tid=Tid(5), side=Side.SELL, price=D(1), size=D(1))

    assert c.fill(event, 0) is event and c.fill(event, 0) is event
    assert len(c) == 0


def test_a_bad_immediate_amount_raises_and_records_nothing() -> None:
    c = FillCredits()
    with pytest.raises(ValueError, match="size"):
        credit(c, 9, "0")
    assert len(c) == 0
    assert credit(c, 9, "0.5") is not None


def test_an_oid_without_credit_is_forgotten_after_pending_s() -> None:
    c = FillCredits(pending_s=10)
    c.fill(fill(9, 1, "0.6"), 0)

    late = credit(c, 9, "0.6", now=11)  # the fill's record is gone: the answer counts

    assert late is not None and late.size == D("0.6")
    assert c.take_problems() == []


def test_a_credit_forgotten_unused_is_a_problem() -> None:
    c = FillCredits(memory_s=100)
    credit(c, 9, "0.6", now=0)

    c.fill(fill(10, 1, "1"), 101)  # any call expires

    problems = c.take_problems()
    assert [p.kind for p in problems] == [ProblemKind.CREDIT_FORGOTTEN]
    assert problems[0].order_id == "oid:9" and "0.6" in problems[0].detail
    assert c.outstanding(Oid(9)) == 0


def test_touching_an_oid_keeps_its_credit_remembered() -> None:
    c = FillCredits(memory_s=100)
    credit(c, 9, "1.0", now=0)
    c.fill(fill(9, 1, "0.5"), 90)

    late = c.fill(fill(9, 2, "0.5"), 180)

    assert late is None and c.take_problems() == []


def test_capacity_forgets_pending_oids_first_then_credits_with_a_problem() -> None:
    c = FillCredits(capacity=2)
    credit(c, 1, "1")
    c.fill(fill(2, 1, "1"), 0)
    c.fill(fill(3, 1, "1"), 0)  # evicts oid 2 (pending)

    assert len(c) == 2 and c.take_problems() == []
    credit(c, 4, "1")  # evicts oid 3, then nothing; oids 1 and 4 are credits
    credit(c, 5, "1")  # a third credit: oid 1 goes
    problems = c.take_problems()
    assert [p.order_id for p in problems] == ["oid:1"]


@pytest.mark.parametrize(
    "kwargs", [{"memory_s": 0}, {"pending_s": -1}, {"capacity": 0}, {"memory_s": float("nan")}]
)
def test_bad_settings_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"memory_s|pending_s|capacity"):
        FillCredits(**kwargs)


def test_export_restore_round_trip_keeps_credits_and_repeats() -> None:
    c = FillCredits()
    credit(c, 9, "1.0")
    c.fill(fill(9, 1, "0.4"), 1)
    c.fill(fill(8, 1, "0.4"), 1)  # no credit: not exported
    saved = msgspec.json.decode(msgspec.json.encode(c.export()), type=CreditsState)

    restored = FillCredits()
    restored.restore(saved)

    assert len(restored) == 1 and restored.outstanding(Oid(9)) == D("0.6")
    assert restored.fill(fill(9, 1, "0.4"), 2) is None and restored.repeats == 1
    assert sizes([restored.fill(fill(9, 2, "0.8"), 3)]) == ["0.2"]
    assert credit(restored, 9, "1.0") is None
    with pytest.raises(ValueError, match="empty"):
        restored.restore(saved)


def test_seeded_orderings_count_every_oid_exactly_its_fills() -> None:
    rng = random.Random(4242)
    for _ in range(400):
        c = FillCredits()
        truth: dict[int, D] = {}
        inputs: list[tuple[str, Any]] = []
        for oid in range(1, rng.randint(2, 5)):
            lots = [rng.randint(1, 9) for _ in range(rng.randint(1, 6))]
            immediate = rng.randint(0, len(lots))  # 0: it rested, no credit
            truth[oid] = D(sum(lots)) / 10
            for tid, lot in enumerate(lots, start=1):
                for _ in range(rng.randint(1, 3)):  # each fill delivered 1-3 times
                    inputs.append(("fill", fill(oid, oid * 100 + tid, str(D(lot) / 10))))
            if immediate:
                total = D(sum(lots[:immediate])) / 10
                for _ in range(rng.randint(1, 2)):  # the answer read once or twice
                    inputs.append(("answer", (oid, total)))
        rng.shuffle(inputs)
        counted: dict[int, D] = dict.fromkeys(truth, D(0))
        for now, (kind, item) in enumerate(inputs):
            if kind == "fill":
                handed = c.fill(item, float(now))
            else:
                handed = credit(c, item[0], str(item[1]), now=float(now))
            if handed is not None:
                assert handed.oid is not None
                counted[handed.oid] += handed.size
        assert counted == truth, inputs


# --- through the codec and the engine ------------------------------------------------------


def ws_fill(oid: int, tid: int, size: str, *, coin: str = "ETH") -> dict[str, Any]:
    return {"coin": coin, "px": "100", "sz": size, "side": "B", "time": 1700000000000 + tid,
            "startPosition": "0", "dir": "Open Long", "closedPnl": "0", "hash": "0x" + "1" * 64,
            "oid": oid, "crossed": True, "fee": "0.01", "tid": tid, "feeToken": "USDC"}


def user_fills(*fills: dict[str, Any], snapshot: bool = False) -> str:
    return msgspec.json.encode({"channel": "userFills", "data": {
        "isSnapshot": snapshot, "user": "0x" + "2" * 40, "fills": list(fills)}}).decode()


def user_events(*fills: dict[str, Any]) -> str:
    return msgspec.json.encode({"channel": "user", "data": {"fills": list(fills)}}).decode()


def filled_answer(oid: int, total: str) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": "order", "data": {"statuses": [
        {"filled": {"totalSz": total, "avgPx": "100", "oid": oid}}]}}}


class Session:
    """An engine, one order placed through it, and the codec reading the exchange's words."""

    def __init__(self, size: str = "1.0") -> None:
        self.engine = Engine()
        self.now = 0.0
        self.order = self.engine.place(Side.BUY, D("100"), D(size), self.now)
        self.commands = self.engine.commands_to_send()
        self.codec = Codec("ETH")

    def answer(self, oid: int, total: str) -> list[Any]:
        self.now += 0.1
        results = self.codec.place_results(self.commands, filled_answer(oid, total), self.now)
        events = [e for r in results for e in r.events]
        for event in events:
            self.engine.handle(event, self.now)
        return events

    def frame(self, frame: str) -> D:
        self.now += 0.1
        for event in self.codec.ws_frame(frame, self.now):
            self.engine.handle(event, self.now)
        return self.engine.position


def test_engine_b1_b2_full_immediate_fill_moves_the_position_once() -> None:
    s = Session()

    s.answer(77, "1.0")
    after_answer = s.engine.position
    after_ws = s.frame(user_fills(ws_fill(77, 1, "0.4"), ws_fill(77, 2, "0.6")))
    after_dup = s.frame(user_events(ws_fill(77, 1, "0.4"), ws_fill(77, 2, "0.6")))

    assert (after_answer, after_ws, after_dup) == (D("1.0"), D("1.0"), D("1.0"))
    assert s.order.state is OrderState.GONE and s.order.reason.value == "filled"


def test_engine_b3_b4_partial_immediate_fill_keeps_the_order_working() -> None:
    s = Session()

    s.answer(77, "0.6")
    assert s.engine.position == D("0.6") and s.order.state is not OrderState.GONE
    steps = [s.frame(user_fills(ws_fill(77, t, z))) for t, z in
             [(1, "0.3"), (2, "0.3"), (3, "0.2"), (4, "0.2")]]

    assert steps == [D("0.6"), D("0.6"), D("0.8"), D("1.0")]
    assert s.order.state is OrderState.GONE and s.order.reason.value == "filled"


def test_engine_websocket_fills_before_the_answer_are_not_counted_again() -> None:
    s = Session()

    early = s.frame(user_fills(ws_fill(77, 1, "0.6"), ws_fill(77, 2, "0.4")))
    events = s.answer(77, "0.6")

    assert early == D("1.0") and s.engine.position == D("1.0")
    assert events == [OrderAccepted(cloid=s.order.cloid, oid=Oid(77))]  # binds the oid
    assert s.order.oid == 77 and s.order.state is OrderState.GONE


def test_engine_snapshot_batch_never_moves_the_position() -> None:
    s = Session()
    s.answer(77, "0.6")

    replay = s.frame(user_fills(ws_fill(77, 1, "0.6"), ws_fill(5, 9, "3"), snapshot=True))
    live = s.frame(user_fills(ws_fill(77, 1, "0.6"), ws_fill(77, 2, "0.4")))

    assert replay == D("0.6") and live == D("1.0")
    assert s.codec.replayed_fills == 2


def test_engine_seeded_orderings_end_at_the_true_position() -> None:
    rng = random.Random(99)
    for _ in range(60):
        engine, codec, now = Engine(), Codec("ETH"), 0.0
        truth = D(0)
        inputs: list[tuple[str, Any]] = []
        for k in range(rng.randint(1, 4)):
            lots = [rng.randint(1, 5) for _ in range(rng.randint(1, 5))]
            size = D(sum(lots)) / 10
            truth += size
            engine.place(Side.BUY, D("100"), size, now)
            (command,) = engine.commands_to_send()
            oid = 1000 + k
            fills = [ws_fill(oid, oid * 10 + i, str(D(lot) / 10)) for i, lot in enumerate(lots)]
            immediate = rng.randint(1, len(lots))
            answer = filled_answer(oid, str(D(sum(lots[:immediate])) / 10))
            inputs.append(("answer", ([command], answer)))
            for f in fills:
                inputs.append((rng.choice(["userFills", "user", "history"]), f))
                if rng.random() < 0.5:
                    inputs.append((rng.choice(["userFills", "user", "history"]), f))
        rng.shuffle(inputs)
        for kind, item in inputs:
            now += 0.05
            if kind == "answer":
                events = [e for r in codec.place_results(*item, now) for e in r.events]
            elif kind == "history":
                events = list(codec.fill_history([item], now))
            else:
                frame = user_fills(item) if kind == "userFills" else user_events(item)
                events = codec.ws_frame(frame, now)
            for event in events:
                engine.handle(event, now)
        assert engine.position == truth, inputs
        assert codec.take_problems() == []
