"""Replay: feeding a journal's calls to a fresh engine and checking it does the same.

Theory of operation
-------------------
:func:`replay` feeds the inputs to a fresh engine with the same configuration
and checks each call's fired and refused transitions, raised errors and
drained commands against the journal's, raising
:class:`~lifecycle.journal.errors.ReplayDivergence` at the first difference.
Place records carry the cloid, so replay does not draw from the cloid factory.
A drain whose time is later than the engine's first moves the clock there (the
clock moved without a journaled call: nothing was due).

A ``snapshot`` record runs the safety sync on the journaled snapshot again
(``handle_snapshot``), which rebuilds the sync's memory; the events the sync
hands the engine meanwhile are outcomes (``sync_event``), as are its moves.

The replayed engine's transitions are captured by an observer of its machine
for the length of the replay, one call at a time, and the events the safety
sync hands it by standing in for the engine's ``handle`` (an instance
attribute, removed after), and compared record by record with the journal's
outcome records. Replay also starts from an engine restored from a checkpoint
(:mod:`lifecycle.journal.checkpoint`): records other than inputs, outcomes
and ``recover`` (headers, checkpoints, notes) are skipped. Replay needs only an
:class:`~lifecycle.engine.facade.Engine`; recovery gives it a
:class:`~lifecycle.journal.journaled.JournaledEngine` with journaling paused,
and with ``partial_tail`` lets the last call's outcome run past the journal's
(a crash cut it short): the surplus comes back as :attr:`ReplayResult.tail`.

The engine's, the reconciler's and the safety sync's INFO lines were logged
when the run happened; a replay would only repeat them, thousands of lines
at a restart. So while it runs, a filter on those loggers
(:data:`REPEATED_LOGGERS`) lets through warnings and worse only, unless DEBUG
is asked for, which keeps everything; a context variable scopes it to the
replay's own thread or task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Order
from lifecycle.core.states import OrderState, Trigger
from lifecycle.engine.facade import Engine
from lifecycle.journal.codec import INPUTS, OUTCOMES, JournalRecord, Pending
from lifecycle.journal.errors import ReplayDivergence
from lifecycle.journal.outcomes import error_fields, fired_fields, refused_fields

__all__ = ["REPEATED_LOGGERS", "ReplayResult", "replay"]

#: Loggers whose INFO lines a replay would only repeat (module docstring).
REPEATED_LOGGERS = ("lifecycle.engine", "lifecycle.reconciler", "lifecycle.safety_sync")


class _RepeatsFilter(logging.Filter):
    """Drops the INFO (and lower) lines of a replay in progress, unless DEBUG is asked for.

    Scoped by a context variable, not by logger levels: a replay in one thread or
    task leaves the lines of live engines elsewhere in the process alone.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _REPLAYING.get() or record.levelno >= logging.WARNING:
            return True
        return logging.getLogger(record.name).getEffectiveLevel() <= logging.DEBUG


_REPLAYING: ContextVar[bool] = ContextVar("lifecycle_replaying", default=False)
_FILTER = _RepeatsFilter()
for _name in REPEATED_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


@contextmanager
def _repeats_quiet() -> Iterator[None]:
    """Mark this context as replaying for the block's length (see :class:`_RepeatsFilter`)."""
    token = _REPLAYING.set(True)
    try:
        yield
    finally:
        _REPLAYING.reset(token)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What :func:`replay` did.

    Attributes:
        inputs: Journaled calls replayed.
        fired: Transitions fired by them.
        tail: Outcome records of the last call that replay produced beyond
            the journal's (a crash cut them off), as ``(type, at, fields)``.
    """

    inputs: int
    fired: int
    tail: tuple[tuple[str, float | None, dict[str, Any]], ...]


class _Capture:
    """Collects what one replayed call fired and refused, and the events the sync handed in."""

    __slots__ = ("_handle", "items")

    def __init__(self, handle: Callable[[Any, float], None]) -> None:
        self.items: list[Pending] = []
        self._handle = handle

    def handle(self, event: Any, now: float) -> None:
        """Stands in for the engine's ``handle`` while a journaled call runs."""
        self.items.append(("sync_event", now, {"event": event}))
        self._handle(event, now)

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        self.items.append(("fired", now, fired_fields(order, source, trigger, dest)))

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        self.items.append(("refused", now, refused_fields(order, trigger)))


def _find(engine: Engine, rec: JournalRecord) -> Order:
    order = engine.registry.find(rec.data["cloid"], rec.data["oid"])
    if order is None:
        raise ReplayDivergence(
            rec.seq, f"{rec.type} names cloid={rec.data['cloid']} oid={rec.data['oid']}, "
            "which the replayed registry lacks"
        )
    return order


def _key(rec: JournalRecord) -> Cloid | Oid:
    cloid: Cloid | None = rec.data["cloid"]
    return cloid if cloid is not None else rec.data["oid"]


def _apply(engine: Engine, rec: JournalRecord, handle: Callable[[Any, float], None]) -> None:
    """Make the call ``rec`` journaled (``handle`` is the engine's own, not the stand-in)."""
    d, at = rec.data, rec.at
    kind = rec.type
    if kind == "drain":
        if at is not None and at > engine.now:
            engine.on_timer(at)  # the clock moved without a journaled call; nothing is due
        sent = engine.commands_to_send()
        if sent != d["commands"]:
            raise ReplayDivergence(rec.seq, f"drained {sent}, the journal has {d['commands']}")
        return
    if kind == "query":
        engine.query(_find(engine, rec), by_cloid=d["by_cloid"])
    elif kind == "sync_request":
        engine.request_sync(d["reason"])
    elif kind == "send":
        engine.send(d["command"])
    elif at is None:
        raise ReplayDivergence(rec.seq, f"{kind} record without a time")
    elif kind == "event":
        handle(d["event"], at)
    elif kind == "snapshot":
        engine.handle_snapshot(d["snapshot"], at)
    elif kind == "timer":
        engine.on_timer(at)
    elif kind == "place":
        engine.place(d["side"], d["price"], d["size"], at, cloid=d["cloid"])
    elif kind == "cancel":
        engine.cancel(_key(rec), at)
    elif kind == "modify":
        engine.modify(_key(rec), d["price"], d["size"], at)
    elif kind == "move":
        order = _find(engine, rec)
        if d["remote"]:
            engine.move_remote(order, d["trigger"], at)
        else:
            engine.move(order, d["trigger"], at)


def _describe(item: Pending | None) -> str:
    if item is None:
        return "nothing"
    kind, at, d = item
    if kind == "fired":
        return (f"fired {d['order']} {d['source'].value} --{d['trigger'].value}--> "
                f"{d['dest'].value} at {at}")
    if kind == "refused":
        return f"refused {d['order']} {d['state'].value} --{d['trigger'].value}--> at {at}"
    if kind == "sync_event":
        return f"sync_event {d['event']!r} at {at}"
    return f"{kind} {dict(d)}"


def replay(
    records: Iterable[JournalRecord], engine: Engine, *, partial_tail: bool = False
) -> ReplayResult:
    """Feed the journaled calls to ``engine`` and check it does what the run did.

    ``engine`` must be fresh and have the journaled run's configuration (a
    :class:`~lifecycle.journal.journaled.JournaledEngine` given here journals
    the replay again, unless it is being recovered). Each call's fired and
    refused transitions, its error and its drained commands must equal the
    journal's.

    Args:
        records: The journal's records, in order (from
            :func:`~lifecycle.journal.load.load_journal`).
        engine: The engine to rebuild.
        partial_tail: Whether the last call's outcome may be cut short (a
            crash): the journaled outcome must then only be a prefix of the
            replayed one, and the rest is returned as ``tail``.

    Raises:
        ReplayDivergence: At the first difference.
    """
    handle = engine.handle
    capture = _Capture(handle)
    engine.machine.add_observer(capture)
    # The safety sync calls the engine's ``handle``: the stand-in sees those calls.
    engine.handle = capture.handle  # type: ignore[method-assign]
    inputs = fired = 0
    actual: list[Pending] = []
    pos = 0
    current: JournalRecord | None = None

    def close(boundary: JournalRecord | None) -> tuple[Pending, ...]:
        if current is None or pos == len(actual):
            return ()
        if (boundary is None and partial_tail) or (
            boundary is not None and boundary.type == "recover"
        ):
            return tuple(actual[pos:])
        raise ReplayDivergence(
            current.seq, f"replay {_describe(actual[pos])}, which the journal lacks"
        )

    with _repeats_quiet():
        try:
            for rec in records:
                if rec.type in INPUTS:
                    close(rec)
                    current, pos = rec, 0
                    inputs += 1
                    capture.items = actual = []
                    try:
                        _apply(engine, rec, handle)
                    except ReplayDivergence:
                        raise
                    except Exception as exc:
                        actual.append(("error", rec.at, error_fields(exc)))
                    fired += sum(1 for item in actual if item[0] == "fired")
                elif rec.type in OUTCOMES:
                    expected: Pending = (rec.type, rec.at, dict(rec.data))
                    got = actual[pos] if current is not None and pos < len(actual) else None
                    if got != expected:
                        raise ReplayDivergence(
                            rec.seq, f"journal has {_describe(expected)}, replay {_describe(got)}"
                        )
                    pos += 1
                elif rec.type == "recover":
                    close(rec)
                    current = None
            tail = close(None)
        finally:
            engine.machine.remove_observer(capture)
            del engine.handle
    return ReplayResult(inputs, fired, tail)
