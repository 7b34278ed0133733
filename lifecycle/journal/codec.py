"""The record codec: journal lines to and from the engine's own types.

Theory of operation
-------------------
Format: one JSON object per line, ``{"seq", "at", "type", ...fields}``.
``seq`` counts from 0 without gaps; ``at`` is the engine time given with the
call (null before the engine was given any time); the first record is the
``open`` header (format version, configuration, cloid namespace and run id).
Decimals are strings, enums their values, cloids their canonical text, oids
and trade ids integers, events and commands objects tagged with their class
name (``"kind"``). Decoding builds the real types back from the record
classes' type hints, so a record reads back equal to what was written.

Each record type's fields are declared once, by name and type hint, in the
schema below; encoding and decoding both walk it, and decoding checks every
line against it (fields, types, a time where the type needs one).

The rest of the package sees only :data:`FORMAT_VERSION`, the record type
sets :data:`INPUTS` and :data:`OUTCOMES`, the :data:`Pending` shape of a record
not yet encoded, :class:`JournalRecord`, :func:`encode_line` and
:func:`decode_line`; everything else here is private, so another encoding can
replace this one behind the same names.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lifecycle.config.model import LifecycleConfig
from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import Command
from lifecycle.core.events import ExchangeEvent
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.core.states import GoneReason, OrderState, Trigger

__all__ = [
    "FORMAT_VERSION",
    "INPUTS",
    "OUTCOMES",
    "JournalRecord",
    "Pending",
    "decode_line",
    "encode_line",
]

#: The record format written by this module.
FORMAT_VERSION = 1

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
#: Record types that are calls into the engine, replayed in order.
INPUTS = frozenset(
    {"place", "cancel", "modify", "move", "event", "timer", "query", "sync_request", "send",
     "drain"}
)
#: Record types saying what one call did, checked by replay.
OUTCOMES = frozenset({"fired", "refused", "error"})
# Record types that always carry the engine time (calls given ``now``, moves).
_TIMED = frozenset(
    {"place", "cancel", "modify", "move", "event", "timer", "fired", "refused", "anomaly",
     "recover"}
)

#: A record not yet encoded: ``(type, at, fields)``.
Pending = tuple[str, float | None, dict[str, Any]]


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


def encode_line(seq: int, at: float | None, kind: str, fields: Mapping[str, Any]) -> bytes:
    """Encode one record as its journal line, newline included.

    Raises:
        KeyError: ``kind`` is no record type, or a field is missing.
        TypeError: A field's value is none of the types its hint allows.
    """
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
        return self.type in INPUTS


def decode_line(raw: bytes) -> JournalRecord:
    """Decode one journal line (without its newline) and check it against the schema.

    Raises:
        ValueError: The line is no JSON object, or does not fit its record type.
        TypeError, ArithmeticError: A field does not decode (a bad decimal).
    """
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
