"""``/ws``: the loopback's websocket, with Hyperliquid's frames.

Theory of operation
-------------------
A connection opens with the text frame ``Websocket connection established.``
and then speaks JSON (the protocol reference, section 6): ``{"method":
"ping"}`` gets ``{"channel": "pong"}``; ``subscribe``/``unsubscribe`` are
acknowledged on ``subscriptionResponse`` or refused on ``error``; ``post``
runs an info request or an action and answers on ``post``. A connection that
sends nothing for 60 s is closed.

What the account's sims send on their simulated websocket reaches the
connections subscribed to that account, when the sim delivers it (after the
profile's delay, duplicated, reordered or lost as the profile says):
``orderUpdates`` (``open``, ``filled``, every cancel status), ``userFills``,
and ``userEvents`` (channel ``user``: fills, and ``nonUserCancel`` for the
exchange's own cancels). A subscription to ``userFills`` starts with the
account's fills flagged ``isSnapshot: true``; ``orderUpdates`` and
``userEvents`` replay nothing. ``allMids``, ``l2Book`` and ``bbo`` start with
the current value and are pushed when it changes.

When a sim's websocket drops, every connection subscribed to that account is
closed, alternately with a normal close (1000) and by cutting the TCP
connection (the client sees 1006); what the sim sends while it is down is
lost, and a client that reconnects gets no replay of order updates.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from lifecycle.core.events import OrderAccepted, OrderCanceled, OrderFilled

from ...simulated import WsMessage
from .context import Context, HttpRefusal, Lost
from .exchange import answer_exchange
from .info import answer_info
from .state import Desk, ms
from .views import basic_order, fill_json, l2_book, num

__all__ = ["IDLE_TIMEOUT_S", "Feed"]

#: A connection that sends nothing for this long is closed.
IDLE_TIMEOUT_S = 60.0
_USER_CHANNELS = ("orderUpdates", "userFills", "userEvents")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class _Conn:
    """One websocket connection: its subscriptions and its outgoing queue."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        #: Subscriptions by their canonical key.
        self.subs: dict[str, dict[str, Any]] = {}
        self.writer: asyncio.Task[None] | None = None
        #: What was last pushed on each market subscription (the part that tells a change).
        self.sent: dict[str, str] = {}

    def send(self, frame: Any) -> None:
        self.queue.put_nowait(frame if isinstance(frame, str) else _dumps(frame))

    def wants(self, kind: str, **match: str) -> bool:
        return any(
            s["type"] == kind and all(s.get(k) == v for k, v in match.items())
            for s in self.subs.values()
        )


def _canonical(sub: object) -> dict[str, Any] | None:
    """A subscription's fields that identify it, or None if it is not one the loopback has."""
    if not isinstance(sub, dict):
        return None
    kind = sub.get("type")
    if kind in _USER_CHANNELS:
        user = sub.get("user")
        if not isinstance(user, str) or len(user) != 42:
            return None
        return {"type": kind, "user": user.lower()}
    if kind in ("l2Book", "bbo", "trades"):
        coin = sub.get("coin")
        return {"type": kind, "coin": coin} if isinstance(coin, str) else None
    if kind == "allMids":
        dex = sub.get("dex") or ""
        return {"type": kind, "dex": dex} if isinstance(dex, str) else None
    return None


class Feed:
    """Every websocket connection of the loopback (see the module docstring)."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._conns: set[_Conn] = set()
        self._drops = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # --- connections --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one websocket connection until either side closes it."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        conn = _Conn(ws, request)
        self._conns.add(conn)
        conn.writer = asyncio.create_task(self._write(conn))
        conn.send("Websocket connection established.")
        try:
            while not ws.closed:
                try:
                    msg = await ws.receive(timeout=IDLE_TIMEOUT_S)
                except TimeoutError:
                    break
                if msg.type is WSMsgType.TEXT:
                    self._on_text(conn, msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                  WSMsgType.ERROR):
                    break
        finally:
            self._conns.discard(conn)
            conn.queue.put_nowait(None)
            if conn.writer is not None:
                await asyncio.gather(conn.writer, return_exceptions=True)
            await ws.close()
        return ws

    @staticmethod
    async def _write(conn: _Conn) -> None:
        while (frame := await conn.queue.get()) is not None:
            if conn.ws.closed:
                break
            try:
                await conn.ws.send_str(frame)
            except (ConnectionError, RuntimeError):
                break

    async def close(self) -> None:
        """Close every connection (the loopback stops)."""
        for conn in list(self._conns):
            await conn.ws.close(code=1001)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def drop(self, account: str) -> None:
        """The account's simulated websocket dropped: cut its subscribers off."""
        for conn in list(self._conns):
            if any(s.get("user") == account for s in conn.subs.values()):
                self._drops += 1
                transport = conn.request.transport
                if self._drops % 2 == 0 and transport is not None:
                    transport.abort()
                else:
                    self._spawn(conn.ws.close(code=1000))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- what clients send --------------------------------------------------------------

    def _on_text(self, conn: _Conn, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            conn.send({"channel": "error", "data": f"Error parsing JSON into valid websocket "
                                                   f"request: {text}"})
            return
        method = msg.get("method") if isinstance(msg, dict) else None
        if method == "ping":
            conn.send({"channel": "pong"})
        elif method in ("subscribe", "unsubscribe"):
            self._subscription(conn, method, msg.get("subscription"))
        elif method == "post":
            self._spawn(self._post(conn, msg.get("id"), msg.get("request")))
        else:
            conn.send({"channel": "error", "data": f"Error parsing JSON into valid websocket "
                                                   f"request: {text}"})

    def _subscription(self, conn: _Conn, method: str, sub: Any) -> None:
        canonical = _canonical(sub)
        echo = _dumps(sub)
        if canonical is None:
            conn.send({"channel": "error", "data": f"Invalid subscription: {echo}"})
            return
        key = _dumps(canonical)
        if method == "unsubscribe":
            conn.sent.pop(key, None)
            if conn.subs.pop(key, None) is None:
                conn.send({"channel": "error", "data": f"Already unsubscribed: {echo}"})
                return
            conn.send({"channel": "subscriptionResponse",
                       "data": {"method": method, "subscription": sub}})
            return
        if key in conn.subs:
            conn.send({"channel": "error", "data": f"Already subscribed: {echo}"})
            return
        conn.subs[key] = canonical
        conn.send({"channel": "subscriptionResponse",
                   "data": {"method": method, "subscription": sub}})
        self._snapshot(conn, canonical)

    def _snapshot(self, conn: _Conn, sub: dict[str, Any]) -> None:
        ctx, kind = self._ctx, sub["type"]
        if kind == "userFills":
            rows = [fill_json(r) for r in ctx.ledger.fills(sub["user"])[-2000:]]
            conn.send({"channel": "userFills",
                       "data": {"isSnapshot": True, "user": sub["user"], "fills": rows}})
        elif kind not in _USER_CHANNELS:
            self._push_market(conn, _dumps(sub), sub, {})

    async def _post(self, conn: _Conn, request_id: Any, request: Any) -> None:
        kind = request.get("type") if isinstance(request, dict) else None
        payload = request.get("payload") if isinstance(request, dict) else None
        try:
            if kind == "info":
                data = await answer_info(self._ctx, payload)
                assert isinstance(payload, dict)
                response: dict[str, Any] = {
                    "type": "info", "payload": {"type": payload["type"], "data": data}}
            elif kind == "action":
                response = {"type": "action", "payload": await answer_exchange(self._ctx, payload)}
            else:
                raise HttpRefusal.malformed()
        except HttpRefusal as exc:
            response = {"type": "error", "payload": f"{exc.status} {exc.text}"}
        except Lost as exc:
            if exc.kind == "timeout":
                return  # the answer never comes
            response = {"type": "error", "payload": "502 Bad Gateway"}
        conn.send({"channel": "post", "data": {"id": request_id, "response": response}})

    # --- what the exchange sends --------------------------------------------------------

    def _to_user(self, kind: str, account: str, frame: dict[str, Any]) -> None:
        text = _dumps(frame)
        for conn in self._conns:
            if conn.wants(kind, user=account):
                conn.send(text)

    def publish(self, desk: Desk, message: WsMessage) -> None:
        """Send what a sim's websocket delivered to the account's subscribers."""
        account = desk.account
        assert account is not None
        ledger, event = self._ctx.ledger, message.event
        book = desk.sim.book
        if isinstance(event, OrderAccepted):
            order = book.orders[event.oid]
            taken = sum((f.size for f in order.fills if f.at <= order.placed_at), Decimal(0))
            item = {"order": basic_order(ledger, desk, order, order.size - taken),
                    "status": "open", "statusTimestamp": ms(order.placed_at)}
            self._to_user("orderUpdates", account, {"channel": "orderUpdates", "data": [item]})
        elif isinstance(event, OrderCanceled) and event.oid is not None:
            order = book.orders[event.oid]
            basic = basic_order(ledger, desk, order, order.remaining)
            item = {"order": basic, "status": event.status,
                    "statusTimestamp": ms(order.ended_at or order.placed_at)}
            self._to_user("orderUpdates", account, {"channel": "orderUpdates", "data": [item]})
            if event.exchange_initiated:
                gone = {"nonUserCancel": [{"coin": desk.coin, "oid": basic["oid"]}]}
                self._to_user("userEvents", account, {"channel": "user", "data": gone})
        elif isinstance(event, OrderFilled) and event.oid is not None:
            row = ledger.fill_row(desk, event.tid)
            fill = fill_json(row, with_cloid=event.cloid is not None)
            self._to_user("userFills", account, {"channel": "userFills", "data": {
                "isSnapshot": False, "user": account, "fills": [fill]}})
            self._to_user("userEvents", account, {"channel": "user", "data": {"fills": [fill]}})
            order = book.orders[event.oid]
            upto = sum((f.size for f in order.fills if f.tid <= event.tid), Decimal(0))
            if upto == order.size:
                item = {"order": basic_order(ledger, desk, order, Decimal(0)),
                        "status": "filled", "statusTimestamp": row.time}
                self._to_user("orderUpdates", account,
                              {"channel": "orderUpdates", "data": [item]})

    def _current_mids(self) -> dict[str, str]:
        ctx = self._ctx
        return {m.name: num(ctx.mid(i)) for i, m in enumerate(ctx.markets)}

    def _market_frame(self, sub: dict[str, Any]) -> tuple[str, str] | None:
        """A market subscription's frame now, and the part of it that tells a change."""
        kind = sub["type"]
        if kind == "allMids":
            if sub["dex"]:
                return None
            mids = {"mids": self._current_mids()}
            text = _dumps({"channel": "allMids", "data": mids})
            return text, text
        asset = self._ctx.asset_of(sub["coin"])
        if asset is None or kind == "trades":
            return None
        if kind == "l2Book":
            book = l2_book(self._ctx.ledger, asset, self._ctx.now())
            return _dumps({"channel": "l2Book", "data": book}), _dumps(book["levels"])
        book = l2_book(self._ctx.ledger, asset, self._ctx.now(), depth=1)
        bids, asks = book["levels"]
        bbo = [bids[0] if bids else None, asks[0] if asks else None]
        frame = {"channel": "bbo", "data": {"coin": book["coin"], "time": book["time"], "bbo": bbo}}
        return _dumps(frame), _dumps(bbo)

    def _push_market(self, conn: _Conn, key: str, sub: dict[str, Any],
                     cache: dict[str, tuple[str, str] | None]) -> None:
        if key not in cache:
            cache[key] = self._market_frame(sub)
        found = cache[key]
        if found is not None and conn.sent.get(key) != found[1]:
            conn.sent[key] = found[1]
            conn.send(found[0])

    def market_tick(self) -> None:
        """Push every market subscription whose value changed since it was last pushed."""
        cache: dict[str, tuple[str, str] | None] = {}
        for conn in self._conns:
            for key, sub in conn.subs.items():
                if sub["type"] not in _USER_CHANNELS:
                    self._push_market(conn, key, sub, cache)
