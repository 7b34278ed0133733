"""One order: identity, terms, fills, state and a bounded history.

An :class:`Order` is plain data. Its ``state`` is written only by
:meth:`lifecycle.core.machine.OrderMachine.fire` (an order is built in its first
state, or, by :meth:`Order.restored`, in the state a checkpoint captured);
everything else here records facts (fills by identity, the oids the exchange
gave it) without deciding legality.

A fill's identity (:data:`FillId`) is what the adapter says tells it apart:
its trade id and oid, and a discriminator (``fill_ref``) for venues whose
trade ids are not unique (Hyperliquid's dust conversions all carry trade id
0). Within one order the oid adds nothing (the order's fills are its own
oids' fills, and one trade fills one side once), so an order keeps its fills
by :data:`OrderFillKey`: the trade id, or ``(tid, ref)`` for a fill with a ``ref``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.records import Record, check_id, check_positive, check_text, check_time
from lifecycle.core.states import GoneReason, OrderState, Trigger

__all__ = ["Fill", "FillId", "Order", "OrderFillKey", "Side", "TransitionRecord"]

#: A fill's identity: ``(tid, oid, fill_ref)``. Two fills are the same fill (a
#: repeat: a websocket duplicate, a fetched fill already received) exactly when
#: their identities are equal. ``fill_ref`` is ``""`` unless the adapter needs
#: it (see :class:`lifecycle.core.events.OrderFilled`).
FillId = tuple[Tid, Oid | None, str]

#: How an order keys its own fills: the trade id, or ``(tid, ref)`` for a fill
#: with a ``fill_ref`` (see the module docstring).
OrderFillKey = Tid | tuple[Tid, str]

_ZERO = Decimal(0)
_INF = float("inf")
_new = object.__new__


def _check_terms(price: Decimal, size: Decimal) -> None:
    """Refuse a price or size that is not a finite number > 0."""
    if not (size.is_finite() and size > 0):
        raise ValueError(f"order size must be a finite number > 0, got {size}")
    if not (price.is_finite() and price > 0):
        raise ValueError(f"order price must be a finite number > 0, got {price}")


class Side(enum.Enum):
    """Order side. ``sign`` is +1 for buys and -1 for sells."""

    BUY = "buy"
    SELL = "sell"

    # Identity hash, as OrderState's: the default is a Python-level hash of the
    # name, paid on every dict lookup keyed by side.
    __hash__ = object.__hash__

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the direction a fill moves the position."""
        return 1 if self is Side.BUY else -1


class Fill(Record, frozen=True, kw_only=True):
    """One execution against an order, keyed by its trade id and ``ref``.

    ``ref`` is the event's ``fill_ref``: empty unless the venue's trade ids
    are not unique. Checked when built, as events are (see
    :mod:`lifecycle.core.records`): ``tid`` an ``int`` >= 0, ``price`` and
    ``size`` finite ``Decimal`` > 0, ``at`` a finite time, ``ref`` text.
    """

    tid: Tid
    price: Decimal
    size: Decimal
    at: float
    ref: str = ""

    def __post_init__(self) -> None:
        tid = self.tid
        if tid.__class__ is not int or tid < 0:
            check_id(self, "tid", tid)
        price = self.price
        if price.__class__ is not Decimal or not price.is_finite() or price <= _ZERO:
            check_positive(self, "price", price)
        size = self.size
        if size.__class__ is not Decimal or not size.is_finite() or size <= _ZERO:
            check_positive(self, "size", size)
        at = self.at
        if at.__class__ is not float or not -_INF < at < _INF:
            check_time(self, "at", at)
        ref = self.ref
        if ref.__class__ is not str or not ref.isascii():
            check_text(self, "ref", ref)

    @property
    def order_key(self) -> OrderFillKey:
        """How an order keys this fill: the trade id, or ``(tid, ref)`` with a ``ref``."""
        return (self.tid, self.ref) if self.ref else self.tid


class TransitionRecord(NamedTuple):
    """One fired transition of an order's history."""

    at: float
    source: OrderState
    trigger: Trigger
    dest: OrderState


class Order:
    """An order tracked by the engine.

    Attributes:
        cloid: Our client order id; None for exchange orders without one.
        oid: The exchange order id currently naming the order, once known.
        prior_oids: Oids a modify replaced; they still resolve to this order.
        side: Buy or sell.
        price: Limit price (the current one, after modifies).
        size: Total size: the original one, or after a modify the size filled before it
            plus the size the modify asked for (a modify replaces what rests).
        requested: ``(price, size)`` of the modify in flight, until it takes effect or fails.
        filled: Sum of the sizes of distinct fills.
        state: Current state; written only by the machine.
        reason: Why the order is GONE; None before.
        status: The exchange's own status word when it ended (``marginCanceled``...).
        created_at: When the order was created or discovered.
        state_since: When it entered its current state (reflexive moves keep it).
    """

    __slots__ = (  # noqa: RUF023 - in memory order: the fields of every event first
        "state",
        "_fills",
        "_history",
        "filled",
        "size",
        "prior_oids",
        "oid",
        "_entries",
        "cloid",
        "state_since",
        "_history_origin",
        "created_at",
        "price",
        "reason",
        "requested",
        "side",
        "status",
    )

    def __init__(
        self,
        *,
        cloid: Cloid | None,
        side: Side,
        price: Decimal,
        size: Decimal,
        now: float,
        oid: Oid | None = None,
        state: OrderState = OrderState.PENDING,
    ) -> None:
        _check_terms(price, size)
        if cloid is None and oid is None:
            raise ValueError("an order needs a cloid or an oid")
        if state is not OrderState.PENDING and state is not OrderState.ORPHAN_CANDIDATE:
            raise ValueError(f"orders start in pending or orphan_candidate, not {state.value}")
        # Every slot is set below; _placed sets them too (a test compares the two).
        self.cloid = cloid
        self.oid = oid
        self.prior_oids: tuple[Oid, ...] = ()
        self.side = side
        self.price = price
        self.size = size
        self.filled = _ZERO
        self.state: OrderState = state
        self.reason: GoneReason | None = None
        self.requested: tuple[Decimal, Decimal] | None = None
        self.status: str | None = None
        self.created_at = now
        self.state_since = now
        # Counts state entries (reflexive moves excluded), so a timer armed for
        # one stay in a state is told apart from a later stay at the same time.
        self._entries = 0
        # None, then the first fill itself, then a dict of fills by order key
        # (Fill.order_key) from the second on: most orders fill at most once,
        # and a lone fill costs no dict (memory, and one garbage-collected
        # object fewer per fill).
        self._fills: dict[OrderFillKey, Fill] | Fill | None = None
        # Flat [at, step, at, step, ...], each step a (trigger, dest) pair the
        # machine shares between all orders: far less memory than one tuple per
        # record. The source of each record is the previous dest, or
        # _history_origin for the first one kept.
        self._history: list[object] = []
        self._history_origin: OrderState = state

    @classmethod
    def _placed(cls, cloid: Cloid, side: Side, price: Decimal, size: Decimal, now: float) -> Order:
        """Build a PENDING order with a cloid and no oid, as ``Order(...)`` would.

        The engine's fast path for :meth:`lifecycle.engine.facade.Engine.place`: it
        skips the keyword call and the checks that cannot fail there, but
        checks ``price`` and ``size`` as ``__init__`` does. Every slot is set
        here as in ``__init__`` (a test compares the two slot by slot).
        """
        _check_terms(price, size)
        pending = OrderState.PENDING
        self = _new(cls)
        self.cloid = cloid
        self.oid = None
        self.prior_oids = ()
        self.side = side
        self.price = price
        self.size = size
        self.filled = _ZERO
        self.state = pending
        self.reason = None
        self.requested = None
        self.status = None
        self.created_at = now
        self.state_since = now
        self._entries = 0
        self._fills = None
        self._history = []
        self._history_origin = pending
        return self

    @classmethod
    def restored(
        cls,
        *,
        cloid: Cloid | None,
        oid: Oid | None,
        prior_oids: tuple[Oid, ...],
        side: Side,
        price: Decimal,
        size: Decimal,
        filled: Decimal,
        state: OrderState,
        reason: GoneReason | None,
        requested: tuple[Decimal, Decimal] | None,
        status: str | None,
        created_at: float,
        state_since: float,
        entries: int,
        fills: Iterable[Fill],
        history_origin: OrderState,
        history: Iterable[tuple[float, Trigger, OrderState]],
    ) -> Order:
        """Build an order as an engine checkpoint captured it, every slot as it was.

        The counterpart of reading an order's public fields, :attr:`entries`,
        :attr:`fills` and :attr:`history`: ``fills`` in arrival order,
        ``history`` as ``(at, trigger, dest)`` per kept transition, oldest
        first, and ``history_origin`` the state the kept history starts from
        (the first record's source; with no record, the order's state). No
        transition fires and nothing is checked: the order is rebuilt, not
        moved, from values an order once held (:mod:`lifecycle.engine.state`).
        """
        self = _new(cls)
        self.cloid = cloid
        self.oid = oid
        self.prior_oids = prior_oids
        self.side = side
        self.price = price
        self.size = size
        self.filled = filled
        self.state = state
        self.reason = reason
        self.requested = requested
        self.status = status
        self.created_at = created_at
        self.state_since = state_since
        self._entries = entries
        kept = list(fills)
        # The shape add_fill keeps: None, the lone fill, or a dict by order key.
        self._fills = (
            None if not kept else kept[0] if len(kept) == 1 else {f.order_key: f for f in kept}
        )
        steps: list[object] = []
        for at, trigger, dest in history:
            steps += (at, (trigger, dest))
        self._history = steps
        self._history_origin = history_origin
        return self

    @property
    def entries(self) -> int:
        """How many times the order entered a state (reflexive moves excluded).

        A timer armed in one stay records it: the timer is stale once the count moved on.
        """
        return self._entries

    @property
    def label(self) -> str:
        """How errors and logs name the order: its cloid, else ``oid:<n>``."""
        return self.cloid if self.cloid is not None else f"oid:{self.oid}"

    @property
    def remaining(self) -> Decimal:
        """Size not filled yet (never negative, even after an overfill)."""
        rest = self.size - self.filled
        return rest if rest > 0 else _ZERO

    @property
    def fills(self) -> Mapping[OrderFillKey, Fill]:
        """Fills by trade id (``(tid, ref)`` with a ``ref``), in arrival order (read-only)."""
        fills = self._fills
        if fills is None:
            return MappingProxyType({})
        if isinstance(fills, dict):
            return MappingProxyType(fills)
        return MappingProxyType({fills.order_key: fills})

    @property
    def history(self) -> tuple[TransitionRecord, ...]:
        """The most recent transitions, oldest first (bounded by the machine)."""
        h = self._history
        records = []
        source = self._history_origin
        for i in range(0, len(h), 2):
            at, step = h[i], h[i + 1]
            assert isinstance(at, float | int)
            assert isinstance(step, tuple)
            trigger, dest = step
            assert isinstance(trigger, Trigger)
            assert isinstance(dest, OrderState)
            records.append(TransitionRecord(float(at), source, trigger, dest))
            source = dest
        return tuple(records)

    def has_fill(self, tid: Tid, ref: str = "") -> bool:
        """Return whether the fill with trade id ``tid`` (and ``fill_ref`` ``ref``) is recorded."""
        fills = self._fills
        if fills is None:
            return False
        if isinstance(fills, dict):
            return ((tid, ref) if ref else tid) in fills
        return fills.tid == tid and fills.ref == ref

    def add_fill(self, fill: Fill) -> bool:
        """Record ``fill`` unless a fill of the same trade id and ref is recorded.

        Cannot fail for a ``Fill`` (checked when it was built): the engine
        relies on it to record a fill right after the ledger counted it.

        Returns:
            True if the fill is new (``filled`` grew), False for a repeat.
        """
        fills = self._fills
        if fills is None:
            self._fills = fill
        elif isinstance(fills, dict):
            key = (fill.tid, fill.ref) if fill.ref else fill.tid  # fill.order_key, inlined
            if key in fills:
                return False
            fills[key] = fill
        elif fills.tid == fill.tid and fills.ref == fill.ref:
            return False
        else:
            self._fills = {fills.order_key: fills, fill.order_key: fill}
        self.filled += fill.size
        return True

    def knows_oid(self, oid: Oid) -> bool:
        """Return whether ``oid`` names this order now or named it before a modify."""
        return oid == self.oid or oid in self.prior_oids

    def __repr__(self) -> str:
        return (
            f"Order({self.label}, {self.side.value} {self.size}@{self.price}, "
            f"{self.state.value}, filled={self.filled})"
        )
