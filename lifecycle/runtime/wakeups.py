"""Wake-ups: sleeps and waits that something else can cut short.

Theory of operation
-------------------
:class:`Alarm` is a sleep that a model's clock can interrupt: the simulated
exchange rings it whenever it schedules something earlier than any sleeper's
wake-up time. :class:`_Wake` is a service task's wake-up call inside the
runtime: anyone may set it, one task waits on it with an optional deadline.

On asyncio both wait on a future with a timer handle (:func:`_resolve` settles
the future at most once): an anyio cancel scope per wait costs more than the
wait itself on the virtual clock. On another anyio backend an
:class:`anyio.Event` in a cancel scope does the same.
"""

from __future__ import annotations

import asyncio
import math

import anyio

__all__ = ["Alarm"]


class Alarm:
    """A sleep that can be cut short, for waiters that watch a model's clock.

    :meth:`sleep` returns after its delay or as soon as :meth:`ring` is told of
    something due before the sleeper's wake-up time, whichever comes first.
    The simulated exchange's adapter sleeps on one instead of polling, and the
    exchange rings it whenever it schedules something (see
    ``SimulatedAdapter(alarm=...)``).
    """

    __slots__ = ("_event", "_wakes")

    def __init__(self) -> None:
        self._event: anyio.Event | None = None
        # A sleeper's key (its future on asyncio, else a token) -> its wake-up time.
        self._wakes: dict[object, float] = {}

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or until rung for something due sooner."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another anyio backend: a cancel scope does the timing
            await self._sleep_anyio(seconds)
            return
        # On asyncio, a future and a timer handle: a cancel scope per wait costs
        # more than the wait itself on the virtual clock.
        future: asyncio.Future[None] = loop.create_future()
        handle = loop.call_later(seconds, _resolve, future)
        self._wakes[future] = loop.time() + seconds
        try:
            await future
        finally:
            handle.cancel()
            del self._wakes[future]

    async def _sleep_anyio(self, seconds: float) -> None:
        token = object()
        self._wakes[token] = anyio.current_time() + seconds
        if self._event is None:
            self._event = anyio.Event()
        event = self._event
        try:
            with anyio.move_on_after(seconds):
                await event.wait()
        finally:
            del self._wakes[token]

    def ring(self, at: float) -> None:
        """Something is due at ``at``: wake every sleeper if one would sleep past it."""
        wakes = self._wakes
        if not wakes or at >= min(wakes.values()):
            return
        for key in wakes:
            if isinstance(key, asyncio.Future):
                _resolve(key)
        if self._event is not None:
            self._event.set()
            self._event = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Wake:
    """A service task's wake-up call: :meth:`set` by anyone, :meth:`wait` by one task.

    :meth:`wait` returns at once if the call was set since the last wait, else
    when it is set or the deadline passes, and clears it. On asyncio it waits
    on a future with a timer handle: an anyio cancel scope per wait costs more
    than the wait itself on the virtual clock. On another backend an
    :class:`anyio.Event` in a cancel scope does the same.
    """

    __slots__ = ("_event", "_future", "_is_set")

    def __init__(self) -> None:
        self._is_set = False
        self._future: asyncio.Future[None] | None = None
        self._event: anyio.Event | None = None

    def set(self) -> None:
        """Wake the waiter, or let its next :meth:`wait` return at once."""
        self._is_set = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)
        if self._event is not None:
            self._event.set()

    async def wait(self, deadline: float | None) -> None:
        """Wait until set, or until ``deadline`` (runtime clock) if given; then clear."""
        if not self._is_set:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                await self._wait_anyio(deadline)
            else:
                future: asyncio.Future[None] = loop.create_future()
                handle = None if deadline is None else loop.call_at(deadline, _resolve, future)
                self._future = future
                try:
                    await future
                finally:
                    self._future = None
                    if handle is not None:
                        handle.cancel()
        self._is_set = False

    async def _wait_anyio(self, deadline: float | None) -> None:
        event = self._event = anyio.Event()
        try:
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline):
                await event.wait()
        finally:
            self._event = None

