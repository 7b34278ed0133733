"""Benchmark of the Hyperliquid adapter's reaction path: a websocket fill to the signed request
it causes, through a loopback exchange. Not a test.

Run alone as ``.venv/bin/python bench/hyperliquid_ws.py`` (prints the figures as
JSON), or through :func:`measure` from ``bench/run.py``.

Theory of operation: one process, one asyncio loop (``lifecycle run``'s
:class:`~lifecycle.adapters.hyperliquid.run_session.WallClockLoop`), holding a
:class:`~lifecycle.adapters.hyperliquid.loopback.LoopbackExchange` on 127.0.0.1
(the ``none`` fault profile with 1-2 ms latencies, so a sample does not wait
100 ms for the simulated network) and the bot: a
:class:`~lifecycle.runtime.Runtime` over a
:class:`~lifecycle.adapters.hyperliquid.adapter.HyperliquidAdapter` reading a real
:class:`~lifecycle.adapters.hyperliquid.ws.WsSession` and posting with a real
``httpx.AsyncClient``. The strategy quotes a one-level ladder each side from
the websocket's ``bbo``, and quotes again **when a fill of ours is handled**
(a :class:`~lifecycle.runtime.RuntimeObserver`): a level that filled is placed
again at once.

One sample: the loopback fills one resting order of ours whole
(:meth:`LoopbackExchange.fill`); the fill reaches the bot on the websocket.

* **Start**: the adapter takes the first message carrying that fill
  (``userFills`` or ``user``) from the websocket session's buffer: a wrapper
  around the session's iterator reads ``time.perf_counter()`` as it hands the
  message to :meth:`HyperliquidAdapter.events`.
* **Stop**: the resulting ``order`` action, signed, its JSON body complete, is
  handed to the HTTP transport that writes it to the socket: a wrapper around
  httpx's transport reads ``time.perf_counter()`` on entry to
  ``handle_async_request`` (what follows is httpcore writing the bytes to the
  pooled keep-alive connection).

In between, all of it is timed: the codec decoding the frame and the fill
credit, the runtime handing the event to the engine (fill applied, order
ended), the strategy's re-quote (the reconciler's plan), the executor waking
and dispatching the placement in its own task, the action built (wire
numbers) and signed (msgpack, keccak, secp256k1), and the envelope encoded.
The sample is checked: the request must be an ``order`` action placing the
side that filled. The bot then waits for the new order to rest before the next
sample. Garbage is collected once before the samples.

Keys
----
``ws_fill_to_request_us``
    The median of :data:`SAMPLES` samples, microseconds. Target: at most 1,000.
``ws_fill_to_request_p90_us``
    Their 90th percentile, microseconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
from lifecycle.adapters.hyperliquid.adapter import HyperliquidAdapter
from lifecycle.adapters.hyperliquid.assets import Asset, AssetKind
from lifecycle.adapters.hyperliquid.loopback import LoopbackExchange
from lifecycle.adapters.hyperliquid.rest import L1ActionSigner, RestClient
from lifecycle.adapters.hyperliquid.run_market import Touch
from lifecycle.adapters.hyperliquid.run_session import WallClockLoop
from lifecycle.adapters.hyperliquid.signing import Signer
from lifecycle.adapters.hyperliquid.ws import WsItem, WsMessage, WsSession, user_subscriptions
from lifecycle.adapters.simulated import PROFILES, Latency
from measure import BenchError, log_to_stderr

from lifecycle.core.events import ExchangeEvent, OrderFilled
from lifecycle.core.ids import CloidFactory
from lifecycle.core.order import Side
from lifecycle.core.states import WORKING
from lifecycle.engine.facade import Engine
from lifecycle.policy.reconciler import Book
from lifecycle.runtime import Runtime
from lifecycle.sim.quoter import LadderQuoter

__all__ = ["SAMPLES", "measure"]

#: Fills timed per measurement.
SAMPLES = 100
#: A throwaway key (the official client's test key): never a funded one.
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
_PROFILE = dataclasses.replace(
    PROFILES["none"], rest_latency=Latency.fixed(0.002), ws_latency=Latency.fixed(0.001),
    snapshot_lag=Latency.fixed(0.01),
)
_BTC = Asset(name="BTC", asset_id=0, sz_decimals=5, kind=AssetKind.PERP, index=0)
_log = logging.getLogger("bench.hyperliquid_ws")


class _Probe:
    """Both ends of the timing: the fill's arrival and the request's hand-off."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.side: Side | None = None
        self.samples: list[float] = []
        self.done = asyncio.Event()
        self.armed = False

    def arm(self) -> None:
        self.started, self.armed = None, True
        self.done.clear()

    async def stream(self, session: WsSession) -> AsyncIterator[WsItem]:
        async for item in session:
            if (self.armed and self.started is None and isinstance(item, WsMessage)
                    and item.channel in ("userFills", "user")):
                now = time.perf_counter()
                data = bytes(item.data)  # a copy of a few hundred bytes, inside the span
                if b'"fills"' in data and b'"isSnapshot":true' not in data:
                    self.started = now
            yield item

    def sent(self, request: httpx.Request, at: float) -> None:
        if not self.armed or self.started is None or not request.url.path.endswith("/exchange"):
            return
        action = json.loads(request.content)["action"]
        if action["type"] != "order":
            return
        wanted = self.side is Side.BUY
        if [o["b"] for o in action["orders"]] != [wanted]:
            raise BenchError(f"ws_fill_to_request_us: the re-quote placed {action['orders']}")
        self.samples.append(at - self.started)
        self.armed = False
        self.done.set()


class _Timed(httpx.AsyncBaseTransport):
    def __init__(self, probe: _Probe) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._probe = probe

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._probe.sent(request, time.perf_counter())
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Requote:
    """The strategy: quote again whenever a fill of ours was handled."""

    def __init__(self, quote: Any) -> None:
        self.quote = quote

    def event_handled(self, event: ExchangeEvent, now: float, fills_applied: int) -> None:
        if fills_applied and isinstance(event, OrderFilled):
            self.quote()

    def engine_changed(self, now: float) -> None:
        return None


async def _session(samples: int) -> list[float]:
    signer = Signer(KEY)
    loopback = LoopbackExchange(accounts=[signer.address], faults=_PROFILE, seed=7)
    url = await loopback.start()
    probe = _Probe()
    client = httpx.AsyncClient(transport=_Timed(probe), timeout=10.0)
    rest = RestClient(client, url, rng=random.Random(1))
    session = WsSession(url.replace("http", "ws") + "/ws",
                        [*user_subscriptions(signer.address), {"type": "bbo", "coin": "BTC"}],
                        rng=random.Random(2))
    touch = Touch(rest, "BTC", fresh_s=3600.0)
    engine = Engine(cloids=CloidFactory("bench", 1))
    adapter = HyperliquidAdapter(rest, L1ActionSigner(signer, is_mainnet=False), _BTC,
                                 signer.address, stream=probe.stream(session),
                                 on_market=touch.on_market)
    quoter = LadderQuoter(levels=1, offset_bps=Decimal(3), size=Decimal("0.001"))
    runtime: Runtime

    def quote() -> None:
        book = Book(best_bid=touch.bid, best_ask=touch.ask, at=runtime.now())
        runtime.request(lambda e, t: quoter.quote(e, book, t))

    runtime = Runtime(engine, adapter, observer=_Requote(quote))
    try:
        async with session:
            await session.wait_ready()
            async with runtime.session():
                await _until(lambda: touch.at is not None)
                quote()
                gc.collect()
                for _ in range(samples):
                    order = await _until(lambda: _resting(engine))
                    probe.arm()
                    probe.side = order.side
                    loopback.fill(signer.address, order.oid, order.size)
                    await asyncio.wait_for(probe.done.wait(), 10.0)
                await runtime.close(cancel_all=True)
    finally:
        await client.aclose()
        await loopback.close()
    return probe.samples


def _resting(engine: Engine) -> Any:
    working = [o for o in engine.registry if o.state in WORKING and o.oid is not None]
    return working[0] if len(working) == 2 else None


async def _until(probe: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise BenchError("ws_fill_to_request_us: the loopback did not get there in time")
        await asyncio.sleep(0.002)
    return found


def measure(samples: int = SAMPLES) -> dict[str, float]:
    """Measure ``ws_fill_to_request_us`` (median) and its 90th percentile.

    Raises:
        BenchError: A sample's request was not the re-quote of the side that filled.
    """
    log_to_stderr()
    with asyncio.Runner(loop_factory=WallClockLoop) as runner:
        times = runner.run(_session(samples))
    if len(times) != samples:
        raise BenchError(f"ws_fill_to_request_us: {len(times)} samples of {samples}")
    micros = sorted(t * 1e6 for t in times)
    _log.info("ws_fill_to_request_us: %d samples, min %.0f, max %.0f", len(micros), micros[0],
              micros[-1])
    return {
        "ws_fill_to_request_us": statistics.median(micros),
        "ws_fill_to_request_p90_us": micros[int(len(micros) * 0.9) - 1],
    }


if __name__ == "__main__":
    json.dump(measure(), sys.stdout, indent=2)
    print()
