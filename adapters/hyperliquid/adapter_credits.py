"""The immediate-fill credits after a restart, rebuilt from the recovered engine.

Theory of operation
-------------------
:class:`~.fills.FillCredits` keeps, per oid of an order that traded when it was
placed, how much of the order's ``filled`` answer its later fills (the same
trades, now with trade ids) have not covered yet. A process that stops loses
that memory; started again, it would count those fills a second time when the
fill catch-up (or the websocket) brings them. The credits are therefore not
saved anywhere: they are **rebuilt from the journal**, the one record of what
the engine counted, so they can never disagree with it.

For each order the recovered engine holds, each immediate fill it recorded
(trade id 0, ``fill_ref`` ``immediate/<oid>``: the part of the answer the
fills had not brought when it arrived) becomes a credit for that oid of that
size, on top of the order's fills with trade ids, which count as seen:

* a fill the engine already has is a repeat (the engine would drop it too);
* any other fill of the oid is absorbed until it has used up the immediate
  fill's size, and handed on beyond: exactly what the credit would have
  absorbed, had the process never stopped, when every fill the stopped
  process had absorbed comes again (the catch-up fetches every fill since the
  journal began).

An order the engine no longer holds (its tombstone was dropped, some seconds
after it ended) whose immediate fill the fill ledger still remembers gets a
credit that absorbs every fill of its oid the engine does not have: such an
order ended long before the stop, so its fills reached the engine or were
absorbed then.

The one case this cannot restore exactly: a later fill that arrived before
the immediate trades' own fills and straddled the credit's end (fills out of
order on the websocket) was handed on in part; after a restart the part it
gave to the credit is not known, and a fill arriving after the restart can be
handed on short by up to that part.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from .fills import IMMEDIATE_REF, CreditRecord, CreditsState

if TYPE_CHECKING:
    from lifecycle.engine.facade import Engine

__all__ = ["ABSORB_ALL", "credits_from_engine"]

#: The credit of an order the engine no longer holds: larger than any order, so
#: every fill of its oid that the engine has not counted is absorbed.
ABSORB_ALL = Decimal(10) ** 30


def _immediate_oid(tid: int, ref: str) -> int | None:
    """The oid an immediate fill's identity names, or None for any other fill."""
    if tid != 0 or not ref.startswith(IMMEDIATE_REF):
        return None
    digits = ref[len(IMMEDIATE_REF):]
    return int(digits) if digits.isdigit() else None


def credits_from_engine(engine: Engine, now: float) -> CreditsState:
    """The credits to :meth:`~.fills.FillCredits.restore` after ``engine`` was recovered.

    Call it on the engine :meth:`JournaledEngine.recover
    <lifecycle.journal.JournaledEngine.recover>` returned, before the runtime
    starts (module docstring). ``now`` stamps the credits (runtime clock): they
    are remembered for the credit's memory from then on.
    """
    records: dict[int, CreditRecord] = {}
    for order in engine.registry:
        fills = list(order.fills.values())
        traded = [f for f in fills if _immediate_oid(f.tid, f.ref) is None]
        seen = [(int(f.tid), f.ref, f.size) for f in traded]
        real = sum((f.size for f in traded), Decimal(0))
        for fill in fills:
            oid = _immediate_oid(fill.tid, fill.ref)
            if oid is not None:
                records[oid] = CreditRecord(
                    oid=oid, credit=fill.size + real, real=real, seen=seen, touched_at=now
                )
    for tid, oid, ref, _ in engine.ledger.checkpoint().remembered:
        immediate = _immediate_oid(tid, ref)
        if immediate is not None and immediate == oid and oid not in records:
            records[oid] = CreditRecord(
                oid=oid, credit=ABSORB_ALL, real=Decimal(0), seen=[], touched_at=now
            )
    return CreditsState(credits=list(records.values()))
