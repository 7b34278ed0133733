"""The secrets guard: the journal never stores a field named like key material.

Theory of operation
-------------------
Journal records are typed: each record type has fixed fields, and every value
in them is an engine type (an event, a command, the configuration) whose own
fields are declared by type hints. :func:`check_record` refuses a record if any
field name it could write, at any depth, looks like a secret's
(:data:`SECRET_NAME`: ``key``, ``secret``, ``private``, ``passphrase``,
``password``, ``mnemonic``), so adding such a field to an event, a command or
the configuration makes journaling fail loudly instead of writing it to disk.

The names reachable from a class are worked out once per class, from its type
hints (dataclasses and msgspec structs, through unions, lists, tuples and
mappings), so the check costs a few set lookups per record.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

__all__ = ["SECRET_NAME", "SecretField", "check_names", "check_record", "field_names"]

#: Field names the journal refuses, anywhere in a record (case-insensitive).
SECRET_NAME = re.compile(r"key|secret|private|passphrase|password|mnemonic", re.IGNORECASE)


class SecretField(ValueError):
    """A record would store a field named like key material; nothing was written."""


# Classes whose reachable field names are all vetted (plain values have none).
_SAFE: set[type] = {str, int, float, bool, type(None), Decimal}
# How many fields each record type was vetted with: another count is vetted again
# (a key replaced by another, with the same count, is refused by the codec).
_VETTED: dict[str, int] = {}


def _fields(cls: type) -> list[tuple[str, Any]]:
    """The declared fields of ``cls`` as ``(name, hint)``; none for a plain class."""
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        return [(f.name, f.type) for f in msgspec.structs.fields(cls)]
    if dataclasses.is_dataclass(cls):
        try:
            hints = typing.get_type_hints(cls)
        except (NameError, TypeError):
            hints = {}
        return [(f.name, hints.get(f.name, Any)) for f in dataclasses.fields(cls)]
    return []


def _classes(hint: Any) -> Iterable[type]:
    """The classes a type hint can hold, through unions and containers."""
    origin = typing.get_origin(hint)
    if origin is not None or isinstance(hint, types.UnionType):
        for arg in typing.get_args(hint):
            yield from _classes(arg)
        if isinstance(origin, type):
            yield origin
    elif isinstance(hint, typing.NewType):
        yield from _classes(hint.__supertype__)
    elif isinstance(hint, type):
        yield hint


def field_names(cls: type) -> set[str]:
    """Every field name reachable from ``cls``, as ``Class.field`` (its own and nested)."""
    names: set[str] = set()
    seen: set[type] = set()
    todo = [cls]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name, hint in _fields(current):
            names.add(f"{current.__name__}.{name}")
            todo.extend(_classes(hint))
    return names


def check_names(where: str, names: Iterable[str]) -> None:
    """Raise :class:`SecretField` if one of ``names`` (``a.b`` paths allowed) looks secret."""
    for name in names:
        if SECRET_NAME.search(name.rsplit(".", 1)[-1]):  # the field, not its class
            raise SecretField(
                f"{where}: field {name!r} is named like key material; "
                "the journal never stores secrets"
            )


def _check_class(where: str, cls: type) -> None:
    if cls in _SAFE:
        return
    check_names(where, field_names(cls))
    _SAFE.add(cls)


def check_record(kind: str, fields: Mapping[str, Any]) -> None:
    """Refuse a record of type ``kind`` that would store a field named like a secret.

    Raises:
        SecretField: A field of the record, or of a value in it at any depth,
            is named like key material.
    """
    if _VETTED.get(kind) != len(fields):
        check_names(f"{kind} record", fields)
        _VETTED[kind] = len(fields)
    if not _SAFE.issuperset(map(type, fields.values())):  # in C: the common case
        for value in fields.values():
            if value.__class__ not in _SAFE:
                _check_value(kind, value)


def _check_value(kind: str, value: Any) -> None:
    if isinstance(value, list | tuple):
        for item in value:
            if item.__class__ not in _SAFE:
                _check_value(kind, item)
    else:
        _check_class(f"{kind} record", value.__class__)
