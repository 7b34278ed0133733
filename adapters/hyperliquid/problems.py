"""What the codec could not read: problems, reported alongside the events.

A Hyperliquid message the codec cannot use (a payload that does not decode, a
status word the protocol reference does not list, an answer of the wrong
shape) never raises inside the tracker. The codec turns it into a
:class:`Problem`, keeps what it could read, and hands the problems to its
caller, which records each one as an anomaly of the engine. A problem names
the field or the word at fault (msgspec's path, e.g.
``$.response.data.statuses[1].filled.totalSz``) and, when it knows it, the
order it concerns.

Text taken from the exchange is made ASCII here (:func:`ascii_text`), because
the core's events accept ASCII words only: a message with a non-ASCII
character must not raise where the event is built.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = ["MAX_TEXT", "Problem", "ProblemKind", "ascii_text", "order_label"]

#: The longest exchange text kept in an event or a problem (characters).
MAX_TEXT = 500


class ProblemKind(enum.Enum):
    """What kind of message the codec could not use."""

    #: The payload, or one item of it, does not decode into its wire shape.
    MALFORMED = "malformed"
    #: A status word the protocol reference does not list.
    UNKNOWN_STATUS = "unknown_status"
    #: A payload that decodes but does not answer the request (a count that
    #: differs from the batch, a status kind the request cannot produce).
    UNEXPECTED = "unexpected"
    #: An immediate-fill credit was forgotten before later fills used it up
    #: (its memory ran out): a repeat of one of its fills could count again.
    CREDIT_FORGOTTEN = "credit_forgotten"


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """One message, or one part of it, that the codec could not use.

    Attributes:
        kind: What went wrong.
        detail: What and where, in ASCII (the field path, the word, the count).
        order_id: The order it concerns (its cloid, or ``oid:N``), if known.
    """

    kind: ProblemKind
    detail: str
    order_id: str | None = None


def ascii_text(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` as ASCII (other characters escaped), at most ``limit`` characters."""
    if not text.isascii():
        text = text.encode("ascii", "backslashreplace").decode("ascii")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def order_label(cloid: str | None, oid: int | None) -> str | None:
    """How a problem names an order: its cloid, else ``oid:N``, else None."""
    if cloid is not None:
        return cloid
    if oid is not None:
        return f"oid:{oid}"
    return None
