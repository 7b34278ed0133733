"""Hyperliquid's websocket: one session that stays subscribed across disconnects.

Theory of operation
-------------------
A :class:`WsSession` owns one background task (started by :meth:`WsSession.start`
or ``async with``) that keeps one connection open with the ``websockets``
asyncio client and delivers what arrives to the consumer, who iterates the
session::

    async with WsSession(ws_url(base), user_subscriptions(account)) as session:
        await session.wait_ready()         # subscribed: now take the first snapshot
        async for item in session:
            if isinstance(item, Reconnected):
                ...                        # full safety sync and fill catch-up
            else:
                ...                        # item.channel, item.data (raw JSON)

Each connection sends the session's whole subscription list, then reads. The
server closes connections at will, with code 1000 as well as 1006, and some
connections go half-open without a close at all; so:

* **every close reconnects**, a normal one too, after a jittered exponential
  backoff (the runtime's :class:`~lifecycle.runtime.backoff.Backoff` on a
  seeded ``random.Random``), which grows while attempts fail or connections
  die young and starts again once a connection has lived ``stable_s``;
* an application ping, ``{"method": "ping"}``, goes out every
  ``ping_interval_s`` (30 s by default; the server drops a connection it has
  heard nothing from for 60 s), and its ``pong`` counts as traffic;
* a connection silent for ``silence_timeout_s`` (60 s) is dead: its transport
  is aborted (a closing handshake would wait on a peer that is gone) and the
  session reconnects. Only time spent waiting for a frame counts as silence,
  not time spent waiting for a slow consumer.

Hyperliquid replays nothing of ``orderUpdates`` or ``userEvents`` after a
reconnect, and its ``userFills`` snapshot (``isSnapshot: true``) repeats fills
already seen and never moves a position. So after every reconnect, once the
subscriptions are sent again and before any message of the new connection,
the consumer receives a :class:`Reconnected` marker: the adapter's cue for a
full safety sync and a fill catch-up. The first connection gets no marker;
:meth:`WsSession.wait_ready` tells when it is subscribed.

Frames are split once, into their ``channel`` and their ``data`` kept as raw
JSON bytes (:class:`WsMessage`), for the adapter's typed decoders.
``subscriptionResponse`` acknowledgements and ``pong`` are handled here; the
text greeting ``Websocket connection established.`` and other frames that are
not channel messages are skipped; ``error`` messages are logged and delivered.

Time is read with the runtime's clock (:func:`~lifecycle.runtime.vloop.sleep`,
:func:`~lifecycle.runtime.vloop.current_time`, and asyncio timeouts, which read
the loop's clock). A session is meant for the real clock: on the virtual-time
loop, which moves its clock whenever nothing is ready, every silence timeout
would expire before the network could answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import anyio
import msgspec
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidURI, WebSocketException
from websockets.uri import parse_uri

from lifecycle.runtime.backoff import Backoff
from lifecycle.runtime.vloop import current_time, sleep

__all__ = [
    "PING",
    "Reconnected",
    "WsItem",
    "WsMessage",
    "WsSession",
    "user_subscriptions",
    "ws_url",
]

log = logging.getLogger(__name__)

#: Hyperliquid's application-level ping (answered by ``{"channel": "pong"}``).
PING = '{"method":"ping"}'

#: What a failed connection attempt raises (refused, reset, timed out, bad handshake).
_CONNECT_ERRORS = (OSError, TimeoutError, EOFError, WebSocketException)


class WsMessage(msgspec.Struct, frozen=True):
    """One channel message: ``{"channel": ..., "data": ...}``.

    Attributes:
        channel: ``orderUpdates``, ``userFills``, ``user`` (what ``userEvents``
            delivers on), ``error``, ``post``...
        data: The ``data`` member as raw JSON (``null`` when absent), for a
            typed decoder: ``msgspec.json.decode(message.data, type=...)``.
    """

    channel: str
    data: msgspec.Raw

    def decode(self) -> Any:
        """``data`` as Python objects."""
        return msgspec.json.decode(self.data)


class Reconnected(msgspec.Struct, frozen=True, kw_only=True):
    """The session reconnected and subscribed again: messages may have been lost.

    Delivered before any message of the new connection. Nothing is replayed,
    so the consumer runs a full safety sync and a fill catch-up.

    Attributes:
        connection: The new connection's number (2 for the first reconnect).
        lost: Why the previous connection ended (a close and its code, silence...).
        delays_s: The backoff waits before each connection attempt since then
            (more than one when attempts failed).
        down_s: From the loss to the subscriptions sent again, on the runtime's clock.
    """

    connection: int
    lost: str
    delays_s: tuple[float, ...]
    down_s: float


#: What iterating a session yields.
WsItem = WsMessage | Reconnected


class _Envelope(msgspec.Struct):
    channel: str
    data: msgspec.Raw = msgspec.Raw(b"null")


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def ws_url(base_url: str) -> str:
    """The websocket URL of a REST base URL (``https://api.hyperliquid.xyz`` ->
    ``wss://api.hyperliquid.xyz/ws``)."""
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    return "ws" + base_url.removeprefix("http").rstrip("/") + "/ws"


def user_subscriptions(user: str, *, aggregate_by_time: bool = False) -> list[dict[str, Any]]:
    """The subscriptions an order tracker needs for one account: ``orderUpdates``,
    ``userFills`` and ``userEvents`` (``user`` is the account, never an API wallet,
    lowercased)."""
    account = user.lower()
    return [
        {"type": "orderUpdates", "user": account},
        {"type": "userFills", "user": account, "aggregateByTime": aggregate_by_time},
        {"type": "userEvents", "user": account},
    ]


class WsSession:
    """A websocket connection to Hyperliquid that resubscribes after every close.

    Args:
        url: ``wss://api.hyperliquid.xyz/ws`` (see :func:`ws_url`).
        subscriptions: The ``subscription`` objects to send on every
            connection (see :func:`user_subscriptions`); each needs a ``type``.
        ping_interval_s: Between two application pings.
        silence_timeout_s: Silence after which a connection is dead (must
            exceed ``ping_interval_s``, since the pong is what breaks silence).
        backoff_initial_s: The wait before the first reconnection attempt.
        backoff_factor: Growth of the wait per further failure.
        backoff_max_s: The longest wait (before jitter).
        backoff_jitter: Each wait is scaled by a factor drawn from
            ``[1 - jitter, 1 + jitter]``.
        stable_s: A connection that lived this long resets the backoff.
        rng: Where the jitter is drawn from (seed it for reproducible runs).
        open_timeout_s: Longest wait for the opening handshake.
        close_timeout_s: Longest wait for the closing handshake.
        max_size_bytes: Largest message accepted (a fill snapshot can be big).
        max_pending: Messages buffered for a slow consumer before reading stops.
    """

    def __init__(
        self,
        url: str,
        subscriptions: Sequence[Mapping[str, Any]],
        *,
        ping_interval_s: float = 30.0,
        silence_timeout_s: float = 60.0,
        backoff_initial_s: float = 0.5,
        backoff_factor: float = 2.0,
        backoff_max_s: float = 30.0,
        backoff_jitter: float = 0.5,
        stable_s: float = 60.0,
        rng: random.Random | None = None,
        open_timeout_s: float = 10.0,
        close_timeout_s: float = 5.0,
        max_size_bytes: int = 16 * 2**20,
        max_pending: int = 10_000,
    ) -> None:
        try:
            parse_uri(url)
        except InvalidURI as exc:
            raise ValueError(f"url: {exc}") from None
        #: The subscribe frames, encoded once and sent again on every connection.
        self._subscribe_frames: list[str] = []
        for i, sub in enumerate(subscriptions):
            if not isinstance(sub, Mapping) or not isinstance(sub.get("type"), str):
                raise ValueError(f"subscriptions[{i}]: needs a string 'type', got {sub!r}")
            try:
                frame = msgspec.json.encode({"method": "subscribe", "subscription": dict(sub)})
            except (TypeError, ValueError) as exc:
                raise ValueError(f"subscriptions[{i}]: not JSON: {exc}") from None
            self._subscribe_frames.append(frame.decode())
        if not 0 < ping_interval_s < silence_timeout_s:
            raise ValueError(
                "need 0 < ping_interval_s < silence_timeout_s, got "
                f"ping_interval_s={ping_interval_s}, silence_timeout_s={silence_timeout_s}"
            )
        for name, value in (
            ("stable_s", stable_s), ("open_timeout_s", open_timeout_s),
            ("close_timeout_s", close_timeout_s), ("max_size_bytes", max_size_bytes),
            ("max_pending", max_pending),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.url = url
        self.subscriptions = [dict(sub) for sub in subscriptions]
        self.ping_interval_s = ping_interval_s
        self.silence_timeout_s = silence_timeout_s
        self.stable_s = stable_s
        self._backoff = Backoff(
            backoff_initial_s, backoff_factor, backoff_max_s, jitter=backoff_jitter,
            rng=rng if rng is not None else random.Random(),
        )
        self._connect_options: dict[str, Any] = {
            "open_timeout": open_timeout_s, "close_timeout": close_timeout_s,
            "max_size": max_size_bytes,
            # The application ping below is the keepalive the server expects.
            "ping_interval": None,
        }
        self._max_pending = max_pending
        #: Connections opened and subscribed so far.
        self.connections = 0
        #: Application pings sent so far.
        self.pings_sent = 0
        #: ``subscriptionResponse`` acknowledgements received so far.
        self.acknowledgements = 0
        self._task: asyncio.Task[None] | None = None
        self._sender: MemoryObjectSendStream[WsItem] | None = None
        self._receiver: MemoryObjectReceiveStream[WsItem] | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._failure: BaseException | None = None

    # --- the consumer's side ---------------------------------------------------------

    def start(self) -> None:
        """Start connecting (in a task of the running loop). Call :meth:`aclose` when done."""
        if self._task is not None:
            raise RuntimeError("WsSession.start: already started")
        self._sender, self._receiver = anyio.create_memory_object_stream[WsItem](
            self._max_pending
        )
        self._task = asyncio.get_running_loop().create_task(self._run(self._sender))

    async def __aenter__(self) -> WsSession:
        self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> WsSession:
        return self

    async def __anext__(self) -> WsItem:
        if self._receiver is None:
            raise RuntimeError("WsSession: call start() (or use async with) before iterating")
        if self._closing:
            raise StopAsyncIteration
        try:
            return await self._receiver.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            if self._failure is not None:
                raise self._failure from None
            raise StopAsyncIteration from None

    async def wait_ready(self) -> None:
        """Return once the first connection has sent its subscriptions.

        Raises:
            RuntimeError: The session ended (closed, or failed) before that.
        """
        if self._task is None:
            raise RuntimeError("WsSession: call start() (or use async with) first")
        await self._ready.wait()
        if not self.connections:
            raise RuntimeError("WsSession ended before its first connection was subscribed")

    async def aclose(self) -> None:
        """Close the connection (code 1000), stop reconnecting, and end the iteration.

        Idempotent; a consumer waiting in ``async for`` stops quietly.
        """
        self._closing = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait({task})
        if self._receiver is not None:
            self._receiver.close()

    # --- the connection task ---------------------------------------------------------

    async def _run(self, sender: MemoryObjectSendStream[WsItem]) -> None:
        # The loss not yet reported (why, when); None until a connection was subscribed.
        gap: tuple[str, float] | None = None
        # The backoff waits since that loss (or since the start).
        delays: list[float] = []
        try:
            while True:
                try:
                    ws = await connect(self.url, **self._connect_options)
                except _CONNECT_ERRORS as exc:
                    why = f"connecting failed ({type(exc).__name__}: {exc})"
                    delays.append(await self._wait(why))
                    continue
                began = current_time()
                lost, subscribed = await self._serve(ws, sender, gap, delays)
                if subscribed:
                    gap, delays = (lost, current_time()), []
                    if current_time() - began >= self.stable_s:
                        self._backoff.success()
                delays.append(await self._wait(lost))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A bug, not the network: give it to the consumer instead of retrying forever.
            log.error("websocket session failed", exc_info=True)
            self._failure = exc
        finally:
            sender.close()
            self._ready.set()

    async def _wait(self, why: str) -> float:
        hold = self._backoff.failure(current_time())
        log.info("websocket %s: %s; reconnecting in %.3f s", self.url, why, hold)
        await sleep(hold)
        return hold

    async def _serve(
        self,
        ws: ClientConnection,
        sender: MemoryObjectSendStream[WsItem],
        gap: tuple[str, float] | None,
        delays: list[float],
    ) -> tuple[str, bool]:
        """Subscribe and read one connection until it ends: (why it ended, whether it
        got as far as being subscribed)."""
        silent = subscribed = False
        try:
            for frame in self._subscribe_frames:
                await ws.send(frame)
            subscribed = True
            self.connections += 1
            if gap is not None:
                lost, at = gap
                await sender.send(Reconnected(
                    connection=self.connections, lost=lost, delays_s=tuple(delays),
                    down_s=current_time() - at,
                ))
            self._ready.set()
            pinger = asyncio.get_running_loop().create_task(self._ping(ws))
            try:
                why, silent = await self._read(ws, sender)
            finally:
                pinger.cancel()
                await asyncio.wait({pinger})
            if not pinger.cancelled() and (error := pinger.exception()) is not None:
                raise error
            return why, subscribed
        except ConnectionClosed as exc:
            return f"closed: {exc}", subscribed
        finally:
            if silent:
                # Half-open: a closing handshake would wait on a peer that is gone.
                ws.transport.abort()
            # Idempotent and bounded by close_timeout; after an abort it only
            # waits for the transport to be released.
            await ws.close()

    async def _read(
        self, ws: ClientConnection, sender: MemoryObjectSendStream[WsItem]
    ) -> tuple[str, bool]:
        """Deliver what ``ws`` receives until it closes or falls silent: (why it
        ended, whether by silence)."""
        while True:
            try:
                async with asyncio.timeout(self.silence_timeout_s):
                    frame = await ws.recv()
            except TimeoutError:
                return f"silent for {self.silence_timeout_s} s", True
            except ConnectionClosed as exc:
                return f"closed: {exc}", False
            item = self._decode(frame)
            if item is not None:
                await sender.send(item)

    async def _ping(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await sleep(self.ping_interval_s)
                await ws.send(PING)
                self.pings_sent += 1

    def _decode(self, frame: str | bytes) -> WsMessage | None:
        try:
            envelope = _ENVELOPE.decode(frame)
        except msgspec.DecodeError:
            # The greeting "Websocket connection established." and anything else
            # that is no channel message.
            log.debug("websocket: skipped a frame that is no channel message")
            return None
        if envelope.channel == "pong":
            return None
        if envelope.channel == "subscriptionResponse":
            self.acknowledgements += 1
            return None
        if envelope.channel == "error":
            log.warning("websocket error message: %s", bytes(envelope.data)[:500].decode(
                errors="replace"))
        return WsMessage(envelope.channel, envelope.data)
