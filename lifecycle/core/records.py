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

"""

from __future__ import annotations

import enum
import math
import uuid
from decimal import Decimal
from typing import NoReturn

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
