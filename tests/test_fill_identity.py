"""Fill identity, the fill ledger's memory by time, and a restart's fill catch-up.

A fill is told apart by ``(tid, oid, fill_ref)``; the ledger counts it and
remembers it in one step, checked first; it remembers every identity for
``orders.fill_memory_s`` (the count ``orders.fill_dedup_capacity`` is a
backstop whose reaching is an anomaly); and a restart's catch-up never asks
for fills older than the ledger remembers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifecycle.cli import main
from lifecycle.config import ConfigError, LifecycleConfig, OrdersConfig, check_config, load_config
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.clock import ManualClock
from lifecycle.core.events import OrderAccepted, OrderFilled
from lifecycle.core.ids import Oid, Tid
from lifecycle.core.order import Fill, FillId, Order, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.engine.ledger import DEFAULT_FILL_MEMORY_S, FillLedger, LedgerState
from lifecycle.runtime.fills import CATCH_UP_MARGIN, catch_up_start
from lifecycle.sim.command import progress_interval
from lifecycle.sim.referee import _Referee
from lifecycle.sim.simulate import run_simulation
from lifecycle.sim.spec import SimulationSpec

S = OrderState
MEMORY_FULL = AnomalyKind.FILL_MEMORY_FULL
CUT = AnomalyKind.CATCH_UP_CUT


def engine_with(**orders: Any) -> Engine:
    return Engine(LifecycleConfig(orders=OrdersConfig(**orders)), verify=True)


def acked(engine: Engine, clock: ManualClock, oid: int = 42, size: str = "10") -> Order:
    """An order of ``engine`` placed, sent and acknowledged with ``oid``."""
    order = engine.place(Side.BUY, Decimal("100"), Decimal(size), clock.now())
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(oid)), clock.advance(0.1))
    return order


def filled(
    tid: int, size: str = "1", *, oid: int | None = 42, order: Order | None = None,
    ref: str = "", side: Side = Side.BUY,
) -> OrderFilled:
    return OrderFilled(
        cloid=None if order is None else order.cloid, oid=None if oid is None else Oid(oid),
        tid=Tid(tid), side=side, price=Decimal("100"), size=Decimal(size), fill_ref=ref,
    )


def fid(tid: int, oid: int | None = 1, ref: str = "") -> FillId:
    return (Tid(tid), None if oid is None else Oid(oid), ref)


# --- identity -------------------------------------------------------------------------------


def test_tid_zero_fills_with_different_refs_both_count() -> None:
    clock = ManualClock()
    engine = engine_with()
    order = acked(engine, clock)

    engine.handle(filled(0, "1", order=order, ref="t1/1/100/0"), clock.advance(1))
    engine.handle(filled(0, "2", order=order, ref="t2/2/100/1"), clock.advance(1))

    assert engine.position == Decimal("3")
    assert order.filled == Decimal("3")
    assert engine.ledger.fills == 2 and engine.ledger.duplicates == 0
    assert set(order.fills) == {(Tid(0), "t1/1/100/0"), (Tid(0), "t2/2/100/1")}


@pytest.mark.parametrize("known", [True, False], ids=["known order", "unknown oid"])
def test_same_tid_oid_and_ref_counts_once(known: bool) -> None:
    clock = ManualClock()
    engine = engine_with()
    order = acked(engine, clock) if known else None
    oid = 42 if known else 77

    for _ in range(3):
        engine.handle(filled(0, "1", oid=oid, order=order, ref="dust"), clock.advance(1))

    assert engine.position == Decimal("1")
    assert (engine.ledger.fills, engine.ledger.duplicates) == (1, 2)


def test_both_sides_of_one_trade_count_the_trade_id_is_not_enough() -> None:
    # A trade between two of the account's orders: one trade id, two oids, two fills.
    clock = ManualClock()
    engine = engine_with()

    engine.handle(filled(5, "1", oid=1, side=Side.BUY), clock.advance(1))
    engine.handle(filled(5, "1", oid=2, side=Side.SELL), clock.advance(1))
    engine.handle(filled(5, "1", oid=1, side=Side.BUY), clock.advance(1))  # a repeat

    assert (engine.ledger.fills, engine.ledger.duplicates) == (2, 1)
    assert engine.position == 0


def test_order_catches_a_repeated_ref_fill_the_ledger_forgot() -> None:
    clock = ManualClock()
    engine = engine_with(fill_dedup_capacity=1)
    order = acked(engine, clock)
    engine.handle(filled(0, "1", order=order, ref="a"), clock.advance(1))
    engine.handle(filled(0, "1", order=order, ref="b"), clock.advance(1))  # forgets "a"

    engine.handle(filled(0, "1", order=order, ref="a"), clock.advance(1))

    assert engine.position == Decimal("2") and order.filled == Decimal("2")
    assert engine.ledger.duplicates == 1


def test_parked_fills_with_refs_attach_each_once() -> None:
    # Fills naming only the oid, before the placement's answer: parked, then attached.
    clock = ManualClock()
    engine = engine_with()
    order = engine.place(Side.BUY, Decimal("100"), Decimal("10"), clock.now())
    engine.commands_to_send()
    engine.handle(filled(0, "1", oid=9, ref="a"), clock.advance(1))
    engine.handle(filled(0, "2", oid=9, ref="b"), clock.advance(1))

    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(9)), clock.advance(1))
    engine.handle(filled(0, "1", oid=9, order=order, ref="a"), clock.advance(1))  # a repeat

    assert order.filled == Decimal("3") and engine.position == Decimal("3")
    assert engine.ledger.duplicates == 1


def test_order_keeps_fills_by_tid_and_ref() -> None:
    order = Order(cloid=None, oid=Oid(1), side=Side.SELL, price=Decimal(1), size=Decimal(9),
                  now=0.0)
    for tid, ref in ((0, "a"), (0, "b"), (7, ""), (0, "a"), (7, "")):
        order.add_fill(Fill(tid=Tid(tid), price=Decimal(1), size=Decimal(1), at=0.0, ref=ref))

    assert list(order.fills) == [(Tid(0), "a"), (Tid(0), "b"), Tid(7)]
    assert order.filled == Decimal(3)
    assert order.has_fill(Tid(0), "b") and order.has_fill(Tid(7))
    assert not order.has_fill(Tid(0)) and not order.has_fill(Tid(7), "a")


def test_a_lone_ref_fill_is_told_apart_from_its_trade_id() -> None:
    order = Order(cloid=None, oid=Oid(1), side=Side.SELL, price=Decimal(1), size=Decimal(9),
                  now=0.0)
    order.add_fill(Fill(tid=Tid(0), price=Decimal(1), size=Decimal(1), at=0.0, ref="a"))

    assert order.has_fill(Tid(0), "a") and not order.has_fill(Tid(0))
    assert dict(order.fills) == {(Tid(0), "a"): order.fills[(Tid(0), "a")]}


@pytest.mark.parametrize(("value", "error"), [(5, TypeError), ("\ud800", ValueError)])
def test_fill_ref_is_checked_like_the_other_fields(value: object, error: type) -> None:
    with pytest.raises(error, match=r"OrderFilled\.fill_ref"):
        OrderFilled(oid=Oid(1), tid=Tid(0), side=Side.BUY, price=Decimal(1), size=Decimal(1),
                    fill_ref=value)  # type: ignore[arg-type]


# --- counted and remembered in one step -----------------------------------------------------


def test_a_fill_refused_before_it_is_counted_leaves_no_trace_and_its_resend_counts() -> None:
    # A time the fill's record refuses (a Decimal): the engine raises. Counting
    # the fill before that check would remember its identity without recording
    # it on the order, and the genuine resend would be dropped as a repeat.
    clock = ManualClock()
    engine = engine_with()
    order = acked(engine, clock, size="1")
    event = filled(3, "1", order=order)

    with pytest.raises(TypeError, match=r"Fill\.at"):
        engine.handle(event, Decimal("5"))  # type: ignore[arg-type]
    assert engine.position == 0 and engine.ledger.fills == 0
    assert not engine.ledger.remembers(event.identity, 5.0)

    engine.handle(event, 6.0)

    assert engine.position == Decimal("1") and order.filled == Decimal("1")
    assert (order.state, order.reason) == (S.GONE, GoneReason.FILLED)
    assert engine.ledger.duplicates == 0


@pytest.mark.parametrize(
    ("identity", "side", "size", "now", "error"),
    [
        (fid(1), "buy", Decimal(1), 0.0, TypeError),
        (fid(1), Side.BUY, Decimal("NaN"), 0.0, ValueError),
        (fid(1), Side.BUY, Decimal(-1), 0.0, ValueError),
        (fid(1), Side.BUY, 1.0, 0.0, TypeError),
        (fid(1), Side.BUY, Decimal(1), float("nan"), ValueError),
        (fid(1), Side.BUY, Decimal(1), Decimal(1), TypeError),
        ((Tid(-1), Oid(1), ""), Side.BUY, Decimal(1), 0.0, ValueError),
        ((Tid(1), "1", ""), Side.BUY, Decimal(1), 0.0, TypeError),
        ((Tid(1), Oid(1), None), Side.BUY, Decimal(1), 0.0, TypeError),
    ],
)
def test_ledger_apply_checks_everything_before_it_changes_anything(
    identity: Any, side: Any, size: Any, now: Any, error: type
) -> None:
    ledger = FillLedger(capacity=1)
    ledger.apply(fid(9), Side.BUY, Decimal(1), 0.0)
    before = ledger.checkpoint()

    with pytest.raises(error, match=r"FillLedger\.apply"):
        ledger.apply(identity, side, size, now)

    assert ledger.checkpoint() == before  # nothing remembered, forgotten or moved
    assert ledger.apply(fid(1), Side.BUY, Decimal(1), 1.0) is True


# --- memory by time -------------------------------------------------------------------------


def test_identity_is_forgotten_only_after_fill_memory_s() -> None:
    clock = ManualClock()
    memory = 3600.0
    engine = engine_with(fill_memory_s=memory)
    event = filled(1, "1", oid=77)  # an unknown order: only the ledger can catch a repeat
    engine.handle(event, clock.now())
    for tid in range(2, 1000):  # a count of fills in between does not matter
        engine.handle(filled(tid, "1", oid=78), clock.advance(1))

    clock.set(memory)
    assert engine.ledger.remembers(event.identity, clock.now())
    engine.handle(event, clock.now())  # applied exactly fill_memory_s ago: remembered
    assert (engine.ledger.fills, engine.ledger.duplicates) == (999, 1)

    assert not engine.ledger.remembers(event.identity, clock.advance(0.001))
    engine.handle(event, clock.now())  # forgotten: it counts again
    assert engine.ledger.fills == 1000
    assert engine.anomalies.counts[MEMORY_FULL] == 0


def test_expired_identities_make_room_without_an_anomaly() -> None:
    ledger = FillLedger(capacity=2, memory_s=10.0)
    ledger.apply(fid(1), Side.BUY, Decimal(1), 0.0)
    ledger.apply(fid(2), Side.BUY, Decimal(1), 1.0)

    ledger.apply(fid(3), Side.BUY, Decimal(1), 11.5)  # both older than 10 s

    assert (len(ledger), ledger.overflows, ledger.forgotten_until) == (1, 0, None)


def test_default_memory_is_one_day() -> None:
    assert OrdersConfig().fill_memory_s == DEFAULT_FILL_MEMORY_S == 86_400.0
    assert Engine().ledger.memory_s == DEFAULT_FILL_MEMORY_S


# --- the capacity: a backstop, and reaching it is an anomaly --------------------------------


def test_capacity_reached_within_the_memory_is_an_anomaly() -> None:
    clock = ManualClock()
    engine = engine_with(fill_dedup_capacity=2)
    for tid in (1, 2):
        engine.handle(filled(tid, oid=77), clock.advance(1))
    assert engine.anomalies.counts[MEMORY_FULL] == 0

    engine.handle(filled(3, oid=77), clock.advance(1))

    assert engine.anomalies.counts[MEMORY_FULL] == 1
    assert engine.ledger.overflows == 1 and engine.ledger.forgotten_until == 1.0
    (anomaly,) = [a for a in engine.anomalies if a.kind is MEMORY_FULL]
    assert "fill_dedup_capacity (2)" in anomaly.detail and anomaly.order_id == "oid:77"
    # Nothing applied at or before the forgotten fill counts as remembered any more.
    assert engine.ledger.remembered_from(clock.now()) > 1.0


# --- the restart's catch-up -------------------------------------------------------------------


def test_catch_up_starts_at_the_journal_while_the_ledger_remembers_that_far() -> None:
    engine = engine_with(fill_memory_s=3600.0)

    assert catch_up_start(engine, 100.0, 2000.0) == 100.0
    assert engine.anomalies.counts[CUT] == 0


def test_catch_up_is_cut_to_what_the_ledger_remembers_and_says_so() -> None:
    memory = 3600.0
    engine = engine_with(fill_memory_s=memory)
    now = 10_000.0

    start = catch_up_start(engine, 0.0, now)

    # A margin inside the memory: the fetch's fills must still be remembered on its answer.
    assert start == now - memory + memory * CATCH_UP_MARGIN
    assert engine.anomalies.counts[CUT] == 1


def test_catch_up_starts_after_the_last_fill_the_capacity_made_the_ledger_forget() -> None:
    clock = ManualClock()
    engine = engine_with(fill_dedup_capacity=2)
    for tid in (1, 2, 3):
        engine.handle(filled(tid, oid=77), clock.advance(1))

    start = catch_up_start(engine, 0.0, clock.advance(10))

    assert 1.0 < start <= 2.0  # after the forgotten fill (applied at 1), before the others
    assert engine.anomalies.counts[CUT] == 1


def test_a_catch_up_from_its_start_repeats_no_forgotten_fill() -> None:
    # Fills applied over two memories; whatever the catch-up returns (fills that
    # happened at or after its start, applied then or later) is recognised.
    ledger = FillLedger(capacity=50, memory_s=100.0)
    applied = [(fid(t), float(t)) for t in range(200)]
    for identity, at in applied:
        ledger.apply(identity, Side.BUY, Decimal(1), at)
    now = 205.0
    start = ledger.remembered_from(now + ledger.memory_s * CATCH_UP_MARGIN)

    answered = now + ledger.memory_s * CATCH_UP_MARGIN
    refetched = [identity for identity, at in applied if at >= start]
    assert refetched and all(ledger.remembers(i, answered) for i in refetched)


# --- checkpoints ---------------------------------------------------------------------------


def test_ledger_checkpoint_restores_the_same_memory() -> None:
    ledger = FillLedger(capacity=3, memory_s=50.0)
    for n, identity in enumerate([fid(1), fid(0, 2, "x"), fid(4, None), fid(5), fid(6)]):
        ledger.apply(identity, Side.SELL if n % 2 else Side.BUY, Decimal("1.5"), float(n))
    ledger.count_duplicate()
    state = ledger.checkpoint()

    decoded = msgspec.json.decode(msgspec.json.encode(state), type=LedgerState)
    copy = FillLedger(capacity=3, memory_s=50.0)
    copy.restore(decoded)

    assert copy.checkpoint() == state
    assert copy.position == ledger.position == Decimal("1.5")
    assert copy.remembered_from(10.0) == ledger.remembered_from(10.0)
    assert [copy.remembers(i, 10.0) for i in (fid(1), fid(4, None), fid(6))] == [
        False, True, True
    ]
    with pytest.raises(ValueError, match="fresh"):
        copy.restore(decoded)


# --- check-config ---------------------------------------------------------------------------


@pytest.mark.parametrize("memory", [600, 3599.5, 5])
def test_check_config_refuses_a_fill_memory_that_cannot_cover_a_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], memory: float
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"orders:\n  fill_memory_s: {memory}\n", encoding="utf-8")

    (problem,) = check_config(path)

    assert problem.path == "orders.fill_memory_s" and ">= 3600" in problem.message
    assert main(["check-config", str(path)]) == 1
    assert "orders.fill_memory_s" in capsys.readouterr().out
    with pytest.raises(ConfigError, match=r"orders\.fill_memory_s"):
        OrdersConfig(fill_memory_s=memory)


@pytest.mark.parametrize("memory", [3600, 86_400, 7 * 86_400])
def test_check_config_accepts_a_fill_memory_of_an_hour_or_more(
    tmp_path: Path, memory: float
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(f"orders:\n  fill_memory_s: {memory}\n", encoding="utf-8")

    assert check_config(path) == []
    assert load_config(path).orders.fill_memory_s == float(memory)


# --- a restart in the simulation ------------------------------------------------------------


def test_restart_with_a_small_capacity_counts_no_fill_twice_after_the_restart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `lifecycle simulate --seed 700888 --duration 300 --faults harsh --restart-at 200
    # --downtime 10` with `orders: {fill_dedup_capacity: 20}`. By the restart the ledger
    # has forgotten most of the journal's fills; a catch-up from the journal's start
    # refetched them and counted each again. (Before the restart, a periodic fetch can
    # already outrun a memory of 20 fills: those are the capacity's fill_memory_full
    # anomalies, not the restart's.)
    resumed: list[tuple[_Referee, int]] = []
    resume = _Referee.resume

    def mark(self: _Referee, *args: Any) -> None:
        resumed.append((self, len(self.applied)))
        resume(self, *args)

    monkeypatch.setattr(_Referee, "resume", mark)
    report = run_simulation(SimulationSpec(
        seed=700888, duration_s=300, faults="harsh", restart_at_s=200, downtime_s=10,
        progress_interval_s=progress_interval(300),
        config=LifecycleConfig(orders=OrdersConfig(fill_dedup_capacity=20)),
    ))

    ((referee, at_restart),) = resumed
    before, after = referee.applied[:at_restart], referee.applied[at_restart:]
    assert after  # fills counted after the restart: what must not repeat any other
    assert not set(after) & set(before) and len(set(after)) == len(after)
    assert report.anomalies.get(CUT.value) == 1
    assert report.anomalies.get(MEMORY_FULL.value, 0) > 0
