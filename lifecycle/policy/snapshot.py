"""What the safety sync reads and reports: open-orders snapshots and sync reports.

An adapter lists the account's open orders as an :class:`OpenOrdersSnapshot` of
:class:`OpenOrder` rows; :class:`~lifecycle.policy.safety_sync.SafetySync`
applies it to the engine and answers with a :class:`SyncReport`, counted as it
goes in a :class:`Tally`. Rows and reports are frozen, keyword-only
``msgspec.Struct`` values, untracked by the garbage collector (their fields are
numbers, strings, decimals, ids and enum members); the snapshot is a frozen,
keyword-only dataclass holding a tuple of rows.

A row is taken as the exchange listed it: building one checks nothing, so an
adapter never loses a whole snapshot to one unreadable row. The sync reads
each row with :func:`row_problem` where it enters the engine: a row it cannot
read (a field of the wrong type, a price or size that is not a finite number
above zero) is dropped and recorded as an anomaly, and the rest of the
snapshot applies. A cloid is resolved in any accepted form; text that is no
cloid is read as no cloid (:func:`row_cloid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import msgspec

from lifecycle.core.errors import InvalidCloid
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side

__all__ = [
    "OpenOrder",
    "OpenOrdersSnapshot",
    "SyncReport",
    "Tally",
    "row_cloid",
    "row_problem",
]

_ZERO = Decimal(0)


class OpenOrder(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One row of an open-orders snapshot (``openOrders`` / ``frontendOpenOrders``).

    ``coin`` is the exchange's name for the row (prefixed on a builder dex),
    ``size`` the remaining size and ``cloid`` None when the order has none.
    """

    coin: str
    oid: Oid
    cloid: Cloid | None = None
    side: Side
    price: Decimal
    size: Decimal


# A frozen dataclass rather than a struct: assigning to a snapshot raises
# dataclasses.FrozenInstanceError, which callers rely on (a struct raises its
# base class, AttributeError). msgspec encodes and decodes it all the same.
@dataclass(frozen=True, kw_only=True, slots=True)
class OpenOrdersSnapshot:
    """The account's open orders as the exchange listed them.

    ``taken_at`` is on the driver's clock (the ``now`` given to the engine): the
    time the request was sent, or a streamed snapshot's receive time.
    """

    taken_at: float
    orders: tuple[OpenOrder, ...]


class SyncReport(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The numbers of one sync.

    Every report, stale or not, completes a sync for scheduling: the next one
    is due at ``next_sync_at``. When ``stale`` or ``out_of_order`` is set the
    snapshot was ignored and every count is zero.
    """

    #: When the sync ran (the ``now`` given to
    #: :meth:`SafetySync.apply <lifecycle.policy.safety_sync.SafetySync.apply>`).
    at: float
    #: When the snapshot was taken.
    taken_at: float
    #: When the next scheduled sync is due.
    next_sync_at: float
    #: Older than ``sync.snapshot_max_age_s``: ignored.
    stale: bool = False
    #: Taken before the last snapshot applied: ignored.
    out_of_order: bool = False
    #: How far after ``at`` the snapshot said it was taken (0 normally). A snapshot
    #: cannot be taken after it is applied: it was applied as taken at ``at``.
    ahead_s: float = 0.0
    #: Rows that could not be read (see :func:`row_problem`): dropped, each an anomaly.
    malformed: int = 0
    #: Exchange orders for our coin.
    exchange_orders: int = 0
    #: Exchange orders for other coins (ignored).
    other_coin_orders: int = 0
    #: Orders listed, none for our coin: the alarm was raised.
    asset_mismatch: bool = False
    #: Our orders that occupy a ladder level, after the sync.
    working_orders: int = 0
    #: Orders of ours acknowledged from the snapshot (placement response pending).
    acks: int = 0
    #: Unknown rows that became orphan candidates in this sync.
    new_candidates: int = 0
    #: Orphan candidates in grace after the sync.
    candidates: int = 0
    #: Aged orphans still listed, each handled by the orphan policy.
    aged: int = 0
    #: Aged orphans cancelled.
    cancelled: int = 0
    #: Aged orphans adopted (TRACKED).
    adopted: int = 0
    #: Rows naming an order of this run (our namespace and run id) that the
    #: engine no longer knew: adopted at once (TRACKED), never orphans.
    own_adopted: int = 0
    #: Aged orphans left alone (``ignore`` policy, foreign orders).
    ignored: int = 0
    #: Orphans absent from the snapshot, dropped without a cancel.
    vanished: int = 0
    #: Cloid-less rows that may be an EXPECTED order of ours, left for a later sync.
    deferred: int = 0
    #: Orders of ours (TRACKED, MODIFYING) absent from this snapshot.
    missing: int = 0
    #: Status queries sent for orders missing long enough.
    queries: int = 0

    @property
    def applied(self) -> bool:
        """Whether the snapshot was used (neither stale nor out of order)."""
        return not (self.stale or self.out_of_order)


class Tally:
    """Mutable counts of one sync, turned into a :class:`SyncReport` at the end."""

    __slots__ = (
        "acks",
        "adopted",
        "aged",
        "cancelled",
        "deferred",
        "ignored",
        "malformed",
        "missing",
        "new_candidates",
        "own_adopted",
        "queries",
        "vanished",
    )

    def __init__(self) -> None:
        self.acks = self.adopted = self.aged = self.cancelled = self.deferred = 0
        self.ignored = self.missing = self.new_candidates = self.queries = self.vanished = 0
        self.malformed = self.own_adopted = 0

    def report(
        self,
        *,
        at: float,
        taken_at: float,
        next_sync_at: float,
        exchange_orders: int,
        other_coin_orders: int,
        asset_mismatch: bool,
        working_orders: int,
        candidates: int,
        ahead_s: float,
    ) -> SyncReport:
        """The report of the sync these counts belong to (an applied snapshot)."""
        return SyncReport(
            at=at,
            taken_at=taken_at,
            next_sync_at=next_sync_at,
            ahead_s=ahead_s,
            malformed=self.malformed,
            own_adopted=self.own_adopted,
            exchange_orders=exchange_orders,
            other_coin_orders=other_coin_orders,
            asset_mismatch=asset_mismatch,
            working_orders=working_orders,
            acks=self.acks,
            new_candidates=self.new_candidates,
            candidates=candidates,
            aged=self.aged,
            cancelled=self.cancelled,
            adopted=self.adopted,
            ignored=self.ignored,
            vanished=self.vanished,
            deferred=self.deferred,
            missing=self.missing,
            queries=self.queries,
        )


def row_cloid(value: Cloid | str | None) -> Cloid | None:
    """A row's cloid in canonical form; None without one, or for text that is no cloid.

    Rows should carry canonical cloids already; an adapter passing the wire
    text still matches. Text that is no cloid at all cannot be one of ours.
    """
    if value is None or type(value) is Cloid:
        return value
    try:
        return Cloid(value)
    except InvalidCloid:
        return None


def row_problem(row: object) -> str | None:
    """What makes ``row`` unreadable as an open-orders row, or None when it is fine.

    A row must be an :class:`OpenOrder` whose ``coin`` is text, ``oid`` an
    integer >= 0, ``side`` a :class:`~lifecycle.core.order.Side`, and
    ``price`` and ``size`` finite ``Decimal`` values above zero (an open order
    rests some size at some price). The cloid is not checked: text that is no
    cloid is read as none (:func:`row_cloid`).
    """
    # The common case at once: exact types, in range (a sync reads every row);
    # the slow path below names the problem, or accepts a rarer valid form.
    if type(row) is OpenOrder:
        oid, price, size = row.oid, row.price, row.size
        if (
            type(oid) is int
            and oid >= 0
            and type(price) is Decimal
            and type(size) is Decimal
            and type(row.side) is Side
            and type(row.coin) is str
            and price.is_finite()
            and size.is_finite()
            and price > _ZERO
            and size > _ZERO
        ):
            return None
    return _problem(row)


def _problem(row: object) -> str | None:
    """:func:`row_problem` field by field, on fields read as the objects they may be."""
    if not isinstance(row, OpenOrder):
        return f"not an open-orders row: {type(row).__name__}"
    fields: dict[str, object] = msgspec.structs.asdict(row)
    coin, oid, side = fields["coin"], fields["oid"], fields["side"]
    if not isinstance(coin, str):
        return f"coin is not text: {coin!r}"
    if isinstance(oid, bool) or not isinstance(oid, int) or oid < 0:
        return f"oid is not an integer >= 0: {oid!r}"
    if not isinstance(side, Side):
        return f"side is not a Side: {side!r}"
    for name in ("price", "size"):
        value = fields[name]
        if not (isinstance(value, Decimal) and value.is_finite() and value > _ZERO):
            return f"{name} is not a finite Decimal > 0: {value!r}"
    return None
