"""The order states, the triggers that move them, and the reasons an order ends.

States and triggers are enums so that the transition table, the exhaustive tests,
the diagrams and the coverage report can all iterate them. The derived sets below
are the vocabulary the engine, the reconciler and the safety sync share; none of
them decides legality (only :mod:`lifecycle.core.table` does).
"""

from __future__ import annotations

import enum

__all__ = [
    "DISCOVERED",
    "IN_FLIGHT",
    "LOCAL_TRIGGERS",
    "OURS",
    "RESTING",
    "TERMINAL",
    "WORKING",
    "GoneReason",
    "OrderState",
    "Trigger",
]


class OrderState(enum.Enum):
    """Where an order stands, as far as the exchange has proven it."""

    #: Intent created locally, client order id assigned, request not sent.
    PENDING = "pending"
    #: Request sent, outcome unknown; its cloid is protected from orphan detection.
    EXPECTED = "expected"
    #: The exchange reported it resting with an oid.
    LIVE = "live"
    #: Oid bound in the registry; lagging snapshots cannot report it missing yet.
    FINALIZED_PROTECTED = "finalized_protected"
    #: Normal working order, subject to reconcile and missing-order verification.
    TRACKED = "tracked"
    #: Cancel sent; fully tracked until the exchange proves it gone.
    CANCELLING = "cancelling"
    #: Modify sent (on Hyperliquid a cancel-replace: same cloid, new oid).
    MODIFYING = "modifying"
    #: Terminal; carries a :class:`GoneReason`; kept as a tombstone for late fills.
    GONE = "gone"
    #: An exchange order matching no cloid or oid we know; grace running.
    ORPHAN_CANDIDATE = "orphan_candidate"
    #: Still seen after the grace period; handled by the orphan policy.
    AGED_ORPHAN = "aged_orphan"

    # Enum's default __hash__ is a Python-level hash of the name; members compare
    # by identity, so the identity hash is equivalent and keeps the table lookup
    # on the hot path in C. (Never iterate a set of states for ordered output.)
    __hash__ = object.__hash__


class Trigger(enum.Enum):
    """Facts and requests that move an order. Named after what happened."""

    # Local requests and timers.
    SUBMIT = "submit"
    ABANDON = "abandon"
    FINALIZE = "finalize"
    PROTECTION_ELAPSED = "protection_elapsed"
    CANCEL_REQUEST = "cancel_request"
    MODIFY_REQUEST = "modify_request"
    GRACE_ELAPSED = "grace_elapsed"
    ADOPT = "adopt"
    # Exchange facts.
    ACCEPT = "accept"
    #: The placement's answer (or a fill) for an order already declared never placed.
    LATE_ACCEPT = "late_accept"
    REJECT = "reject"
    FILL_PARTIAL = "fill_partial"
    FILL_COMPLETE = "fill_complete"
    LATE_FILL = "late_fill"
    CANCEL_ACK = "cancel_ack"
    CANCEL_FAILED = "cancel_failed"
    CANCEL_GONE = "cancel_gone"
    EXCHANGE_CANCELED = "exchange_canceled"
    MODIFY_ACK = "modify_ack"
    MODIFY_REJECTED = "modify_rejected"
    MODIFY_GONE = "modify_gone"
    SUPERSEDED = "superseded"
    CONFIRM_ABSENT = "confirm_absent"
    ORPHAN_SEEN = "orphan_seen"
    ORPHAN_VANISHED = "orphan_vanished"

    __hash__ = object.__hash__  # see OrderState


class GoneReason(enum.Enum):
    """Why an order reached :attr:`OrderState.GONE`."""

    #: Fully filled.
    FILLED = "filled"
    #: Canceled; the order's ``status`` keeps the exchange's word (``marginCanceled``...).
    CANCELED = "canceled"
    #: Rejected at placement; ``status`` keeps the exchange's word (``tickRejected``...).
    REJECTED = "rejected"
    #: Proven never to have reached the book (never sent, or unknown to the exchange).
    NEVER_PLACED = "never_placed"
    #: Gone, but the exchange did not say how ("canceled or filled").
    UNKNOWN = "unknown"


#: Triggers of local requests and timers; every other trigger is an exchange fact.
#: A refused local trigger is the caller's misuse (it raises); a refused exchange
#: fact is an anomaly, and in a simulation a broken invariant.
LOCAL_TRIGGERS: frozenset[Trigger] = frozenset(
    {
        Trigger.SUBMIT,
        Trigger.ABANDON,
        Trigger.FINALIZE,
        Trigger.PROTECTION_ELAPSED,
        Trigger.CANCEL_REQUEST,
        Trigger.MODIFY_REQUEST,
        Trigger.GRACE_ELAPSED,
        Trigger.ADOPT,
    }
)

#: States of orders this bot created (the "ours" group of the diagram).
OURS: frozenset[OrderState] = frozenset(
    {
        OrderState.PENDING,
        OrderState.EXPECTED,
        OrderState.LIVE,
        OrderState.FINALIZED_PROTECTED,
        OrderState.TRACKED,
        OrderState.CANCELLING,
        OrderState.MODIFYING,
    }
)
#: States of orders found on the exchange that we did not place in this run.
DISCOVERED: frozenset[OrderState] = frozenset(
    {OrderState.ORPHAN_CANDIDATE, OrderState.AGED_ORPHAN}
)
#: States no order leaves.
TERMINAL: frozenset[OrderState] = frozenset({OrderState.GONE})
#: Requests whose answer is outstanding.
IN_FLIGHT: frozenset[OrderState] = frozenset(
    {OrderState.EXPECTED, OrderState.CANCELLING, OrderState.MODIFYING}
)
#: Orders that occupy a ladder level (nothing is placed twice at their level).
WORKING: frozenset[OrderState] = frozenset(
    {
        OrderState.EXPECTED,
        OrderState.LIVE,
        OrderState.FINALIZED_PROTECTED,
        OrderState.TRACKED,
        OrderState.MODIFYING,
    }
)
#: Orders of ours the exchange has proven to rest on the book (until proven gone).
RESTING: frozenset[OrderState] = frozenset(
    {
        OrderState.LIVE,
        OrderState.FINALIZED_PROTECTED,
        OrderState.TRACKED,
        OrderState.CANCELLING,
        OrderState.MODIFYING,
    }
)
