"""The loopback exchange's rules and refusals, in the venue's exact words.

Signed actions are built here with the project's own signer and posted raw,
so every field can be wrong on purpose: nonces (per signer, window, the 100
highest), signers (unknown, or a signature over other bytes), order terms
(tick, lot, zero, minimum value, price band), rate limits (IP weight: HTTP
429; the account's budget: ``status: err``), bodies that do not fit (HTTP
422, never a traceback), and the faults a profile draws on purpose.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from lifecycle.adapters.hyperliquid.loopback.auth import (
    APPROVE_AGENT_FIELDS,
    Accounts,
    NonceBook,
    recover_user_signer,
)
from lifecycle.adapters.hyperliquid.loopback.background import BackgroundLoopback
from lifecycle.adapters.hyperliquid.nonces import NonceSource
from lifecycle.adapters.hyperliquid.signing import Signer
from lifecycle.adapters.simulated import PROFILES
from loopback_helpers import ADDRESS, KEY, STRANGER_KEY, wait_for

DAY_MS = 86_400_000
NOW_MS = 1_800_000_000_000
BAD_JSON = "Failed to deserialize the JSON body into the target type"


class Client:
    """Raw signed requests to one loopback, from one key."""

    def __init__(self, loopback: BackgroundLoopback, key: str = KEY) -> None:
        self.signer = Signer(key, nonces=NonceSource())
        self.http = httpx.Client(base_url=loopback.url, timeout=30.0)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.http.post(path, json=body)

    def act(self, action: dict[str, Any], *, nonce: int | None = None,
            expires_after: int | None = None) -> Any:
        """Sign and send ``action``; return the JSON answer."""
        nonce = self.signer.nonces.next() if nonce is None else nonce
        signature = self.signer.sign_l1_action(
            action, vault_address=None, nonce=nonce, expires_after=expires_after,
            is_mainnet=False,
        )
        body = {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None,
                "expiresAfter": expires_after}
        response = self.post("/exchange", body)
        assert response.status_code == 200, response.text
        return response.json()

    def info(self, body: dict[str, Any]) -> Any:
        response = self.post("/info", body)
        assert response.status_code == 200, response.text
        return response.json()


def order(px: str, sz: str, cloid: int | None = None, *, asset: int = 0, tif: str = "Gtc",
          buy: bool = True) -> dict[str, Any]:
    wire: dict[str, Any] = {"a": asset, "b": buy, "p": px, "s": sz, "r": False,
                            "t": {"limit": {"tif": tif}}}
    if cloid is not None:
        wire["c"] = f"{cloid:#034x}"
    return wire


def place(*orders: dict[str, Any]) -> dict[str, Any]:
    return {"type": "order", "orders": list(orders), "grouping": "na"}


def statuses(answer: Any) -> list[Any]:
    assert answer["status"] == "ok", answer
    return list(answer["response"]["data"]["statuses"])


@pytest.fixture
def loopback() -> Iterator[BackgroundLoopback]:
    with BackgroundLoopback(accounts=[ADDRESS], seed=5, faults="none") as lb:
        yield lb


@pytest.fixture
def client(loopback: BackgroundLoopback) -> Iterator[Client]:
    with Client(loopback) as c:
        yield c


# --- nonces ---------------------------------------------------------------------------------


def test_a_nonce_is_used_once_per_signer() -> None:
    book = NonceBook()
    assert book.spend("0xa", NOW_MS, NOW_MS) is None
    assert book.spend("0xa", NOW_MS, NOW_MS) == f"Invalid nonce: duplicate nonce {NOW_MS}"
    assert book.spend("0xb", NOW_MS, NOW_MS) is None  # another signer has its own set


def test_a_nonce_below_the_100_highest_is_too_low_and_a_gap_above_is_fine() -> None:
    book = NonceBook()
    for i in range(100):
        assert book.spend("0xa", NOW_MS + 2 * i, NOW_MS) is None
    assert book.spend("0xa", NOW_MS - 1, NOW_MS) == (
        f"Invalid nonce: nonce too low {NOW_MS - 1} < {NOW_MS}")
    assert book.spend("0xa", NOW_MS + 1, NOW_MS) is None  # unused, above the smallest held
    assert book.spend("0xa", NOW_MS, NOW_MS) == (  # the smallest was dropped: now too low
        f"Invalid nonce: nonce too low {NOW_MS} < {NOW_MS + 1}")


def test_a_nonce_must_lie_within_two_days_back_and_one_day_ahead() -> None:
    book = NonceBook()
    assert book.spend("0xa", NOW_MS - 2 * DAY_MS + 1, NOW_MS) is None
    assert book.spend("0xa", NOW_MS + DAY_MS - 1, NOW_MS) is None
    for nonce in (NOW_MS - 2 * DAY_MS, NOW_MS + DAY_MS):
        refusal = book.spend("0xa", nonce, NOW_MS)
        assert refusal is not None and refusal.startswith(f"Invalid nonce: nonce {nonce} ")


def test_a_reused_nonce_is_refused_over_http(client: Client) -> None:
    nonce = client.signer.nonces.next()
    assert client.act({"type": "noop"}, nonce=nonce) == {"status": "ok",
                                                          "response": {"type": "default"}}
    assert client.act({"type": "noop"}, nonce=nonce) == {
        "status": "err", "response": f"Invalid nonce: duplicate nonce {nonce}"}


# --- signers --------------------------------------------------------------------------------


def test_an_unknown_signer_gets_the_venues_refusal(loopback: BackgroundLoopback) -> None:
    with Client(loopback, STRANGER_KEY) as stranger:
        answer = stranger.act(place(order("80000", "0.001")))
    assert answer == {"status": "err", "response":
                      f"L1 error: User or API Wallet {stranger.signer.address} does not exist."}


def test_a_signature_over_other_bytes_recovers_another_signer(client: Client) -> None:
    # The venue hashes its own canonical form ("80000"), not the "80000.0" signed and sent.
    answer = client.act(place(order("80000.0", "0.001")))

    assert answer["status"] == "err"
    assert answer["response"].startswith("L1 error: User or API Wallet 0x")
    assert client.signer.address not in answer["response"]


def test_an_expired_action_is_refused(client: Client) -> None:
    past = int(time.time() * 1000) - 1_000
    answer = client.act({"type": "noop"}, expires_after=past)
    assert answer == {"status": "err", "response": "Action already expired"}


def test_user_signed_agent_approval_recovers_the_sdks_signer() -> None:
    signing = pytest.importorskip("hyperliquid.utils.signing")
    eth_account = pytest.importorskip("eth_account")
    wallet = eth_account.Account.from_key(KEY)
    action = {"type": "approveAgent", "agentAddress": "0x" + "ab" * 20, "agentName": "",
              "nonce": NOW_MS}
    signature = signing.sign_agent(wallet, action, False)

    signer = recover_user_signer("HyperliquidTransaction:ApproveAgent", APPROVE_AGENT_FIELDS,
                                 action, signature)

    assert signer == ADDRESS.lower()


def test_agents_act_for_their_account_and_a_new_unnamed_one_replaces_the_last() -> None:
    accounts = Accounts([ADDRESS])
    first, second = "0x" + "01" * 20, "0x" + "02" * 20
    accounts.approve(first, ADDRESS)
    assert accounts.account_of(first) == ADDRESS.lower()
    accounts.approve(second, ADDRESS)
    assert accounts.account_of(first) is None
    assert accounts.account_of(second) == ADDRESS.lower()
    assert accounts.account_of("0x" + "03" * 20) is None
    with pytest.raises(ValueError, match="account address"):
        Accounts(["0x123"])


# --- order terms ----------------------------------------------------------------------------


def test_order_terms_are_refused_with_the_venues_texts(client: Client) -> None:
    answer = client.act(place(
        order("80000.5", "0.001", 1),      # 6 significant figures
        order("80000", "0.000001", 2),     # below the lot (5 decimals)
        order("80000", "0", 3),
        order("80000", "0.0001", 4),       # $8
        order("190000", "0.001", 5),       # 96% above the mid
        order("80000", "0.001", 6),
    ))

    assert statuses(answer)[:5] == [
        {"error": "Order has invalid price."},
        {"error": "Order has invalid size."},
        {"error": "Order has zero size."},
        {"error": "Order must have minimum value of $10."},
        {"error": "Order price cannot be more than 95% away from the reference price"},
    ]
    assert "resting" in statuses(answer)[5]
    for cloid, status in ((1, "tickRejected"), (4, "minTradeNtlRejected")):
        found = client.info({"type": "orderStatus", "user": ADDRESS, "oid": f"{cloid:#034x}"})
        assert found["order"]["status"] == status


def test_a_post_only_order_that_would_cross_is_refused_naming_the_touch(client: Client) -> None:
    (status,) = statuses(client.act(place(order("150000", "0.001", tif="Alo"))))
    assert status["error"].startswith("Post only order would have immediately matched, bbo was ")


def test_an_ioc_order_that_cannot_trade_is_rejected(client: Client) -> None:
    (status,) = statuses(client.act(place(order("80000", "0.001", 7, tif="Ioc"))))
    assert status == {"error": "Order could not immediately match against any resting orders."}
    found = client.info({"type": "orderStatus", "user": ADDRESS, "oid": f"{7:#034x}"})
    assert found["order"]["status"] == "iocCancelRejected"


def test_a_modify_that_changes_the_side_or_targets_a_gone_order_is_refused(
    client: Client,
) -> None:
    (status,) = statuses(client.act(place(order("80000", "0.001", 8))))
    oid = status["resting"]["oid"]
    other_side = {"type": "batchModify",
                  "modifies": [{"oid": oid, "order": order("120000", "0.001", 8, buy=False)}]}
    (refused,) = statuses(client.act(other_side))
    assert refused["error"].startswith("The loopback exchange modifies price and size only")
    assert statuses(client.act({"type": "cancel", "cancels": [{"a": 0, "o": oid}]})) == [
        "success"]
    single = {"type": "modify", "oid": oid, "order": order("80001", "0.001", 8)}
    assert client.act(single) == {"status": "err",
                                  "response": "Cannot modify canceled or filled order"}


# --- rate limits ----------------------------------------------------------------------------


def test_the_ip_weight_budget_refuses_with_http_429() -> None:
    tight = dataclasses.replace(PROFILES["none"], ip_weight_per_min=50)
    with BackgroundLoopback(accounts=[ADDRESS], seed=5, faults=tight) as lb, Client(lb) as client:
        codes = [client.post("/info", {"type": "meta"}).status_code for _ in range(3)]
        refused = client.post("/info", {"type": "meta"})
    assert codes == [200, 200, 429]  # meta weighs 20
    assert (refused.status_code, refused.text) == (429, "429 Too Many Requests")


def test_the_accounts_request_budget_refuses_in_the_venues_words() -> None:
    tight = dataclasses.replace(PROFILES["none"], address_request_buffer=1)
    with BackgroundLoopback(accounts=[ADDRESS], seed=5, faults=tight) as lb, Client(lb) as client:
        answers = [client.act(place(order("80000", "0.001"))) for _ in range(3)]
    assert [a["status"] for a in answers] == ["ok", "ok", "err"]
    assert answers[2]["response"].startswith("Too many cumulative requests sent (3 > 1)")


# --- bodies that do not fit -----------------------------------------------------------------


@pytest.mark.parametrize(("path", "body"), [
    ("/info", b"{not json"),
    ("/info", b'{"type": "noSuchRequest"}'),
    ("/info", b'{"type": "openOrders", "user": 42}'),
    ("/exchange", b"[]"),
    ("/exchange", b'{"action": {"type": "noop"}, "nonce": 1}'),
    ("/exchange", b'{"action": {"type": "order", "orders": [{"a": 0, "b": true, "p": 80000.0, '
                  b'"s": "0.001", "r": false, "t": {"limit": {"tif": "Gtc"}}}], '
                  b'"grouping": "na"}, "nonce": 1, "signature": {"r": "0x1", "s": "0x1", '
                  b'"v": 27}}'),
    ("/exchange", b'{"action": {"type": "noop"}, "nonce": 1, "signature": {"r": "0x0", '
                  b'"s": "0x0", "v": 30}}'),
])
def test_a_body_that_does_not_fit_gets_http_422(client: Client, path: str, body: bytes) -> None:
    response = client.http.post(path, content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.text) == (422, BAD_JSON)
    assert client.post("/info", {"type": "allMids"}).status_code == 200  # still serving


def test_an_action_the_loopback_does_not_perform_is_refused(client: Client) -> None:
    answer = client.act({"type": "usdSend", "destination": ADDRESS, "amount": "1", "time": 1})
    assert answer == {"status": "err",
                      "response": "Action type usdSend is not supported by the loopback exchange."}


# --- the dead man's switch ------------------------------------------------------------------


class JumpClock:
    """The wall clock, plus however far a test jumped it."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


def test_schedule_cancel_needs_volume_and_then_cancels_every_order_when_due() -> None:
    with BackgroundLoopback(accounts=[ADDRESS], seed=5) as lb, Client(lb) as client:
        deadline = int(time.time() * 1000) + 10_000
        answer = client.act({"type": "scheduleCancel", "time": deadline})
    assert answer == {"status": "err", "response": (
        "Cannot set scheduled cancel time until enough volume traded. Required: $1000000. "
        "Traded: $0.")}

    clock = JumpClock()
    with BackgroundLoopback(accounts=[ADDRESS], seed=5, clock=clock,
                            schedule_cancel_volume=0) as lb, Client(lb) as client:
        (status,) = statuses(client.act(place(order("80000", "0.001", 9))))
        deadline = int(clock() * 1000) + 6_000
        assert client.act({"type": "scheduleCancel", "time": deadline})["status"] == "ok"
        clock.ahead = 7.0
        lb.run(lambda x: x.ctx.wake())

        def status_now() -> str:
            found = client.info({"type": "orderStatus", "user": ADDRESS,
                                 "oid": status["resting"]["oid"]})
            return str(found["order"]["status"])

        assert wait_for(lambda: status_now() == "scheduledCancel")


# --- faults drawn on purpose ----------------------------------------------------------------


def test_a_5xx_and_a_timeout_lose_the_answer_but_the_order_may_be_placed() -> None:
    lossy = dataclasses.replace(PROFILES["none"], server_error_rate=1.0,
                                lost_request_executed_rate=1.0)
    with BackgroundLoopback(accounts=[ADDRESS], seed=5, faults=lossy) as lb, Client(lb) as client:
        nonce = client.signer.nonces.next()
        action = place(order("80000", "0.001", 10))
        signature = client.signer.sign_l1_action(action, vault_address=None, nonce=nonce,
                                                 expires_after=None, is_mainnet=False)
        response = client.post("/exchange", {"action": action, "nonce": nonce,
                                             "signature": signature})
        # Every query to the sims answers 5xx too: ask the exchange's own records.
        orders = wait_for(lambda: lb.run(lambda x: x.truth(ADDRESS, "BTC").orders()))
    assert (response.status_code, response.text) == (502, "502 Bad Gateway")
    assert [(o.cloid, o.status) for o in orders] == [(f"{10:#034x}", "open")]

    silent = dataclasses.replace(PROFILES["none"], timeout_rate=1.0, request_timeout_s=0.5,
                                 lost_request_executed_rate=0.0)
    with BackgroundLoopback(accounts=[ADDRESS], seed=5, faults=silent) as lb, Client(lb) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.act(place(order("80000", "0.001", 11)))
        assert lb.run(lambda x: x.fault_counts()["timeout_not_executed"]) == 1


def test_prices_in_answers_keep_the_venues_style(client: Client) -> None:
    mids = client.info({"type": "allMids"})
    assert all(Decimal(px) > 0 and "." in px for px in mids.values())
