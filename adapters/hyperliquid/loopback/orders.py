"""Orders, cancels and modifies: one Hyperliquid action as requests to the account's sims.

Theory of operation
-------------------
An action's items are checked one by one (asset, order type, the order rules
of :mod:`.rules`); an item that fails is answered in its place and goes no
further. The others are grouped by desk (one sim per account and market), and
by kind, since a sim takes a batch of one kind; the groups go to their sims
at once and the action is answered when every group has its answer, each
item's status in the action's order. The sims' words become the exchange's:
``{"resting": ...}``, ``{"filled": ...}``, ``{"error": ...}``, ``"success"``.

Time in force: ``Gtc`` rests, ``Alo`` is post-only, ``Ioc`` (and
``FrontendMarket``) trades what it can at once (:class:`~.markets.IocOrder`).
A modify is the sim's cancel-replace: a new oid, the same cloid (a modify that
names no cloid keeps the order's), side, time in force and reduce-only as
they were; a modify that asks to change any of those is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lifecycle.core.commands import CancelOrder, Command, ModifyOrder, PlaceOrder
from lifecycle.core.events import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.runtime import CommandResult

from ...simulated.wire import CANCEL_GONE, MODIFY_GONE
from .actions import CancelAction, ModifyAction, OrderAction, OrderWire
from .context import Context
from .markets import IocOrder
from .rules import (
    BUILDER_NOT_APPROVED,
    TRIGGER_UNSUPPORTED,
    check_order,
    reject_text,
    unknown_asset,
)
from .state import Desk, OrderTerms, RefusedOrder, ms
from .views import num

__all__ = ["MODIFY_TERMS", "cancel", "modify", "place"]

#: A modify that would change what the sim keeps from the original order.
MODIFY_TERMS = (
    "The loopback exchange modifies price and size only: side, time in force, reduce-only "
    "and cloid must stay as they were."
)

Status = str | dict[str, Any]


async def _run(
    ctx: Context, items: Sequence[tuple[int, Desk, Command]]
) -> dict[int, tuple[Desk, CommandResult]]:
    """Send the items to their sims, grouped by desk and kind; results by item index."""
    groups: dict[tuple[int, type], list[tuple[int, Desk, Command]]] = {}
    for item in items:
        groups.setdefault((item[1].index, type(item[2])), []).append(item)
    batches = list(groups.values())
    responses = await asyncio.gather(
        *(ctx.request(batch[0][1], [c for _, _, c in batch]) for batch in batches)
    )
    out: dict[int, tuple[Desk, CommandResult]] = {}
    for batch, response in zip(batches, responses, strict=True):
        for (i, desk, _), result in zip(batch, ctx.results(response), strict=True):
            out[i] = (desk, result)
    return out


def _ok(kind: str, statuses: list[Status]) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": statuses}}}


def _with_cloid(body: dict[str, Any], desk: Desk, cloid: Cloid | None) -> dict[str, Any]:
    visible = desk.client_cloid(cloid)
    if visible is not None:
        body["cloid"] = visible
    return body


def _placed(ctx: Context, desk: Desk, result: CommandResult) -> Status:
    """The status of a placement (or of a modify's new order) from the sim's events."""
    fills = [e for e in result.events if isinstance(e, OrderFilled)]
    for event in result.events:
        if isinstance(event, OrderRejected):
            return {"error": reject_text(event.status, event.message)}
        if isinstance(event, OrderAccepted):
            oid = ctx.ledger.hl_oid(desk, event.oid)
            return {"resting": _with_cloid({"oid": oid}, desk, event.cloid)}
    if not fills:
        return {"error": f"Order was not placed ({result.error or 'no answer'})."}
    total = sum((f.size for f in fills), Decimal(0))
    avg = sum((f.size * f.price for f in fills), Decimal(0)) / total
    assert fills[0].oid is not None  # the sim's fills always name their order
    oid = Oid(fills[0].oid)
    order = desk.sim.book.orders[oid]
    body: dict[str, Any] = {"totalSz": num(total),
                            "avgPx": num(avg.quantize(Decimal(1).scaleb(-8))),
                            "oid": ctx.ledger.hl_oid(desk, oid)}
    return {"filled": _with_cloid(body, desk, order.cloid)}


def _check(ctx: Context, wire: OrderWire) -> tuple[str, str] | None:
    """The refusal of an order's terms, as ``(status, text)``; None if it may go on."""
    if wire.asset >= len(ctx.markets):
        return "rejected", unknown_asset(wire.asset)
    if wire.tif is None:
        return "rejected", TRIGGER_UNSUPPORTED
    return check_order(ctx.markets[wire.asset], wire.price, wire.size, ctx.mid(wire.asset))


async def place(ctx: Context, account: str, action: OrderAction) -> dict[str, Any]:
    """Perform an ``order`` action for ``account``."""
    if action.builder:
        return {"status": "err", "response": BUILDER_NOT_APPROVED}
    statuses: list[Status | None] = [None] * len(action.orders)
    items: list[tuple[int, Desk, Command]] = []
    now = ctx.now()
    for i, wire in enumerate(action.orders):
        side = Side.BUY if wire.is_buy else Side.SELL
        terms = OrderTerms(wire.tif or "Gtc", wire.reduce_only, wire.cloid)
        problem = _check(ctx, wire)
        if problem is not None:
            status, text = problem
            statuses[i] = {"error": text}
            if wire.asset < len(ctx.markets):
                ctx.ledger.refuse(account, RefusedOrder(
                    oid=ctx.ledger.new_oid(), coin=ctx.markets[wire.asset].name, side=side,
                    px=wire.price, sz=wire.size, time=ms(now), status=status, terms=terms,
                ))
            continue
        desk = ctx.ledger.desk(account, wire.asset, now)
        cloid = desk.cloid_for(wire.cloid, terms)
        kind = IocOrder if wire.tif in ("Ioc", "FrontendMarket") else PlaceOrder
        command = kind(cloid=cloid, side=side, price=wire.price, size=wire.size,
                       post_only=wire.tif == "Alo", reduce_only=wire.reduce_only)
        items.append((i, desk, command))
    for i, (desk, result) in (await _run(ctx, items)).items():
        statuses[i] = _placed(ctx, desk, result)
    return _ok("order", [s for s in statuses if s is not None])


async def cancel(ctx: Context, account: str, action: CancelAction) -> dict[str, Any]:
    """Perform a ``cancel`` or ``cancelByCloid`` action for ``account``."""
    statuses: list[Status | None] = [None] * len(action.cancels)
    items: list[tuple[int, Desk, Command]] = []
    for i, (asset, target) in enumerate(action.cancels):
        if asset >= len(ctx.markets):
            statuses[i] = {"error": unknown_asset(asset)}
            continue
        if isinstance(target, Cloid):
            desk = next((d for d in ctx.ledger.desks_of(account) if d.asset == asset), None)
            command = CancelOrder(cloid=target, oid=None)
        else:
            found = ctx.ledger.order(account, target)
            desk = found[0] if found is not None and found[0].asset == asset else None
            command = CancelOrder(cloid=None, oid=Oid(found[1].oid) if found else None)
        if desk is None:
            statuses[i] = {"error": CANCEL_GONE}
            continue
        items.append((i, desk, command))
    for i, (_, result) in (await _run(ctx, items)).items():
        done = any(isinstance(e, OrderCanceled) for e in result.events)
        gone = next((e for e in result.events if isinstance(e, CancelRejected)), None)
        statuses[i] = "success" if done else {"error": gone.message if gone else CANCEL_GONE}
    return _ok("cancel", [s for s in statuses if s is not None])


async def modify(ctx: Context, account: str, action: ModifyAction) -> dict[str, Any]:
    """Perform a ``modify`` or ``batchModify`` action for ``account``."""
    statuses: list[Status | None] = [None] * len(action.modifies)
    items: list[tuple[int, Desk, Command]] = []
    for i, (target, wire) in enumerate(action.modifies):
        problem = _check(ctx, wire)
        if problem is not None:
            statuses[i] = {"error": problem[1]}
            continue
        desk = next((d for d in ctx.ledger.desks_of(account) if d.asset == wire.asset), None)
        if isinstance(target, Cloid):
            order = desk.sim.book.by_cloid.get(target) if desk is not None else None
        else:
            found = ctx.ledger.order(account, target)
            order = found[1] if found is not None and found[0] is desk else None
        if desk is None or order is None or not order.resting:
            statuses[i] = {"error": MODIFY_GONE}
            continue
        terms = desk.order_terms(order)
        side = Side.BUY if wire.is_buy else Side.SELL
        if (side is not order.side or wire.tif != terms.tif
                or wire.reduce_only != terms.reduce_only
                or (wire.cloid is not None and wire.cloid != terms.cloid)):
            statuses[i] = {"error": MODIFY_TERMS}
            continue
        items.append((i, desk, ModifyOrder(cloid=None, oid=Oid(order.oid), price=wire.price,
                                           size=wire.size)))
    for i, (desk, result) in (await _run(ctx, items)).items():
        statuses[i] = _modified(ctx, desk, result)
    done = [s for s in statuses if s is not None]
    if action.single:
        failed = next((s for s in done if isinstance(s, dict) and "error" in s), None)
        if failed is not None:
            return {"status": "err", "response": failed["error"]}
        return {"status": "ok", "response": {"type": "default"}}
    return _ok("batchModify", done)


def _modified(ctx: Context, desk: Desk, result: CommandResult) -> Status:
    for event in result.events:
        if isinstance(event, ModifyRejected):
            return {"error": reject_text("", event.message)}
        if isinstance(event, OrderModified):
            # The answer tells what the modify itself did, when it was processed: a new
            # order that took liquidity then is `filled`; one that rested then is `resting`,
            # even if a taker filled it before this answer is written.
            fills = tuple(e for e in result.events if isinstance(e, OrderFilled))
            if not fills:
                order = desk.sim.book.orders[event.oid]
                oid = ctx.ledger.hl_oid(desk, event.oid)
                return {"resting": _with_cloid({"oid": oid}, desk, order.cloid)}
            as_placed = CommandResult(command=result.command, events=fills, ambiguous=False)
            return _placed(ctx, desk, as_placed)
    return {"error": MODIFY_GONE}
