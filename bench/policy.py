"""Benchmark of the reconciler and the safety sync. Not a test.

Theory of operation: each key times one call at a time. A run makes a number
of calls (``calls``) and returns the time of each; the key's figure is the
median over every timed call of every run, after one untimed warm-up run, so
one call slowed by the machine (descheduled, or caught by a collection) moves
the figure by one rank, not by its delay. The runs of the three keys are made
in turn (one run of each), in this one process. Only the measured call is
inside the timed region (``time.perf_counter``), and ``gc.collect()`` runs
just before each timed call. Building the engine, placing and acknowledging
its orders, advancing time and checking the outcome are never timed. Every
measurement checks what it measured and raises :class:`BenchError` when a
call did not do the work its key names (a skipped cycle, a plan that is not
all keeps, a modify batch of the wrong size, a sync that changed something).
While measuring, the ``lifecycle`` logger is held at WARNING when it would
pass INFO, so the reconciler's and the sync's INFO lines per cycle are
checked but not written.

Of the package only its top level, ``lifecycle``, is imported (and from this
folder :mod:`measure`, for :class:`BenchError`). The engine
runs on the default configuration (``LifecycleConfig()``). Its market rules
(5 significant figures, at most ``6 - sz_decimals`` decimals) give a tick of
0.1 at a price of 100, which is 10 bps, as wide as the ladder's spacing and
wider than the latch band, so the ladder is quoted around :data:`MID` =
50,000, where the tick (1) is 0.2 bps.

Keys (``D`` is the ladder depth per side, ``N`` the number of snapshot rows)
--------------------------------------------------------------------------------
``reconcile_us_2xD_steady``
    One ``engine.set_targets(ladder, book, now)`` for a ladder of ``D`` bids
    and ``D`` asks, :data:`SPACING_BPS` apart, when every level already holds
    a matching TRACKED order at its price and size: the plan is all keeps (no
    place, modify or cancel, nothing latched, not skipped). The book is
    stamped ``now`` on every call and ``now`` moves forward. Microseconds per
    call, the median of :data:`RUNS` runs of :data:`RECONCILE_CALLS` calls.
``reconcile_us_2xD_modify``
    The same call when every target price has moved by :func:`modify_shift_bps`
    (beyond ``latch_bps``, within ``max_modify_bps``, the first level's
    ``level_tolerance_bps`` and half the spacing): the plan holds ``2 * D``
    modifies and nothing else. The targets alternate between two price sets; between two
    timed calls (untimed) each modify is answered with ``OrderModified`` under
    a new oid, and time moves past ``protection_s`` and the modify latch
    (``min_modify_interval_ms``) so every order is TRACKED again. Microseconds
    per call, the median of :data:`RUNS` runs of :data:`RECONCILE_CALLS` calls.
``sync_ms_N``
    One ``engine.handle_snapshot(OpenOrdersSnapshot(...), now)`` whose ``N``
    rows are all the engine's own TRACKED orders, listed with their cloid,
    oid, side, price and size: nothing is acknowledged, created, missed or
    queried. The snapshot is taken ``now``, which moves forward by
    ``sync.interval_s`` between calls. Milliseconds per call, the median of
    :data:`RUNS` runs of :data:`SYNC_CALLS` calls.
"""

from __future__ import annotations

import gc
import logging
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from measure import BenchError, log_to_stderr

from lifecycle import (
    Book,
    Engine,
    Ladder,
    Level,
    LifecycleConfig,
    ModifyOrder,
    Oid,
    OpenOrder,
    OpenOrdersSnapshot,
    OrderAccepted,
    OrderModified,
    OrderState,
    PlaceOrder,
    Plan,
    Side,
    SyncReport,
)

__all__ = [
    "DEPTH",
    "MID",
    "RECONCILE_CALLS",
    "ROWS",
    "RUNS",
    "SPACING_BPS",
    "SYNC_CALLS",
    "BenchError",
    "check_plan",
    "check_sync",
    "ladder_at",
    "measure_policy",
    "modify_shift_bps",
    "modify_state",
    "reconcile_modify_run",
    "reconcile_steady_run",
    "steady_state",
    "sync_run",
    "sync_state",
]

#: Ladder levels per side.
DEPTH = 25
#: Rows of the safety-sync snapshot.
ROWS = 5_000
#: Timed calls per run of each reconcile key.
RECONCILE_CALLS = 50
#: Timed calls per run of the sync key.
SYNC_CALLS = 5
#: Runs of each key in :func:`measure_policy` when called without an argument.
RUNS = 7

#: The price the ladder is quoted around (tick 1, i.e. 0.2 bps, under the default rules).
MID = Decimal(50_000)
#: Distance between two levels of a side, and from the mid to the first level, in bps.
SPACING_BPS = Decimal(10)
#: Size of every level and order: 0.001 at 50,000 is $50, above ``min_notional_usd``.
SIZE = Decimal("0.001")
#: Seconds between two steady reconcile calls (a quoting loop's cadence).
CYCLE_S = 0.5

_BPS = Decimal(10_000)
_TRACKED = OrderState.TRACKED

log = logging.getLogger("bench.policy")


# --- checks --------------------------------------------------------------------------------


def check_plan(plan: Plan, *, modifies: int = 0, kept: int = 0) -> None:
    """Raise :class:`BenchError` unless ``plan`` is ``modifies`` modifies and ``kept`` keeps only.

    A plan that was skipped, cancels everything, places or cancels anything,
    latches a modify, or has a different number of modifies or keeps fails.
    """
    if plan.skipped is not None:
        raise BenchError(f"the reconcile cycle was skipped: {plan.skipped} ({plan.note})")
    if plan.cancel_all:
        raise BenchError(f"the plan cancels everything: {plan.note}")
    places, cancels = len(plan.places), len(plan.cancels)
    got_modifies = len(plan.modifies)
    got_kept = len(plan.bids.kept) + len(plan.asks.kept)
    latched = len(plan.bids.latched) + len(plan.asks.latched)
    if (places, cancels, got_modifies, got_kept, latched) != (0, 0, modifies, kept, 0):
        raise BenchError(
            f"expected {modifies} modifies and {kept} kept, got {places} places, "
            f"{got_modifies} modifies, {cancels} cancels, {got_kept} kept, {latched} latched"
        )


def check_sync(report: SyncReport, rows: int) -> None:
    """Raise :class:`BenchError` unless ``report`` listed ``rows`` orders and changed nothing."""
    if not report.applied:
        raise BenchError(f"the snapshot was ignored (stale or out of order): {report}")
    if report.asset_mismatch or report.other_coin_orders:
        raise BenchError(f"the snapshot's rows are not for the engine's coin: {report}")
    if report.exchange_orders != rows or report.working_orders != rows:
        raise BenchError(
            f"expected {rows} listed and working orders, got {report.exchange_orders} listed, "
            f"{report.working_orders} working"
        )
    changed = {
        "acks": report.acks,
        "new_candidates": report.new_candidates,
        "candidates": report.candidates,
        "aged": report.aged,
        "vanished": report.vanished,
        "deferred": report.deferred,
        "missing": report.missing,
        "queries": report.queries,
    }
    if any(changed.values()):
        raise BenchError(f"the sync changed something: {changed}")


def _check_tracked(engine: Engine, n: int) -> None:
    """Raise unless the engine holds exactly ``n`` orders, all TRACKED, with nothing pending."""
    tracked = engine.registry.count(_TRACKED)
    if tracked != n or len(engine.registry) != n:
        raise BenchError(f"{tracked} TRACKED of {len(engine.registry)} orders, expected {n}")
    if len(engine.anomalies):
        first = next(iter(engine.anomalies))
        raise BenchError(f"{len(engine.anomalies)} anomalies, first: {first}")
    if engine.has_commands():
        raise BenchError(f"commands left to send: {engine.commands_to_send()}")


# --- the ladder ----------------------------------------------------------------------------


def modify_shift_bps(config: LifecycleConfig) -> Decimal:
    """How far the modify key moves every target: halfway from ``latch_bps`` to the limit.

    The limit is the smallest of the first level's tolerance,
    ``max_modify_bps`` and half of :data:`SPACING_BPS`: a move beyond the latch
    band and within the first two is a modify of the matched order, and within
    half the spacing each target stays nearer its own order than its
    neighbour's, so every order is matched to the level it rests at.
    """
    rc = config.reconciler
    limit = min(
        Decimal(repr(rc.level_tolerance_bps[0])),
        Decimal(repr(rc.max_modify_bps)),
        SPACING_BPS / 2,
    )
    latch = Decimal(repr(rc.latch_bps))
    if limit <= latch:
        raise BenchError(
            f"no modify band: latch_bps {latch} >= tolerance/max_modify/half spacing {limit}"
        )
    shift = (latch + limit) / 2
    if 2 * shift >= SPACING_BPS:
        # Each target must be nearer its own order than its neighbour's.
        raise BenchError(f"SPACING_BPS {SPACING_BPS} is not more than twice the shift {shift}")
    return shift


def ladder_at(depth: int, shift: Decimal = Decimal(0)) -> Ladder:
    """``depth`` bids and asks :data:`SPACING_BPS` apart around :data:`MID` moved up ``shift`` bps.

    Every price is a whole number (a valid price at this level), so rounding
    does not move it.
    """
    step = MID * SPACING_BPS / _BPS
    moved = (MID * shift / _BPS).to_integral_value()
    bids = tuple(Level(price=MID + moved - step * (i + 1), size=SIZE) for i in range(depth))
    asks = tuple(Level(price=MID + moved + step * (i + 1), size=SIZE) for i in range(depth))
    return Ladder(bids=bids, asks=asks)


def book_at(now: float) -> Book:
    """A fresh top of book around :data:`MID`, one tick wide, stamped ``now``."""
    return Book(best_bid=MID - 1, best_ask=MID + 1, at=now)


class _State:
    """An engine with its orders and the time and oid counters that move with it."""

    __slots__ = ("engine", "next_oid", "now")

    def __init__(self, engine: Engine, now: float, next_oid: int) -> None:
        """Hold ``engine`` at time ``now``; the next acknowledgement gets oid ``next_oid``."""
        self.engine = engine
        self.now = now
        self.next_oid = next_oid


def _track_all(state: _State) -> None:
    """Drain the outbox, accept every placement, and let protection elapse (TRACKED)."""
    engine = state.engine
    now = state.now
    for command in engine.commands_to_send():
        if type(command) is not PlaceOrder:
            raise BenchError(f"unexpected command while placing: {command}")
        engine.handle(OrderAccepted(cloid=command.cloid, oid=Oid(state.next_oid)), now)
        state.next_oid += 1
    state.now = now + engine.config.orders.protection_s + CYCLE_S
    engine.on_timer(state.now)


def steady_state(depth: int) -> tuple[_State, Ladder]:
    """A default engine whose every level of a ``2 x depth`` ladder holds a TRACKED order."""
    engine = Engine(LifecycleConfig())
    ladder = ladder_at(depth)
    state = _State(engine, 1_000.0, 1)
    plan = engine.set_targets(ladder, book_at(state.now), state.now)
    if len(plan.places) != 2 * depth:
        raise BenchError(f"the first cycle placed {len(plan.places)} of {2 * depth} levels")
    _track_all(state)
    _check_tracked(engine, 2 * depth)
    return state, ladder


# --- the reconcile keys --------------------------------------------------------------------


def reconcile_steady_run(state: _State, ladder: Ladder, calls: int) -> list[float]:
    """Microseconds of each of ``calls`` ``set_targets`` calls whose plan is all keeps."""
    engine = state.engine
    set_targets = engine.set_targets
    kept = len(ladder.bids) + len(ladder.asks)
    times: list[float] = []
    for _ in range(calls):
        now = state.now = state.now + CYCLE_S
        book = book_at(now)
        gc.collect()
        t0 = time.perf_counter()
        plan = set_targets(ladder, book, now)
        times.append((time.perf_counter() - t0) * 1e6)
        check_plan(plan, kept=kept)
    _check_tracked(engine, kept)
    return times


def modify_state(depth: int) -> tuple[_State, tuple[Ladder, Ladder]]:
    """A steady state (orders TRACKED at ladder A) and the two ladders the modify key alternates."""
    state, ladder = steady_state(depth)
    return state, (ladder, ladder_at(depth, modify_shift_bps(state.engine.config)))


def _answer_modifies(state: _State) -> None:
    """Answer every queued modify with ``OrderModified`` (new oid), then let protection elapse."""
    engine = state.engine
    now = state.now
    for command in engine.commands_to_send():
        if type(command) is not ModifyOrder:
            raise BenchError(f"unexpected command after a modify cycle: {command}")
        engine.handle(
            OrderModified(
                cloid=command.cloid,
                oid=Oid(state.next_oid),
                old_oid=command.oid,
                price=command.price,
                size=command.size,
            ),
            now,
        )
        state.next_oid += 1
    config = engine.config
    wait = max(config.orders.protection_s, config.reconciler.min_modify_interval_ms / 1000.0)
    state.now = now + wait + CYCLE_S
    engine.on_timer(state.now)


def reconcile_modify_run(
    state: _State, ladders: tuple[Ladder, Ladder], calls: int
) -> list[float]:
    """Microseconds of each of ``calls`` ``set_targets`` calls whose plan modifies every order.

    Call ``k`` aims at ``ladders[(k + 1) % 2]`` from orders resting at the
    other ladder's prices; the timed region is the ``set_targets`` call only.
    """
    engine = state.engine
    set_targets = engine.set_targets
    n = len(ladders[0].bids) + len(ladders[0].asks)
    # Which ladder the orders rest at now; the other one is the next target.
    if _rests_at(engine, ladders[0]):
        current = 0
    elif _rests_at(engine, ladders[1]):
        current = 1
    else:
        raise BenchError("the orders rest at neither ladder's prices")
    times: list[float] = []
    for _ in range(calls):
        target = ladders[1 - current]
        now = state.now = state.now + CYCLE_S
        book = book_at(now)
        gc.collect()
        t0 = time.perf_counter()
        plan = set_targets(target, book, now)
        times.append((time.perf_counter() - t0) * 1e6)
        check_plan(plan, modifies=n)
        _answer_modifies(state)
        current = 1 - current
        _check_tracked(engine, n)
    if not _rests_at(engine, ladders[current]):
        raise BenchError("the orders do not rest at the last target's prices")
    return times


def _rests_at(engine: Engine, ladder: Ladder) -> bool:
    """Whether the engine's orders rest exactly at ``ladder``'s prices, side by side."""
    for side in (Side.BUY, Side.SELL):
        prices = sorted(o.price for o in engine.registry if o.side is side)
        if prices != sorted(level.price for level in ladder.side(side)):
            return False
    return True


# --- the sync key --------------------------------------------------------------------------


def sync_state(rows: int) -> tuple[_State, tuple[OpenOrder, ...]]:
    """A default engine with ``rows`` TRACKED orders and the snapshot rows that list them all."""
    engine = Engine(LifecycleConfig())
    state = _State(engine, 1_000.0, 1)
    step = Decimal(1)
    for i in range(rows):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        offset = step * (1 + i // 2)
        price = MID - offset if side is Side.BUY else MID + offset
        engine.place(side, price, SIZE, state.now)
    _track_all(state)
    _check_tracked(engine, rows)
    coin = engine.config.coin_key
    listed = []
    for order in engine.registry:
        if order.oid is None or order.cloid is None:
            raise BenchError(f"a TRACKED order without ids: {order}")
        listed.append(
            OpenOrder(
                coin=coin,
                oid=order.oid,
                cloid=order.cloid,
                side=order.side,
                price=order.price,
                size=order.remaining,
            )
        )
    return state, tuple(listed)


def sync_run(state: _State, rows: tuple[OpenOrder, ...], calls: int) -> list[float]:
    """Milliseconds of each of ``calls`` ``handle_snapshot`` calls listing every order."""
    engine = state.engine
    handle_snapshot = engine.handle_snapshot
    interval = engine.config.sync.interval_s
    times: list[float] = []
    for _ in range(calls):
        now = state.now = state.now + interval
        snapshot = OpenOrdersSnapshot(taken_at=now, orders=rows)
        gc.collect()
        t0 = time.perf_counter()
        report = handle_snapshot(snapshot, now)
        times.append((time.perf_counter() - t0) * 1e3)
        check_sync(report, len(rows))
        _check_tracked(engine, len(rows))
    return times


# --- driving -------------------------------------------------------------------------------


def _medians(runs: int, measured: dict[str, Callable[[], list[float]]]) -> dict[str, float]:
    """One untimed warm-up run of each, then ``runs`` runs in turn; the median call of each.

    The median is taken over every call of every run together, not over the
    runs' means: a slow call counts once, as one rank.
    """
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    for run in measured.values():
        run()
    calls: dict[str, list[float]] = {key: [] for key in measured}
    for i in range(runs):
        for key, run in measured.items():
            got = run()
            calls[key].extend(got)
            log.info(
                "%s run %d/%d: median %.3f of %d calls (min %.3f, max %.3f)",
                key, i + 1, runs, statistics.median(got), len(got), min(got), max(got),
            )
    return {key: statistics.median(got) for key, got in calls.items()}


def measure_policy(
    runs: int = RUNS,
    *,
    depth: int = DEPTH,
    rows: int = ROWS,
    reconcile_calls: int = RECONCILE_CALLS,
    sync_calls: int = SYNC_CALLS,
) -> dict[str, float]:
    """Median calls of the reconcile and sync keys, named by their sizes (see the module doc).

    With the defaults the keys are ``reconcile_us_2x25_steady``,
    ``reconcile_us_2x25_modify`` and ``sync_ms_5000``; smaller ``depth`` and
    ``rows`` run the same checks at toy sizes (the keys then name those sizes).
    Each state is built once, untimed, and carried from run to run.
    """
    steady, ladder = steady_state(depth)
    moving, ladders = modify_state(depth)
    synced, listed = sync_state(rows)
    measured = {
        f"reconcile_us_2x{depth}_steady": lambda: reconcile_steady_run(
            steady, ladder, reconcile_calls
        ),
        f"reconcile_us_2x{depth}_modify": lambda: reconcile_modify_run(
            moving, ladders, reconcile_calls
        ),
        f"sync_ms_{rows}": lambda: sync_run(synced, listed, sync_calls),
    }
    # The reconciler logs each side of each cycle at INFO, the sync each
    # snapshot: measure them as a bot runs them, with INFO off for the package.
    package_log = logging.getLogger("lifecycle")
    level = package_log.level
    if package_log.getEffectiveLevel() < logging.WARNING:
        package_log.setLevel(logging.WARNING)
    try:
        return _medians(runs, measured)
    finally:
        package_log.setLevel(level)


if __name__ == "__main__":
    log_to_stderr()
    for name, value in measure_policy().items():
        print(f"{name} = {value:.3f}")
