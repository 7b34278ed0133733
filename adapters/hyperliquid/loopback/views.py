"""Hyperliquid's JSON shapes of orders, fills and positions, built from the loopback's books.

Numbers go out as strings in the exchange's style: plain decimals that keep
one decimal place when whole (``"97000.0"``, ``"0.0"``), as in the reference's
samples. A cloid appears only when the client gave one: ``openOrders`` and the
websocket omit the key otherwise, the frontend shapes carry ``null``
(section 9 row 2).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from lifecycle.core.order import Side

from ...simulated import round_price, round_size
from ...simulated.book import BookOrder
from .state import Desk, FillRow, Ledger, RefusedOrder, ms

__all__ = [
    "basic_order",
    "fill_json",
    "frontend_order",
    "l2_book",
    "num",
    "open_order",
    "refused_frontend",
    "side_code",
    "status_time",
]


def num(value: Decimal) -> str:
    """A number as the exchange writes it in answers."""
    if value == 0:
        return "0.0"
    text = format(value.normalize(), "f")
    return text if "." in text else text + ".0"


def side_code(side: Side) -> str:
    """``B`` for a buy (bid), ``A`` for a sell (ask)."""
    return "B" if side is Side.BUY else "A"


def status_time(order: BookOrder) -> int:
    """When the order took its current status, in ms."""
    return ms(order.ended_at if order.ended_at is not None else order.placed_at)


def basic_order(ledger: Ledger, desk: Desk, order: BookOrder, sz: Decimal) -> dict[str, Any]:
    """The order of a websocket ``orderUpdates`` item (no reduce-only, tif or trigger)."""
    row: dict[str, Any] = {
        "coin": desk.coin, "side": side_code(order.side), "limitPx": num(order.price),
        "sz": num(sz), "oid": ledger.hl_oid(desk, order.oid), "timestamp": ms(order.placed_at),
        "origSz": num(order.size),
    }
    cloid = desk.client_cloid(order.cloid)
    if cloid is not None:
        row["cloid"] = cloid
    return row


def open_order(ledger: Ledger, desk: Desk, order: BookOrder) -> dict[str, Any]:
    """An ``openOrders`` row: ``sz`` is what remains."""
    row: dict[str, Any] = {
        "coin": desk.coin, "limitPx": num(order.price), "oid": ledger.hl_oid(desk, order.oid),
        "side": side_code(order.side), "sz": num(order.remaining),
        "timestamp": ms(order.placed_at), "origSz": num(order.size),
    }
    cloid = desk.client_cloid(order.cloid)
    if cloid is not None:
        row["cloid"] = cloid
    if desk.order_terms(order).reduce_only:
        row["reduceOnly"] = True
    return row


def frontend_order(
    ledger: Ledger, desk: Desk, order: BookOrder, *, frozen_size: bool = False
) -> dict[str, Any]:
    """A ``frontendOpenOrders`` / ``orderStatus`` / ``historicalOrders`` order.

    With ``frozen_size`` an open order shows its original size, as ``orderStatus``
    does until the order's status changes (section 10 row 1).
    """
    terms = desk.order_terms(order)
    sz = order.size if frozen_size and order.resting else order.remaining
    return _frontend(
        coin=desk.coin, side=order.side, px=order.price, sz=sz, oid=ledger.hl_oid(desk, order.oid),
        time=ms(order.placed_at), orig=order.size, reduce_only=terms.reduce_only, tif=terms.tif,
        cloid=desk.client_cloid(order.cloid),
    )


def refused_frontend(order: RefusedOrder) -> dict[str, Any]:
    """The frontend shape of an order the loopback's rules refused."""
    return _frontend(
        coin=order.coin, side=order.side, px=order.px, sz=order.sz, oid=order.oid,
        time=order.time, orig=order.sz, reduce_only=order.terms.reduce_only,
        tif=order.terms.tif, cloid=order.terms.cloid,
    )


def _frontend(
    *, coin: str, side: Side, px: Decimal, sz: Decimal, oid: int, time: int, orig: Decimal,
    reduce_only: bool, tif: str, cloid: str | None,
) -> dict[str, Any]:
    return {
        "coin": coin, "side": side_code(side), "limitPx": num(px), "sz": num(sz), "oid": oid,
        "timestamp": time, "triggerCondition": "N/A", "isTrigger": False, "triggerPx": "0.0",
        "children": [], "isPositionTpsl": False, "reduceOnly": reduce_only,
        "orderType": "Market" if tif in ("Ioc", "FrontendMarket") else "Limit",
        "origSz": num(orig), "tif": tif, "cloid": cloid,
    }


def fill_json(row: FillRow, *, with_cloid: bool = True) -> dict[str, Any]:
    """A fill of ``userFills`` and of the websocket's fill channels."""
    out: dict[str, Any] = {
        "coin": row.coin, "px": num(row.px), "sz": num(row.sz), "side": side_code(row.side),
        "time": row.time, "startPosition": num(row.start_position), "dir": row.dir,
        "closedPnl": num(row.closed_pnl), "hash": row.hash, "oid": row.oid,
        "crossed": row.crossed, "fee": num(row.fee), "tid": row.tid, "feeToken": "USDC",
    }
    if with_cloid and row.cloid is not None:
        out["cloid"] = row.cloid
    return out


#: Levels of the rest of the market on each side of the book, 1 bp apart.
_MARKET_LEVELS = 5
#: Value of the rest of the market's first level, in USD (deeper levels hold more).
_LEVEL_USD = Decimal(25_000)


def l2_book(ledger: Ledger, asset: int, now: float, depth: int = 20) -> dict[str, Any]:
    """The book of market ``asset``: the rest of the market around its touch, and
    every account's resting orders, ``depth`` levels a side."""
    quote = ledger.quotes[asset]
    szd = quote.market.sz_decimals
    bid, ask = quote.sim.bbo()
    sides: tuple[dict[Decimal, list[Any]], dict[Decimal, list[Any]]] = ({}, {})

    def add(side: int, px: Decimal, sz: Decimal) -> None:
        level = sides[side].setdefault(px, [Decimal(0), 0])
        level[0] += sz
        level[1] += 1

    for k in range(_MARKET_LEVELS):
        step = Decimal(k) / 10_000
        for side, touch, rounding, sign in ((0, bid, ROUND_FLOOR, -1), (1, ask, ROUND_CEILING, 1)):
            px = round_price(touch * (1 + sign * step), szd, rounding=rounding)
            sz = max(round_size(_LEVEL_USD * (k + 1) / px, szd), Decimal(1).scaleb(-szd))
            add(side, px, sz)
    for desk in ledger.all_desks():
        if desk.asset == asset and desk.account is not None:
            for order in desk.sim.book.resting.values():
                add(0 if order.side is Side.BUY else 1, order.price, order.remaining)
    bids = sorted(sides[0].items(), reverse=True)[:depth]
    asks = sorted(sides[1].items())[:depth]
    return {
        "coin": quote.coin, "time": ms(now),
        "levels": [
            [{"px": num(px), "sz": num(sz), "n": n} for px, (sz, n) in bids],
            [{"px": num(px), "sz": num(sz), "n": n} for px, (sz, n) in asks],
        ],
    }
