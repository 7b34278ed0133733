"""Deadlines of timed states, in FIFO queues.

Every timed state has one fixed duration (protection, EXPECTED TTL, cancel
timeout, tombstone, orphan grace) and ``now`` never goes backwards, so the
deadlines pushed for one state are already in order: a deque per state gives
O(1) arming, expiry and :meth:`StateTimers.next_deadline`, whatever the number
of live orders. Entries are never removed early; an entry whose order has
left that state (or left and re-entered it, even at the same instant) is
stale and skipped when reached.

An entry records ``order._entries``, which the machine increments on every
move that changes the state: an entry is valid exactly while the order's
count still equals it (the order has not moved since, so it is still in the
state the entry was armed for).

Timers start on state entry: :class:`~lifecycle.core.machine.OrderMachine` appends
to :attr:`StateTimers.slots` when a move enters a timed state, so arming costs
no call on the hot path. :meth:`StateTimers.arm` serves the other cases (an
order created in a timed state, a timer run again).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping

from lifecycle.core.order import Order
from lifecycle.core.states import OrderState, Trigger

__all__ = ["StateTimers"]

_Entry = tuple[float, int, Order]  # (deadline, order._entries when armed, order)


class StateTimers:
    """One FIFO deadline queue per timed state.

    Args:
        durations: Seconds an order may stay in each timed state before its
            timer is due.
    """

    __slots__ = ("_durations", "_queues", "slots")

    def __init__(self, durations: Mapping[OrderState, float]) -> None:
        self._durations = dict(durations)
        self._queues: dict[OrderState, deque[_Entry]] = {s: deque() for s in durations}
        #: ``state -> (queue, duration)`` for each timed state: where an entry
        #: ``(now + duration, order._entries, order)`` is appended on entering it.
        self.slots: dict[OrderState, tuple[deque[_Entry], float]] = {
            s: (self._queues[s], d) for s, d in self._durations.items()
        }

    def arm(self, order: Order, now: float) -> None:
        """Start the timer of the order's current state, if that state is timed."""
        slot = self.slots.get(order.state)
        if slot is not None:
            slot[0].append((now + slot[1], order._entries, order))

    def rearm(self, order: Order, now: float) -> None:
        """Run the timer of the order's current state once more from ``now``."""
        self.arm(order, now)

    def next_deadline(self) -> float | None:
        """Return the earliest pending deadline, or None."""
        best: float | None = None
        for queue in self._queues.values():
            while queue:
                deadline, entry, order = queue[0]
                if order._entries == entry:
                    if best is None or deadline < best:
                        best = deadline
                    break
                queue.popleft()  # stale: the order left the state
        return best

    def due(self, now: float) -> Iterator[tuple[OrderState, Order]]:
        """Pop and yield ``(state, order)`` for every valid deadline <= ``now``.

        Queues are visited in the order of the ``durations`` mapping; within a
        queue, in deadline order.
        """
        for state, queue in self._queues.items():
            while queue and queue[0][0] <= now:
                _, entry, order = queue.popleft()
                if order._entries == entry:
                    yield state, order

    def runner(
        self,
        actions: Mapping[OrderState, Callable[[Order, float], object] | Trigger],
        fire: Callable[[Order, Trigger, float], object] | None = None,
    ) -> Callable[[float], None]:
        """Return ``run(now)``, which runs every timer due at or before ``now``.

        ``run(now)`` pops the same entries, in the same order, as iterating
        :meth:`due`, and for each valid one runs its state's action before it
        looks at the next (so what an action changes, a timer it arms or an
        order it moves, is seen by the entries after it). An action is
        ``action(order, now)``, or a trigger, fired as ``fire(order, trigger,
        now)`` with no call in between. The actions are looked up once, here.

        Raises:
            KeyError: ``actions`` has no action for a timed state.
            ValueError: A trigger is given as an action without ``fire``.
        """
        plan: list[tuple[deque[_Entry], Callable[[Order, float], object] | None, Trigger | None]]
        plan = []
        for state, queue in self._queues.items():
            action = actions[state]
            if isinstance(action, Trigger):
                if fire is None:
                    raise ValueError(f"the action of {state.value} is a trigger: give fire")
                plan.append((queue, None, action))
            else:
                plan.append((queue, action, None))
        fire_ = fire

        def run(now: float) -> None:
            for queue, action, trigger in plan:
                while queue and queue[0][0] <= now:
                    _, entry, order = queue.popleft()
                    if order._entries == entry:
                        if action is None:
                            fire_(order, trigger, now)  # type: ignore[misc,arg-type]
                        else:
                            action(order, now)

        return run

    def entries(self) -> dict[OrderState, tuple[_Entry, ...]]:
        """Each timed state's live entries ``(deadline, entry count, order)``, in queue order.

        Stale entries (the order left the state since) are left out: they never fire.
        Every timed state is listed, in the order of the ``durations`` mapping.
        """
        return {
            state: tuple(e for e in queue if e[2].entries == e[1])
            for state, queue in self._queues.items()
        }

    def load(self, entries: Mapping[OrderState, Iterable[_Entry]]) -> None:
        """Replace the queues of the states in ``entries`` with those entries, in order.

        The counterpart of :meth:`entries`, for a checkpoint restored. Each
        queue stays the same object (the machine appends to it), emptied, then
        filled; the states not in ``entries`` are left as they are.

        Raises:
            KeyError: A state in ``entries`` is not timed.
        """
        for state, queued in entries.items():
            queue = self._queues[state]
            queue.clear()
            queue.extend(queued)

    def pending(self) -> int:
        """Return the number of queued entries, stale ones included."""
        return sum(len(q) for q in self._queues.values())
