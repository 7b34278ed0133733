"""The journal: every input the engine handled and every move it made, on disk.

Theory of operation
-------------------
A :class:`JournaledEngine` is an :class:`~lifecycle.engine.facade.Engine` whose
state-changing public calls (``place``, ``cancel``, ``modify``, ``handle``,
``move``, ``move_remote``, ``on_timer``, ``commands_to_send``, ``query``,
``request_sync``, ``send``) are each written to a :class:`Journal` as one
*input* record, followed by the *outcome* records of that call: every
transition the machine fired or refused (a
:class:`~lifecycle.core.machine.TransitionObserver`), and an ``error`` record if the
call raised. Only the outermost call is an input: the queries and moves the
engine makes on its own behalf while handling an event are outcomes of that
event, reproduced by replaying it. Anomalies are written as notes.

The group of one call is written when the call ends, before it returns: a
drain's record lists the commands it returns, so with the ``every_record``
policy no command reaches the driver before its record is on disk. A
``timer`` record is written only when a deadline was due (a call with nothing
due only moves the clock, which the next record's time carries).

Format: one JSON object per line, ``{"seq", "at", "type", ...fields}``.
``seq`` counts from 0 without gaps; ``at`` is the engine time given with the
call (null before the engine was given any time); the first record is the
``open`` header (format version, configuration, cloid namespace and run id).
Decimals are strings, enums their values, cloids their canonical text, oids
and trade ids integers, events and commands objects tagged with their class
name (``"kind"``). Decoding builds the real types back from the record
classes' type hints, so a record reads back equal to what was written.

Durability (:class:`FlushPolicy`): records wait in memory and are written
(and fsynced) after every call that produced some (``every_record``), once
``interval_ms`` of *engine* time has passed since the last write
(``interval``: the core never reads a clock, so the times it is given drive
the writes), or at close (``on_close``). A crash loses what was not written,
and may tear the last line.

Loading (:func:`load_journal`): a torn last line (no trailing newline, or a
line that does not decode) is dropped and its bytes counted; anything wrong
before the last line, or a gap in ``seq``, raises :class:`JournalCorrupt`
naming the line.

Replay (:func:`replay`) feeds the inputs to a fresh engine with the same
configuration and checks each call's fired and refused transitions, raised
errors and drained commands against the journal's, raising
:class:`ReplayDivergence` at the first difference. Place records carry the
cloid, so replay does not draw from the cloid factory.

Recovery (:meth:`JournaledEngine.recover`) loads a journal, cuts off its torn
tail, replays it (the last call's outcome may be cut short: replay finishes it
and writes the missing records) and keeps appending to the same file. The
working set is the one at the last journaled call; the timers are those the
replayed moves armed, at their original deadlines, so the first
``on_timer(now)`` after a downtime runs every overdue one:

* PENDING: its placement is queued again and goes out with the next drain.
  A placement drained but whose record was lost (``interval`` or ``on_close``
  policy) is sent again under the same cloid.
* EXPECTED, CANCELLING, MODIFYING: the answer died with the old process; the
  overdue timer sends a status query and the answer decides. Never ended on
  the timeout.
* FINALIZED_PROTECTED: the overdue protection timer moves it to TRACKED.
* TRACKED: the next safety syncs' missing-order check queries it if the
  exchange no longer lists it (the sync's absence streaks start afresh).
* ORPHAN_CANDIDATE, AGED_ORPHAN: the grace timer and the next sync decide.
* GONE: tombstones are evicted by their overdue timers.
* Fills made while down arrive again (snapshot on reconnect, user fills):
  each moves the position once, because replay rebuilt the fill ledger's
  trade ids.

Replay rebuilds the engine's orders, indexes, timers, fill ledger, outbox and
the anomalies its calls record (those the safety sync records itself are in
the journal as notes); the safety sync's and the reconciler's own memory
(absence streaks, counters) is not journaled and starts afresh.

New cloids never collide with journaled ones: without an explicit factory,
recovery continues the journaled run's namespace and run id from one past the
highest counter any journaled cloid of that run used.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import json
import math
import os
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, TypeVar

from lifecycle.config.model import LifecycleConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import Command
from lifecycle.core.errors import LifecycleError, TimeWentBackwards
from lifecycle.core.events import ExchangeEvent
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.engine.facade import Engine

__all__ = [
    "FORMAT_VERSION",
    "JOURNAL_NAME",
    "FlushMode",
    "FlushPolicy",
    "Journal",
    "JournalCorrupt",
    "JournalRecord",
    "JournaledEngine",
    "LoadedJournal",
    "RecoveryInfo",
    "ReplayDivergence",
    "ReplayResult",
    "journal_path",
    "load_journal",
    "next_cloid_counter",
    "order_key",
    "replay",
]

#: The record format written by this module.
FORMAT_VERSION = 1
#: The journal's file name in a run directory.
JOURNAL_NAME = "journal.jsonl"

_R = TypeVar("_R")
_OptCloid = Cloid | None
_OptOid = Oid | None

# The fields of each record type, by name and type hint (the codec's schema).
_SCHEMAS: dict[str, dict[str, Any]] = {
    "open": {"version": int, "config": LifecycleConfig, "namespace": str, "run_id": int},
    "place": {"cloid": Cloid, "side": Side, "price": Decimal, "size": Decimal},
    "cancel": {"cloid": _OptCloid, "oid": _OptOid},
    "modify": {"cloid": _OptCloid, "oid": _OptOid, "price": Decimal, "size": Decimal},
    "move": {"cloid": _OptCloid, "oid": _OptOid, "trigger": Trigger, "remote": bool},
    "event": {"event": ExchangeEvent},
    "timer": {},
    "query": {"cloid": _OptCloid, "oid": _OptOid, "by_cloid": bool},
    "sync_request": {"reason": str},
    "send": {"command": Command},
    "drain": {"commands": list[Command]},
    "fired": {
        "order": str, "cloid": _OptCloid, "oid": _OptOid, "source": OrderState,
        "trigger": Trigger, "dest": OrderState, "reason": GoneReason | None,
    },
    "refused": {
        "order": str, "cloid": _OptCloid, "oid": _OptOid, "state": OrderState, "trigger": Trigger,
    },
    "error": {"error": str, "message": str},
    "anomaly": {"kind": AnomalyKind, "order_id": str | None, "detail": str},
    "recover": {"dropped_bytes": int, "inputs": int, "completed": int},
}
# Calls into the engine, replayed in order.
_INPUTS = frozenset(
    {"place", "cancel", "modify", "move", "event", "timer", "query", "sync_request", "send",
     "drain"}
)
# What one call did, checked by replay.
_OUTCOMES = frozenset({"fired", "refused", "error"})
# Record types that always carry the engine time (calls given ``now``, moves).
_TIMED = frozenset(
    {"place", "cancel", "modify", "move", "event", "timer", "fired", "refused", "anomaly",
     "recover"}
)

_Pending = tuple[str, float | None, dict[str, Any]]  # (type, at, fields), not yet encoded


class JournalCorrupt(LifecycleError):
    """A journal that cannot be read: a bad record before the last line, or a seq gap.

    Attributes:
        path: The journal file.
        line: The 1-based line number of the bad record.
    """

    def __init__(self, path: str | os.PathLike[str], line: int, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        super().__init__(f"{path}: line {line}: {problem}")


class ReplayDivergence(LifecycleError):
    """Replaying a journal did not do what the journaled run did.

    Attributes:
        seq: The sequence number of the record where replay diverged.
    """

    def __init__(self, seq: int, problem: str) -> None:
        self.seq = seq
        super().__init__(f"replay diverged at seq {seq}: {problem}")


# --- codec -------------------------------------------------------------------------------


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _union_args(hint: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return None


def _encode(value: Any, hint: Any) -> Any:
    """Encode ``value``, declared as ``hint``, to JSON data."""
    if value is None:
        return None
    args = _union_args(hint)
    if args is not None:
        arms = [a for a in args if a is not type(None)]
        if len(arms) == 1:
            return _encode(value, arms[0])
        cls = type(value)
        if cls not in arms:
            raise TypeError(f"{value!r} is none of {hint}")
        return {"kind": cls.__name__, **_encode_fields(value)}
    origin = typing.get_origin(hint)
    if origin is list or origin is tuple:
        item = typing.get_args(hint)[0]
        return [_encode(v, item) for v in value]
    if isinstance(hint, typing.NewType):
        return _encode(value, hint.__supertype__)
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return value.value
        if hint is Decimal or issubclass(hint, str):
            return str(value)
        if dataclasses.is_dataclass(hint):
            return _encode_fields(value)
    return value


def _encode_fields(value: Any) -> dict[str, Any]:
    hints = _hints(type(value))
    return {f.name: _encode(getattr(value, f.name), hints[f.name])
            for f in dataclasses.fields(value)}


def _decode(data: Any, hint: Any) -> Any:
    """Build the value of type ``hint`` that :func:`_encode` wrote as ``data``.

    Raises:
        ValueError: ``data`` does not fit ``hint``.
    """
    args = _union_args(hint)
    if args is not None:
        if data is None:
            if type(None) in args:
                return None
            raise ValueError(f"null where {hint} is required")
        arms = [a for a in args if a is not type(None)]
        if len(arms) == 1:
            return _decode(data, arms[0])
        if not isinstance(data, dict):
            raise ValueError(f"expected an object for {hint}, got {data!r}")
        by_name = {a.__name__: a for a in arms}
        cls = by_name.get(data.get("kind"))
        if cls is None:
            raise ValueError(f"unknown kind {data.get('kind')!r} for {hint}")
        return _decode_fields({k: v for k, v in data.items() if k != "kind"}, cls)
    origin = typing.get_origin(hint)
    if origin is list or origin is tuple:
        if not isinstance(data, list):
            raise ValueError(f"expected a list for {hint}, got {data!r}")
        item = typing.get_args(hint)[0]
        items = [_decode(v, item) for v in data]
        return items if origin is list else tuple(items)
    if isinstance(hint, typing.NewType):
        return hint(_decode(data, hint.__supertype__))
    if hint is bool:
        if type(data) is not bool:
            raise ValueError(f"expected a boolean, got {data!r}")
        return data
    if hint is int:
        if type(data) is not int:
            raise ValueError(f"expected an integer, got {data!r}")
        return data
    if hint is float:
        if type(data) not in (int, float):
            raise ValueError(f"expected a number, got {data!r}")
        return float(data)
    if isinstance(hint, type):
        if issubclass(hint, enum.Enum):
            return hint(data)
        if not (hint is Decimal or issubclass(hint, str)) and dataclasses.is_dataclass(hint):
            if not isinstance(data, dict):
                raise ValueError(f"expected an object for {hint.__name__}, got {data!r}")
            return _decode_fields(data, hint)
        if not isinstance(data, str):
            raise ValueError(f"expected a string for {hint.__name__}, got {data!r}")
        make: Callable[[str], Any] = hint  # Decimal, Cloid or str
        return make(data)  # a bad Decimal raises InvalidOperation, an ArithmeticError
    raise ValueError(f"no decoder for {hint}")


def _decode_fields(data: Mapping[str, Any], cls: type) -> Any:
    hints = _hints(cls)
    fields = dataclasses.fields(cls)
    unknown = set(data) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
    # A field added since the record was written takes its default; one
    # without a default is required.
    missing = [f.name for f in fields if f.name not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ValueError(f"{cls.__name__} lacks fields {missing}")
    return cls(**{name: _decode(value, hints[name]) for name, value in data.items()})


def _encode_line(seq: int, at: float | None, kind: str, fields: Mapping[str, Any]) -> bytes:
    schema = _SCHEMAS[kind]
    obj: dict[str, Any] = {"seq": seq, "at": at, "type": kind}
    for name, hint in schema.items():
        obj[name] = _encode(fields[name], hint)
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One decoded journal line.

    Attributes:
        seq: Position in the journal, from 0, without gaps.
        at: The engine time of the record; None before the engine had any.
        type: The record type (``place``, ``event``, ``fired``...).
        data: The fields of that type, decoded to their real types.
    """

    seq: int
    at: float | None
    type: str
    data: Mapping[str, Any]

    @property
    def is_input(self) -> bool:
        """Whether the record is a call into the engine (replayed)."""
        return self.type in _INPUTS


def _decode_line(raw: bytes) -> JournalRecord:
    obj = json.loads(raw)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    seq, at, kind = obj.pop("seq", None), obj.pop("at", None), obj.pop("type", None)
    if type(seq) is not int:
        raise ValueError(f"bad seq {seq!r}")
    if at is not None and type(at) not in (int, float):
        raise ValueError(f"bad time {at!r}")
    schema = _SCHEMAS.get(kind)
    if schema is None:
        raise ValueError(f"unknown record type {kind!r}")
    if at is None and kind in _TIMED:
        raise ValueError(f"{kind} record without a time")
    if set(obj) != set(schema):
        raise ValueError(f"{kind} record fields {sorted(obj)} differ from {sorted(schema)}")
    data = {name: _decode(obj[name], hint) for name, hint in schema.items()}
    return JournalRecord(seq, None if at is None else float(at), kind, data)


# --- loading -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadedJournal:
    """The records of a journal file and what was dropped from its end.

    Attributes:
        path: The file.
        records: Every valid record, in order.
        valid_bytes: Length of the valid prefix of the file.
        dropped_bytes: Bytes of a torn last line, ignored (0 if none).
    """

    path: Path
    records: tuple[JournalRecord, ...]
    valid_bytes: int
    dropped_bytes: int

    @property
    def torn(self) -> bool:
        """Whether a torn last line was dropped."""
        return self.dropped_bytes > 0

    @property
    def header(self) -> Mapping[str, Any] | None:
        """The ``open`` record's fields, or None for an empty journal."""
        if self.records and self.records[0].type == "open":
            return self.records[0].data
        return None


def journal_path(path: str | os.PathLike[str]) -> Path:
    """Return the journal file for ``path``: a run directory's ``journal.jsonl``, or ``path``."""
    p = Path(path)
    return p / JOURNAL_NAME if p.is_dir() else p


def load_journal(path: str | os.PathLike[str]) -> LoadedJournal:
    """Read a journal file (or a run directory's journal).

    Raises:
        FileNotFoundError: No such file.
        JournalCorrupt: A record before the last line does not decode, the
            first record is no ``open`` header, or a ``seq`` is out of order.
    """
    file = journal_path(path)
    data = file.read_bytes()
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: a line whose end never reached disk
    dropped = len(torn)
    records: list[JournalRecord] = []
    offset = 0
    for index, raw in enumerate(lines):
        line_no = index + 1
        try:
            rec = _decode_line(raw)
        except (ValueError, TypeError, ArithmeticError) as exc:
            if index == len(lines) - 1 and not torn:
                dropped += len(raw) + 1  # the last line, torn inside: ignored
                break
            raise JournalCorrupt(file, line_no, f"undecodable record: {exc}") from None
        if rec.seq != index:
            raise JournalCorrupt(file, line_no, f"seq {rec.seq} where {index} was due")
        if (index == 0) != (rec.type == "open"):
            raise JournalCorrupt(file, line_no, f"{rec.type} record where the header belongs")
        if rec.type == "open" and rec.data["version"] > FORMAT_VERSION:
            raise JournalCorrupt(file, line_no, f"format version {rec.data['version']} is newer")
        records.append(rec)
        offset += len(raw) + 1
    return LoadedJournal(file, tuple(records), offset, dropped)


# --- writing -----------------------------------------------------------------------------


class FlushMode(enum.Enum):
    """When buffered records are written to disk."""

    #: After every engine call that produced records, before it returns.
    EVERY_RECORD = "every_record"
    #: Once ``interval_ms`` of engine time has passed since the last write.
    INTERVAL = "interval"
    #: At close (or when the buffer outgrows ``max_buffer_bytes``).
    ON_CLOSE = "on_close"


@dataclass(frozen=True, kw_only=True, slots=True)
class FlushPolicy:
    """How durable the journal is, and what it costs.

    Attributes:
        mode: When records are written.
        interval_ms: Engine-time milliseconds between writes (``INTERVAL``).
        fsync: Also ``fsync`` the file after each write (survives a power loss,
            not only a process crash).
        max_buffer_bytes: Bytes of buffered records that force a write
            (without fsync) under ``INTERVAL`` and ``ON_CLOSE``.
    """

    mode: FlushMode = FlushMode.EVERY_RECORD
    interval_ms: float = 0.0
    fsync: bool = True
    max_buffer_bytes: int = 4 << 20

    def __post_init__(self) -> None:
        if self.mode is FlushMode.INTERVAL and not self.interval_ms > 0:
            raise ValueError(f"interval_ms must be > 0, got {self.interval_ms}")


class Journal:
    """An append-only JSON-lines journal file.

    Args:
        path: The file (created with its parents), or an existing run directory.
        policy: When records reach the disk.
        next_seq: The sequence number of the next record: 0 for a new
            journal (the file must be absent or empty), the record count to
            append to an existing one.

    Raises:
        FileExistsError: ``next_seq`` is 0 and the file already holds records.
    """

    __slots__ = ("_buffer", "_buffered", "_file", "_written_at", "next_seq", "path", "policy")

    def __init__(
        self, path: str | os.PathLike[str], policy: FlushPolicy | None = None, *, next_seq: int = 0
    ) -> None:
        self.path = journal_path(path)
        if next_seq == 0 and self.path.exists() and self.path.stat().st_size:
            raise FileExistsError(f"{self.path} already holds a journal; recover it instead")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.policy = policy if policy is not None else FlushPolicy()
        self.next_seq = next_seq
        self._file: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 (owned until close)
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._written_at: float | None = None

    @classmethod
    def in_dir(cls, run_dir: str | os.PathLike[str], policy: FlushPolicy | None = None) -> Journal:
        """Start the journal of a new run: ``run_dir/journal.jsonl`` (``run_dir`` created)."""
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return cls(Path(run_dir) / JOURNAL_NAME, policy)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._file is None

    @property
    def buffered(self) -> int:
        """Records appended but not yet written."""
        return len(self._buffer)

    def append(self, kind: str, at: float | None, fields: Mapping[str, Any]) -> int:
        """Buffer one record and return its sequence number (see :meth:`commit`).

        Raises:
            KeyError: ``kind`` is no record type, or a field is missing.
            ValueError: The journal is closed.
        """
        self.extend(((kind, at, fields),))
        return self.next_seq - 1

    def extend(self, records: Iterable[tuple[str, float | None, Mapping[str, Any]]]) -> None:
        """Buffer ``(type, at, fields)`` records in order; all of them or, on error, none.

        Raises:
            KeyError: A type is no record type, or a field is missing.
            ValueError: The journal is closed.
        """
        if self._file is None:
            raise ValueError(f"journal {self.path} is closed")
        seq = self.next_seq
        lines = [_encode_line(seq + i, at, kind, fields)
                 for i, (kind, at, fields) in enumerate(records)]
        self.next_seq = seq + len(lines)
        self._buffer += lines
        self._buffered += sum(map(len, lines))

    def commit(self, now: float | None) -> None:
        """Apply the policy at engine time ``now``: write the buffer if it is due."""
        policy = self.policy
        if policy.mode is FlushMode.EVERY_RECORD:
            if self._buffer:
                self.flush()
            return
        if policy.mode is FlushMode.INTERVAL and now is not None and math.isfinite(now):
            if self._written_at is None:
                self._written_at = now  # the first interval starts with the first time
            elif now - self._written_at >= policy.interval_ms / 1000:
                self._written_at = now
                self.flush()
                return
        if self._buffered > policy.max_buffer_bytes:
            self._write(sync=False)

    def flush(self) -> None:
        """Write every buffered record now (and fsync, if the policy says so)."""
        self._write(sync=self.policy.fsync)

    def close(self) -> None:
        """Write what is buffered and close the file (idempotent)."""
        if self._file is None:
            return
        self.flush()
        self._file.close()
        self._file = None

    def abandon(self) -> int:
        """Close the file without writing what is buffered, as a crashed process
        leaves it; return how many buffered records were lost (idempotent)."""
        lost = len(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        if self._file is not None:
            self._file.close()
            self._file = None
        return lost

    def _write(self, *, sync: bool) -> None:
        file = self._file
        if file is None:
            return
        if self._buffer:
            # One write for the whole group: a crash tears at most its last line.
            file.write(b"".join(self._buffer))
            self._buffer.clear()
            self._buffered = 0
        file.flush()
        if sync:
            os.fsync(file.fileno())

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- the journaled engine ----------------------------------------------------------------


def order_key(order: Order) -> str:
    """Name an order for its whole life: its cloid, else ``oid:`` + the first oid it had."""
    if order.cloid is not None:
        return str(order.cloid)
    first = order.prior_oids[0] if order.prior_oids else order.oid
    return f"oid:{first}"


def _fired(order: Order, source: OrderState, trigger: Trigger, dest: OrderState) -> dict[str, Any]:
    return {
        "order": order_key(order), "cloid": order.cloid, "oid": order.oid, "source": source,
        "trigger": trigger, "dest": dest,
        "reason": order.reason if dest is OrderState.GONE else None,
    }


def _refused(order: Order, trigger: Trigger) -> dict[str, Any]:
    return {
        "order": order_key(order), "cloid": order.cloid, "oid": order.oid,
        "state": order.state, "trigger": trigger,
    }


def _error(exc: BaseException) -> dict[str, Any]:
    return {"error": type(exc).__name__, "message": str(exc)}


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
        self._engine._outcome(("fired", now, _fired(order, source, trigger, dest)))

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        self._engine._outcome(("refused", now, _refused(order, trigger)))


@dataclass(frozen=True, slots=True)
class RecoveryInfo:
    """What :meth:`JournaledEngine.recover` found and did.

    Attributes:
        path: The journal file.
        inputs: Journaled calls replayed.
        dropped_bytes: Bytes of a torn last line cut off the file.
        completed: Outcome records of the last call that were lost and written again.
        cloid_start: The counter recovery started the journaled run's cloid
            factory at; None when the caller gave the factory.
        first_at: The earliest time in the journal (None if it has none): a
            driver asks for the account's fills since then, since fills the
            crashed process had not received yet are lost with it.
        last_at: The latest time in the journal before the recovery.
    """

    path: Path
    inputs: int
    dropped_bytes: int
    completed: int
    cloid_start: int | None
    first_at: float | None = None
    last_at: float | None = None


class JournaledEngine(Engine):
    """An engine that writes every call it handles, and every move, to a journal.

    Args:
        journal: Where the records go; a new journal gets the ``open`` header at once.
        config, cloids, verify: As for :class:`~lifecycle.engine.facade.Engine`.
    """

    def __init__(
        self,
        journal: Journal,
        config: LifecycleConfig | None = None,
        *,
        cloids: CloidFactory | None = None,
        verify: bool = False,
    ) -> None:
        super().__init__(config, cloids=cloids, verify=verify)
        self.journal = journal
        #: Set by :meth:`recover`; None for an engine that started afresh.
        self.recovery: RecoveryInfo | None = None
        self._depth = 0  # > 0 inside a journaled call: nested calls are its outcome
        self._paused = False
        self._group: list[_Pending] | None = None
        self._anomalies_seen = 0
        self.machine.add_observer(_Recorder(self))
        if journal.next_seq == 0:
            journal.append("open", None, {
                "version": FORMAT_VERSION, "config": self.config,
                "namespace": self.cloids.namespace, "run_id": self.cloids.run_id,
            })
            journal.flush()  # whatever the policy: an empty run still leaves a loadable file

    # --- recording -------------------------------------------------------------------

    def _recording(self) -> bool:
        return not self._depth and not self._paused

    def _outcome(self, item: _Pending) -> None:
        if self._paused:
            return
        if self._group is not None:
            self._group.append(item)
        elif not self.journal.closed:
            # Fired outside any journaled call: written alone, and replay will
            # flag it, since no input explains it.
            self.journal.append(*item)
            self.journal.commit(item[1])

    def _catch_up_anomalies(self, out: list[_Pending]) -> None:
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
        notes: list[_Pending] = []
        self._catch_up_anomalies(notes)
        group: list[_Pending] = []
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
        notes: list[_Pending],
        group: list[_Pending],
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
            records.append(("error", at, _error(exc)))
        self._catch_up_anomalies(records)
        self.journal.extend(records)
        self.journal.commit(at)

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
        """As :meth:`Engine.handle`; journaled.

        Raises:
            TypeError: ``event`` is not an exchange event.
        """
        if not self._recording():
            super().handle(event, now)
        elif type(event) not in _EVENT_TYPES:
            raise TypeError(f"not an exchange event: {event!r}")
        else:
            self._run("event", now, {"event": event}, functools.partial(super().handle, event, now))

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
        notes: list[_Pending] = []
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
    ) -> JournaledEngine:
        """Rebuild the engine of a crashed run from its journal, and keep journaling.

        The torn last line, if any, is cut off the file; the journal is
        replayed into a new engine (checking every transition); records of the
        last call lost in the crash are written again; a ``recover`` record
        marks the restart. See the module docstring for what becomes of the
        orders in each state. The caller then runs ``on_timer(now)`` and the
        next safety sync as usual.

        Args:
            path: The journal file or its run directory.
            now: The current time, on the journaled run's clock.
            config: The configuration; the journaled one if None.
            cloids: The cloid factory for new orders. If None, the journaled
                run's namespace and run id, counting on from one past the
                highest counter any of its journaled cloids used. A factory
                given here must not repeat journaled cloids (give it a new run id).
            policy: The flush policy from now on.
            verify: As for :class:`~lifecycle.engine.facade.Engine`.

        Raises:
            FileNotFoundError: No journal at ``path``.
            JournalCorrupt: The journal is corrupt before its last line.
            ReplayDivergence: Replay did not reproduce the journaled run.
            TimeWentBackwards: ``now`` is earlier than the last journaled time.
        """
        loaded = load_journal(path)
        last = max((r.at for r in loaded.records if r.at is not None), default=None)
        if last is not None and now < last:
            raise TimeWentBackwards(
                f"recovery at now={now}, before the journal's last time {last}: "
                "the driver's clock must continue the journaled run's clock"
            )
        header = loaded.header
        if config is None and header is not None:
            config = header["config"]
        config = config if config is not None else LifecycleConfig()
        cloid_start: int | None = None
        if cloids is None:
            namespace = header["namespace"] if header else config.orders.namespace
            run_id = header["run_id"] if header else 0
            cloid_start = next_cloid_counter(loaded.records, namespace, run_id)
            cloids = CloidFactory(namespace, run_id, start=cloid_start)
        if loaded.dropped_bytes:
            os.truncate(loaded.path, loaded.valid_bytes)
        journal = Journal(loaded.path, policy, next_seq=len(loaded.records))
        engine = cls(journal, config, cloids=cloids, verify=verify)
        engine._paused = True
        try:
            result = replay(loaded.records, engine, partial_tail=True)
        except BaseException:
            journal.close()
            raise
        finally:
            engine._paused = False
        engine._anomalies_seen = len(engine.anomalies)
        journal.extend(result.tail)
        journal.append("recover", now, {
            "dropped_bytes": loaded.dropped_bytes, "inputs": result.inputs,
            "completed": len(result.tail),
        })
        journal.flush()
        first = min((r.at for r in loaded.records if r.at is not None), default=None)
        engine.recovery = RecoveryInfo(
            loaded.path, result.inputs, loaded.dropped_bytes, len(result.tail), cloid_start,
            first, last,
        )
        return engine


def next_cloid_counter(records: Iterable[JournalRecord], namespace: str, run_id: int) -> int:
    """Return one past the highest counter of the cloids of ``namespace``/``run_id`` journaled.

    Counts the cloids of placements and of every order a transition named, so
    orders of the run found again as orphans count too.
    """
    prefix = CloidFactory(namespace, run_id).next()[:18]
    best = -1
    for rec in records:
        if rec.type in ("place", "fired", "refused"):
            cloid = rec.data["cloid"]
            if cloid is not None and cloid.startswith(prefix):
                best = max(best, int(cloid[18:], 16))
    return best + 1


# --- replay ------------------------------------------------------------------------------


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
    """Collects what one replayed call fired and refused."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[_Pending] = []

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        self.items.append(("fired", now, _fired(order, source, trigger, dest)))

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        self.items.append(("refused", now, _refused(order, trigger)))


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


def _apply(engine: Engine, rec: JournalRecord) -> None:
    """Make the call ``rec`` journaled."""
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
        engine.handle(d["event"], at)
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


def _describe(item: _Pending | None) -> str:
    if item is None:
        return "nothing"
    kind, at, d = item
    if kind == "fired":
        return (f"fired {d['order']} {d['source'].value} --{d['trigger'].value}--> "
                f"{d['dest'].value} at {at}")
    if kind == "refused":
        return f"refused {d['order']} {d['state'].value} --{d['trigger'].value}--> at {at}"
    return f"{kind} {dict(d)}"


def replay(
    records: Iterable[JournalRecord], engine: Engine, *, partial_tail: bool = False
) -> ReplayResult:
    """Feed the journaled calls to ``engine`` and check it does what the run did.

    ``engine`` must be fresh and have the journaled run's configuration (a
    :class:`JournaledEngine` given here journals the replay again, unless it is
    being recovered). Each call's fired and refused transitions, its error and
    its drained commands must equal the journal's.

    Args:
        records: The journal's records, in order (from :func:`load_journal`).
        engine: The engine to rebuild.
        partial_tail: Whether the last call's outcome may be cut short (a
            crash): the journaled outcome must then only be a prefix of the
            replayed one, and the rest is returned as ``tail``.

    Raises:
        ReplayDivergence: At the first difference.
    """
    capture = _Capture()
    engine.machine.add_observer(capture)
    inputs = fired = 0
    actual: list[_Pending] = []
    pos = 0
    current: JournalRecord | None = None

    def close(boundary: JournalRecord | None) -> tuple[_Pending, ...]:
        if current is None or pos == len(actual):
            return ()
        if (boundary is None and partial_tail) or (
            boundary is not None and boundary.type == "recover"
        ):
            return tuple(actual[pos:])
        raise ReplayDivergence(
            current.seq, f"replay {_describe(actual[pos])}, which the journal lacks"
        )

    try:
        for rec in records:
            if rec.type in _INPUTS:
                close(rec)
                current, pos = rec, 0
                inputs += 1
                capture.items = actual = []
                try:
                    _apply(engine, rec)
                except ReplayDivergence:
                    raise
                except Exception as exc:
                    actual.append(("error", rec.at, _error(exc)))
                fired += sum(1 for item in actual if item[0] == "fired")
            elif rec.type in _OUTCOMES:
                expected: _Pending = (rec.type, rec.at, dict(rec.data))
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
    return ReplayResult(inputs, fired, tail)
