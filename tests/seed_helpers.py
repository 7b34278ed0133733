"""Shared steps of the seed-system regression tests (``test_seed_bugs_*.py``).

Markets trade a perp with ``sz_decimals`` 2 (HYPE-like), so around 100 one tick
is 0.01, i.e. one basis point. Thresholds are the configuration defaults, which
are the seed system's.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from lifecycle.config import (
    LifecycleConfig,
    MarketConfig,
    OrdersConfig,
    OrphanPolicy,
    ReconcilerConfig,
)
from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState
from lifecycle.policy.reconciler import Book, Ladder, Level, Plan
from lifecycle.policy.safety_sync import SyncReport
from lifecycle.testing import Scenario

D = Decimal
S = OrderState
BUY, SELL = Side.BUY, Side.SELL

DEFAULTS = LifecycleConfig()
PROTECTION_S = DEFAULTS.orders.protection_s  # 10 s
GRACE_S = DEFAULTS.orders.orphan_grace_s  # 5 s
TOMBSTONE_S = DEFAULTS.orders.tombstone_s  # 5 s
EXPECTED_TTL_S = DEFAULTS.orders.expected_ttl_s  # 30 s
CANCEL_TIMEOUT_S = DEFAULTS.orders.cancel_timeout_s  # 30 s
INTERVAL_S = DEFAULTS.sync.interval_s  # 5 s
MISSING_SNAPSHOTS = DEFAULTS.sync.missing_snapshots  # 3
MISSING_MIN_S = DEFAULTS.sync.missing_min_s  # 10 s
MAX_AGE_S = DEFAULTS.sync.snapshot_max_age_s  # 10 s


def scenario(
    *,
    coin: str = "HYPE",
    dex: str = "",
    policy: OrphanPolicy = OrphanPolicy.CANCEL,
    start: float = 0.0,
    reconciler: ReconcilerConfig | None = None,
) -> Scenario:
    """A scenario on a perp with sz_decimals 2 and otherwise default settings."""
    config = LifecycleConfig(
        orders=OrdersConfig(orphan_policy=policy),
        market=MarketConfig(coin=coin, dex=dex, sz_decimals=2),
        reconciler=reconciler if reconciler is not None else ReconcilerConfig(),
    )
    return Scenario(config, start=start)


def tracked(s: Scenario, *specs: tuple[Side, str, str]) -> list[Order]:
    """Place and acknowledge one order per (side, price, size); age them to TRACKED."""
    orders = [s.place(side, price, size) for side, price, size in specs]
    for order in orders:
        s.ack(order)
    s.advance(PROTECTION_S)
    for order in orders:
        s.expect(order, S.TRACKED)
    return orders


def deliver_fill(s: Scenario, order: Order, tid: Tid, size: str, *, oid: Oid | None = None) -> None:
    """Re-deliver a fill the exchange already executed (its order may be off the book)."""
    s.engine.handle(
        OrderFilled(
            cloid=order.cloid,
            oid=order.oid if oid is None else oid,
            tid=tid,
            side=order.side,
            price=order.price,
            size=D(size),
        ),
        s.now,
    )
    s.drain()


def book(s: Scenario, bid: str = "99.9", ask: str = "100.1", *, age: float = 0.0) -> Book:
    """The best bid and ask, taken ``age`` seconds ago."""
    return Book(best_bid=D(bid), best_ask=D(ask), at=s.now - age)


def ladder(bids: Sequence[tuple[str, str]] = (), asks: Sequence[tuple[str, str]] = ()) -> Ladder:
    """A target ladder from (price, size) pairs, best level first."""
    return Ladder(
        bids=tuple(Level(price=D(p), size=D(q)) for p, q in bids),
        asks=tuple(Level(price=D(p), size=D(q)) for p, q in asks),
    )


def cycle(s: Scenario, target: Ladder, top: Book) -> Plan:
    """One reconcile cycle: plan, apply, drain."""
    plan = s.engine.set_targets(target, top, s.now)
    s.drain()
    return plan


def commands_for(s: Scenario, order: Order, kind: type, since: int = 0) -> list[object]:
    """The commands of type ``kind`` naming ``order`` by cloid, from ``s.sent[since:]``."""
    return [
        c
        for c in s.sent[since:]
        if isinstance(c, kind) and getattr(c, "cloid", None) == order.cloid
    ]


def cloid_of(order: Order) -> Cloid:
    """The order's cloid (every order placed here has one)."""
    assert order.cloid is not None
    return order.cloid


def anomalies(s: Scenario) -> int:
    """All anomalies recorded so far, of every kind."""
    return sum(s.engine.anomalies.counts.values())


def syncs_until(s: Scenario, end: float) -> list[SyncReport]:
    """Run a scheduled snapshot every ``interval_s`` until ``end`` (inclusive)."""
    reports = []
    while s.now + INTERVAL_S <= end + 1e-9:
        s.advance(INTERVAL_S)
        reports.append(s.snapshot())
    return reports
