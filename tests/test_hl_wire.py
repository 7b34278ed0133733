"""Hyperliquid wire shapes: exact request bodies, the reference's JSON examples
decoded (raw or already parsed), and malformed payloads named by field.
Actions are in ``test_hl_actions.py``."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from lifecycle.adapters.hyperliquid.assets import Asset, AssetKind
from lifecycle.adapters.hyperliquid.wire import (
    ExchangeAnswer,
    FrontendOpenOrdersRequest,
    FrontendOrderRow,
    MetaAnswer,
    MetaRequest,
    OpenOrderRow,
    OpenOrdersRequest,
    OrderStatusAnswer,
    OrderStatusRequest,
    PerpDexInfo,
    PerpDexsRequest,
    SpotMetaAnswer,
    SpotMetaRequest,
    StatusEntry,
    UserFillsByTimeRequest,
    UserFillsRequest,
    UserRateLimitAnswer,
    UserRateLimitRequest,
    WireError,
    WireFill,
    decode,
    decode_item,
    order_status_request,
)
from lifecycle.adapters.hyperliquid.ws_wire import WsFrame, WsOrder, WsUserEvent, WsUserFills

from lifecycle.core.commands import QueryOrderStatus
from lifecycle.core.ids import Cloid, Oid

USER = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
CLOID1 = "0x00000000000000000000000000000001"
ETH4 = Asset(name="ETH", asset_id=4, sz_decimals=4, kind=AssetKind.PERP, index=4)
ETH1 = Asset(name="ETH", asset_id=1, sz_decimals=4, kind=AssetKind.PERP, index=1)


def body(request: object) -> str:
    return msgspec.json.encode(request).decode()


# --- /info requests: the exact bodies ---------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (MetaRequest(), '{"type":"meta","dex":""}'),
        (MetaRequest(dex="xyz"), '{"type":"meta","dex":"xyz"}'),
        (SpotMetaRequest(), '{"type":"spotMeta"}'),
        (PerpDexsRequest(), '{"type":"perpDexs"}'),
        (OpenOrdersRequest(user=USER), f'{{"type":"openOrders","user":"{USER}","dex":""}}'),
        (
            OpenOrdersRequest(user=USER, dex="xyz"),
            f'{{"type":"openOrders","user":"{USER}","dex":"xyz"}}',
        ),
        (
            FrontendOpenOrdersRequest(user=USER, dex="test"),
            f'{{"type":"frontendOpenOrders","user":"{USER}","dex":"test"}}',
        ),
        (
            OrderStatusRequest(user=USER, oid=1234567890),
            f'{{"type":"orderStatus","user":"{USER}","oid":1234567890}}',
        ),
        (
            OrderStatusRequest(user=USER, oid=CLOID1),
            f'{{"type":"orderStatus","user":"{USER}","oid":"{CLOID1}"}}',
        ),
        (
            UserFillsRequest(user=USER),
            f'{{"type":"userFills","user":"{USER}","aggregateByTime":false}}',
        ),
        (
            UserFillsByTimeRequest(user=USER, start_time=1683245555699, end_time=1683245884863),
            f'{{"type":"userFillsByTime","user":"{USER}","startTime":1683245555699,'
            '"endTime":1683245884863,"aggregateByTime":false}',
        ),
        (
            UserFillsByTimeRequest(user=USER, start_time=5),
            f'{{"type":"userFillsByTime","user":"{USER}","startTime":5,"endTime":null,'
            '"aggregateByTime":false}',
        ),
        (UserRateLimitRequest(user=USER), f'{{"type":"userRateLimit","user":"{USER}"}}'),
    ],
    ids=lambda v: v if isinstance(v, str) else type(v).__name__,
)
def test_info_request_encodes_to_the_reference_body(request_: object, expected: str) -> None:
    assert body(request_) == expected


@pytest.mark.parametrize("user", ["", "0x123", "5e9ee1089755c3435139848e47e6635505d5a13a", 5, None])
def test_info_request_bad_user_raises_naming_user(user: Any) -> None:
    with pytest.raises(ValueError, match=r"OpenOrdersRequest\.user"):
        OpenOrdersRequest(user=user)


@pytest.mark.parametrize("oid", [-1, True, "0xABC", "0x" + "A" * 32])
def test_order_status_request_bad_oid_raises_naming_oid(oid: Any) -> None:
    with pytest.raises(ValueError, match="oid"):
        OrderStatusRequest(user=USER, oid=oid)


def test_user_fills_by_time_negative_start_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="start_time"):
        UserFillsByTimeRequest(user=USER, start_time=-1)


def test_order_status_request_by_cloid_when_the_query_has_one() -> None:
    by_cloid = order_status_request(USER, QueryOrderStatus(cloid=Cloid(CLOID1), oid=Oid(77)))
    by_oid = order_status_request(USER, QueryOrderStatus(cloid=None, oid=Oid(77)))

    assert by_cloid.oid == CLOID1
    assert by_oid.oid == 77
    with pytest.raises(ValueError, match="neither"):
        order_status_request(USER, QueryOrderStatus(cloid=None, oid=None))


# --- answers: the reference's JSON examples decode ----------------------------------------


def test_meta_answer_reference_example_decodes() -> None:
    raw = (
        '{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50},{"name":"HPOS","szDecimals":0,'
        '"maxLeverage":3,"onlyIsolated":true},{"name":"LOOM","szDecimals":1,"maxLeverage":3,'
        '"isDelisted":true,"marginMode":"strictIsolated","onlyIsolated":true}],"marginTables":'
        '[[50,{"description":"","marginTiers":[{"lowerBound":"0.0","maxLeverage":50}]}]]}'
    )
    meta = decode(raw, MetaAnswer, "meta")

    assert [a.name for a in meta.universe] == ["BTC", "HPOS", "LOOM"]
    assert meta.universe[0].sz_decimals == 5
    assert meta.universe[2].is_delisted and meta.universe[2].margin_mode == "strictIsolated"


def test_perp_dexs_answer_reference_example_decodes() -> None:
    raw = (
        '[null, {"name":"test","fullName":"test dex","deployer":"0x5e89b26d8d66da9888c835c9bfcc2aa'
        '51813e152","oracleUpdater":null,"feeRecipient":null,"assetToStreamingOiCap":[["COIN1",'
        '"100000.0"]],"assetToFundingMultiplier":[["COIN1","1.0"]]}]'
    )
    dexs = decode(raw, list[PerpDexInfo | None], "perpDexs")

    assert dexs[0] is None
    assert dexs[1] is not None and dexs[1].name == "test" and dexs[1].full_name == "test dex"


def test_spot_meta_answer_reference_example_decodes() -> None:
    raw = (
        '{"universe":[{"tokens":[1,0],"name":"PURR/USDC","index":0,"isCanonical":true}],"tokens":'
        '[{"name":"USDC","szDecimals":8,"weiDecimals":8,"index":0,"tokenId":"0x6d1e7cde53ba9467b7'
        '83cb7c530ce054","isCanonical":true,"evmContract":null,"fullName":null},{"name":"PURR",'
        '"szDecimals":0,"weiDecimals":5,"index":1,"tokenId":"0xc1fb593aeffbeb02f85e0308e9956a90",'
        '"isCanonical":true,"evmContract":null,"fullName":null}]}'
    )
    spot = decode(raw, SpotMetaAnswer, "spotMeta")

    assert spot.universe[0].tokens == [1, 0] and spot.universe[0].name == "PURR/USDC"
    assert spot.tokens[0].name == "USDC" and spot.tokens[0].sz_decimals == 8


def test_open_orders_row_py_cassette_sample_decodes() -> None:
    raw = (
        '{"coin":"MATIC","limitPx":"1.0357","oid":62269971,"side":"B","sz":"208.7",'
        '"timestamp":1679940217356}'
    )
    row = decode(raw, OpenOrderRow, "openOrders")

    assert row.limit_px == Decimal("1.0357") and row.sz == Decimal("208.7")
    assert row.oid == 62269971 and row.side == "B" and row.cloid is None


FRONTEND_CHILD = (
    '{"children":[],"coin":"INJ","isPositionTpsl":false,"isTrigger":true,"limitPx":"9.2037",'
    '"oid":3184595907,"orderType":"Take Profit Market","origSz":"12.5","reduceOnly":true,'
    '"side":"A","sz":"12.5","tif":null,"timestamp":1700126022555,'
    '"triggerCondition":"Price above 10.004","triggerPx":"10.004"}'
)


def test_frontend_open_orders_cassette_rows_decode() -> None:
    parent = (
        '{"children":[' + FRONTEND_CHILD + '],"coin":"INJ","isPositionTpsl":false,'
        '"isTrigger":false,"limitPx":"10.0","oid":3184595905,"orderType":"Limit","origSz":"12.5","reduceOnly":false,'
        '"side":"B","sz":"12.5","tif":"Gtc","timestamp":1700126022555,"triggerCondition":"N/A",'
        '"triggerPx":"0.0"}'
    )
    rows = decode("[" + parent + "," + FRONTEND_CHILD + "]", list[FrontendOrderRow], "frontend")

    assert rows[0].tif == "Gtc" and rows[0].order_type == "Limit" and not rows[0].is_trigger
    assert rows[1].tif is None and rows[1].is_trigger and rows[1].trigger_px == Decimal("10.004")
    assert rows[1].reduce_only


def test_order_status_answers_reference_examples_decode() -> None:
    found = (
        '{"status":"order","order":{"order":{"coin":"ETH","side":"A","limitPx":"2412.7","sz":"0.0",'
        '"oid":1,"timestamp":1724361546645,"triggerCondition":"N/A","isTrigger":false,'
        '"triggerPx":"0.0","children":[],"isPositionTpsl":false,"reduceOnly":true,'
        '"orderType":"Market","origSz":"0.0076","tif":"FrontendMarket","cloid":null},'
        '"status":"filled","statusTimestamp":1724361546645}}'
    )
    answer = decode(found, OrderStatusAnswer, "orderStatus")
    missing = decode('{"status":"unknownOid"}', OrderStatusAnswer, "orderStatus")

    assert answer.order is not None and answer.order.status == "filled"
    assert answer.order.order.orig_sz == Decimal("0.0076")
    assert missing.status == "unknownOid" and missing.order is None


PERP_FILL = (
    '{"closedPnl":"0.0","coin":"AVAX","crossed":false,"dir":"Open Long","hash":"0xa166e3fa63c2566'
    '3024b03f2e0da011a00307e4017465df020210d3d432e7cb8","oid":90542681,"px":"18.435","side":"B",'
    '"startPosition":"26.86","sz":"93.53","time":1681222254710,"fee":"0.01","feeToken":"USDC",'
    '"builderFee":"0.01","tid":118906512037719}'
)
SPOT_FILL = (
    '{"coin":"@107","px":"18.62041381","sz":"43.84","side":"A","time":1735969713869,'
    '"startPosition":"10659.65434798","dir":"Sell","closedPnl":"8722.988077","hash":"0x2222138cc5'
    '16e3fe746c0411dd733f02e60086f43205af2ae37c93f6a792430b","oid":59071663721,"crossed":true,'
    '"fee":"0.304521","tid":907359904431134,"feeToken":"USDC"}'
)


def test_fill_reference_examples_decode() -> None:
    perp = decode(PERP_FILL, WireFill, "fill")
    spot = decode(SPOT_FILL, WireFill, "fill")

    assert (perp.coin, perp.px, perp.sz, perp.side, perp.tid) == (
        "AVAX", Decimal("18.435"), Decimal("93.53"), "B", 118906512037719,
    )
    assert perp.builder_fee == Decimal("0.01") and perp.dir == "Open Long"
    assert spot.crossed and spot.builder_fee is None and spot.start_position == Decimal(
        "10659.65434798"
    )


@pytest.mark.parametrize(
    ("raw", "surplus"),
    [
        ('{"cumVlm":"2854574.593578","nRequestsUsed":2890,"nRequestsCap":2864574,'
         '"nRequestsSurplus":0}', 0),
        ('{"cumVlm":"170043721737.450012207","nRequestsUsed":36589831368,'
         '"nRequestsCap":170043731737}', 0),
    ],
)
def test_user_rate_limit_answers_decode(raw: str, surplus: int) -> None:
    limit = decode(raw, UserRateLimitAnswer, "userRateLimit")

    assert limit.n_requests_surplus == surplus and limit.n_requests_cap > limit.n_requests_used


@pytest.mark.parametrize(
    "raw",
    [
        '{"status":"ok","response":{"type":"order","data":{"statuses":[{"resting":{"oid":77738308}}]}}}',
        '{"status":"ok","response":{"type":"order","data":{"statuses":[{"filled":{"totalSz":"0.1",'
        '"avgPx":"100.84","oid":6195281425}}]}}}',
        '{"status":"ok","response":{"type":"order","data":{"statuses":[{"error":"Order must have '
        'minimum value of $10."}]}}}',
        '{"status":"ok","response":{"type":"cancel","data":{"statuses":["success",{"error":"Order '
        'was never placed, already canceled, or filled."}]}}}',
        '{"status":"err","response":"Too many cumulative requests sent (97460 > 97456)"}',
        '{"status":"ok","response":{"type":"default"}}',
    ],
)
def test_exchange_answers_reference_examples_decode(raw: str) -> None:
    answer = decode(raw, ExchangeAnswer, "exchange")
    parsed = decode(json.loads(raw), ExchangeAnswer, "exchange")

    assert answer == parsed
    assert answer.status in ("ok", "err")


def test_batch_status_entries_decode_objects_and_bare_words() -> None:
    shape: Any = str | StatusEntry

    word = decode_item("waitingForFill", shape, "$[0]", "order")
    resting = decode_item({"resting": {"oid": 5, "cloid": CLOID1}}, shape, "$[1]", "order")
    error = decode_item({"error": "x"}, shape, "$[2]", "order")

    assert word == "waitingForFill"
    assert resting.resting.oid == 5 and resting.resting.cloid == CLOID1 and resting.error is None
    assert error.error == "x" and error.resting is None and error.filled is None


def test_ws_frames_reference_examples_decode() -> None:
    updates = WsFrame(channel="orderUpdates", data=[
        {"order": {"coin": "ETH", "side": "B", "limitPx": "100", "sz": "1", "oid": 7,
                   "timestamp": 1, "origSz": "1", "cloid": CLOID1},
         "status": "open", "statusTimestamp": 2},
    ])
    fills = decode(
        '{"channel":"userFills","data":{"isSnapshot":true,"user":"' + USER + '","fills":['
        + PERP_FILL + "]}}", WsFrame, "frame",
    )
    user = decode('{"nonUserCancel":[{"coin":"ETH","oid":5}]}', WsUserEvent, "user")

    order = decode(updates.data[0], WsOrder, "orderUpdates")
    assert order.order.cloid == CLOID1 and order.status == "open"
    assert decode(fills.data, WsUserFills, "userFills").is_snapshot
    assert user.non_user_cancel == [{"coin": "ETH", "oid": 5}] and user.about_orders


# --- malformed payloads: a clear error naming the field -------------------------------------


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ('{"status":"ok","response":{"type":"order","data":{"statuses":5}}}',
         "$.response.data.statuses"),
        ('{"status":5}', "$.status"),
        ('{"status":"ok","response":7}', "$.response"),
    ],
)
def test_malformed_exchange_answer_raises_naming_the_field(raw: str, where: str) -> None:
    with pytest.raises(WireError, match=rf"^exchange: .*`{re.escape(where)}`"):
        decode(raw, ExchangeAnswer, "exchange")


@pytest.mark.parametrize(
    ("fill", "where"),
    [
        ({**json.loads(PERP_FILL), "oid": "90542681"}, "$.fills[3].oid"),
        ({**json.loads(PERP_FILL), "px": "eighteen"}, "$.fills[3].px"),
        ({**json.loads(PERP_FILL), "side": "S"}, "$.fills[3].side"),
        ({**json.loads(PERP_FILL), "tid": -1}, "$.fills[3].tid"),
        ({k: v for k, v in json.loads(PERP_FILL).items() if k != "sz"}, "$.fills[3]"),
        ("not a fill", "$.fills[3]"),
    ],
)
def test_malformed_item_error_names_the_path_from_the_root(fill: Any, where: str) -> None:
    with pytest.raises(WireError) as caught:
        decode_item(fill, WireFill, "$.fills[3]", "userFills")

    assert f"`{where}`" in str(caught.value) and str(caught.value).startswith("userFills: ")


def test_not_json_is_a_wire_error_not_a_crash() -> None:
    for raw in ("{", b"\xff\xfe", "", "[1,"):
        with pytest.raises(WireError, match=r"^meta: "):
            decode(raw, MetaAnswer, "meta")
