"""A runtime's periodic and scheduled callbacks: :class:`Callbacks`.

Theory of operation
-------------------
A strategy's quoting cycle, a progress display or an injected fault runs as a
callback at a given time, once or every so often
(:meth:`Runtime.every <lifecycle.runtime.driver.Runtime.every>`,
:meth:`Runtime.call_at <lifecycle.runtime.driver.Runtime.call_at>`). Each has
its own task of the session, in its own cancel scope, which has the calls made
at their times (:func:`~lifecycle.runtime.wakeups.call_at_times`: on asyncio
timer callbacks, so the task does not wake for each call, and an error a
callback raises is raised in it); callbacks registered before the session
starts wait for it. After each call the runtime is told that the engine may
have changed. :meth:`Callbacks.stop` (at shutdown) cancels them all, and
nothing registered afterwards runs.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
import anyio.abc

from lifecycle.runtime.vloop import current_time
from lifecycle.runtime.wakeups import call_at_times

__all__ = ["Callbacks"]

_Callback = Callable[[float], None]


class Callbacks:
    """The periodic and scheduled callbacks of one runtime (see the module docstring).

    Args:
        changed: Told after each call (the callback may have changed the engine).
    """

    def __init__(self, changed: Callable[[float], None]) -> None:
        self._changed = changed
        self._tg: anyio.abc.TaskGroup | None = None
        # Registered before the session started: (first at, interval, callback).
        self._pending: list[tuple[float, float | None, _Callback]] = []
        self._scopes: list[anyio.CancelScope] = []
        self._stopped = False

    def schedule(self, at: float, interval: float | None, callback: _Callback) -> None:
        """Call ``callback(now)`` at ``at``, then every ``interval`` if given."""
        if self._stopped:
            return
        if self._tg is None:
            self._pending.append((at, interval, callback))
        else:
            self._start(max(at, current_time()), interval, callback)

    def begin(self, tg: anyio.abc.TaskGroup) -> None:
        """The session runs in ``tg``: start the callbacks registered so far."""
        self._tg = tg
        pending, self._pending = self._pending, []
        for at, interval, callback in pending:
            self._start(max(at, current_time()), interval, callback)

    def end(self) -> None:
        """The session is over: later registrations wait for the next one."""
        self._tg = None

    def stop(self) -> None:
        """Cancel every callback; ignore those registered from now on."""
        self._stopped = True
        for scope in self._scopes:
            scope.cancel()

    def _start(self, at: float, interval: float | None, callback: _Callback) -> None:
        assert self._tg is not None
        scope = anyio.CancelScope()
        self._scopes.append(scope)
        self._tg.start_soon(self._task, scope, at, interval, callback)

    async def _task(
        self, scope: anyio.CancelScope, at: float, interval: float | None, callback: _Callback
    ) -> None:
        def call() -> float | None:
            nonlocal at
            now = current_time()
            callback(now)
            self._changed(now)
            if interval is None:
                return None
            at += interval
            return at

        with scope:
            await call_at_times(at, call)
