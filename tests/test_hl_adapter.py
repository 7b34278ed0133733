"""The Hyperliquid adapter over ``httpx.MockTransport`` and a fake websocket, on the virtual clock.

Each test scripts the exchange's answers and checks what the adapter sent (the
action, the query) and what it handed the runtime (results, events, anomalies).
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from lifecycle.adapters.hyperliquid.adapter import DRY_RUN_ERROR, HyperliquidAdapter
from lifecycle.adapters.hyperliquid.adapter_credits import credits_from_engine
from lifecycle.adapters.hyperliquid.assets import Asset, AssetKind
from lifecycle.adapters.hyperliquid.rest import L1ActionSigner, RestClient
from lifecycle.adapters.hyperliquid.signing import Signer
from lifecycle.adapters.hyperliquid.ws import Reconnected, WsItem, WsMessage

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    OrderStatusReport,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Side
from lifecycle.engine.facade import Engine
from lifecycle.journal import Journal, JournaledEngine
from lifecycle.runtime import AdapterAnomaly, AnomalySource, Runtime, run_virtual, sleep
from lifecycle.runtime.adapter import anomaly_drain

BASE = "http://127.0.0.1:1"
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
USER = "0x14791697260e4c9a71f18484c9f997b308e59325"
BTC = Asset(name="BTC", asset_id=0, sz_decimals=5, kind=AssetKind.PERP, index=0)
TSLA = Asset(name="xyz:TSLA", asset_id=110_000, sz_decimals=3, kind=AssetKind.PERP,
             dex="xyz", dex_index=1, index=0)
TOO_MANY = "Too many cumulative requests sent (97460 > 97456) for cumulative volume traded $8."
CLOIDS = CloidFactory("test", run_id=1)
C1, C2, C3 = CLOIDS.next(), CLOIDS.next(), CLOIDS.next()


class Then(list[Any]):
    """Replies given in turn (the last one repeats), where a bare value is the one reply."""


class Exchange:
    """A scripted exchange: each path answers with its next reply (the last one repeats)."""

    def __init__(self, **replies: Any) -> None:
        self.replies = {p: list(r) if isinstance(r, Then) else [r] for p, r in replies.items()}
        self.sent: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.strip("/")
        self.sent.append((path, json.loads(request.content)))
        queue = self.replies[path]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        return reply if isinstance(reply, httpx.Response) else httpx.Response(200, json=reply)

    def bodies(self, path: str) -> list[Any]:
        return [body for p, body in self.sent if p == path]


def ok(kind: str, *statuses: Any) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": list(statuses)}}}


def adapter_for(
    exchange: Exchange, *, asset: Asset = BTC, stream: Sequence[WsItem] = (), **options: Any
) -> HyperliquidAdapter:
    client = httpx.AsyncClient(transport=httpx.MockTransport(exchange))
    rest = RestClient(client, BASE, rng=random.Random(1), info_attempts=2)
    sign = L1ActionSigner(Signer(KEY), is_mainnet=False)

    async def items() -> AsyncIterator[WsItem]:
        for item in stream:
            yield item

    return HyperliquidAdapter(rest, sign, asset, USER, stream=items(), **options)


def virtual(main: Callable[[], Awaitable[Any]]) -> Any:
    return run_virtual(main, start=1_700_000_000.0)[0]


def place(cloid: Cloid, side: Side = Side.BUY, price: str = "97000", size: str = "0.001"
          ) -> PlaceOrder:
    return PlaceOrder(cloid=cloid, side=side, price=Decimal(price), size=Decimal(size))


def message(channel: str, data: Any) -> WsMessage:
    return WsMessage(channel, msgspec.Raw(json.dumps(data).encode()))


def fill(oid: int, tid: int, size: str, *, side: str = "B") -> dict[str, Any]:
    return {"coin": "BTC", "px": "97000", "sz": size, "side": side, "time": 1_700_000_000_500,
            "startPosition": "0", "dir": "Open Long", "closedPnl": "0", "hash": "0x" + "ab" * 32,
            "oid": oid, "crossed": True, "fee": "0.1", "tid": tid, "feeToken": "USDC"}


# --- batches ------------------------------------------------------------------------------


def test_place_reads_each_status_resting_filled_and_error() -> None:
    exchange = Exchange(exchange=ok(
        "order", {"resting": {"oid": 11}}, {"filled": {"totalSz": "0.001", "avgPx": "97001",
                                                       "oid": 12}},
        {"error": "Order has invalid price."},
    ))
    adapter = adapter_for(exchange)
    orders = [place(C1), place(C2), place(C3, price="96000")]
    results = virtual(lambda: adapter.place(orders))
    (action,) = exchange.bodies("exchange")
    assert [o["c"] for o in action["action"]["orders"]] == [str(C1), str(C2), str(C3)]
    assert results[0].events == (OrderAccepted(cloid=C1, oid=Oid(11)),)
    (immediate,) = results[1].events
    assert isinstance(immediate, OrderFilled) and immediate.fill_ref == "immediate/12"
    assert immediate.size == Decimal("0.001") and immediate.tid == 0
    (rejected,) = results[2].events
    assert isinstance(rejected, OrderRejected) and rejected.message == "Order has invalid price."
    assert not any(r.ambiguous for r in results)


@pytest.mark.parametrize("reply", [
    {"status": "err", "response": "Order 1: invalid size"},
    httpx.Response(502, text="Bad Gateway"),
    httpx.TimeoutException("read timed out"),
], ids=["whole-batch err", "5xx", "timeout"])
def test_a_whole_batch_failure_is_ambiguous_for_every_order_and_never_sent_again(
    reply: Any,
) -> None:
    exchange = Exchange(exchange=reply)
    adapter = adapter_for(exchange)
    results = virtual(lambda: adapter.place([place(C1), place(C2)]))
    assert len(exchange.bodies("exchange")) == 1
    assert [r.ambiguous for r in results] == [True, True]
    assert all(r.events == () and not r.rate_limited for r in results)


@pytest.mark.parametrize("reply", [
    {"status": "err", "response": TOO_MANY}, httpx.Response(429, text="Too Many Requests"),
], ids=["address limit", "ip limit"])
def test_a_rate_limit_refusal_is_rate_limited_for_every_command(reply: Any) -> None:
    exchange = Exchange(exchange=reply)
    adapter = adapter_for(exchange)
    cancels = [CancelOrder(cloid=C1, oid=Oid(5)), CancelOrder(cloid=C2, oid=Oid(6))]
    results = virtual(lambda: adapter.cancel(cancels))
    assert [(r.rate_limited, r.ambiguous, r.events) for r in results] == [(True, False, ())] * 2


def test_cancels_go_by_oid_and_by_cloid_and_answer_in_command_order() -> None:
    exchange = Exchange(exchange=Then([ok("cancel", "success"),
                                       ok("cancel", {"error": "Order was never placed, already "
                                                              "canceled, or filled. asset=0"})]))
    adapter = adapter_for(exchange)
    cancels = [CancelOrder(cloid=C1, oid=None), CancelOrder(cloid=C2, oid=Oid(7))]
    results = virtual(lambda: adapter.cancel(cancels))
    by_oid, by_cloid = exchange.bodies("exchange")
    assert by_oid["action"] == {"type": "cancel", "cancels": [{"a": 0, "o": 7}]}
    assert by_cloid["action"] == {"type": "cancelByCloid",
                                  "cancels": [{"asset": 0, "cloid": str(C1)}]}
    (gone,) = results[0].events
    assert isinstance(gone, CancelRejected) and gone.order_gone
    assert results[1].events == (OrderCanceled(cloid=C2, oid=Oid(7), status="canceled"),)


def test_modify_keeps_the_placed_side_and_an_unknown_side_is_not_sent() -> None:
    exchange = Exchange(exchange=Then([ok("order", {"resting": {"oid": 11}}),
                                       ok("batchModify", {"resting": {"oid": 12}})]))
    adapter = adapter_for(exchange)

    async def main() -> Any:
        await adapter.place([place(C1, side=Side.SELL, price="98000")])
        return await adapter.modify([
            ModifyOrder(cloid=C1, oid=Oid(11), price=Decimal("98100"), size=Decimal("0.002")),
            ModifyOrder(cloid=C2, oid=Oid(99), price=Decimal("1"), size=Decimal("1")),
        ])

    modified, unknown = virtual(main)
    (_, sent) = exchange.bodies("exchange")
    (wire,) = sent["action"]["modifies"]
    assert wire["oid"] == 11 and wire["order"]["b"] is False and wire["order"]["p"] == "98100"
    assert modified.events[0].oid == 12
    (refused,) = unknown.events
    assert isinstance(refused, ModifyRejected) and not refused.order_gone and not unknown.ambiguous


# --- queries ------------------------------------------------------------------------------


def test_order_status_asks_by_cloid_when_known_else_by_oid() -> None:
    answer = {"status": "order", "order": {"order": {
        "coin": "BTC", "side": "B", "limitPx": "97000", "sz": "0.001", "oid": 12,
        "timestamp": 1, "origSz": "0.001", "cloid": str(C1)}, "status": "open",
        "statusTimestamp": 1}}
    exchange = Exchange(info=answer)
    adapter = adapter_for(exchange)

    async def main() -> Any:
        by_cloid = await adapter.order_status(QueryOrderStatus(cloid=C1, oid=Oid(11)))
        await adapter.order_status(QueryOrderStatus(cloid=None, oid=Oid(12)))
        return by_cloid

    result = virtual(main)
    first, second = exchange.bodies("info")
    assert first == {"type": "orderStatus", "user": USER, "oid": str(C1)}
    assert second == {"type": "orderStatus", "user": USER, "oid": 12}
    (report,) = result.events
    assert isinstance(report, OrderStatusReport) and report.oid == 12


def test_order_status_without_an_answer_is_ambiguous_or_rate_limited() -> None:
    adapter = adapter_for(Exchange(info=httpx.Response(429, text="slow down")))
    limited = virtual(lambda: adapter.order_status(QueryOrderStatus(cloid=C1, oid=None)))
    assert limited.rate_limited and not limited.ambiguous
    adapter = adapter_for(Exchange(info=httpx.Response(502)))
    lost = virtual(lambda: adapter.order_status(QueryOrderStatus(cloid=C1, oid=None)))
    assert lost.ambiguous and not lost.rate_limited


@pytest.mark.parametrize("asset, dex", [(BTC, ""), (TSLA, "xyz")])
def test_open_orders_are_always_asked_for_the_markets_dex(asset: Asset, dex: str) -> None:
    row = {"coin": asset.name, "side": "A", "limitPx": "250", "sz": "1.5", "oid": 3,
           "timestamp": 1, "origSz": "1.5", "cloid": str(C1)}
    exchange = Exchange(info=[row])
    adapter = adapter_for(exchange, asset=asset)
    snapshot = virtual(adapter.open_orders)
    assert exchange.bodies("info") == [{"type": "openOrders", "user": USER, "dex": dex}]
    assert [(o.coin, o.cloid, o.size) for o in snapshot.orders] == [(asset.name, C1,
                                                                      Decimal("1.5"))]


def test_fills_since_asks_from_the_start_in_ms_and_reads_the_next_page_of_a_full_one() -> None:
    full = [fill(10 + i, 100 + i, "0.001") | {"time": 1_700_000_001_000 + i} for i in range(2000)]
    last = fill(5000, 9000, "0.002") | {"time": 1_700_000_009_000}
    exchange = Exchange(info=Then([full, [last]]))
    adapter = adapter_for(exchange)
    fills = virtual(lambda: adapter.fills_since(1_700_000_000.25))
    first, second = exchange.bodies("info")
    assert first["startTime"] == 1_700_000_000_250 and first["type"] == "userFillsByTime"
    assert second["startTime"] == 1_700_000_002_999
    assert len(fills) == 2001 and fills[-1].tid == 9000


def test_a_fill_history_longer_than_the_pages_fetched_is_said_not_dropped_in_silence() -> None:
    pages = [
        [fill(10 + i, 100_000 * p + i, "0.001") | {"time": 1_700_000_001_000 + 10 * p + i}
         for i in range(2000)]
        for p in range(5)
    ]
    exchange = Exchange(info=Then(pages))
    adapter = adapter_for(exchange)
    fills = virtual(lambda: adapter.fills_since(1_700_000_000.0))
    assert len(fills) == 10_000 and len(exchange.bodies("info")) == 5
    (cut,) = adapter.take_anomalies()
    assert cut.kind.value == "catch_up_cut" and "fill history cut" in cut.detail
    complete = adapter_for(Exchange(info=Then([pages[0][:3]])))
    assert len(virtual(lambda: complete.fills_since(1_700_000_000.0))) == 3
    assert not complete.take_anomalies()


# --- the websocket ------------------------------------------------------------------------


def test_events_hand_on_order_channels_and_a_reconnect_calls_on_reconnect() -> None:
    heard: list[float] = []
    market: list[str] = []
    stream = [
        message("orderUpdates", [{"order": {"coin": "BTC", "side": "B", "limitPx": "97000",
                                            "sz": "0.001", "oid": 11, "timestamp": 1,
                                            "origSz": "0.001", "cloid": str(C1)},
                                  "status": "open", "statusTimestamp": 1}]),
        Reconnected(connection=2, lost="closed: 1006", delays_s=(0.5,), down_s=2.5),
        message("bbo", {"coin": "BTC", "time": 1, "bbo": [None, None]}),
        message("userFills", {"isSnapshot": False, "user": USER, "fills": [fill(11, 7, "0.001")]}),
    ]
    adapter = adapter_for(Exchange(), stream=stream, on_reconnect=heard.append,
                          on_market=lambda m, now: market.append(m.channel))

    async def main() -> list[Any]:
        return [event async for event in adapter.events()]

    events = virtual(main)
    assert events[0] == OrderAccepted(cloid=C1, oid=Oid(11))
    assert isinstance(events[1], OrderFilled) and events[1].tid == 7 and len(events) == 2
    assert heard == [1_700_000_000.0 - 2.5] and adapter.reconnects == 1
    assert market == ["bbo"]


def test_what_the_codec_cannot_use_becomes_anomalies_taken_once() -> None:
    stream = [
        message("orderUpdates", [{"order": {"coin": "BTC", "side": "B", "limitPx": "1",
                                            "sz": "1", "oid": 11, "timestamp": 1,
                                            "origSz": "1"}, "status": "teleported",
                                  "statusTimestamp": 1}]),
        message("userFills", {"isSnapshot": False, "fills": [{"coin": "BTC"}]}),
    ]
    adapter = adapter_for(Exchange(exchange=ok("order", {"resting": {"oid": 1}},
                                                 {"resting": {"oid": 2}})), stream=stream)

    async def main() -> None:
        assert [e async for e in adapter.events()] == []
        await adapter.place([place(C1)])  # two statuses for one order

    virtual(main)
    found = adapter.take_anomalies()
    assert [a.kind for a in found] == [AnomalyKind.UNKNOWN_STATUS, AnomalyKind.MALFORMED_MESSAGE,
                                       AnomalyKind.UNEXPECTED_ANSWER]
    assert "teleported" in found[0].detail and found[0].order_id == "oid:11"
    assert adapter.take_anomalies() == ()
    assert isinstance(adapter, AnomalySource)


class _Reporting:
    """A silent adapter that reports one anomaly; the runtime must record it."""

    def __init__(self) -> None:
        self.pending = [AdapterAnomaly(kind=AnomalyKind.UNKNOWN_STATUS, at=1.0,
                                       detail="unknown status 'x'", order_id="oid:1")]

    def take_anomalies(self) -> Sequence[AdapterAnomaly]:
        taken, self.pending = self.pending, []
        return taken

    async def open_orders(self) -> Any:
        from lifecycle.runtime import OpenOrdersSnapshot

        return OpenOrdersSnapshot(taken_at=0.0, orders=())

    async def events(self) -> AsyncIterator[Any]:
        await sleep(3600)
        yield  # pragma: no cover


def test_the_runtime_records_an_adapters_anomalies_and_runs_without_the_hook() -> None:
    engine = Engine(cloids=CloidFactory("test", 2))
    adapter = _Reporting()
    runtime = Runtime(engine, adapter)  # type: ignore[arg-type]

    async def main() -> None:
        async with runtime.session():
            await sleep(0.5)

    virtual(main)
    assert engine.anomalies.counts[AnomalyKind.UNKNOWN_STATUS] == 1
    (recorded,) = list(engine.anomalies)
    assert (recorded.at, recorded.order_id) == (1.0, "oid:1")
    anomaly_drain(object(), engine.anomalies)()  # an adapter without the hook: nothing
    assert len(engine.anomalies) == 1


# --- dry run ------------------------------------------------------------------------------


def test_a_dry_run_signs_and_logs_sends_nothing_and_answers_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange = Exchange(info=[])
    adapter = adapter_for(exchange, dry_run=True)

    async def main() -> list[Any]:
        results = await adapter.place([place(C1)])
        results += await adapter.cancel([CancelOrder(cloid=C2, oid=Oid(3))])
        results += await adapter.modify([ModifyOrder(cloid=C1, oid=Oid(4), price=Decimal(97100),
                                                     size=Decimal("0.001"))])
        await adapter.open_orders()  # queries still go
        return results

    with caplog.at_level("INFO", logger="lifecycle.hyperliquid.adapter"):
        results = virtual(main)
    assert exchange.bodies("exchange") == [] and len(exchange.bodies("info")) == 1
    assert adapter.dry_run_actions == 3
    assert all(r.definitive and r.error == DRY_RUN_ERROR for r in results)
    kinds = [type(r.events[0]) for r in results]
    assert kinds == [OrderRejected, CancelRejected, ModifyRejected]
    assert "dry run: order of 1 signed with nonce" in caplog.text


# --- the immediate-fill credit after a restart -------------------------------------------


def test_credits_rebuilt_from_a_recovered_journal_count_each_fill_once(tmp_path: Path) -> None:
    factory = CloidFactory("test", 3)
    engine = JournaledEngine(Journal.in_dir(tmp_path), cloids=factory)
    exchange = Exchange(exchange=ok("order", {"filled": {"totalSz": "0.003", "avgPx": "97000",
                                                         "oid": 12}}))
    adapter = adapter_for(exchange)
    order = engine.place(Side.BUY, Decimal(97000), Decimal("0.005"), 1.0)
    (cmd,) = engine.commands_to_send()
    assert isinstance(cmd, PlaceOrder)
    (result,) = virtual(lambda: adapter.place([cmd]))
    for event in result.events:
        engine.handle(event, 2.0)
    # Two of the immediate trades' fills arrive and are absorbed; then the process stops.
    absorbed = [adapter.codec.credits.fill(OrderFilled(
        cloid=None, oid=Oid(12), tid=Tid(t), side=Side.BUY, price=Decimal(97000),
        size=Decimal("0.001")), 3.0) for t in (70, 71)]
    assert absorbed == [None, None] and order.filled == Decimal("0.003")
    engine.close()

    recovered = JournaledEngine.recover(tmp_path, 10.0)
    restarted = adapter_for(Exchange())
    restarted.codec.credits.restore(credits_from_engine(recovered, 10.0))
    # The catch-up brings all three immediate fills again, then a resting fill.
    again = [*(fill(12, t, "0.001") for t in (70, 71, 72)), fill(12, 80, "0.002")]
    handed = restarted.codec.read_fills(again, "$", 11.0, what="userFillsByTime")
    assert [(f.tid, f.size) for f in handed] == [(80, Decimal("0.002"))]
    for event in handed:
        recovered.handle(event, 11.0)
    assert recovered.position == Decimal("0.005")
    recovered.close()


def test_an_order_the_engine_dropped_keeps_a_credit_absorbing_its_unseen_fills() -> None:
    engine = Engine(cloids=CloidFactory("test", 4))
    engine.place(Side.BUY, Decimal(97000), Decimal("0.002"), 1.0)
    (cmd,) = engine.commands_to_send()
    adapter = adapter_for(Exchange(exchange=ok("order", {"filled": {
        "totalSz": "0.002", "avgPx": "97000", "oid": 21}})))
    (result,) = virtual(lambda: adapter.place([cmd]))  # type: ignore[list-item]
    for event in result.events:
        engine.handle(event, 2.0)
    engine.on_timer(100.0)  # the filled order's tombstone is dropped
    assert list(engine.registry) == []
    state = credits_from_engine(engine, 100.0)
    assert [r.oid for r in state.credits] == [21]
    restarted = adapter_for(Exchange())
    restarted.codec.credits.restore(state)
    again = [fill(21, 90, "0.001"), fill(21, 91, "0.001")]
    assert restarted.codec.read_fills(again, "$", 101.0, what="userFillsByTime") == []
