"""The Hyperliquid websocket session against a real ``websockets`` server on 127.0.0.1.

The session runs on the real clock with small intervals (the virtual-time loop
moves its clock whenever nothing is ready, so a silence timeout could expire
before loopback bytes are read). No test sleeps hoping something happened:
each waits on a condition the server or the consumer signals, with a generous
timeout only as a safety net.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from lifecycle.adapters.hyperliquid.ws import (
    PING,
    Reconnected,
    WsItem,
    WsMessage,
    WsSession,
    user_subscriptions,
    ws_url,
)
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from lifecycle.runtime.backoff import Backoff

#: The safety net of every wait (seconds); never reached when the code works.
SAFETY_S = 10.0
USER = "0x14791697260E4c9A71f18484C9f997B308e59325"
SUBSCRIPTIONS = user_subscriptions(USER)


class Peer:
    """One connection as the test server accepted it."""

    def __init__(self, ws: ServerConnection, index: int) -> None:
        self.ws = ws
        self.index = index
        self.received: list[Any] = []
        self.text_frames = True
        self.closed = False
        self.close_code: int | None = None

    @property
    def pings(self) -> int:
        return sum(1 for m in self.received if m == {"method": "ping"})

    @property
    def subscriptions(self) -> list[Any]:
        return [m for m in self.received if m.get("method") == "subscribe"]


class Harness:
    """A websocket server whose per-connection behaviour a test scripts, and the
    session's consumer; both signal one condition whenever anything happens."""

    def __init__(self, script: Callable[[Harness, Peer], Awaitable[None]]) -> None:
        self.script = script
        self.peers: list[Peer] = []
        self.items: list[WsItem] = []
        self.changed = asyncio.Condition()
        self.reject: Callable[[int], bool] = lambda attempt: False
        self.attempts = 0
        self._server: Server | None = None
        self.consumer_done = False

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(SAFETY_S), self.changed:
            await self.changed.wait_for(predicate)

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/ws"

    async def _process_request(
        self, ws: ServerConnection, request: Request
    ) -> Response | None:
        self.attempts += 1
        await self.notify()
        if self.reject(self.attempts):
            return ws.respond(503, "busy\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        peer = Peer(ws, len(self.peers))
        self.peers.append(peer)
        await self.notify()
        try:
            await self.script(self, peer)
        finally:
            await ws.wait_closed()
            peer.closed = True
            peer.close_code = ws.close_code
            await self.notify()

    async def read(self, peer: Peer, *, pong: bool = True, until: int | None = None) -> None:
        """Record what ``peer`` sends (answering pings when ``pong``), until it closes
        or, with ``until``, until it has sent that many messages."""
        async for frame in peer.ws:
            peer.text_frames &= isinstance(frame, str)
            message = json.loads(frame)
            peer.received.append(message)
            if pong and message == {"method": "ping"}:
                await peer.ws.send('{"channel":"pong"}')
            await self.notify()
            if until is not None and len(peer.received) >= until:
                return

    async def consume(self, session: WsSession) -> None:
        async for item in session:
            self.items.append(item)
            await self.notify()
        self.consumer_done = True
        await self.notify()

    @property
    def markers(self) -> list[Reconnected]:
        return [item for item in self.items if isinstance(item, Reconnected)]

    @property
    def messages(self) -> list[WsMessage]:
        return [item for item in self.items if isinstance(item, WsMessage)]


def run(
    script: Callable[[Harness, Peer], Awaitable[None]],
    scenario: Callable[[Harness, WsSession], Coroutine[Any, Any, None]],
    *,
    reject: Callable[[int], bool] | None = None,
    **options: Any,
) -> Harness:
    """Serve ``script``, open a session on it with ``options``, run ``scenario``
    while a consumer collects the session's items, then close everything."""
    harness = Harness(script)
    if reject is not None:
        harness.reject = reject

    async def main() -> None:
        async with serve(
            harness._handle, "127.0.0.1", 0, process_request=harness._process_request
        ) as server:
            harness._server = server
            settings: dict[str, Any] = {
                "ping_interval_s": 5.0, "silence_timeout_s": 10.0, "backoff_initial_s": 0.01,
                "backoff_max_s": 0.05, "rng": random.Random(7), "close_timeout_s": 1.0,
            }
            settings.update(options)
            session = WsSession(harness.url, SUBSCRIPTIONS, **settings)
            async with session:
                consumer = asyncio.create_task(harness.consume(session))
                await scenario(harness, session)
            async with asyncio.timeout(SAFETY_S):
                await consumer

    asyncio.run(main())
    return harness


async def subscribed_then_wait(harness: Harness, peer: Peer) -> None:
    await harness.read(peer, until=len(SUBSCRIPTIONS))


async def serve_forever(harness: Harness, peer: Peer) -> None:
    await harness.read(peer)


def test_ws_session_subscribes_and_delivers_only_channel_messages() -> None:
    async def script(harness: Harness, peer: Peer) -> None:
        await harness.read(peer, until=len(SUBSCRIPTIONS))
        await peer.ws.send("Websocket connection established.")
        for sub in SUBSCRIPTIONS:
            await peer.ws.send(json.dumps({
                "channel": "subscriptionResponse",
                "data": {"method": "subscribe", "subscription": sub},
            }))
        await peer.ws.send('{"channel":"pong"}')
        await peer.ws.send('[1, 2]')
        await peer.ws.send(json.dumps({"channel": "orderUpdates", "data": [{"status": "open"}]}))
        await peer.ws.send(json.dumps({"channel": "error", "data": "Invalid subscription"}))
        await peer.ws.send(json.dumps({"channel": "user"}).encode())
        await harness.read(peer)

    async def scenario(harness: Harness, session: WsSession) -> None:
        await session.wait_ready()
        await harness.until(lambda: len(harness.items) == 3)

    harness = run(script, scenario)
    (peer,) = harness.peers
    assert peer.subscriptions == [
        {"method": "subscribe", "subscription": sub} for sub in SUBSCRIPTIONS
    ]
    assert peer.text_frames
    assert [(m.channel, m.decode()) for m in harness.messages] == [
        ("orderUpdates", [{"status": "open"}]),
        ("error", "Invalid subscription"),
        ("user", None),
    ]
    assert harness.markers == []


def test_ws_session_acknowledgements_are_counted_not_delivered() -> None:
    async def script(harness: Harness, peer: Peer) -> None:
        await harness.read(peer, until=len(SUBSCRIPTIONS))
        for sub in SUBSCRIPTIONS:
            await peer.ws.send(json.dumps({
                "channel": "subscriptionResponse",
                "data": {"method": "subscribe", "subscription": sub},
            }))
        await peer.ws.send(json.dumps({"channel": "userFills", "data": {"isSnapshot": True}}))
        await harness.read(peer)

    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: len(harness.items) == 1)
        assert session.acknowledgements == len(SUBSCRIPTIONS)

    harness = run(script, scenario)
    assert [m.channel for m in harness.messages] == ["userFills"]


def test_ws_session_pings_keep_a_quiet_connection_alive() -> None:
    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: bool(harness.peers) and harness.peers[0].pings >= 30)

    # 30 pings, each sent at least 0.05 s after the one before, span more than one
    # silence timeout (the margin lets a loaded machine stall for over a second):
    # the server said nothing but pong, and the pongs kept the connection open.
    harness = run(serve_forever, scenario, ping_interval_s=0.05, silence_timeout_s=1.4)
    assert len(harness.peers) == 1
    assert harness.peers[0].received.count(json.loads(PING)) >= 30
    assert harness.items == []  # the pongs were not delivered


def test_ws_session_pings_every_interval_measured_by_the_server() -> None:
    arrivals: list[float] = []

    async def script(harness: Harness, peer: Peer) -> None:
        async for frame in peer.ws:
            if json.loads(frame) == {"method": "ping"}:
                arrivals.append(asyncio.get_running_loop().time())
                await peer.ws.send('{"channel":"pong"}')
                await harness.notify()

    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: len(arrivals) >= 4)
        assert session.pings_sent >= 4

    run(script, scenario, ping_interval_s=0.05)
    # Each ping is sent at least an interval after the one before (a sleep never
    # ends early), so they come paced, not in a flood; half an interval on
    # average leaves room for a late arrival of the first. That they come
    # before the silence timeout, the quiet-connection test shows.
    assert (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1) >= 0.05 / 2, arrivals


def test_ws_session_defaults_ping_every_30_s_and_call_60_s_silence_dead() -> None:
    session = WsSession("wss://api.hyperliquid.xyz/ws", SUBSCRIPTIONS)
    assert session.ping_interval_s == 30.0
    assert session.silence_timeout_s == 60.0


def test_ws_session_silence_aborts_and_reconnects() -> None:
    async def script(harness: Harness, peer: Peer) -> None:
        await harness.read(peer, pong=peer.index > 0)

    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: len(harness.markers) >= 1 and harness.peers[0].closed)

    harness = run(script, scenario, ping_interval_s=0.05, silence_timeout_s=0.3)
    first, second = harness.peers[:2]
    assert first.pings >= 1  # it pinged, got no pong, and gave up on the silence
    assert first.close_code == 1006  # aborted, no closing handshake
    marker = harness.markers[0]
    assert marker.lost == "silent for 0.3 s"
    assert marker.connection == 2
    assert second.subscriptions == first.subscriptions


@pytest.mark.parametrize("close", ["normal 1000", "abort", "1011"])
def test_ws_session_server_close_reconnects_resubscribes_and_marks(close: str) -> None:
    async def script(harness: Harness, peer: Peer) -> None:
        await harness.read(peer, until=len(SUBSCRIPTIONS))
        if peer.index == 0:
            await peer.ws.send(json.dumps({"channel": "orderUpdates", "data": ["before"]}))
            if close == "abort":
                peer.ws.transport.abort()
            else:
                await peer.ws.close(1000 if close == "normal 1000" else 1011)
            return
        await peer.ws.send(json.dumps({"channel": "orderUpdates", "data": ["after"]}))
        await harness.read(peer)

    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: len(harness.items) == 3)

    harness = run(script, scenario)
    assert len(harness.peers) == 2
    before, marker, after = harness.items
    assert isinstance(before, WsMessage) and before.decode() == ["before"]
    assert isinstance(marker, Reconnected)
    assert isinstance(after, WsMessage) and after.decode() == ["after"]
    assert marker.connection == 2 and len(marker.delays_s) == 1 and marker.down_s >= 0
    expected = {"normal 1000": "1000 (OK)", "abort": "no close frame", "1011": "1011"}[close]
    assert expected in marker.lost
    assert harness.peers[1].subscriptions == harness.peers[0].subscriptions


def test_ws_session_backoff_grows_with_seeded_jitter() -> None:
    closes = 5

    async def script(harness: Harness, peer: Peer) -> None:
        await harness.read(peer, until=len(SUBSCRIPTIONS))
        if peer.index < closes:
            await peer.ws.close()
            return
        await harness.read(peer)

    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: len(harness.markers) == closes)

    options: dict[str, Any] = {
        "backoff_initial_s": 0.01, "backoff_factor": 2.0, "backoff_max_s": 0.16,
        "backoff_jitter": 0.25,
    }
    harness = run(script, scenario, rng=random.Random(42), **options)
    delays = [marker.delays_s for marker in harness.markers]
    assert all(len(d) == 1 for d in delays)
    waits = [d[0] for d in delays]
    twin = Backoff(0.01, 2.0, 0.16, jitter=0.25, rng=random.Random(42))
    assert waits == [twin.failure(0.0) for _ in range(closes)]
    unjittered = [0.01 * 2**k for k in range(closes)]
    assert waits != unjittered
    assert all(0.75 * u <= w <= 1.25 * u for w, u in zip(waits, unjittered, strict=True))
    # With a factor of 2 and a jitter of 25%, every wait is longer than the one before.
    assert all(a < b for a, b in itertools.pairwise(waits))
    assert [m.connection for m in harness.markers] == list(range(2, closes + 2))


def test_ws_session_backoff_starts_again_after_a_stable_connection() -> None:
    closes = 4

    async def script(harness: Harness, peer: Peer) -> None:
        await harness.read(peer, until=len(SUBSCRIPTIONS))
        if peer.index < closes:
            # Wait for a ping: the connection has lived longer than stable_s.
            await harness.read(peer, until=len(SUBSCRIPTIONS) + 1)
            await peer.ws.close()
            return
        await harness.read(peer)

    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: len(harness.markers) == closes)

    harness = run(script, scenario, ping_interval_s=0.06, stable_s=0.05, backoff_jitter=0.0)
    assert [m.delays_s for m in harness.markers] == [(0.01,)] * closes


def test_ws_session_failed_handshakes_back_off_then_connect() -> None:
    async def script(harness: Harness, peer: Peer) -> None:
        await harness.read(peer, until=len(SUBSCRIPTIONS))
        if peer.index == 0:
            await peer.ws.close()
            return
        await harness.read(peer)

    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: len(harness.markers) == 1)

    harness = run(script, scenario, reject=lambda attempt: attempt in (2, 3),
                  backoff_jitter=0.0)
    (marker,) = harness.markers
    assert marker.delays_s == (0.01, 0.02, 0.04)
    assert harness.attempts == 4 and len(harness.peers) == 2


def test_ws_session_aclose_closes_1000_and_ends_the_iteration() -> None:
    async def scenario(harness: Harness, session: WsSession) -> None:
        await session.wait_ready()
        await harness.until(lambda: bool(harness.peers))
        await session.aclose()
        await harness.until(lambda: harness.consumer_done and harness.peers[0].closed)
        await session.aclose()  # idempotent
        assert [item async for item in session] == []

    harness = run(serve_forever, scenario)
    assert harness.peers[0].close_code == 1000
    assert len(harness.peers) == 1  # no reconnection after a close of ours


def test_ws_session_aclose_while_backing_off_ends_quietly() -> None:
    async def scenario(harness: Harness, session: WsSession) -> None:
        await harness.until(lambda: harness.attempts >= 2)
        await session.aclose()
        with pytest.raises(RuntimeError, match="ended before"):
            await session.wait_ready()

    harness = run(serve_forever, scenario, reject=lambda attempt: True, backoff_initial_s=0.01)
    assert harness.consumer_done and harness.peers == []


def test_ws_session_misuse_and_bad_settings_raise_naming_the_field() -> None:
    with pytest.raises(ValueError, match="url"):
        WsSession("https://api.hyperliquid.xyz/ws", SUBSCRIPTIONS)
    with pytest.raises(ValueError, match=r"subscriptions\[1\]"):
        WsSession("ws://127.0.0.1:1/ws", [{"type": "orderUpdates"}, {"user": "0x1"}])
    with pytest.raises(ValueError, match=r"subscriptions\[0\]: not JSON"):
        WsSession("ws://127.0.0.1:1/ws", [{"type": "orderUpdates", "user": object()}])
    with pytest.raises(ValueError, match="ping_interval_s"):
        WsSession("ws://127.0.0.1:1/ws", SUBSCRIPTIONS, ping_interval_s=60, silence_timeout_s=60)
    with pytest.raises(ValueError, match="stable_s"):
        WsSession("ws://127.0.0.1:1/ws", SUBSCRIPTIONS, stable_s=0)
    with pytest.raises(ValueError, match="jitter"):
        WsSession("ws://127.0.0.1:1/ws", SUBSCRIPTIONS, backoff_jitter=1.0)
    session = WsSession("ws://127.0.0.1:1/ws", SUBSCRIPTIONS)

    async def iterate_unstarted() -> None:
        with pytest.raises(RuntimeError, match="start"):
            await session.__anext__()

    asyncio.run(iterate_unstarted())


def test_ws_url_and_user_subscriptions() -> None:
    assert ws_url("https://api.hyperliquid.xyz") == "wss://api.hyperliquid.xyz/ws"
    assert ws_url("http://127.0.0.1:3001/") == "ws://127.0.0.1:3001/ws"
    with pytest.raises(ValueError, match="base_url"):
        ws_url("api.hyperliquid.xyz")
    user = USER.lower()
    assert user_subscriptions(USER, aggregate_by_time=True) == [
        {"type": "orderUpdates", "user": user},
        {"type": "userFills", "user": user, "aggregateByTime": True},
        {"type": "userEvents", "user": user},
    ]
