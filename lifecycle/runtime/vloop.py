"""The runtime's clock, real or virtual: :func:`current_time`, :func:`sleep`, and the
virtual-time asyncio loop (:class:`VirtualTimeLoop`, :func:`run_virtual`).

Theory of operation
-------------------
The runtime reads time only through anyio (:func:`anyio.current_time`), here
wrapped as :func:`current_time` and :func:`sleep`, so the same code runs on the
real clock and on a virtual one.

:class:`VirtualTimeLoop` is an asyncio event loop whose clock is a number that
jumps to the next timer whenever nothing is ready to run (the selector is
polled without blocking and then "waits" by advancing the clock), and that
reads at least a timer's deadline when the timer runs (asyncio would run it up
to a nanosecond early, and a virtual clock would then never move on). asyncio
runs a timer when its deadline is before the clock plus the clock's
resolution; far from zero (an epoch start) a nanosecond is below the float
spacing of the clock, the sum rounds back to the clock, and a timer due
exactly now would never run while the loop spun in place: the loop's
resolution is therefore never less than a few float steps of its clock. With
:func:`run_virtual` an hour of trading against the simulated exchange runs as
fast as the CPU allows, under anyio's asyncio backend.

asyncio runs ready callbacks first in, first out and takes timers from a heap;
nothing in that order depends on wall time, memory addresses or hash seeds, so
the same program and the same seed give the same interleaving, and the same
results, every time, without seeding any scheduler (trio's, with its
``MockClock``, shuffles tasks that wake together). On a virtual clock many
timers fall due at the same instant (a strategy's cycle, the engine's timers,
the model's steps), and asyncio's heap would hand them out in an order its
whole history decides: adding or removing an unrelated timer would reorder
them. The virtual loop's timers therefore run by deadline, then in the order
they were scheduled.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import selectors
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

__all__ = ["VirtualTimeLoop", "clock", "current_time", "run_virtual", "sleep"]

T = TypeVar("T")


def current_time() -> float:
    """The runtime's clock: :func:`anyio.current_time` (virtual under :func:`run_virtual`).

    On asyncio it reads the running loop's clock directly, which is what
    anyio reads there, without anyio's backend lookup on every call.
    """
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return anyio.current_time()


def clock() -> Callable[[], float]:
    """The runtime's clock as a function, for a caller that reads it often (an
    adapter's ``now``): on asyncio the running loop's own ``time``, which
    :func:`current_time` would look the loop up for on every call; else
    :func:`anyio.current_time`. Call it inside the loop it is to read."""
    try:
        return asyncio.get_running_loop().time
    except RuntimeError:
        return anyio.current_time


async def sleep(seconds: float) -> None:
    """Sleep on the runtime's clock (:func:`anyio.sleep`; on asyncio, :func:`asyncio.sleep`
    directly, which is what anyio calls there)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        await anyio.sleep(seconds)
    else:
        await asyncio.sleep(seconds)


# --- the virtual clock ------------------------------------------------------------------


class _VirtualSelector(selectors.BaseSelector):
    """A selector that never blocks on time: it advances its loop's virtual clock instead."""

    #: Busy rounds (callbacks ready) between two polls of the real file descriptors.
    #: Virtual time stands still in a busy round, and every idle round polls (when
    #: anything but the loop's own wake-up pipe is registered), so the skipped polls
    #: delay real I/O by microseconds of wall time and none of virtual time.
    BUSY_POLL_EVERY = 64

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop
        self._busy_rounds = 0
        self._own = 0

    def registered_own(self) -> None:
        """The loop has registered its own wake-up pipe (and nothing else) so far.

        What that pipe signals (``call_soon_threadsafe``) is in the ready queue
        already: an idle round need not poll the pipe before moving the clock;
        the busy rounds' polls drain it.
        """
        self._own = len(self._real.get_map())

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(
        self, timeout: float | None = None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout == 0:
            self._busy_rounds += 1
            if self._busy_rounds < self.BUSY_POLL_EVERY:
                return []
        self._busy_rounds = 0
        if timeout is None:
            # No timer at all: only real I/O (another thread) can wake the loop.
            return self._real.select(None)
        if timeout == 0 or len(self._real.get_map()) > self._own:
            ready = self._real.select(0)
            if ready or timeout == 0:
                return ready
        self._loop.advance(timeout)
        return []

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class _Timer(asyncio.TimerHandle):
    """A timer that sorts by deadline, then by when it was scheduled."""

    __slots__ = ("_order",)
    if TYPE_CHECKING:  # asyncio's own, which its stubs do not declare
        _scheduled: bool

    def __init__(
        self, when: float, seq: int, callback: Callable[..., object], args: tuple[Any, ...],
        loop: asyncio.AbstractEventLoop, context: Any,
    ) -> None:
        super().__init__(when, callback, args, loop, context)
        self._order = (when, seq)

    def __lt__(self, other: asyncio.TimerHandle) -> bool:
        if isinstance(other, _Timer):
            return self._order < other._order
        return NotImplemented

    def __le__(self, other: asyncio.TimerHandle) -> bool:
        if isinstance(other, _Timer):
            return self._order <= other._order
        return NotImplemented

    def __gt__(self, other: asyncio.TimerHandle) -> bool:
        if isinstance(other, _Timer):
            return self._order > other._order
        return NotImplemented

    def __ge__(self, other: asyncio.TimerHandle) -> bool:
        if isinstance(other, _Timer):
            return self._order >= other._order
        return NotImplemented


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on a virtual clock that jumps to the next timer.

    Whenever no callback is ready, the loop's clock moves straight to the
    earliest timer instead of waiting for it; real file descriptors (other than
    the loop's own wake-up pipe) are still polled (without blocking) before the
    clock moves, and all of them at least every
    :attr:`_VirtualSelector.BUSY_POLL_EVERY` rounds while callbacks keep coming.
    Sleeps cost no real time; ready callbacks run first in, first out, and
    timers by deadline, then in the order they were scheduled.

    Args:
        start: The clock's initial reading, in seconds.
    """

    if TYPE_CHECKING:  # asyncio's own, which its stubs do not declare
        _scheduled: list[asyncio.TimerHandle]

        def _check_closed(self) -> None: ...

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = float(start)
        self._timer_seq = itertools.count()
        selector = _VirtualSelector(self)
        super().__init__(selector)
        selector.registered_own()
        # asyncio set it from the real clock; it is kept up to date as the clock moves.
        self._resolution: float = self._clock_resolution
        self._move_to(self._virtual_now)

    def _move_to(self, now: float) -> None:
        self._virtual_now = now
        # How early asyncio may run a timer: never less than a few float steps of
        # the clock, so that a timer due now runs however large the clock reads.
        self._clock_resolution = max(self._resolution, 4 * math.ulp(now))

    def time(self) -> float:
        """The virtual time."""
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the loop does this itself when idle)."""
        if seconds > 0:
            self._move_to(self._virtual_now + seconds)

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` at ``when``, after the timers already
        scheduled for that instant; the clock reads at least ``when`` when it runs.

        asyncio runs a timer up to its clock resolution early; on a virtual
        clock that would wake a sleeper before its deadline without time ever
        moving on (a task sleeping the remaining nanosecond again and again).
        """
        self._check_closed()
        timer = _Timer(
            when, next(self._timer_seq), self._at, (when, callback, *args), self, context
        )
        # What asyncio's own call_at does with a timer, with this loop's ordering.
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        return timer

    def _at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        if when > self._virtual_now:
            self._move_to(when)
        callback(*args)


def run_virtual(
    main: Callable[[], Awaitable[T]], *, start: float = 0.0
) -> tuple[T, float]:
    """Run ``main`` under anyio on a :class:`VirtualTimeLoop`.

    Returns:
        ``main``'s result and the wall-clock seconds the run took.
    """
    async def entry() -> T:
        return await main()

    began = time.perf_counter()
    result = anyio.run(
        entry, backend="asyncio",
        backend_options={"loop_factory": lambda: VirtualTimeLoop(start)},
    )
    return result, time.perf_counter() - began
