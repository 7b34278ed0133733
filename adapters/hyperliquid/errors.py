"""Exceptions raised by the Hyperliquid transport.

The tree::

    LifecycleError                 (lifecycle.core.errors)
    └── HyperliquidError           anything the Hyperliquid adapter raises
        ├── InfoUnavailable        /info got no answer within its retry bound
        │                          (timeouts, transport errors, 5xx, 429,
        │                          unparsable bodies); ``rate_limited`` when the
        │                          last failure was a 429
        ├── InfoRefused            /info answered 4xx (422: the body does not fit
        │                          the request schema); retrying cannot help
        └── ...                    the codec's and the asset tables' own errors
                                   (``wire.WireError``, ``assets.UniverseError``,
                                   ``assets.UnknownCoin``) derive from it too

``/exchange`` raises none of these: every answer to an action, a failure of the
transport included, is an :class:`~lifecycle.adapters.hyperliquid.rest.RestOutcome`
(definitive, refused, rate limited or ambiguous), because what the exchange did
with an action is a fact to record, not an error to unwind.

Messages carry the endpoint, the request ``type``, the HTTP status and the
exchange's (or the transport's) words, cut to :data:`MAX_WORDS` characters.
They never carry a request body: an ``/exchange`` body holds a signature, and
an ``/info`` body names the account.
"""

from __future__ import annotations

from lifecycle.core.errors import LifecycleError

__all__ = ["MAX_WORDS", "HyperliquidError", "InfoRefused", "InfoUnavailable", "clip"]

#: The longest excerpt of an answer kept in an error message or an outcome.
MAX_WORDS = 500


def clip(words: str, limit: int = MAX_WORDS) -> str:
    """``words`` cut to ``limit`` characters (an ellipsis marks the cut)."""
    return words if len(words) <= limit else words[: limit - 1] + "…"


class HyperliquidError(LifecycleError):
    """Base class of every exception the Hyperliquid adapter raises."""


class InfoUnavailable(HyperliquidError):
    """An ``/info`` request got no answer after ``attempts`` tries.

    Attributes:
        request_type: The request's ``type`` (``openOrders``, ``userFillsByTime``...).
        attempts: How many times it was sent.
        error: What the last try got (the transport's or the exchange's words).
        rate_limited: The last try was refused for rate limits (HTTP 429).
    """

    def __init__(
        self, request_type: str, attempts: int, error: str, *, rate_limited: bool = False
    ) -> None:
        self.request_type = request_type
        self.attempts = attempts
        self.error = error
        self.rate_limited = rate_limited
        super().__init__(
            f"/info {request_type}: no answer after {attempts} attempt"
            f"{'' if attempts == 1 else 's'}: {error}"
        )


class InfoRefused(HyperliquidError):
    """An ``/info`` request was refused with a 4xx status (not 429).

    Attributes:
        request_type: The request's ``type``.
        status: The HTTP status (422 for a body that does not fit the schema).
        error: The exchange's words.
    """

    def __init__(self, request_type: str, status: int, error: str) -> None:
        self.request_type = request_type
        self.status = status
        self.error = error
        super().__init__(f"/info {request_type} refused (HTTP {status}): {error}")
