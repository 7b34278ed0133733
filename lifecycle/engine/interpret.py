"""Exchange events to triggers: the decisions made in plain Python before firing.

Each handler resolves the event's order (cloid first, then oid), works out
which fact the event states for that order in its current state, and fires the
matching trigger through the engine. Whether the trigger is legal is not
decided here: the table decides, and an illegal remote trigger becomes an
anomaly in :meth:`lifecycle.engine.facade.Engine.move_remote`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder
from lifecycle.core.errors import IllegalTransition
from lifecycle.core.events import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    OrphanSeen,
    OrphanVanished,
    StatusOutcome,
)
from lifecycle.core.ids import Oid
from lifecycle.core.order import Fill, Order
from lifecycle.core.states import DISCOVERED, GoneReason, OrderState, Trigger
from lifecycle.engine.host import InterpreterHost
from lifecycle.engine.parking import Parked, park, restore_parked

__all__ = ["Interpreter"]

S = OrderState
T = Trigger

# Members bound once: an enum attribute lookup costs about 0.1 us on CPython 3.11,
# and the handlers below make several per event.
_CANCELLING = S.CANCELLING
_EXPECTED = S.EXPECTED
_GONE = S.GONE
_LIVE = S.LIVE
_MODIFYING = S.MODIFYING
_ORPHAN_CANDIDATE = S.ORPHAN_CANDIDATE
_ACCEPT = T.ACCEPT
_CANCEL_ACK = T.CANCEL_ACK
_CANCEL_FAILED = T.CANCEL_FAILED
_CANCEL_GONE = T.CANCEL_GONE
_CONFIRM_ABSENT = T.CONFIRM_ABSENT
_EXCHANGE_CANCELED = T.EXCHANGE_CANCELED
_FILL_COMPLETE = T.FILL_COMPLETE
_FILL_PARTIAL = T.FILL_PARTIAL
_FINALIZE = T.FINALIZE
_LATE_ACCEPT = T.LATE_ACCEPT
_LATE_FILL = T.LATE_FILL
_MODIFY_ACK = T.MODIFY_ACK
_MODIFY_GONE = T.MODIFY_GONE
_MODIFY_REJECTED = T.MODIFY_REJECTED
_ORPHAN_SEEN = T.ORPHAN_SEEN
_ORPHAN_VANISHED = T.ORPHAN_VANISHED
_REJECT = T.REJECT
_SUPERSEDED = T.SUPERSEDED


class Interpreter:
    """Turns each exchange event into the trigger it means for its order."""

    __slots__ = (
        "_anomaly", "_by_cloid", "_by_oid", "_engine", "_find", "_fire", "_move_remote",
        "_parked", "_refused", "handlers",
    )

    def __init__(self, engine: InterpreterHost) -> None:
        self._engine = engine
        self._find = engine.registry.find
        self._by_cloid = engine.registry.by_cloid
        self._by_oid = engine.registry.by_oid
        self._anomaly = engine.anomalies.record
        self._fire = engine.machine.fire
        self._move_remote = engine.move_remote
        self._refused = engine.remote_refused
        engine.ledger.report = engine.anomalies.record  # its capacity reached: an anomaly
        self._parked: Parked = {}  # fills for oids not known yet (lifecycle.engine.parking)
        #: The handler of each event type.
        self.handlers: dict[type, Callable[[Any, float], None]] = {
            OrderAccepted: self.accepted,
            OrderRejected: self.rejected,
            OrderFilled: self.filled,
            OrderCanceled: self.canceled,
            CancelRejected: self.cancel_rejected,
            OrderModified: self.modified,
            ModifyRejected: self.modify_rejected,
            OrderStatusReport: self.status_report,
            OrphanSeen: self.orphan_seen,
            OrphanVanished: self.orphan_vanished,
        }

    def parked(self) -> dict[Oid, tuple[OrderFilled, ...]]:
        """The fills waiting for their oid to name an order, oldest oid first (a copy)."""
        return {oid: tuple(events) for oid, events in self._parked.items()}

    def restore_parked(self, fills: Mapping[Oid, Iterable[OrderFilled]]) -> None:
        """Park the fills of a checkpoint (:meth:`parked`); none may be parked yet."""
        restore_parked(self._parked, fills)

    def _resolve(self, event: Any, now: float) -> Order | None:
        order = self._find(event.cloid, event.oid)
        if order is None:
            self._unknown(event, now)
        return order

    def _unknown(self, event: Any, now: float) -> None:
        self._anomaly(
            AnomalyKind.UNKNOWN_ORDER, now, event.cloid or f"oid:{event.oid}",
            f"{type(event).__name__} for an order we do not know",
        )
        self._engine.request_sync("unknown order")

    def _bind(self, order: Order, oid: Oid | None, now: float, *, replace: bool = False) -> bool:
        """Bind ``oid`` to ``order``; refuse (anomaly + query) an oid that contradicts.

        An order without an oid takes any oid no other order holds. With
        ``replace`` (a modify's new oid) the order's oid may change; otherwise
        a different oid contradicts the one it has.
        """
        if oid is None or order.knows_oid(oid):
            return True
        other = self._by_oid(oid)
        if (
            other is not None and other.state in DISCOVERED and order.state not in DISCOVERED
            and (order.oid is None or replace)  # else a conflict: the candidate stays
        ):
            # A snapshot listed our order without its cloid before its ack, so it
            # became an orphan candidate. The exchange now ties the oid to our
            # cloid: drop the candidate and give its fills to our order.
            self._absorb_candidate(other, now)
            other = None
        if other is not None:
            detail = f"exchange reported oid {oid}, which names {other.label}"
        elif order.oid is None or replace:
            self._engine.registry.bind_oid(order, oid)
            return True
        else:
            detail = f"exchange reported oid {oid}, the order has {order.oid}"
        self._anomaly(AnomalyKind.OID_CONFLICT, now, order.label, detail)
        self._engine.query(order)
        return False

    def _remote_then_finalize(self, order: Order, trigger: Trigger, now: float) -> None:
        """Fire an exchange message's trigger; finalize the order if it is now LIVE.

        As :meth:`~lifecycle.engine.facade.Engine.move_remote` (a refused trigger is an
        anomaly and a status query), in one call on the path of every
        placement and fill.
        """
        try:
            dest = self._fire(order, trigger, now)
        except IllegalTransition as exc:
            self._refused(order, exc, now)
            return
        if dest is _LIVE:
            # LIVE means the oid is known: it is bound, so protection starts at once.
            self._fire(order, _FINALIZE, now)

    # --- handlers ----------------------------------------------------------------------

    def accepted(self, event: OrderAccepted, now: float) -> None:
        oid = event.oid
        order = self._by_cloid(event.cloid) or self._by_oid(oid)  # registry.find, inlined
        if order is None:
            self._unknown(event, now)
            return
        if order.state is _GONE and order.reason is GoneReason.NEVER_PLACED and oid is not None:
            self._late_placement(order, oid, "its placement answer", now)
            if self._parked:  # fills that came before, naming only the oid now bound
                self._attach_parked(order, now)
            return
        if oid != order.oid:
            state = order.state
            if oid not in order.prior_oids and (
                state is _MODIFYING or (state is _CANCELLING and order.requested is not None)
            ):
                # The `open` of the cancel-replace's new oid: the modify took effect
                # (also when a cancel was asked while the modify was in flight).
                if self._bind(order, oid, now, replace=True):
                    if order.requested is not None:
                        self._took_effect(order, *order.requested)
                    if self._move_remote(order, _MODIFY_ACK, now) and state is _CANCELLING:
                        # The cancel named the replaced leg or none: cancel the new oid.
                        self._engine.send(CancelOrder(cloid=order.cloid, oid=oid))
                self._attach_parked(order, now)
                return
            if not self._bind(order, oid, now):
                return
        self._remote_then_finalize(order, _ACCEPT, now)
        if self._parked:
            self._attach_parked(order, now)

    def rejected(self, event: OrderRejected, now: float) -> None:
        order = self._resolve(event, now)
        if order is not None and self._engine.move_remote(order, _REJECT, now):
            order.status = event.status

    def filled(self, event: OrderFilled, now: float) -> None:
        engine = self._engine
        ledger = engine.ledger
        order = self._by_cloid(event.cloid) or self._by_oid(event.oid)  # registry.find, inlined
        tid, ref = event.tid, event.fill_ref
        identity = (tid, event.oid, ref)
        if order is None:
            if ledger.apply_event(event, now):  # False: a repeat
                self._anomaly(
                    AnomalyKind.UNKNOWN_FILL, now, event.cloid or f"oid:{event.oid}",
                    f"fill {tid} of {event.size} for an order we do not know",
                )
                if event.oid is not None:
                    park(self._parked, event)
                engine.request_sync("fill for an unknown order")
            return
        if order.has_fill(tid, ref) or ledger.remembers(identity, now):
            ledger.count_duplicate()  # the order's own fills also catch repeats the ledger forgot
            return
        # Checked before anything is counted: a failing fill leaves no trace, its resend counts.
        fill = event.fill_at(now)
        if order.state is _EXPECTED:
            self._bind(order, event.oid, now)  # fill before ack carries the oid
        elif (
            order.state is _GONE
            and order.reason is GoneReason.NEVER_PLACED
            and event.oid is not None
        ):
            self._late_placement(order, event.oid, f"fill {tid}", now)
        elif (
            order.state is _MODIFYING
            and event.oid is not None
            and order.oid is not None
            and not order.knows_oid(event.oid)
            and self._bind(order, event.oid, now, replace=True)
        ):
            # A fill of the replacement before any answer: the modify took effect.
            if order.requested is not None:
                self._took_effect(order, *order.requested)
            self._move_remote(order, _MODIFY_ACK, now)
        # Both record it or neither: nothing after the checks above can fail.
        if ledger.apply_event(event, now):
            self._apply_fill(order, fill, event.oid, now)
        if self._parked:
            self._attach_parked(order, now)

    def _late_placement(self, order: Order, oid: Oid, proof: str, now: float) -> None:
        """Track again an order declared never placed that the exchange proves rests.

        The TTL's status query said "not found" and the order ended
        GONE(never_placed); now the exchange names it with ``oid``. It rests: bind
        the oid, record what happened, and move it back to LIVE (then protection)
        by the table's one edge out of a tombstone.
        """
        if not self._bind(order, oid, now):
            return
        self._anomaly(
            AnomalyKind.LATE_PLACEMENT, now, order.label,
            f"{proof} arrived after the order was declared never placed; tracked again",
        )
        self._remote_then_finalize(order, _LATE_ACCEPT, now)

    def _apply_fill(self, order: Order, fill: Fill, oid: Oid | None, now: float) -> None:
        """Record a fill the ledger counted (``oid``: its event's), and fire what it means."""
        if not order.add_fill(fill):
            return
        prior = order.prior_oids  # usually empty: then the oids need not be compared
        if prior and oid is not None and oid in prior and oid != order.oid:
            # A late fill of the leg a modify replaced: the replacement rests its
            # full requested size, so the order's total grows by this fill.
            order.size += fill.size
        filled, size = order.filled, order.size
        complete = filled >= size  # one Decimal comparison for the usual partial fill
        if complete and filled > size:
            self._anomaly(
                AnomalyKind.OVERFILL, now, order.label, f"filled {filled} of size {size}"
            )
        if order.state is _GONE:
            trigger = _LATE_FILL
        elif complete:
            trigger = _FILL_COMPLETE
        else:
            trigger = _FILL_PARTIAL
        self._remote_then_finalize(order, trigger, now)

    def _absorb_candidate(self, candidate: Order, now: float) -> None:
        self._fire(candidate, _ORPHAN_VANISHED, now)
        self._engine.registry.remove(candidate)
        assert candidate.oid is not None
        for fill in candidate.fills.values():
            park(
                self._parked,
                OrderFilled(
                    cloid=None, oid=candidate.oid, tid=fill.tid, side=candidate.side,
                    price=fill.price, size=fill.size, fill_ref=fill.ref,
                )
            )

    def _attach_parked(self, order: Order, now: float) -> None:
        """Give ``order`` the fills parked for its oids (the ledger counted them on arrival)."""
        for oid in (order.oid, *order.prior_oids):
            for event in self._parked.pop(oid, ()):  # type: ignore[arg-type]
                self._apply_fill(order, event.fill_at(now), event.oid, now)

    @staticmethod
    def _took_effect(order: Order, price: Decimal, size: Decimal) -> None:
        # The replacement rests `size`; what filled before it stays filled.
        order.price = price
        order.size = order.filled + size
        order.requested = None

    def canceled(self, event: OrderCanceled, now: float) -> None:
        order = self._by_cloid(event.cloid) or self._by_oid(event.oid)  # registry.find, inlined
        if order is None:
            self._unknown(event, now)
            return
        state = order.state
        if event.oid is not None and event.oid != order.oid and event.oid in order.prior_oids:
            trigger = _SUPERSEDED  # the old oid of a modify that already took effect
        elif event.exchange_initiated:
            trigger = _EXCHANGE_CANCELED
        elif state is _MODIFYING:
            trigger = _SUPERSEDED  # the cancel leg of the cancel-replace in flight
        elif state is _CANCELLING and order.requested is not None:
            # Cancel asked while a modify was in flight: this `canceled` may be the
            # modify's replaced leg (same oid until the modify is answered) and not
            # our cancel's. Ask by cloid, which names whichever leg survived.
            if self._move_remote(order, _SUPERSEDED, now):
                self._engine.query(order, by_cloid=True)
            return
        elif state is _CANCELLING or state is _GONE:
            trigger = _CANCEL_ACK
        else:
            trigger = _EXCHANGE_CANCELED  # a cancel we did not ask for
        try:  # as move_remote, inlined (this is the path of every cancel)
            dest = self._fire(order, trigger, now)
        except IllegalTransition as exc:
            self._refused(order, exc, now)
        else:
            if dest is _GONE and state is not _GONE:
                order.status = event.status

    def cancel_rejected(self, event: CancelRejected, now: float) -> None:
        order = self._resolve(event, now)
        if order is None:
            return
        if event.order_gone and order.state is not _GONE:
            if event.oid is not None and event.oid != order.oid and event.oid in order.prior_oids:
                # Refused for a leg a modify replaced: the order rests under its new oid.
                if order.state is _CANCELLING:
                    self._engine.send(CancelOrder(cloid=order.cloid, oid=order.oid))
                return
            if order.state is _CANCELLING and order.requested is not None:
                # The modify in flight may have replaced the leg the cancel named:
                # not proof that the order is gone. Ask by cloid.
                self._engine.query(order, by_cloid=True)
                return
        trigger = _CANCEL_GONE if event.order_gone else _CANCEL_FAILED
        if self._engine.move_remote(order, trigger, now) and trigger is _CANCEL_GONE:
            self._engine.query(order)  # learn whether it filled or was canceled

    def modified(self, event: OrderModified, now: float) -> None:
        order = self._find(event.cloid, event.old_oid) or self._resolve(event, now)
        if order is None:
            return
        if (
            event.old_oid is not None
            and event.old_oid in order.prior_oids
            and order.knows_oid(event.oid)
        ):
            # This modify already took effect (the new oid's `open` or a fill came
            # first): a late answer. A modify asked since (`requested`) names the oid
            # held then as its old one, so this answer is never its own.
            return
        if order.state is _GONE:
            # Ended before the answer came: the tombstone learns the new oid
            # (late messages may name only it) and absorbs the answer.
            self._bind(order, event.oid, now, replace=True)
            self._move_remote(order, _MODIFY_ACK, now)
            if self._parked:  # fills of the new oid that came before: late fills
                self._attach_parked(order, now)
            return
        if order.state is not _MODIFYING and order.state is not _CANCELLING:
            self._engine.move_remote(order, _MODIFY_ACK, now)  # illegal: anomaly
            return
        if not self._bind(order, event.oid, now, replace=True):
            return
        self._took_effect(order, event.price, event.size)
        if self._engine.move_remote(order, _MODIFY_ACK, now) and order.state is _CANCELLING:
            # The cancel may have named the old oid: cancel the new one too.
            self._engine.send(CancelOrder(cloid=order.cloid, oid=order.oid))
        if self._parked:
            self._attach_parked(order, now)

    def modify_rejected(self, event: ModifyRejected, now: float) -> None:
        order = self._resolve(event, now)
        if order is None:
            return
        trigger = _MODIFY_GONE if event.order_gone else _MODIFY_REJECTED
        if self._engine.move_remote(order, trigger, now):
            order.requested = None
            if trigger is _MODIFY_GONE:
                self._engine.query(order)

    def status_report(self, event: OrderStatusReport, now: float) -> None:
        order = self._resolve(event, now)
        if order is None:
            return
        engine = self._engine
        state, outcome = order.state, event.outcome
        if outcome is StatusOutcome.OPEN:
            if (
                state is _MODIFYING
                and event.oid is not None
                and event.oid == order.oid
                and now - order.state_since >= engine.config.orders.cancel_timeout_s
            ):
                # Past the timeout and still resting under the oid it had: the modify
                # was lost (a cancel-replace that took effect would rest under a new
                # oid). Without this the order would stay MODIFYING for ever.
                if engine.move_remote(order, _MODIFY_REJECTED, now):
                    order.requested = None
                return
            if event.oid is not None and (
                state is _EXPECTED
                or state is _MODIFYING
                or (
                    state is _CANCELLING
                    and event.oid != order.oid
                    and order.requested is not None
                )
            ):
                self.accepted(OrderAccepted(cloid=order.cloid, oid=event.oid), now)
            elif state is _CANCELLING:
                # Still resting after the cancel timeout: the cancel was lost. Send it again.
                engine.send(CancelOrder(cloid=order.cloid, oid=order.oid))
            return  # alive, as we believed
        if state is _GONE:
            return  # already ended; the tombstone keeps its first reason
        if outcome is StatusOutcome.FILLED:
            if order.filled < order.size:
                self._anomaly(
                    AnomalyKind.FILLS_MISSING, now, order.label,
                    f"exchange says filled; fills seen for {order.filled} of {order.size}",
                )
            trigger = _FILL_COMPLETE
        elif outcome is StatusOutcome.CANCELED:
            trigger = _CANCEL_ACK if state is _CANCELLING else _EXCHANGE_CANCELED
        elif outcome is StatusOutcome.REJECTED:
            trigger = _REJECT
        elif state is _EXPECTED:  # NOT_FOUND
            if now - order.state_since < engine.config.orders.expected_ttl_s:
                return  # the request may not have reached the exchange yet
            trigger = _CONFIRM_ABSENT
        elif engine.sync.absence_confirmed(order):  # NOT_FOUND
            trigger = _CONFIRM_ABSENT
        else:  # NOT_FOUND, while the snapshots have not shown the order absent
            # Hyperliquid answers `unknownOid` for orders openOrders just listed:
            # one answer is not proof. The safety sync must also have seen the
            # order missing from enough fresh snapshots; ask for one.
            self._anomaly(
                AnomalyKind.UNCONFIRMED_ABSENCE, now, order.label,
                f"status {event.status or 'not found'} while {state.value}; "
                "snapshots have not shown it absent",
            )
            engine.request_sync("status not found, absence unconfirmed")
            return
        if engine.move_remote(order, trigger, now) and event.status:
            order.status = event.status

    def orphan_seen(self, event: OrphanSeen, now: float) -> None:
        order = self._find(event.cloid, event.oid)
        if order is None:
            order = Order(
                cloid=event.cloid, oid=event.oid, side=event.side, price=event.price,
                size=event.size, now=now, state=_ORPHAN_CANDIDATE,
            )
            self._engine.registry.add(order)
            self._engine.timers.arm(order, now)
            return
        self._engine.move_remote(order, _ORPHAN_SEEN, now)

    def orphan_vanished(self, event: OrphanVanished, now: float) -> None:
        order = self._find(None, event.oid)
        if order is None:
            return  # already dropped
        if self._engine.move_remote(order, _ORPHAN_VANISHED, now):
            # Dropped at once, not tombstoned: if it reappears, its grace restarts.
            self._engine.registry.remove(order)
