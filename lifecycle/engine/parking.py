"""Fills parked until their oid names an order.

A fill may name only an oid no order holds yet: a fill without cloid before
the placement response, or a fill of an orphan before the safety sync lists
it. The ledger counts it on arrival (the position moves once per trade id,
known order or not); the interpreter parks it, by oid, and gives it to the
order once the oid is bound (:class:`~lifecycle.engine.interpret.Interpreter`).
Parking is bounded: past :data:`PARKED_OIDS` oids, the oldest oid's fills are
dropped (the ledger already counted them; only the order's own record misses them).

The parked fills stay a plain dict in the interpreter, which tests it for
emptiness on the path of every placement and fill; the functions here change it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Oid

__all__ = ["PARKED_OIDS", "Parked", "park", "restore_parked"]

#: Oids whose early fills are kept until the oid is bound to an order.
PARKED_OIDS = 1024

#: Parked fills by oid, oldest oid first, in arrival order per oid.
Parked = dict[Oid, list[OrderFilled]]


def park(parked: Parked, event: OrderFilled) -> None:
    """Keep ``event``, a fill naming an oid no order holds, under its oid (bounded)."""
    parked.setdefault(event.oid, []).append(event)  # type: ignore[arg-type]
    while len(parked) > PARKED_OIDS:
        del parked[next(iter(parked))]


def restore_parked(parked: Parked, fills: Mapping[Oid, Iterable[OrderFilled]]) -> None:
    """Park the fills a checkpoint captured, by oid, in order, into an empty ``parked``.

    Raises:
        ValueError: Fills are parked already.
    """
    if parked:
        raise ValueError("restore needs no parked fills")
    parked.update((oid, list(events)) for oid, events in fills.items())
