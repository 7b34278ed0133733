"""Tests for lifecycle.core.ids: Cloid canonicalization and the deterministic CloidFactory."""

from __future__ import annotations

import random
import re
import uuid

import pytest

from lifecycle.core.errors import InvalidCloid, LifecycleError
from lifecycle.core.ids import Cloid, CloidFactory

HEX = "0123456789abcdef0123456789abcdef"
CANONICAL = "0x" + HEX
UUID_TEXT = f"{HEX[:8]}-{HEX[8:12]}-{HEX[12:16]}-{HEX[16:20]}-{HEX[20:]}"
CANONICAL_RE = re.compile(r"0x[0-9a-f]{32}")


def mixed_case(text: str) -> str:
    """Upper-case every other character (digits are unaffected)."""
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(text))


ACCEPTED_FORMS: list[object] = [
    uuid.UUID(HEX),
    UUID_TEXT,
    UUID_TEXT.upper(),
    HEX,
    HEX.upper(),
    "0x" + HEX,
    "0x" + HEX.upper(),
    "0x" + mixed_case(HEX),
    "0X" + HEX,
    "0X" + HEX.upper(),
    "  0x" + HEX + "  ",
    "\t" + HEX + "\n",
    " " + UUID_TEXT + "\r\n",
]


# --- Cloid: accepted forms -----------------------------------------------------------


@pytest.mark.parametrize("value", ACCEPTED_FORMS, ids=repr)
def test_cloid_accepted_form_canonical_lowercase_hex(value: str | uuid.UUID) -> None:
    # Act
    cloid = Cloid(value)

    # Assert
    assert isinstance(cloid, Cloid)
    assert str(cloid) == CANONICAL
    assert CANONICAL_RE.fullmatch(cloid)


def test_cloid_all_accepted_forms_equal_each_other_and_hash_alike() -> None:
    # Act
    cloids = [Cloid(value) for value in ACCEPTED_FORMS]  # type: ignore[arg-type]

    # Assert
    assert len(set(cloids)) == 1
    assert all(c == cloids[0] for c in cloids)
    assert {hash(c) for c in cloids} == {hash(CANONICAL)}


def test_cloid_random_uuid_matches_its_hyphenated_text() -> None:
    # Arrange
    rng = random.Random(1234)
    value = uuid.UUID(int=rng.getrandbits(128), version=4)

    # Act
    from_object = Cloid(value)
    from_text = Cloid(str(value).upper())

    # Assert
    assert from_object == from_text == "0x" + value.hex


def test_cloid_of_cloid_returns_same_object() -> None:
    # Arrange
    cloid = Cloid(UUID_TEXT)

    # Act
    again = Cloid(cloid)

    # Assert
    assert again is cloid


@pytest.mark.parametrize("value", ACCEPTED_FORMS, ids=repr)
def test_cloid_canonicalize_twice_idempotent(value: str | uuid.UUID) -> None:
    # Arrange
    once = Cloid(value)

    # Act
    twice = Cloid(str(once))

    # Assert
    assert twice == once
    assert str(twice) == str(once)


def test_cloid_repr_shows_class_and_canonical_text() -> None:
    # Act
    text = repr(Cloid(HEX))

    # Assert
    assert text == f"Cloid('{CANONICAL}')"


# --- Cloid: rejected forms -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(HEX[:31], id="31-hex"),
        pytest.param(HEX + "0", id="33-hex"),
        pytest.param(HEX[:-1] + "g", id="non-hex-char"),
        pytest.param("0x" + HEX[:-1] + "z", id="0x-non-hex-char"),
        pytest.param("0x" + HEX[:31], id="0x-31-hex"),
        pytest.param("0x" + HEX + "0", id="0x-33-hex"),
        pytest.param("", id="empty"),
        pytest.param("   ", id="only-whitespace"),
        pytest.param("0x", id="bare-prefix"),
        pytest.param("0x0x" + HEX[:30], id="double-prefix"),
        pytest.param("x" + HEX, id="x-prefix-without-zero"),
        pytest.param(f"{HEX[:4]}-{HEX[4:12]}-{HEX[12:16]}-{HEX[16:20]}-{HEX[20:]}", id="hy-8-4"),
        pytest.param(f"{HEX[:8]}-{HEX[8:12]}-{HEX[12:16]}-{HEX[16:32]}", id="hy-missing"),
        pytest.param(f"{HEX[:8]}{HEX[8:12]}-{HEX[12:16]}-{HEX[16:20]}-{HEX[20:]}", id="hy-3"),
        pytest.param("-" + HEX, id="leading-hyphen"),
        pytest.param("0x" + UUID_TEXT, id="0x-plus-uuid"),
        pytest.param("{" + UUID_TEXT + "}", id="braced-uuid"),
        pytest.param(HEX[:16] + " " + HEX[16:], id="inner-space"),
    ],
)
def test_cloid_bad_string_raises_invalid_cloid_naming_value(value: str) -> None:
    # Act
    with pytest.raises(InvalidCloid) as info:
        Cloid(value)

    # Assert
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        pytest.param(5, "int", id="int"),
        pytest.param(int(CANONICAL, 16), "int", id="int-128-bit"),
        pytest.param(None, "NoneType", id="none"),
        pytest.param(CANONICAL.encode(), "bytes", id="bytes"),
        pytest.param(uuid.UUID(HEX).bytes, "bytes", id="uuid-bytes"),
        pytest.param(1.5, "float", id="float"),
    ],
)
def test_cloid_non_str_input_raises_invalid_cloid_naming_type(
    value: object, type_name: str
) -> None:
    # Act
    with pytest.raises(InvalidCloid) as info:
        Cloid(value)  # type: ignore[arg-type]

    # Assert
    message = str(info.value)
    assert type_name in message
    assert repr(value) in message


def test_invalid_cloid_is_value_error_and_lifecycle_error() -> None:
    # Act
    with pytest.raises(ValueError) as info:
        Cloid("nope")

    # Assert
    assert isinstance(info.value, InvalidCloid)
    assert isinstance(info.value, LifecycleError)


# --- CloidFactory --------------------------------------------------------------------


def test_cloid_factory_same_arguments_same_sequence() -> None:
    # Arrange
    first = CloidFactory("bot-a", 7, start=3)
    second = CloidFactory("bot-a", 7, start=3)

    # Act
    a = [first.next() for _ in range(50)]
    b = [second.next() for _ in range(50)]

    # Assert
    assert a == b


def test_cloid_factory_successive_cloids_distinct() -> None:
    # Arrange
    factory = CloidFactory("bot-a", 1)

    # Act
    cloids = [factory.next() for _ in range(1000)]

    # Assert
    assert len(set(cloids)) == len(cloids)


@pytest.mark.parametrize(
    ("run_id", "start"), [(0, 0), (1, 0), (2**32 - 1, 0), (5, 2**64 - 10)]
)
def test_cloid_factory_cloids_canonical(run_id: int, start: int) -> None:
    # Arrange
    factory = CloidFactory("bot-a", run_id, start=start)

    # Act
    cloids = [factory.next() for _ in range(10)]

    # Assert
    for c in cloids:
        assert isinstance(c, Cloid)
        assert CANONICAL_RE.fullmatch(c)
        assert Cloid(c) == c
        assert Cloid(str(c)) == c


def test_cloid_factory_different_run_ids_different_cloids() -> None:
    # Arrange
    run_a = CloidFactory("bot-a", 1)
    run_b = CloidFactory("bot-a", 2)

    # Act
    a = {run_a.next() for _ in range(20)}
    b = {run_b.next() for _ in range(20)}

    # Assert
    assert a.isdisjoint(b)


def test_cloid_factory_different_namespaces_different_cloids() -> None:
    # Arrange
    bot_a = CloidFactory("bot-a", 1)
    bot_b = CloidFactory("bot-b", 1)

    # Act
    a = {bot_a.next() for _ in range(20)}
    b = {bot_b.next() for _ in range(20)}

    # Assert
    assert a.isdisjoint(b)


def test_cloid_factory_start_offsets_counter() -> None:
    # Arrange
    from_zero = CloidFactory("bot-a", 3)
    from_five = CloidFactory("bot-a", 3, start=5)

    # Act
    zero_based = [from_zero.next() for _ in range(8)]
    offset = [from_five.next() for _ in range(3)]

    # Assert
    assert offset == zero_based[5:8]
    assert int(offset[0][-16:], 16) == 5


def test_cloid_factory_owns_own_cloids_true() -> None:
    # Arrange
    factory = CloidFactory("bot-a", 9)

    # Act
    owned = [factory.owns(factory.next()) for _ in range(5)]

    # Assert
    assert owned == [True] * 5


def test_cloid_factory_owns_other_run_same_namespace_true() -> None:
    # Arrange
    earlier_run = CloidFactory("bot-a", 1)
    this_run = CloidFactory("bot-a", 2)

    # Act
    owned = this_run.owns(earlier_run.next())

    # Assert
    assert owned is True


def test_cloid_factory_owns_canonicalized_uuid_form_of_own_cloid_true() -> None:
    # Arrange
    factory = CloidFactory("bot-a", 1)
    own = factory.next()
    as_uuid = uuid.UUID(hex=own[2:])

    # Act
    owned = factory.owns(Cloid(as_uuid))

    # Assert
    assert owned is True


@pytest.mark.parametrize(
    "cloid",
    [
        pytest.param(CloidFactory("bot-b", 2).next(), id="other-namespace"),
        pytest.param(None, id="none"),
        pytest.param(
            Cloid(uuid.UUID(int=random.Random(42).getrandbits(128), version=4)),
            id="random-uuid",
        ),
    ],
)
def test_cloid_factory_owns_foreign_false(cloid: Cloid | None) -> None:
    # Arrange
    factory = CloidFactory("bot-a", 2)

    # Act
    owned = factory.owns(cloid)

    # Assert
    assert owned is False


@pytest.mark.parametrize("run_id", [-1, 2**32, 2**40])
def test_cloid_factory_run_id_out_of_range_raises(run_id: int) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="run_id"):
        CloidFactory("bot-a", run_id)


def test_cloid_factory_empty_namespace_raises() -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="namespace"):
        CloidFactory("")


@pytest.mark.parametrize("run_id", [0, 2**32 - 1])
def test_cloid_factory_run_id_bounds_accepted(run_id: int) -> None:
    # Act
    factory = CloidFactory("bot-a", run_id)

    # Assert
    assert factory.run_id == run_id
    assert int(factory.next()[10:18], 16) == run_id


@pytest.mark.parametrize("start", [-1, 2**64])
def test_cloid_factory_start_out_of_counter_range_raises(start: int) -> None:
    # Act / Assert
    with pytest.raises(ValueError):
        CloidFactory("bot-a", 0, start=start)


def test_a_factorys_namespace_and_run_id_are_read_only_and_give_its_prefix() -> None:
    # The prefix every cloid carries is computed once: changing the fields it comes from
    # would leave next() and owns() on the old prefix while this_run() read the new one.
    factory = CloidFactory("bot", run_id=7)
    assert factory.next().startswith(factory.prefix) and len(factory.prefix) == 18
    assert factory.prefix.endswith("00000007")
    with pytest.raises(AttributeError):
        factory.run_id = 8  # type: ignore[misc]
    with pytest.raises(AttributeError):
        factory.namespace = "other"  # type: ignore[misc]
