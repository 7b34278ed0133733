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

Sockets in virtual time
-----------------------
A client and a server on this loop talking over 127.0.0.1 (the loopback
exchange and the Hyperliquid adapter) are two ends of real sockets: bytes one
end sends are in the kernel until the other end's reader sees them. On Linux
a loopback send is delivered before ``send`` returns almost always, but not
by contract (a busy machine may defer the delivery to a kernel thread). Were
the clock to move while an answer is still on its way, the answer would
arrive later in virtual time than it was sent, by however far the clock
jumped: the run would depend on the machine's load.

The loop therefore counts the bytes every socket transport it made
(:meth:`VirtualTimeLoop._make_socket_transport`) has sent and received.
When it is idle and about to move the clock, and more bytes were sent than
received (an answer in flight between two ends on this loop), or a socket
waits to become writable (a connect in progress), it first waits on the
selector for up to :attr:`_VirtualSelector.IN_FLIGHT_WAIT_S` of real time;
the wait ends as soon as anything is ready, which on loopback is at once.
Only when that bound passes with nothing ready does the clock move anyway,
and the bytes still missing are written off (sent to a peer on another loop
or process, or to a reader that stopped reading), so that each such gap
costs one wait, not one per idle round; :attr:`VirtualTimeLoop.io_stats`
counts these waits and write-offs. The bound is far above a loopback
delivery (microseconds; a 600-second simulation over the loopback exchange
never reached it), so the clock moves only once every byte sent between the
two ends has been read: the same program and seed give the same run. A
connection's close is not counted (it carries no bytes): it is delivered as
synchronously as data on loopback, and a run relies on that.

With no socket but the loop's own wake-up pipe registered, none of this
runs: an idle round moves the clock without a system call, as before.
Address lookups (:meth:`VirtualTimeLoop.getaddrinfo`) run inline, not on an
executor thread: a thread's answer arrives in real time, while the clock
would run ahead; a numeric host (127.0.0.1) resolves without any lookup.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import math
import selectors
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

__all__ = ["IoStats", "VirtualTimeLoop", "clock", "current_time", "run_virtual", "sleep"]

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


@dataclasses.dataclass
class IoStats:
    """What the loop's sockets cost in real time (see "Sockets in virtual time")."""

    #: Bytes sent and received by the loop's socket transports.
    sent: int = 0
    received: int = 0
    #: Idle rounds that waited on the selector for I/O in flight before moving the clock.
    waits: int = 0
    #: Waits that reached the bound with nothing ready (the clock moved anyway).
    timeouts: int = 0
    #: The longest wait, in real seconds.
    longest_wait_s: float = 0.0
    #: Bytes sent and never received on this loop, written off after a wait's bound.
    written_off: int = 0

    def in_flight(self) -> int:
        """Bytes sent by one end on this loop and not yet read by the other."""
        return self.sent - self.received - self.written_off

    def took(self, n: int) -> None:
        """``n`` bytes were received; bytes written off and read after all are taken back."""
        self.received += n
        if self.written_off and self.sent - self.received < self.written_off:
            self.written_off = max(0, self.sent - self.received)


class _CountingSocket:
    """A transport's socket that counts the bytes it sends and receives into ``stats``.

    Only the calls a selector transport makes are counted; everything else
    passes through to the socket.
    """

    __slots__ = ("_sock", "_stats")

    def __init__(self, sock: socket.socket, stats: IoStats) -> None:
        self._sock = sock
        self._stats = stats

    def send(self, data: Any, *flags: int) -> int:
        n = self._sock.send(data, *flags)
        self._stats.sent += n
        return n

    def recv(self, size: int, *flags: int) -> bytes:
        data = self._sock.recv(size, *flags)
        self._stats.took(len(data))
        return data

    def recv_into(self, buffer: Any, *args: int) -> int:
        n = self._sock.recv_into(buffer, *args)
        self._stats.took(n)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _VirtualSelector(selectors.BaseSelector):
    """A selector that never blocks on time: it advances its loop's virtual clock instead."""

    #: Busy rounds (callbacks ready) between two polls of the real file descriptors.
    #: Virtual time stands still in a busy round, and every idle round polls (when
    #: anything but the loop's own wake-up pipe is registered), so the skipped polls
    #: delay real I/O by microseconds of wall time and none of virtual time.
    BUSY_POLL_EVERY = 64
    #: The longest real wait for I/O in flight before the clock moves anyway (module
    #: docstring). A loopback delivery takes microseconds; the bound only caps what a
    #: byte sent to a peer off this loop costs.
    IN_FLIGHT_WAIT_S = 0.25

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop
        self._busy_rounds = 0
        self._own = 0
        self._own_fds: frozenset[int] = frozenset()
        # Writers that stayed unwritable through a whole wait: not waited for again.
        self._stuck_writers: frozenset[int] = frozenset()

    def registered_own(self) -> None:
        """The loop has registered its own wake-up pipe (and nothing else) so far.

        What that pipe signals (``call_soon_threadsafe``) is in the ready queue
        already: an idle round need not poll the pipe before moving the clock;
        the busy rounds' polls drain it.
        """
        self._own = len(self._real.get_map())
        self._own_fds = frozenset(key.fd for key in self._real.get_map().values())

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
            ready = self._wait_in_flight()
            if ready:
                return ready
        self._loop.advance(timeout)
        return []

    def _writers(self) -> frozenset[int]:
        return frozenset(
            key.fd for key in self._real.get_map().values()
            if key.events & selectors.EVENT_WRITE and key.fd not in self._own_fds
        )

    def _wait_in_flight(self) -> list[tuple[selectors.SelectorKey, int]]:
        """Before the clock moves: wait a bounded real time for I/O in flight (module
        docstring); what is still missing after the bound is written off."""
        stats = self._loop.io_stats
        writers = self._writers()
        if stats.in_flight() <= 0 and writers <= self._stuck_writers:
            return []
        stats.waits += 1
        began = time.perf_counter()
        ready = self._real.select(self.IN_FLIGHT_WAIT_S)
        waited = time.perf_counter() - began
        stats.longest_wait_s = max(stats.longest_wait_s, waited)
        if not ready:
            stats.timeouts += 1
            stats.written_off += max(0, stats.in_flight())
            self._stuck_writers = writers
        return ready

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
        #: Bytes its socket transports moved, and the real waits for them.
        self.io_stats = IoStats()
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

    def _make_socket_transport(
        self, sock: socket.socket, protocol: asyncio.BaseProtocol, waiter: Any = None,
        *, extra: Any = None, server: Any = None,
    ) -> asyncio.Transport:
        """asyncio's socket transport, with its bytes counted (module docstring)."""
        transport: Any = super()._make_socket_transport(  # type: ignore[misc]
            sock, protocol, waiter, extra=extra, server=server
        )
        transport._sock = _CountingSocket(transport._sock, self.io_stats)
        result: asyncio.Transport = transport
        return result

    async def getaddrinfo(
        self, host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        """Resolve inline, not on a thread whose answer would come in real time."""
        return socket.getaddrinfo(host, port, family, type, proto, flags)


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
