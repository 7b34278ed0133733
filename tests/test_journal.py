"""The journal: lossless records, flush policies, torn tails, replay and recovery."""

from __future__ import annotations

import dataclasses
import os
import random
import typing
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifecycle.config import LifecycleConfig, MarketConfig, OrdersConfig, OrphanPolicy
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.clock import ManualClock
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import IllegalTransition, TimeWentBackwards
from lifecycle.core.events import (
    CancelRejected,
    ExchangeEvent,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    OrphanSeen,
    OrphanVanished,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.engine.facade import Engine
from lifecycle.journal import (
    FORMAT_VERSION,
    FlushMode,
    FlushPolicy,
    Journal,
    JournalCorrupt,
    JournaledEngine,
    JournalRecord,
    ReplayDivergence,
    load_journal,
    order_key,
    replay,
)
from lifecycle.journal.framing import frame, unframe
from lifecycle.policy.reconciler import Book, Ladder, Level
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot, SafetySync

S = OrderState
NAMESPACE = "test"
CONFIG = LifecycleConfig(
    orders=OrdersConfig(orphan_policy=OrphanPolicy.ADOPT, namespace=NAMESPACE),
    market=MarketConfig(coin="BTC"),
)
PX = Decimal("100.5")
SZ = Decimal("1")


def new_engine(
    path: Path, policy: FlushPolicy | None = None, config: LifecycleConfig = CONFIG
) -> JournaledEngine:
    return JournaledEngine(
        Journal(path, policy), config, cloids=CloidFactory(NAMESPACE, run_id=1), verify=True
    )


def fresh_engine(config: LifecycleConfig = CONFIG) -> Engine:
    return Engine(config, cloids=CloidFactory(NAMESPACE, run_id=1), verify=True)


def lines_on_disk(path: Path) -> int:
    return path.read_bytes().count(b"\n")


def rewrite_line(path: Path, index: int, old: str, new: str) -> None:
    """Edit line ``index`` (from 0) and give it a valid checksum, as another writer would."""
    lines = path.read_bytes().split(b"\n")
    first = index == 0
    body, version = unframe(lines[index], first=first)
    assert old.encode() in body
    lines[index] = frame(body.replace(old.encode(), new.encode()), version=version)[:-1]
    path.write_bytes(b"\n".join(lines))


def types_of(path: Path) -> list[str]:
    return [r.type for r in load_journal(path).records]


def state_of(engine: Engine) -> dict[str, Any]:
    """Everything replay must rebuild: every order, the indexes, the ledger, the timers,
    the safety sync's memory."""
    orders = {
        order_key(o): (
            o.state, o.reason, o.cloid, o.oid, o.prior_oids, o.side, o.price, o.size,
            o.filled, tuple(o.fills.items()), o.status, o.created_at, o.state_since, o.history,
            o.requested,
        )
        for o in engine.registry
    }
    oid_index = {}
    for o in engine.registry:
        for oid in (*o.prior_oids, o.oid):
            if oid is not None:
                holder = engine.registry.by_oid(oid)
                oid_index[oid] = None if holder is None else order_key(holder)
    # The reconciler's cycles are journaled as their requests: its counters are not replayed.
    counters = {k: v for k, v in engine.counters().items() if not k.startswith("reconciler_")}
    sync = engine.sync
    return {
        "orders": orders,
        "oid_index": oid_index,
        "position": engine.position,
        "counters": counters,
        "next_deadline": engine.next_deadline(),
        "streaks": {order_key(o): streak for o, streak in sync._missing.items()},
        "confirmed": sorted(order_key(o) for o in engine.registry if sync.absence_confirmed(o)),
        "sync_times": (sync.next_sync_at, sync._last_taken_at),
    }


# --- a seeded exchange for long scripted sessions ------------------------------------------


@dataclasses.dataclass
class ExOrder:
    cloid: Cloid | None
    oid: Oid
    side: Side
    price: Decimal
    size: Decimal
    filled: Decimal = Decimal(0)
    status: str = "open"


class FakeExchange:
    """Answers drained commands with delayed, sometimes lost or raced, events."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.by_cloid: dict[Cloid, ExOrder] = {}
        self.by_oid: dict[Oid, ExOrder] = {}
        self.inbox: list[tuple[float, int, ExchangeEvent]] = []
        self.fills: list[OrderFilled] = []
        self._oid = 5000
        self._tid = 1
        self._n = 0
        self.foreign = CloidFactory(NAMESPACE, run_id=9)  # an earlier run of ours

    def emit(self, event: ExchangeEvent, now: float, delay: float | None = None) -> None:
        if delay is None:
            delay = self.rng.choice((0.0, 0.0, 0.05, 0.3, 1.0, 45.0))
        self._n += 1
        self.inbox.append((now + delay, self._n, event))

    def due(self, now: float) -> list[ExchangeEvent]:
        ready = sorted(e for e in self.inbox if e[0] <= now)
        self.inbox = [e for e in self.inbox if e[0] > now]
        return [e[2] for e in ready]

    def new_oid(self) -> Oid:
        self._oid += 1
        return Oid(self._oid)

    def add(self, ex: ExOrder) -> None:
        if ex.cloid is not None:
            self.by_cloid[ex.cloid] = ex
        self.by_oid[ex.oid] = ex

    def find(self, cloid: Cloid | None, oid: Oid | None) -> ExOrder | None:
        if cloid is not None and cloid in self.by_cloid:
            return self.by_cloid[cloid]
        return self.by_oid.get(oid) if oid is not None else None

    def fill(self, ex: ExOrder, size: Decimal, now: float, delay: float | None = None) -> None:
        size = min(size, ex.size - ex.filled)
        if size <= 0:
            return
        ex.filled += size
        if ex.filled >= ex.size:
            ex.status = "filled"
        self._tid += 1
        event = OrderFilled(
            cloid=ex.cloid, oid=ex.oid, tid=Tid(self._tid), side=ex.side, price=ex.price, size=size
        )
        self.fills.append(event)
        self.emit(event, now, delay)

    def receive(self, command: Command, now: float) -> None:
        rng = self.rng
        if rng.random() < 0.04:
            return  # lost: the request or its answer never arrives
        if isinstance(command, PlaceOrder):
            self._place(command, now)
        elif isinstance(command, CancelOrder):
            ex = self.find(command.cloid, command.oid)
            cloid, oid = command.cloid, command.oid
            if ex is None or ex.status != "open":
                self.emit(CancelRejected(cloid=cloid, oid=oid, order_gone=True), now)
            elif rng.random() < 0.07:
                self.emit(CancelRejected(cloid=cloid, oid=oid, order_gone=False), now)
            else:
                if rng.random() < 0.15:
                    self.fill(ex, ex.size / 2, now, 0.0)  # a fill races the cancel
                ex.status = "canceled"
                self.emit(OrderCanceled(cloid=ex.cloid, oid=ex.oid), now)
                if rng.random() < 0.1:
                    self.emit(OrderCanceled(cloid=ex.cloid, oid=ex.oid), now)  # ws and REST
        elif isinstance(command, ModifyOrder):
            ex = self.find(command.cloid, command.oid)
            cloid, oid = command.cloid, command.oid
            if ex is None or ex.status != "open":
                self.emit(ModifyRejected(cloid=cloid, oid=oid, order_gone=True), now)
            elif rng.random() < 0.1:
                self.emit(ModifyRejected(cloid=cloid, oid=oid, order_gone=False), now)
            elif rng.random() < 0.06:
                self.fill(ex, ex.size, now, 0.0)  # filled just before the modify landed
                self.emit(ModifyRejected(cloid=cloid, oid=oid, order_gone=True), now)
            else:
                old, new = ex.oid, self.new_oid()
                ex.oid, ex.price, ex.size = new, command.price, max(command.size, ex.filled)
                self.by_oid[new] = ex
                late = rng.random()
                if late < 0.25:
                    self.emit(OrderCanceled(oid=old), now, 0.0)  # old leg before the ack
                self.emit(
                    OrderModified(cloid=ex.cloid, oid=new, old_oid=old, price=ex.price,
                                  size=ex.size), now, 0.01,
                )
                if late > 0.7:
                    self.emit(OrderCanceled(oid=old), now, 0.5)  # old leg after the ack
        elif isinstance(command, QueryOrderStatus):
            ex = self.find(command.cloid, command.oid)
            outcome = {
                None: StatusOutcome.NOT_FOUND, "open": StatusOutcome.OPEN,
                "filled": StatusOutcome.FILLED, "canceled": StatusOutcome.CANCELED,
                "rejected": StatusOutcome.REJECTED,
            }[None if ex is None else ex.status]
            self.emit(
                OrderStatusReport(
                    cloid=command.cloid, oid=ex.oid if ex is not None else command.oid,
                    outcome=outcome, status="" if ex is None else ex.status,
                ),
                now,
            )

    def _place(self, command: PlaceOrder, now: float) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.05:
            return  # never reached the book: the TTL query finds nothing
        if r < 0.12:
            self.by_cloid[command.cloid] = ExOrder(
                command.cloid, Oid(0), command.side, command.price, command.size, status="rejected"
            )
            self.emit(OrderRejected(cloid=command.cloid, status="tickRejected"), now)
            return
        ex = ExOrder(command.cloid, self.new_oid(), command.side, command.price, command.size)
        self.add(ex)
        if r < 0.18:
            self.fill(ex, ex.size, now, 0.0)  # crossed: filled before the ack
            if rng.random() < 0.5:
                self.emit(OrderAccepted(cloid=ex.cloid, oid=ex.oid), now, 0.2)
            return
        if r < 0.25:
            self.fill(ex, ex.size / 4, now, 0.0)  # partial fill before the ack
        if rng.random() < 0.06:
            return  # the ack is lost: a snapshot or a status query finds it
        self.emit(OrderAccepted(cloid=ex.cloid, oid=ex.oid), now)

    def market(self, now: float) -> None:
        """The exchange's own activity: fills, its cancels, orphans, repeated messages."""
        rng = self.rng
        live = [ex for ex in self.by_oid.values() if ex.status == "open"]
        if live and rng.random() < 0.35:
            ex = rng.choice(live)
            self.fill(ex, ex.size if rng.random() < 0.4 else ex.size / 3, now)
        if live and rng.random() < 0.04:
            ex = rng.choice(live)
            ex.status = "canceled"
            self.emit(
                OrderCanceled(cloid=ex.cloid, oid=ex.oid, status="marginCanceled",
                              exchange_initiated=True), now,
            )
        if self.fills and rng.random() < 0.05:
            self.emit(rng.choice(self.fills), now)  # a fill delivered again
        if rng.random() < 0.04:
            cloid = self.foreign.next() if rng.random() < 0.5 else None
            self.add(ExOrder(cloid, self.new_oid(), Side.SELL, Decimal("105"), Decimal("2")))
        orphans = [ex for ex in live if ex.price == Decimal("105")]
        if orphans and rng.random() < 0.03:
            rng.choice(orphans).status = "canceled"

    def snapshot(self, now: float) -> OpenOrdersSnapshot:
        rows = tuple(
            OpenOrder(coin="BTC", oid=ex.oid, cloid=ex.cloid, side=ex.side, price=ex.price,
                      size=ex.size - ex.filled)
            for oid, ex in sorted(self.by_oid.items())
            if ex.status == "open" and ex.oid == oid
        )
        return OpenOrdersSnapshot(taken_at=now, orders=rows)


_LOCAL_STATES = (S.PENDING, S.EXPECTED, S.FINALIZED_PROTECTED, S.TRACKED, S.MODIFYING)


def run_session(
    engine: Engine,
    seed: int,
    steps: int,
    *,
    clock: ManualClock | None = None,
    after_step: Callable[[int, float], None] | None = None,
    own_sync: bool = False,
) -> float:
    """Drive ``engine`` with a seeded exchange for ``steps`` steps; return the last time.

    Snapshots go to a safety sync of the session's own, which reaches the engine
    through its public calls, or with ``own_sync`` to ``engine.handle_snapshot``.
    """
    rng = random.Random(seed)
    clock = clock if clock is not None else ManualClock()
    exchange = FakeExchange(rng)
    sync = engine.sync if own_sync else SafetySync(engine)
    apply = engine.handle_snapshot if own_sync else sync.apply
    for step in range(steps):
        now = clock.advance(rng.choice((0.02, 0.1, 0.4, 1.0, 2.5)))
        for event in exchange.due(now):
            engine.handle(event, now)
        exchange.market(now)
        if rng.random() < 0.6:
            side = Side.BUY if rng.random() < 0.5 else Side.SELL
            price = Decimal(rng.randint(9500, 10500)) / 100
            engine.place(side, price, Decimal(rng.randint(1, 40)) / 10, now)
        mine = [o for o in engine.registry if o.state in _LOCAL_STATES]
        if mine and rng.random() < 0.15:
            engine.cancel(rng.choice(mine), now)
        resting = [o for o in mine if o.state in (S.FINALIZED_PROTECTED, S.TRACKED)]
        if resting and rng.random() < 0.15:
            order = rng.choice(resting)
            engine.modify(order, order.price + Decimal("0.05"), order.size, now)
        gone = [o for o in engine.registry if o.state is S.GONE]
        if gone and rng.random() < 0.02:
            with pytest.raises(IllegalTransition):
                engine.cancel(rng.choice(gone), now)  # misuse: raised and journaled
        engine.on_timer(now)
        if sync.next_sync_at is None or now >= sync.next_sync_at:
            apply(exchange.snapshot(now), now)
        for command in engine.commands_to_send():
            if isinstance(command, FetchOpenOrders):
                apply(exchange.snapshot(now), now)
            else:
                exchange.receive(command, now)
        for command in engine.commands_to_send():  # what the sync just asked for
            exchange.receive(command, now)
        if after_step is not None:
            after_step(step, now)
    return clock.now()


@pytest.fixture(scope="module")
def long_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[JournaledEngine, Path]:
    path = tmp_path_factory.mktemp("long") / "journal.jsonl"
    engine = new_engine(path)
    run_session(engine, seed=7, steps=700)
    engine.close()
    return engine, path


@pytest.fixture(scope="module")
def synced_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[JournaledEngine, Path]:
    """A long session whose snapshots go to the engine's own safety sync."""
    path = tmp_path_factory.mktemp("synced") / "journal.jsonl"
    engine = new_engine(path)
    run_session(engine, seed=23, steps=700, own_sync=True)
    engine.close()
    return engine, path


# --- codec ---------------------------------------------------------------------------------

CLOID = CloidFactory("roundtrip", run_id=2**32 - 1).next()
BIG_OID = Oid(2**64 - 2)
ODD = Decimal("0.000123400")  # trailing zeros and exponent must survive
EVENTS: list[Any] = [
    OrderAccepted(cloid=CLOID, oid=BIG_OID),
    OrderAccepted(oid=Oid(1)),
    OrderRejected(cloid=CLOID, oid=BIG_OID, status="tickRejected", message='tick "size"\n é'),
    OrderFilled(cloid=CLOID, oid=BIG_OID, tid=Tid(2**63 + 5), side=Side.SELL, price=ODD,
                size=Decimal("1E+3")),
    OrderCanceled(cloid=CLOID, oid=BIG_OID, status="marginCanceled", exchange_initiated=True),
    CancelRejected(cloid=None, oid=BIG_OID, order_gone=True, message="never placed"),
    OrderModified(cloid=CLOID, oid=Oid(7), old_oid=BIG_OID, price=Decimal("2.50E+1"), size=ODD),
    ModifyRejected(cloid=CLOID, oid=None, order_gone=False, message="x"),
    *(OrderStatusReport(cloid=CLOID, oid=BIG_OID, outcome=o, status=o.value)
      for o in StatusOutcome),
    OrphanSeen(oid=BIG_OID, cloid=CLOID, side=Side.BUY, price=ODD, size=Decimal("3.50")),
    OrphanVanished(oid=BIG_OID),
]
COMMANDS: list[Any] = [
    PlaceOrder(cloid=CLOID, side=Side.SELL, price=ODD, size=Decimal("2.0"), post_only=False,
               reduce_only=True),
    CancelOrder(cloid=None, oid=BIG_OID),
    ModifyOrder(cloid=CLOID, oid=None, price=Decimal("1E-8"), size=ODD),
    QueryOrderStatus(cloid=CLOID, oid=BIG_OID),
    FetchOpenOrders(reason="fill for an unknown order"),
]


def same_values(a: Any, b: Any) -> bool:
    """Equal, and every field of the same type (Cloid not str, Decimal digits kept)."""
    if a != b or type(a) is not type(b):
        return False
    for f in msgspec.structs.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if type(x) is not type(y) or (isinstance(x, Decimal) and str(x) != str(y)):
            return False
    return True


def test_codec_samples_cover_every_event_and_command_type() -> None:
    assert {type(e) for e in EVENTS} == set(typing.get_args(ExchangeEvent))
    assert {type(c) for c in COMMANDS} == set(typing.get_args(Command))


def test_journal_every_event_and_command_roundtrips_losslessly(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.append("open", None, {"version": FORMAT_VERSION, "config": CONFIG,
                                      "namespace": "n", "run_id": 3})
        for i, event in enumerate(EVENTS):
            journal.append("event", float(i), {"event": event})
        for command in COMMANDS:
            journal.append("send", None, {"command": command})
        journal.append("drain", 99.5, {"commands": COMMANDS})
    records = load_journal(path).records
    events = [r.data["event"] for r in records if r.type == "event"]
    sent = [r.data["command"] for r in records if r.type == "send"]
    assert len(events) == len(EVENTS) and len(sent) == len(COMMANDS)
    assert all(same_values(a, b) for a, b in zip(events, EVENTS, strict=True))
    assert all(same_values(a, b) for a, b in zip(sent, COMMANDS, strict=True))
    assert all(same_values(a, b)
               for a, b in zip(records[-1].data["commands"], COMMANDS, strict=True))
    assert records[0].data["config"] == CONFIG
    assert records[-1].at == 99.5


def test_journal_header_roundtrips_a_non_default_config(tmp_path: Path) -> None:
    config = dataclasses.replace(
        CONFIG, orders=dataclasses.replace(CONFIG.orders, protection_s=2.5, history_limit=7)
    )
    new_engine(tmp_path / "j.jsonl", config=config).close()
    header = load_journal(tmp_path / "j.jsonl").header
    assert header is not None
    assert header["config"] == config
    assert (header["namespace"], header["run_id"]) == (NAMESPACE, 1)


def test_load_header_from_before_a_config_field_existed_takes_its_default(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    new_engine(path).close()
    rewrite_line(path, 0, '"protection_s":10.0,', "")
    header = load_journal(path).header
    assert header is not None and header["config"] == CONFIG


def test_load_record_with_an_unknown_or_missing_required_field_is_corrupt(
    small_journal: Path,
) -> None:
    rewrite_line(small_journal, 4, '"oid":3', '"oid":3,"bogus":1')  # the OrderAccepted event
    with pytest.raises(JournalCorrupt, match=r"line 5: .*bogus"):
        load_journal(small_journal)
    rewrite_line(small_journal, 4, ',"oid":3,"bogus":1', "")
    with pytest.raises(JournalCorrupt, match=r"line 5: .*missing required field `oid`"):
        load_journal(small_journal)


def test_journal_place_record_carries_the_cloid_and_exact_terms(tmp_path: Path) -> None:
    engine = new_engine(tmp_path / "j.jsonl")
    order = engine.place(Side.SELL, Decimal("100.50"), Decimal("0.0010"), 1.0)
    engine.close()
    place = load_journal(tmp_path / "j.jsonl").records[1]
    assert place.type == "place" and place.at == 1.0
    assert place.data == {"cloid": order.cloid, "side": Side.SELL,
                          "price": Decimal("100.50"), "size": Decimal("0.0010")}
    assert str(place.data["size"]) == "0.0010"


# --- what is journaled ---------------------------------------------------------------------


def test_journal_drain_lists_commands_and_submit_follows(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    sent = engine.commands_to_send()
    assert engine.commands_to_send() == []  # empty outbox: nothing journaled
    engine.close()
    records = load_journal(path).records
    assert [r.type for r in records] == ["open", "place", "drain", "fired"]
    assert records[2].data["commands"] == sent
    assert (records[3].data["trigger"], records[3].data["dest"]) == (Trigger.SUBMIT, S.EXPECTED)
    assert records[3].data["order"] == order.cloid


def test_journal_nested_engine_calls_are_outcomes_not_inputs(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(10)), 0.1)
    engine.cancel(order, 0.2)
    engine.handle(CancelRejected(cloid=order.cloid, order_gone=True), 0.3)  # queries inside
    sent = engine.commands_to_send()
    engine.close()
    assert QueryOrderStatus(cloid=order.cloid, oid=Oid(10)) in sent
    kinds = types_of(path)
    assert "query" not in kinds
    assert kinds.count("event") == 2 and kinds.count("cancel") == 1


def test_journal_on_timer_with_nothing_due_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(10)), 0.0)
    before = lines_on_disk(path)
    engine.on_timer(5.0)  # protection runs until 10.0
    assert lines_on_disk(path) == before
    engine.on_timer(10.0)
    engine.close()
    records = load_journal(path).records
    assert [r.type for r in records[before:]] == ["timer", "fired"]
    assert records[-1].data["trigger"] is Trigger.PROTECTION_ELAPSED


def test_journal_illegal_cancel_records_refusal_and_error_then_replays(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    engine.commands_to_send()
    engine.handle(OrderRejected(cloid=order.cloid), 0.1)
    with pytest.raises(IllegalTransition):
        engine.cancel(order, 0.2)
    engine.close()
    records = load_journal(path).records
    assert [r.type for r in records[-3:]] == ["cancel", "refused", "error"]
    assert records[-1].data["error"] == "IllegalTransition"
    assert replay(records, fresh_engine()).inputs == 4


def test_journal_handle_of_a_non_event_raises_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    with pytest.raises(TypeError, match="not an exchange event"):
        engine.handle("accepted", 1.0)
    engine.close()
    assert types_of(path) == ["open"]


def test_journal_anomalies_are_journaled_as_notes(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    engine.handle(OrderCanceled(oid=Oid(77)), 1.0)  # an order nobody knows
    engine.anomalies.record(AnomalyKind.ASSET_MISMATCH, 1.5, None, "by the sync")
    engine.close()
    notes = [r for r in load_journal(path).records if r.type == "anomaly"]
    assert [(r.data["kind"], r.at) for r in notes] == [
        (AnomalyKind.UNKNOWN_ORDER, 1.0), (AnomalyKind.ASSET_MISMATCH, 1.5)
    ]


def test_journal_closed_refuses_calls_before_the_engine_changes(tmp_path: Path) -> None:
    engine = new_engine(tmp_path / "j.jsonl")
    engine.close()
    with pytest.raises(ValueError, match="closed"):
        engine.place(Side.BUY, PX, SZ, 0.0)
    assert len(engine.registry) == 0
    assert types_of(tmp_path / "j.jsonl") == ["open"]


class Interrupting:
    """An observer that interrupts the first transition it sees."""

    def __init__(self) -> None:
        self.armed = True

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        if self.armed:
            self.armed = False
            raise KeyboardInterrupt

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        """Refusals pass."""


def test_journal_interrupted_call_leaves_the_engine_journaling(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    engine.place(Side.BUY, PX, SZ, 0.0)
    engine.machine.add_observer(Interrupting())
    with pytest.raises(KeyboardInterrupt):
        engine.commands_to_send()
    engine.place(Side.SELL, PX, SZ, 1.0)
    engine.close()
    assert types_of(path).count("place") == 2


def test_journal_new_file_over_an_existing_journal_is_refused(tmp_path: Path) -> None:
    new_engine(tmp_path / "j.jsonl").close()
    with pytest.raises(FileExistsError, match="recover"):
        Journal(tmp_path / "j.jsonl")


def test_journal_in_dir_writes_the_run_directorys_journal(tmp_path: Path) -> None:
    run = tmp_path / "run-1"
    JournaledEngine(Journal.in_dir(run), CONFIG).close()
    assert (run / "journal.jsonl").is_file()
    assert load_journal(run).path == run / "journal.jsonl"


# --- flush policies ------------------------------------------------------------------------


def test_flush_every_record_puts_each_call_on_disk_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path, FlushPolicy(mode=FlushMode.EVERY_RECORD, fsync=False))
    assert lines_on_disk(path) == 1  # the header, at once
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    assert lines_on_disk(path) == 2
    engine.commands_to_send()
    assert lines_on_disk(path) == 4 == engine.journal.next_seq
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(1)), 0.5)
    assert lines_on_disk(path) == 7 == engine.journal.next_seq
    engine.close()


def test_flush_interval_writes_after_n_ms_of_engine_time(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path, FlushPolicy(mode=FlushMode.INTERVAL, interval_ms=100))
    engine.place(Side.BUY, PX, SZ, 0.0)  # starts the interval
    engine.place(Side.BUY, PX, SZ, 0.05)
    assert lines_on_disk(path) == 1
    engine.place(Side.BUY, PX, SZ, 0.0999)
    assert lines_on_disk(path) == 1
    engine.place(Side.BUY, PX, SZ, 0.1)  # 100 ms after the interval began
    assert lines_on_disk(path) == 5
    engine.place(Side.BUY, PX, SZ, 0.15)
    assert lines_on_disk(path) == 5
    engine.on_timer(0.2)  # nothing due, but engine time passed: the buffer goes out
    assert lines_on_disk(path) == 6
    engine.place(Side.BUY, PX, SZ, 0.25)
    engine.close()
    assert lines_on_disk(path) == 7


def test_flush_on_close_keeps_records_in_memory_until_close(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path, FlushPolicy(mode=FlushMode.ON_CLOSE))
    for i in range(20):
        engine.place(Side.BUY, PX, SZ, float(i))
        engine.on_timer(float(i) + 0.5)
    assert lines_on_disk(path) == 1
    assert engine.journal.buffered == 20
    engine.close()
    assert lines_on_disk(path) == 21
    assert engine.journal.closed


def test_flush_on_close_writes_early_when_the_buffer_outgrows_its_cap(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path, FlushPolicy(mode=FlushMode.ON_CLOSE, max_buffer_bytes=300))
    engine.place(Side.BUY, PX, SZ, 0.0)  # about 120 bytes
    engine.place(Side.BUY, PX, SZ, 1.0)
    assert lines_on_disk(path) == 1
    engine.place(Side.BUY, PX, SZ, 2.0)
    assert lines_on_disk(path) == 4
    engine.close()


def test_abandon_loses_what_is_buffered_as_a_crash_would(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path, FlushPolicy(mode=FlushMode.ON_CLOSE))
    for i in range(3):
        engine.place(Side.BUY, PX, SZ, float(i))
    assert engine.journal.abandon() == 3
    assert engine.journal.closed and engine.journal.abandon() == 0
    assert lines_on_disk(path) == 1  # the header only
    recovered = JournaledEngine.recover(path, 10.0)
    assert len(recovered.registry) == 0
    recovered.close()


def test_recovery_info_gives_the_journals_time_span(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path, FlushPolicy())
    engine.place(Side.BUY, PX, SZ, 3.0)
    engine.on_timer(7.5)
    engine.journal.abandon()
    recovered = JournaledEngine.recover(path, 9.0)
    assert recovered.recovery is not None
    assert (recovered.recovery.first_at, recovered.recovery.last_at) == (3.0, 3.0)
    recovered.close()


def test_flush_fsync_follows_the_policy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real = os.fsync
    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    engine = new_engine(tmp_path / "a.jsonl", FlushPolicy(fsync=True))
    engine.place(Side.BUY, PX, SZ, 0.0)
    engine.place(Side.BUY, PX, SZ, 1.0)
    assert len(synced) == 3  # header, then once per call
    engine.close()
    synced.clear()
    quiet = new_engine(tmp_path / "b.jsonl", FlushPolicy(fsync=False))
    quiet.place(Side.BUY, PX, SZ, 0.0)
    quiet.close()
    assert synced == []


def test_flush_interval_policy_needs_a_positive_interval() -> None:
    with pytest.raises(ValueError, match="interval_ms"):
        FlushPolicy(mode=FlushMode.INTERVAL)


# --- loading: torn tails and corruption -----------------------------------------------------


@pytest.fixture
def small_journal(tmp_path: Path) -> Path:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(3)), 0.1)
    engine.handle(OrderFilled(cloid=order.cloid, oid=Oid(3), tid=Tid(1), side=Side.BUY,
                              price=PX, size=SZ), 0.2)
    engine.close()
    return path


@pytest.mark.parametrize("keep", [1, 2, 10, 0.5, -1])
def test_load_torn_last_record_is_ignored_and_counted(
    small_journal: Path, tmp_path: Path, keep: float
) -> None:
    data = small_journal.read_bytes()
    full = load_journal(small_journal).records
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    last_len = len(data) - start - 1  # without its newline
    cut = int(last_len * keep) if isinstance(keep, float) else keep % (last_len + 1)
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(data[: start + cut])
    loaded = load_journal(torn)
    assert loaded.records == full[:-1]
    assert loaded.dropped_bytes == cut and loaded.torn
    assert loaded.valid_bytes == start


def test_load_cut_at_a_line_boundary_drops_nothing(small_journal: Path, tmp_path: Path) -> None:
    data = small_journal.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(data[:start])
    loaded = load_journal(cut)
    assert len(loaded.records) == len(load_journal(small_journal).records) - 1
    assert not loaded.torn


@pytest.mark.parametrize("garbage", [b'{"seq":', b"\x00\x00\x00\x00", b'{"seq": 99}', b"[]"])
def test_load_undecodable_last_line_with_newline_is_ignored(
    small_journal: Path, garbage: bytes
) -> None:
    count = len(load_journal(small_journal).records)
    with small_journal.open("ab") as f:
        f.write(garbage + b"\n")
    loaded = load_journal(small_journal)
    assert len(loaded.records) == count
    assert loaded.dropped_bytes == len(garbage) + 1


@pytest.mark.parametrize(
    ("line", "text"),
    [(3, b"{not json"), (4, b'{"seq":3,"at":0.1,"type":"event","event":{"kind":"Nope"}}'),
     (2, b'{"seq":1,"at":0.0,"type":"place","cloid":"0x1","side":"buy","price":"1","size":"1"}')],
)
def test_load_corrupt_middle_record_raises_naming_the_line(
    small_journal: Path, line: int, text: bytes
) -> None:
    lines = small_journal.read_bytes().split(b"\n")
    lines[line - 1] = text
    small_journal.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalCorrupt, match=f"line {line}: ") as info:
        load_journal(small_journal)
    assert info.value.line == line
    assert info.value.path == small_journal


def test_load_seq_gap_is_corruption(small_journal: Path) -> None:
    lines = small_journal.read_bytes().split(b"\n")
    del lines[3]
    small_journal.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalCorrupt, match="line 4: seq 4 where 3 was due"):
        load_journal(small_journal)


def test_load_repeated_record_is_corruption(small_journal: Path) -> None:
    lines = small_journal.read_bytes().split(b"\n")
    lines.insert(2, lines[1])
    small_journal.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalCorrupt, match="line 3: seq 1 where 2 was due"):
        load_journal(small_journal)


def test_load_journal_without_header_is_corruption(small_journal: Path) -> None:
    lines = small_journal.read_bytes().split(b"\n")
    small_journal.write_bytes(b"\n".join(lines[1:]))
    with pytest.raises(JournalCorrupt, match="line 1"):
        load_journal(small_journal)


# --- replay --------------------------------------------------------------------------------


def test_replay_long_session_rebuilds_every_order_position_and_ledger(
    long_run: tuple[JournaledEngine, Path],
) -> None:
    live, path = long_run
    loaded = load_journal(path)
    replayed = fresh_engine()
    result = replay(loaded.records, replayed)
    assert state_of(replayed) == state_of(live)
    assert replayed.ledger.fills == live.ledger.fills
    assert replayed.ledger.duplicates == live.ledger.duplicates
    assert replayed.commands_to_send() == live.commands_to_send()
    assert result.fired == sum(1 for r in loaded.records if r.type == "fired")
    assert result.tail == ()


def test_replay_long_session_exercised_the_hard_paths(
    long_run: tuple[JournaledEngine, Path],
) -> None:
    records = load_journal(long_run[1]).records
    placed = sum(1 for r in records if r.type == "place")
    triggers = {r.data["trigger"] for r in records if r.type == "fired"}
    inputs = {r.type for r in records if r.is_input}
    events = {type(r.data["event"]) for r in records if r.type == "event"}
    assert placed >= 300
    assert {
        Trigger.FILL_PARTIAL, Trigger.FILL_COMPLETE, Trigger.MODIFY_ACK, Trigger.SUPERSEDED,
        Trigger.CANCEL_ACK, Trigger.CANCEL_GONE, Trigger.CANCEL_FAILED, Trigger.REJECT,
        Trigger.EXCHANGE_CANCELED, Trigger.CONFIRM_ABSENT, Trigger.LATE_FILL, Trigger.ADOPT,
        Trigger.GRACE_ELAPSED, Trigger.ORPHAN_VANISHED, Trigger.MODIFY_REJECTED,
        Trigger.MODIFY_GONE, Trigger.ABANDON, Trigger.PROTECTION_ELAPSED,
    } <= triggers
    assert {"place", "cancel", "modify", "event", "timer", "drain", "move", "query"} <= inputs
    assert events == set(typing.get_args(ExchangeEvent))
    assert any(r.type == "refused" for r in records)
    assert any(r.type == "error" for r in records)


def test_replay_long_session_journaled_every_anomaly(
    long_run: tuple[JournaledEngine, Path],
) -> None:
    live, path = long_run
    notes = [(r.data["kind"], r.at, r.data["order_id"], r.data["detail"])
             for r in load_journal(path).records if r.type == "anomaly"]
    assert notes == [(a.kind, a.at, a.order_id, a.detail) for a in live.anomalies]
    assert len(notes) == len(live.anomalies) > 0


def test_replay_reconciler_requests_are_inputs_and_a_snapshot_is_one_input(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    book = Book(best_bid=Decimal("99.9"), best_ask=Decimal("100.1"), at=0.0)
    ladder = Ladder(bids=(Level(price=Decimal("99.5"), size=SZ),),
                    asks=(Level(price=Decimal("100.5"), size=SZ),))
    placed = engine.set_targets(ladder, book, 0.0).places
    engine.commands_to_send()
    bid = next(o for o in engine.registry if o.side is Side.BUY)
    rows = (OpenOrder(coin="BTC", oid=Oid(31), cloid=bid.cloid, side=Side.BUY,
                      price=bid.price, size=bid.size),
            OpenOrder(coin="BTC", oid=Oid(77), side=Side.SELL, price=Decimal(200), size=SZ))
    snapshot = OpenOrdersSnapshot(taken_at=1.0, orders=rows)
    engine.handle_snapshot(snapshot, 1.0)
    engine.set_targets(Ladder(), Book(best_bid=book.best_bid, best_ask=book.best_ask, at=2.0),
                       2.0)  # cancel everything
    engine.commands_to_send()
    engine.close()
    records = load_journal(path).records
    kinds = [r.type for r in records if r.is_input]
    assert kinds.count("place") == len(placed) == 2
    assert kinds.count("cancel") == 2
    # The sync's ack and its orphan are what the snapshot did, not calls of their own.
    assert kinds.count("snapshot") == 1 and kinds.count("event") == 0
    journaled = next(r for r in records if r.type == "snapshot")
    assert journaled.data["snapshot"] == snapshot and journaled.at == 1.0
    seen = [type(r.data["event"]) for r in records if r.type == "sync_event"]
    assert seen == [OrderAccepted, OrphanSeen]
    replayed = fresh_engine()
    replay(records, replayed)
    assert state_of(replayed) == state_of(engine)
    assert bid.state is S.CANCELLING and bid.oid == Oid(31)


def test_journal_snapshot_rows_are_compact_arrays_and_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    rows = (
        OpenOrder(coin="BTC", oid=BIG_OID, cloid=CLOID, side=Side.BUY, price=ODD,
                  size=Decimal("1E+3")),
        OpenOrder(coin="xyz:ETH", oid=Oid(5), side=Side.SELL, price=Decimal("2.50"), size=SZ),
    )
    snapshot = OpenOrdersSnapshot(taken_at=0.5, orders=rows)
    engine.handle_snapshot(snapshot, 1.0)
    engine.close()
    line = path.read_bytes().split(b"\n")[1]
    assert b'["BTC",' in line and b'"coin"' not in line
    record = load_journal(path).records[1]
    assert record.type == "snapshot" and record.data["snapshot"] == snapshot
    back = record.data["snapshot"].orders
    assert [str(r.price) for r in back] == [str(ODD), "2.50"]
    assert type(back[0].cloid) is Cloid and back[1].cloid is None


# --- the safety sync's memory across a restart ------------------------------------------------


def _tracked(engine: JournaledEngine) -> Order:
    """A TRACKED order (oid 1), at t=20."""
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(1)), 0.1)
    engine.on_timer(20.0)
    assert order.state is S.TRACKED
    return order


def _empty(engine: Engine, at: float) -> None:
    engine.handle_snapshot(OpenOrdersSnapshot(taken_at=at, orders=()), at)


def test_recover_after_a_confirmed_absence_replays_the_sync_that_confirmed_it(
    tmp_path: Path,
) -> None:
    # Three empty snapshots over 10 s confirm the order absent; the "not found"
    # answer then ends it. Replay must see the same streak to end it again.
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = _tracked(engine)
    for at in (21.0, 26.0, 31.0):
        _empty(engine, at)
    assert engine.sync.absence_confirmed(order)
    assert QueryOrderStatus(cloid=order.cloid, oid=Oid(1)) in engine.commands_to_send()
    engine.handle(OrderStatusReport(cloid=order.cloid, oid=Oid(1),
                                    outcome=StatusOutcome.NOT_FOUND), 31.5)
    assert order.state is S.GONE
    expected = state_of(engine)
    engine.journal.abandon()  # the process dies
    recovered = JournaledEngine.recover(path, 40.0, verify=True)
    assert state_of(recovered) == expected
    assert recovered.order(order.label).state is S.GONE
    assert recovered.counters()["sync_missing_queries"] == 1
    recovered.close()
    replayed = fresh_engine()
    replay(load_journal(path).records, replayed)
    assert state_of(replayed) == expected


def test_recover_in_the_middle_of_an_absence_streak_carries_it_on(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = _tracked(engine)
    _empty(engine, 21.0)
    _empty(engine, 26.0)
    engine.journal.abandon()
    recovered = JournaledEngine.recover(path, 30.0, verify=True)
    again = recovered.order(order.label)
    assert recovered.sync._missing[again][:2] == (2, 21.0)
    _empty(recovered, 31.0)  # the third: the streak spans 10 s
    assert recovered.sync.absence_confirmed(again)
    assert QueryOrderStatus(cloid=order.cloid, oid=Oid(1)) in recovered.commands_to_send()
    recovered.handle(OrderStatusReport(cloid=order.cloid, oid=Oid(1),
                                       outcome=StatusOutcome.NOT_FOUND), 31.5)
    assert again.state is S.GONE
    recovered.close()
    replay(load_journal(path).records, fresh_engine())


def test_replay_tampered_sync_event_raises_divergence(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    rows = (OpenOrder(coin="BTC", oid=Oid(77), side=Side.SELL, price=Decimal(200), size=SZ),)
    engine.handle_snapshot(OpenOrdersSnapshot(taken_at=1.0, orders=rows), 1.0)
    engine.close()
    records = load_journal(path).records
    index = next(i for i, r in enumerate(records) if r.type == "sync_event")
    other = OrphanSeen(oid=Oid(78), side=Side.SELL, price=Decimal(200), size=SZ)
    with pytest.raises(ReplayDivergence, match="sync_event"):
        replay(_tamper(records, index, event=other), fresh_engine())


def test_replay_long_session_with_the_engines_own_sync_rebuilds_its_memory(
    synced_run: tuple[JournaledEngine, Path],
) -> None:
    live, path = synced_run
    records = load_journal(path).records
    replayed = fresh_engine()
    replay(records, replayed)
    assert state_of(replayed) == state_of(live)
    assert replayed.sync.counters() == live.sync.counters()
    kinds = {r.type for r in records}
    assert {"snapshot", "sync_event"} <= kinds
    triggers = {r.data["trigger"] for r in records if r.type == "fired"}
    assert {Trigger.CONFIRM_ABSENT, Trigger.ADOPT, Trigger.ORPHAN_VANISHED} <= triggers
    assert live.counters()["sync_missing_queries"] > 0


def test_recover_long_session_with_the_engines_own_sync_at_random_points(
    tmp_path: Path,
) -> None:
    path = tmp_path / "live.jsonl"
    engine = new_engine(path, FlushPolicy(fsync=False))
    cut_steps = set(random.Random(5).sample(range(50, 500), 5))
    saved: dict[int, tuple[int, float, dict[str, Any]]] = {}

    def save(step: int, now: float) -> None:
        if step in cut_steps:
            saved[step] = (path.stat().st_size, now, state_of(engine))

    run_session(engine, seed=29, steps=500, after_step=save, own_sync=True)
    engine.close()
    data = path.read_bytes()
    for step, (size, now, expected) in sorted(saved.items()):
        crashed = tmp_path / f"crash-{step}.jsonl"
        crashed.write_bytes(data[:size])
        recovered = JournaledEngine.recover(crashed, now + 60.0, verify=True)
        assert state_of(recovered) == expected, f"step {step}"
        recovered.close()


def _tamper(records: tuple[JournalRecord, ...], index: int, **changes: Any) -> list[JournalRecord]:
    out = list(records)
    rec = out[index]
    out[index] = dataclasses.replace(rec, data={**rec.data, **changes})
    return out


def test_replay_tampered_transition_raises_divergence_naming_its_seq(
    long_run: tuple[JournaledEngine, Path],
) -> None:
    records = load_journal(long_run[1]).records
    index = next(i for i, r in enumerate(records)
                 if r.type == "fired" and r.data["dest"] is S.TRACKED)
    with pytest.raises(ReplayDivergence, match=f"seq {records[index].seq}:") as info:
        replay(_tamper(records, index, dest=S.CANCELLING), fresh_engine())
    assert info.value.seq == records[index].seq


def test_replay_missing_transition_raises_divergence(small_journal: Path) -> None:
    records = [r for r in load_journal(small_journal).records
               if not (r.type == "fired" and r.data["trigger"] is Trigger.FINALIZE)]
    with pytest.raises(ReplayDivergence, match="finalize"):
        replay(records, fresh_engine())


def test_replay_tampered_drain_raises_divergence(small_journal: Path) -> None:
    records = load_journal(small_journal).records
    index = next(i for i, r in enumerate(records) if r.type == "drain")
    with pytest.raises(ReplayDivergence, match="drained"):
        replay(_tamper(records, index, commands=[]), fresh_engine())


def test_replay_with_another_config_diverges(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(3)), 0.0)
    engine.on_timer(10.0)
    engine.close()
    shorter = dataclasses.replace(CONFIG, orders=dataclasses.replace(CONFIG.orders,
                                                                     protection_s=20.0))
    with pytest.raises(ReplayDivergence, match="protection_elapsed"):
        replay(load_journal(path).records, fresh_engine(shorter))


# --- recovery ------------------------------------------------------------------------------


def test_recover_after_crash_at_random_points_restores_the_working_set(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    engine = new_engine(path, FlushPolicy(fsync=False))
    rng = random.Random(3)
    cut_steps = set(rng.sample(range(20, 400), 6))
    saved: dict[int, tuple[int, float, dict[str, Any]]] = {}

    def save(step: int, now: float) -> None:
        if step in cut_steps:
            saved[step] = (path.stat().st_size, now, state_of(engine))

    run_session(engine, seed=11, steps=400, after_step=save)
    engine.close()
    data = path.read_bytes()
    for step, (size, now, expected) in sorted(saved.items()):
        next_line = data.find(b"\n", size) + 1 - size
        torn = rng.randrange(0, next_line) if next_line > 0 else 0  # part of the next line
        crashed = tmp_path / f"crash-{step}.jsonl"
        crashed.write_bytes(data[: size + torn])
        recovered = JournaledEngine.recover(crashed, now + 60.0, verify=True)
        assert state_of(recovered) == expected, f"step {step}"
        assert recovered.recovery is not None
        assert recovered.recovery.dropped_bytes == torn
        recovered.close()


def test_recover_cut_inside_a_call_rewrites_its_lost_records(
    long_run: tuple[JournaledEngine, Path], tmp_path: Path
) -> None:
    data = long_run[1].read_bytes()
    records = load_journal(long_run[1]).records
    # The middle of a handle whose call fired several transitions.
    index = next(i for i, r in enumerate(records[:-3]) if r.type == "event" and i > 200
                 and records[i + 1].type == "fired" and records[i + 2].type == "fired")
    offset = sum(len(line) + 1 for line in data.split(b"\n")[: index + 2])
    crashed = tmp_path / "crash.jsonl"
    crashed.write_bytes(data[:offset])
    recovered = JournaledEngine.recover(crashed, 1e6)
    recovered.close()
    assert recovered.recovery is not None and recovered.recovery.completed >= 1
    after = load_journal(crashed).records
    lost = recovered.recovery.completed
    assert [(r.type, r.at, r.data) for r in after[index + 2: index + 2 + lost]] == [
        (r.type, r.at, r.data) for r in records[index + 2: index + 2 + lost]
    ]
    assert after[index + 2 + lost].type == "recover"


def test_recover_new_cloids_never_collide_with_journaled_ones(
    long_run: tuple[JournaledEngine, Path], tmp_path: Path
) -> None:
    crashed = tmp_path / "crash.jsonl"
    data = long_run[1].read_bytes()
    crashed.write_bytes(data[: len(data) // 2])
    journaled = {r.data["cloid"] for r in load_journal(crashed).records
                 if r.type in ("place", "fired") and r.data["cloid"] is not None}
    recovered = JournaledEngine.recover(crashed, 1e6)
    new = {str(recovered.place(Side.BUY, PX, SZ, 1e6).cloid) for _ in range(50)}
    recovered.close()
    assert not new & journaled
    assert all(recovered.cloids.owns(Cloid(c)) for c in new)
    assert recovered.recovery is not None
    assert recovered.recovery.cloid_start == 1 + max(
        int(c[18:], 16) for c in journaled if c.startswith(min(new)[:18])
    )


@pytest.fixture
def crashed_desk(tmp_path: Path) -> tuple[Path, dict[str, Order]]:
    """A journal left by a crash with an order in each interesting state."""
    path = tmp_path / "j.jsonl"
    engine = new_engine(path)
    names = ("expected", "cancelling", "protected", "tracked", "gone", "modifying", "pending")
    orders = {name: engine.place(Side.BUY, PX, SZ, 0.0) for name in names}
    engine.cancel(orders.pop("pending"), 0.0)  # abandoned before the drain
    engine.commands_to_send()
    for i, name in enumerate(("cancelling", "protected", "tracked", "gone", "modifying"), 1):
        engine.handle(OrderAccepted(cloid=orders[name].cloid, oid=Oid(i)), 0.0)
    engine.on_timer(10.0)  # protected and the others become TRACKED
    engine.handle(OrderAccepted(cloid=orders["protected"].cloid, oid=Oid(2)), 10.0)
    engine.modify(orders["protected"], PX, Decimal(2), 10.0)
    engine.handle(OrderModified(cloid=orders["protected"].cloid, oid=Oid(9), old_oid=Oid(2),
                                price=PX, size=Decimal(2)), 10.5)
    engine.cancel(orders["cancelling"], 11.0)
    engine.modify(orders["modifying"], PX, Decimal(3), 11.0)  # its answer dies with us
    engine.handle(OrderFilled(cloid=orders["gone"].cloid, oid=Oid(4), tid=Tid(1), side=Side.BUY,
                              price=PX, size=SZ), 11.5)
    engine.commands_to_send()
    assert [orders[n].state for n in names[:-1]] == [
        S.EXPECTED, S.CANCELLING, S.FINALIZED_PROTECTED, S.TRACKED, S.GONE, S.MODIFYING
    ]
    # The process dies here. Every record is on disk already: releasing the
    # file adds nothing to it.
    size = path.stat().st_size
    engine.journal.close()
    assert path.stat().st_size == size
    return path, orders


def test_recover_on_timer_queries_expected_and_cancelling_orders_instead_of_ending_them(
    crashed_desk: tuple[Path, dict[str, Order]],
) -> None:
    path, orders = crashed_desk
    engine = JournaledEngine.recover(path, 500.0, verify=True)
    engine.on_timer(500.0)
    state = {name: engine.registry.by_cloid(Cloid(o.label)) for name, o in orders.items()}
    assert state["expected"] is not None and state["expected"].state is S.EXPECTED
    assert state["cancelling"] is not None and state["cancelling"].state is S.CANCELLING
    assert state["protected"] is not None and state["protected"].state is S.TRACKED
    assert state["tracked"] is not None and state["tracked"].state is S.TRACKED
    assert state["modifying"] is not None and state["modifying"].state is S.MODIFYING
    assert state["gone"] is None  # tombstone evicted by its overdue timer
    sent = engine.commands_to_send()
    assert QueryOrderStatus(cloid=orders["expected"].cloid, oid=None) in sent
    assert QueryOrderStatus(cloid=orders["cancelling"].cloid, oid=Oid(1)) in sent
    assert QueryOrderStatus(cloid=orders["modifying"].cloid, oid=Oid(5)) in sent
    assert not any(isinstance(c, PlaceOrder) for c in sent)  # nothing placed twice
    engine.close()


def test_recover_fills_seen_before_the_crash_move_the_position_once(
    crashed_desk: tuple[Path, dict[str, Order]],
) -> None:
    path, orders = crashed_desk
    engine = JournaledEngine.recover(path, 500.0)
    assert engine.position == SZ
    tracked = orders["tracked"].cloid
    engine.handle(OrderFilled(cloid=orders["gone"].cloid, oid=Oid(4), tid=Tid(1),
                              side=Side.BUY, price=PX, size=SZ), 500.0)  # redelivered
    assert engine.position == SZ
    engine.handle(OrderFilled(cloid=tracked, oid=Oid(3), tid=Tid(2), side=Side.BUY, price=PX,
                              size=Decimal("0.5")), 500.0)  # made while we were down
    engine.handle(OrderFilled(cloid=tracked, oid=Oid(3), tid=Tid(2), side=Side.BUY, price=PX,
                              size=Decimal("0.5")), 500.0)
    assert engine.position == Decimal("1.5")
    engine.close()


def test_recover_continues_the_journal_and_a_full_replay_matches(
    crashed_desk: tuple[Path, dict[str, Order]],
) -> None:
    path, orders = crashed_desk
    engine = JournaledEngine.recover(path, 500.0, verify=True)
    engine.on_timer(500.0)
    engine.commands_to_send()
    engine.handle(OrderStatusReport(cloid=orders["expected"].cloid,
                                    outcome=StatusOutcome.NOT_FOUND), 501.0)
    late = engine.place(Side.SELL, PX, SZ, 502.0)
    engine.commands_to_send()
    engine.close()
    records = load_journal(path).records
    assert [r.type for r in records].count("recover") == 1
    replayed = fresh_engine()
    replay(records, replayed)
    assert state_of(replayed) == state_of(engine)
    assert replayed.order(Cloid(late.label)).state is S.EXPECTED
    assert replayed.order(Cloid(orders["expected"].label)).state is S.GONE


def test_recover_twice_keeps_one_consistent_history(
    crashed_desk: tuple[Path, dict[str, Order]],
) -> None:
    path, _ = crashed_desk
    first = JournaledEngine.recover(path, 100.0)
    first.place(Side.BUY, PX, SZ, 101.0)
    first.commands_to_send()  # crash again without closing
    first.journal.close()
    second = JournaledEngine.recover(path, 200.0)
    assert state_of(second) == state_of(first)
    assert second.recovery is not None and second.recovery.inputs > 0
    second.close()


def test_recover_before_the_journals_last_time_raises(
    crashed_desk: tuple[Path, dict[str, Order]],
) -> None:
    with pytest.raises(TimeWentBackwards, match="clock"):
        JournaledEngine.recover(crashed_desk[0], 1.0)


def test_recover_missing_journal_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        JournaledEngine.recover(tmp_path / "nothing.jsonl", 0.0)


@pytest.mark.parametrize("keep", [0, 1, 12, 24, 40])
def test_recover_torn_header_starts_an_empty_journal(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "j.jsonl"
    new_engine(path).close()
    path.write_bytes(path.read_bytes()[:keep])  # the crash cut the header's one write
    engine = JournaledEngine.recover(path, 5.0, config=CONFIG)
    engine.place(Side.BUY, PX, SZ, 5.0)
    engine.close()
    assert types_of(path) == ["open", "recover", "place"]
