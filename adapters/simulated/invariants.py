"""Invariant counters: a client's view checked against the exchange's truth.

Each function takes the :class:`~.truth.Truth` plus the least a driver must
record about its client, and says what it needs and when to call it. With the
``none`` fault profile every counter must be zero for a correct client; with
the others, every non-zero count is a bug to explain.

===========================  ==========================================================
counter                      what the driver supplies
===========================  ==========================================================
false_orphan_cancels         the cancels it sent because it took the order for an
                             orphan (for the engine: the ``CancelOrder`` drained for an
                             order in ``AGED_ORPHAN``), any time
premature_untracks           the cloids it holds as ended (``GONE``) or no longer holds,
                             sampled at the same virtual time as the truth, at every
                             step; count distinct oids over the run
untracked_resting_at_end     the cloids and oids it tracks (any state but ``GONE``),
                             after :meth:`~.exchange.SimulatedExchange.close_market`
                             and once nothing is in flight (``next_time()`` is None)
position_mismatch            its position, at the same settled end
double_counted_fills         the identity of every fill that moved its position
                             (``OrderFilled.identity``; or its trade id), one entry
                             per move (for the engine: ``ledger.fills`` grew while
                             handling that ``OrderFilled``)
===========================  ==========================================================
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from decimal import Decimal

from lifecycle.core.commands import CancelOrder
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import FillId

from .truth import Owner, Truth, TruthOrder

__all__ = [
    "double_counted_fills",
    "false_orphan_cancels",
    "position_mismatch",
    "premature_untracks",
    "untracked_resting_at_end",
]


def false_orphan_cancels(
    truth: Truth,
    orphan_cancels: Iterable[CancelOrder],
    owners: Collection[Owner] = (Owner.CLIENT,),
) -> int:
    """Cancels the exchange received, sent as orphan cancels, for orders of ``owners``.

    An order placed by this run is never an orphan; add :attr:`Owner.PREVIOUS_RUN`
    to ``owners`` when the client is meant to adopt its earlier run's orders.
    """
    sent = {(c.oid, c.cloid) for c in orphan_cancels}
    return sum(
        1 for c in truth.cancels if (c.oid, c.cloid) in sent and c.target_owner in owners
    )


def premature_untracks(truth: Truth, untracked: Collection[Cloid]) -> tuple[TruthOrder, ...]:
    """Orders of this run resting now whose cloid the client holds as ended or forgot.

    The exchange ends an order before any client can learn of it, so a resting
    order the client believes ended was ended on no evidence.
    """
    return tuple(
        o for o in truth.resting(Owner.CLIENT) if o.cloid is not None and o.cloid in untracked
    )


def untracked_resting_at_end(
    truth: Truth,
    tracked_cloids: Collection[Cloid],
    tracked_oids: Collection[Oid],
    owners: Collection[Owner] = (Owner.CLIENT, Owner.PREVIOUS_RUN),
) -> tuple[TruthOrder, ...]:
    """Resting orders of ``owners`` the client tracks neither by cloid nor by oid."""
    return tuple(
        o
        for o in truth.resting()
        if o.owner in owners
        and not (o.cloid is not None and o.cloid in tracked_cloids)
        and o.oid not in tracked_oids
    )


def position_mismatch(truth: Truth, client_position: Decimal) -> Decimal:
    """The exchange's position minus the client's (zero when they agree)."""
    return truth.position - client_position


def double_counted_fills(truth: Truth, applied: Iterable[Tid | FillId]) -> int:
    """Position moves beyond the first for a fill; a fill the exchange never made
    counts as well (every move for it is one too many).

    Each entry names a fill by its identity ``(tid, oid, fill_ref)``, as the
    engine de-duplicates it (this exchange sets no ``fill_ref``), or by its
    trade id alone (unique here); give every entry the same way.
    """
    known: set[Tid | FillId] = set()
    for f in truth.fills:
        known.add(f.tid)
        known.add((f.tid, f.oid, ""))
    return sum(n - 1 if fill in known else n for fill, n in Counter(applied).items())
