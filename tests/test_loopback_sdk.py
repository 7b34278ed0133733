"""The official hyperliquid-python-sdk drives the loopback exchange, as it drives the venue.

A client nobody here wrote (``Info`` and ``Exchange`` with ``base_url``) must
read the markets, place orders with cloids, list and query them, modify,
cancel and batch them, see its fills, get the venue's refusals, and follow its
orders on the websocket. Every loopback runs the ``none`` fault profile with a
fixed seed, in real time on a thread of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import eth_account
import pytest
from lifecycle.adapters.hyperliquid.loopback.background import BackgroundLoopback
from loopback_helpers import ADDRESS, KEY, STRANGER_KEY, wait_for

hl_info = pytest.importorskip("hyperliquid.info")
hl_exchange = pytest.importorskip("hyperliquid.exchange")
hl_types = pytest.importorskip("hyperliquid.utils.types")

GTC = {"limit": {"tif": "Gtc"}}
CANCEL_GONE = "Order was never placed, already canceled, or filled."


@pytest.fixture
def loopback() -> Iterator[BackgroundLoopback]:
    with BackgroundLoopback(accounts=[ADDRESS], seed=11, faults="none") as lb:
        yield lb


@pytest.fixture
def info(loopback: BackgroundLoopback) -> Iterator[Any]:
    client = hl_info.Info(loopback.url, skip_ws=True)
    yield client
    client.session.close()


@pytest.fixture
def exchange(loopback: BackgroundLoopback) -> Iterator[Any]:
    client = hl_exchange.Exchange(eth_account.Account.from_key(KEY), loopback.url)
    yield client
    client.session.close()
    client.info.session.close()


def cloid(n: int) -> Any:
    return hl_types.Cloid.from_int(n)


def statuses(answer: dict[str, Any]) -> list[Any]:
    assert answer["status"] == "ok", answer
    return list(answer["response"]["data"]["statuses"])


def rest(exchange: Any, coin: str = "BTC", px: float = 80_000, sz: float = 0.001,
         c: Any = None) -> int:
    """Place a Gtc buy far below the market; return its oid."""
    (status,) = statuses(exchange.order(coin, True, sz, px, GTC, cloid=c))
    return int(status["resting"]["oid"])


def test_meta_lists_the_markets_with_their_size_decimals(info: Any) -> None:
    universe = info.meta()["universe"]
    assert [(u["name"], u["szDecimals"]) for u in universe] == [("BTC", 5), ("ETH", 4),
                                                              ("SOL", 2)]
    assert info.name_to_asset("ETH") == 1


def test_all_mids_quotes_every_market_near_its_start(info: Any) -> None:
    mids = {coin: Decimal(px) for coin, px in info.all_mids().items()}
    assert set(mids) == {"BTC", "ETH", "SOL"}
    assert abs(mids["BTC"] / 97_000 - 1) < Decimal("0.05")


def test_an_order_with_a_cloid_rests_and_is_found_by_oid_and_by_cloid(
    info: Any, exchange: Any
) -> None:
    (status,) = statuses(exchange.order("BTC", True, 0.001, 80_000, GTC, cloid=cloid(1)))
    assert status["resting"]["cloid"] == cloid(1).to_raw()
    oid = status["resting"]["oid"]

    by_oid = info.query_order_by_oid(ADDRESS, oid)
    by_cloid = info.query_order_by_cloid(ADDRESS, cloid(1))

    assert by_oid == by_cloid
    assert by_oid["status"] == "order" and by_oid["order"]["status"] == "open"
    order = by_oid["order"]["order"]
    assert (order["oid"], order["cloid"], order["limitPx"], order["side"]) == (
        oid, cloid(1).to_raw(), "80000.0", "B")
    assert info.query_order_by_oid(ADDRESS, oid + 999_999) == {"status": "unknownOid"}


def test_open_orders_list_the_resting_order_once_the_venue_shows_it(
    info: Any, exchange: Any
) -> None:
    oid = rest(exchange, "ETH", px=3_000, sz=0.01, c=cloid(2))

    rows = wait_for(lambda: [r for r in info.open_orders(ADDRESS) if r["oid"] == oid])

    assert rows == [{"coin": "ETH", "limitPx": "3000.0", "oid": oid, "side": "B", "sz": "0.01",
                     "timestamp": rows[0]["timestamp"], "origSz": "0.01",
                     "cloid": cloid(2).to_raw()}]
    assert [r["oid"] for r in info.frontend_open_orders(ADDRESS)] == [oid]


def test_modify_replaces_the_order_with_a_new_oid_and_the_same_cloid(
    info: Any, exchange: Any
) -> None:
    old = rest(exchange, c=cloid(3))

    (status,) = statuses(exchange.modify_order(old, "BTC", True, 0.002, 80_100, GTC,
                                               cloid=cloid(3)))

    new = status["resting"]["oid"]
    assert new != old and status["resting"]["cloid"] == cloid(3).to_raw()
    assert info.query_order_by_oid(ADDRESS, old)["order"]["status"] == "canceled"
    now = info.query_order_by_cloid(ADDRESS, cloid(3))["order"]
    assert (now["status"], now["order"]["oid"], now["order"]["limitPx"],
            now["order"]["origSz"]) == ("open", new, "80100.0", "0.002")


def test_cancel_by_oid_and_by_cloid_end_the_orders(info: Any, exchange: Any) -> None:
    first = rest(exchange, c=cloid(4))
    second = rest(exchange, "SOL", px=120, sz=1, c=cloid(5))

    assert statuses(exchange.cancel("BTC", first)) == ["success"]
    assert statuses(exchange.cancel_by_cloid("SOL", cloid(5))) == ["success"]

    assert info.query_order_by_oid(ADDRESS, first)["order"]["status"] == "canceled"
    assert info.query_order_by_oid(ADDRESS, second)["order"]["status"] == "canceled"
    assert statuses(exchange.cancel("BTC", first)) == [{"error": CANCEL_GONE}]
    assert statuses(exchange.cancel_by_cloid("SOL", cloid(5))) == [{"error": CANCEL_GONE}]


def test_a_batch_answers_each_order_in_its_place(info: Any, exchange: Any) -> None:
    batch = [
        {"coin": "BTC", "is_buy": True, "sz": 0.001, "limit_px": 80_000, "order_type": GTC,
         "reduce_only": False, "cloid": cloid(6)},
        {"coin": "ETH", "is_buy": False, "sz": 0.01, "limit_px": 4_000, "order_type": GTC,
         "reduce_only": False, "cloid": cloid(7)},
        {"coin": "BTC", "is_buy": True, "sz": 0.001, "limit_px": 80_000.5, "order_type": GTC,
         "reduce_only": False, "cloid": cloid(8)},
    ]

    first, second, third = statuses(exchange.bulk_orders(batch))

    assert first["resting"]["cloid"] == cloid(6).to_raw()
    assert second["resting"]["cloid"] == cloid(7).to_raw()
    assert third == {"error": "Order has invalid price."}
    assert info.query_order_by_cloid(ADDRESS, cloid(7))["order"]["order"]["side"] == "A"


def test_fills_of_a_resting_order_show_in_user_fills_and_end_it(
    loopback: BackgroundLoopback, info: Any, exchange: Any
) -> None:
    oid = rest(exchange, c=cloid(9))

    loopback.run(lambda lb: lb.fill(ADDRESS, oid, Decimal("0.001")))

    (fill,) = wait_for(lambda: [f for f in info.user_fills(ADDRESS) if f["oid"] == oid])
    assert (fill["coin"], fill["px"], fill["sz"], fill["side"], fill["dir"],
            fill["startPosition"], fill["crossed"]) == (
        "BTC", "80000.0", "0.001", "B", "Open Long", "0.0", False)
    assert info.query_order_by_oid(ADDRESS, oid)["order"]["status"] == "filled"
    assert loopback.run(lambda lb: lb.truth(ADDRESS, "BTC").position) == Decimal("0.001")


def test_a_market_order_crosses_the_book_and_fills(info: Any, exchange: Any) -> None:
    (status,) = statuses(exchange.market_open("ETH", True, 0.01, cloid=cloid(10)))

    filled = status["filled"]
    assert Decimal(filled["totalSz"]) > 0 and filled["cloid"] == cloid(10).to_raw()
    fills = [f for f in info.user_fills(ADDRESS) if f["oid"] == filled["oid"]]
    assert sum(Decimal(f["sz"]) for f in fills) == Decimal(filled["totalSz"])
    assert all(f["crossed"] for f in fills)


def test_an_off_tick_price_is_refused_and_recorded_as_tick_rejected(
    info: Any, exchange: Any
) -> None:
    (status,) = statuses(exchange.order("BTC", True, 0.001, 80_000.5, GTC, cloid=cloid(11)))

    assert status == {"error": "Order has invalid price."}
    assert info.query_order_by_cloid(ADDRESS, cloid(11))["order"]["status"] == "tickRejected"
    assert info.open_orders(ADDRESS) == []


def test_an_unknown_signer_is_refused_in_the_venues_words(loopback: BackgroundLoopback) -> None:
    stranger = eth_account.Account.from_key(STRANGER_KEY)
    client = hl_exchange.Exchange(stranger, loopback.url)

    answer = client.order("BTC", True, 0.001, 80_000, GTC)

    assert answer == {"status": "err", "response": (
        f"L1 error: User or API Wallet {stranger.address.lower()} does not exist.")}
    client.session.close()
    client.info.session.close()


def test_an_agent_approved_by_the_account_trades_for_it(
    loopback: BackgroundLoopback, info: Any, exchange: Any
) -> None:
    answer, agent_key = exchange.approve_agent()
    assert answer == {"status": "ok", "response": {"type": "default"}}
    agent = hl_exchange.Exchange(eth_account.Account.from_key(agent_key), loopback.url,
                                 account_address=ADDRESS)

    oid = rest(agent, c=cloid(12))

    assert info.query_order_by_oid(ADDRESS, oid)["order"]["status"] == "open"
    assert info.query_order_by_oid(agent.wallet.address, oid) == {"status": "unknownOid"}
    agent.session.close()
    agent.info.session.close()


def test_the_websocket_streams_order_updates_and_fills(
    loopback: BackgroundLoopback, exchange: Any
) -> None:
    received: list[dict[str, Any]] = []
    client = hl_info.Info(loopback.url, skip_ws=False)
    try:
        client.subscribe({"type": "orderUpdates", "user": ADDRESS}, received.append)
        client.subscribe({"type": "userFills", "user": ADDRESS}, received.append)
        client.subscribe({"type": "allMids"}, received.append)
        wait_for(lambda: [m for m in received if m["channel"] == "userFills"])

        oid = rest(exchange, c=cloid(13))
        loopback.run(lambda lb: lb.fill(ADDRESS, oid, Decimal("0.001")))

        def updates() -> list[tuple[str, int]]:
            return [(u["status"], u["order"]["oid"]) for m in received
                    if m["channel"] == "orderUpdates" for u in m["data"]]

        wait_for(lambda: ("filled", oid) in updates())
        assert updates() == [("open", oid), ("filled", oid)]
        fills = [m["data"] for m in received if m["channel"] == "userFills"]
        assert fills[0] == {"isSnapshot": True, "user": ADDRESS.lower(), "fills": []}
        (live,) = fills[1:]
        assert not live["isSnapshot"]
        assert [(f["oid"], f["sz"], f["cloid"]) for f in live["fills"]] == [
            (oid, "0.001", cloid(13).to_raw())]
        mids = next(m for m in received if m["channel"] == "allMids")
        assert set(mids["data"]["mids"]) == {"BTC", "ETH", "SOL"}
    finally:
        client.disconnect_websocket()
        client.session.close()
