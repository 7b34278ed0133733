"""The position, moved once per fill identity, and the memory of fills applied.

Theory of operation
-------------------
Every fill changes the position exactly once, whether its order is known, in
flight, tombstoned or unknown. A fill is told apart by its identity
(:data:`~lifecycle.core.order.FillId`: trade id, oid and the adapter's
``fill_ref``), and :meth:`FillLedger.apply` checks the fill, then moves the
position and remembers the identity in one step: nothing that can fail
comes between the two, so an identity is never remembered for a fill that
did not move the position (a failed fill cannot burn its identity and make
the genuine resend a "duplicate").

The memory is by time: an identity is remembered for ``memory_s``
(``orders.fill_memory_s``) of engine time after it was applied, so any
re-delivery within that time is caught however many fills came in between.
A fill history fetched from ``start`` only repeats fills applied at or after
``start`` (a fill is applied after it happened), so a fetch that starts no
earlier than :meth:`FillLedger.remembered_from` repeats only remembered
fills; a restart's catch-up is clamped to it
(:func:`lifecycle.runtime.fills.catch_up_start`).

The count ``capacity`` (``orders.fill_dedup_capacity``) bounds the memory as
a backstop. Reaching it forgets the oldest identity while it is still
younger than ``memory_s``: that is an anomaly (``fill_memory_full``, handed
to ``report``, which the engine sets to its anomaly log's ``record``), and
:meth:`FillLedger.remembered_from` moves past the forgotten fill so no
catch-up asks for it again.

Orders also keep their own fills (:meth:`lifecycle.core.order.Order.add_fill`),
which catches repeats older than the memory for orders still held.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import NoReturn

import msgspec

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Oid, Tid
from lifecycle.core.order import FillId, Side

__all__ = ["DEFAULT_FILL_MEMORY_S", "FillLedger", "LedgerState"]

_BUY = Side.BUY  # bound once: an enum member lookup is a Python-level attribute access
_SELL = Side.SELL
_ZERO = Decimal(0)
_INF = math.inf

#: The default of ``orders.fill_memory_s``: one day. A restart's catch-up
#: fetches the fills since the journal began, but never further back than the
#: ledger remembers; a day covers an overnight outage, and at a fill a second
#: it holds 86,400 identities, within the default ``fill_dedup_capacity``.
DEFAULT_FILL_MEMORY_S = 86_400.0


class LedgerState(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything a :class:`FillLedger` holds, for checkpoints
    (:meth:`FillLedger.checkpoint`, :meth:`FillLedger.restore`)."""

    position: Decimal
    fills: int
    duplicates: int
    overflows: int
    #: The applied time of the newest identity the capacity made the ledger forget.
    forgotten_until: float | None
    #: ``(tid, oid, fill_ref, applied at)`` of every identity remembered, oldest first.
    remembered: tuple[tuple[int, int | None, str, float], ...]


class FillLedger:
    """Signed position and the identities of the fills applied recently.

    Args:
        capacity: The most identities remembered at once (a backstop).
        memory_s: How long an identity is remembered after it was applied.

    Attributes:
        position: Signed position (buys positive).
        fills: Fills applied.
        duplicates: Repeats caught (here or by an order's own fills).
        overflows: Identities forgotten younger than ``memory_s`` because of
            ``capacity``.
        report: Where each of those is reported as an anomaly
            (:meth:`lifecycle.core.anomalies.AnomalyLog.record`); None: nowhere.
    """

    __slots__ = (
        "_ids",
        "_seen",
        "_times",
        "capacity",
        "duplicates",
        "fills",
        "forgotten_until",
        "memory_s",
        "overflows",
        "position",
        "report",
    )

    def __init__(self, capacity: int = 100_000, memory_s: float = DEFAULT_FILL_MEMORY_S) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if not 0 < memory_s < _INF:
            raise ValueError(f"memory_s must be a finite number > 0, got {memory_s}")
        self.capacity = capacity
        self.memory_s = float(memory_s)
        self.position = _ZERO
        self.fills = 0
        self.duplicates = 0
        self.overflows = 0
        #: Fills applied at or before this may have been forgotten early (None: none was).
        self.forgotten_until: float | None = None
        self.report: Callable[[AnomalyKind, float, str | None, str], object] | None = None
        self._seen: set[FillId] = set()
        # Two parallel FIFOs, in the order applied (engine time never goes back,
        # so also by time): no tuple per fill.
        self._ids: deque[FillId] = deque()
        self._times: deque[float] = deque()

    def __len__(self) -> int:
        """How many identities are held (those past the memory are dropped lazily)."""
        return len(self._ids)

    def remembers(self, identity: FillId, now: float) -> bool:
        """Return whether ``identity`` was applied and is still remembered at ``now``."""
        times = self._times
        if times and times[0] < now - self.memory_s:
            self._expire(now)
        return identity in self._seen

    def remembered_from(self, now: float) -> float:
        """The earliest time from which every fill applied is still remembered at ``now``.

        ``now - memory_s``, or just after the newest fill the capacity made
        the ledger forget if that is later. A fill history fetched from this
        time on repeats only fills the ledger will recognise (until it forgets
        more: leave a margin for the fetch's round trip).
        """
        start = now - self.memory_s
        forgotten = self.forgotten_until
        if forgotten is not None and forgotten >= start:
            start = math.nextafter(forgotten, _INF)
        return start

    def apply(self, identity: FillId, side: Side, size: Decimal, now: float) -> bool:
        """Move the position by a fill and remember its identity, unless remembered already.

        Everything is checked first; then the position moves and the
        identity is remembered together (nothing between them can fail).

        Returns:
            True if the position moved, False for a repeat (counted in ``duplicates``).

        Raises:
            TypeError, ValueError: A malformed identity, side, size or time
                (nothing is changed).
        """
        tid, oid, ref = identity
        if tid.__class__ is not int or tid < 0:
            _refuse("tid", tid, int, "an int >= 0")
        if oid is not None and (oid.__class__ is not int or oid < 0):
            _refuse("oid", oid, int, "None or an int >= 0")
        if ref.__class__ is not str:
            _refuse("fill_ref", ref, str, "a str")
        if size.__class__ is not Decimal or not size.is_finite() or size <= _ZERO:
            _refuse("size", size, Decimal, "a finite Decimal > 0")
        if side is not _BUY and side is not _SELL:
            _refuse("side", side, Side, "a Side member")
        if now.__class__ is not float or not -_INF < now < _INF:
            _check_time(now)
        return self._commit(identity, side is _BUY, size, now)

    def apply_event(self, event: OrderFilled, now: float) -> bool:
        """:meth:`apply` for a fill event, whose identity, side and size were
        checked when it was built (:class:`~lifecycle.core.events.OrderFilled`).

        Raises:
            TypeError, ValueError: ``now`` is not a finite time (nothing is changed).
        """
        if now.__class__ is not float or not -_INF < now < _INF:
            _check_time(now)
        # _commit, inlined: this is the path of every fill the engine handles.
        times = self._times
        if times and times[0] < now - self.memory_s:
            self._expire(now)
        identity = (event.tid, event.oid, event.fill_ref)
        seen = self._seen
        if identity in seen:
            self.duplicates += 1
            return False
        size = event.size
        position = self.position + size if event.side is _BUY else self.position - size
        if len(times) >= self.capacity:
            self._overflow(now)
        seen.add(identity)
        self._ids.append(identity)
        times.append(now)
        self.position = position
        self.fills += 1
        return True

    def _commit(self, identity: FillId, buy: bool, size: Decimal, now: float) -> bool:
        """Apply a checked fill: expire, refuse a repeat, then move and remember together."""
        times = self._times
        if times and times[0] < now - self.memory_s:
            self._expire(now)
        seen = self._seen
        if identity in seen:
            self.duplicates += 1
            return False
        position = self.position + size if buy else self.position - size
        if len(times) >= self.capacity:
            self._overflow(now)
        # The commit: plain stores of values computed above.
        seen.add(identity)
        self._ids.append(identity)
        times.append(now)
        self.position = position
        self.fills += 1
        return True

    def count_duplicate(self) -> None:
        """Count a repeat caught elsewhere (an order's own fills, older than the memory)."""
        self.duplicates += 1

    def _expire(self, now: float) -> None:
        """Forget the identities applied more than ``memory_s`` before ``now``."""
        horizon = now - self.memory_s
        times, ids, seen = self._times, self._ids, self._seen
        while times and times[0] < horizon:
            times.popleft()
            seen.discard(ids.popleft())

    def _overflow(self, now: float) -> None:
        """Forget the oldest identities, still young, until there is room for one more."""
        ids = self._ids
        while len(ids) >= self.capacity:
            self._forget_oldest(now)

    def _forget_oldest(self, now: float) -> None:
        """Forget the oldest identity before its time (the capacity is reached): an anomaly."""
        identity = self._ids.popleft()
        applied_at = self._times.popleft()
        self._seen.discard(identity)
        self.overflows += 1
        self.forgotten_until = applied_at
        if self.report is not None:
            tid, oid, ref = identity
            self.report(
                AnomalyKind.FILL_MEMORY_FULL, now, None if oid is None else f"oid:{oid}",
                f"fill {tid}{f' ({ref})' if ref else ''} forgotten {now - applied_at:.3f} s "
                f"after it was applied: orders.fill_dedup_capacity ({self.capacity}) reached "
                f"within orders.fill_memory_s ({self.memory_s:g} s)",
            )

    # --- checkpoints ------------------------------------------------------------------

    def checkpoint(self) -> LedgerState:
        """Everything the ledger holds, as plain data (see :meth:`restore`)."""
        return LedgerState(
            position=self.position,
            fills=self.fills,
            duplicates=self.duplicates,
            overflows=self.overflows,
            forgotten_until=self.forgotten_until,
            remembered=tuple(
                (int(tid), None if oid is None else int(oid), ref, at)
                for (tid, oid, ref), at in zip(self._ids, self._times, strict=True)
            ),
        )

    def restore(self, state: LedgerState) -> None:
        """Make this ledger hold ``state`` (a :meth:`checkpoint`); capacity, memory and
        ``report`` stay this ledger's own.

        Raises:
            ValueError: The ledger has applied fills already.
        """
        if self.fills or self._ids:
            raise ValueError("restore needs a fresh ledger")
        self.position = state.position
        self.fills = state.fills
        self.duplicates = state.duplicates
        self.overflows = state.overflows
        self.forgotten_until = state.forgotten_until
        for tid, oid, ref, at in state.remembered:
            identity: FillId = (Tid(tid), None if oid is None else Oid(oid), ref)
            self._seen.add(identity)
            self._ids.append(identity)
            self._times.append(at)


def _check_time(now: object) -> None:
    """Accept a finite ``float`` or ``int`` (not ``bool``) as :meth:`FillLedger.apply`'s
    time, or raise as :func:`_refuse` does."""
    if not isinstance(now, float | int) or isinstance(now, bool):
        _refuse("now", now, float, "a finite time")
    if not -_INF < now < _INF:
        _refuse("now", now, float, "a finite time")


def _refuse(name: str, value: object, kind: type, expected: str) -> NoReturn:
    """Raise for a bad argument of :meth:`FillLedger.apply`: ``TypeError`` when
    ``value`` is not a ``kind`` (``bool`` is no number), ``ValueError`` otherwise."""
    wrong_type = not isinstance(value, kind) or (kind is not bool and isinstance(value, bool))
    error = TypeError if wrong_type else ValueError
    raise error(f"FillLedger.apply: {name} must be {expected}, got {value!r}")
