"""``POST /info``: the unsigned queries, answered in Hyperliquid's JSON.

Theory of operation
-------------------
Every request spends its weight first (:mod:`.rules`); a type the loopback
does not know, or a field of the wrong type, is answered HTTP 422 as the
exchange answers a body it cannot deserialize.

``openOrders``, ``frontendOpenOrders`` and ``orderStatus`` go through the
account's sims, so they carry what the fault profile does to such queries:
latency, lost answers, open orders that show only after the snapshot lag, the
spurious ``unknownOid`` of the harsh profile. The others read the books
directly: the markets (``meta``, ``allMids``, ``l2Book``...), the fills, the
order history, the position. ``user`` is the account: an agent's address, as
on the exchange, has no orders and no fills.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from lifecycle.core.commands import FetchOpenOrders, QueryOrderStatus
from lifecycle.core.events import OrderStatusReport
from lifecycle.core.ids import Cloid, Oid

from ...simulated.wire import IP_RATE_LIMITED
from .auth import is_address
from .context import Context, HttpRefusal
from .rules import info_weight
from .state import Desk, ms
from .views import (
    fill_json,
    frontend_order,
    l2_book,
    num,
    open_order,
    refused_frontend,
    status_time,
)

__all__ = ["answer_info", "clearinghouse_state"]

#: What every account holds before it trades, in USDC.
BALANCE_USD = Decimal(1_000_000)
_MAX_ROWS = 2000

Handler = Callable[[Context, dict[str, Any]], Awaitable[Any]]


async def answer_info(ctx: Context, body: object) -> Any:
    """The answer to one ``/info`` body.

    Raises:
        HttpRefusal: 422 for a body that does not fit, 429 over the IP budget.
        Lost: A sim lost the answer to a query that goes through it.
    """
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise HttpRefusal.malformed()
    kind = body["type"]
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise HttpRefusal.malformed()
    base = info_weight(kind)
    if not ctx.limiter.admit(ctx.now(), base):
        raise HttpRefusal(429, IP_RATE_LIMITED)
    result = await handler(ctx, body)
    if isinstance(result, list):
        ctx.limiter.charge(ctx.now(), info_weight(kind, len(result)) - base)
    return result


def _user(body: dict[str, Any]) -> str:
    user = body.get("user")
    if not is_address(user):
        raise HttpRefusal.malformed()
    return str(user).lower()


def _dex(body: dict[str, Any]) -> str:
    dex = body.get("dex", "")
    if dex is None:
        return ""
    if not isinstance(dex, str):
        raise HttpRefusal.malformed()
    return dex


# --- markets ------------------------------------------------------------------------------


def _meta(ctx: Context) -> dict[str, Any]:
    universe = [
        {"name": m.name, "szDecimals": m.sz_decimals, "maxLeverage": m.max_leverage,
         "marginTableId": m.max_leverage}
        for m in ctx.markets
    ]
    tables = [
        [lev, {"description": "", "marginTiers": [{"lowerBound": "0.0", "maxLeverage": lev}]}]
        for lev in sorted({m.max_leverage for m in ctx.markets})
    ]
    return {"universe": universe, "marginTables": tables}


async def _meta_handler(ctx: Context, body: dict[str, Any]) -> Any:
    if _dex(body):
        return {"universe": [], "marginTables": []}
    return _meta(ctx)


async def _meta_and_ctxs(ctx: Context, body: dict[str, Any]) -> Any:
    if _dex(body):
        return [{"universe": [], "marginTables": []}, []]
    ctxs = []
    for asset, market in enumerate(ctx.markets):
        mid = ctx.mid(asset)
        bid, ask = ctx.ledger.quotes[asset].sim.bbo()
        ctxs.append({
            "dayNtlVlm": "0.0", "funding": "0.0000125", "impactPxs": [num(bid), num(ask)],
            "markPx": num(mid), "midPx": num(mid), "openInterest": "0.0", "oraclePx": num(mid),
            "premium": "0.0", "prevDayPx": num(market.params.mid), "dayBaseVlm": "0.0",
        })
    return [_meta(ctx), ctxs]


_USDC = {"name": "USDC", "szDecimals": 8, "weiDecimals": 8, "index": 0,
         "tokenId": "0x6d1e7cde53ba9467b783cb7c530ce054", "isCanonical": True,
         "evmContract": None, "fullName": None}


async def _spot_meta(ctx: Context, body: dict[str, Any]) -> Any:
    return {"universe": [], "tokens": [dict(_USDC)]}


async def _spot_meta_and_ctxs(ctx: Context, body: dict[str, Any]) -> Any:
    return [{"universe": [], "tokens": [dict(_USDC)]}, []]


async def _perp_dexs(ctx: Context, body: dict[str, Any]) -> Any:
    return [None]


async def _all_mids(ctx: Context, body: dict[str, Any]) -> Any:
    if _dex(body):
        return {}
    return {m.name: num(ctx.mid(i)) for i, m in enumerate(ctx.markets)}


async def _l2_book(ctx: Context, body: dict[str, Any]) -> Any:
    asset = ctx.asset_of(body.get("coin"))
    if asset is None:
        return None
    return l2_book(ctx.ledger, asset, ctx.now())


# --- orders -------------------------------------------------------------------------------


async def _snapshots(ctx: Context, desks: list[Desk]) -> list[tuple[Desk, Any]]:
    """Each desk's open-orders snapshot, through the sims (lag, latency, faults)."""
    fetch = FetchOpenOrders(reason="openOrders")
    responses = await asyncio.gather(*(ctx.request(d, (fetch,)) for d in desks))
    out = []
    for desk, response in zip(desks, responses, strict=True):
        ctx.results(response)
        assert response.snapshot is not None  # a definitive answer to a fetch carries one
        out.append((desk, response.snapshot))
    return out


async def _open_orders(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    if _dex(body):
        return []
    rows = []
    for desk, snapshot in await _snapshots(ctx, ctx.ledger.desks_of(user)):
        for row in snapshot.orders:
            order = desk.sim.book.orders[row.oid]
            out = open_order(ctx.ledger, desk, order)
            out["sz"] = num(row.size)  # what remained when the snapshot was taken
            rows.append(out)
    rows.sort(key=lambda r: -r["oid"])
    return rows


async def _frontend_open_orders(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    if _dex(body):
        return []
    rows = []
    for desk, snapshot in await _snapshots(ctx, ctx.ledger.desks_of(user)):
        for row in snapshot.orders:
            out = frontend_order(ctx.ledger, desk, desk.sim.book.orders[row.oid])
            out["sz"] = num(row.size)
            rows.append(out)
    rows.sort(key=lambda r: -r["oid"])
    return rows


async def _order_status(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    target = body.get("oid")
    ledger = ctx.ledger
    refused = ledger.refused(user)
    if isinstance(target, str):
        try:
            cloid = Cloid(target)
        except ValueError:
            raise HttpRefusal.malformed() from None
        found = None
        for desk in ledger.desks_of(user):
            order = desk.sim.book.by_cloid.get(cloid)
            if order is not None and (found is None or order.placed_at >= found[1].placed_at):
                found = (desk, order)
        late = [r for r in refused if r.terms.cloid == cloid]
        if late and (found is None or late[-1].time >= ms(found[1].placed_at)):
            return _status_of_refused(late[-1])
        if found is None:
            return {"status": "unknownOid"}
        query = QueryOrderStatus(cloid=cloid, oid=None)
    elif isinstance(target, int) and not isinstance(target, bool) and target >= 0:
        for r in refused:
            if r.oid == target:
                return _status_of_refused(r)
        found = ledger.order(user, target)
        if found is None:
            return {"status": "unknownOid"}
        query = QueryOrderStatus(cloid=None, oid=Oid(found[1].oid))
    else:
        raise HttpRefusal.malformed()
    desk, order = found
    (result,) = ctx.results(await ctx.request(desk, (query,)))
    report = result.events[0]
    assert isinstance(report, OrderStatusReport)
    if report.status == "unknownOid":
        return {"status": "unknownOid"}
    return {"status": "order", "order": {
        "order": frontend_order(ledger, desk, order, frozen_size=True),
        "status": report.status, "statusTimestamp": status_time(order),
    }}


def _status_of_refused(order: Any) -> dict[str, Any]:
    return {"status": "order", "order": {
        "order": refused_frontend(order), "status": order.status, "statusTimestamp": order.time,
    }}


async def _historical_orders(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    ledger = ctx.ledger
    rows: list[dict[str, Any]] = []
    for desk in ledger.desks_of(user):
        ledger.sync(desk)
        for order in desk.sim.book.orders.values():
            rows.append({"order": frontend_order(ledger, desk, order), "status": order.status,
                         "statusTimestamp": status_time(order)})
    rows.extend(_status_of_refused(r)["order"] for r in ledger.refused(user))
    rows.sort(key=lambda r: (-r["statusTimestamp"], -r["order"]["oid"]))
    return rows[:_MAX_ROWS]


# --- fills and the account ----------------------------------------------------------------


async def _user_fills(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    rows = ctx.ledger.fills(user)
    return [fill_json(r) for r in reversed(rows[-_MAX_ROWS:])]


async def _user_fills_by_time(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    start, end = body.get("startTime"), body.get("endTime")
    if not isinstance(start, int) or not (end is None or isinstance(end, int)):
        raise HttpRefusal.malformed()
    stop = end if end is not None else ctx.now_ms()
    rows = [r for r in ctx.ledger.fills(user) if start <= r.time <= stop]
    return [fill_json(r) for r in rows[:_MAX_ROWS]]


def clearinghouse_state(ctx: Context, user: str) -> dict[str, Any]:
    """The account's positions and margin (``clearinghouseState``)."""
    positions = []
    value = BALANCE_USD
    notional_total = margin_total = Decimal(0)
    for row in ctx.ledger.fills(user):
        value += row.closed_pnl - row.fee
    for desk in ctx.ledger.desks_of(user):
        szi = desk.position
        if szi == 0:
            continue
        mid = ctx.mid(desk.asset)
        is_cross, lev = ctx.leverage.get((user, desk.asset), (True, desk.market.max_leverage))
        notional = abs(szi) * mid
        pnl = (mid - desk.entry) * szi
        margin = notional / lev
        value += pnl
        notional_total += notional
        margin_total += margin
        positions.append({"type": "oneWay", "position": {
            "coin": desk.coin, "szi": num(szi), "entryPx": num(desk.entry),
            "positionValue": num(notional.quantize(Decimal("0.000001"))),
            "unrealizedPnl": num(pnl.quantize(Decimal("0.000001"))),
            "returnOnEquity": num((pnl / margin).quantize(Decimal("0.000001"))),
            "liquidationPx": None, "marginUsed": num(margin.quantize(Decimal("0.000001"))),
            "maxLeverage": desk.market.max_leverage,
            "leverage": {"type": "cross" if is_cross else "isolated", "value": lev},
            "cumFunding": {"allTime": "0.0", "sinceOpen": "0.0", "sinceChange": "0.0"},
        }})
    value = value.quantize(Decimal("0.000001"))
    summary = {"accountValue": num(value), "totalNtlPos": num(notional_total),
               "totalRawUsd": num(value), "totalMarginUsed": num(margin_total)}
    return {
        "assetPositions": positions, "marginSummary": summary,
        "crossMarginSummary": dict(summary), "crossMaintenanceMarginUsed": "0.0",
        "withdrawable": num(max(value - margin_total, Decimal(0))), "time": ctx.now_ms(),
    }


async def _clearinghouse(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    if _dex(body):
        return clearinghouse_state(ctx, "")
    return clearinghouse_state(ctx, user)


async def _spot_clearinghouse(ctx: Context, body: dict[str, Any]) -> Any:
    _user(body)
    return {"balances": []}


async def _user_rate_limit(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    volume = ctx.ledger.volume_usd(user)
    buffer = ctx.profile.address_request_buffer
    cap = (buffer if buffer is not None else 10_000) + int(volume)
    return {"cumVlm": num(volume), "nRequestsUsed": ctx.actions_used[user],
            "nRequestsCap": cap, "nRequestsSurplus": 0}


async def _extra_agents(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    return [{"name": "", "address": a, "validUntil": None} for a in ctx.accounts.agents_of(user)]


async def _user_role(ctx: Context, body: dict[str, Any]) -> Any:
    user = _user(body)
    account = None if ctx.accounts.open else ctx.accounts.account_of(user)
    if ctx.accounts.is_account(user):
        return {"role": "user"}
    if account is not None:
        return {"role": "agent", "data": {"user": account}}
    return {"role": "missing"}


_HANDLERS: dict[str, Handler] = {
    "meta": _meta_handler,
    "metaAndAssetCtxs": _meta_and_ctxs,
    "spotMeta": _spot_meta,
    "spotMetaAndAssetCtxs": _spot_meta_and_ctxs,
    "perpDexs": _perp_dexs,
    "allMids": _all_mids,
    "l2Book": _l2_book,
    "openOrders": _open_orders,
    "frontendOpenOrders": _frontend_open_orders,
    "orderStatus": _order_status,
    "historicalOrders": _historical_orders,
    "userFills": _user_fills,
    "userFillsByTime": _user_fills_by_time,
    "clearinghouseState": _clearinghouse,
    "spotClearinghouseState": _spot_clearinghouse,
    "userRateLimit": _user_rate_limit,
    "extraAgents": _extra_agents,
    "userRole": _user_role,
}
