"""The journaled engine: every input the engine handled and every move it made, on disk.

Theory of operation
-------------------
A :class:`JournaledEngine` is an :class:`~lifecycle.engine.facade.Engine` whose
state-changing public calls (``place``, ``cancel``, ``modify``, ``handle``,
``handle_snapshot``, ``move``, ``move_remote``, ``on_timer``,
``commands_to_send``, ``query``, ``request_sync``, ``send``) are each written
to a :class:`~lifecycle.journal.writer.Journal` as one *input* record,
followed by the *outcome* records of that call: every transition the machine
fired or refused (a :class:`~lifecycle.core.machine.TransitionObserver`), and
an ``error`` record if the call raised. Only the outermost call is an input:
the queries and moves the engine makes on its own behalf while handling an
event are outcomes of that event, reproduced by replaying it. Anomalies are
written as notes.

An open-orders snapshot is an input like any event (``snapshot``: the time it
was taken and its rows): replay runs the safety sync on it again, so the
sync's own memory (absence streaks, which decide whether a "not found" status
ends an order, the last snapshot applied, counters) is rebuilt exactly. What
the sync does with the engine meanwhile is an outcome of the snapshot: the
events it hands the engine are written as ``sync_event`` records (checked by
replay, and read by the review), its moves as ``fired`` records.

Checkpoints: every ``checkpoint_every`` records, between two calls, the
engine's whole state is captured (:mod:`lifecycle.engine.state`) and the
journal rotates into a new segment that opens with it (see
:mod:`lifecycle.journal.checkpoint`), so recovery replays at most that many
records whatever the length of the history.

The group of one call is written when the call ends, before it returns: a
drain's record lists the commands it returns, so with the ``every_record``
policy no command reaches the driver before its record is on disk. A
``timer`` record is written only when a deadline was due (a call with nothing
due only moves the clock, which the next record's time carries).

:meth:`JournaledEngine.recover` rebuilds the engine of a crashed run: the
steps around it are in :mod:`lifecycle.journal.recovery` (with what becomes of
the orders in each state), the replay in :mod:`lifecycle.journal.replay`. The
replay runs here, with this engine's journaling paused, so the journaled calls
are not written a second time.
"""

from __future__ import annotations

import functools
import math
import os
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from lifecycle.config.model import LifecycleConfig
from lifecycle.core.commands import Command
from lifecycle.core.events import ExchangeEvent
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import OrderState, Trigger
from lifecycle.engine import state as engine_state
from lifecycle.engine.facade import Engine
from lifecycle.journal.checkpoint import (
    DEFAULT_CHECKPOINT_EVERY,
    checkpoint_body,
    cloid_next,
    restore_checkpoint,
)
from lifecycle.journal.codec import FORMAT_VERSION, Pending
from lifecycle.journal.load import journal_path
from lifecycle.journal.outcomes import error_fields, fired_fields, refused_fields
from lifecycle.journal.recovery import RecoveryInfo, read_crashed_run, write_recovery
from lifecycle.journal.replay import replay
from lifecycle.journal.writer import FlushPolicy, Journal
from lifecycle.policy.snapshot import OpenOrdersSnapshot, SyncReport

__all__ = ["JournaledEngine"]

_R = TypeVar("_R")


def _ids(key: Order | Cloid | Oid) -> dict[str, Any]:
    if isinstance(key, Order):
        return {"cloid": key.cloid, "oid": key.oid}
    if isinstance(key, str):
        return {"cloid": key, "oid": None}
    return {"cloid": None, "oid": key}


_EVENT_TYPES = frozenset(typing.get_args(ExchangeEvent))


class _Recorder:
    """Passes fired and refused transitions to the engine's current group."""

    __slots__ = ("_engine",)

    def __init__(self, engine: JournaledEngine) -> None:
        self._engine = engine

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        self._engine._outcome(("fired", now, fired_fields(order, source, trigger, dest)))

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        self._engine._outcome(("refused", now, refused_fields(order, trigger)))


class JournaledEngine(Engine):
    """An engine that writes every call it handles, and every move, to a journal.

    Args:
        journal: Where the records go; a new journal gets the ``open`` header at once.
        config, cloids, verify: As for :class:`~lifecycle.engine.facade.Engine`.
        checkpoint_every: Records between two checkpoints (each starts a new
            segment); None for a journal that never checkpoints (one file).
    """

    def __init__(
        self,
        journal: Journal,
        config: LifecycleConfig | None = None,
        *,
        cloids: CloidFactory | None = None,
        verify: bool = False,
        checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        super().__init__(config, cloids=cloids, verify=verify)
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1 or None, got {checkpoint_every}")
        self.journal = journal
        #: Set by :meth:`recover`; None for an engine that started afresh.
        self.recovery: RecoveryInfo | None = None
        self.checkpoint_every = checkpoint_every
        self._depth = 0  # > 0 inside a journaled call: nested calls are its outcome
        self._paused = False
        self._group: list[Pending] | None = None
        self._anomalies_seen = 0
        # What a checkpoint carries besides the engine: calls journaled since the
        # journal began, its earliest time, the highest cloid counter journaled.
        self._inputs = 0
        self._first_at: float | None = None
        self._cloid_floor = 0
        self._checkpoint_seq = journal.next_seq
        self.machine.add_observer(_Recorder(self))
        if journal.next_seq == 0:
            journal.append("open", None, self._header())
            journal.flush()  # whatever the policy: an empty run still leaves a loadable file
            self._checkpoint_seq = journal.next_seq

    def _header(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION, "config": self.config,
            "namespace": self.cloids.namespace, "run_id": self.cloids.run_id,
        }

    # --- recording -------------------------------------------------------------------

    def _recording(self) -> bool:
        return not self._depth and not self._paused

    def _outcome(self, item: Pending) -> None:
        if self._paused:
            return
        if self._group is not None:
            self._group.append(item)
        elif not self.journal.closed:
            # Fired outside any journaled call: written alone, and replay will
            # flag it, since no input explains it.
            self.journal.append(*item)
            self.journal.commit(item[1])

    def _catch_up_anomalies(self, out: list[Pending]) -> None:
        total = len(self.anomalies)
        new = total - self._anomalies_seen
        if new <= 0:
            return
        self._anomalies_seen = total
        for a in list(self.anomalies)[-new:]:
            out.append(("anomaly", a.at, {"kind": a.kind, "order_id": a.order_id,
                                          "detail": a.detail}))

    def _run(
        self,
        kind: str,
        at: float | None,
        fields: Mapping[str, Any] | Callable[[Any], Mapping[str, Any]],
        call: Callable[[], _R],
    ) -> _R:
        if self.journal.closed:
            # Refused before the engine changes: a change no record can hold is lost.
            raise ValueError(f"journal {self.journal.path} is closed")
        notes: list[Pending] = []
        self._catch_up_anomalies(notes)
        group: list[Pending] = []
        self._group = group
        self._depth += 1
        try:
            result = call()
        except Exception as exc:
            self._finish(kind, at, None if callable(fields) else fields, notes, group, exc)
            raise
        except BaseException:  # an interrupt: nothing to journal, but stay usable
            self._depth -= 1
            self._group = None
            raise
        self._finish(kind, at, fields(result) if callable(fields) else fields, notes, group, None)
        return result

    def _finish(
        self,
        kind: str,
        at: float | None,
        fields: Mapping[str, Any] | None,
        notes: list[Pending],
        group: list[Pending],
        exc: Exception | None,
    ) -> None:
        self._depth -= 1
        self._group = None
        records = notes
        if fields is not None:
            records.append((kind, at, dict(fields)))
        # With no fields the call changed nothing and records no input (a refused place).
        records += group
        if exc is not None and fields is not None:
            records.append(("error", at, error_fields(exc)))
        self._catch_up_anomalies(records)
        self.journal.extend(records)
        self.journal.commit(at)
        if fields is not None:
            self._inputs += 1
            if self._first_at is None and at is not None:
                self._first_at = at
        every = self.checkpoint_every
        if every is not None and self.journal.next_seq - self._checkpoint_seq >= every:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Capture the engine's state into a new segment of the journal, now.

        Called between two calls (every ``checkpoint_every`` records by the
        journaled calls themselves); recovery then starts from here.

        Raises:
            ValueError: The journal is closed, or this is called inside a call.
        """
        if self._depth:
            raise ValueError("a checkpoint is taken between engine calls, not inside one")
        notes: list[Pending] = []
        self._catch_up_anomalies(notes)
        self.journal.extend(notes)
        captured = engine_state.capture(self)
        self._cloid_floor = cloid_next(self.cloids, self.registry, self._cloid_floor)
        body = functools.partial(
            checkpoint_body, at=self._now_or_none(), inputs=self._inputs,
            first_at=self._first_at, cloid_next=self._cloid_floor, state=captured,
        )
        self.journal.rotate(self._header(), body)
        self._checkpoint_seq = self.journal.next_seq

    def _now_or_none(self) -> float | None:
        return self.now if math.isfinite(self.now) else None

    # --- journaled calls -------------------------------------------------------------

    def place(
        self, side: Side, price: Decimal, size: Decimal, now: float, *, cloid: Cloid | None = None
    ) -> Order:
        """As :meth:`Engine.place`; journaled with the cloid used."""
        if not self._recording():
            return super().place(side, price, size, now, cloid=cloid)
        return self._run(
            "place", now,
            lambda o: {"cloid": o.cloid, "side": side, "price": price, "size": size},
            functools.partial(super().place, side, price, size, now, cloid=cloid),
        )

    def cancel(self, key: Order | Cloid | Oid, now: float) -> Order:
        """As :meth:`Engine.cancel`; journaled."""
        if not self._recording():
            return super().cancel(key, now)
        return self._run("cancel", now, _ids(key), functools.partial(super().cancel, key, now))

    def modify(
        self, key: Order | Cloid | Oid, price: Decimal, size: Decimal, now: float
    ) -> Order:
        """As :meth:`Engine.modify`; journaled."""
        if not self._recording():
            return super().modify(key, price, size, now)
        fields = {**_ids(key), "price": price, "size": size}
        return self._run("modify", now, fields,
                         functools.partial(super().modify, key, price, size, now))

    def handle(self, event: Any, now: float) -> None:
        """As :meth:`Engine.handle`; journaled (inside a snapshot, as its ``sync_event``).

        Raises:
            TypeError: ``event`` is not an exchange event.
        """
        if not self._recording():
            if self._group is not None and not self._paused:
                self._group.append(("sync_event", now, {"event": event}))
            super().handle(event, now)
        elif type(event) not in _EVENT_TYPES:
            raise TypeError(f"not an exchange event: {event!r}")
        else:
            self._run("event", now, {"event": event}, functools.partial(super().handle, event, now))

    def handle_snapshot(self, snapshot: OpenOrdersSnapshot, now: float) -> SyncReport:
        """As :meth:`Engine.handle_snapshot`; journaled with the snapshot's rows, and
        what the safety sync did with them as its outcome."""
        if not self._recording():
            return super().handle_snapshot(snapshot, now)
        return self._run("snapshot", now, {"snapshot": snapshot},
                         functools.partial(super().handle_snapshot, snapshot, now))

    def move(self, order: Order, trigger: Trigger, now: float) -> OrderState:
        """As :meth:`Engine.move`; journaled when called from outside (the sync's adopt)."""
        if not self._recording():
            return super().move(order, trigger, now)
        fields = {**_ids(order), "trigger": trigger, "remote": False}
        return self._run("move", now, fields, functools.partial(super().move, order, trigger, now))

    def move_remote(self, order: Order, trigger: Trigger, now: float) -> bool:
        """As :meth:`Engine.move_remote`; journaled when called from outside."""
        if not self._recording():
            return super().move_remote(order, trigger, now)
        fields = {**_ids(order), "trigger": trigger, "remote": True}
        return self._run("move", now, fields,
                         functools.partial(super().move_remote, order, trigger, now))

    def on_timer(self, now: float) -> None:
        """As :meth:`Engine.on_timer`; journaled only when a deadline was due."""
        if not self._recording():
            super().on_timer(now)
            return
        deadline = self.next_deadline()
        if deadline is None or deadline > now:
            super().on_timer(now)  # nothing due: only the clock moves
            if not self.journal.closed:
                self.journal.commit(now)
        else:
            self._run("timer", now, {}, functools.partial(super().on_timer, now))

    def commands_to_send(self) -> list[Command]:
        """As :meth:`Engine.commands_to_send`; journaled, with the commands, if any were queued."""
        if not self._recording() or not self.has_commands():
            return super().commands_to_send()
        return self._run("drain", self._now_or_none(), lambda sent: {"commands": list(sent)},
                         super().commands_to_send)

    def query(self, order: Order, *, by_cloid: bool = False) -> None:
        """As :meth:`Engine.query`; journaled when called from outside (the sync)."""
        if not self._recording():
            super().query(order, by_cloid=by_cloid)
        else:
            self._run("query", self._now_or_none(), {**_ids(order), "by_cloid": by_cloid},
                      functools.partial(super().query, order, by_cloid=by_cloid))

    def request_sync(self, reason: str) -> None:
        """As :meth:`Engine.request_sync`; journaled when called from outside."""
        if not self._recording():
            super().request_sync(reason)
        else:
            self._run("sync_request", self._now_or_none(), {"reason": reason},
                      functools.partial(super().request_sync, reason))

    def send(self, command: Command) -> None:
        """As :meth:`Engine.send`; journaled when called from outside."""
        if not self._recording():
            super().send(command)
        else:
            self._run("send", self._now_or_none(), {"command": command},
                      functools.partial(super().send, command))

    # --- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Write any anomaly not yet journaled, then flush and close the journal."""
        if self.journal.closed:
            return
        notes: list[Pending] = []
        self._catch_up_anomalies(notes)
        self.journal.extend(notes)
        self.journal.close()

    def __enter__(self) -> JournaledEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def recover(
        cls,
        path: str | os.PathLike[str],
        now: float,
        *,
        config: LifecycleConfig | None = None,
        cloids: CloidFactory | None = None,
        policy: FlushPolicy | None = None,
        verify: bool = False,
        checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY,
    ) -> JournaledEngine:
        """Rebuild the engine of a crashed run from its journal, and keep journaling.

        The journal's files are checked before anything is written: a file
        that is not a journal of ours is refused and left as it is. The newest
        intact checkpoint, if any, is restored into a new engine and the
        records after it are replayed (checking every transition); without one
        the whole journal is. The torn last line, if any, is cut off the
        file; records of the last call lost in the crash are written again; a
        ``recover`` record marks the restart. See
        :mod:`lifecycle.journal.recovery` for what becomes of the orders in
        each state. The caller then runs ``on_timer(now)`` and the next safety
        sync as usual.

        Args:
            path: The journal's first file or its run directory.
            now: The current time, on the journaled run's clock.
            config: The configuration; the journaled one if None.
            cloids: The cloid factory for new orders. If None, the journaled
                run's namespace and run id, counting on from one past the
                highest counter any of its journaled cloids used. A factory
                given here must not repeat journaled cloids (give it a new run id).
            policy: The flush policy from now on.
            verify: As for :class:`~lifecycle.engine.facade.Engine`.
            checkpoint_every: As for :class:`JournaledEngine`.

        Raises:
            FileNotFoundError: No journal at ``path``.
            NotAJournal: A file at ``path`` is not a journal (it is left untouched).
            JournalCorrupt: The journal is corrupt before its last line.
            ReplayDivergence: Replay did not reproduce the journaled run.
            TimeWentBackwards: ``now`` is earlier than the last journaled time.
        """
        run = read_crashed_run(path, now, config=config, cloids=cloids)
        loaded = run.loaded
        journal = Journal(journal_path(path), policy, next_seq=loaded.next_seq,
                          segment=loaded.segment)
        engine = cls(journal, run.config, cloids=run.cloids, verify=verify,
                     checkpoint_every=checkpoint_every)
        engine._paused = True
        try:
            if run.checkpoint is not None:
                restore_checkpoint(engine, loaded.checkpoint)  # type: ignore[arg-type]
                engine._inputs = run.checkpoint.inputs
                engine._cloid_floor = run.checkpoint.cloid_next
            result = replay(loaded.records, engine, partial_tail=True)
        except BaseException:
            journal.close()
            raise
        finally:
            engine._paused = False
        engine._anomalies_seen = len(engine.anomalies)
        engine._inputs += result.inputs
        engine._first_at = run.first_at
        engine._checkpoint_seq = loaded.records[0].seq if loaded.records else 0
        engine.recovery = write_recovery(journal, run, result, now)
        return engine
