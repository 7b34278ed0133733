"""ccxt's hyperliquid client drives the loopback exchange (skipped where ccxt is missing).

ccxt is a second client nobody here wrote: it loads the markets, places,
lists, fetches, edits and cancels orders with a client order id, trades with
a market order and reads its trades, and surfaces the venue's refusals. It
signs as mainnet unless put in sandbox mode, so its loopback expects mainnet
signatures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lifecycle.adapters.hyperliquid.loopback.background import BackgroundLoopback
from loopback_helpers import ADDRESS, KEY, STRANGER_KEY, wait_for

ccxt = pytest.importorskip("ccxt")

BTC = "BTC/USDC:USDC"
CLOID = "0x00000000000000000000000000000007"


def client(url: str, key: str, address: str) -> Any:
    exchange = ccxt.hyperliquid({"walletAddress": address, "privateKey": key})
    exchange.urls["api"] = {"public": url, "private": url}
    exchange.options["fetchMarkets"] = {"types": ["swap"]}
    return exchange


@pytest.fixture
def loopback() -> Iterator[BackgroundLoopback]:
    with BackgroundLoopback(accounts=[ADDRESS], seed=13, faults="none", mainnet=True) as lb:
        yield lb


def test_ccxt_places_lists_edits_and_cancels_an_order(loopback: BackgroundLoopback) -> None:
    exchange = client(loopback.url, KEY, ADDRESS)
    assert set(exchange.load_markets()) == {BTC, "ETH/USDC:USDC", "SOL/USDC:USDC"}

    placed = exchange.create_order(BTC, "limit", "buy", 0.001, 80_000,
                                   {"clientOrderId": CLOID})
    assert placed["clientOrderId"] == CLOID

    listed = wait_for(lambda: exchange.fetch_open_orders(BTC))
    assert [(o["id"], o["price"], o["clientOrderId"]) for o in listed] == [
        (placed["id"], 80_000.0, CLOID)]
    assert exchange.fetch_order(placed["id"], BTC)["status"] == "open"

    edited = exchange.edit_order(placed["id"], BTC, "limit", "buy", 0.002, 80_100,
                                 {"clientOrderId": CLOID})
    assert edited["id"] != placed["id"]
    assert exchange.fetch_order(placed["id"], BTC)["status"] == "canceled"

    exchange.cancel_order(edited["id"], BTC)
    assert exchange.fetch_order(edited["id"], BTC)["status"] == "canceled"


def test_ccxt_trades_with_a_market_order_and_reads_its_trades(
    loopback: BackgroundLoopback,
) -> None:
    exchange = client(loopback.url, KEY, ADDRESS)
    exchange.load_markets()

    order = exchange.create_order("ETH/USDC:USDC", "market", "buy", 0.01, 3_500)

    assert order["filled"] and order["filled"] > 0
    trades = exchange.fetch_my_trades("ETH/USDC:USDC")
    assert sum(t["amount"] for t in trades) == pytest.approx(order["filled"])


def test_ccxt_surfaces_the_venues_refusals(loopback: BackgroundLoopback) -> None:
    exchange = client(loopback.url, KEY, ADDRESS)
    exchange.load_markets()
    with pytest.raises(ccxt.InvalidOrder, match=r"Order must have minimum value of \$10\."):
        exchange.create_order(BTC, "limit", "buy", 0.0001, 80_000)

    stranger_key = STRANGER_KEY
    stranger = client(loopback.url, stranger_key, "0x" + "00" * 20)
    stranger.load_markets()
    with pytest.raises(ccxt.BaseError, match="L1 error: User or API Wallet 0x"):
        stranger.create_order(BTC, "limit", "buy", 0.001, 80_000)
