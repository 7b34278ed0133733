"""The dead man's switch over ``httpx.MockTransport``, on the virtual clock.

It is armed at once and every third of its delay, always that delay ahead; the
volume gate's refusal is logged once and stops it; other failures are retried
at the next refresh; shutdown clears it only when it was armed.
"""

from __future__ import annotations

import json
import random
from typing import Any

import anyio
import httpx
import pytest
from lifecycle.adapters.hyperliquid.deadman import DeadMansSwitch
from lifecycle.adapters.hyperliquid.rest import L1ActionSigner, RestClient
from lifecycle.adapters.hyperliquid.signing import Signer

from lifecycle.runtime import current_time, run_virtual

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
START = 1_700_000_000.0
LOCKED = ("Cannot set scheduled cancel time until enough volume traded. Required: $1000000. "
          "Traded: $373.47205.")
OK = {"status": "ok", "response": {"type": "default"}}


class Exchange:
    """Answers every ``/exchange`` with the next reply (the last repeats); records the actions."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.actions: list[tuple[float, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.actions.append((current_time(), json.loads(request.content)["action"]))
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        return reply if isinstance(reply, httpx.Response) else httpx.Response(200, json=reply)


def switch(exchange: Exchange, after_s: float = 30.0) -> DeadMansSwitch:
    client = httpx.AsyncClient(transport=httpx.MockTransport(exchange))
    rest = RestClient(client, "http://127.0.0.1:1", rng=random.Random(1))
    sign = L1ActionSigner(Signer(KEY), is_mainnet=False)
    return DeadMansSwitch(rest, sign, after_s=after_s,
                          epoch_ms=lambda: round(current_time() * 1000))


def run_for(dead: DeadMansSwitch, seconds: float) -> None:
    async def main() -> None:
        with anyio.move_on_after(seconds):
            await dead.run()

    run_virtual(main, start=START)


def test_it_is_armed_at_once_and_every_third_of_its_delay_that_far_ahead() -> None:
    exchange = Exchange(OK)
    dead = switch(exchange, after_s=30.0)
    run_for(dead, 35.0)
    assert [at - START for at, _ in exchange.actions] == pytest.approx([0, 10, 20, 30])
    for at, action in exchange.actions:
        assert action == {"type": "scheduleCancel", "time": round((at + 30.0) * 1000)}
    assert dead.armed == 4 and dead.stopped is None


def test_the_volume_gate_is_logged_once_and_stops_it_without_a_clear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exchange = Exchange({"status": "err", "response": LOCKED})
    dead = switch(exchange)
    with caplog.at_level("WARNING", logger="lifecycle.hyperliquid.deadman"):
        run_for(dead, 100.0)
        cleared = run_virtual(dead.clear, start=START + 100)[0]
    assert len(exchange.actions) == 1 and dead.stopped == LOCKED
    assert caplog.text.count("dead man's switch not available") == 1
    assert cleared is None and len(exchange.actions) == 1


def test_other_failures_are_tried_again_at_the_next_refresh() -> None:
    exchange = Exchange(httpx.Response(502), {"status": "err", "response": "Action already "
                                                                           "expired"}, OK)
    dead = switch(exchange, after_s=15.0)
    run_for(dead, 11.0)
    assert len(exchange.actions) == 3 and dead.failures == 2 and dead.armed == 1


def test_clear_removes_an_armed_switch_with_a_schedule_cancel_without_time() -> None:
    exchange = Exchange(OK)
    dead = switch(exchange)
    run_for(dead, 1.0)
    outcome = run_virtual(dead.clear, start=START + 1)[0]
    assert outcome is not None and outcome.answered
    assert exchange.actions[-1][1] == {"type": "scheduleCancel"}


def test_a_delay_the_exchange_would_refuse_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="after_s must be >= 5"):
        switch(Exchange(OK), after_s=4.0)
