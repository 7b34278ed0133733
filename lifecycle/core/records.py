"""Records: the immutable values that cross the engine's boundary.

Theory of operation
-------------------
Events, commands and fills are :class:`Record` classes: ``msgspec.Struct``
subclasses that are frozen, keyword-only and untracked by the garbage
collector (their fields are numbers, strings, decimals and enum members, which
cannot form a reference cycle). msgspec builds an instance in C, so a struct
costs less to construct than a frozen dataclass, and less memory than a tuple.
A record has the dataclass ``repr``, compares equal only to an instance of its
own class with equal fields, is hashable, has no ordering, pickles, and is
copied with changes by ``msgspec.structs.replace``. Assigning or deleting an
attribute raises ``AttributeError``.

Every record class validates its fields once, in ``__post_init__``, which
msgspec runs after construction and also after decoding, ``replace``,
``copy.deepcopy`` and unpickling. A value the engine would misapply (a NaN or
float size, a side given as the string ``"buy"``, an oid given as text) raises
there, where it enters, with a message that names the class, the field and the
value; a cloid in any accepted form (see :class:`~lifecycle.core.ids.Cloid`) is
stored canonical, so the engine's indexes find it. Each ``__post_init__`` tests
the common case inline (the exact type, in range) and calls one of the checks
below only when that test fails: either to accept a rarer valid form (a UUID
cloid, an ``int`` subclass) or to raise. The checks are therefore the slow
half, and they decide.

Record classes carry a tag for msgspec's tagged unions: the field ``"kind"``
holds the class name, so a union of record classes encodes and decodes as one
schema (the journal's codec relies on it). Decoding refuses a field the class
does not have.

:func:`record` is the older, dataclass-based way to make such values (a
frozen, keyword-only dataclass stored as a tuple), without validation; values
outside the core that are not structs yet (the runtime's adapter results)
still use it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import uuid
from collections.abc import Callable
from decimal import Decimal
from operator import itemgetter
from typing import Any, NoReturn, TypeVar, dataclass_transform

import msgspec

from lifecycle.core.errors import InvalidCloid
from lifecycle.core.ids import Cloid

__all__ = [
    "Record",
    "bad_type",
    "canonical_cloid",
    "check_id",
    "check_positive",
    "check_text",
    "check_time",
    "record",
]

# Stores a field of a frozen struct; __post_init__ uses it for canonical cloids
# (object.__setattr__ refuses msgspec's structs).
_force_setattr = msgspec.structs.force_setattr


class Record(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    gc=False,
    tag_field="kind",
    tag=True,
    forbid_unknown_fields=True,
):
    """Base of the engine's immutable values: events, commands and fills.

    A subclass repeats ``frozen=True, kw_only=True``: msgspec applies
    ``kw_only`` per class, and type checkers read ``frozen`` per class. It
    validates its own fields in ``__post_init__`` (see the module).
    """


def _where(owner: object, field: str) -> str:
    return f"{type(owner).__name__}.{field}"


def canonical_cloid(owner: Record, field: str) -> None:
    """Store the cloid field ``field`` of ``owner`` in canonical form.

    Called for a value that is not a :class:`Cloid` already: a ``str`` in any
    accepted form or a :class:`uuid.UUID`.

    Raises:
        TypeError: The value is neither a ``str`` nor a ``uuid.UUID``.
        InvalidCloid: A string in none of the accepted forms (a ``ValueError``).
    """
    value = getattr(owner, field)
    if not isinstance(value, str | uuid.UUID):
        raise TypeError(
            f"{_where(owner, field)} must be a cloid (a str or uuid.UUID), got {value!r}"
        )
    try:
        cloid = Cloid(value)
    except InvalidCloid:
        raise InvalidCloid(
            f"{_where(owner, field)} must be a cloid (0x + 32 hex digits or a UUID), "
            f"got {value!r}"
        ) from None
    _force_setattr(owner, field, cloid)


def check_id(owner: Record, field: str, value: object) -> None:
    """Accept an exchange id (an ``int`` >= 0, ``bool`` excluded), or raise.

    Raises:
        TypeError: Not an ``int``, or a ``bool``.
        ValueError: A negative ``int``.
    """
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{_where(owner, field)} must be an int >= 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{_where(owner, field)} must be an int >= 0, got {value!r}")


def check_positive(owner: Record, field: str, value: object) -> None:
    """Accept a price or size (a finite ``Decimal`` > 0), or raise.

    Raises:
        TypeError: Not a ``Decimal`` (a float or a string is refused: converting
            either here would hide the caller's loss of precision or parsing).
        ValueError: NaN, infinite, zero or negative.
    """
    message = f"{_where(owner, field)} must be a finite Decimal > 0, got {value!r}"
    if not isinstance(value, Decimal):
        raise TypeError(message)
    if not (value.is_finite() and value > 0):
        raise ValueError(message)


def check_text(owner: Record, field: str, value: object) -> None:
    """Accept text (a ``str``, subclasses included, without lone surrogates), or raise.

    A lone surrogate (``"\\ud800"``, from a JSON escape) is no Unicode
    character: no UTF-8 writer, the journal's included, can write it.

    Raises:
        TypeError: Not a ``str``.
        ValueError: A ``str`` holding a lone surrogate.
    """
    if not isinstance(value, str):
        raise TypeError(f"{_where(owner, field)} must be a str, got {value!r}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError(
            f"{_where(owner, field)} must be Unicode text (no lone surrogates), got {value!r}"
        ) from None


def check_time(owner: Record, field: str, value: object) -> None:
    """Accept an engine time (a finite ``float`` or ``int``, not ``bool``), or raise.

    Raises:
        TypeError: Not a ``float`` or ``int``, or a ``bool``.
        ValueError: NaN or infinite.
    """
    message = f"{_where(owner, field)} must be a finite time in seconds, got {value!r}"
    if not isinstance(value, float | int) or isinstance(value, bool):
        raise TypeError(message)
    if not math.isfinite(value):
        raise ValueError(message)


def bad_type(owner: Record, field: str, value: object, expected: type) -> NoReturn:
    """Raise ``TypeError`` for a value whose class is not ``expected``.

    For fields whose type has no subclasses to accept (``bool``, enums with members).
    """
    what = f"a {expected.__name__} member" if issubclass(expected, enum.Enum) else (
        f"a {expected.__name__}"
    )
    raise TypeError(f"{_where(owner, field)} must be {what}, got {value!r}")


# --- record: dataclass-based values, for what is not a struct yet ------------------------

_C = TypeVar("_C", bound=type)
_T = TypeVar("_T")

_tuple_new: Any = tuple.__new__
_tuple_eq: Any = tuple.__eq__
_tuple_ne: Any = tuple.__ne__

try:  # the C descriptor namedtuple uses for its fields
    from collections import _tuplegetter  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python implementations

    def _tuplegetter(index: int, doc: str | None) -> Any:
        return property(itemgetter(index), doc=doc)


# Class attributes of the dataclass that the record class must not copy: the
# descriptors of the instance dict, which a record has not.
_NOT_COPIED = frozenset({"__dict__", "__weakref__"})


def _rebuild(cls: type[_T], values: tuple[Any, ...]) -> _T:
    """Unpickle (and copy) a record: rebuild it from its field values."""
    result: _T = _tuple_new(cls, values)
    return result


def _setattr(self: object, name: str, value: object) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _delattr(self: object, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


# The comparison methods return bool or NotImplemented, hence Any. A record is
# a tuple, so Python would let a plain tuple (or another tuple subclass) compare
# itself with it element by element, whichever side it is on: answer for tuples
# here, as the dataclass's comparison would end up answering.
def _eq(self: tuple[Any, ...], other: object) -> Any:
    if other.__class__ is self.__class__:
        return _tuple_eq(self, other)
    if isinstance(other, tuple):
        return False
    return NotImplemented


def _ne(self: tuple[Any, ...], other: object) -> Any:
    if other.__class__ is self.__class__:
        return _tuple_ne(self, other)
    if isinstance(other, tuple):
        return True
    return NotImplemented


def _unordered(symbol: str) -> Callable[[object, object], Any]:
    def compare(self: object, other: object) -> Any:
        # A dataclass without order=True has no ordering: refuse tuple's.
        if isinstance(other, tuple):
            raise TypeError(
                f"{symbol!r} not supported between instances of "
                f"{type(self).__name__!r} and {type(other).__name__!r}"
            )
        return NotImplemented

    return compare


_LT, _LE, _GT, _GE = _unordered("<"), _unordered("<="), _unordered(">"), _unordered(">=")


def _reduce(self: tuple[Any, ...]) -> tuple[Any, ...]:
    return (_rebuild, (self.__class__, tuple(self)))


@dataclass_transform(frozen_default=True, kw_only_default=True)
def record(cls: _C) -> _C:
    """Make ``cls`` a frozen, keyword-only dataclass stored as a tuple.

    The constructor hands all the values to ``tuple.__new__`` at once, and each
    field is read through a C descriptor on its index, as a ``namedtuple``'s
    are. Everything a frozen, keyword-only dataclass offers is kept:
    construction by keyword only, with the declared defaults (a missing,
    unknown or positional argument raises ``TypeError``);
    ``dataclasses.fields``, ``replace`` and ``asdict``; assigning or deleting
    an attribute raises :class:`dataclasses.FrozenInstanceError`; equality
    only between instances of the same class (never with a plain tuple);
    ordering comparisons raise ``TypeError``; the hash of the tuple of field
    values; the dataclass ``repr``; pickling and ``copy``. Being tuples,
    records also have ``len``, iteration and indexing; nothing in the package
    relies on that. Fields are not validated.
    """
    # The dataclass machinery decides the fields, their defaults and the repr.
    made: Any = dataclasses.dataclass(frozen=True, kw_only=True)(cls)
    fields = dataclasses.fields(made)
    names = [f.name for f in fields]
    namespace: dict[str, Any] = {"_tuple_new": _tuple_new}
    params = []
    for f in fields:
        if f.default is not dataclasses.MISSING:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        elif f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"record field {f.name!r}: default_factory is not supported")
        else:
            params.append(f.name)
    values = "".join(f"{name}, " for name in names)
    signature = f"cls, *, {', '.join(params)}" if params else "cls"
    exec(f"def __new__({signature}):\n    return _tuple_new(cls, ({values}))\n", namespace)
    body = {k: v for k, v in vars(made).items() if k not in _NOT_COPIED}
    del body["__init__"]  # the tuple is complete once __new__ returns
    for i, f in enumerate(fields):
        body[f.name] = _tuplegetter(i, f"The ``{f.name}`` field.")
    new = namespace["__new__"]
    new.__qualname__ = f"{made.__qualname__}.__new__"
    body.update(
        __slots__=(),
        __new__=new,
        __setattr__=_setattr,
        __delattr__=_delattr,
        __eq__=_eq,
        __ne__=_ne,
        __lt__=_LT,
        __le__=_LE,
        __gt__=_GT,
        __ge__=_GE,
        __hash__=tuple.__hash__,
        __reduce__=_reduce,
    )
    if not fields:  # an empty tuple is false; a dataclass instance is not
        body["__bool__"] = lambda self: True
    result: Any = type(made.__name__, (tuple,), body)
    typed: _C = result
    return typed
