"""What each trigger, timed state and end reason means, in words, for the documentation site.

The generated pages (:mod:`lifecycle.review.docs_gen`) take every fact from the code
(states, triggers and their rows from :data:`~lifecycle.core.table.TABLE`, end reasons
from :func:`~lifecycle.core.table.gone_reason`, timed states from the engine's timers)
and put the words below next to them. The words are keyed by enum member, and the
generator refuses to build a page while a member has no words or words name a member
that no longer exists, so a new trigger, timer or reason cannot go undocumented.
"""

from __future__ import annotations

from typing import NamedTuple

from lifecycle.core.states import GoneReason, OrderState, Trigger

__all__ = ["REASON_TEXT", "TIMER_TEXT", "TRIGGER_TEXT", "TriggerText"]

S = OrderState
T = Trigger


class TriggerText(NamedTuple):
    """What a trigger means, and what fires it."""

    #: The fact or request the trigger stands for.
    meaning: str
    #: Which event, request or timer fires it, as the engine's code does.
    fired_by: str


TRIGGER_TEXT: dict[Trigger, TriggerText] = {
    # --- local requests and timers ---------------------------------------------------
    T.SUBMIT: TriggerText(
        "The placement was handed over to be sent: the request is on its way.",
        "`Engine.commands_to_send()` draining the order's `PlaceOrder` (a drained "
        "command counts as sent).",
    ),
    T.ABANDON: TriggerText(
        "A placement is withdrawn before it was sent. It certainly never reached the "
        "book, so the order ends `GONE(never_placed)`: the one local way into GONE.",
        "`Engine.cancel()` on a PENDING order (yours or the reconciler's); its queued "
        "`PlaceOrder` is dropped at the next drain.",
    ),
    T.FINALIZE: TriggerText(
        "The order's oid is bound in the registry and its protection starts.",
        "The engine itself, at once after every move into LIVE.",
    ),
    T.PROTECTION_ELAPSED: TriggerText(
        "`orders.protection_s` passed since the acknowledgement (or the modify's answer): "
        "from now on snapshots that leave the order out count as evidence of absence.",
        "The FINALIZED_PROTECTED timer, run by `Engine.on_timer()`.",
    ),
    T.CANCEL_REQUEST: TriggerText(
        "We asked the exchange to cancel the order. The order stays fully tracked until "
        "the exchange proves it gone.",
        "`Engine.cancel()`: called by you, by the reconciler, by `orders.orphan_policy` "
        "`cancel`, and by the runtime's cancel-all at shutdown and its startup sweep. It "
        "queues a `CancelOrder`, by oid when known, else by cloid.",
    ),
    T.MODIFY_REQUEST: TriggerText(
        "We asked the exchange to change the order's price and size (on Hyperliquid a "
        "cancel-replace: same cloid, new oid).",
        "`Engine.modify()`, called by you or by the reconciler; it queues a `ModifyOrder`.",
    ),
    T.GRACE_ELAPSED: TriggerText(
        "An exchange order nobody here placed is still known after `orders.orphan_grace_s`: "
        "the orphan policy may now act on it.",
        "The ORPHAN_CANDIDATE timer, run by `Engine.on_timer()`. The next snapshot that "
        "still lists the order applies `orders.orphan_policy`.",
    ),
    T.ADOPT: TriggerText(
        "An order found on the exchange is ours after all, and is tracked from now on.",
        "The safety sync: a row under a cloid made by this very run is adopted at once, "
        "whatever the policy; an aged orphan whose cloid carries our namespace is adopted "
        "unless `orders.orphan_policy` is `cancel`.",
    ),
    # --- exchange facts --------------------------------------------------------------
    T.ACCEPT: TriggerText(
        "The exchange says the order rests on the book, under its oid. In states where it "
        "was already acknowledged this is a repeat, and changes nothing.",
        "`OrderAccepted` (a REST `resting` answer, a websocket `open`); a snapshot row "
        "carrying our cloid (the safety sync turns it into `OrderAccepted`); an "
        "`OrderStatusReport` with outcome `open` for an order still waiting for its answer.",
    ),
    T.LATE_ACCEPT: TriggerText(
        "The exchange proves that an order declared never placed rests after all. It is "
        "tracked again: the only move out of GONE.",
        "`OrderAccepted` with an oid, or an `OrderFilled`, for a `GONE(never_placed)` "
        "tombstone; recorded as the `late_placement` anomaly.",
    ),
    T.REJECT: TriggerText(
        "The exchange refused the placement, or ended an accepted order with a rejection "
        "(Hyperliquid sends `...Rejected` statuses on `orderUpdates` for orders it had "
        "accepted). `order.status` keeps the exchange's word.",
        "`OrderRejected`, or an `OrderStatusReport` with outcome `rejected`.",
    ),
    T.FILL_PARTIAL: TriggerText(
        "A fill that leaves part of the order's size open.",
        "`OrderFilled`, counted once per fill identity `(tid, oid, fill_ref)`; also a fill "
        "that arrived for an oid nobody knew yet, once that oid names the order.",
    ),
    T.FILL_COMPLETE: TriggerText(
        "The order's whole size has traded.",
        "`OrderFilled` reaching the order's size, or an `OrderStatusReport` with outcome "
        "`filled` (if the fills seen fall short, the `fills_missing` anomaly is recorded, "
        "and a runtime whose adapter offers a fill history fetches the account's fills).",
    ),
    T.LATE_FILL: TriggerText(
        "A fill for an order that has already ended. It still moves the position, once.",
        "`OrderFilled` for a tombstone (a GONE order kept for `orders.tombstone_s`).",
    ),
    T.CANCEL_ACK: TriggerText(
        "The exchange confirms the cancel we asked for.",
        "`OrderCanceled` (not exchange-initiated) while CANCELLING, or again on the "
        "tombstone; an `OrderStatusReport` with outcome `canceled` while CANCELLING.",
    ),
    T.CANCEL_FAILED: TriggerText(
        "The exchange refused our cancel, and the order still rests.",
        "`CancelRejected(order_gone=False)`.",
    ),
    T.CANCEL_GONE: TriggerText(
        "The exchange refused our cancel because the order no longer rests "
        "(Hyperliquid: \"Order was never placed, already canceled, or filled.\"). How it "
        "ended is not said.",
        "`CancelRejected(order_gone=True)`; the engine then sends a status query. When a "
        "modify was in flight as the cancel went out, the refusal may name the modify's "
        "replaced leg: the engine asks by cloid instead of ending the order.",
    ),
    T.EXCHANGE_CANCELED: TriggerText(
        "The exchange canceled the order on its own (`marginCanceled`, "
        "`reduceOnlyCanceled`, `selfTradeCanceled`, `scheduledCancel`, ...).",
        "`OrderCanceled(exchange_initiated=True)`; an `OrderCanceled` for an order we "
        "were not cancelling; an `OrderStatusReport` with outcome `canceled` for an order "
        "that is not CANCELLING.",
    ),
    T.MODIFY_ACK: TriggerText(
        "The modify took effect: the order rests at its new price and size, under its "
        "new oid (the old oid stays resolvable).",
        "`OrderModified`; a websocket `open` (`OrderAccepted`) under a new oid for an order "
        "being modified; a fill of the new oid before any answer.",
    ),
    T.MODIFY_REJECTED: TriggerText(
        "The exchange refused the modify, and the order still rests at its old price.",
        "`ModifyRejected(order_gone=False)`, or an `OrderStatusReport` showing the order "
        "open under its old oid after `orders.cancel_timeout_s` (the modify was lost).",
    ),
    T.MODIFY_GONE: TriggerText(
        "The modify was refused because the order no longer rests (Hyperliquid: "
        "\"Cannot modify canceled or filled order\"). How it ended is not said.",
        "`ModifyRejected(order_gone=True)`; the engine then sends a status query.",
    ),
    T.SUPERSEDED: TriggerText(
        "A `canceled` naming the leg a modify replaced (on Hyperliquid the old oid of a "
        "cancel-replace): not the end of the order.",
        "`OrderCanceled` naming one of the order's earlier oids, or one not flagged "
        "exchange-initiated while MODIFYING. While CANCELLING with a modify in flight, "
        "the engine also asks by cloid which leg survived.",
    ),
    T.CONFIRM_ABSENT: TriggerText(
        "The exchange does not know the order, and the evidence suffices to end it: for "
        "an EXPECTED order, \"not found\" once `orders.expected_ttl_s` has passed (it was "
        "never placed); for a resting one, \"not found\" while the safety sync's absence "
        "streak holds (`sync.missing_snapshots` fresh snapshots over `sync.missing_min_s`).",
        "`OrderStatusReport` with outcome `not_found` (Hyperliquid: `unknownOid`). Without "
        "the streak the answer is recorded as the `unconfirmed_absence` anomaly and a "
        "snapshot is requested instead, since Hyperliquid also answers `unknownOid` for "
        "orders `openOrders` has just listed.",
    ),
    T.ORPHAN_SEEN: TriggerText(
        "A snapshot lists again an exchange order that nobody here placed.",
        "The safety sync's `OrphanSeen` for an orphan already known. The first sighting "
        "creates the order directly in ORPHAN_CANDIDATE (no trigger).",
    ),
    T.ORPHAN_VANISHED: TriggerText(
        "An orphan is missing from a fresh snapshot. It is dropped at once, without a "
        "cancel and without a tombstone; if it comes back, its grace starts again.",
        "The safety sync's `OrphanVanished`; also the engine, when the exchange ties a "
        "candidate's oid to an order of ours (our order was listed before its "
        "acknowledgement), and the candidate's fills pass to our order.",
    ),
}

#: What happens when each timed state's timer is due (the engine's timers decide which
#: states are timed; :func:`lifecycle.review.docs_gen.lifecycle_page` checks the keys).
TIMER_TEXT: dict[OrderState, str] = {
    S.EXPECTED: "`orders.expected_ttl_s`: a status query, and the timer runs again. The "
    "timeout alone never ends the order.",
    S.FINALIZED_PROTECTED: "`orders.protection_s`: `protection_elapsed`, to TRACKED.",
    S.CANCELLING: "`orders.cancel_timeout_s`: a status query, and the timer runs again; a "
    "cancel found still open is sent again.",
    S.MODIFYING: "`orders.cancel_timeout_s`: a status query, and the timer runs again; an "
    "order found open under its old oid has lost its modify (`modify_rejected`).",
    S.ORPHAN_CANDIDATE: "`orders.orphan_grace_s`: `grace_elapsed`, to AGED_ORPHAN.",
    S.GONE: "`orders.tombstone_s`: the tombstone is evicted. A fill that arrives later "
    "still counts once, as a fill for an unknown order (an anomaly and a sync request).",
}

#: What each end reason means for the user, beyond its one-line docstring.
REASON_TEXT: dict[GoneReason, str] = {
    GoneReason.FILLED: (
        "The order's whole size traded: the fills reached its size, or a status query "
        "answered `filled`. Every fill moved the position exactly once, including fills "
        "repeated by the websocket or a fill history."
    ),
    GoneReason.CANCELED: (
        "The order was canceled, either at our request (`cancel_ack`) or by the exchange "
        "on its own (`exchange_canceled`: margin, reduce-only, self-trade prevention, "
        "liquidation, a scheduled cancel...). `order.status` keeps the exchange's word, "
        "so reports can tell the two apart."
    ),
    GoneReason.REJECTED: (
        "The exchange refused the placement (`tickRejected`, `minTradeNtlRejected`, "
        "`badAloPxRejected`...), or ended an order it had accepted with a rejection "
        "(`perpMarginRejected`, open-interest caps). A timeout, a 5xx or a transport "
        "error is never a rejection: the order stays in its asking state until a status "
        "query decides."
    ),
    GoneReason.NEVER_PLACED: (
        "The order provably never reached the book. Either it was abandoned before its "
        "placement was sent, or it was EXPECTED and the exchange answered \"not found\" "
        "to a status query sent after `orders.expected_ttl_s`. If the exchange shows it "
        "after all (its placement answer, or a fill), `late_accept` tracks it again and "
        "the `late_placement` anomaly is recorded; once its tombstone is evicted, a row "
        "carrying a cloid of this run is adopted by the safety sync instead."
    ),
    GoneReason.UNKNOWN: (
        "The order is certainly gone, but the exchange did not say how: it may have "
        "filled, been canceled, or (for a cancel of an order still in flight) never "
        "have been placed. Hyperliquid answers a cancel of an order that no longer "
        "rests with \"Order was never placed, already canceled, or filled.\", a modify "
        "with \"Cannot modify canceled or filled order\", and a status query of an "
        "order it has dropped with `unknownOid`; an orphan that leaves the snapshots "
        "is gone without a word at all.\n\n"
        "**This is normal.** A market maker cancels and modifies orders that are being "
        "filled or cancelled by the exchange all the time: whenever the refusal of our "
        "cancel or modify arrives before the message that says what happened, the order "
        "ends `unknown`, many times a day on a busy book. The reason is a "
        "label for reports, not accounting: the position counts every fill whatever "
        "the reason, and the tombstone keeps the order for `orders.tombstone_s` so that "
        "a fill that raced the cancel still finds it (`late_fill`), once. After "
        "`cancel_gone` and `modify_gone` the engine asks for the order's status, but "
        "the tombstone keeps its first reason: the answer can no longer change it. "
        "Count `unknown` ends to watch how often your cancels race fills; do not treat "
        "them as errors."
    ),
}
