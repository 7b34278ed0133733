"""Wake-ups: sleeps and waits that something else can cut short.

Theory of operation
-------------------
:class:`Alarm` is a sleep that a model's clock can interrupt: the simulated
exchange rings it whenever it schedules something earlier than any sleeper's
wake-up time. :meth:`Alarm.watch` steps a model at the times it names (the
same rings bring a step forward), as timer callbacks on asyncio, so a task
that watches a model wakes only when the model has what it waits for, not at
every step; :func:`call_at_times` does the same for a runtime's periodic
callbacks. Tasks that need no clock wait until they are woken by name
(:meth:`Alarm.wait`, :meth:`Alarm.wake`): while one task watches the model,
the others wait for what is theirs. :class:`_Wake` is a service task's
wake-up call inside the runtime: anyone may set it, one task waits on it with
an optional deadline.

On asyncio both wait on a future with a timer handle (:func:`_resolve` settles
the future at most once): an anyio cancel scope per wait costs more than the
wait itself on the virtual clock. On another anyio backend an
:class:`anyio.Event` in a cancel scope does the same.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

import anyio

__all__ = ["Alarm", "call_at_times"]


class Alarm:
    """A sleep that can be cut short, for waiters that watch a model's clock.

    :meth:`sleep` returns after its delay or as soon as :meth:`ring` is told of
    something due before the sleeper's wake-up time, whichever comes first.
    The simulated exchange's adapter sleeps on one instead of polling, and the
    exchange rings it whenever it schedules something (see
    ``SimulatedAdapter(alarm=...)``). :meth:`watch` calls a step at the times it
    names, a ring bringing the next call forward. :meth:`wait` waits, with no
    clock, until :meth:`wake` names the waiter; ringing does not wake it.
    """

    __slots__ = ("_bells", "_event", "_wakes")

    def __init__(self) -> None:
        self._event: anyio.Event | None = None
        # A sleeper's key (its future on asyncio, else a token) -> its wake-up time.
        self._wakes: dict[object, float] = {}
        # A waiter's name -> what wakes it (a future on asyncio, else an anyio event).
        self._bells: dict[object, asyncio.Future[None] | anyio.Event] = {}

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

    async def watch(self, at: float, step: Callable[[], float | None]) -> None:
        """Call ``step()`` at ``at``, then at each time it returns, until it returns
        None (times on the loop's clock). A ring for something due sooner than the
        next call brings the call forward (to the ring's time on asyncio; to the
        ring itself elsewhere).

        A sleep and a call in a loop would do the same, waking the watching task
        at every step; on asyncio the steps run as timer callbacks instead, and
        the task wakes once, when ``step`` is done (or raises: the error is raised here).
        """
        await _call_at_times(at, step, self._wakes, self._sleep_anyio)

    def ring(self, at: float) -> None:
        """Something is due at ``at``: wake every sleeper if one would sleep past it."""
        wakes = self._wakes
        if not wakes or at >= min(wakes.values()):
            return
        for key in list(wakes):
            if isinstance(key, asyncio.Future):
                _resolve(key)
            elif isinstance(key, _Watch):
                key.arm(at)
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, name: object) -> None:
        """Wait until :meth:`wake` names this waiter (one waiter per name at a time)."""
        bell: asyncio.Future[None] | anyio.Event
        try:
            bell = asyncio.get_running_loop().create_future()
        except RuntimeError:  # another anyio backend
            bell = anyio.Event()
        self._bells[name] = bell
        try:
            await (bell.wait() if isinstance(bell, anyio.Event) else bell)
        finally:
            del self._bells[name]

    def wake(self, name: object) -> None:
        """Wake the waiter of that name, if one waits."""
        bell = self._bells.get(name)
        if isinstance(bell, asyncio.Future):
            _resolve(bell)
        elif bell is not None:
            bell.set()


async def call_at_times(at: float, step: Callable[[], float | None]) -> None:
    """Call ``step()`` at ``at``, then at each time it returns, until it returns None
    (times on the runtime's clock). On asyncio the calls are timer callbacks, and
    the calling task wakes once, when ``step`` is done (or raises: the error is
    raised here); elsewhere the task sleeps between the calls."""
    await _call_at_times(at, step, None, _sleep)


async def _sleep(seconds: float) -> None:
    await anyio.sleep(seconds)


async def _call_at_times(
    at: float, step: Callable[[], float | None], wakes: dict[object, float] | None,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # another anyio backend: sleep and call in the task
        next_at: float | None = at
        while next_at is not None:
            await sleep(max(0.0, next_at - anyio.current_time()))
            next_at = step()
        return
    watch = _Watch(wakes, loop, step)
    watch.arm(at)
    try:
        await watch.done
    finally:
        watch.stop()


class _Watch:
    """One :meth:`Alarm.watch` or :func:`call_at_times` on asyncio: its step runs as
    a timer callback."""

    __slots__ = ("_handle", "_loop", "_step", "_wakes", "done")

    def __init__(
        self, wakes: dict[object, float] | None, loop: asyncio.AbstractEventLoop,
        step: Callable[[], float | None],
    ) -> None:
        self._wakes = wakes
        self._loop = loop
        self._step = step
        self._handle: asyncio.Handle | None = None
        #: Settled when the step is done (or raised).
        self.done: asyncio.Future[None] = loop.create_future()

    def arm(self, at: float) -> None:
        """Call the step at ``at`` (instead of any time it was armed for)."""
        self.stop()
        self._handle = self._loop.call_at(at, self._fire)
        if self._wakes is not None:  # an alarm's: rings may bring it forward
            self._wakes[self] = at

    def stop(self) -> None:
        """Call the step no more (until armed again)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._wakes is not None:
            self._wakes.pop(self, None)

    def _fire(self) -> None:
        self._handle = None
        if self._wakes is not None:
            self._wakes.pop(self, None)
        try:
            at = self._step()
        except Exception as exc:  # raised in the watching task
            if not self.done.done():
                self.done.set_exception(exc)
            return
        if at is None:
            _resolve(self.done)
        else:
            self.arm(at)


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

