"""Identifier types: client order ids, exchange order ids, trade ids.

A client order id (cloid) is 16 bytes written as ``0x`` + 32 lowercase hex digits,
the form Hyperliquid echoes in fills, order updates and snapshots. Bots often
hold them as UUIDs instead; a lookup between the two forms never matches unless
both are canonicalized first, so :class:`Cloid` canonicalizes on construction
and every index in the core is keyed by :class:`Cloid`.

:class:`CloidFactory` makes cloids deterministically: a 4-byte tag derived from
the bot's namespace, a 4-byte run id and an 8-byte counter. Orders of ours left
by an earlier run carry the same tag, so they can be recognized and adopted.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import NewType

from lifecycle.core.errors import InvalidCloid

__all__ = ["Cloid", "CloidFactory", "Oid", "Tid"]

#: An exchange order id (Hyperliquid: u64). A modify may return a new one.
Oid = NewType("Oid", int)
#: A trade id: the de-duplication key of one fill.
Tid = NewType("Tid", int)

_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


class Cloid(str):
    """A client order id in canonical form: ``0x`` + 32 lowercase hex digits.

    Accepted input forms: a :class:`uuid.UUID`, a hyphenated UUID string, 32 hex
    digits, or ``0x``/``0X`` + 32 hex digits, in any letter case.

    Raises:
        InvalidCloid: For any other value; the message shows the value.
    """

    __slots__ = ()

    def __new__(cls, value: str | uuid.UUID) -> Cloid:
        if isinstance(value, Cloid):
            return value
        if isinstance(value, uuid.UUID):
            return str.__new__(cls, "0x" + value.hex)
        if not isinstance(value, str):
            raise InvalidCloid(
                f"a cloid must be a str or uuid.UUID, got {type(value).__name__}: {value!r}"
            )
        text = value.strip()
        if text[:2] in ("0x", "0X") and _HEX32.fullmatch(text, 2):
            return str.__new__(cls, "0x" + text[2:].lower())
        if _HEX32.fullmatch(text):
            return str.__new__(cls, "0x" + text.lower())
        if _UUID.fullmatch(text):
            return str.__new__(cls, "0x" + text.replace("-", "").lower())
        raise InvalidCloid(
            f"not a cloid: {value!r} (expected 0x + 32 hex digits or a UUID)"
        )

    def __repr__(self) -> str:
        return f"Cloid({str.__repr__(self)})"


def namespace_tag(namespace: str) -> str:
    """Return the 8 hex digits that mark cloids of ``namespace``."""
    return hashlib.blake2b(namespace.encode(), digest_size=4).hexdigest()


class CloidFactory:
    """Deterministic cloids carrying a bot namespace.

    Layout of the 16 bytes: namespace tag (4) | run id (4) | counter (8). The
    same namespace, run id and start give the same sequence, which keeps tests
    and simulations reproducible; distinct run ids keep runs apart.

    Args:
        namespace: The bot's namespace (``orders.namespace`` in the config).
        run_id: Distinguishes runs of one bot; 0 to 2**32 - 1. The runtime
            passes the start time in seconds; tests pass a constant.
        start: The first counter value.
    """

    __slots__ = ("_counter", "_namespace", "_prefix", "_run_id")

    def __init__(self, namespace: str, run_id: int = 0, *, start: int = 0) -> None:
        if not namespace:
            raise ValueError("namespace must not be empty")
        if not 0 <= run_id < 2**32:
            raise ValueError(f"run_id must be in [0, 2**32), got {run_id}")
        if not 0 <= start < 2**64:
            raise ValueError(f"start must be in [0, 2**64), got {start}")
        self._namespace = namespace
        self._run_id = run_id
        self._prefix = "0x" + namespace_tag(namespace) + f"{run_id:08x}"
        self._counter = start

    # Read-only: the prefix every cloid carries is computed once from these two.
    @property
    def namespace(self) -> str:
        """The bot's namespace."""
        return self._namespace

    @property
    def run_id(self) -> int:
        """This run's id."""
        return self._run_id

    @property
    def prefix(self) -> str:
        """The text every cloid of this run starts with: ``0x``, namespace tag, run id."""
        return self._prefix

    @property
    def counter(self) -> int:
        """The counter of the next cloid (the start plus the cloids made so far)."""
        return self._counter

    def next(self) -> Cloid:
        """Return the next cloid of this run.

        Raises:
            OverflowError: All 2**64 cloids of this run were made.
        """
        n = self._counter
        if n >= 2**64:
            raise OverflowError(f"cloid counter exhausted for run {self.run_id}")
        self._counter = n + 1
        # Already canonical: skip re-validation on the hot path.
        return str.__new__(Cloid, "%s%016x" % (self._prefix, n))  # noqa: UP031 (faster here)

    def owns(self, cloid: Cloid | None) -> bool:
        """Return whether ``cloid`` carries this factory's namespace (any run)."""
        return cloid is not None and cloid[2:10] == self._prefix[2:10]
