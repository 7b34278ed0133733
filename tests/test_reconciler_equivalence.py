"""The reconciler on integer ticks plans exactly as the Decimal reference does.

``tests/reconciler_oracle.py`` keeps the reconciler as it was, on Decimal
arithmetic. Seeded random cases run through both, cycle after cycle: ladders
at several price magnitudes (0.01234 to 99999.5) and ``sz_decimals`` 0 to 5,
orders in every state with terms at, near, or exactly on the thresholds'
boundaries (latch, tolerance, modify, drift, size latch), off the price grid or
partly filled, books that cross, lack a side or are stale, minimum-notional
edges, the modify latch, and unusual thresholds (negative, infinite, NaN).
Every field of every plan must be the same: Decimals down to their
representation, orders as the same order of each world, floats bit for bit,
and the same exception (type and message) where the reference raises. A real
engine run closes the file: two engines, one with each reconciler, fed the same
answers from the exchange.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
import reconciler_oracle as oracle

from lifecycle.config import LifecycleConfig, MarketConfig, ReconcilerConfig
from lifecycle.core.events import OrderAccepted, OrderCanceled, OrderFilled, OrderModified
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState
from lifecycle.engine.facade import Engine
from lifecycle.policy import reconciler as new
from lifecycle.policy.pricing import AssetRules, round_price, tick_at

D = Decimal
S = OrderState
BUY, SELL = Side.BUY, Side.SELL
MAGNITUDES = ("0.01234", "0.5", "1.5", "9.99", "97.3", "100", "1234.5", "30123", "99999.5")
ROUND_MIDS = ("0.1", "1", "10", "100", "1000", "10000", "30000")
BPS_POOL = (0.0, 0.1, 0.5, 1.0, 2.5, 2.675, 3.0, 5.0, 7.5, 10.0, 15.0, 22.5, 33.3, 50.0, 100.0)
STATES = tuple(OrderState)
COMMON_STATES = (S.TRACKED, S.TRACKED, S.TRACKED, S.FINALIZED_PROTECTED, S.MODIFYING,
                 S.PENDING, S.EXPECTED, S.CANCELLING, S.LIVE)


# --- worlds: the orders each reconciler sees, and a stand-in engine ------------------------


class World:
    """The orders of one side of the comparison, and the requests it was asked."""

    def __init__(self) -> None:
        self.orders: list[Order] = []
        self.cloids = CloidFactory("eq", run_id=7)

    def add(self, side: Side, price: Decimal, size: Decimal, now: float) -> Order:
        order = Order(cloid=self.cloids.next(), side=side, price=price, size=size, now=now)
        self.orders.append(order)
        return order

    # The requests Reconciler.apply makes, as the engine would move the states.
    def cancel(self, order: Order, now: float) -> Order:
        order.state = S.GONE if order.state is S.PENDING else S.CANCELLING
        order.state_since = now
        return order

    def modify(self, order: Order, price: Decimal, size: Decimal, now: float) -> Order:
        order.state = S.MODIFYING
        order.state_since = now
        order.requested = (price, size)
        return order

    def place(self, side: Side, price: Decimal, size: Decimal, now: float) -> Order:
        return self.add(side, price, size, now)


OrderSpec = tuple[Side, Decimal, Decimal, OrderState, Decimal, float]


def build(world: World, specs: Sequence[OrderSpec]) -> None:
    for side, price, size, state, filled, since in specs:
        order = world.add(side, price, size, since)
        order.state = state
        order.filled = filled


def mutate(world: World, rng: random.Random, now: float) -> None:
    """Move some orders on, as answers from the exchange would (the same draws on both)."""
    for order in world.orders:
        roll = rng.random()
        state = order.state
        if roll < 0.3:
            continue
        if state is S.MODIFYING and roll < 0.7:
            if order.requested is not None and rng.random() < 0.7:
                order.price, size = order.requested
                order.size = order.filled + size
            order.requested = None
            order.state, order.state_since = S.TRACKED, now
        elif state is S.CANCELLING and roll < 0.8:
            order.state, order.state_since = S.GONE, now
        elif state is S.PENDING:
            order.state, order.state_since = S.EXPECTED, now
        elif state is S.EXPECTED and roll < 0.8:
            order.state, order.state_since = S.FINALIZED_PROTECTED, now
        elif state is S.FINALIZED_PROTECTED and roll < 0.9:
            order.state, order.state_since = S.TRACKED, now
        elif roll > 0.93 and order.remaining > 0:
            # A partial fill, or occasionally the whole rest.
            part = order.remaining if rng.random() < 0.2 else order.remaining / 3
            order.filled += part.quantize(D(1).scaleb(-rng.randint(0, 6)))
        elif roll > 0.985:
            order.state, order.state_since = rng.choice(STATES), now


# --- comparing plans ---------------------------------------------------------------------


def canon(plan: Any, world: World) -> tuple[Any, ...]:
    """Every field of a plan, comparable across the two implementations."""
    index = {id(o): i for i, o in enumerate(world.orders)}

    def order(o: Order) -> int:
        return index[id(o)]

    def dec(d: Decimal) -> tuple[str, str]:
        return repr(d), str(d.as_tuple())

    def level(lv: Any) -> tuple[Any, ...]:
        return dec(lv.price), dec(lv.size)

    def change(m: Any) -> tuple[Any, ...]:
        return order(m.order), dec(m.price), dec(m.size), m.level

    def side(sp: Any) -> tuple[Any, ...]:
        return (
            sp.side,
            tuple((p.side, dec(p.price), dec(p.size), p.level) for p in sp.places),
            tuple(change(m) for m in sp.modifies),
            tuple(order(o) for o in sp.cancels),
            tuple(order(o) for o in sp.kept),
            tuple(change(m) for m in sp.latched),
            tuple(level(lv) for lv in sp.dropped_crossing),
            tuple(level(lv) for lv in sp.skipped_min_notional),
            sp.working,
            sp.targets,
            repr(sp.max_drift_bps),
            sp.decision.value,
        )

    return side(plan.bids), side(plan.asks), plan.cancel_all, plan.skipped, plan.note


def placed(orders: list[Order], world: World) -> tuple[Any, ...]:
    """New orders as their places in the world, with their terms."""
    index = {id(o): i for i, o in enumerate(world.orders)}
    return tuple((index[id(o)], o.side, repr(o.price), repr(o.size)) for o in orders)


def outcome(
    call: Callable[[], Any], world: World, show: Callable[[Any, World], Any] = canon
) -> tuple[Any, ...]:
    try:
        result = call()
    except Exception as exc:  # compared: both must raise alike
        return ("raised", type(exc).__name__, str(exc))
    return ("done", show(result, world))


class Pair:
    """The reference and the new reconciler, each with its own world."""

    def __init__(self, config: ReconcilerConfig, rules: AssetRules) -> None:
        self.config, self.rules = config, rules
        self.old_world, self.new_world = World(), World()
        self.old: Any = None
        self.new: Any = None
        self.old_error = self.new_error = None
        try:
            self.old = oracle.Reconciler(config, rules)
        except Exception as exc:
            self.old_error = (type(exc).__name__, str(exc))
        try:
            self.new = new.Reconciler(config, rules)
        except Exception as exc:
            self.new_error = (type(exc).__name__, str(exc))
        assert self.old_error == self.new_error
        self.compared = 0
        self.plans: list[Any] = []
        self.last_levels: dict[str, tuple[tuple[tuple[str, str], ...], tuple[Any, ...]]] = {}

    def cycle(
        self,
        bids: Sequence[tuple[Decimal, Decimal]],
        asks: Sequence[tuple[Decimal, Decimal]],
        best_bid: Decimal | None,
        best_ask: Decimal | None,
        at: float,
        now: float,
    ) -> None:
        """Plan (and apply) one cycle with both; their outcomes must be identical."""

        def old_plan() -> Any:
            ladder = oracle.Ladder(
                bids=tuple(oracle.Level(price=p, size=s) for p, s in bids),
                asks=tuple(oracle.Level(price=p, size=s) for p, s in asks),
            )
            book = oracle.Book(best_bid=best_bid, best_ask=best_ask, at=at)
            return self.old.plan(ladder, list(self.old_world.orders), book, now)

        def new_plan() -> Any:
            ladder = new.Ladder(bids=self.levels("bids", bids), asks=self.levels("asks", asks))
            book = new.Book(best_bid=best_bid, best_ask=best_ask, at=at)
            return self.new.plan(ladder, list(self.new_world.orders), book, now)

        old_plans: list[Any] = []
        new_plans: list[Any] = []
        expected = outcome(lambda: old_plans.append(old_plan()) or old_plans[0], self.old_world)
        actual = outcome(lambda: new_plans.append(new_plan()) or new_plans[0], self.new_world)
        assert actual == expected
        self.compared += 1
        self.plans += new_plans
        if old_plans:
            applied_old = outcome(
                lambda: self.old.apply(old_plans[0], self.old_world, now), self.old_world, placed
            )
            applied_new = outcome(
                lambda: self.new.apply(new_plans[0], self.new_world, now), self.new_world, placed
            )
            assert applied_new == applied_old
            assert self.new.counters() == self.old.counters()
            assert self.new.last_modify_at == self.old.last_modify_at

    def levels(self, name: str, specs: Sequence[tuple[Decimal, Decimal]]) -> tuple[Any, ...]:
        """The new reconciler's levels of one side: the very tuple of the previous
        cycle when the specs are the same (down to each Decimal's representation),
        as a quoter re-sending its ladder passes it."""
        key = tuple((repr(p), repr(s)) for p, s in specs)
        last = self.last_levels.get(name)
        if last is not None and last[0] == key:
            return last[1]
        levels = tuple(new.Level(price=p, size=s) for p, s in specs)
        self.last_levels[name] = (key, levels)
        return levels

    def mutate(self, seed: float, now: float) -> None:
        mutate(self.old_world, random.Random(seed), now)
        mutate(self.new_world, random.Random(seed), now)


# --- generating cases --------------------------------------------------------------------


def pick_config(rng: random.Random, unusual: bool) -> ReconcilerConfig:
    tolerances = tuple(sorted(rng.sample(BPS_POOL[1:], rng.randint(1, 4))))
    config = dict(
        level_tolerance_bps=tolerances,
        latch_bps=rng.choice((0.0, 0.5, 1.0, 2.5, 3.0, 2.675, 10.0)),
        latch_size_pct=rng.choice((0.0, 5.0, 10.0, 12.5, 33.3, 50.0)),
        max_modify_bps=rng.choice((7.5, 10.0, 20.0, 22.5, 50.0, 100.0)),
        drift_cancel_all_bps=rng.choice((15.0, 30.0, 60.0, 100.0, 200.0, 1000.0, 1000.0)),
        min_modify_interval_ms=rng.choice((0.0, 250.0, 500.0, 1000.0)),
        min_notional_usd=rng.choice((0.0, 0.3, 1.0, 10.0, 10.5)),
        cross_margin_ticks=rng.choice((0, 1, 2, 3)),
        book_age_grace_s=rng.choice((0.0, 1.0, 2.0, 2.5)),
        book_stale_s=rng.choice((3.0, 5.0, 10.0)),
    )
    if not unusual and rng.random() < 0.4:
        # Near the defaults, where most matches are kept or modified.
        config.update(
            level_tolerance_bps=(5.0, 15.0, 22.5),
            latch_bps=rng.choice((2.5, 3.0)),
            latch_size_pct=10.0,
            max_modify_bps=50.0,
            drift_cancel_all_bps=100.0,
        )
    if unusual:
        odd = (-1.0, -0.5, 0.0, float("inf"), float("-inf"), float("nan"), 1e-9, 1e6)
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(
                ("level_tolerance_bps", "latch_bps", "latch_size_pct", "max_modify_bps",
                 "drift_cancel_all_bps", "min_notional_usd", "cross_margin_ticks")
            )
            if key == "level_tolerance_bps":
                config[key] = rng.choice(((), (rng.choice(odd),), (5.0, rng.choice(odd))))
            elif key == "cross_margin_ticks":
                config[key] = rng.choice((-2, -1, 50))
            else:
                config[key] = rng.choice(odd)
    return oracle.unchecked_config(**config)


def rounded(price: Decimal, rules: AssetRules, side: Side) -> Decimal:
    """``price`` rounded as a target would be; as it is when it rounds down to 0."""
    try:
        return round_price(price, rules, side)
    except ValueError:
        return price


def decimals_of(rng: random.Random, value: Decimal, places: int) -> Decimal:
    """``value`` cut to ``places`` decimals (at least one significant digit kept)."""
    cut = value.quantize(D(1).scaleb(-places))
    return cut if cut > 0 else value


def ladder_side(
    rng: random.Random,
    side: Side,
    mid: Decimal,
    count: int,
    exact: bool,
    rules: AssetRules,
    shape: tuple[Decimal, Decimal] | None = None,
) -> list[Decimal]:
    """Level prices around ``mid``: ``shape`` is (offset, spacing), random when None."""
    sign = -1 if side is BUY else 1
    offset, spacing = shape or (
        D(rng.choice((0, 1, 2, 4, 5, 10, 30))) / 10_000,
        D(rng.choice((0, 1, 3, 5, 10, 25))) / 10_000,
    )
    prices = []
    for i in range(count):
        raw = mid * (1 + sign * (offset + i * spacing))
        if exact:
            raw = rounded(raw, rules, side) if raw > 0 else mid
        else:
            raw = decimals_of(rng, raw, rng.randint(rules.max_decimals, 12))
        prices.append(raw if raw > 0 else mid)
    if shape is None and rng.random() < 0.03 and len(prices) > 1:
        prices.reverse()  # not best first: both must refuse it alike
    return prices


def level_size(
    rng: random.Random, price: Decimal, rules: AssetRules, min_notional: float
) -> Decimal:
    lot = D(1).scaleb(-rules.sz_decimals)
    roll = rng.random()
    if roll < 0.3 and min_notional > 0 and min_notional < 1e5:
        # Around the minimum notional: exactly at it when it divides, a lot either side.
        base = (D(repr(min_notional)) / round_price(price, rules, SELL)).quantize(lot)
        size = base + lot * rng.choice((-1, 0, 0, 1))
    elif roll < 0.4:
        size = lot * rng.choice((1, 2, 10))
    elif roll < 0.45:
        size = lot / 2  # truncates to 0 lots
    else:
        size = decimals_of(rng, D(rng.uniform(0.5, 40)) / max(price, D("0.01")), rng.randint(0, 9))
    return size if size > 0 else lot


def order_terms(
    rng: random.Random,
    target: Decimal,
    size: Decimal,
    config: ReconcilerConfig,
    rules: AssetRules,
) -> tuple[Decimal, Decimal]:
    """An order's price and size near a target, often exactly on a threshold."""
    unit = D(1).scaleb(-rules.max_decimals)
    lot = D(1).scaleb(-rules.sz_decimals)
    roll = rng.random()
    sign = rng.choice((-1, 1))
    if roll < 0.25:
        price = target
    elif roll < 0.55:
        bps = [config.latch_bps, config.max_modify_bps, config.drift_cancel_all_bps,
               *config.level_tolerance_bps]
        bps = [b for b in bps if b == b and abs(b) < 1e5]
        chosen = D(repr(rng.choice(bps))) if bps else D(3)
        price = target * (1 + sign * chosen / 10_000)
        nudge = rng.choice((0, 0, 0, 1, -1))
        price = price.quantize(unit) + nudge * unit if rng.random() < 0.6 else price
    elif roll < 0.75:
        price = target + sign * unit * rng.randint(1, 40)
    elif roll < 0.9:
        price = target * (1 + sign * D(rng.randint(1, 80)) / 10_000)
        price = price.quantize(unit)
    else:
        price = target * D(rng.uniform(0.9, 1.1))  # off the grid, many digits
        price = decimals_of(rng, price, rng.randint(rules.max_decimals, 14))
    if price <= 0:
        price = target
    roll = rng.random()
    if roll < 0.5:
        order_size = size
    elif roll < 0.75:
        pct = D(repr(config.latch_size_pct)) if abs(config.latch_size_pct) < 1e5 else D(0)
        order_size = size * (1 + rng.choice((-1, 1)) * pct / 100)
        if rng.random() < 0.5:
            order_size = order_size.quantize(lot)
    elif roll < 0.9:
        order_size = size + lot * rng.randint(-3, 3)
    else:
        order_size = decimals_of(rng, size * D(rng.uniform(0.5, 2)), rng.randint(0, 10))
    if not order_size > 0:
        order_size = size if size > 0 else lot
    return price, order_size


def orders_for(
    rng: random.Random,
    side: Side,
    prices: Sequence[Decimal],
    sizes: Sequence[Decimal],
    mid: Decimal,
    config: ReconcilerConfig,
    rules: AssetRules,
    now: float,
) -> list[OrderSpec]:
    specs = []
    for _ in range(rng.choice((0, 1, 2, 3, 5, 8, 12))):
        if prices and rng.random() < 0.85:
            i = rng.randrange(len(prices))
            target = rounded(prices[i], rules, side)
            size = max(sizes[i].quantize(D(1).scaleb(-rules.sz_decimals), "ROUND_DOWN"),
                       D(1).scaleb(-rules.sz_decimals))
        else:
            target = mid * (1 + (-1 if side is BUY else 1) * D(rng.randint(0, 60)) / 10_000)
            size = D(1).scaleb(-rules.sz_decimals) * rng.randint(1, 50)
        price, order_size = order_terms(rng, target, size, config, rules)
        state = rng.choice(COMMON_STATES) if rng.random() < 0.85 else rng.choice(STATES)
        filled = D(0)
        if rng.random() < 0.15:
            filled = (order_size * D(rng.choice(("0.25", "0.5", "1", "1.5")))).quantize(
                D(1).scaleb(-rules.sz_decimals - rng.randint(0, 2))
            )
        specs.append((side, price, order_size, state, filled, now - rng.choice((0.0, 0.5, 3.0))))
    return specs


def book_for(
    rng: random.Random,
    mid: Decimal,
    bids: Sequence[Decimal],
    asks: Sequence[Decimal],
    config: ReconcilerConfig,
    rules: AssetRules,
) -> tuple[Decimal | None, Decimal | None]:
    tick = tick_at(mid, rules)
    spread = tick * rng.randint(1, 5)
    best_bid: Decimal | None = (mid - spread).quantize(tick) if mid - spread > 0 else None
    best_ask: Decimal | None = (mid + spread).quantize(tick)
    roll = rng.random()
    margin = max(config.cross_margin_ticks, 0)
    if roll < 0.2 and bids:
        # The crossing limit exactly on a bid level (then a tick either side).
        target = rounded(bids[rng.randrange(len(bids))], rules, BUY)
        best_ask = target + margin * tick_at(target, rules) + rng.choice((-1, 0, 0, 1)) * tick
    elif roll < 0.4 and asks:
        target = rounded(asks[rng.randrange(len(asks))], rules, SELL)
        best_bid = target - margin * tick_at(target, rules) + rng.choice((-1, 0, 0, 1)) * tick
    elif roll < 0.5:
        best_bid = None
    elif roll < 0.6:
        best_ask = None
    if best_bid is not None and best_bid <= 0:
        best_bid = None
    if best_ask is not None and best_ask <= 0:
        best_ask = None
    return best_bid, best_ask


def book_age(rng: random.Random, config: ReconcilerConfig) -> float:
    grace, stale = config.book_age_grace_s, config.book_stale_s
    return rng.choice(
        (0.0, 0.0, 0.3, grace, grace + 0.5, grace + 1.0, grace + 1.5, stale, stale + 0.001,
         rng.uniform(0, stale + 1))
    )


def quoting_orders(
    rng: random.Random,
    side: Side,
    prices: Sequence[Decimal],
    sizes: Sequence[Decimal],
    config: ReconcilerConfig,
    rules: AssetRules,
    now: float,
) -> list[OrderSpec]:
    """About one resting order per level, near it: what a quoting bot leaves behind."""
    specs = []
    lot = D(1).scaleb(-rules.sz_decimals)
    for price, size in zip(prices, sizes, strict=True):
        if rng.random() < 0.15:
            continue
        target = rounded(price, rules, side)
        size = max(size.quantize(lot, "ROUND_DOWN"), lot)
        price, size = order_terms(rng, target, size, config, rules) if rng.random() < 0.6 else (
            target + rng.randint(-2, 2) * D(1).scaleb(-rules.max_decimals), size
        )
        state = S.TRACKED if rng.random() < 0.8 else rng.choice(COMMON_STATES)
        specs.append((side, price if price > 0 else target, size, state, D(0), now - 3.0))
    return specs


def run_case(seed: int, *, boundary: bool, unusual: bool, quoting: bool = False) -> Pair:
    """One case: a configuration, an asset, up to four cycles, compared as they go.

    With ``quoting`` the ladder keeps its shape while the mid wanders a few bps
    a cycle, over more cycles, and the orders start one per level: the keeps,
    modifies and latched modifies of a steady quoter.
    """
    rng = random.Random(seed)
    sz_decimals = rng.randint(0, 5)
    rules = AssetRules.perp(sz_decimals) if rng.random() < 0.85 else AssetRules.spot(sz_decimals)
    config = pick_config(rng, unusual)
    pair = Pair(config, rules)
    if pair.old is None:
        pair.compared = 1  # both refused the configuration alike
        return pair
    mid = D(rng.choice(ROUND_MIDS if boundary else MAGNITUDES))
    if not boundary and rng.random() < 0.5:
        mid = decimals_of(rng, mid * D(rng.uniform(0.8, 1.25)), rng.randint(0, 10))
    now = 1000.0
    notional = config.min_notional_usd
    counts = (rng.choice((1, 2, 3, 5, 8)), rng.choice((1, 2, 3, 5, 8)))
    shape = (D(rng.choice((2, 4, 5))) / 10_000, D(rng.choice((5, 10, 25))) / 10_000)
    steady_size = level_size(rng, mid, rules, notional)
    steady_exact = boundary or rng.random() < 0.4
    for cycle in range(rng.randint(3, 7) if quoting else rng.randint(1, 4)):
        if quoting:
            exact = steady_exact
            bid_prices = ladder_side(rng, BUY, mid, counts[0], exact, rules, shape)
            ask_prices = ladder_side(rng, SELL, mid, counts[1], exact, rules, shape)
            bid_sizes = [steady_size] * len(bid_prices)
            ask_sizes = [steady_size] * len(ask_prices)
        else:
            exact = boundary or rng.random() < 0.4
            bid_prices = ladder_side(rng, BUY, mid, rng.choice((0, 1, 2, 3, 5, 8)), exact, rules)
            ask_prices = ladder_side(rng, SELL, mid, rng.choice((0, 1, 2, 3, 5, 8)), exact, rules)
            same = rng.random() < 0.5
            first = level_size(rng, mid, rules, notional)
            bid_sizes = [first if same else level_size(rng, p, rules, notional) for p in bid_prices]
            ask_sizes = [first if same else level_size(rng, p, rules, notional) for p in ask_prices]
        if cycle == 0:
            if quoting:
                specs = quoting_orders(rng, BUY, bid_prices, bid_sizes, config, rules, now)
                specs += quoting_orders(rng, SELL, ask_prices, ask_sizes, config, rules, now)
            else:
                specs = orders_for(rng, BUY, bid_prices, bid_sizes, mid, config, rules, now)
                specs += orders_for(rng, SELL, ask_prices, ask_sizes, mid, config, rules, now)
                rng.shuffle(specs)
            build(pair.old_world, specs)
            build(pair.new_world, specs)
        if quoting and rng.random() < 0.85:
            tick = tick_at(mid, rules)
            best_bid, best_ask = (mid - tick).quantize(tick), (mid + tick).quantize(tick)
            if best_bid <= 0:
                best_bid = None
            age = rng.choice((0.0, 0.0, 0.5, config.book_age_grace_s + 0.5))
        else:
            best_bid, best_ask = book_for(rng, mid, bid_prices, ask_prices, config, rules)
            age = book_age(rng, config)
        pair.cycle(
            list(zip(bid_prices, bid_sizes, strict=True)),
            list(zip(ask_prices, ask_sizes, strict=True)),
            best_bid,
            best_ask,
            now - age,
            now,
        )
        now += rng.choice((0.1, 0.25, 0.5, 0.499, 1.0, 3.0))
        pair.mutate(rng.random(), now)
        if quoting or rng.random() < 0.5:
            moves = (-3, -2, -1, 0, 0, 0, 1, 2, 3) if quoting else (-30, -5, -2, -1, 0, 1, 2, 8, 40)
            step = D(rng.choice(moves)) / 10_000
            mid = decimals_of(rng, mid * (1 + step), rng.randint(rules.max_decimals, 10))
    return pair


# --- the cases ---------------------------------------------------------------------------


@pytest.mark.parametrize("block", range(6))
def test_random_cases_plan_as_the_reference(block: int) -> None:
    seeds = range(block * 250, block * 250 + 250)
    compared = sum(run_case(seed, boundary=False, unusual=False).compared for seed in seeds)
    assert compared >= 250


@pytest.mark.parametrize("block", range(4))
def test_threshold_boundaries_plan_as_the_reference(block: int) -> None:
    seeds = range(10_000 + block * 250, 10_000 + block * 250 + 250)
    compared = sum(run_case(seed, boundary=True, unusual=False).compared for seed in seeds)
    assert compared >= 250


@pytest.mark.parametrize("block", range(3))
def test_steady_quoting_plans_as_the_reference(block: int) -> None:
    seeds = range(30_000 + block * 200, 30_000 + block * 200 + 200)
    compared = sum(
        run_case(seed, boundary=seed % 3 == 0, unusual=False, quoting=True).compared
        for seed in seeds
    )
    assert compared >= 600


def test_unusual_thresholds_plan_as_the_reference() -> None:
    seeds = range(20_000, 20_400)
    compared = sum(run_case(seed, boundary=False, unusual=True).compared for seed in seeds)
    assert compared >= 400


def test_cases_cover_every_decision_and_boundary() -> None:
    """The generator reaches what it is meant to: each decision, and exact boundaries."""
    decisions: set[str] = set()
    skipped: set[str | None] = set()
    latched = modifies = cancels = crossing = small = 0
    for seed in range(300):
        plans = run_case(seed, boundary=seed % 2 == 0, unusual=False, quoting=seed % 3 == 0).plans
        for plan in plans:
            skipped.add(plan.skipped)
            for side_plan in (plan.bids, plan.asks):
                decisions.add(side_plan.decision.value)
                latched += len(side_plan.latched)
                modifies += len(side_plan.modifies)
                cancels += len(side_plan.cancels)
                crossing += len(side_plan.dropped_crossing)
                small += len(side_plan.skipped_min_notional)
    assert decisions == {d.value for d in new.Decision}
    assert skipped == {None, new.SKIP_STALE_BOOK}
    assert min(latched, modifies, cancels, crossing, small) > 0


# --- a real engine run -------------------------------------------------------------------


@pytest.mark.parametrize(("sz_decimals", "mid"), [(5, "30123.5"), (2, "97.31"), (0, "0.012345")])
def test_engines_in_lockstep_plan_as_the_reference(sz_decimals: int, mid: str) -> None:
    """Two engines, one per reconciler, quoting a wandering mid with the same answers."""
    config = LifecycleConfig(market=MarketConfig(sz_decimals=sz_decimals))
    engines = [Engine(config, cloids=CloidFactory("lock", run_id=3)) for _ in range(2)]
    engines[0].reconciler = oracle.Reconciler(  # type: ignore[assignment]
        config.reconciler, AssetRules.perp(sz_decimals)
    )
    rng = random.Random(sz_decimals)
    price, size = D(mid), (D(60) / D(mid)).quantize(D(1).scaleb(-sz_decimals)) or D(1)
    oid, tid, now = 1000, 1, 100.0
    for _ in range(150):
        price = (price * (1 + D(rng.randint(-8, 8)) / 10_000)).quantize(D("1E-12"))
        spacing = D(rng.choice((5, 10)))
        steps = [(D(4) + i * spacing) / 10_000 for i in range(10)]
        levels = {
            "bids": [(price * (1 - s), size) for s in steps],
            "asks": [(price * (1 + s), size) for s in steps],
        }
        bid, ask = price * (1 - D(2) / 10_000), price * (1 + D(2) / 10_000)
        plans = []
        for engine, module in zip(engines, (oracle, new), strict=True):
            ladder = module.Ladder(
                bids=tuple(module.Level(price=p, size=s) for p, s in levels["bids"]),
                asks=tuple(module.Level(price=p, size=s) for p, s in levels["asks"]),
            )
            book = module.Book(best_bid=bid, best_ask=ask, at=now)
            plans.append(engine.set_targets(ladder, book, now))  # type: ignore[arg-type]
        views = []
        for engine, plan in zip(engines, plans, strict=True):
            world = World()
            world.orders = list(engine.registry)
            views.append(canon(plan, world))
        assert views[1] == views[0]
        # The same answers to both: acks, modify acks, cancel acks, some fills.
        sent = [engine.commands_to_send() for engine in engines]
        assert [repr(c) for c in sent[0]] == [repr(c) for c in sent[1]]
        answers: list[Any] = []
        for command in sent[0]:
            kind = type(command).__name__
            if kind == "PlaceOrder" and rng.random() < 0.9:
                oid += 1
                answers.append(OrderAccepted(cloid=command.cloid, oid=Oid(oid)))
            elif kind == "ModifyOrder" and rng.random() < 0.8:
                answers.append(OrderModified(cloid=command.cloid, oid=command.oid,
                                             price=command.price, size=command.size))
            elif kind == "CancelOrder" and rng.random() < 0.9:
                answers.append(OrderCanceled(cloid=command.cloid, oid=command.oid))
        resting = [o for o in engines[0].registry if o.state is S.TRACKED and o.oid is not None]
        if resting and rng.random() < 0.3:
            order = rng.choice(resting)
            tid += 1
            answers.append(OrderFilled(cloid=order.cloid, oid=order.oid, tid=Tid(tid),
                                       side=order.side, price=order.price,
                                       size=(order.remaining / 2).quantize(size) or size))
        now += rng.choice((0.3, 0.6, 1.0, 2.0))
        for engine in engines:
            for answer in answers:
                engine.handle(answer, now)
            engine.on_timer(now)
