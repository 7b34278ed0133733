"""Events, commands and fills validate every field where they enter.

Table-driven: every field of every record class is classified by its type
hint, and every bad value of its class is tried on it, by construction, by
``msgspec.structs.replace`` and by decoding a journal line. Every accepted
form of a cloid is stored canonical and found by the engine. Every event and
command class round-trips through the journal codec.
"""

from __future__ import annotations

import enum
import typing
import uuid
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lifecycle.core.commands import Command
from lifecycle.core.events import (
    ExchangeEvent,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Fill, Side
from lifecycle.core.states import GoneReason, OrderState
from lifecycle.engine.facade import Engine
from lifecycle.journal.codec import decode_line, encode_line

EVENTS: list[type[Any]] = list(typing.get_args(ExchangeEvent))
COMMANDS: list[type[Any]] = list(typing.get_args(Command))
CLASSES: list[type[Any]] = [*EVENTS, *COMMANDS, Fill]

CLOID = CloidFactory("validation").next()
HEX = CLOID[2:]
assert HEX.upper() != HEX  # the case-folding forms below must differ from the canonical one


class Kind(enum.Enum):
    """What a field holds, by its type hint."""

    CLOID = "cloid"
    ID = "id"
    POSITIVE = "positive"
    MEMBER = "member"
    FLAG = "flag"
    TEXT = "text"
    TIME = "time"


class Field(typing.NamedTuple):
    cls: type[Any]
    name: str
    kind: Kind
    base: Any  # the hint without None
    optional: bool


def field_of(cls: type[Any], name: str, hint: Any) -> Field:
    args = typing.get_args(hint)
    optional = type(None) in args
    base = next(a for a in args if a is not type(None)) if args else hint
    if base is Cloid:
        kind = Kind.CLOID
    elif base is Oid or base is Tid:
        kind = Kind.ID
    elif base is Decimal:
        kind = Kind.POSITIVE
    elif isinstance(base, type) and issubclass(base, enum.Enum):
        kind = Kind.MEMBER
    elif base is bool:
        kind = Kind.FLAG
    elif base is str:
        kind = Kind.TEXT
    elif base is float:
        kind = Kind.TIME
    else:  # a new field type: give it a row in the tables below
        raise AssertionError(f"{cls.__name__}.{name}: no validation table for {hint}")
    return Field(cls, name, kind, base, optional)


FIELDS = [
    field_of(cls, name, hint)
    for cls in CLASSES
    for name, hint in typing.get_type_hints(cls).items()
]


def good(field: Field) -> Any:
    """A valid value of ``field``."""
    values = {
        Kind.CLOID: CLOID, Kind.ID: 7, Kind.POSITIVE: Decimal("1.5"), Kind.FLAG: True,
        Kind.TEXT: "x", Kind.TIME: 1.0,
    }
    return next(iter(field.base)) if field.kind is Kind.MEMBER else values[field.kind]


def valid_kwargs(cls: type[Any]) -> dict[str, Any]:
    return {f.name: good(f) for f in FIELDS if f.cls is cls}


def bad_values(field: Field) -> list[tuple[Any, type[Exception]]]:
    """Every bad value of ``field``'s kind, with the error it must raise."""
    nan = float("nan")
    table: dict[Kind, list[tuple[Any, type[Exception]]]] = {
        Kind.CLOID: [
            (5, TypeError), (HEX.encode(), TypeError), ("zz", ValueError), ("", ValueError),
            ("0x" + HEX[:-1], ValueError), (CLOID + "0", ValueError), ("0x" + "g" * 32, ValueError),
            ("0y" + HEX, ValueError),
        ],
        Kind.ID: [
            ("7", TypeError), (True, TypeError), (False, TypeError), (7.0, TypeError),
            (Decimal(7), TypeError), (-1, ValueError),
        ],
        Kind.POSITIVE: [
            (Decimal("NaN"), ValueError), (Decimal("sNaN"), ValueError),
            (Decimal("Infinity"), ValueError), (Decimal("-Infinity"), ValueError),
            (Decimal("-1.5"), ValueError), (Decimal("0"), ValueError), (Decimal("-0"), ValueError),
            (Decimal("0E-8"), ValueError), (1.5, TypeError), (nan, TypeError), ("1.5", TypeError),
            (1, TypeError), (True, TypeError),
        ],
        Kind.FLAG: [(1, TypeError), (0, TypeError), ("true", TypeError)],
        Kind.TEXT: [(1, TypeError), (b"x", TypeError), ("\ud800 lone surrogate", ValueError)],
        Kind.TIME: [
            (nan, ValueError), (float("inf"), ValueError), (float("-inf"), ValueError),
            ("1", TypeError), (True, TypeError), (Decimal(1), TypeError),
        ],
    }
    if field.kind is Kind.MEMBER:
        member = next(iter(field.base))
        other = GoneReason.CANCELED  # a member of another enum
        bad: list[tuple[Any, type[Exception]]] = [
            (member.value, TypeError), (member.name, TypeError), (1, TypeError), (other, TypeError),
        ]
    else:
        bad = list(table[field.kind])
    if not field.optional:
        bad.append((None, TypeError))
    return bad


CASES = [
    pytest.param(field, value, error, id=f"{field.cls.__name__}.{field.name}={value!r}")
    for field in FIELDS
    for value, error in bad_values(field)
]


def check_message(info: pytest.ExceptionInfo[Exception], field: Field, value: Any) -> None:
    message = str(info.value)
    assert f"{field.cls.__name__}.{field.name}" in message
    assert repr(value) in message


# --- construction ----------------------------------------------------------------------------


def test_every_record_class_and_every_field_kind_is_covered() -> None:
    assert len(CLASSES) == 16
    assert {f.kind for f in FIELDS} == set(Kind)
    assert {f.cls for f in FIELDS} == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_valid_fields_are_accepted_and_stored_as_given(cls: type[Any]) -> None:
    kwargs = valid_kwargs(cls)
    record = cls(**kwargs)
    assert {name: getattr(record, name) for name in kwargs} == kwargs


@pytest.mark.parametrize(("field", "value", "error"), CASES)
def test_bad_field_raises_naming_class_field_and_value(
    field: Field, value: Any, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        field.cls(**{**valid_kwargs(field.cls), field.name: value})
    check_message(info, field, value)
    # The other error class would hide a caller's mistake of another kind.
    assert not isinstance(info.value, TypeError if error is ValueError else ValueError)


@pytest.mark.parametrize(("field", "value", "error"), CASES)
def test_replace_validates_like_construction(
    field: Field, value: Any, error: type[Exception]
) -> None:
    record = field.cls(**valid_kwargs(field.cls))
    with pytest.raises(error) as info:
        msgspec.structs.replace(record, **{field.name: value})
    check_message(info, field, value)


def test_optional_ids_and_cloids_take_none() -> None:
    optional = [f for f in FIELDS if f.optional]
    assert {f.kind for f in optional} == {Kind.CLOID, Kind.ID}
    for field in optional:
        record = field.cls(**{**valid_kwargs(field.cls), field.name: None})
        assert getattr(record, field.name) is None


class _Int(int):
    pass


class _Decimal(Decimal):
    pass


class _Str(str):
    __slots__ = ()


RARER_VALID: dict[Kind, list[Any]] = {
    Kind.ID: [0, 2**64 - 1, 2**70, _Int(5)],
    Kind.POSITIVE: [Decimal("1E-30"), Decimal("0.000123400"), Decimal("1E+30"), _Decimal("2")],
    Kind.TEXT: ["", "tick é ✓\n", _Str("sub")],
    Kind.TIME: [0, -1.5, 1e300],
}


@pytest.mark.parametrize(
    "field",
    [f for f in FIELDS if f.kind in RARER_VALID],
    ids=lambda f: f"{f.cls.__name__}.{f.name}",
)
def test_rarer_valid_values_are_accepted_unchanged(field: Field) -> None:
    for value in RARER_VALID[field.kind]:
        record = field.cls(**{**valid_kwargs(field.cls), field.name: value})
        assert getattr(record, field.name) is value


# --- cloids: every accepted form is stored canonical ----------------------------------------

FORMS: dict[str, str | uuid.UUID] = {
    "upper case": "0x" + HEX.upper(),
    "0X prefix": "0X" + HEX,
    "0X prefix, upper case": CLOID.upper(),
    "bare hex": HEX,
    "bare hex, upper case": HEX.upper(),
    "hyphenated UUID": str(uuid.UUID(HEX)),
    "hyphenated UUID, upper case": str(uuid.UUID(HEX)).upper(),
    "uuid.UUID": uuid.UUID(HEX),
    "surrounding blanks": f" {CLOID}\n",
}


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
@pytest.mark.parametrize(
    "field", [f for f in FIELDS if f.kind is Kind.CLOID], ids=lambda f: f.cls.__name__
)
def test_every_cloid_form_is_stored_canonical(field: Field, form: str | uuid.UUID) -> None:
    kwargs = valid_kwargs(field.cls)
    record = field.cls(**{**kwargs, field.name: form})
    stored = getattr(record, field.name)
    assert type(stored) is Cloid and stored == CLOID
    assert record == field.cls(**kwargs) and hash(record) == hash(field.cls(**kwargs))


def placed(engine: Engine) -> Any:
    order = engine.place(Side.BUY, Decimal("100"), Decimal("2"), 0.0, cloid=Cloid(CLOID))
    engine.commands_to_send()
    return order


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_engine_finds_our_order_by_every_cloid_form(form: str | uuid.UUID) -> None:
    engine = Engine(verify=True)
    order = placed(engine)
    engine.handle(OrderAccepted(cloid=form, oid=Oid(11)), 0.1)  # type: ignore[arg-type]
    assert order.state is OrderState.FINALIZED_PROTECTED
    engine.handle(
        OrderFilled(cloid=form, tid=Tid(1), side=Side.BUY, price=Decimal("100"),  # type: ignore[arg-type]
                    size=Decimal("0.5")),
        0.2,
    )
    assert order.filled == Decimal("0.5") and engine.position == Decimal("0.5")
    engine.cancel(order, 0.3)
    engine.handle(OrderCanceled(cloid=form), 0.4)  # type: ignore[arg-type]
    assert order.state is OrderState.GONE and order.reason is GoneReason.CANCELED
    assert not list(engine.anomalies)


def test_a_fill_with_a_textual_side_never_reaches_the_position() -> None:
    engine = Engine()
    order = placed(engine)
    with pytest.raises(TypeError, match=r"OrderFilled\.side must be a Side member, got 'sell'"):
        engine.handle(
            OrderFilled(cloid=order.cloid, oid=Oid(11), tid=Tid(1), side="sell",  # type: ignore[arg-type]
                        price=Decimal("100"), size=Decimal("1")),
            0.1,
        )
    assert engine.position == 0 and order.filled == 0


# --- the journal codec: decoding validates, and every event and command round-trips ---------


def line_of(record: Any, seq: int = 1) -> bytes:
    if type(record) in EVENTS:
        return encode_line(seq, 1.0, "event", {"event": record})
    return encode_line(seq, None, "send", {"command": record})


def decoded(line: bytes) -> Any:
    data = decode_line(line.rstrip(b"\n")).data
    return data["event"] if "event" in data else data["command"]


def same_values(a: Any, b: Any) -> bool:
    """Equal, and every field of the same type (Cloid not str, Decimal digits kept)."""
    if a != b or type(a) is not type(b):
        return False
    for f in msgspec.structs.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if type(x) is not type(y) or (isinstance(x, Decimal) and str(x) != str(y)):
            return False
    return True


DECODE_CASES = [
    pytest.param(field, value, id=f"{field.cls.__name__}.{field.name}={value!r}")
    for field in FIELDS
    if field.cls is not Fill and field.kind in (Kind.ID, Kind.POSITIVE, Kind.CLOID)
    for value, error in bad_values(field)
    if error is ValueError  # a bad value JSON can carry and msgspec's types let through
]


@pytest.mark.parametrize(("field", "value"), DECODE_CASES)
def test_decoding_validates_like_construction(field: Field, value: Any) -> None:
    record = field.cls(**valid_kwargs(field.cls))
    obj = msgspec.json.decode(line_of(record))
    inner = obj["event"] if "event" in obj else obj["command"]
    inner[field.name] = str(value) if isinstance(value, Decimal) else value
    with pytest.raises(ValueError) as info:
        decode_line(msgspec.json.encode(obj))
    message = str(info.value)
    # A cloid is read by the codec's hook, which names the JSON path; the rest by the class.
    where = f"`$.{'event' if 'event' in obj else 'command'}.{field.name}`"
    expected = where if field.kind is Kind.CLOID else f"{field.cls.__name__}.{field.name}"
    assert expected in message
    assert (repr(value) if field.kind is Kind.CLOID else str(value)) in message


def test_decoding_refuses_a_field_of_the_wrong_json_type() -> None:
    line = line_of(OrderAccepted(cloid=CLOID, oid=Oid(3))).replace(b'"oid":3', b'"oid":"3"')
    with pytest.raises(ValueError, match=r"Expected `int`, got `str` - at `\$\.event\.oid`"):
        decode_line(line)


def test_decoding_refuses_a_nan_fill_size_naming_the_field() -> None:
    fill = OrderFilled(cloid=CLOID, tid=Tid(1), side=Side.BUY, price=Decimal(1), size=Decimal(1))
    line = line_of(fill).replace(b'"size":"1"', b'"size":"NaN"')
    with pytest.raises(ValueError, match=r"OrderFilled\.size must be a finite Decimal > 0"):
        decode_line(line)


def test_decoding_canonicalizes_a_cloid_in_another_form() -> None:
    line = line_of(OrderAccepted(cloid=CLOID, oid=Oid(3))).replace(
        CLOID.encode(), str(uuid.UUID(HEX)).upper().encode()
    )
    event = decoded(line)
    assert type(event.cloid) is Cloid and event.cloid == CLOID


@pytest.mark.parametrize("cls", [*EVENTS, *COMMANDS], ids=lambda cls: cls.__name__)
def test_every_event_and_command_class_roundtrips_through_the_codec(cls: type[Any]) -> None:
    full = cls(**valid_kwargs(cls))
    sparse = cls(**{f.name: None if f.optional else good(f) for f in FIELDS if f.cls is cls})
    for record in (full, sparse):
        assert same_values(decoded(line_of(record)), record)


def test_a_line_in_the_previous_key_order_still_decodes() -> None:
    line = (b'{"seq":4,"at":0.5,"type":"event","event":{"kind":"OrderAccepted","cloid":"'
            + CLOID.encode() + b'","oid":3}}')
    record = decode_line(line)
    assert (record.seq, record.at, record.type) == (4, 0.5, "event")
    assert record.data["event"] == OrderAccepted(cloid=CLOID, oid=Oid(3))


def strategy(field: Field) -> st.SearchStrategy[Any]:
    """Any valid value of ``field``, in the forms the engine meets."""
    decimals = st.builds(
        lambda coefficient, exponent: Decimal(f"{coefficient}E{exponent}"),
        st.integers(1, 10**30), st.integers(-40, 40),
    )
    cloids = st.one_of(
        st.binary(min_size=16, max_size=16).map(lambda b: "0x" + b.hex()),
        st.uuids(),
        st.uuids().map(lambda u: str(u).upper()),
    )
    kinds: dict[Kind, st.SearchStrategy[Any]] = {
        Kind.CLOID: cloids, Kind.ID: st.integers(0, 2**80), Kind.POSITIVE: decimals,
        Kind.FLAG: st.booleans(), Kind.TEXT: st.text(), Kind.TIME: st.floats(-1e9, 1e9),
    }
    values = st.sampled_from(list(field.base)) if field.kind is Kind.MEMBER else kinds[field.kind]
    return st.none() | values if field.optional else values


# The first draw of st.text() builds Hypothesis's Unicode tables (seconds, once).
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([*EVENTS, *COMMANDS]).flatmap(
    lambda cls: st.builds(cls, **{f.name: strategy(f) for f in FIELDS if f.cls is cls})
))
def test_any_valid_event_or_command_roundtrips_through_the_codec(record: Any) -> None:
    assert same_values(decoded(line_of(record)), record)

