"""THE transition table: ``(state, trigger) -> state``.

Theory of operation
-------------------
Every legal move of every order is one row below, and nothing else in the
package decides legality: the machine (:mod:`lifecycle.core.machine`) looks rows up,
the ``transitions`` machine of record is built from them, the diagrams are drawn
from them and the exhaustive tests walk every ``OrderState x Trigger`` pair
against them. A pair that is not a row is illegal.

Two rules shape the rows:

* Only exchange-proven facts lead into ``GONE``. Local decisions lead only into
  the asking states (``EXPECTED``, ``CANCELLING``, ``MODIFYING``) or along
  timers (``FINALIZED_PROTECTED -> TRACKED``, ``ORPHAN_CANDIDATE -> AGED_ORPHAN``).
  The one local entry into ``GONE`` is ``PENDING --abandon-->``: an order that
  was never sent is certainly not on the book. ``GONE`` is left only by
  ``late_accept``, the exchange's own proof that an order declared never placed
  rests after all.
* Late and duplicated exchange messages that really happen are legal rows
  (mostly reflexive), so an illegal trigger always means something is wrong:
  the engine records it as an anomaly and asks the exchange.

Rows that exist because of how exchanges really behave carry a comment saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lifecycle.core.states import GoneReason, OrderState, Trigger

__all__ = ["GONE_REASONS", "TABLE", "gone_reason", "legal_triggers"]

S = OrderState
T = Trigger

_ROWS: dict[tuple[OrderState, Trigger], OrderState] = {
    # --- PENDING: created locally, not sent -----------------------------------------
    (S.PENDING, T.SUBMIT): S.EXPECTED,
    # Never sent, so certainly never placed: the only local way into GONE.
    (S.PENDING, T.ABANDON): S.GONE,
    # --- EXPECTED: sent, no answer yet --------------------------------------------
    (S.EXPECTED, T.ACCEPT): S.LIVE,
    (S.EXPECTED, T.REJECT): S.GONE,
    # Fill before ack: the ws fill beat the placement response; the fill carries
    # the oid, and the remainder rests.
    (S.EXPECTED, T.FILL_PARTIAL): S.LIVE,
    # Fill before ack, all of it: the order crossed and filled at placement.
    (S.EXPECTED, T.FILL_COMPLETE): S.GONE,
    # Cancel by cloid while EXPECTED: we need not wait for the oid to cancel.
    (S.EXPECTED, T.CANCEL_REQUEST): S.CANCELLING,
    # The exchange canceled it (scheduledCancel, marginCanceled...) before our
    # placement response arrived.
    (S.EXPECTED, T.EXCHANGE_CANCELED): S.GONE,
    # A status query by cloid answered unknownOid after expected_ttl_s: the
    # request never reached the book. Never taken on the timeout alone.
    (S.EXPECTED, T.CONFIRM_ABSENT): S.GONE,
    # --- LIVE: resting with an oid; the engine binds the oid at once ----------------
    (S.LIVE, T.FINALIZE): S.FINALIZED_PROTECTED,
    # --- FINALIZED_PROTECTED: inside protection_s -------------------------------------
    (S.FINALIZED_PROTECTED, T.PROTECTION_ELAPSED): S.TRACKED,
    # Ack repeated: the REST response arrives after the ws `open` or the snapshot row.
    (S.FINALIZED_PROTECTED, T.ACCEPT): S.FINALIZED_PROTECTED,
    (S.FINALIZED_PROTECTED, T.FILL_PARTIAL): S.FINALIZED_PROTECTED,
    (S.FINALIZED_PROTECTED, T.FILL_COMPLETE): S.GONE,
    (S.FINALIZED_PROTECTED, T.CANCEL_REQUEST): S.CANCELLING,
    (S.FINALIZED_PROTECTED, T.MODIFY_REQUEST): S.MODIFYING,
    (S.FINALIZED_PROTECTED, T.EXCHANGE_CANCELED): S.GONE,
    # The pre-modify oid's `canceled` arrives after the modify's new oid was bound.
    (S.FINALIZED_PROTECTED, T.SUPERSEDED): S.FINALIZED_PROTECTED,
    # Rejected after acceptance: Hyperliquid sends `...Rejected` statuses on
    # orderUpdates for accepted orders (positionIncreaseAtOpenInterestCapRejected,
    # perpMarginRejected, ...). The exchange ended it.
    (S.FINALIZED_PROTECTED, T.REJECT): S.GONE,
    # --- TRACKED: the normal working order ---------------------------------------------
    (S.TRACKED, T.ACCEPT): S.TRACKED,
    (S.TRACKED, T.FILL_PARTIAL): S.TRACKED,
    (S.TRACKED, T.FILL_COMPLETE): S.GONE,
    (S.TRACKED, T.CANCEL_REQUEST): S.CANCELLING,
    (S.TRACKED, T.MODIFY_REQUEST): S.MODIFYING,
    # marginCanceled, reduceOnlyCanceled, selfTradeCanceled... on an order we did
    # not ask to cancel.
    (S.TRACKED, T.EXCHANGE_CANCELED): S.GONE,
    (S.TRACKED, T.SUPERSEDED): S.TRACKED,
    # Missing from enough fresh snapshots, and the status query could not find it.
    (S.TRACKED, T.CONFIRM_ABSENT): S.GONE,
    (S.TRACKED, T.REJECT): S.GONE,
    # --- CANCELLING: cancel sent; fully tracked until proven gone -----------------------
    (S.CANCELLING, T.CANCEL_ACK): S.GONE,
    # The exchange refused the cancel and the order still rests.
    (S.CANCELLING, T.CANCEL_FAILED): S.TRACKED,
    # "Order was never placed, already canceled, or filled": gone, outcome
    # unknown; the tombstone absorbs a fill that may still arrive.
    (S.CANCELLING, T.CANCEL_GONE): S.GONE,
    # Fill while cancelling: the exchange matched before it processed our cancel.
    (S.CANCELLING, T.FILL_PARTIAL): S.CANCELLING,
    (S.CANCELLING, T.FILL_COMPLETE): S.GONE,
    # An exchange-initiated cancel raced ours.
    (S.CANCELLING, T.EXCHANGE_CANCELED): S.GONE,
    # The placement response of an order cancelled by cloid while EXPECTED.
    (S.CANCELLING, T.ACCEPT): S.CANCELLING,
    # A modify was in flight when the cancel (by cloid) was sent; its answers
    # still arrive. The cloid names whichever oid survived.
    (S.CANCELLING, T.MODIFY_ACK): S.CANCELLING,
    (S.CANCELLING, T.MODIFY_REJECTED): S.CANCELLING,
    (S.CANCELLING, T.MODIFY_GONE): S.GONE,
    (S.CANCELLING, T.SUPERSEDED): S.CANCELLING,
    (S.CANCELLING, T.CONFIRM_ABSENT): S.GONE,
    # A post-only reject reported after our cancel by cloid was sent.
    (S.CANCELLING, T.REJECT): S.GONE,
    # --- MODIFYING: modify sent (cancel-replace on Hyperliquid) ---------------------------
    # Modify returning a new oid: the new oid is bound (the old one stays
    # resolvable) and protection starts again, since snapshots lag the new oid.
    (S.MODIFYING, T.MODIFY_ACK): S.FINALIZED_PROTECTED,
    # The modify was refused and the order still rests at its old price.
    (S.MODIFYING, T.MODIFY_REJECTED): S.TRACKED,
    # "Cannot modify canceled or filled order": gone, outcome unknown.
    (S.MODIFYING, T.MODIFY_GONE): S.GONE,
    # The old oid's `canceled` of the cancel-replace, arriving before the new oid.
    (S.MODIFYING, T.SUPERSEDED): S.MODIFYING,
    (S.MODIFYING, T.ACCEPT): S.MODIFYING,
    # Fill while modifying: the old price was hit before the replace.
    (S.MODIFYING, T.FILL_PARTIAL): S.MODIFYING,
    (S.MODIFYING, T.FILL_COMPLETE): S.GONE,
    (S.MODIFYING, T.EXCHANGE_CANCELED): S.GONE,
    # Cancel-all while a modify is in flight: cancel by cloid.
    (S.MODIFYING, T.CANCEL_REQUEST): S.CANCELLING,
    (S.MODIFYING, T.CONFIRM_ABSENT): S.GONE,
    # The replacement leg of the cancel-replace was rejected (e.g. margin).
    (S.MODIFYING, T.REJECT): S.GONE,
    # --- GONE: tombstone, absorbing late messages ------------------------------------
    # Late fill on a tombstone: the fill raced the cancel, or the ws fill came
    # after the cancel ack. It still changes the position, once.
    (S.GONE, T.LATE_FILL): S.GONE,
    # Placement response after the order's fill or cancel was already reported.
    (S.GONE, T.ACCEPT): S.GONE,
    # Cancel confirmed twice (ws `canceled` and the REST cancel response).
    (S.GONE, T.CANCEL_ACK): S.GONE,
    (S.GONE, T.CANCEL_GONE): S.GONE,
    (S.GONE, T.EXCHANGE_CANCELED): S.GONE,
    (S.GONE, T.SUPERSEDED): S.GONE,
    # A modify's answer after the order already filled or was cancelled: the
    # REST response, "Cannot modify canceled or filled order", or a refusal.
    (S.GONE, T.MODIFY_ACK): S.GONE,
    (S.GONE, T.MODIFY_GONE): S.GONE,
    (S.GONE, T.MODIFY_REJECTED): S.GONE,
    # A rejection repeated (the orderUpdates status and the REST answer), or
    # arriving after the order's cancel or fill was reported.
    (S.GONE, T.REJECT): S.GONE,
    # The placement's answer (or a fill proving the order rests) after the TTL's
    # status query said "not found" and the order ended GONE(never_placed): the
    # exchange had it after all. It rests: track it again. Only from a
    # never-placed tombstone (the engine decides; see the interpreter).
    (S.GONE, T.LATE_ACCEPT): S.LIVE,
    # --- ORPHAN_CANDIDATE: an exchange order nobody here placed; grace running ----------
    (S.ORPHAN_CANDIDATE, T.ORPHAN_SEEN): S.ORPHAN_CANDIDATE,
    (S.ORPHAN_CANDIDATE, T.GRACE_ELAPSED): S.AGED_ORPHAN,
    # Gone from a fresh snapshot before its grace ended: dropped without a cancel.
    (S.ORPHAN_CANDIDATE, T.ORPHAN_VANISHED): S.GONE,
    # Orphans are in our account: their fills move our position.
    (S.ORPHAN_CANDIDATE, T.FILL_PARTIAL): S.ORPHAN_CANDIDATE,
    (S.ORPHAN_CANDIDATE, T.FILL_COMPLETE): S.GONE,
    (S.ORPHAN_CANDIDATE, T.EXCHANGE_CANCELED): S.GONE,
    (S.ORPHAN_CANDIDATE, T.REJECT): S.GONE,
    # A row whose cloid this very run made (an order declared never placed whose
    # tombstone was evicted): ours beyond doubt, so no grace is needed to adopt it.
    (S.ORPHAN_CANDIDATE, T.ADOPT): S.TRACKED,
    # Shutdown (and the startup sweep) cancels every listed order of ours at once,
    # whether or not its grace has run out.
    (S.ORPHAN_CANDIDATE, T.CANCEL_REQUEST): S.CANCELLING,
    # --- AGED_ORPHAN: handled by orphan_policy ------------------------------------------
    (S.AGED_ORPHAN, T.ORPHAN_SEEN): S.AGED_ORPHAN,
    (S.AGED_ORPHAN, T.CANCEL_REQUEST): S.CANCELLING,
    # An order of ours from an earlier run (our cloid namespace) is tracked again.
    (S.AGED_ORPHAN, T.ADOPT): S.TRACKED,
    (S.AGED_ORPHAN, T.ORPHAN_VANISHED): S.GONE,
    (S.AGED_ORPHAN, T.FILL_PARTIAL): S.AGED_ORPHAN,
    (S.AGED_ORPHAN, T.FILL_COMPLETE): S.GONE,
    (S.AGED_ORPHAN, T.EXCHANGE_CANCELED): S.GONE,
    (S.AGED_ORPHAN, T.REJECT): S.GONE,
}

#: The legal moves. Read-only; a pair that is not a key is illegal.
TABLE: Mapping[tuple[OrderState, Trigger], OrderState] = MappingProxyType(_ROWS)

#: The reason an order ends with, by the trigger that moved it into GONE.
#: ``CONFIRM_ABSENT`` is special-cased in :func:`gone_reason`.
GONE_REASONS: Mapping[Trigger, GoneReason] = MappingProxyType(
    {
        T.ABANDON: GoneReason.NEVER_PLACED,
        T.REJECT: GoneReason.REJECTED,
        T.FILL_COMPLETE: GoneReason.FILLED,
        T.CANCEL_ACK: GoneReason.CANCELED,
        T.EXCHANGE_CANCELED: GoneReason.CANCELED,
        T.CANCEL_GONE: GoneReason.UNKNOWN,
        T.MODIFY_GONE: GoneReason.UNKNOWN,
        T.CONFIRM_ABSENT: GoneReason.UNKNOWN,
        T.ORPHAN_VANISHED: GoneReason.UNKNOWN,
    }
)


def gone_reason(source: OrderState, trigger: Trigger) -> GoneReason:
    """Return the reason for entering GONE from ``source`` by ``trigger``.

    Args:
        source: The state the order leaves.
        trigger: The trigger that moves it into GONE.

    Returns:
        The reason. An order the exchange never knew while it was EXPECTED was
        never placed; an order it loses track of later ended in an unknown way.
    """
    if trigger is T.CONFIRM_ABSENT and source is S.EXPECTED:
        return GoneReason.NEVER_PLACED
    return GONE_REASONS[trigger]


def legal_triggers(state: OrderState) -> tuple[Trigger, ...]:
    """Return the triggers legal in ``state``, in table order."""
    return tuple(t for (s, t) in _ROWS if s is state)
