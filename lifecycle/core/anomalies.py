"""Remote inconsistencies: recorded, counted and logged, never raised.

An exchange message that is illegal for its order's state, a fill for an order
nobody knows, an overfill: none of these is the caller's fault, so the engine
records an :class:`Anomaly`, keeps running and asks the exchange for the truth.
An adapter's own findings (a message it could not decode, a status word it does
not know) are anomalies too: the runtime records those an adapter reports
(:class:`~lifecycle.runtime.adapter.AnomalySource`).
"""

from __future__ import annotations

import enum
import logging
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["Anomaly", "AnomalyKind", "AnomalyLog"]

log = logging.getLogger("lifecycle.anomalies")


class AnomalyKind(enum.Enum):
    """The kinds of remote inconsistency."""

    #: An exchange event that the table does not allow in the order's state.
    ILLEGAL_EVENT = "illegal_event"
    #: An exchange event (not a fill) for an order we do not know.
    UNKNOWN_ORDER = "unknown_order"
    #: A fill for an order we do not know (the position still moved).
    UNKNOWN_FILL = "unknown_fill"
    #: Fills adding up to more than the order's size.
    OVERFILL = "overfill"
    #: The exchange reported an oid that contradicts the one we hold.
    OID_CONFLICT = "oid_conflict"
    #: The exchange says filled, but we hold fills for less than the size.
    FILLS_MISSING = "fills_missing"
    #: An open-orders snapshot listed orders, none of them for our coin (a coin
    #: name or dex scope mismatch between the configuration and the exchange).
    ASSET_MISMATCH = "asset_mismatch"
    #: A status query said the exchange does not know an order it had listed
    #: (Hyperliquid's spurious ``unknownOid``), while the open-orders snapshots
    #: have not shown the order absent: not applied; a snapshot is requested.
    UNCONFIRMED_ABSENCE = "unconfirmed_absence"
    #: An order declared never placed (its status query said not found) turned out
    #: to rest: its placement answer or a fill arrived afterwards. Tracked again.
    LATE_PLACEMENT = "late_placement"
    #: The fill ledger reached ``orders.fill_dedup_capacity`` and forgot a fill
    #: younger than ``orders.fill_memory_s``: a repeat of it could count again.
    FILL_MEMORY_FULL = "fill_memory_full"
    #: A restart's fill catch-up starts later than the journal began, because the
    #: fill ledger does not remember that far back: fills of the journal's first
    #: part that the stopped process never received are not fetched.
    CATCH_UP_CUT = "catch_up_cut"
    #: An exchange message, or one item of it, the adapter could not decode (a
    #: payload of the wrong shape, a value an event refuses): that part changed
    #: nothing; the rest of the message still counted.
    MALFORMED_MESSAGE = "malformed_message"
    #: A status word the adapter's protocol reference does not list: taken as the
    #: fact its wording suggests when it can tell, otherwise as no fact at all.
    UNKNOWN_STATUS = "unknown_status"
    #: An answer that decodes but does not answer the request (a count that differs
    #: from the batch, a status the request cannot produce, another order's cloid):
    #: the commands it should have answered are resolved by query.
    UNEXPECTED_ANSWER = "unexpected_answer"
    #: The adapter forgot an immediate-fill credit before later fills used it up
    #: (its memory or capacity ran out): a repeat of one of those fills could count
    #: again.
    CREDIT_FORGOTTEN = "credit_forgotten"


@dataclass(frozen=True, kw_only=True, slots=True)
class Anomaly:
    """One recorded inconsistency."""

    kind: AnomalyKind
    at: float
    order_id: str | None
    detail: str


class AnomalyLog:
    """The most recent anomalies (bounded) and a count of all of them by kind."""

    __slots__ = ("_recent", "counts")

    def __init__(self, maxlen: int = 1000) -> None:
        self._recent: deque[Anomaly] = deque(maxlen=maxlen)
        self.counts: Counter[AnomalyKind] = Counter()

    def record(self, kind: AnomalyKind, at: float, order_id: str | None, detail: str) -> Anomaly:
        """Record, count and log one anomaly; return it."""
        anomaly = Anomaly(kind=kind, at=at, order_id=order_id, detail=detail)
        self._recent.append(anomaly)
        self.counts[kind] += 1
        log.warning(
            "anomaly %s order=%s: %s",
            kind.value,
            order_id,
            detail,
            extra={"anomaly": kind.value, "order_id": order_id, "at": at},
        )
        return anomaly

    def restore(self, counts: Mapping[AnomalyKind, int], recent: Iterable[Anomaly]) -> None:
        """Replace the counts and the recent anomalies with a checkpoint's, logging nothing.

        ``recent`` oldest first, as iterating the log gives them; ``counts``
        stays the same object.
        """
        self.counts.clear()
        self.counts.update(counts)
        self._recent.clear()
        self._recent.extend(recent)

    def __iter__(self) -> Iterator[Anomaly]:
        return iter(self._recent)

    def __len__(self) -> int:
        return sum(self.counts.values())
