"""The Hyperliquid codec, info answers: orderStatus for every status word of the
reference (unknown words are problems), open-orders snapshots, fill lists (dust
conversions kept apart) and userRateLimit; unreadable answers raise the runtime's
``...Unavailable`` errors, never anything else."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from lifecycle.adapters.hyperliquid.codec import Codec
from lifecycle.adapters.hyperliquid.problems import ProblemKind
from lifecycle.adapters.hyperliquid.statuses import ORDER_STATUSES, Fact, classify_status

from lifecycle.core.commands import QueryOrderStatus
from lifecycle.core.events import OrderStatusReport, StatusOutcome
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.runtime.adapter import (
    FillsUnavailable,
    HeadroomUnavailable,
    SnapshotUnavailable,
)

D = Decimal
C1 = Cloid(f"0x{1:032x}")


def kinds(codec: Codec) -> list[ProblemKind]:
    return [p.kind for p in codec.take_problems()]


# --- orderStatus: every status word of the reference --------------------------------------


def status_answer(word: str, *, oid: int = 1, cloid: str | None = None) -> dict[str, Any]:
    return {"status": "order", "order": {"order": {
        "coin": "ETH", "side": "A", "limitPx": "2412.7", "sz": "0.0", "oid": oid,
        "timestamp": 1724361546645, "triggerCondition": "N/A", "isTrigger": False,
        "triggerPx": "0.0", "children": [], "isPositionTpsl": False, "reduceOnly": True,
        "orderType": "Market", "origSz": "0.0076", "tif": "FrontendMarket", "cloid": cloid},
        "status": word, "statusTimestamp": 1724361546645}}


EXPECTED_OUTCOME = {
    Fact.OPEN: StatusOutcome.OPEN, Fact.FILLED: StatusOutcome.FILLED,
    Fact.CANCELED: StatusOutcome.CANCELED, Fact.EXCHANGE_CANCELED: StatusOutcome.CANCELED,
    Fact.REJECTED: StatusOutcome.REJECTED,
}


@pytest.mark.parametrize("word", sorted(ORDER_STATUSES))
def test_order_status_every_word_of_the_reference_is_a_report(word: str) -> None:
    codec = Codec("ETH")
    query = QueryOrderStatus(cloid=None, oid=Oid(1))

    result = codec.order_status_result(query, status_answer(word))

    assert result.events == (OrderStatusReport(
        cloid=None, oid=Oid(1), outcome=EXPECTED_OUTCOME[ORDER_STATUSES[word]], status=word),)
    assert codec.take_problems() == []


def test_the_reference_table_is_complete() -> None:
    words = {
        "open", "filled", "canceled", "triggered", "rejected", "marginCanceled",
        "vaultWithdrawalCanceled", "openInterestCapCanceled", "selfTradeCanceled",
        "reduceOnlyCanceled", "siblingFilledCanceled", "delistedCanceled", "liquidatedCanceled",
        "scheduledCancel", "tickRejected", "minTradeNtlRejected", "perpMarginRejected",
        "reduceOnlyRejected", "badAloPxRejected", "iocCancelRejected", "badTriggerPxRejected",
        "marketOrderNoLiquidityRejected", "positionIncreaseAtOpenInterestCapRejected",
        "positionFlipAtOpenInterestCapRejected", "tooAggressiveAtOpenInterestCapRejected",
        "openInterestIncreaseRejected", "insufficientSpotBalanceRejected", "oracleRejected",
        "perpMaxPositionRejected", "outcomeSettledCanceled", "internalCancel",
        "tooManyOpenOrdersRejected", "minTradeSpotNtlRejected",
    }
    assert set(ORDER_STATUSES) == words
    assert {w for w, f in ORDER_STATUSES.items() if f is Fact.CANCELED} == {"canceled"}


def test_order_status_unknown_oid_is_not_found() -> None:
    query = QueryOrderStatus(cloid=C1, oid=Oid(5))

    result = Codec("ETH").order_status_result(query, b'{"status":"unknownOid"}')

    assert result.events == (OrderStatusReport(cloid=C1, oid=Oid(5),
                                               outcome=StatusOutcome.NOT_FOUND,
                                               status="unknownOid"),)


def test_order_status_by_cloid_reports_the_answer_oid_a_modify_gave() -> None:
    query = QueryOrderStatus(cloid=C1, oid=Oid(5))

    result = Codec("ETH").order_status_result(query, status_answer("open", oid=9,
                                                                   cloid=str(C1).upper()))

    assert result.events == (OrderStatusReport(cloid=C1, oid=Oid(9), outcome=StatusOutcome.OPEN,
                                               status="open"),)


@pytest.mark.parametrize(
    ("word", "outcome"),
    [("fancyNewCanceled", StatusOutcome.CANCELED), ("fancyNewRejected", StatusOutcome.REJECTED)],
)
def test_an_unknown_word_with_a_known_ending_reports_and_is_a_problem(
    word: str, outcome: StatusOutcome
) -> None:
    codec = Codec("ETH")

    result = codec.order_status_result(QueryOrderStatus(cloid=None, oid=Oid(1)),
                                       status_answer(word))

    (report,) = result.events
    assert isinstance(report, OrderStatusReport) and report.outcome is outcome
    problems = codec.take_problems()
    assert [p.kind for p in problems] == [ProblemKind.UNKNOWN_STATUS] and word in problems[0].detail
    assert classify_status(word) == (Fact.EXCHANGE_CANCELED if "Canc" in word else Fact.REJECTED,
                                     False)


@pytest.mark.parametrize(
    ("answer", "query"),
    [
        (status_answer("paused"), QueryOrderStatus(cloid=None, oid=Oid(1))),
        ({"status": "order"}, QueryOrderStatus(cloid=None, oid=Oid(1))),
        ({"status": "weird"}, QueryOrderStatus(cloid=None, oid=Oid(1))),
        ("nope", QueryOrderStatus(cloid=None, oid=Oid(1))),
        ({"status": 3}, QueryOrderStatus(cloid=None, oid=Oid(1))),
        (status_answer("open", oid=2), QueryOrderStatus(cloid=None, oid=Oid(1))),
        (status_answer("open", cloid="0x" + "f" * 32), QueryOrderStatus(cloid=C1, oid=None)),
    ],
)
def test_an_order_status_that_says_nothing_usable_is_ambiguous_and_a_problem(
    answer: Any, query: QueryOrderStatus
) -> None:
    codec = Codec("ETH")

    result = codec.order_status_result(query, answer)

    assert result.ambiguous and result.events == ()
    assert len(codec.take_problems()) == 1


# --- snapshots, fill lists, headroom ---------------------------------------------------------


def test_open_orders_snapshot_keeps_every_readable_row_a_bad_cloid_read_as_none() -> None:
    codec = Codec("ETH")
    rows = [
        {"coin": "MATIC", "limitPx": "1.0357", "oid": 62269971, "side": "B", "sz": "208.7",
         "timestamp": 1679940217356},
        {"coin": "xyz:AB*C", "limitPx": "2", "oid": 5, "side": "A", "sz": "1", "timestamp": 1,
         "cloid": str(C1).upper(), "origSz": "2", "reduceOnly": True},
        {"coin": "ETH", "limitPx": "oops", "oid": 6, "side": "A", "sz": "1", "timestamp": 1},
        {"coin": "ETH", "limitPx": "1", "oid": 7, "side": "A", "sz": "1", "timestamp": 1,
         "cloid": "not-a-cloid"},
    ]

    snapshot = codec.open_orders_snapshot(json.dumps(rows), taken_at=12.5)

    assert snapshot.taken_at == 12.5 and [r.oid for r in snapshot.orders] == [62269971, 5, 7]
    first, second, third = snapshot.orders
    assert first.side is Side.BUY and first.price == D("1.0357") and first.size == D("208.7")
    assert second.cloid == C1 and second.coin == "xyz:AB*C" and second.side is Side.SELL
    problems = codec.take_problems()
    assert [p.kind for p in problems] == [ProblemKind.MALFORMED] * 2
    assert "$[2].limitPx" in problems[0].detail
    assert third.cloid is None and "'not-a-cloid' is no cloid" in problems[1].detail


@pytest.mark.parametrize("answer", [{"a": 1}, "garbage", b"[", 5])
def test_an_unreadable_snapshot_raises_snapshot_unavailable(answer: Any) -> None:
    with pytest.raises(SnapshotUnavailable, match="openOrders"):
        Codec("ETH").open_orders_snapshot(answer, 0)


def test_fill_history_oldest_first_other_coins_skipped_bad_fills_dropped() -> None:
    codec = Codec("AVAX")
    base = {"coin": "AVAX", "px": "18.435", "sz": "93.53", "side": "B", "time": 5,
            "startPosition": "26.86", "dir": "Open Long", "closedPnl": "0.0", "hash": "0xa1",
            "oid": 90542681, "crossed": False, "fee": "0.01", "feeToken": "USDC", "tid": 2}
    answer = [base, {**base, "tid": 1, "time": 3}, {**base, "coin": "ETH", "tid": 3},
              {**base, "tid": 4, "sz": "0"}, {**base, "tid": "x"}]

    fills = codec.fill_history(answer, 0)

    assert [f.tid for f in fills] == [1, 2] and codec.other_coin == 1
    assert fills[0].side is Side.BUY and fills[0].price == D("18.435") and fills[0].fill_ref == ""
    assert kinds(codec) == [ProblemKind.MALFORMED] * 2


def test_dust_conversion_fills_with_trade_id_zero_stay_apart() -> None:
    dust = {"coin": "@107", "px": "18.62", "sz": "0.01", "side": "A", "time": 1735969713869,
            "startPosition": "10659.65", "dir": "Spot Dust Conversion", "closedPnl": "0",
            "hash": "0x" + "0" * 64, "oid": 5, "crossed": True, "fee": "0", "tid": 0,
            "feeToken": "USDC"}
    other = {**dust, "sz": "0.02", "startPosition": "10659.66"}

    fills = Codec("@107").fill_history([dust, other, dust], 0)

    assert [f.size for f in fills] == [D("0.01"), D("0.02")]  # the repeat is recognised
    assert fills[0].fill_ref == "@107/1735969713869/18.62/0.01/10659.65"
    assert fills[0].identity != fills[1].identity


@pytest.mark.parametrize("answer", [{"fills": []}, "x", 3])
def test_an_unreadable_fill_list_raises_fills_unavailable(answer: Any) -> None:
    with pytest.raises(FillsUnavailable, match="userFills"):
        Codec("ETH").fill_history(answer, 0)


def test_headroom_reads_user_rate_limit() -> None:
    codec = Codec("ETH")
    docs = codec.headroom(b'{"cumVlm":"2854574.593578","nRequestsUsed":2890,'
                          b'"nRequestsCap":2864574,"nRequestsSurplus":0}')
    cassette = codec.headroom({"cumVlm": "170043721737.450012207",
                               "nRequestsUsed": 36589831368, "nRequestsCap": 170043731737})

    assert (docs.used, docs.cap, docs.surplus) == (2890, 2864574, 0)
    assert docs.cum_volume == D("2854574.593578")
    assert cassette.used == 36589831368 and cassette.fraction < 1
    with pytest.raises(HeadroomUnavailable, match=r"userRateLimit: .*nRequestsUsed"):
        codec.headroom({"cumVlm": "1", "nRequestsUsed": -1, "nRequestsCap": 5})
