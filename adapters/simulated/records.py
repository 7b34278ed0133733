"""The exchange's records of the account: who placed an order, its trades, its cancels.

Frozen values: :class:`~lifecycle.adapters.simulated.book.Book` writes them as
orders trade, end and are cancelled, and
:class:`~lifecycle.adapters.simulated.truth.Truth` hands them to whoever checks
a client's view. Both import them from here, so neither imports the other for
its types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side

__all__ = ["CancelReceived", "Owner", "TruthFill", "TruthOrder"]


class Owner(enum.Enum):
    """Who placed an order."""

    #: The client of this run (placed through :meth:`SimulatedExchange.submit`).
    CLIENT = "client"
    #: An earlier run of the same bot (its cloid namespace, another run id).
    PREVIOUS_RUN = "previous_run"
    #: Someone else trading the same account (another cloid namespace, or none).
    FOREIGN = "foreign"


@dataclass(frozen=True, kw_only=True, slots=True)
class TruthFill:
    """One trade of the account: the resting side of a taker's sweep, or an immediate fill."""

    tid: Tid
    oid: Oid
    cloid: Cloid | None
    owner: Owner
    side: Side
    price: Decimal
    size: Decimal
    at: float


@dataclass(frozen=True, kw_only=True, slots=True)
class CancelReceived:
    """A cancel request as the exchange processed it.

    ``oid``/``cloid`` are what the request named; ``target`` is the order it
    resolved to (None if none); ``was_resting`` says whether that order still
    rested, i.e. whether the cancel took effect.
    """

    at: float
    oid: Oid | None
    cloid: Cloid | None
    target: Oid | None
    target_owner: Owner | None
    was_resting: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class TruthOrder:
    """Everything the exchange knows about one order, at the time of the call.

    ``status`` is the exchange's word (``open``, ``filled``, ``canceled``,
    ``marginCanceled``, ``tickRejected``...). A modify ends the old order with
    ``canceled`` and ``replaced_by`` its successor, which has ``replaces``.
    ``visible_at`` is when the order starts to appear in open-orders snapshots.
    """

    oid: Oid
    cloid: Cloid | None
    owner: Owner
    side: Side
    price: Decimal
    size: Decimal
    filled: Decimal
    remaining: Decimal
    post_only: bool
    placed_at: float
    visible_at: float
    status: str
    ended_at: float | None
    fills: tuple[TruthFill, ...]
    replaces: Oid | None
    replaced_by: Oid | None

    @property
    def resting(self) -> bool:
        """True while the order is on the book."""
        return self.status == "open"
