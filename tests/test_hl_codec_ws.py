"""The Hyperliquid codec, websocket messages: orderUpdates for every status word,
userFills (the ``isSnapshot`` batch dropped), userEvents fills counted once with
userFills, nonUserCancel, other coins skipped, and malformed frames as problems,
never exceptions (a seeded fuzz included)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

import pytest
from lifecycle.adapters.hyperliquid.codec import Codec
from lifecycle.adapters.hyperliquid.problems import ProblemKind
from lifecycle.adapters.hyperliquid.statuses import ORDER_STATUSES, Fact

from lifecycle.core.commands import PlaceOrder, QueryOrderStatus
from lifecycle.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
)
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.runtime.adapter import (
    FillsUnavailable,
    HeadroomUnavailable,
    SnapshotUnavailable,
)

D = Decimal
C1 = Cloid("0x" + "0" * 31 + "1")


def update(word: str, *, oid: int = 7, coin: str = "ETH", cloid: str | None = str(C1)) -> dict[
    str, Any
]:
    order: dict[str, Any] = {"coin": coin, "side": "B", "limitPx": "100", "sz": "1", "oid": oid,
                             "timestamp": 1, "origSz": "1"}
    if cloid is not None:
        order["cloid"] = cloid
    return {"order": order, "status": word, "statusTimestamp": 2}


def frame(channel: str, data: Any) -> str:
    return json.dumps({"channel": channel, "data": data})


def wire_fill(oid: int, tid: int, size: str = "0.5", coin: str = "ETH") -> dict[str, Any]:
    return {"coin": coin, "px": "100", "sz": size, "side": "A", "time": 1 + tid,
            "startPosition": "0", "dir": "Close Long", "closedPnl": "0", "hash": "0x" + "2" * 64,
            "oid": oid, "crossed": False, "fee": "0", "tid": tid, "feeToken": "USDC"}


EVENT_OF = {
    Fact.OPEN: OrderAccepted, Fact.CANCELED: OrderCanceled,
    Fact.EXCHANGE_CANCELED: OrderCanceled, Fact.REJECTED: OrderRejected,
}


NOT_FILLED = sorted(w for w, f in ORDER_STATUSES.items() if f is not Fact.FILLED)


@pytest.mark.parametrize("word", NOT_FILLED)
def test_order_updates_every_status_word_is_its_event(word: str) -> None:
    codec = Codec("ETH")

    (event,) = codec.ws_frame(frame("orderUpdates", [update(word)]), 0)

    fact = ORDER_STATUSES[word]
    assert type(event) is EVENT_OF[fact] and event.oid == 7 and event.cloid == C1
    if isinstance(event, OrderCanceled):
        assert event.status == word
        assert event.exchange_initiated is (fact is Fact.EXCHANGE_CANCELED)
    if isinstance(event, OrderRejected):
        assert event.status == word
    assert codec.take_problems() == []


def test_order_updates_filled_gives_no_event_the_fills_do() -> None:
    codec = Codec("ETH")

    assert codec.ws_frame(frame("orderUpdates", [update("filled")]), 0) == []
    assert codec.take_problems() == []


def test_order_updates_modify_legs_in_either_order() -> None:
    codec = Codec("ETH")

    events = codec.ws_frame(frame("orderUpdates", [update("canceled", oid=1),
                                                   update("open", oid=2)]), 0)

    assert events == [OrderCanceled(cloid=C1, oid=Oid(1), status="canceled"),
                      OrderAccepted(cloid=C1, oid=Oid(2))]


def test_order_updates_unknown_words_are_problems_never_crashes() -> None:
    codec = Codec("ETH")

    events = codec.ws_frame(frame("orderUpdates", [
        update("brandNewCanceled"), update("brandNewRejected", oid=8), update("hibernating", oid=9),
    ]), 0)

    assert [type(e) for e in events] == [OrderCanceled, OrderRejected]
    assert isinstance(events[0], OrderCanceled) and events[0].exchange_initiated
    problems = codec.take_problems()
    assert [p.kind for p in problems] == [ProblemKind.UNKNOWN_STATUS] * 3
    assert "no fact" in problems[2].detail and problems[2].order_id == str(C1)


def test_order_updates_of_other_coins_and_bad_items_are_skipped() -> None:
    codec = Codec("xyz:AB*C")
    items = [update("open", coin="xyz:AB?C"), update("open", coin="xyz:AB*C", cloid=None),
             {"order": {"coin": "xyz:AB*C"}, "status": "open"}, "junk",
             update("open", coin="xyz:AB*C", cloid="0xnot")]

    events = codec.ws_frame(frame("orderUpdates", items), 0)

    # A cloid that is no cloid is read as none: the update still counts.
    assert events == [OrderAccepted(cloid=None, oid=Oid(7))] * 2
    assert codec.other_coin == 1
    problems = codec.take_problems()
    assert [p.kind for p in problems] == [ProblemKind.MALFORMED] * 3
    assert "$[2].order" in problems[0].detail and "$[3]" in problems[1].detail
    assert "'0xnot' is no cloid" in problems[2].detail


def test_user_fills_streaming_fills_are_events() -> None:
    codec = Codec("ETH")

    events = codec.ws_frame(frame("userFills", {"isSnapshot": False, "user": "0x" + "1" * 40,
                                                "fills": [wire_fill(7, 1), wire_fill(7, 2)]}), 0)
    no_flag = codec.ws_frame(frame("userFills", {"fills": [wire_fill(7, 3)]}), 0)

    assert [e.tid for e in events if isinstance(e, OrderFilled)] == [1, 2]
    assert len(no_flag) == 1 and codec.replayed_fills == 0


def test_a_fill_with_a_cloid_that_is_no_cloid_still_counts() -> None:
    codec = Codec("ETH")

    (event,) = codec.ws_frame(frame("userFills", {"fills": [wire_fill(7, 1) | {"cloid": "x"}]}), 0)
    (problem,) = codec.take_problems()

    assert isinstance(event, OrderFilled) and event.cloid is None and event.size == D("0.5")
    assert problem.kind is ProblemKind.MALFORMED and problem.order_id == "oid:7"


def test_user_fills_snapshot_batch_is_dropped_and_counted() -> None:
    codec = Codec("ETH")

    replay = codec.ws_frame(frame("userFills", {"isSnapshot": True,
                                                "fills": [wire_fill(7, 1), wire_fill(7, 2)]}), 0)
    live = codec.ws_frame(frame("userFills", {"isSnapshot": False, "fills": [wire_fill(7, 1)]}), 1)

    assert replay == [] and codec.replayed_fills == 2
    assert len(live) == 1  # not marked seen by the replay: the live fill still counts


def test_user_events_fills_are_counted_once_with_user_fills() -> None:
    codec = Codec("ETH")

    first = codec.ws_frame(frame("userFills", {"fills": [wire_fill(7, 1)]}), 0)
    copy = codec.ws_frame(frame("user", {"fills": [wire_fill(7, 1), wire_fill(7, 2)]}), 1)
    history = codec.fill_history([wire_fill(7, 2), wire_fill(7, 3)], 2)

    assert [e.tid for e in first] == [1]  # type: ignore[union-attr]
    assert [e.tid for e in copy] == [2]  # type: ignore[union-attr]
    assert [e.tid for e in history] == [3]
    assert codec.credits.repeats == 2


def test_user_events_non_user_cancel_is_an_exchange_cancel() -> None:
    codec = Codec("ETH")

    events = codec.ws_frame(frame("user", {"nonUserCancel": [{"coin": "ETH", "oid": 5},
                                                             {"coin": "BTC", "oid": 6}]}), 0)

    assert events == [OrderCanceled(oid=Oid(5), status="nonUserCancel", exchange_initiated=True)]
    assert codec.other_coin == 1


@pytest.mark.parametrize(
    "data",
    [{"funding": {"time": 1, "coin": "ETH", "usdc": "1", "szi": "1", "fundingRate": "0",
                  "nSamples": 1}},
     {"liquidation": {"lid": 1}}, {"twapHistory": []}, {"twapSliceFills": []}],
)
def test_user_events_without_orders_give_nothing_quietly(data: dict[str, Any]) -> None:
    codec = Codec("ETH")

    assert codec.ws_frame(frame("user", data), 0) == []
    assert codec.take_problems() == []


def test_an_unknown_user_event_and_an_error_frame_are_problems() -> None:
    codec = Codec("ETH")

    assert codec.ws_frame(frame("user", {"somethingNew": 1}), 0) == []
    assert codec.ws_frame(frame("error", "Invalid subscription {\"type\":\"x\"}"), 0) == []
    problems = codec.take_problems()
    assert [p.kind for p in problems] == [ProblemKind.UNEXPECTED] * 2
    assert "Invalid subscription" in problems[1].detail


@pytest.mark.parametrize(
    "raw",
    ["Websocket connection established.", "", frame("pong", None),
     frame("subscriptionResponse", {"method": "subscribe"}), frame("l2Book", {"coin": "ETH"}),
     frame("post", {"id": 1, "response": {}}), b"\x00\x01"],
)
def test_frames_about_nothing_give_nothing_quietly(raw: str | bytes) -> None:
    codec = Codec("ETH")

    assert codec.ws_frame(raw, 0) == []
    assert codec.take_problems() == []


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ("{not json", "websocket frame"),
        ('{"data": []}', "channel"),
        (frame("orderUpdates", {"not": "a list"}), "orderUpdates"),
        (frame("userFills", [1]), "userFills"),
        (frame("userFills", {"fills": [wire_fill(7, 1) | {"sz": [1]}]}), "$.fills[0].sz"),
        (frame("user", {"fills": "x"}), "userEvents"),
    ],
)
def test_malformed_frames_are_problems_naming_where(raw: str, where: str) -> None:
    codec = Codec("ETH")

    assert codec.ws_frame(raw, 0) == []
    (problem,) = codec.take_problems()
    assert problem.kind is ProblemKind.MALFORMED and where in problem.detail


def test_ws_events_takes_a_transport_split_payload_raw_or_parsed() -> None:
    data = [update("open")]

    raw = Codec("ETH").ws_events("orderUpdates", json.dumps(data).encode(), 0)
    parsed = Codec("ETH").ws_events("orderUpdates", data, 0)

    assert raw == parsed == [OrderAccepted(cloid=C1, oid=Oid(7))]


def _mutate(rng: random.Random, value: Any) -> Any:
    """A copy of ``value`` with one random node replaced, dropped or retyped."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        out = dict(value)
        if rng.random() < 0.2:
            del out[key]
        else:
            out[key] = _mutate(rng, value[key])
        return out
    if isinstance(value, list) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        return [*value[:i], _mutate(rng, value[i]), *value[i + 1:]]
    return rng.choice([None, True, -1, 0, 2**70, 1.5, "", "x", "NaN", "-1", "1e999", [], {},
                       "é≥", "0x" + "f" * 32])


def test_seeded_fuzz_of_every_entry_point_never_raises_unexpectedly() -> None:
    rng = random.Random(31337)
    codec = Codec("ETH")
    samples = [
        ("ws", {"channel": "orderUpdates", "data": [update("open"), update("marginCanceled")]}),
        ("ws", {"channel": "userFills", "data": {"isSnapshot": False,
                                                  "fills": [wire_fill(7, 1), wire_fill(7, 0)]}}),
        ("ws", {"channel": "user", "data": {"fills": [wire_fill(7, 2)],
                                             "nonUserCancel": [{"coin": "ETH", "oid": 1}]}}),
        ("order", {"status": "ok", "response": {"type": "order", "data": {"statuses": [
            {"resting": {"oid": 1}}, {"filled": {"totalSz": "1", "avgPx": "2", "oid": 2}},
            {"error": "Tick"}]}}}),
        ("status", {"status": "order", "order": {"order": update("open")["order"],
                                                  "status": "open", "statusTimestamp": 1}}),
        ("fills", [wire_fill(7, 5)]),
        ("snapshot", [{"coin": "ETH", "limitPx": "1", "oid": 1, "side": "A", "sz": "1",
                       "timestamp": 1}]),
        ("headroom", {"cumVlm": "1", "nRequestsUsed": 1, "nRequestsCap": 2}),
    ]
    cmds = [PlaceOrder(cloid=Cloid(f"0x{i:032x}"), side=Side.BUY, price=D(1), size=D(1))
            for i in range(1, 4)]
    for step in range(3000):
        kind, sample = rng.choice(samples)
        payload = sample
        for _ in range(rng.randint(1, 3)):
            payload = _mutate(rng, payload)
        now = float(step)
        try:
            if kind == "ws":
                codec.ws_frame(json.dumps(payload), now)
            elif kind == "order":
                results = codec.place_results(cmds, payload, now)
                assert len(results) == 3
            elif kind == "status":
                codec.order_status_result(QueryOrderStatus(cloid=None, oid=Oid(1)), payload)
            elif kind == "fills":
                codec.fill_history(payload, now)
            elif kind == "snapshot":
                codec.open_orders_snapshot(payload, now)
            else:
                codec.headroom(payload)
        except (FillsUnavailable, SnapshotUnavailable, HeadroomUnavailable):
            pass  # the documented refusals of an unreadable info answer
    problems = codec.take_problems()
    assert problems and all(p.detail.isascii() for p in problems)
