"""Hyperliquid's REST transport: ``POST /info`` (queries) and ``POST /exchange`` (signed actions).

Theory of operation
-------------------
:class:`RestClient` posts JSON over an ``httpx.AsyncClient`` it is given (its
timeouts, limits and transport are the caller's; tests give it an
``httpx.MockTransport``). Every reply, an HTTP response or an httpx exception,
goes through one function, :func:`classify`, which maps it to one of four
kinds (:class:`OutcomeKind`): answered, refused, rate limited, ambiguous. What
each endpoint does with a kind:

* ``/info`` only reads, so sending it again is harmless: :meth:`RestClient.info`
  retries an ambiguous or rate-limited reply with a jittered exponential
  backoff (the runtime's :class:`~lifecycle.runtime.backoff.Backoff`, on the
  runtime's clock) up to ``info_attempts`` tries, then raises
  :class:`~.errors.InfoUnavailable`; a 4xx refusal raises
  :class:`~.errors.InfoRefused` at once.
* ``/exchange`` acts, so it is **never sent again blindly**: a timeout, a
  transport error, a 5xx or an unparsable body may hide an action that
  happened (orders placed twice, modifies that did execute), and
  :meth:`RestClient.exchange` returns it as ambiguous for the caller to resolve
  by query. The one exception is the exchange refusing the action's nonce
  ("Invalid nonce: duplicate nonce N", or "nonce too low"), which proves the
  action was not applied: the signer moves its nonce source past the refused
  nonce, signs again with a fresh nonce, and the action is sent once more,
  and only once.

Either endpoint reports a rate-limit refusal (HTTP 429, or the address limit's
HTTP 200 "Too many cumulative requests sent ...") to the ``on_rate_limited``
hook, which is how the runtime's rate-limit backoff hears of it.

Signing stays outside: :meth:`RestClient.exchange` takes an
:class:`ActionSigner`, a callable that signs an action with a fresh nonce and
returns a :class:`SignedAction`; :class:`L1ActionSigner` is the one made of an
L1 signer and its nonce source. Request bodies are never logged nor put in an
error or an outcome: an ``/exchange`` body holds a signature.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

import httpx
import msgspec

from lifecycle.runtime.adapter import is_rate_limit_refusal
from lifecycle.runtime.backoff import Backoff
from lifecycle.runtime.vloop import current_time, sleep

from .errors import InfoRefused, InfoUnavailable, clip
from .nonces import NonceSource, parse_nonce_refusal

__all__ = [
    "ActionSigner",
    "Endpoint",
    "L1ActionSigner",
    "L1Signer",
    "OutcomeKind",
    "RateLimitHook",
    "RestClient",
    "RestOutcome",
    "SignedAction",
    "classify",
    "refused_nonce",
]

log = logging.getLogger(__name__)

Endpoint = Literal["info", "exchange"]

_JSON_HEADERS = {"Content-Type": "application/json"}


class OutcomeKind(enum.Enum):
    """What a reply says about the request (see :func:`classify`)."""

    #: The exchange answered: ``/exchange`` with ``status: ok``, ``/info`` with JSON.
    ANSWERED = "answered"
    #: The exchange refused the request and did nothing (``status: err``, 4xx).
    REFUSED = "refused"
    #: Refused for rate limits (429, "Too many cumulative requests sent"); nothing happened.
    RATE_LIMITED = "rate_limited"
    #: Unknown: the request may or may not have taken effect.
    AMBIGUOUS = "ambiguous"


class RestOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """One request's outcome, as :func:`classify` decided it.

    Attributes:
        endpoint: ``"info"`` or ``"exchange"``.
        kind: Answered, refused, rate limited or ambiguous.
        response: When answered: ``/exchange``'s ``response`` field (``{"type":
            "order", "data": {"statuses": [...]}}``, ``{"type": "default"}``...),
            or ``/info``'s whole body, as Python objects. None otherwise.
        error: The exchange's words for a refusal or a rate limit, or what went
            wrong for an ambiguous outcome; empty when answered.
        http_status: The HTTP status, None when no response came.
        nonce: The nonce the action was last sent with (``/exchange`` only).
        resigned: The action was signed again after a refusal of its nonce.
    """

    endpoint: Endpoint
    kind: OutcomeKind
    response: Any = None
    error: str = ""
    http_status: int | None = None
    nonce: int | None = None
    resigned: bool = False

    @property
    def answered(self) -> bool:
        """The exchange answered (``status: ok``, or an ``/info`` body)."""
        return self.kind is OutcomeKind.ANSWERED

    @property
    def refused(self) -> bool:
        """The exchange refused the request (not for rate limits); nothing happened."""
        return self.kind is OutcomeKind.REFUSED

    @property
    def rate_limited(self) -> bool:
        """The exchange refused the request for its rate limits; nothing happened."""
        return self.kind is OutcomeKind.RATE_LIMITED

    @property
    def ambiguous(self) -> bool:
        """Nobody knows whether the request took effect: resolve it by query."""
        return self.kind is OutcomeKind.AMBIGUOUS

    @property
    def definitive(self) -> bool:
        """The exchange's answer is known (a refusal or a rate limit included)."""
        return self.kind is not OutcomeKind.AMBIGUOUS


def _words(exc: BaseException) -> str:
    text = str(exc)
    return clip(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def _status_words(response: httpx.Response) -> str:
    text = response.text.strip()
    line = f"{response.status_code} {response.reason_phrase}".strip()
    return clip(f"{line}: {text}" if text else line)


def classify(endpoint: Endpoint, reply: httpx.Response | httpx.HTTPError) -> RestOutcome:
    """Map one reply of ``endpoint`` to its :class:`RestOutcome`: the transport's one choke point.

    ``reply`` is the response (its body read) or the httpx exception the
    request raised. The mapping, first matching row wins:

    ==========================================  ============  ================================
    reply                                       kind          ``error``
    ==========================================  ============  ================================
    ``httpx.TimeoutException``                  ambiguous     ``timeout: <exception>``
    any other ``httpx.HTTPError``               ambiguous     ``transport error: <exception>``
    HTTP 429                                    rate limited  ``429 Too Many Requests: <body>``
    HTTP 408                                    ambiguous     ``<status line>: <body>``
    other HTTP 4xx (422: schema mismatch)       refused       ``<status line>: <body>``
    HTTP 5xx                                    ambiguous     ``<status line>: <body>``
    any other status but 200                    ambiguous     ``<status line>: <body>``
    200, body not JSON                          ambiguous     ``unparsable body: <body>``
    200 on ``/info``, any JSON                  answered      (``response`` is the body)
    200 ``{"status": "ok", "response": r}``     answered      (``response`` is r)
    200 ``err``, t = "Too many cumulative..."   rate limited  t
    200 ``{"status": "err", "response": t}``    refused       t
    200, any other JSON                         ambiguous     ``unexpected body: <body>``
    ==========================================  ============  ================================

    A connect failure most likely never reached the exchange, but it is still
    reported ambiguous: resolving it costs one query, and an exception class is
    no promise about what the server saw. An ``err`` body is definitive:
    the exchange refused the whole request (a batch pre-validation error, an
    expired action, a signature recovering another address...). Per-order
    errors inside an ``ok`` answer's statuses are the caller's to read.
    """
    if isinstance(reply, httpx.TimeoutException):
        return RestOutcome(
            endpoint=endpoint, kind=OutcomeKind.AMBIGUOUS, error=f"timeout: {_words(reply)}"
        )
    if isinstance(reply, httpx.HTTPError):
        return RestOutcome(
            endpoint=endpoint, kind=OutcomeKind.AMBIGUOUS,
            error=f"transport error: {_words(reply)}",
        )
    status = reply.status_code
    if status != 200:
        if status == 429:
            kind = OutcomeKind.RATE_LIMITED
        elif 400 <= status < 500 and status != 408:
            kind = OutcomeKind.REFUSED
        else:
            kind = OutcomeKind.AMBIGUOUS
        return RestOutcome(endpoint=endpoint, kind=kind, error=_status_words(reply),
                           http_status=status)
    try:
        body = msgspec.json.decode(reply.content)
    except msgspec.DecodeError:
        return RestOutcome(
            endpoint=endpoint, kind=OutcomeKind.AMBIGUOUS, http_status=status,
            error=clip(f"unparsable body: {reply.text.strip()!r}"),
        )
    if endpoint == "info":
        return RestOutcome(endpoint=endpoint, kind=OutcomeKind.ANSWERED, response=body,
                           http_status=status)
    answer = body.get("status") if isinstance(body, dict) else None
    if answer == "ok":
        return RestOutcome(
            endpoint=endpoint, kind=OutcomeKind.ANSWERED, response=body.get("response"),
            http_status=status,
        )
    if answer == "err":
        said = body.get("response")
        text = clip(said if isinstance(said, str) else msgspec.json.encode(said).decode())
        kind = OutcomeKind.RATE_LIMITED if is_rate_limit_refusal(text) else OutcomeKind.REFUSED
        return RestOutcome(endpoint=endpoint, kind=kind, error=text, http_status=status)
    return RestOutcome(
        endpoint=endpoint, kind=OutcomeKind.AMBIGUOUS, http_status=status,
        error=clip(f"unexpected body: {reply.text.strip()}"),
    )


def refused_nonce(outcome: RestOutcome) -> int | None:
    """The nonce to move past when ``outcome`` refuses an action for its nonce, else None.

    ``Invalid nonce: duplicate nonce N`` gives N, ``Invalid nonce: nonce too low
    N < LEAST`` gives LEAST (:func:`~.nonces.parse_nonce_refusal`). Either
    refusal proves the action was not applied, so it may be signed again.
    """
    return parse_nonce_refusal(outcome.error) if outcome.refused else None


class SignedAction(msgspec.Struct, frozen=True, kw_only=True):
    """What an ``/exchange`` envelope carries besides the action itself.

    Attributes:
        nonce: The nonce the action was signed with (ms-like, unique per signer).
        signature: ``{"r": "0x...", "s": "0x...", "v": 27 or 28}``.
        vault_address: The sub-account or vault traded for (signed too), or None.
        expires_after: The ms timestamp after which the exchange refuses the
            action (signed too), or None.
    """

    nonce: int
    signature: dict[str, Any]
    vault_address: str | None = None
    expires_after: int | None = None

    def __repr__(self) -> str:
        # A signature is no key, but it has no business in logs either.
        return (
            f"SignedAction(nonce={self.nonce}, signature=<hidden>, "
            f"vault_address={self.vault_address!r}, expires_after={self.expires_after!r})"
        )


class ActionSigner(Protocol):
    """Signs actions for :meth:`RestClient.exchange` (:class:`L1ActionSigner`, or a test's fake)."""

    def __call__(self, action: Mapping[str, Any]) -> SignedAction:
        """Sign ``action`` with a fresh nonce (another one at every call)."""
        ...

    def skip_past(self, nonce: int) -> None:
        """The exchange refused a nonce: make every later nonce larger than ``nonce``.

        Raises:
            ValueError: ``nonce`` is implausible (far ahead of the clock).
        """
        ...


#: Hears of every rate-limit refusal (either endpoint); the runtime's backoff listens here.
RateLimitHook = Callable[[RestOutcome], None]


class L1Signer(Protocol):
    """Signs L1 actions (:class:`~.signing.Signer`)."""

    @property
    def nonces(self) -> NonceSource:
        """The signer's one nonce source."""
        ...

    def sign_l1_action(
        self,
        action: Mapping[str, Any],
        *,
        vault_address: str | None,
        nonce: int,
        expires_after: int | None,
        is_mainnet: bool,
    ) -> Mapping[str, Any]:
        """The ``{"r", "s", "v"}`` signature of ``action`` with these parameters."""
        ...


class L1ActionSigner:
    """The :class:`ActionSigner` of one L1 signer: each call takes a fresh nonce
    from the signer's own nonce source and signs with it.

    Args:
        signer: The account's (or its API wallet's) signer.
        is_mainnet: Sign for mainnet (phantom-agent source ``"a"``) or testnet.
        vault_address: The sub-account or vault to trade for, if any (lowercased:
            it is signed and sent as the same text).
        expires_after_ms: When set, each action expires this many ms after its
            nonce (``expiresAfter = nonce + expires_after_ms``).
    """

    def __init__(
        self,
        signer: L1Signer,
        *,
        is_mainnet: bool,
        vault_address: str | None = None,
        expires_after_ms: int | None = None,
    ) -> None:
        if expires_after_ms is not None and expires_after_ms <= 0:
            raise ValueError(f"expires_after_ms must be > 0, got {expires_after_ms}")
        self._signer = signer
        self.is_mainnet = is_mainnet
        self.vault_address = None if vault_address is None else vault_address.lower()
        self.expires_after_ms = expires_after_ms

    def __call__(self, action: Mapping[str, Any]) -> SignedAction:
        """Sign ``action`` with the signer's next nonce."""
        nonce = self._signer.nonces.next()
        expires = None if self.expires_after_ms is None else nonce + self.expires_after_ms
        signature = self._signer.sign_l1_action(
            action, vault_address=self.vault_address, nonce=nonce, expires_after=expires,
            is_mainnet=self.is_mainnet,
        )
        return SignedAction(
            nonce=nonce, signature=dict(signature), vault_address=self.vault_address,
            expires_after=expires,
        )

    def skip_past(self, nonce: int) -> None:
        """Move the signer's nonce source past ``nonce`` (one the exchange refused)."""
        self._signer.nonces.bump_past(nonce)

    def __repr__(self) -> str:
        return (f"L1ActionSigner(is_mainnet={self.is_mainnet}, vault_address="
                f"{self.vault_address!r}, expires_after_ms={self.expires_after_ms})")


class RestClient:
    """Hyperliquid's ``/info`` and ``/exchange`` over an injected ``httpx.AsyncClient``.

    Args:
        client: The HTTP client (its timeouts apply to every request).
        base_url: ``https://api.hyperliquid.xyz``, the testnet's, or a loopback's.
        info_attempts: Tries of one ``/info`` request before it raises (>= 1).
        info_backoff_initial_s: The wait after the first failed try.
        info_backoff_factor: Growth of the wait per further failure.
        info_backoff_max_s: The longest wait (before jitter).
        info_backoff_jitter: Each wait is scaled by a factor drawn from
            ``[1 - jitter, 1 + jitter]``.
        rng: Where the jitter is drawn from (seed it for reproducible runs).
        on_rate_limited: Called with every rate-limited outcome, on either endpoint.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        info_attempts: int = 4,
        info_backoff_initial_s: float = 0.25,
        info_backoff_factor: float = 2.0,
        info_backoff_max_s: float = 4.0,
        info_backoff_jitter: float = 0.25,
        rng: random.Random | None = None,
        on_rate_limited: RateLimitHook | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if info_attempts < 1:
            raise ValueError(f"info_attempts must be >= 1, got {info_attempts}")
        self._client = client
        self.base_url = base_url.rstrip("/")
        self.info_attempts = info_attempts
        self._rng = rng if rng is not None else random.Random()
        self._backoff_args = (info_backoff_initial_s, info_backoff_factor, info_backoff_max_s)
        self._jitter = info_backoff_jitter
        self._info_backoff()  # bad backoff settings fail here, not at the first failure
        self.on_rate_limited = on_rate_limited

    def _info_backoff(self) -> Backoff:
        initial, factor, most = self._backoff_args
        return Backoff(initial, factor, most, jitter=self._jitter, rng=self._rng)

    async def _post(self, path: str, content: bytes) -> httpx.Response | httpx.HTTPError:
        try:
            return await self._client.post(
                self.base_url + path, content=content, headers=_JSON_HEADERS
            )
        except httpx.HTTPError as exc:
            return exc

    def _heard(self, outcome: RestOutcome) -> RestOutcome:
        if outcome.rate_limited and self.on_rate_limited is not None:
            self.on_rate_limited(outcome)
        return outcome

    async def info(self, body: Mapping[str, Any]) -> Any:
        """Post an ``/info`` query and return its JSON answer as Python objects.

        Ambiguous and rate-limited replies are retried after a jittered,
        growing wait on the runtime's clock, up to ``info_attempts`` tries.

        Args:
            body: The query, e.g. ``{"type": "openOrders", "user": "0x...", "dex": ""}``.

        Raises:
            ValueError: ``body`` has no string ``type``.
            InfoRefused: The exchange answered 4xx (not 429): the query is wrong.
            InfoUnavailable: No answer after ``info_attempts`` tries.
        """
        request_type = body.get("type")
        if not isinstance(request_type, str) or not request_type:
            raise ValueError(f"body: an /info request needs a string 'type', got {request_type!r}")
        content = msgspec.json.encode(dict(body))
        backoff = self._info_backoff()
        attempt = 0
        while True:
            attempt += 1
            outcome = self._heard(classify("info", await self._post("/info", content)))
            if outcome.answered:
                return outcome.response
            if outcome.refused:
                raise InfoRefused(request_type, outcome.http_status or 0, outcome.error)
            if attempt >= self.info_attempts:
                raise InfoUnavailable(
                    request_type, attempt, outcome.error, rate_limited=outcome.rate_limited
                )
            hold = backoff.failure(current_time())
            log.debug("/info %s try %d: %s; again in %.3fs", request_type, attempt,
                      outcome.error, hold)
            await sleep(hold)

    async def _act(self, action: Mapping[str, Any], sign: ActionSigner) -> RestOutcome:
        signed = sign(action)
        envelope = {
            "action": dict(action),
            "nonce": signed.nonce,
            "signature": signed.signature,
            "vaultAddress": signed.vault_address,
            "expiresAfter": signed.expires_after,
        }
        reply = await self._post("/exchange", msgspec.json.encode(envelope))
        outcome = classify("exchange", reply)
        return msgspec.structs.replace(outcome, nonce=signed.nonce)

    async def exchange(self, action: Mapping[str, Any], sign: ActionSigner) -> RestOutcome:
        """Sign ``action`` with a fresh nonce, post it to ``/exchange`` once, classify the reply.

        Never sent again blindly: an ambiguous outcome is returned as such, to
        be resolved by query. Only a refusal of the nonce (which proves the
        action was not applied) is signed again, with a fresh nonce past the
        refused one, and sent once more; what that second send gets is the
        outcome (``resigned`` set).

        Args:
            action: The action, its keys in the order they are signed (``{"type":
                "order", "orders": [...], "grouping": "na"}``...).
            sign: Signs the action with a fresh nonce at every call.

        Raises:
            ValueError, TypeError: What ``sign`` raises for an action it cannot sign.
        """
        outcome = await self._act(action, sign)
        refused = refused_nonce(outcome)
        if refused is not None:
            try:
                sign.skip_past(refused)
            except ValueError as exc:
                # A nonce far ahead of the clock: signing again would be refused again.
                log.warning("/exchange %s: %s; not signing again: %s",
                            action.get("type"), outcome.error, exc)
            else:
                log.info("/exchange %s: %s; signing again", action.get("type"), outcome.error)
                outcome = msgspec.structs.replace(await self._act(action, sign), resigned=True)
        return self._heard(outcome)
