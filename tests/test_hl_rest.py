"""The Hyperliquid REST transport over ``httpx.MockTransport``, on the virtual clock.

Every row of the choke point's table is one case, sent through ``/exchange``
(which must post it exactly once, whatever came back) and, where it differs,
through ``/info`` (which retries what is ambiguous or rate limited, with a
seeded jittered backoff whose waits the virtual clock measures exactly).
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx
import pytest
from lifecycle.adapters.hyperliquid.errors import InfoRefused, InfoUnavailable
from lifecycle.adapters.hyperliquid.nonces import NonceSource
from lifecycle.adapters.hyperliquid.rest import (
    L1ActionSigner,
    OutcomeKind,
    RestClient,
    RestOutcome,
    SignedAction,
    classify,
)
from lifecycle.adapters.hyperliquid.signing import Signer

from lifecycle.runtime import current_time, run_virtual
from lifecycle.runtime.backoff import Backoff

BASE = "https://api.hyperliquid.xyz"
ACTION: dict[str, Any] = {"type": "cancel", "cancels": [{"a": 1, "o": 82382}]}
SIGNATURE: dict[str, Any] = {"r": "0x" + "ab" * 32, "s": "0x" + "cd" * 32, "v": 27}
TEST_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
OK_ORDER = {"type": "order", "data": {"statuses": [{"resting": {"oid": 77738308}}]}}
TOO_MANY = (
    "Too many cumulative requests sent (97460 > 97456) for cumulative volume traded "
    "$87457.46. Place taker orders to free up 1 request per USDC traded."
)
DESERIALIZE = "Failed to deserialize the JSON body into the target type"

Reply = httpx.Response | Exception
Handler = Callable[[httpx.Request], httpx.Response]


class FakeSigner:
    """An action signer with a counter for nonces and a constant signature."""

    def __init__(self, start: int = 1000, *, refuse_skip: bool = False) -> None:
        self.next_nonce = start
        self.signed: list[int] = []
        self.skipped: list[int] = []
        self.refuse_skip = refuse_skip

    def __call__(self, action: Mapping[str, Any]) -> SignedAction:
        nonce = self.next_nonce
        self.next_nonce += 1
        self.signed.append(nonce)
        return SignedAction(nonce=nonce, signature=dict(SIGNATURE))

    def skip_past(self, nonce: int) -> None:
        if self.refuse_skip:
            raise ValueError(f"nonce {nonce} is far ahead of the clock")
        self.skipped.append(nonce)
        self.next_nonce = max(self.next_nonce, nonce + 1)


class Scripted:
    """A mock exchange answering each request with the next scripted reply."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply

    @property
    def bodies(self) -> list[Any]:
        return [json.loads(request.content) for request in self.requests]


def virtual(main: Callable[[], Awaitable[Any]]) -> Any:
    return run_virtual(main, start=1_000.0)[0]


def client_for(handler: Handler, **options: Any) -> RestClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    options.setdefault("rng", random.Random(3))
    return RestClient(http, BASE, **options)


def exchange_once(*replies: Reply, signer: FakeSigner | None = None,
                  **options: Any) -> tuple[RestOutcome, Scripted]:
    script = Scripted(*replies)
    rest = client_for(script, **options)

    async def main() -> RestOutcome:
        return await rest.exchange(ACTION, signer if signer is not None else FakeSigner())

    return virtual(main), script


def answer(status: int = 200, **kwargs: Any) -> httpx.Response:
    return httpx.Response(status, **kwargs)


# Every row of the choke point, as /exchange sees it: (reply, kind, words in error).
EXCHANGE_ROWS: dict[str, tuple[Reply, OutcomeKind, str]] = {
    "ok": (answer(json={"status": "ok", "response": OK_ORDER}), OutcomeKind.ANSWERED, ""),
    "ok default": (
        answer(json={"status": "ok", "response": {"type": "default"}}), OutcomeKind.ANSWERED, ""
    ),
    "err": (
        answer(json={"status": "err", "response": "Order has invalid price."}),
        OutcomeKind.REFUSED, "Order has invalid price.",
    ),
    "err expired": (
        answer(json={"status": "err", "response": "Action already expired"}),
        OutcomeKind.REFUSED, "Action already expired",
    ),
    "err not text": (
        answer(json={"status": "err", "response": {"why": 1}}), OutcomeKind.REFUSED, '{"why":1}'
    ),
    "err too many cumulative": (
        answer(json={"status": "err", "response": TOO_MANY}), OutcomeKind.RATE_LIMITED, TOO_MANY
    ),
    "422": (
        answer(422, text=DESERIALIZE), OutcomeKind.REFUSED,
        f"422 Unprocessable Entity: {DESERIALIZE}",
    ),
    "400": (answer(400, json={"msg": "bad"}), OutcomeKind.REFUSED, "400 Bad Request"),
    "429": (
        answer(429, text="slow down"), OutcomeKind.RATE_LIMITED,
        "429 Too Many Requests: slow down",
    ),
    "408": (answer(408), OutcomeKind.AMBIGUOUS, "408 Request Timeout"),
    "500": (answer(500, text="oops"), OutcomeKind.AMBIGUOUS, "500 Internal Server Error: oops"),
    "502": (answer(502), OutcomeKind.AMBIGUOUS, "502 Bad Gateway"),
    "503": (answer(503), OutcomeKind.AMBIGUOUS, "503 Service Unavailable"),
    "204": (answer(204), OutcomeKind.AMBIGUOUS, "204 No Content"),
    "302": (answer(302, headers={"Location": "/"}), OutcomeKind.AMBIGUOUS, "302 Found"),
    "not json": (answer(text="<html>busy</html>"), OutcomeKind.AMBIGUOUS, "unparsable body"),
    "empty body": (answer(content=b""), OutcomeKind.AMBIGUOUS, "unparsable body"),
    "json list": (answer(json=[1, 2]), OutcomeKind.AMBIGUOUS, "unexpected body"),
    "no status": (answer(json={"response": OK_ORDER}), OutcomeKind.AMBIGUOUS, "unexpected body"),
    "odd status": (answer(json={"status": "pending"}), OutcomeKind.AMBIGUOUS, "unexpected body"),
    "read timeout": (httpx.ReadTimeout("timed out"), OutcomeKind.AMBIGUOUS, "timeout: ReadTimeout"),
    "connect timeout": (
        httpx.ConnectTimeout("timed out"), OutcomeKind.AMBIGUOUS, "timeout: ConnectTimeout"
    ),
    "write timeout": (httpx.WriteTimeout(""), OutcomeKind.AMBIGUOUS, "timeout: WriteTimeout"),
    "pool timeout": (httpx.PoolTimeout(""), OutcomeKind.AMBIGUOUS, "timeout: PoolTimeout"),
    "connect error": (
        httpx.ConnectError("refused"), OutcomeKind.AMBIGUOUS, "transport error: ConnectError"
    ),
    "read error": (httpx.ReadError("reset"), OutcomeKind.AMBIGUOUS, "transport error: ReadError"),
    "remote protocol error": (
        httpx.RemoteProtocolError("peer closed"), OutcomeKind.AMBIGUOUS,
        "transport error: RemoteProtocolError: peer closed",
    ),
}


@pytest.mark.parametrize("row", EXCHANGE_ROWS, ids=str)
def test_exchange_maps_each_reply_at_the_choke_point_and_posts_once(row: str) -> None:
    reply, kind, words = EXCHANGE_ROWS[row]
    outcome, script = exchange_once(reply)
    assert outcome.kind is kind
    assert outcome.endpoint == "exchange"
    assert words in outcome.error
    assert outcome.definitive is (kind is not OutcomeKind.AMBIGUOUS)
    assert len(script.requests) == 1  # never sent again, whatever came back
    assert outcome.nonce == 1000 and not outcome.resigned
    if row == "ok":
        assert outcome.response == OK_ORDER and outcome.error == ""


def test_exchange_ambiguous_kinds_are_never_retried() -> None:
    ambiguous = [
        row for row, (_, kind, _) in EXCHANGE_ROWS.items() if kind is OutcomeKind.AMBIGUOUS
    ]
    assert len(ambiguous) >= 10
    for row in ambiguous:
        ok = answer(json={"status": "ok", "response": OK_ORDER})
        outcome, script = exchange_once(EXCHANGE_ROWS[row][0], ok)
        assert outcome.ambiguous, row
        assert len(script.requests) == 1, row


def test_classify_is_the_same_table_called_directly() -> None:
    for row, (reply, kind, words) in EXCHANGE_ROWS.items():
        assert isinstance(reply, httpx.Response | httpx.HTTPError)
        outcome = classify("exchange", reply)
        assert (outcome.kind, words in outcome.error) == (kind, True), row


def test_classify_info_takes_any_json_body_as_the_answer() -> None:
    body = {"status": "err", "response": "looks like an action error"}
    outcome = classify("info", answer(json=body))
    assert outcome.answered and outcome.response == body
    assert classify("info", answer(json=[])).response == []
    assert classify("info", answer(text="nope")).ambiguous
    assert classify("info", answer(422, text=DESERIALIZE)).refused
    assert classify("info", answer(429)).rate_limited


def test_exchange_posts_the_signed_envelope() -> None:
    _, script = exchange_once(answer(json={"status": "ok", "response": {"type": "default"}}))
    (request,) = script.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/exchange"
    assert request.headers["content-type"] == "application/json"
    assert script.bodies == [{
        "action": ACTION, "nonce": 1000, "signature": SIGNATURE,
        "vaultAddress": None, "expiresAfter": None,
    }]


DUPLICATE = answer(json={"status": "err", "response": "Invalid nonce: duplicate nonce 1000"})
OK = answer(json={"status": "ok", "response": OK_ORDER})


def test_exchange_duplicate_nonce_is_signed_again_with_a_fresh_nonce() -> None:
    signer = FakeSigner()
    outcome, script = exchange_once(DUPLICATE, OK, signer=signer)
    assert outcome.answered and outcome.resigned
    assert outcome.response == OK_ORDER
    assert [body["nonce"] for body in script.bodies] == [1000, 1001]
    assert outcome.nonce == 1001
    assert signer.skipped == [1000]
    assert script.bodies[0]["action"] == script.bodies[1]["action"] == ACTION


def test_exchange_duplicate_nonce_is_signed_again_only_once() -> None:
    signer = FakeSigner()
    outcome, script = exchange_once(DUPLICATE, DUPLICATE, OK, signer=signer)
    assert outcome.refused and outcome.resigned
    assert "duplicate nonce" in outcome.error
    assert len(script.requests) == 2 and signer.signed == [1000, 1001]


def test_exchange_resent_action_that_times_out_is_ambiguous_not_retried() -> None:
    outcome, script = exchange_once(DUPLICATE, httpx.ReadTimeout("timed out"), OK)
    assert outcome.ambiguous and outcome.resigned
    assert len(script.requests) == 2


def test_exchange_nonce_too_low_moves_past_the_least_nonce_then_signs_again() -> None:
    too_low = answer(json={"status": "err", "response": "Invalid nonce: nonce too low 1000 < 5000"})
    signer = FakeSigner()
    outcome, script = exchange_once(too_low, OK, signer=signer)
    assert outcome.answered and outcome.resigned
    assert signer.skipped == [5000]
    assert [body["nonce"] for body in script.bodies] == [1000, 5001]


def test_exchange_nonce_the_signer_will_not_skip_to_is_reported_as_refused() -> None:
    outcome, script = exchange_once(DUPLICATE, OK, signer=FakeSigner(refuse_skip=True))
    assert outcome.refused and not outcome.resigned
    assert len(script.requests) == 1


def test_exchange_other_refusals_are_not_signed_again() -> None:
    refusal = answer(json={"status": "err", "response": "Order has invalid price."})
    outcome, script = exchange_once(refusal, OK)
    assert outcome.refused and len(script.requests) == 1


@pytest.mark.parametrize("row", ["429", "err too many cumulative"])
def test_exchange_rate_limit_refusal_reaches_the_hook(row: str) -> None:
    heard: list[RestOutcome] = []
    outcome, _ = exchange_once(EXCHANGE_ROWS[row][0], on_rate_limited=heard.append)
    assert outcome.rate_limited and outcome.definitive
    assert heard == [outcome]


def test_exchange_hook_hears_nothing_of_answers_refusals_or_ambiguity() -> None:
    heard: list[RestOutcome] = []
    for row in ["ok", "err", "422", "503", "read timeout"]:
        exchange_once(EXCHANGE_ROWS[row][0], on_rate_limited=heard.append)
    assert heard == []


def test_outcomes_and_signed_actions_never_show_the_signature() -> None:
    for row in ["read timeout", "422", "not json", "err"]:
        outcome, _ = exchange_once(EXCHANGE_ROWS[row][0])
        assert SIGNATURE["r"] not in repr(outcome)
    signed = SignedAction(nonce=1, signature=dict(SIGNATURE))
    assert SIGNATURE["r"] not in repr(signed) and "hidden" in repr(signed)


# --- /info ----------------------------------------------------------------------------


def info_run(*replies: Reply, body: Mapping[str, Any] | None = None,
             **options: Any) -> tuple[Any, float, Scripted]:
    """Send one /info request; (its result or the exception it raised, virtual
    seconds it took, the exchange's record)."""
    script = Scripted(*replies)
    rest = client_for(script, **options)
    query = body if body is not None else {"type": "openOrders", "user": "0xabc", "dex": ""}

    async def main() -> tuple[Any, float]:
        began = current_time()
        try:
            result = await rest.info(query)
        except (InfoRefused, InfoUnavailable) as exc:
            result = exc
        return result, current_time() - began

    result, took = virtual(main)
    return result, took, script


def waits(count: int, seed: int = 3, *, initial: float = 0.25, jitter: float = 0.25) -> float:
    twin = Backoff(initial, 2.0, 4.0, jitter=jitter, rng=random.Random(seed))
    return sum(twin.failure(0.0) for _ in range(count))


def test_info_retries_ambiguous_and_rate_limited_replies_then_answers() -> None:
    orders = [{"coin": "BTC", "oid": 1}]
    heard: list[RestOutcome] = []
    result, took, script = info_run(
        answer(503), httpx.ReadTimeout("timed out"), answer(429), answer(text="<html>"),
        answer(json=orders), info_attempts=5, on_rate_limited=heard.append,
    )
    assert result == orders
    assert len(script.requests) == 5
    assert script.bodies[0] == {"type": "openOrders", "user": "0xabc", "dex": ""}
    assert str(script.requests[0].url) == f"{BASE}/info"
    assert took == pytest.approx(waits(4), abs=1e-9)
    assert [o.http_status for o in heard] == [429]


def test_info_gives_up_after_its_bound_with_a_clear_error() -> None:
    result, took, script = info_run(answer(502, text="bad gateway"), info_attempts=3)
    assert isinstance(result, InfoUnavailable)
    assert len(script.requests) == 3
    assert took == pytest.approx(waits(2), abs=1e-9)
    assert result.attempts == 3 and not result.rate_limited
    assert str(result) == (
        "/info openOrders: no answer after 3 attempts: 502 Bad Gateway: bad gateway"
    )
    assert "0xabc" not in str(result)  # the request body stays out of errors


def test_info_bound_of_rate_limits_says_rate_limited() -> None:
    heard: list[RestOutcome] = []
    result, _, script = info_run(answer(429), info_attempts=2, on_rate_limited=heard.append)
    assert isinstance(result, InfoUnavailable) and result.rate_limited
    assert len(script.requests) == 2 and len(heard) == 2


def test_info_waits_are_jittered_from_the_seeded_source() -> None:
    _, took_3, _ = info_run(answer(500), info_attempts=4, rng=random.Random(3))
    _, took_4, _ = info_run(answer(500), info_attempts=4, rng=random.Random(4))
    _, plain, _ = info_run(answer(500), info_attempts=4, info_backoff_jitter=0.0)
    assert plain == pytest.approx(0.25 + 0.5 + 1.0)
    assert took_3 == pytest.approx(waits(3, seed=3)) and took_4 == pytest.approx(waits(3, seed=4))
    assert len({round(took_3, 9), round(took_4, 9), round(plain, 9)}) == 3


def test_info_refusal_raises_at_once() -> None:
    result, took, script = info_run(answer(422, text=DESERIALIZE), answer(json=[]))
    assert isinstance(result, InfoRefused)
    assert result.status == 422 and DESERIALIZE in str(result)
    assert len(script.requests) == 1 and took == 0


def test_info_needs_a_type() -> None:
    rest = client_for(Scripted(answer(json=[])))

    async def main() -> None:
        with pytest.raises(ValueError, match="'type'"):
            await rest.info({"user": "0xabc"})

    virtual(main)


def test_rest_client_refuses_bad_settings_naming_them() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(Scripted(answer())))
    with pytest.raises(ValueError, match="base_url"):
        RestClient(http, "api.hyperliquid.xyz")
    with pytest.raises(ValueError, match="info_attempts"):
        RestClient(http, BASE, info_attempts=0)
    with pytest.raises(ValueError, match="jitter"):
        RestClient(http, BASE, info_backoff_jitter=1.5)
    assert RestClient(http, BASE + "/").base_url == BASE


# --- the real signer behind L1ActionSigner ---------------------------------------------


def test_l1_action_signer_signs_with_the_signers_own_nonces() -> None:
    nonces = NonceSource(clock_ms=lambda: 1_700_000_000_000)
    signer = Signer(TEST_KEY, nonces=nonces)
    sign = L1ActionSigner(
        signer, is_mainnet=False, vault_address="0xABCDEF0123456789ABCDEF0123456789ABCDEF01",
        expires_after_ms=60_000,
    )
    script = Scripted(DUPLICATE, OK)
    rest = client_for(script)

    async def main() -> RestOutcome:
        return await rest.exchange(ACTION, sign)

    outcome = virtual(main)
    first, second = script.bodies
    assert (first["nonce"], second["nonce"]) == (1_700_000_000_000, 1_700_000_000_001)
    vault = "0xabcdef0123456789abcdef0123456789abcdef01"
    for body in (first, second):
        assert body["vaultAddress"] == vault
        assert body["expiresAfter"] == body["nonce"] + 60_000
        assert body["signature"] == dict(signer.sign_l1_action(
            ACTION, vault_address=vault, nonce=body["nonce"],
            expires_after=body["expiresAfter"], is_mainnet=False,
        ))
    assert outcome.answered and outcome.resigned
    assert TEST_KEY[2:] not in repr(sign)
    with pytest.raises(ValueError, match="expires_after_ms"):
        L1ActionSigner(signer, is_mainnet=True, expires_after_ms=0)
