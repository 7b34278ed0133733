"""The immediate-fill credit: an order's ``filled`` answer counted once with its own fills.

Theory of operation
-------------------
An order that trades when it is placed (or when a modify replaces it) gets a
``filled`` status in the action's answer: ``totalSz``, ``avgPx`` and the oid,
but no trade id. The same trades later arrive as fills with trade ids, on the
websocket and in the fill history, or arrive first, before the answer. The
position must move by the answer at once (the seed system's B1: a bot that
waits for the websocket quotes against a stale position), and never twice
(B2), and an order that filled only in part at placement goes on resting and
filling (B3), its later fills counted beyond the immediate amount (B4).

:class:`FillCredits` keeps, per oid, the immediate amount ``S`` (0 until an
answer says ``filled``) and ``R``, the total size of the distinct fills with
trade ids seen for the oid. What has been counted for the oid is always
``max(S, R)``; each input hands on exactly the increase it causes:

* the answer's ``filled`` (:meth:`FillCredits.immediate`) hands on
  ``max(S, R) - R``, as one fill with a synthetic identity that is the same
  however often the answer is read: trade id 0 and ``fill_ref``
  ``immediate/<oid>`` (the core requires a ``fill_ref`` on every trade id 0);
  a second answer for the same oid hands on nothing;
* a fill with a trade id (:meth:`FillCredits.fill`) hands on the part of its
  size that takes ``max(S, R)`` higher: all of it when there is no credit or
  the credit is used up, none of it while the credit covers it, the rest
  when it straddles the credit's end. A fill seen before (the ``userEvents``
  copy of a ``userFills`` fill, a fetched fill) hands on nothing.

So whichever order the answer and the fills arrive in, with repeats, the oid
counts ``max(S, sum of its distinct fills)``: the true total, because the
immediate trades are fills of the oid too. The fills handed on keep their
identities, so the engine's own de-duplication still recognises them.

Memory. An oid with a credit is remembered ``memory_s`` after its last fill
(a day, as the engine's fill ledger remembers fills): a repeat of a fill the
credit absorbed must still be recognised, since the engine never saw it. An
oid without a credit is remembered ``pending_s`` (10 minutes), long enough for
a delayed action answer to find the fills that came first. ``capacity`` bounds
the oids held; forgetting a credit early is reported as a
:attr:`~.problems.ProblemKind.CREDIT_FORGOTTEN` problem. A restart loses the
credits unless the adapter saves :meth:`FillCredits.export` with its state and
gives it back to :meth:`FillCredits.restore`.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal

import msgspec

from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side

from .problems import Problem, ProblemKind, order_label

__all__ = ["IMMEDIATE_REF", "CreditRecord", "CreditsState", "FillCredits", "immediate_ref"]

#: The ``fill_ref`` prefix of an immediate fill's synthetic identity.
IMMEDIATE_REF = "immediate/"

_ZERO = Decimal(0)


def immediate_ref(oid: Oid) -> str:
    """The ``fill_ref`` of the immediate fill of ``oid`` (its trade id is 0)."""
    return f"{IMMEDIATE_REF}{oid}"


class _Book:
    """What one oid has counted: its credit, its fills, and when it was last touched."""

    __slots__ = ("credit", "credited", "real", "seen", "touched_at")

    def __init__(self, now: float) -> None:
        self.credit = _ZERO
        self.credited = False
        self.real = _ZERO
        #: (tid, fill_ref) of each distinct fill -> the size handed on for it.
        self.seen: dict[tuple[int, str], Decimal] = {}
        self.touched_at = now

    @property
    def counted(self) -> Decimal:
        return max(self.credit, self.real)


class CreditRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One oid's credit, as :meth:`FillCredits.export` saves it."""

    oid: int
    credit: Decimal
    real: Decimal
    seen: list[tuple[int, str, Decimal]]
    touched_at: float


class CreditsState(msgspec.Struct, frozen=True, kw_only=True):
    """The credits of :class:`FillCredits`, for a checkpoint (encode it with msgspec)."""

    credits: list[CreditRecord]


class FillCredits:
    """Immediate fills and the fills with trade ids of the same oids, counted once.

    See the module docstring. Time is an argument (``now``, any monotonic
    clock the caller keeps); nothing here reads a clock.

    Args:
        memory_s: How long an oid with a credit is remembered after its last fill.
        pending_s: How long an oid without a credit is remembered after its last fill.
        capacity: The most oids remembered; the oldest are forgotten first.

    Raises:
        ValueError: a duration is not > 0, or ``capacity`` is not >= 1.
    """

    __slots__ = ("_credited", "_pending", "_problems", "capacity", "memory_s", "pending_s",
                 "repeats")

    def __init__(
        self, *, memory_s: float = 86_400.0, pending_s: float = 600.0, capacity: int = 100_000
    ) -> None:
        if not memory_s > 0 or not pending_s > 0:
            raise ValueError(f"memory_s and pending_s must be > 0, got {memory_s}, {pending_s}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.memory_s = memory_s
        self.pending_s = pending_s
        self.capacity = capacity
        #: Fills recognised as repeats and handed on as nothing.
        self.repeats = 0
        self._pending: OrderedDict[int, _Book] = OrderedDict()
        self._credited: OrderedDict[int, _Book] = OrderedDict()
        self._problems: list[Problem] = []

    def __len__(self) -> int:
        return len(self._pending) + len(self._credited)

    def take_problems(self) -> list[Problem]:
        """The problems found since the last call (credits forgotten early)."""
        problems, self._problems = self._problems, []
        return problems

    def outstanding(self, oid: Oid) -> Decimal:
        """How much of ``oid``'s credit its fills have not covered yet (0 without one)."""
        book = self._credited.get(oid)
        return max(_ZERO, book.credit - book.real) if book is not None else _ZERO

    def immediate(
        self,
        *,
        oid: Oid,
        cloid: Cloid | None,
        side: Side,
        total: Decimal,
        avg_px: Decimal,
        now: float,
    ) -> OrderFilled | None:
        """Credit ``oid`` with an answer's ``filled`` status (``totalSz``, ``avgPx``).

        Returns the fill to hand the engine: the part of ``total`` its fills
        have not brought already, under the synthetic identity (trade id 0,
        ``fill_ref`` :func:`immediate_ref`); None when the fills already
        brought all of it, or when ``oid`` was credited before.

        Raises:
            TypeError, ValueError: ``total`` or ``avg_px`` is not a finite
                ``Decimal`` > 0 (checked by the event).
        """
        self._expire(now)
        book = self._credited.get(oid)
        if book is not None and book.credited:
            self._touch(oid, book, now)
            return None
        event = OrderFilled(
            cloid=cloid, oid=oid, tid=Tid(0), side=side, price=avg_px, size=total,
            fill_ref=immediate_ref(oid),
        )  # built first: a bad value raises before anything is recorded
        book = self._pending.pop(oid, None) or _Book(now)
        before = book.counted
        book.credit, book.credited = total, True
        self._credited[oid] = book
        self._touch(oid, book, now)
        self._bound()
        increase = book.counted - before
        if increase <= _ZERO:
            return None
        return event if increase == total else msgspec.structs.replace(event, size=increase)

    def fill(self, event: OrderFilled, now: float) -> OrderFilled | None:
        """Count a fill with a trade id; return what to hand the engine.

        ``event`` itself when nothing of it is credited, a copy with the
        uncredited part of its size when the credit covers some, and None
        when the credit covers all of it or the fill was seen before (see the
        module docstring). A fill without an oid is handed on as it is.
        """
        oid = event.oid
        if oid is None:
            return event
        self._expire(now)
        key = (event.tid, event.fill_ref)
        book = self._credited.get(oid) or self._pending.get(oid)
        if book is None:
            book = _Book(now)
            self._pending[oid] = book
        elif key in book.seen:
            self.repeats += 1
            self._touch(oid, book, now)
            return None
        before = book.counted
        book.real += event.size
        increase = book.counted - before
        book.seen[key] = increase
        self._touch(oid, book, now)
        self._bound()
        if increase == event.size:
            return event
        if increase <= _ZERO:
            return None
        return msgspec.structs.replace(event, size=increase)

    def export(self) -> CreditsState:
        """The credits to save with the adapter's state (oids without a credit are not kept)."""
        return CreditsState(
            credits=[
                CreditRecord(
                    oid=oid,
                    credit=book.credit,
                    real=book.real,
                    seen=[(tid, ref, size) for (tid, ref), size in book.seen.items()],
                    touched_at=book.touched_at,
                )
                for oid, book in self._credited.items()
            ]
        )

    def restore(self, state: CreditsState) -> None:
        """Take back the credits :meth:`export` saved; nothing may be held yet.

        Raises:
            ValueError: credits or fills are held already.
        """
        if len(self):
            raise ValueError("restore() needs an empty FillCredits")
        for record in sorted(state.credits, key=lambda r: r.touched_at):
            book = _Book(record.touched_at)
            book.credit, book.credited, book.real = record.credit, True, record.real
            book.seen = {(tid, ref): size for tid, ref, size in record.seen}
            self._credited[record.oid] = book

    # --- memory ------------------------------------------------------------------------

    def _touch(self, oid: int, book: _Book, now: float) -> None:
        book.touched_at = max(book.touched_at, now)
        (self._credited if book.credited else self._pending).move_to_end(oid)

    def _expire(self, now: float) -> None:
        pending = self._pending
        while pending:
            oid, book = next(iter(pending.items()))
            if book.touched_at + self.pending_s > now:
                break
            del pending[oid]
        credited = self._credited
        while credited:
            oid, book = next(iter(credited.items()))
            if book.touched_at + self.memory_s > now:
                break
            del credited[oid]
            if book.credit > book.real:
                self._forgotten(oid, book, "its memory ran out")

    def _bound(self) -> None:
        while len(self) > self.capacity:
            if self._pending:
                self._pending.popitem(last=False)
                continue
            oid, book = self._credited.popitem(last=False)
            self._forgotten(oid, book, f"capacity {self.capacity} reached")

    def _forgotten(self, oid: int, book: _Book, why: str) -> None:
        self._problems.append(
            Problem(
                kind=ProblemKind.CREDIT_FORGOTTEN,
                order_id=order_label(None, oid),
                detail=(
                    f"immediate fill of {book.credit} for oid {oid} forgotten ({why}) with "
                    f"{book.real} of it matched by fills: a repeat of them could count again"
                ),
            )
        )
