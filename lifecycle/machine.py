"""The one place an order's state changes.

Theory of operation
-------------------
:data:`lifecycle.table.TABLE` is the law. It is enforced twice over:

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
the two raises. The test suite runs that way; production need not.

An illegal trigger raises :class:`~lifecycle.errors.IllegalTransition` and
changes nothing: state, history and timestamps are written only after the row
is found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from transitions import Machine, MachineError

from lifecycle.errors import IllegalTransition
from lifecycle.states import OrderState, Trigger
from lifecycle.table import TABLE, gone_reason

if TYPE_CHECKING:
    from lifecycle.order import Order
    from lifecycle.timers import StateTimers

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
        "_observers",
        "_rows",
        "_timed",
        "history_limit",
        "record",
        "verify",
    )

    def __init__(
        self, *, history_limit: int = 32, verify: bool = False, timers: StateTimers | None = None
    ) -> None:
        if history_limit < 1:
            raise ValueError(f"history_limit must be >= 1, got {history_limit}")
        # A plain dict copy: lookups through the read-only proxy cost more.
        self._rows: dict[tuple[OrderState, Trigger], OrderState] = dict(TABLE)
        self.history_limit = history_limit
        self._history_len = 3 * history_limit
        self.verify = verify
        self.record: Any = build_record_machine()
        self._observers: list[TransitionObserver] = []
        self._timed = timers.slots if timers is not None else {}

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
        dest = self._rows.get((source, trigger))
        if self.verify:
            self._verify(order, trigger, dest)
        if dest is None:
            for observer in (*self._observers, *_EVERY_MACHINE):
                observer.transition_refused(order, trigger, now)
            raise IllegalTransition(order.label, source, trigger)
        order.state = dest
        if dest is not source:
            order.state_since = now
            entries = order._entries = order._entries + 1
            timed = self._timed.get(dest)
            if timed is not None:
                timed[0].append((now + timed[1], entries, order))
            if dest is _GONE:
                order.reason = gone_reason(source, trigger)
        history = order._history
        history += (now, trigger, dest)
        if len(history) > self._history_len:
            order._history_origin = history[2]  # type: ignore[assignment]
            del history[:3]
        if self._observers:
            for observer in self._observers:
                observer.transition_fired(order, source, trigger, dest, now)
        if _EVERY_MACHINE:
            for observer in _EVERY_MACHINE:
                observer.transition_fired(order, source, trigger, dest, now)
        return dest

    def _verify(self, order: Order, trigger: Trigger, dest: OrderState | None) -> None:
        source = order.state
        try:
            self.record.events[trigger.value].trigger(order)
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
