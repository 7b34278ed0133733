"""A bot process for the crash tests: a journaled engine driven over stdin and stdout.

Theory of operation
-------------------
``tests/test_crash.py`` plays the exchange and the clock; this process is the
bot it kills. It runs a :class:`~lifecycle.journal.JournaledEngine` on a
journal in the directory it is given, flushed and fsynced per record (the
default policy), and answers one line for every line it reads, so the parent
always knows what the engine did before it decides what to do next.

Started with ``--start`` it opens a new journal; with ``--recover NOW`` it
rebuilds the crashed run with :meth:`JournaledEngine.recover` at time ``NOW``
(``--empty`` instead starts an engine without the journal's history: how a
bot without a journal comes back, which the checks must catch). Its first
line is ``hello``, saying from when the fill catch-up must start
(:func:`~lifecycle.runtime.fills.catch_up_start` of the journal's first time).
``--checkpoint-every N`` makes the journal checkpoint every ``N`` records.

Lines in (one JSON object each):

* exchange messages and snapshots as the journal codec writes them: records
  of type ``event`` and ``snapshot``, their ``at`` the current time;
* requests: ``{"op": "place"|"cancel"|"modify", "at", ...}``,
  ``{"op": "advance", "at"}`` (run due timers), ``{"op": "drain"}``;
* ``{"op": "state"}``: answered with the engine's orders, position and fills,
  and what this process saw that the orders no longer show (orders ended,
  orders taken for orphans, counters moved since it started).

After each message or request the engine is drained, as a driver does, and
the drained commands go out as the codec's ``drain`` record. With
``"die_after_drain": true`` the process kills itself with ``SIGKILL`` right
after ``commands_to_send()`` returns: the commands are journaled as sent and
never reach the exchange. An exception is answered with ``{"op": "error"}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import traceback
from decimal import Decimal
from pathlib import Path
from typing import Any

from lifecycle.core.ids import Cloid, CloidFactory
from lifecycle.core.order import Order, Side
from lifecycle.core.states import DISCOVERED, OrderState, Trigger
from lifecycle.journal import Journal, JournaledEngine
from lifecycle.journal.codec import decode_line, encode_line

#: The cloid namespace of the bot's orders (the parent recognizes its orders by it).
NAMESPACE = "crashbot"


class Watch:
    """Remembers what this process's engine did that the final state no longer shows:
    orders that ended, with what filled up to their tombstone's eviction, and orders
    taken for orphans."""

    def __init__(self) -> None:
        self.ended: dict[str, dict[str, Any]] = {}
        self.orphaned: list[dict[str, Any]] = []

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        """Record ends and orphan sightings."""
        if dest is OrderState.GONE:  # its end, or a late fill of its tombstone
            self.ended[order.label] = {
                "reason": order.reason.value if order.reason else None,
                "filled": str(order.filled), "oid": order.oid, "at": now,
            }
        if dest in DISCOVERED or source in DISCOVERED:
            # An orphan candidate is created in its state, without a transition:
            # its first move (grace elapsed, adopted, vanished) names it.
            self.orphaned.append({"cloid": order.cloid, "oid": order.oid, "at": now,
                                  "trigger": trigger.value})

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        """Refusals are journaled and counted by the engine already."""


def start(args: argparse.Namespace) -> tuple[JournaledEngine, dict[str, Any]]:
    """The engine of this process, and the ``hello`` line announcing it."""
    every = {} if args.checkpoint_every is None else {"checkpoint_every": args.checkpoint_every}
    if args.recover is None:
        engine = JournaledEngine(Journal.in_dir(args.journal_dir),
                                 cloids=CloidFactory(NAMESPACE, 1), verify=True, **every)
        return engine, {"op": "hello", "fills_since": None}
    now = args.recover
    if args.empty:
        # No history: a new journal of a new run, and nothing to catch up from.
        fresh = Path(args.journal_dir) / f"empty-{now:g}"
        engine = JournaledEngine(Journal.in_dir(fresh), cloids=CloidFactory(NAMESPACE, 2),
                                 verify=True)
        return engine, {"op": "hello", "fills_since": None}
    # Imported here: the runtime (and anyio) would add a third to the start-up of
    # every bot, and only a recovering one needs it.
    from lifecycle.runtime.fills import catch_up_start

    engine = JournaledEngine.recover(args.journal_dir, now, verify=True, **every)
    info = engine.recovery
    assert info is not None
    since = None if info.first_at is None else catch_up_start(engine, info.first_at, now)
    return engine, {
        "op": "hello", "fills_since": since, "inputs": info.inputs,
        "dropped_bytes": info.dropped_bytes, "completed": info.completed,
        "first_at": info.first_at, "last_at": info.last_at,
    }


def state(engine: JournaledEngine, watch: Watch, start: dict[str, int]) -> dict[str, Any]:
    """What the parent checks against the exchange's truth; ``start`` holds the
    engine's counters when this process started (recovery replays the earlier ones)."""
    orders = [
        {"cloid": o.cloid, "oid": o.oid, "state": o.state.value, "price": str(o.price),
         "filled": str(o.filled)}
        for o in engine.registry
    ]
    return {
        "op": "state", "position": str(engine.position), "fills": engine.ledger.fills,
        "duplicates": engine.ledger.duplicates, "orders": orders, "ended": watch.ended,
        "orphaned": watch.orphaned, "counted": {
            k: v - start.get(k, 0) for k, v in engine.counters().items()
            if v != start.get(k, 0) and not k.startswith("orders_")
        },
        "outbox": engine.has_commands(), "deadline": engine.next_deadline(),
    }


def step(engine: JournaledEngine, raw: bytes, msg: dict[str, Any]) -> None:
    """Apply one exchange message or request to the engine."""
    op = msg.get("op")
    if op is None:
        record = decode_line(raw)
        at = record.at
        assert at is not None
        if record.type == "event":
            engine.handle(record.data["event"], at)
        elif record.type == "snapshot":
            engine.handle_snapshot(record.data["snapshot"], at)
        else:
            raise ValueError(f"not a message for the bot: {record.type}")
    elif op == "place":
        engine.place(Side(msg["side"]), Decimal(msg["price"]), Decimal(msg["size"]), msg["at"])
    elif op == "cancel":
        engine.cancel(Cloid(msg["cloid"]), msg["at"])
    elif op == "modify":
        engine.modify(Cloid(msg["cloid"]), Decimal(msg["price"]), Decimal(msg["size"]),
                      msg["at"])
    elif op == "advance":
        engine.on_timer(msg["at"])
    elif op != "drain":
        raise ValueError(f"unknown op {op!r}")


def main() -> int:
    """Serve the parent until its end of the pipe closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("journal_dir")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--start", action="store_true", help="open a new journal")
    how.add_argument("--recover", type=float, default=None, metavar="NOW",
                     help="recover the crashed run at time NOW")
    parser.add_argument("--empty", action="store_true",
                        help="with --recover: come back without the journal's history")
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                        help="records between checkpoints (default: the engine's)")
    args = parser.parse_args()
    out = sys.stdout.buffer

    def send(line: bytes) -> None:
        out.write(line if line.endswith(b"\n") else line + b"\n")
        out.flush()

    engine, hello = start(args)
    watch = Watch()
    engine.machine.add_observer(watch)
    counters = engine.counters()
    send(json.dumps(hello).encode())
    drains = 0
    for raw in sys.stdin.buffer:
        raw = raw.rstrip(b"\n")
        try:
            msg = json.loads(raw)
            if msg.get("op") == "state":
                send(json.dumps(state(engine, watch, counters)).encode())
                continue
            step(engine, raw, msg)
            commands = engine.commands_to_send()
            if msg.get("die_after_drain"):
                os.kill(os.getpid(), signal.SIGKILL)
            at = engine.now if math.isfinite(engine.now) else None
            drains += 1
            send(encode_line(drains, at, "drain", {"commands": commands}))
        except Exception:
            send(json.dumps({"op": "error", "error": traceback.format_exc()}).encode())
    engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
