"""The loopback's books: desks, and the mapping between Hyperliquid's ids and the sims'.

Theory of operation
-------------------
A :class:`Desk` is one :class:`~.markets.LoopbackSim` for one account on one
market (or, with no account, the market's quote). :class:`Ledger` creates
desks as accounts first trade, moves them all to the same instant
(:meth:`Ledger.advance`) and keeps what the sims do not:

* **ids**: the sims of different accounts allocate overlapping oids and trade
  ids, so the ledger gives every order and trade that appears on any desk a
  Hyperliquid oid and tid of its own, in the order they appear (it looks at
  each desk's book after every step, :meth:`Ledger.sync`);
* **cloids**: every sim order carries a cloid; an order the client sent
  without one gets an internal cloid, which no answer ever shows;
* **terms** the sims do not keep (time in force, reduce-only), by sim cloid;
* **fills** as Hyperliquid reports them (start position, direction, closed
  PnL, fee, hash), per account, in time order;
* **refusals** of orders that never reached a sim (the loopback's own order
  rules), so a status query by cloid still finds them.

A request to a desk (:meth:`Desk.submit`) returns a future that the ledger
resolves when the sim delivers its answer, after the sim's latency; what the
sim's websocket delivers is handed back from :meth:`Ledger.advance` for the
feed.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from lifecycle.core.commands import Command
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Side

from ...simulated import FaultProfile, Response, WsMessage
from ...simulated.book import BookOrder
from .markets import LoopbackSim, MarketSpec, derive_seed, price_path

__all__ = ["Desk", "FillRow", "Ledger", "OrderTerms", "RefusedOrder", "ms"]

_ZERO = Decimal(0)
_OID_BASE = 100_000_000_000
_TID_BASE = 500_000_000_000_000
_TAKER_FEE = Decimal("0.00045")
_MAKER_FEE = Decimal("0.00015")
_FEE_STEP = Decimal("0.000001")


def ms(t: float) -> int:
    """Seconds since the epoch to Hyperliquid's milliseconds."""
    return round(t * 1000)


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """What the client asked that the sim does not keep."""

    tif: str
    reduce_only: bool
    cloid: Cloid | None


@dataclass(frozen=True, kw_only=True, slots=True)
class FillRow:
    """One fill as Hyperliquid reports it (ids already the loopback's)."""

    tid: int
    oid: int
    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    time: int
    start_position: Decimal
    dir: str
    closed_pnl: Decimal
    crossed: bool
    fee: Decimal
    hash: str
    cloid: Cloid | None


@dataclass(frozen=True, kw_only=True, slots=True)
class RefusedOrder:
    """An order the loopback's rules refused before it reached a sim."""

    oid: int
    coin: str
    side: Side
    px: Decimal
    sz: Decimal
    time: int
    status: str
    terms: OrderTerms


class Desk:
    """One sim: an account's orders on one market, or (no account) the market's quote."""

    def __init__(
        self, *, index: int, account: str | None, asset: int, market: MarketSpec,
        sim: LoopbackSim,
    ) -> None:
        self.index = index
        self.account = account
        self.asset = asset
        self.market = market
        self.sim = sim
        self.coin = market.name
        #: Futures of the requests awaiting their answer, by ticket id.
        self.waiters: dict[int, asyncio.Future[Response]] = {}
        self.terms: dict[Cloid, OrderTerms] = {}
        self._internal = CloidFactory("loopback-internal", run_id=index % 2**32)
        self._internal_cloids: set[Cloid] = set()
        self.seen_orders = 0
        self.seen_fills = 0
        self.seen_disconnects = 0
        self.position = _ZERO
        self.entry = _ZERO

    def cloid_for(self, cloid: Cloid | None, terms: OrderTerms) -> Cloid:
        """The sim cloid of a new placement: the client's, or a fresh internal one."""
        if cloid is None:
            cloid = self._internal.next()
            self._internal_cloids.add(cloid)
        self.terms[cloid] = terms
        return cloid

    def client_cloid(self, cloid: Cloid | None) -> Cloid | None:
        """The cloid the client knows for a sim cloid (None for an internal one)."""
        return None if cloid is None or cloid in self._internal_cloids else cloid

    def order_terms(self, order: BookOrder) -> OrderTerms:
        """The terms of a sim order (orders the loopback did not place rest Alo)."""
        found = self.terms.get(order.cloid) if order.cloid is not None else None
        if found is None:
            return OrderTerms("Alo" if order.post_only else "Gtc", False,
                              self.client_cloid(order.cloid))
        return found

    def submit(self, commands: Sequence[Command], now: float) -> asyncio.Future[Response]:
        """Send one request to the sim; the future resolves with its answer."""
        ticket = self.sim.submit(tuple(commands), now)
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self.waiters[ticket.id] = future
        return future


@dataclass(slots=True)
class _AccountBook:
    fills: list[FillRow] = field(default_factory=list)
    refused: list[RefusedOrder] = field(default_factory=list)


class Ledger:
    """Every desk of the loopback, and the ids, fills and refusals around them.

    Args:
        markets: The markets, asset id = position.
        profile: The fault profile of every sim.
        seed: Seeds every sim (prices per market; the rest per account too).
        start: When the market starts (seconds since the epoch).
        on_schedule: Called whenever a sim schedules something (to wake a pump).
    """

    def __init__(
        self, *, markets: Sequence[MarketSpec], profile: FaultProfile, seed: int, start: float,
        on_schedule: Callable[[float], None] | None = None,
    ) -> None:
        self.markets = tuple(markets)
        self.profile = profile
        self.seed = seed
        self.start = start
        self._on_schedule = on_schedule
        self._desks: list[Desk] = []
        self._by_key: dict[tuple[str, int], Desk] = {}
        self._accounts: dict[str, _AccountBook] = {}
        self._next_oid = itertools.count(_OID_BASE + derive_seed(seed, "oids") % 1_000_000)
        self._next_tid = itertools.count(_TID_BASE + derive_seed(seed, "tids") % 1_000_000_000)
        self._oid_of: dict[tuple[int, Oid], int] = {}
        self._order_of: dict[int, tuple[Desk, Oid]] = {}
        self._fill_of: dict[tuple[int, int], FillRow] = {}
        self.quotes = tuple(self._new_desk(None, a, start) for a in range(len(self.markets)))

    # --- desks --------------------------------------------------------------------------

    def _new_desk(self, account: str | None, asset: int, now: float) -> Desk:
        market = self.markets[asset]
        sim = LoopbackSim(
            derive_seed(self.seed, market.name, account or "quote"), self.profile,
            coin=market.name, start=self.start, market=market.params,
            prices=price_path(self.seed, market, self.start),
        )
        if now > self.start:
            sim.advance(now)  # catch up with the markets that started with the loopback
        desk = Desk(index=len(self._desks), account=account, asset=asset, market=market, sim=sim)
        desk.seen_disconnects = sim.fault_counts["ws_disconnect"]
        sim.listen(self._on_schedule)
        self._desks.append(desk)
        return desk

    def desk(self, account: str, asset: int, now: float) -> Desk:
        """The desk of ``account`` on market ``asset``, created at ``now`` if new."""
        key = (account, asset)
        desk = self._by_key.get(key)
        if desk is None:
            desk = self._by_key[key] = self._new_desk(account, asset, now)
            self._accounts.setdefault(account, _AccountBook())
        return desk

    def desks_of(self, account: str) -> list[Desk]:
        """The desks ``account`` has traded on, by asset."""
        return sorted(
            (d for (a, _), d in self._by_key.items() if a == account), key=lambda d: d.asset
        )

    def all_desks(self) -> tuple[Desk, ...]:
        """Every desk (quotes first)."""
        return tuple(self._desks)

    # --- time ---------------------------------------------------------------------------

    def advance(self, now: float) -> list[tuple[Desk, WsMessage]]:
        """Move every sim to ``now``: answer the requests whose answer is due, and
        return the websocket messages delivered, in each desk's delivery order."""
        out: list[tuple[Desk, WsMessage]] = []
        for desk in self._desks:
            items = desk.sim.advance(now)
            self.sync(desk)
            for item in items:
                if isinstance(item, Response):
                    future = desk.waiters.pop(item.ticket.id, None)
                    if future is not None and not future.done():
                        future.set_result(item)
                elif isinstance(item, WsMessage) and not item.snapshot:
                    # Replays after a reconnect are the feed's business (isSnapshot).
                    out.append((desk, item))
        return out

    def next_time(self) -> float | None:
        """When the next sim has something to do."""
        times = [t for d in self._desks if (t := d.sim.next_time()) is not None]
        return min(times) if times else None

    def disconnected(self) -> list[Desk]:
        """Desks whose simulated websocket dropped since the last call."""
        dropped = []
        for desk in self._desks:
            count = desk.sim.fault_counts["ws_disconnect"]
            if count > desk.seen_disconnects:
                desk.seen_disconnects = count
                if desk.account is not None:
                    dropped.append(desk)
        return dropped

    def cancel_waiters(self) -> None:
        """Cancel every request still awaiting an answer (the loopback stops)."""
        for desk in self._desks:
            for future in desk.waiters.values():
                future.cancel()
            desk.waiters.clear()

    # --- ids ----------------------------------------------------------------------------

    def new_oid(self) -> int:
        """A fresh Hyperliquid oid."""
        return next(self._next_oid)

    def hl_oid(self, desk: Desk, oid: Oid) -> int:
        """The Hyperliquid oid of sim order ``oid`` on ``desk``."""
        key = (desk.index, oid)
        found = self._oid_of.get(key)
        if found is None:
            self.sync(desk)
            found = self._oid_of.get(key)
            if found is None:
                raise KeyError(f"desk {desk.index} has no order {oid}")
        return found

    def order(self, account: str, oid: int) -> tuple[Desk, BookOrder] | None:
        """The desk and sim order of ``account``'s Hyperliquid oid, if any."""
        found = self._order_of.get(oid)
        if found is None or found[0].account != account:
            return None
        desk, sim_oid = found
        return desk, desk.sim.book.orders[sim_oid]

    def fill_row(self, desk: Desk, tid: int) -> FillRow:
        """The fill row of sim trade ``tid`` on ``desk``."""
        self.sync(desk)
        return self._fill_of[(desk.index, tid)]

    def sync(self, desk: Desk) -> None:
        """Give every new order and trade of ``desk`` its Hyperliquid id (and fill row)."""
        book = desk.sim.book
        if len(book.orders) > desk.seen_orders:
            for order in itertools.islice(book.orders.values(), desk.seen_orders, None):
                hl = next(self._next_oid)
                self._oid_of[(desk.index, order.oid)] = hl
                self._order_of[hl] = (desk, order.oid)
            desk.seen_orders = len(book.orders)
        if len(book.fills) > desk.seen_fills:
            for fill in book.fills[desk.seen_fills:]:
                order = book.orders[fill.oid]
                self._add_fill(desk, order, fill.tid, fill.price, fill.size, fill.at)
            desk.seen_fills = len(book.fills)

    def _add_fill(
        self, desk: Desk, order: BookOrder, tid: int, px: Decimal, sz: Decimal, at: float
    ) -> None:
        start, side = desk.position, order.side
        signed = sz * side.sign
        closing = min(sz, abs(start)) if start * signed < 0 else _ZERO
        pnl = closing * (px - desk.entry) * (1 if start > 0 else -1) if closing else _ZERO
        after = start + signed
        if after == 0:
            desk.entry = _ZERO
        elif start == 0 or start * after < 0:
            desk.entry = px
        elif abs(after) > abs(start):
            desk.entry = (desk.entry * abs(start) + px * sz) / abs(after)
        desk.position = after
        crossed = bool(order.fills) and order.fills[0].tid == tid and at == order.placed_at
        notional = px * sz
        fee = (notional * (_TAKER_FEE if crossed else _MAKER_FEE)).quantize(_FEE_STEP)
        hl_tid = next(self._next_tid)
        digest = hashlib.sha256(f"{self.seed}/{desk.account}/{hl_tid}".encode()).hexdigest()
        row = FillRow(
            tid=hl_tid, oid=self._oid_of[(desk.index, order.oid)], coin=desk.coin, side=side,
            px=px, sz=sz, time=ms(at), start_position=start, dir=_direction(start, side, sz),
            closed_pnl=pnl, crossed=crossed, fee=fee, hash="0x" + digest,
            cloid=desk.client_cloid(order.cloid),
        )
        self._fill_of[(desk.index, tid)] = row
        if desk.account is not None:
            self._accounts[desk.account].fills.append(row)

    # --- accounts -----------------------------------------------------------------------

    def fills(self, account: str) -> list[FillRow]:
        """Every fill of ``account``, oldest first."""
        for desk in self.desks_of(account):
            self.sync(desk)
        book = self._accounts.get(account)
        return list(book.fills) if book is not None else []

    def refuse(self, account: str, order: RefusedOrder) -> None:
        """Record an order the loopback's rules refused."""
        self._accounts.setdefault(account, _AccountBook()).refused.append(order)

    def refused(self, account: str) -> list[RefusedOrder]:
        """The orders of ``account`` the loopback's rules refused, oldest first."""
        book = self._accounts.get(account)
        return list(book.refused) if book is not None else []

    def volume_usd(self, account: str) -> Decimal:
        """What ``account`` has traded, in USD, on every market."""
        return sum((d.sim.truth.volume_usd for d in self.desks_of(account)), _ZERO)


def _direction(start: Decimal, side: Side, sz: Decimal) -> str:
    """Hyperliquid's ``dir`` of a perp fill of ``sz`` on ``side`` from position ``start``."""
    if side is Side.BUY:
        if start >= 0:
            return "Open Long"
        return "Close Short" if sz <= -start else "Short > Long"
    if start <= 0:
        return "Open Short"
    return "Close Long" if sz <= start else "Long > Short"
