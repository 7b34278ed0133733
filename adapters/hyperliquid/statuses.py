"""Hyperliquid's words, classified: order statuses, per-order errors and batch errors.

Theory of operation
-------------------
Every word the exchange uses to say what became of an order is looked up here
once, and becomes a :class:`Fact` the codec turns into a core event:

* **order status words** (``orderStatus``, websocket ``orderUpdates``): every
  word of the protocol reference's table and the ones found outside it are in
  :data:`ORDER_STATUSES`. A word not listed is classified by its ending, as the
  reference advises for forward compatibility (``...Canceled`` is an exchange
  cancel, ``...Rejected`` a rejection), and reported as an unknown status; a
  word that fits no ending has no fact, and the codec reports it without
  changing any order.
* **per-order errors** of an ``order`` answer name no status word; the
  placement's rejection keeps the word of the error's kind
  (:func:`reject_status`), so reports read the same whichever channel said it.
  Errors may end with `` asset=<id>``, so they are matched by their beginning.
* **refusals**: a cancel refused because the order no longer rests
  (:func:`cancel_refused_gone`), and the three refused modifies of the
  reference's section 10 (:func:`modify_refusal`): the old order cancelled and
  only the replacement refused; nothing changed because the order is gone;
  nothing changed because the new terms were refused.
* **whole-request errors** (``{"status": "err"}``) are classified by
  :func:`batch_error` for the adapter's retry decisions; the codec treats each
  as ambiguous for every order in the batch, except a rate-limit refusal.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import MappingProxyType

from lifecycle.runtime.adapter import is_rate_limit_refusal

__all__ = [
    "CANCEL_GONE",
    "MODIFY_GONE",
    "MODIFY_REPLACEMENT_REFUSED",
    "ORDER_STATUSES",
    "BatchError",
    "Fact",
    "ModifyRefusal",
    "batch_error",
    "cancel_refused_gone",
    "classify_status",
    "modify_refusal",
    "reject_status",
    "strip_asset_suffix",
]


class Fact(enum.Enum):
    """What a status word says about an order."""

    #: It rests on the book (``open``, ``triggered``).
    OPEN = "open"
    #: It filled completely.
    FILLED = "filled"
    #: The user cancelled it (``canceled``).
    CANCELED = "canceled"
    #: The exchange cancelled it on its own (``marginCanceled``, ``scheduledCancel``, ...).
    EXCHANGE_CANCELED = "exchange_canceled"
    #: It was refused, at placement or later while it rested (``tickRejected``, ...).
    REJECTED = "rejected"


_F = Fact
#: Every order status word of the protocol reference (§2.3 and the words found
#: outside its table), with its fact.
ORDER_STATUSES: Mapping[str, Fact] = MappingProxyType(
    {
        "open": _F.OPEN,
        "triggered": _F.OPEN,
        "filled": _F.FILLED,
        "canceled": _F.CANCELED,
        "marginCanceled": _F.EXCHANGE_CANCELED,
        "vaultWithdrawalCanceled": _F.EXCHANGE_CANCELED,
        "openInterestCapCanceled": _F.EXCHANGE_CANCELED,
        "selfTradeCanceled": _F.EXCHANGE_CANCELED,
        "reduceOnlyCanceled": _F.EXCHANGE_CANCELED,
        "siblingFilledCanceled": _F.EXCHANGE_CANCELED,
        "delistedCanceled": _F.EXCHANGE_CANCELED,
        "liquidatedCanceled": _F.EXCHANGE_CANCELED,
        "scheduledCancel": _F.EXCHANGE_CANCELED,
        "outcomeSettledCanceled": _F.EXCHANGE_CANCELED,
        "internalCancel": _F.EXCHANGE_CANCELED,
        "rejected": _F.REJECTED,
        "tickRejected": _F.REJECTED,
        "minTradeNtlRejected": _F.REJECTED,
        "minTradeSpotNtlRejected": _F.REJECTED,
        "perpMarginRejected": _F.REJECTED,
        "reduceOnlyRejected": _F.REJECTED,
        "badAloPxRejected": _F.REJECTED,
        "iocCancelRejected": _F.REJECTED,
        "badTriggerPxRejected": _F.REJECTED,
        "marketOrderNoLiquidityRejected": _F.REJECTED,
        "positionIncreaseAtOpenInterestCapRejected": _F.REJECTED,
        "positionFlipAtOpenInterestCapRejected": _F.REJECTED,
        "tooAggressiveAtOpenInterestCapRejected": _F.REJECTED,
        "openInterestIncreaseRejected": _F.REJECTED,
        "insufficientSpotBalanceRejected": _F.REJECTED,
        "oracleRejected": _F.REJECTED,
        "perpMaxPositionRejected": _F.REJECTED,
        "tooManyOpenOrdersRejected": _F.REJECTED,
    }
)


def classify_status(word: str) -> tuple[Fact | None, bool]:
    """The fact a status word states, and whether the word is a known one.

    A known word gives its fact and True. An unknown word gives the fact its
    ending implies (``...Canceled``: an exchange cancel; ``...Rejected``: a
    rejection) or None, and False: the caller reports it.
    """
    fact = ORDER_STATUSES.get(word)
    if fact is not None:
        return fact, True
    if word.endswith("Canceled"):
        return Fact.EXCHANGE_CANCELED, False
    if word.endswith("Rejected"):
        return Fact.REJECTED, False
    return None, False


_ASSET_SUFFIX = re.compile(r"\s*asset=\d+\s*$")


def strip_asset_suffix(message: str) -> str:
    """``message`` without the trailing `` asset=<id>`` some errors carry."""
    return _ASSET_SUFFIX.sub("", message).strip()


# How each per-order error of an `order` answer begins (DOCS error-responses,
# and the reference's errors seen in the wild), with the status word an
# orderStatus query would give the same refusal. The first match wins, so the
# perp minimum ("$10") comes before the spot one ("10 {quote_token}").
_REJECT_PREFIXES: tuple[tuple[str, str], ...] = (
    ("Price must be divisible by tick size", "tickRejected"),
    ("Order has invalid price", "tickRejected"),
    ("Order must have minimum value of $", "minTradeNtlRejected"),
    ("Order must have minimum value of", "minTradeSpotNtlRejected"),
    ("Insufficient margin to place order", "perpMarginRejected"),
    ("Reduce only order would increase position", "reduceOnlyRejected"),
    ("Post only order would have immediately matched", "badAloPxRejected"),
    ("Order could not immediately match against any resting orders", "iocCancelRejected"),
    ("Invalid TP/SL price", "badTriggerPxRejected"),
    ("No liquidity available for market order", "marketOrderNoLiquidityRejected"),
    (
        "Order would increase open interest while open interest is capped",
        "positionIncreaseAtOpenInterestCapRejected",
    ),
    (
        "Order rejected due to price more aggressive than oracle",
        "tooAggressiveAtOpenInterestCapRejected",
    ),
    ("Order would increase open interest too quickly", "openInterestIncreaseRejected"),
    ("(Spot-only) Order has insufficient spot balance", "insufficientSpotBalanceRejected"),
    ("Insufficient spot balance", "insufficientSpotBalanceRejected"),
    ("Order price too far from oracle", "oracleRejected"),
    ("Order would cause position to exceed margin tier limit", "perpMaxPositionRejected"),
)


def reject_status(message: str) -> str:
    """The status word of a per-order placement error (``rejected`` when it has none)."""
    text = strip_asset_suffix(message)
    for prefix, word in _REJECT_PREFIXES:
        if text.startswith(prefix):
            return word
    return "rejected"


#: A cancel's refusal when the order does not rest (never placed, cancelled or filled).
CANCEL_GONE = "Order was never placed, already canceled, or filled"
#: A modify's refusal when the order no longer rests: nothing changed.
MODIFY_GONE = "Cannot modify canceled or filled order"
#: A modify whose cancel leg took effect and whose replacement was refused.
MODIFY_REPLACEMENT_REFUSED = "Error placing new order during modify"


def cancel_refused_gone(message: str) -> bool:
    """Whether a cancel's error says the order no longer rests."""
    return strip_asset_suffix(message).startswith(CANCEL_GONE)


class ModifyRefusal(enum.Enum):
    """The three outcomes of a refused modify (protocol reference §10 #4)."""

    #: "Error placing new order during modify: ...": the old order was cancelled
    #: and only the replacement was refused. The order has ended (canceled).
    REPLACEMENT_REFUSED = "replacement_refused"
    #: "Cannot modify canceled or filled order": nothing changed, the order had
    #: already ended (how is not said).
    ORDER_GONE = "order_gone"
    #: Any other refusal ("Order price cannot be more than 95% away...", a tick
    #: error...): nothing changed, the order still rests on its old terms.
    UNCHANGED = "unchanged"


def modify_refusal(message: str) -> ModifyRefusal:
    """Which of the three refused-modify outcomes an error states."""
    text = strip_asset_suffix(message)
    if text.startswith(MODIFY_REPLACEMENT_REFUSED):
        return ModifyRefusal.REPLACEMENT_REFUSED
    if text.startswith(MODIFY_GONE):
        return ModifyRefusal.ORDER_GONE
    return ModifyRefusal.UNCHANGED


class BatchError(enum.Enum):
    """The kinds of whole-request error (``{"status": "err", "response": ...}``)."""

    #: "Too many cumulative requests sent ...": refused, nothing happened.
    RATE_LIMITED = "rate_limited"
    #: "Action already expired": a stale ``expiresAfter``, nothing happened.
    EXPIRED = "expired"
    #: "Invalid nonce: ...": re-sign with a fresh nonce.
    NONCE = "nonce"
    #: "L1 error: User or API Wallet ... does not exist" or "Must deposit before
    #: performing actions": the signature recovered another address.
    SIGNER = "signer"
    #: "Cannot set scheduled cancel time until enough volume traded ...".
    SCHEDULE_CANCEL_LOCKED = "schedule_cancel_locked"
    #: Any other error (a batch pre-validation error, ...).
    OTHER = "other"


def batch_error(message: str) -> BatchError:
    """The kind of a whole-request error, for the adapter's retry decisions."""
    if is_rate_limit_refusal(message):
        return BatchError.RATE_LIMITED
    if message.startswith("Action already expired"):
        return BatchError.EXPIRED
    if message.startswith("Invalid nonce"):
        return BatchError.NONCE
    if "User or API Wallet" in message or message.startswith("Must deposit before"):
        return BatchError.SIGNER
    if message.startswith("Cannot set scheduled cancel time"):
        return BatchError.SCHEDULE_CANCEL_LOCKED
    return BatchError.OTHER
