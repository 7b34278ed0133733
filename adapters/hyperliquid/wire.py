"""Hyperliquid's REST wire shapes: the info requests and the answers the tracker reads.

Theory of operation
-------------------
Each request the tracker sends to ``/info`` is a frozen msgspec struct whose
encoding is the exact JSON body (the ``type`` tag first, then the fields in
the reference's order, camelCase names): ``msgspec.json.encode(request)``.
A request checks its fields when built (the ``user`` address, ids, times) and
raises ``ValueError`` naming the field.

Each answer the tracker reads is a struct too, read in one pass by
:func:`decode`, from raw JSON or from the objects a transport already parsed:
a payload of the wrong shape raises :class:`WireError` with msgspec's path to
the field at fault (``... - at `$.response.data.statuses[0].filled.totalSz```),
never a ``KeyError`` deep in the tracker. Fields the exchange adds later are
ignored; fields the tracker does not need are optional. Where one bad item
must not cost the others (the statuses of a batch, fills, open-orders rows,
websocket order updates), the list is read as plain items and each item on
its own (:func:`decode_item`), its path still naming the item.

Numbers arrive as JSON strings and decode to ``Decimal`` as written; whether a
value makes sense (finite, above zero) is the codec's business, which reports
a bad one as a problem. Websocket frames are in :mod:`.ws_wire`; signed
actions in :mod:`.actions`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from lifecycle.core.commands import QueryOrderStatus
from lifecycle.core.ids import Cloid

from .errors import HyperliquidError

__all__ = [
    "ActionAnswer",
    "BatchStatus",
    "ExchangeAnswer",
    "FilledStatus",
    "FrontendOpenOrdersRequest",
    "FrontendOrderRow",
    "InfoRequest",
    "MetaAnswer",
    "MetaRequest",
    "OpenOrderRow",
    "OpenOrdersRequest",
    "OrderStatusAnswer",
    "OrderStatusRequest",
    "PerpAssetInfo",
    "PerpDexInfo",
    "PerpDexsRequest",
    "RestingStatus",
    "SpotMetaAnswer",
    "SpotMetaRequest",
    "SpotPair",
    "SpotToken",
    "StatusEntry",
    "StatusedOrder",
    "StatusesData",
    "UserFillsByTimeRequest",
    "UserFillsRequest",
    "UserRateLimitAnswer",
    "UserRateLimitRequest",
    "WireError",
    "WireFill",
    "WireSide",
    "check_user",
    "decode",
    "decode_item",
    "order_status_request",
]

T = TypeVar("T")

#: ``"B"`` bid (buy) or ``"A"`` ask (sell).
WireSide = Literal["A", "B"]
_Id = Annotated[int, msgspec.Meta(ge=0)]
_Count = Annotated[int, msgspec.Meta(ge=0)]


class WireError(HyperliquidError, ValueError):
    """A payload that does not decode into its wire shape.

    The message says what was being read and where the payload is wrong (the
    field's path in the JSON document).
    """


def decode(payload: object, shape: type[T], what: str) -> T:
    """Read ``payload`` as ``shape``: raw JSON (``bytes``, ``str``, ``msgspec.Raw``) or
    JSON already parsed into Python objects (a transport's ``dict``/``list``).

    Raises:
        WireError: ``payload`` is not JSON, or not of that shape; the message
            begins with ``what`` and names the field at fault.
    """
    try:
        if isinstance(payload, (bytes, bytearray, memoryview, str, msgspec.Raw)):
            return msgspec.json.decode(payload, type=shape)
        return msgspec.convert(payload, shape)
    except msgspec.DecodeError as exc:  # a ValidationError is a DecodeError
        raise WireError(f"{what}: {exc}") from None


def decode_item(item: object, shape: type[T], where: str, what: str) -> T:
    """Read one item of a list (already parsed) as ``shape``.

    Raises:
        WireError: as :func:`decode`, its path given from the document's root
            (``where`` is the item's path, e.g. ``$.data.fills[3]``).
    """
    try:
        return msgspec.convert(item, shape)
    except msgspec.ValidationError as exc:
        text = str(exc)
        # Rebase msgspec's path (relative to the item) on the document's root.
        text = text.replace("`$", f"`{where}", 1) if "`$" in text else f"{text} - at `{where}`"
        raise WireError(f"{what}: {text}") from None


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def check_user(owner: object, value: object) -> None:
    """Refuse a ``user`` that is not an address (``0x`` + 40 hex digits).

    Raises:
        ValueError: naming the class, the field and the value.
    """
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise ValueError(
            f"{type(owner).__name__}.user must be an address (0x + 40 hex digits), "
            f"got {value!r}"
        )


def _check_count(owner: object, field: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{type(owner).__name__}.{field} must be an int >= 0, got {value!r}"
        )


# --- /info requests -----------------------------------------------------------------------


class InfoRequest(
    msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="type"
):
    """Base of the ``/info`` request bodies; encode one with ``msgspec.json.encode``."""


class MetaRequest(InfoRequest, frozen=True, kw_only=True, tag="meta"):
    """The perp universe of one dex (``""``: the first dex)."""

    dex: str = ""


class SpotMetaRequest(InfoRequest, frozen=True, kw_only=True, tag="spotMeta"):
    """The spot universe and tokens."""


class PerpDexsRequest(InfoRequest, frozen=True, kw_only=True, tag="perpDexs"):
    """The perp dexs; an index in the answer is the dex's index for asset ids."""


class _UserRequest(InfoRequest, frozen=True, kw_only=True):
    """A request about one account: ``user`` is the master or sub-account address."""

    user: str

    def __post_init__(self) -> None:
        check_user(self, self.user)


class OpenOrdersRequest(_UserRequest, frozen=True, kw_only=True, tag="openOrders"):
    """The account's open orders on one dex (HIP-3 orders only with their dex)."""

    dex: str = ""


class FrontendOpenOrdersRequest(
    _UserRequest, frozen=True, kw_only=True, tag="frontendOpenOrders"
):
    """The account's open orders on one dex, with tif, trigger and cloid fields."""

    dex: str = ""


class OrderStatusRequest(_UserRequest, frozen=True, kw_only=True, tag="orderStatus"):
    """One order's status, by oid (an int) or by cloid (``0x`` + 32 hex, in ``oid``)."""

    oid: int | str

    def __post_init__(self) -> None:
        check_user(self, self.user)
        oid = self.oid
        if isinstance(oid, str):
            if Cloid(oid) != oid:
                raise ValueError(
                    f"OrderStatusRequest.oid must be a canonical cloid, got {oid!r}"
                )
        else:
            _check_count(self, "oid", oid)


class UserFillsRequest(_UserRequest, frozen=True, kw_only=True, tag="userFills"):
    """The account's most recent fills (at most 2000)."""

    aggregate_by_time: bool = False


class UserFillsByTimeRequest(
    _UserRequest, frozen=True, kw_only=True, tag="userFillsByTime"
):
    """The account's fills from ``start_time`` (ms, inclusive), 2000 per answer at most."""

    start_time: int
    end_time: int | None = None
    aggregate_by_time: bool = False

    def __post_init__(self) -> None:
        check_user(self, self.user)
        _check_count(self, "start_time", self.start_time)
        if self.end_time is not None:
            _check_count(self, "end_time", self.end_time)


class UserRateLimitRequest(_UserRequest, frozen=True, kw_only=True, tag="userRateLimit"):
    """The account's address-based request allowance."""


def order_status_request(user: str, query: QueryOrderStatus) -> OrderStatusRequest:
    """The ``orderStatus`` request for ``query``: by cloid when it has one, else by oid.

    By cloid names whichever leg of a modify survived; by oid would report the
    replaced leg as canceled.

    Raises:
        ValueError: the query names neither a cloid nor an oid, or ``user`` is
            not an address.
    """
    if query.cloid is not None:
        return OrderStatusRequest(user=user, oid=str(query.cloid))
    if query.oid is not None:
        return OrderStatusRequest(user=user, oid=int(query.oid))
    raise ValueError("QueryOrderStatus names neither a cloid nor an oid")


# --- /info answers -------------------------------------------------------------------------


class _Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Base of the answers: camelCase names; fields not declared are ignored."""


class PerpAssetInfo(_Wire, frozen=True, kw_only=True):
    """One perp of a ``meta`` universe; its position in the universe is its index."""

    name: str
    sz_decimals: _Count
    max_leverage: int | None = None
    only_isolated: bool = False
    is_delisted: bool = False
    margin_mode: str | None = None


class MetaAnswer(_Wire, frozen=True, kw_only=True):
    """A ``meta`` answer: the dex's perps (HIP-3 names carry their ``dex:`` prefix)."""

    universe: list[PerpAssetInfo]
    collateral_token: int | None = None


class PerpDexInfo(_Wire, frozen=True, kw_only=True):
    """One builder-deployed dex of a ``perpDexs`` answer (element 0 is ``null``)."""

    name: str
    full_name: str | None = None
    deployer: str | None = None


class SpotToken(_Wire, frozen=True, kw_only=True):
    """One token of ``spotMeta``."""

    name: str
    sz_decimals: _Count
    index: _Count
    wei_decimals: int | None = None
    token_id: str | None = None


class SpotPair(_Wire, frozen=True, kw_only=True):
    """One pair of ``spotMeta.universe``: ``tokens`` is ``[base, quote]`` token indices."""

    name: str
    tokens: Annotated[list[_Count], msgspec.Meta(min_length=2, max_length=2)]
    index: _Count
    is_canonical: bool = False


class SpotMetaAnswer(_Wire, frozen=True, kw_only=True):
    """A ``spotMeta`` answer."""

    universe: list[SpotPair]
    tokens: list[SpotToken]


class OpenOrderRow(_Wire, frozen=True, kw_only=True):
    """One row of ``openOrders`` (``sz`` is the remaining size; ``cloid`` only if set)."""

    coin: str
    side: WireSide
    limit_px: Decimal
    sz: Decimal
    oid: _Id
    timestamp: int
    orig_sz: Decimal | None = None
    cloid: str | None = None
    reduce_only: bool = False


class FrontendOrderRow(OpenOrderRow, frozen=True, kw_only=True):
    """One row of ``frontendOpenOrders`` (and the order of an ``orderStatus`` answer).

    Its ``children`` (TP/SL orders) are listed as rows of their own and are not read.
    """

    is_trigger: bool = False
    trigger_px: Decimal | None = None
    trigger_condition: str | None = None
    is_position_tpsl: bool = False
    order_type: str | None = None
    tif: str | None = None


class StatusedOrder(_Wire, frozen=True, kw_only=True):
    """An order with its status word (``orderStatus``, ``historicalOrders``)."""

    order: FrontendOrderRow
    status: str
    status_timestamp: int


class OrderStatusAnswer(_Wire, frozen=True, kw_only=True):
    """An ``orderStatus`` answer: ``status`` is ``order`` (then ``order`` is set) or
    ``unknownOid``."""

    status: str
    order: StatusedOrder | None = None


class WireFill(_Wire, frozen=True, kw_only=True):
    """One fill (``userFills``, ``userFillsByTime``, websocket ``userFills``/``user``).

    ``tid`` is not unique: dust conversions all carry 0 (the codec then names
    the fill by its other fields). ``cloid`` is present on some channels only.
    """

    coin: str
    px: Decimal
    sz: Decimal
    side: WireSide
    time: int
    oid: _Id
    tid: _Id
    start_position: Decimal | None = None
    dir: str = ""
    hash: str = ""
    crossed: bool = False
    fee: Decimal | None = None
    fee_token: str = ""
    builder_fee: Decimal | None = None
    closed_pnl: Decimal | None = None
    cloid: str | None = None
    twap_id: int | None = None


class UserRateLimitAnswer(_Wire, frozen=True, kw_only=True):
    """A ``userRateLimit`` answer."""

    cum_vlm: Decimal
    n_requests_used: _Count
    n_requests_cap: _Count
    n_requests_surplus: _Count = 0


# --- /exchange answers ---------------------------------------------------------------------


class RestingStatus(_Wire, frozen=True, kw_only=True):
    """``{"resting": {...}}``: the order rests under ``oid``."""

    oid: _Id
    cloid: str | None = None


class FilledStatus(_Wire, frozen=True, kw_only=True):
    """``{"filled": {...}}``: ``total_sz`` filled at once at ``avg_px``; no trade id."""

    total_sz: Decimal
    avg_px: Decimal
    oid: _Id
    cloid: str | None = None


class StatusEntry(_Wire, frozen=True, kw_only=True):
    """One object entry of ``statuses``: exactly one of its fields is set."""

    resting: RestingStatus | None = None
    filled: FilledStatus | None = None
    error: str | None = None


class StatusesData(_Wire, frozen=True, kw_only=True):
    """``response.data`` of a batch answer; each status is decoded on its own."""

    statuses: list[Any]


class ActionAnswer(_Wire, frozen=True, kw_only=True):
    """``response`` of an ``ok`` answer: ``type`` is ``order``, ``cancel``, ``default``..."""

    type: str
    data: StatusesData | None = None


class ExchangeAnswer(_Wire, frozen=True, kw_only=True):
    """An ``/exchange`` answer: ``ok`` with an :class:`ActionAnswer`, or ``err`` with text."""

    status: str
    response: ActionAnswer | str | None = None


#: One entry of ``statuses``: a bare word (``success``, ``waitingForFill``...) or an object.
BatchStatus = str | StatusEntry
