"""The one place an order's state changes.

Theory of operation
-------------------
:data:`lifecycle.core.table.TABLE` is the law. It is enforced twice over:

* The ``transitions`` library is the machine of record. :func:`build_record_machine`
  builds a ``transitions.Machine`` from the table (``model=None``, no
  ``auto_transitions``, invalid triggers raise), which the diagrams are drawn
  from and which the tests hold equal to the table, pair by pair.
* :meth:`OrderMachine.fire` is the hot path. Binding every order into a
  ``transitions`` machine (``add_model``) costs hundreds of microseconds per
  order and grows with the number of live orders, and one library trigger costs
  about 6 us; a dict lookup costs well under one. So ``fire`` looks the row up
  in the same table and writes the state itself: constant cost whatever the
  number of live orders, nothing to register or remove.

With ``verify=True`` every fire also runs through the ``transitions`` machine on
the order itself (which then writes the state), and any disagreement between
the two raises. The test suite runs that way; production need not. A trigger
that no row names is refused by both (a table mutated by the mutation tests of
:mod:`lifecycle.review.mutation` may lack one).

An illegal trigger raises :class:`~lifecycle.core.errors.IllegalTransition` and
changes nothing: state, history and timestamps are written only after the row
is found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from transitions import Machine, MachineError

from lifecycle.core.errors import IllegalTransition
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.core.table import TABLE, gone_reason

if TYPE_CHECKING:
    from collections.abc import Callable

    from lifecycle.core.order import Order
    from lifecycle.core.timers import StateTimers

    # One row of the table as fire() applies it: the new state; the
    # ``(trigger, new state)`` pair the order's history records; the ``append``
    # of the timer queue it starts and that timer's duration (None and 0.0 for
    # a reflexive move or an untimed state); the reason set on entering GONE
    # (None for any other move).
    _Move = tuple[
        OrderState,
        tuple[Trigger, OrderState],
        Callable[[tuple[float, int, Order]], None] | None,
        float,
        GoneReason | None,
    ]

__all__ = [
    "MachineDisagreement",
    "OrderMachine",
    "TransitionObserver",
    "build_record_machine",
    "observe_all",
    "stop_observing_all",
]

_GONE = OrderState.GONE

# Observers of every machine in the process, whenever it was created (coverage
# of a whole test session, including machines built inside users' fixtures).
_EVERY_MACHINE: list[TransitionObserver] = []


class TransitionObserver(Protocol):
    """Receives every fired and every refused trigger (coverage, journals, logs)."""

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        """Called after ``order`` moved from ``source`` to ``dest`` by ``trigger``."""

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        """Called when ``trigger`` was illegal in the order's state (nothing changed)."""


def observe_all(observer: TransitionObserver) -> None:
    """Pass the fired and refused triggers of every machine, existing or future, to ``observer``."""
    _EVERY_MACHINE.append(observer)


def stop_observing_all(observer: TransitionObserver) -> None:
    """Undo :func:`observe_all` for ``observer`` (no error if it was not observing)."""
    if observer in _EVERY_MACHINE:
        _EVERY_MACHINE.remove(observer)


class MachineDisagreement(AssertionError):
    """The table and the ``transitions`` machine of record disagreed (a bug)."""


def build_record_machine() -> Any:
    """Build the ``transitions`` machine of record from :data:`TABLE`.

    Returns:
        A ``transitions.Machine`` with no models, every table row as a
        transition named after its trigger's value, no auto transitions, and
        invalid triggers raising ``MachineError``.
    """
    return Machine(
        model=None,
        states=OrderState,
        initial=OrderState.PENDING,
        transitions=[
            {"trigger": trigger.value, "source": source, "dest": dest}
            for (source, trigger), dest in TABLE.items()
        ],
        auto_transitions=False,
        ignore_invalid_triggers=False,
        send_event=False,
    )


class OrderMachine:
    """Applies triggers to orders according to the table.

    Args:
        history_limit: Transitions kept per order (oldest dropped first).
        verify: Also fire every trigger through the ``transitions`` machine of
            record and raise :class:`MachineDisagreement` if it disagrees.
        timers: Timers started on entry to their state (the entry action of
            every timed state); None for a machine without timers.
    """

    __slots__ = (
        "_history_len",
        "_moves",
        "_observers",
        "history_limit",
        "record",
        "verify",
    )

    def __init__(
        self, *, history_limit: int = 32, verify: bool = False, timers: StateTimers | None = None
    ) -> None:
        if history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, got {history_limit}")
        timed = timers.slots if timers is not None else {}
        # What each table row does besides writing the state, decided once and
        # kept by state, then trigger: two plain-dict lookups per fire give the
        # whole move (see _Move), with no key tuple to build.
        self._moves: dict[OrderState, dict[Trigger, _Move]] = {s: {} for s in OrderState}
        for (source, trigger), dest in TABLE.items():
            slot = timed.get(dest) if dest is not source else None
            self._moves[source][trigger] = (
                dest,
                (trigger, dest),
                slot[0].append if slot is not None else None,
                slot[1] if slot is not None else 0.0,
                gone_reason(source, trigger) if dest is _GONE and source is not _GONE else None,
            )
        self.history_limit = history_limit
        self._history_len = 2 * history_limit
        self.verify = verify
        self.record: Any = build_record_machine()
        self._observers: list[TransitionObserver] = []

    @property
    def observers(self) -> tuple[TransitionObserver, ...]:
        """The observers, in the order they were added."""
        return tuple(self._observers)

    def add_observer(self, observer: TransitionObserver) -> None:
        """Pass every fired and refused trigger to ``observer`` from now on."""
        self._observers.append(observer)

    def remove_observer(self, observer: TransitionObserver) -> None:
        """Stop passing triggers to ``observer``."""
        self._observers.remove(observer)

    def fire(self, order: Order, trigger: Trigger, now: float) -> OrderState:
        """Move ``order`` by ``trigger`` and return its new state.

        Entering a state sets ``order.state_since`` and starts the state's
        timer, if it has one; entering GONE also sets ``order.reason``.
        Reflexive moves do neither. Every fired move is appended to the
        order's history and passed to the observers.

        Raises:
            IllegalTransition: The table has no row for the order's state and
                ``trigger``. Nothing changed.
        """
        source = order.state
        try:
            dest, step, arm, duration, reason = self._moves[source][trigger]
        except KeyError:  # the table has no row for this state and trigger
            raise self._refused(order, trigger, now) from None
        if self.verify:
            self._verify(order, trigger, dest)
        order.state = dest
        if dest is not source:
            order.state_since = now
            entries = order._entries = order._entries + 1
            if arm is not None:
                arm((now + duration, entries, order))
            if reason is not None:
                order.reason = reason
            elif source is _GONE:  # a tombstone tracked again (late_accept)
                order.reason = None
        history = order._history
        history += (now, step)
        if len(history) > self._history_len:
            order._history_origin = history[1][1]  # type: ignore[index]
            del history[:2]
        if self._observers:
            for observer in self._observers:
                observer.transition_fired(order, source, trigger, dest, now)
        if _EVERY_MACHINE:
            for observer in _EVERY_MACHINE:
                observer.transition_fired(order, source, trigger, dest, now)
        return dest

    def _refused(self, order: Order, trigger: Trigger, now: float) -> IllegalTransition:
        """Verify and report an illegal ``trigger``; return the error to raise."""
        if self.verify:
            self._verify(order, trigger, None)
        for observer in (*self._observers, *_EVERY_MACHINE):
            observer.transition_refused(order, trigger, now)
        return IllegalTransition(order.label, order.state, trigger)

    def _verify(self, order: Order, trigger: Trigger, dest: OrderState | None) -> None:
        source = order.state
        # A trigger that names no row at all has no event in the machine of
        # record, which then refuses it like any illegal trigger (a table may
        # lack one: a mutated table, see lifecycle.review.mutation).
        event = self.record.events.get(trigger.value)
        try:
            if event is None:
                raise MachineError(f"no row has the trigger {trigger.value}")
            event.trigger(order)
        except MachineError:
            if dest is not None:
                raise MachineDisagreement(
                    f"table allows {source.value} --{trigger.value}--> {dest.value}; "
                    "the transitions machine refused it"
                ) from None
            return
        reached = order.state
        order.state = source  # fire() writes the state, after its own checks
        if reached is not dest:
            raise MachineDisagreement(
                f"{source.value} --{trigger.value}-->: table says "
                f"{dest.value if dest else 'illegal'}, transitions reached {reached}"
            )
