"""``record``: a frozen, keyword-only dataclass stored as a tuple, cheap to build.

Events and commands are built on the hot path, where a frozen dataclass costs
the most: its ``__init__`` has to write every field past the frozen
``__setattr__`` (``object.__setattr__``, or a slot descriptor's ``__set__``),
one C call per field. A ``record`` class is a ``tuple`` subclass instead: the
constructor hands all the values to ``tuple.__new__`` at once, and each field
is read through a C descriptor on its index, as a ``namedtuple``'s are.

Everything a frozen, keyword-only dataclass offers is kept, with the same
behaviour:

* construction by keyword only, with the declared defaults; a missing,
  unknown or positional argument raises ``TypeError``;
* ``dataclasses.fields``, ``dataclasses.is_dataclass``, ``dataclasses.replace``
  and ``dataclasses.asdict`` (the class carries the dataclass metadata);
* assigning or deleting any attribute raises
  :class:`dataclasses.FrozenInstanceError`;
* equality only between instances of the same class, field by field (a record
  never equals a plain tuple nor a record of another class with the same
  values); ordering comparisons raise ``TypeError``; the hash is the hash of
  the tuple of field values, as a frozen dataclass's is;
* the dataclass ``repr`` (``OrderAccepted(cloid=..., oid=...)``); pickling and
  ``copy``.

Being tuples, records also have ``len``, iteration and indexing, and
``"%s" % record`` takes their fields as the arguments (write
``"%s" % (record,)``); nothing in the package relies on that.

:func:`positional` gives the engine a constructor taking the fields by
position, for records it builds itself on the hot path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import itemgetter
from typing import Any, TypeVar, dataclass_transform

__all__ = ["positional", "record"]

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


#: The positional constructor of each record class (see :func:`positional`).
_POSITIONAL: dict[type, Callable[..., Any]] = {}

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
    """Make ``cls`` a frozen, keyword-only dataclass stored as a tuple (see the module)."""
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
    # By position, a field with a default may be left out only if all after it may.
    required = max((i + 1 for i, f in enumerate(fields) if f.default is dataclasses.MISSING),
                   default=0)
    positional_signature = ", ".join(names[:required] + params[required:])
    exec(
        f"def __new__({signature}):\n    return _tuple_new(cls, ({values}))\n"
        f"def make({positional_signature}):\n    return _tuple_new(_cls, ({values}))\n",
        namespace,
    )
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
    namespace["_cls"] = result
    make = namespace["make"]
    make.__qualname__ = f"{made.__qualname__}.<positional>"
    _POSITIONAL[result] = make
    typed: _C = result
    return typed


def positional(cls: Callable[..., _T]) -> Callable[..., _T]:
    """Return a constructor of the record class ``cls`` taking its fields by position.

    The arguments are the fields in declaration order; the fields after the
    last one without a default may be left out and take their defaults. The
    result equals the keyword construction. Meant for the engine's hot
    path, where the keyword call's argument handling is the larger cost.

    Raises:
        KeyError: ``cls`` is not a record class.
    """
    return _POSITIONAL[cls]  # type: ignore[index]
