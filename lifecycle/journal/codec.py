"""The record codec: journal lines to and from the engine's own types.

Theory of operation
-------------------
Format: one JSON object per line, ``{"type", "seq", "at", ...fields}``.
``seq`` counts from 0 without gaps; ``at`` is the engine time given with the
call (null before the engine was given any time); the first record is the
``open`` header (format version, configuration, cloid namespace and run id).
Decimals are strings, enums their values, cloids their canonical text, oids
and trade ids integers, events and commands objects tagged with their class
name (``"kind"``), the rows of an open-orders snapshot arrays of their fields.
Lines written with the keys in another order (``seq``, ``at``, ``type``
first, as earlier versions did) read the same.

The schema is one msgspec tagged union: each record type is a struct below
(tagged by ``"type"``) whose fields are declared once, by name and type hint;
events and commands are the core's own :class:`~lifecycle.core.records.Record`
structs, tagged by ``"kind"``. msgspec's JSON encoder writes a line from it
and its decoder reads the line back against the same declarations: fields,
types, a time where the record type needs one, no unknown field (the
configuration included), and every event or command validated again by its
own ``__post_init__``. A record reads back equal to what was written, and an
event or command that could be built can be written: what its validation
accepts, this format holds (decimals keep their digits and exponent, oids are
integers of any size, text is valid Unicode).

The rest of the package sees only :data:`FORMAT_VERSION`, the record type
sets :data:`RECORD_TYPES`, :data:`INPUTS` and :data:`OUTCOMES`, the
:data:`Pending` shape of a record not yet encoded, :class:`JournalRecord`,
:func:`encode_line` and :func:`decode_line`; everything else here is private,
so another encoding can replace this one behind the same names.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from lifecycle.config.model import LifecycleConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import Command
from lifecycle.core.events import ExchangeEvent
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.policy.snapshot import OpenOrder, OpenOrdersSnapshot

__all__ = [
    "FORMAT_VERSION",
    "INPUTS",
    "OUTCOMES",
    "RECORD_TYPES",
    "JournalRecord",
    "Pending",
    "decode_line",
    "encode_line",
]

#: The record format written by this module. 2: open-orders snapshots are
#: inputs and the events the safety sync derives from them outcomes; every line
#: ends with its checksum and every file opens with the journal's magic
#: (:mod:`~lifecycle.journal.framing`).
FORMAT_VERSION = 2

#: Record types that are calls into the engine, replayed in order.
INPUTS = frozenset(
    {"place", "cancel", "modify", "move", "event", "snapshot", "timer", "query", "sync_request",
     "send", "drain"}
)
#: Record types saying what one call did, checked by replay.
OUTCOMES = frozenset({"fired", "refused", "sync_event", "error"})

#: A record not yet encoded: ``(type, at, fields)``.
Pending = tuple[str, float | None, dict[str, Any]]

_EVENT_TYPES = frozenset(typing.get_args(ExchangeEvent))
_COMMAND_TYPES = frozenset(typing.get_args(Command))


def _strict(cls: type) -> Any:
    """A struct with the fields and defaults of the dataclass ``cls``, unknown keys refused.

    msgspec ignores unknown keys when it decodes a dataclass; the header's
    configuration is read through this mirror so that it refuses them, as
    every other object of the format does. A field missing from the line
    (added since it was written) takes its default.
    """
    hints = typing.get_type_hints(cls)
    fields: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            hint = _strict(hint)  # type: ignore[arg-type]
            default: Any = msgspec.field(default_factory=hint)
        elif f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = msgspec.field(default_factory=f.default_factory)
        else:
            default = msgspec.NODEFAULT
        fields.append((f.name, hint, default))
    return msgspec.defstruct(cls.__name__, fields, kw_only=True, forbid_unknown_fields=True)


_StrictConfig = _strict(LifecycleConfig)


# --- the record types ----------------------------------------------------------------------


class _Record(msgspec.Struct, kw_only=True, tag_field="type", forbid_unknown_fields=True):
    seq: int
    at: float | None


class _Timed(_Record, kw_only=True):
    # Record types that always carry the engine time (calls given ``now``, moves).
    at: float


class _Open(_Record, kw_only=True, tag="open"):
    version: int
    config: _StrictConfig  # type: ignore[valid-type]
    namespace: str
    run_id: int


class _Place(_Timed, kw_only=True, tag="place"):
    cloid: Cloid
    side: Side
    price: Decimal
    size: Decimal


class _Cancel(_Timed, kw_only=True, tag="cancel"):
    cloid: Cloid | None
    oid: Oid | None


class _Modify(_Timed, kw_only=True, tag="modify"):
    cloid: Cloid | None
    oid: Oid | None
    price: Decimal
    size: Decimal


class _Move(_Timed, kw_only=True, tag="move"):
    cloid: Cloid | None
    oid: Oid | None
    trigger: Trigger
    remote: bool


class _WithEvent(_Timed, kw_only=True):
    event: ExchangeEvent

    def __post_init__(self) -> None:
        # The encoder writes any struct; refuse what the decoder would not read.
        if type(self.event) not in _EVENT_TYPES:
            raise TypeError(f"{self.event!r} is no exchange event")


class _Event(_WithEvent, kw_only=True, tag="event"):
    pass


# A snapshot's rows are written as arrays (a snapshot may list hundreds of
# orders): the fields of OpenOrder, in their order, made from OpenOrder itself.
_Row: Any = msgspec.defstruct(
    "_Row",
    [(f.name, f.type) for f in msgspec.structs.fields(OpenOrder)],
    array_like=True,
    forbid_unknown_fields=True,
)


class _Rows(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    taken_at: float
    orders: tuple[_Row, ...]


def _rows(snapshot: OpenOrdersSnapshot) -> _Rows:
    astuple = msgspec.structs.astuple
    orders = tuple(_Row(*astuple(o)) for o in snapshot.orders)
    return _Rows(taken_at=snapshot.taken_at, orders=orders)


def _snapshot(rows: _Rows) -> OpenOrdersSnapshot:
    asdict = msgspec.structs.asdict
    return OpenOrdersSnapshot(
        taken_at=rows.taken_at, orders=tuple(OpenOrder(**asdict(r)) for r in rows.orders)
    )


class _Snapshot(_Timed, kw_only=True, tag="snapshot"):
    snapshot: _Rows


class _Timer(_Timed, kw_only=True, tag="timer"):
    pass


class _Query(_Record, kw_only=True, tag="query"):
    cloid: Cloid | None
    oid: Oid | None
    by_cloid: bool


class _SyncRequest(_Record, kw_only=True, tag="sync_request"):
    reason: str


class _Send(_Record, kw_only=True, tag="send"):
    command: Command

    def __post_init__(self) -> None:
        if type(self.command) not in _COMMAND_TYPES:
            raise TypeError(f"{self.command!r} is no command")


class _Drain(_Record, kw_only=True, tag="drain"):
    commands: list[Command]

    def __post_init__(self) -> None:
        for command in self.commands:
            if type(command) not in _COMMAND_TYPES:
                raise TypeError(f"{command!r} is no command")


class _Fired(_Timed, kw_only=True, tag="fired"):
    order: str
    cloid: Cloid | None
    oid: Oid | None
    source: OrderState
    trigger: Trigger
    dest: OrderState
    reason: GoneReason | None


class _Refused(_Timed, kw_only=True, tag="refused"):
    order: str
    cloid: Cloid | None
    oid: Oid | None
    state: OrderState
    trigger: Trigger


class _SyncEvent(_WithEvent, kw_only=True, tag="sync_event"):
    pass


class _Error(_Record, kw_only=True, tag="error"):
    error: str
    message: str


class _Anomaly(_Timed, kw_only=True, tag="anomaly"):
    kind: AnomalyKind
    order_id: str | None
    detail: str


class _Recover(_Timed, kw_only=True, tag="recover"):
    dropped_bytes: int
    inputs: int
    completed: int


_TYPES: tuple[type[_Record], ...] = (
    _Open, _Place, _Cancel, _Modify, _Move, _Event, _Snapshot, _Timer, _Query, _SyncRequest,
    _Send, _Drain, _Fired, _Refused, _SyncEvent, _Error, _Anomaly, _Recover,
)
_BY_TYPE: dict[str, type[_Record]] = {
    str(cls.__struct_config__.tag): cls for cls in _TYPES
}
#: Every record type this codec writes and reads (``open``, ``place``, ``event``...).
RECORD_TYPES = frozenset(_BY_TYPE)
# The fields of each record type after ``seq`` and ``at``: a decoded record's data.
_DATA_FIELDS: dict[type[_Record], tuple[str, ...]] = {
    cls: cls.__struct_fields__[2:] for cls in _TYPES
}


def _enc_hook(value: Any) -> Any:
    if isinstance(value, Cloid):  # a str subclass, which msgspec leaves to the hook
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}: {value!r}")


_CANONICAL_CLOID = re.compile(r"0x[0-9a-f]{32}")


def _dec_hook(hint: Any, data: Any) -> Any:
    if hint is Cloid:
        if type(data) is str and _CANONICAL_CLOID.fullmatch(data):
            # Canonical already, as the encoder writes every cloid: what Cloid(data)
            # returns, without its parsing (recovery decodes a cloid per record).
            return str.__new__(Cloid, data)
        return Cloid(data)  # InvalidCloid is a ValueError: msgspec reports the path
    raise NotImplementedError(f"no decoder for {hint}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")
_decoder = msgspec.json.Decoder(
    typing.Union[_TYPES],  # noqa: UP007 (a union built at runtime)
    dec_hook=_dec_hook,
)


def encode_line(seq: int, at: float | None, kind: str, fields: Mapping[str, Any]) -> bytes:
    """Encode one record as its journal line, newline included.

    Raises:
        KeyError: ``kind`` is no record type.
        TypeError: A field is missing or unknown, or a value cannot be encoded
            (an event or command field holding something else).
        ValueError: ``at`` is not finite (JSON has no such number).
    """
    if at is not None and not math.isfinite(at):
        raise ValueError(f"{kind} record at time {at}: not a finite number")
    if kind == "snapshot":
        fields = {**fields, "snapshot": _rows(fields["snapshot"])}
    record = _BY_TYPE[kind](seq=seq, at=at, **fields)
    return _encoder.encode(record) + b"\n"


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
        return self.type in INPUTS


def decode_line(raw: bytes) -> JournalRecord:
    """Decode one journal line (without its newline) and check it against the schema.

    Raises:
        ValueError: The line is no JSON object, or does not fit its record type
            (``msgspec.ValidationError`` and ``DecodeError`` are ``ValueError``).
    """
    record = _decoder.decode(raw)
    cls = type(record)
    data = {name: getattr(record, name) for name in _DATA_FIELDS[cls]}
    if cls is _Open:
        data["config"] = msgspec.convert(msgspec.to_builtins(data["config"]), LifecycleConfig)
    elif cls is _Snapshot:
        data["snapshot"] = _snapshot(data["snapshot"])
    return JournalRecord(record.seq, record.at, str(cls.__struct_config__.tag), data)
