"""Crash tests: a bot process killed with SIGKILL, recovered from its journal, held to the truth.

Theory of operation
-------------------
The exchange lives here, in the test process, so it survives the bot: a
:class:`Truth` built on :class:`~lifecycle.testing.ScriptedExchange` (the book,
every trade and the account's position) that also remembers every leg's status
(for status queries) and when each trade was made (for the fill catch-up).

The bot is a child process (``tests/crash_bot.py``) running a
:class:`~lifecycle.journal.JournaledEngine` on a journal in the test's tmp
dir, flushed per record. They talk in JSON lines: exchange messages and
snapshots go in as the journal codec's records, drained commands come out as
its ``drain`` record, and time is whatever the test says (a manual clock), so
every run is the same. A :class:`Desk` is the test's side: the clock, the
truth, the bot of the moment, and :meth:`Desk.run`, which executes commands on
the truth and delivers the answers until the bot has nothing more to send.

Each test runs the same short session (a bid partly filled, an ask), then
kills the bot at one moment: (1) after a request is drained but before it is
sent (the bot kills itself right after ``commands_to_send()`` returns), (2)
after a placement is sent and booked, before its answer, (3) after a cancel
was executed, before its ack, (4) after trades it never heard of, (5) during a
modify, (6) with the journal's last call torn. A new process then comes back
as a driver must (:meth:`Desk.recover`): :meth:`JournaledEngine.recover
<lifecycle.journal.JournaledEngine.recover>`, then an immediate safety sync,
every fill since the journal's first time (repeats included) and its overdue
timers, in the order of a :class:`Comeback`, then answers to its status
queries and time through every timer, with a sync every ``sync.interval_s``.
:func:`check_truth` then holds its state to the exchange's: every order of
ours resting is tracked under its oid with its fills, nothing it holds as
resting is off the book, nothing is left in flight, the positions agree,
every trade is counted once, and no order of ours was taken for an orphan or
cancelled without being asked to. The whole journal, across the crash, must
replay without divergence. The same crashes are recovered from a journal
that checkpoints every few records, too.

The checks are checked: the same crashes recovered by a bot without its
journal, or without the fill catch-up, must fail them.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pytest
from crash_bot import NAMESPACE

from lifecycle.config import LifecycleConfig
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import (
    CancelRejected,
    ExchangeEvent,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderStatusReport,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Side
from lifecycle.core.states import IN_FLIGHT, RESTING, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.journal import load_journal, replay
from lifecycle.journal.codec import INPUTS, decode_line, encode_line
from lifecycle.journal.load import segment_paths
from lifecycle.policy.snapshot import OpenOrdersSnapshot
from lifecycle.testing import ScriptedExchange

BOT = Path(__file__).with_name("crash_bot.py")
CONFIG = LifecycleConfig()
#: Longest wait for one answer of the bot, or for it to exit: a hung bot fails the test.
TIMEOUT_S = 15.0
T0 = 1000.0
#: How long the recovered bot runs before it is checked: past the EXPECTED TTL and
#: the cancel timeout, enough syncs for a missing-order streak, and the tombstones'
#: eviction.
SETTLE_S = 80.0
SYNC_EVERY_S = CONFIG.sync.interval_s
#: Where an order of ours resting on the exchange must be once the bot has settled.
SETTLED = {OrderState.TRACKED.value, OrderState.FINALIZED_PROTECTED.value}
#: States no order may be left in once settled: every request answered.
UNSETTLED = {s.value for s in IN_FLIGHT} | {OrderState.PENDING.value}
#: States in which the bot holds an order as resting on the book.
RESTING_NOW = {s.value for s in RESTING}
#: Tells the bot's cloids (its namespace, any run) from others.
OURS = CloidFactory(NAMESPACE)


def ours(cloid: Cloid | None) -> bool:
    """Whether a cloid is one of the bot's."""
    return OURS.owns(cloid)


# --- the exchange ---------------------------------------------------------------------------


@dataclass
class Leg:
    """One order the exchange booked under one oid (a placement, or a modify's new leg)."""

    oid: Oid
    cloid: Cloid | None
    status: str  # the exchange's word: open, filled, canceled


class Truth:
    """The exchange: a scripted book, trades and position, plus every leg's status
    and the time of every trade."""

    def __init__(self) -> None:
        self.exchange = ScriptedExchange(CONFIG.coin_key)
        self.legs: dict[Oid, Leg] = {}
        self.latest: dict[Cloid, Leg] = {}
        self.trade_times: list[tuple[float, OrderFilled]] = []
        #: Resting orders taken off the book by a cancel request, with when.
        self.cancelled: list[tuple[float, Leg]] = []

    def _book(self, side: Side, price: Decimal, size: Decimal, cloid: Cloid | None) -> Leg:
        entry = self.exchange.add(side, price, size, cloid=cloid)
        leg = Leg(entry.oid, cloid, "open")
        self.legs[leg.oid] = leg
        if cloid is not None:
            self.latest[cloid] = leg
        return leg

    def find(self, cloid: Cloid | None, oid: Oid | None) -> Leg | None:
        """The leg a request names: by oid when given, else the latest with the cloid."""
        if oid is not None:
            return self.legs.get(oid)
        return self.latest.get(cloid) if cloid is not None else None

    def resting(self, cloid: Cloid) -> Leg:
        """The leg of ``cloid`` resting now."""
        leg = self.latest[cloid]
        assert leg.status == "open", f"{cloid} does not rest"
        return leg

    def trade(self, cloid: Cloid, size: str, now: float) -> OrderFilled:
        """Execute ``size`` of the resting order ``cloid``; return the fill message."""
        leg = self.resting(cloid)
        fill = self.exchange.trade(self.exchange.book[leg.oid], Decimal(size))
        if leg.oid not in self.exchange.book:
            leg.status = "filled"
        self.trade_times.append((now, fill))
        return fill

    def filled(self, cloid: Cloid) -> Decimal:
        """How much of the order ``cloid`` traded, all its legs together."""
        return sum((f.size for f in self.exchange.fills if f.cloid == cloid), Decimal(0))

    def fills_since(self, since: float) -> list[OrderFilled]:
        """The account's fills at or after ``since``, oldest first (``userFillsByTime``)."""
        return [fill for at, fill in self.trade_times if at >= since]

    def snapshot(self, now: float) -> OpenOrdersSnapshot:
        """The open orders now."""
        return OpenOrdersSnapshot(taken_at=now, orders=self.exchange.rows())

    def execute(self, command: Command, now: float) -> list[ExchangeEvent]:
        """Do what ``command`` asks, as the exchange would; return its answers."""
        if isinstance(command, PlaceOrder):
            leg = self._book(command.side, command.price, command.size, command.cloid)
            return [OrderAccepted(cloid=command.cloid, oid=leg.oid)]
        if isinstance(command, FetchOpenOrders):
            raise AssertionError("a snapshot is not an answer: Desk.run delivers one")
        found = self.find(command.cloid, command.oid)
        if isinstance(command, CancelOrder):
            if found is None or found.status != "open":
                return [CancelRejected(cloid=command.cloid, oid=command.oid, order_gone=True)]
            del self.exchange.book[found.oid]
            found.status = "canceled"
            self.cancelled.append((now, found))
            return [OrderCanceled(cloid=found.cloid, oid=found.oid)]
        if isinstance(command, ModifyOrder):
            if found is None or found.status != "open":
                return [ModifyRejected(cloid=command.cloid, oid=command.oid, order_gone=True)]
            old = self.exchange.book.pop(found.oid)
            found.status = "canceled"  # a cancel-replace, as Hyperliquid does it
            new = self._book(old.side, command.price, command.size, found.cloid)
            return [OrderModified(cloid=found.cloid, oid=new.oid, old_oid=found.oid,
                                  price=command.price, size=command.size)]
        if isinstance(command, QueryOrderStatus):
            # By cloid when the query has one, as the venue answers: the latest leg.
            found = self.find(command.cloid, None) if command.cloid else found
            if found is None:
                return [OrderStatusReport(cloid=command.cloid, oid=command.oid,
                                          outcome=StatusOutcome.NOT_FOUND, status="unknownOid")]
            return [OrderStatusReport(cloid=found.cloid, oid=found.oid,
                                      outcome=StatusOutcome(found.status), status=found.status)]
        raise AssertionError(f"the exchange cannot execute {command!r}")


# --- the bot process ------------------------------------------------------------------------


class BotDied(AssertionError):
    """The bot's end of the pipe closed."""


class Bot:
    """One bot process: a line out, a line back, each read guarded by :data:`TIMEOUT_S`."""

    def __init__(self, journal_dir: Path, log: Path, *args: str) -> None:
        self._log_path = log
        self._log: IO[bytes] = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(BOT), str(journal_dir), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
        )
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_all, daemon=True)
        self._reader.start()
        try:
            self.hello: dict[str, Any] = json.loads(self._read())
        except BaseException:
            self.reap()
            raise

    def _read_all(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _stderr(self) -> str:
        self._log.flush()
        return self._log_path.read_text(errors="replace")[-4000:]

    def _read(self) -> bytes:
        try:
            line = self._lines.get(timeout=TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(f"the bot gave no answer in {TIMEOUT_S} s\n"
                                 f"{self._stderr()}") from None
        if line is None:
            raise BotDied(f"the bot exited ({self.proc.poll()})\n{self._stderr()}")
        return line.rstrip(b"\n")

    def _write(self, line: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.rstrip(b"\n") + b"\n")
        self.proc.stdin.flush()

    def request(self, line: bytes) -> list[Command]:
        """Send one message or request; return the commands the bot drained after it."""
        self._write(line)
        raw = self._read()
        answer = json.loads(raw)
        if answer.get("op") == "error":
            raise AssertionError(f"the bot raised:\n{answer['error']}")
        record = decode_line(raw)
        assert record.type == "drain", raw
        return list(record.data["commands"])

    def state(self) -> dict[str, Any]:
        """The bot's orders, position and fills (see ``crash_bot.state``)."""
        self._write(b'{"op": "state"}')
        answer: dict[str, Any] = json.loads(self._read())
        return answer

    def die_after_drain(self, request: dict[str, Any]) -> None:
        """Send a request the bot must die of, right after its drain returns."""
        self._write(json.dumps({**request, "die_after_drain": True}).encode())
        self._await_sigkill()

    def kill(self) -> None:
        """SIGKILL the bot now, whatever it is doing."""
        self.proc.kill()
        self._await_sigkill()

    def _await_sigkill(self) -> None:
        assert self.proc.wait(timeout=TIMEOUT_S) == -signal.SIGKILL
        with pytest.raises(BotDied):
            self._read()  # nothing was answered after the drain
        self._release()

    def close(self) -> None:
        """End the bot the clean way (its journal closed) and wait for it."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=TIMEOUT_S) == 0, self._stderr()
        self._release()

    def reap(self) -> None:
        """Kill the bot if it still runs (a failed test's leftovers) and release its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT_S)
        self._release()

    def _release(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):  # bytes left for a dead reader
                self.proc.stdin.close()
        self._reader.join(timeout=TIMEOUT_S)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _type(line: bytes) -> str:
    """A journal line's record type (every line is one JSON object)."""
    kind: str = json.loads(line).get("type", "")
    return kind


# --- the test's side ------------------------------------------------------------------------


class Desk:
    """The clock, the exchange's truth and the bot of the moment."""

    def __init__(self, tmp_path: Path, *, checkpoint_every: int | None = None) -> None:
        self.tmp = tmp_path
        self.journal_dir = tmp_path / "run"
        self.bot_args = () if checkpoint_every is None else (
            "--checkpoint-every", str(checkpoint_every))
        self.now = T0
        self.truth = Truth()
        self.bots: list[Bot] = []
        self.bot = self.spawn("--start")
        #: When the recovered bot came back.
        self.back: float | None = None
        #: Orders the bot was asked to cancel: their cancels are its own, not an orphan's.
        self.cancels_asked: set[Cloid] = set()
        #: Bytes :meth:`tear_last_record` cut off the journal.
        self.torn_bytes = 0

    def spawn(self, *args: str) -> Bot:
        """Start a bot process on the journal."""
        bot = Bot(self.journal_dir, self.tmp / f"bot-{len(self.bots)}.stderr", *args,
                  *self.bot_args)
        self.bots.append(bot)
        return bot

    # --- the bot's side

    def request(self, op: str, **fields: Any) -> dict[str, Any]:
        """The JSON of a request (``place``, ``cancel``, ``modify``, ``advance``...) now."""
        if op == "cancel":
            self.cancels_asked.add(fields["cloid"])
        return {"op": op, "at": self.now, **fields}

    def ask(self, op: str, **fields: Any) -> list[Command]:
        """Make a request now; return the commands the bot drained after it (not yet run)."""
        return self.bot.request(json.dumps(self.request(op, **fields)).encode())

    def place(self, side: Side, price: str, size: str) -> tuple[Cloid, list[Command]]:
        """Ask for a placement; return its cloid and the commands drained (not yet run)."""
        commands = self.ask("place", side=side.value, price=price, size=size)
        cloid = next(c.cloid for c in commands if isinstance(c, PlaceOrder))
        return cloid, commands

    def deliver(self, event: ExchangeEvent) -> list[Command]:
        """Hand the bot one exchange message; return the commands it drained."""
        return self.bot.request(encode_line(0, self.now, "event", {"event": event}))

    def sync(self) -> list[Command]:
        """Hand the bot an open-orders snapshot of the truth, taken now."""
        snapshot = self.truth.snapshot(self.now)
        return self.bot.request(encode_line(0, self.now, "snapshot", {"snapshot": snapshot}))

    def run(self, commands: Iterable[Command]) -> None:
        """Execute commands on the exchange and deliver every answer, until the bot is quiet."""
        todo = collections.deque(commands)
        for _ in range(1000):
            if not todo:
                return
            command = todo.popleft()
            if isinstance(command, FetchOpenOrders):
                todo.extend(self.sync())
                continue
            for answer in self.truth.execute(command, self.now):
                todo.extend(self.deliver(answer))
        raise AssertionError(f"the bot never went quiet: {list(todo)[:5]}")

    def at(self, when: float) -> None:
        """Move the clock to ``when`` and wake the bot (its due timers)."""
        assert when >= self.now
        self.now = when
        self.run(self.ask("advance"))

    # --- the crash and the comeback

    def recover(
        self, comeback: Comeback, *, empty: bool = False, catch_up: bool = True
    ) -> dict[str, Any]:
        """Bring a new bot back after the comeback's downtime, do a driver's duties in the
        comeback's order, run it :data:`SETTLE_S`; return its ``hello``.

        ``empty`` starts a bot without the journal's history; ``catch_up=False``
        skips the fill catch-up (both only to show that the checks catch them).
        """
        assert self.bot.proc.poll() is not None, "the bot must be dead"
        self.now += comeback.downtime_s
        self.back = back = self.now
        self.bot = self.spawn("--recover", repr(self.now), *(["--empty"] if empty else []))
        hello = self.bot.hello
        for duty in comeback.duties:
            if duty == "sync":  # what rests now
                self.run(self.sync())
            elif duty == "timers":  # the overdue ones: in-flight orders are queried
                self.run(self.ask("advance"))
            elif catch_up and hello["fills_since"] is not None:  # fills since the journal began
                for fill in self.truth.fills_since(hello["fills_since"]):
                    self.run(self.deliver(fill))
        while self.now < back + SETTLE_S:
            self.at(self.now + 1.0)
            if (self.now - back) % SYNC_EVERY_S == 0:
                self.run(self.sync())
        return hello

    def tear_last_record(self, *, within: str) -> int:
        """Cut the journal's last call short, as a crash during its one write leaves it:
        mid-way through its first line (``input``) or its last (``outcome``). Return the
        bytes cut.

        A checkpoint the last call was followed by never happened: its segment is
        left as a crash during the rotation leaves it, a half-written temporary file.
        """
        files = [path for _, path in segment_paths(self.journal_dir)]
        while not any(_type(line) in INPUTS for line in _lines(files[-1])):
            rotated = files.pop()
            data = rotated.read_bytes()
            rotated.unlink()
            rotated.with_name(rotated.name + ".tmp").write_bytes(data[: len(data) // 2])
        path = files[-1]
        data = path.read_bytes()
        lines = _lines(path)
        first = max(i for i, line in enumerate(lines) if _type(line) in INPUTS)
        index = first if within == "input" else len(lines) - 1
        assert within == "outcome" or index < len(lines) - 1, "the call has one line"
        keep = sum(len(line) + 1 for line in lines[:index]) + len(lines[index]) // 2
        path.write_bytes(data[:keep])
        return len(data) - keep

    def close(self) -> None:
        """Reap every bot still running."""
        for bot in self.bots:
            bot.reap()


@dataclass(frozen=True)
class Comeback:
    """How long the bot is down, and the order of a driver's first duties after it."""

    name: str
    downtime_s: float
    duties: tuple[str, str, str]


COMEBACKS = [
    # Back before any timer of the crash ran out: the sync sees the book first.
    Comeback("sync-first", 20.0, ("sync", "fills", "timers")),
    # Down past the EXPECTED TTL and the cancel timeout: on_timer first, as
    # JournaledEngine.recover says, so every in-flight order is queried at once.
    Comeback("timers-first", 45.0, ("timers", "sync", "fills")),
]
#: The counters (of the safety sync, over the recovered process) that say an order
#: was taken for an orphan or found again as one.
ORPHAN_COUNTERS = ("sync_orphans_seen", "sync_orphans_cancelled", "sync_orphans_adopted",
                   "sync_own_orders_adopted")


# --- the checks -----------------------------------------------------------------------------


def problems(desk: Desk, state: dict[str, Any]) -> list[str]:
    """Where the recovered bot's state differs from the exchange's truth."""
    truth, found = desk.truth, []
    tracked = {o["cloid"]: o for o in state["orders"] if o["cloid"] is not None}
    for entry in truth.exchange.book.values():
        if entry.cloid is None or not ours(entry.cloid):
            continue
        order = tracked.get(entry.cloid)
        if order is None:
            found.append(f"untracked: {entry.cloid} rests on the exchange as {entry.oid}")
        elif order["state"] not in SETTLED or order["oid"] != entry.oid:
            found.append(f"{entry.cloid} rests as {entry.oid}; the bot has {order}")
        elif Decimal(order["filled"]) != truth.filled(entry.cloid):
            found.append(f"filled: {entry.cloid} {order['filled']} for the bot, "
                         f"{truth.filled(entry.cloid)} on the exchange")
    for order in state["orders"]:
        if order["state"] in UNSETTLED:
            found.append(f"unsettled after {SETTLE_S} s: {order}")
        elif order["state"] in RESTING_NOW:
            rests = truth.exchange.book.get(order["oid"])
            if rests is None or rests.cloid != order["cloid"]:
                found.append(f"absent: the bot has {order} resting, the exchange has not")
    if Decimal(state["position"]) != truth.exchange.position:
        found.append(f"position: {state['position']} for the bot, "
                     f"{truth.exchange.position} on the exchange")
    if state["fills"] != len(truth.exchange.fills):
        found.append(f"fills: the bot counted {state['fills']}, "
                     f"the exchange made {len(truth.exchange.fills)}")
    orphans = {k: state["counted"][k] for k in ORPHAN_COUNTERS if state["counted"].get(k)}
    if state["orphaned"] or orphans:
        found.append(f"orphans: {orphans} {state['orphaned']}")
    assert desk.back is not None
    cancelled = [leg for at, leg in truth.cancelled
                 if at >= desk.back and ours(leg.cloid) and leg.cloid not in desk.cancels_asked]
    if cancelled:
        found.append(f"cancelled: orders of ours the bot never meant to cancel: {cancelled}")
    return found


def check_truth(desk: Desk, state: dict[str, Any]) -> None:
    """Fail with every difference between the recovered bot and the exchange's truth."""
    found = problems(desk, state)
    assert not found, "\n".join(found)


def check_replay(desk: Desk, state: dict[str, Any]) -> None:
    """The journal, across the crash, replays whole to the state the bot reported."""
    loaded = load_journal(desk.journal_dir)
    assert [r.type for r in loaded.records].count("recover") == 1
    engine = Engine(loaded.header["config"] if loaded.header else CONFIG,
                    cloids=CloidFactory(NAMESPACE, 1), verify=True)
    replay(loaded.records, engine)
    assert str(engine.position) == state["position"]
    assert sorted((o.cloid, o.oid, o.state.value) for o in engine.registry) == sorted(
        (o["cloid"], o["oid"], o["state"]) for o in state["orders"])


# --- the session and its crashes ------------------------------------------------------------


@dataclass
class Session:
    """What the session before the crash made: a bid with a fill, and an ask."""

    bid: Cloid
    ask: Cloid


def session(desk: Desk) -> Session:
    """Two orders acknowledged, one partly filled, both past protection, one sync."""
    bid, commands = desk.place(Side.BUY, "100", "2")
    desk.run(commands)
    desk.now += 1.0
    desk.run(desk.deliver(desk.truth.trade(bid, "0.5", desk.now)))
    desk.now += 1.0
    ask, commands = desk.place(Side.SELL, "105", "1")
    desk.run(commands)
    desk.at(T0 + 15.0)
    desk.run(desk.sync())
    desk.at(T0 + 20.0)
    return Session(bid, ask)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """A desk whose bot processes are reaped whatever the test's outcome."""
    d = Desk(tmp_path)
    yield d
    d.close()


@pytest.fixture
def checkpointing_desk(tmp_path: Path) -> Iterator[Desk]:
    """A desk whose bot checkpoints every 3 records: recovery starts from a checkpoint."""
    d = Desk(tmp_path, checkpoint_every=3)
    yield d
    d.close()


Crash = Callable[[Desk, Session], None]


def crash_drained_not_sent(desk: Desk, s: Session, op: str = "place") -> None:
    """(1) A request drained (journaled as sent), the process dead before sending it."""
    requests: dict[str, dict[str, Any]] = {
        "place": {"side": "buy", "price": "99", "size": "1"},
        "cancel": {"cloid": s.ask},
        "modify": {"cloid": s.ask, "price": "104", "size": "1"},
    }
    fields = requests[op]
    desk.bot.die_after_drain(desk.request(op, **fields))


def crash_sent_not_answered(desk: Desk, s: Session, traded: str = "0") -> None:
    """(2) A placement sent and booked (``traded`` of it trades on arrival); the process
    killed before the answer."""
    cloid, commands = desk.place(Side.BUY, "99", "1")
    (command,) = commands
    desk.truth.execute(command, desk.now)
    desk.bot.kill()
    if traded != "0":
        desk.truth.trade(cloid, traded, desk.now)


def crash_cancel_ack_lost(desk: Desk, s: Session, traded: str = "0") -> None:
    """(3) A cancel executed on the exchange (after ``traded`` of the order traded,
    unheard); the process killed before its ack."""
    if traded != "0":
        desk.truth.trade(s.ask, traded, desk.now)
    (command,) = desk.ask("cancel", cloid=s.ask)
    assert isinstance(command, CancelOrder)
    desk.truth.execute(command, desk.now)
    desk.bot.kill()


def crash_fills_unheard(desk: Desk, s: Session) -> None:
    """(4) Trades made on the exchange; the process killed before their messages."""
    desk.truth.trade(s.bid, "1.5", desk.now)  # the rest of the bid: filled
    desk.truth.trade(s.ask, "0.4", desk.now)
    desk.bot.kill()


def crash_modify_unanswered(desk: Desk, s: Session, leg: str = "executed") -> None:
    """(5) A modify sent; killed before the answer. ``executed``: a cancel-replace under a
    new oid; ``traded``: and the new leg trades while the bot is down; ``lost``: the
    request never reached the exchange."""
    (command,) = desk.ask("modify", cloid=s.ask, price="104", size="1")
    assert isinstance(command, ModifyOrder)
    if leg != "lost":
        desk.truth.execute(command, desk.now)
    desk.bot.kill()
    if leg == "traded":
        desk.truth.trade(s.ask, "0.25", desk.now + 1.0)


def crash_torn(desk: Desk, s: Session, within: str = "input") -> None:
    """(6) A fill received and journaled, the process killed, and the record of that
    call torn as a crash during its write leaves it (see :meth:`Desk.tear_last_record`)."""
    desk.run(desk.deliver(desk.truth.trade(s.ask, "0.4", desk.now)))
    desk.bot.kill()
    desk.torn_bytes = desk.tear_last_record(within=within)


def crashed(desk: Desk, crash: Crash) -> Session:
    """Run the session and crash the bot as ``crash`` says."""
    s = session(desk)
    crash(desk, s)
    return s


def recovered(desk: Desk, comeback: Comeback) -> tuple[dict[str, Any], dict[str, Any]]:
    """Recover, check against the truth and the journal; return hello and the final state."""
    hello = desk.recover(comeback)
    state = desk.bot.state()
    desk.bot.close()
    check_truth(desk, state)
    check_replay(desk, state)
    return hello, state


def by_cloid(state: dict[str, Any]) -> dict[Cloid, dict[str, Any]]:
    """The bot's orders by cloid."""
    return {o["cloid"]: o for o in state["orders"]}


comebacks = pytest.mark.parametrize("comeback", COMEBACKS, ids=lambda c: c.name)


# --- the tests ------------------------------------------------------------------------------


@comebacks
@pytest.mark.parametrize("op", ["place", "cancel", "modify"])
def test_killed_after_the_drain_before_the_send(
    desk: Desk, op: str, comeback: Comeback
) -> None:
    s = crashed(desk, functools.partial(crash_drained_not_sent, op=op))
    _, state = recovered(desk, comeback)
    if op == "place":
        (lost,) = set(state["ended"]) - {s.bid, s.ask}
        assert state["ended"][lost]["reason"] == "never_placed"  # asked; never the TTL alone
        assert lost not in desk.truth.latest
    elif op == "cancel":  # journaled as sent: the timeout asks, and it is sent again
        assert state["ended"][s.ask]["reason"] == "canceled"
    else:
        assert by_cloid(state)[s.ask]["oid"] == desk.truth.resting(s.ask).oid


@comebacks
@pytest.mark.parametrize("traded", ["0", "0.3", "1"])
def test_killed_after_the_send_before_the_answer(
    desk: Desk, traded: str, comeback: Comeback
) -> None:
    s = crashed(desk, functools.partial(crash_sent_not_answered, traded=traded))
    _, state = recovered(desk, comeback)
    (new,) = {*by_cloid(state), *state["ended"]} - {s.bid, s.ask}
    if traded == "1":
        assert state["ended"][new]["reason"] == "filled"
    else:
        assert by_cloid(state)[new]["oid"] == desk.truth.resting(new).oid


@comebacks
@pytest.mark.parametrize("traded", ["0", "0.3"])
def test_killed_after_a_cancel_executed_before_its_ack(
    desk: Desk, traded: str, comeback: Comeback
) -> None:
    s = crashed(desk, functools.partial(crash_cancel_ack_lost, traded=traded))
    _, state = recovered(desk, comeback)
    assert state["ended"][s.ask]["reason"] == "canceled"
    assert Decimal(state["ended"][s.ask]["filled"]) == Decimal(traded)
    assert set(by_cloid(state)) == {s.bid}


@comebacks
def test_killed_before_fills_it_never_received(desk: Desk, comeback: Comeback) -> None:
    s = crashed(desk, crash_fills_unheard)
    hello, state = recovered(desk, comeback)
    assert hello["fills_since"] == T0  # the journal's first time: every fill
    assert state["ended"][s.bid]["reason"] == "filled"
    assert Decimal(state["ended"][s.bid]["filled"]) == 2
    assert by_cloid(state)[s.ask]["filled"] == "0.4"
    assert state["position"] == "1.6"
    assert state["counted"]["duplicate_fills"] >= 1  # the catch-up repeats the first fill


@comebacks
@pytest.mark.parametrize("leg", ["executed", "traded", "lost"])
def test_killed_during_a_modify(desk: Desk, leg: str, comeback: Comeback) -> None:
    s = crashed(desk, functools.partial(crash_modify_unanswered, leg=leg))
    _, state = recovered(desk, comeback)
    order = by_cloid(state)[s.ask]
    assert order["oid"] == desk.truth.resting(s.ask).oid
    assert order["price"] == ("105" if leg == "lost" else "104")
    assert order["filled"] == ("0.25" if leg == "traded" else "0")


@comebacks
@pytest.mark.parametrize("within", ["input", "outcome"])
def test_last_record_torn(desk: Desk, within: str, comeback: Comeback) -> None:
    s = crashed(desk, functools.partial(crash_torn, within=within))
    hello, state = recovered(desk, comeback)
    assert 0 < hello["dropped_bytes"] <= desk.torn_bytes
    assert (hello["completed"] > 0) is (within == "outcome")  # the lost outcome written again
    assert by_cloid(state)[s.ask]["filled"] == "0.4"


ALL_CRASHES = [crash_drained_not_sent, crash_sent_not_answered, crash_cancel_ack_lost,
               crash_fills_unheard, crash_modify_unanswered, crash_torn]
crashes = pytest.mark.parametrize("crash", ALL_CRASHES, ids=lambda c: c.__name__)


@crashes
def test_every_crash_recovered_from_a_checkpoint(checkpointing_desk: Desk, crash: Crash) -> None:
    desk = checkpointing_desk
    crashed(desk, crash)
    hello, _ = recovered(desk, COMEBACKS[1])
    assert len(segment_paths(desk.journal_dir)) > 1
    assert hello["inputs"] <= 3  # only the calls after the newest checkpoint are replayed


# --- the checks fail a broken recovery -------------------------------------------------------


@crashes
def test_checks_fail_a_bot_that_comes_back_without_its_journal(desk: Desk, crash: Crash) -> None:
    crashed(desk, crash)
    desk.recover(COMEBACKS[0], empty=True)
    found = problems(desk, desk.bot.state())
    # Its own orders taken for orphans and cancelled, and the fills before it lost.
    assert any(p.startswith("orphans") for p in found), found
    assert any(p.startswith("cancelled") for p in found), found
    assert any(p.startswith("position") for p in found), found


def test_checks_fail_a_recovery_without_the_fill_catch_up(desk: Desk) -> None:
    crashed(desk, crash_fills_unheard)
    desk.recover(COMEBACKS[0], catch_up=False)
    found = problems(desk, desk.bot.state())
    assert any(p.startswith("position") for p in found), found
    assert any(p.startswith("filled") for p in found), found
