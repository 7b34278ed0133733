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
``MockClock``, shuffles tasks that wake together). Timers due at one instant
leave the heap in an order its whole history decides, so adding a timer (a
progress display) may change a run: keep the set of timers fixed between runs
meant to agree.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

__all__ = ["VirtualTimeLoop", "current_time", "run_virtual", "sleep"]

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
    #: Virtual time stands still in a busy round, and every idle round polls, so the
    #: skipped polls delay real I/O by microseconds of wall time and none of virtual time.
    BUSY_POLL_EVERY = 64

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop
        self._busy_rounds = 0

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
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # No timer at all: only real I/O (another thread) can wake the loop.
            return self._real.select(None)
        self._loop.advance(timeout)
        return []

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio event loop on a virtual clock that jumps to the next timer.

    Whenever no callback is ready, the loop's clock moves straight to the
    earliest timer instead of waiting for it; real file descriptors are still
    polled (without blocking) before the clock moves, and at least every
    :attr:`_VirtualSelector.BUSY_POLL_EVERY` rounds while callbacks keep coming.
    Sleeps cost no real time, and scheduling is asyncio's: first in, first
    out, timers by deadline then scheduling order.

    Args:
        start: The clock's initial reading, in seconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = float(start)
        self._resolution = time.get_clock_info("monotonic").resolution
        super().__init__(_VirtualSelector(self))

    @property
    def _clock_resolution(self) -> float:
        """How early asyncio may run a timer: never less than a few float steps of
        the clock, so that a timer due now runs however large the clock reads."""
        return max(self._resolution, 4 * math.ulp(self._virtual_now))

    @_clock_resolution.setter
    def _clock_resolution(self, value: float) -> None:
        # asyncio sets it once, from the real clock.
        self._resolution = value

    def time(self) -> float:
        """The virtual time."""
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (the loop does this itself when idle)."""
        if seconds > 0:
            self._virtual_now += seconds

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        """Schedule ``callback(*args)`` at ``when``; the clock reads at least ``when``
        when it runs.

        asyncio runs a timer up to its clock resolution early; on a virtual
        clock that would wake a sleeper before its deadline without time ever
        moving on (a task sleeping the remaining nanosecond again and again).
        """
        return super().call_at(when, self._at, when, callback, *args, context=context)

    def _at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        if when > self._virtual_now:
            self._virtual_now = when
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
