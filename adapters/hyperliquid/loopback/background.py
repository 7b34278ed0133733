"""The loopback exchange on a thread of its own, for synchronous clients.

Synchronous clients (the official SDK, which uses ``requests`` and a threaded
websocket client) block the thread that calls them, so the exchange they talk
to cannot share that thread's event loop. :class:`BackgroundLoopback` runs a
:class:`~.server.LoopbackExchange` on a new event loop in a daemon thread, and
:meth:`BackgroundLoopback.call` runs a function on that loop's thread, where
the exchange may be touched (a test's :meth:`~.server.LoopbackExchange.fill`).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .server import LoopbackExchange

__all__ = ["BackgroundLoopback"]

T = TypeVar("T")
#: How long starting, stopping or a call may take before it is an error.
_TIMEOUT_S = 30.0


class BackgroundLoopback:
    """A :class:`LoopbackExchange` serving from a thread of its own.

    Args:
        **options: The arguments of :class:`LoopbackExchange`.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback",
                                        daemon=True)
        self._exchange: LoopbackExchange | None = None
        self.url = ""

    def start(self) -> str:
        """Start the thread and the exchange; return its base URL."""
        self._thread.start()
        self._exchange = self.call(lambda: LoopbackExchange(**self._options))
        self.url = self._run(self._exchange.start())
        return self.url

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn()`` on the exchange's thread and return what it returns."""
        async def wrapped() -> T:
            return fn()
        return self._run(wrapped())

    def run(self, fn: Callable[[LoopbackExchange], T]) -> T:
        """Run ``fn(exchange)`` on the exchange's thread and return what it returns."""
        exchange = self._exchange
        if exchange is None:
            raise RuntimeError("the loopback is not started")
        return self.call(lambda: fn(exchange))

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_TIMEOUT_S)

    def stop(self) -> None:
        """Stop the exchange, its loop and its thread."""
        if self._exchange is not None:
            self._run(self._exchange.close())
            self._exchange = None
        if self._thread.is_alive():
            self._run(_drain())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_TIMEOUT_S)
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def __enter__(self) -> BackgroundLoopback:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _drain() -> None:
    """Let the tasks the exchange cancelled finish before the loop stops."""
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
