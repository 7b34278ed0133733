"""Hyperliquid's websocket wire shapes: frames and the payloads of the user channels.

A frame is ``{"channel": <name>, "data": <payload>}``. :class:`WsFrame` reads
the channel; the payload is read once, by its channel's shape (the transport,
:mod:`.ws`, may have split the frame already and hand the payload over raw):

* ``orderUpdates``: a list of :class:`WsOrder` (decoded item by item);
* ``userFills``: :class:`WsUserFills` (``isSnapshot`` marks the batch a
  subscription replays; its fills were delivered before);
* ``user`` (the ``userEvents`` subscription): :class:`WsUserEvent`, one of
  ``fills``, ``nonUserCancel``, ``funding``, ``liquidation``, ``twapHistory``,
  ``twapSliceFills``;
* ``subscriptionResponse``, ``pong``, ``post``, ``error`` and market channels
  carry nothing about orders.

The server's first frame, ``Websocket connection established.``, is plain
text, not JSON. Subscriptions and the ping are the transport's (:mod:`.ws`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec

from .wire import WireSide

__all__ = [
    "NonUserCancel",
    "WsBasicOrder",
    "WsFrame",
    "WsOrder",
    "WsUserEvent",
    "WsUserFills",
]

_Id = Annotated[int, msgspec.Meta(ge=0)]


class WsFrame(msgspec.Struct, frozen=True, kw_only=True):
    """Any JSON frame: its channel, and its payload as plain objects (None when absent)."""

    channel: str
    data: Any = None


class _Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Base of the payloads: camelCase names; fields not declared are ignored."""


class WsBasicOrder(_Wire, frozen=True, kw_only=True):
    """The order of an ``orderUpdates`` item: no tif, reduce-only or trigger fields."""

    coin: str
    side: WireSide
    limit_px: Decimal
    sz: Decimal
    oid: _Id
    timestamp: int
    orig_sz: Decimal | None = None
    cloid: str | None = None


class WsOrder(_Wire, frozen=True, kw_only=True):
    """One ``orderUpdates`` item: the order and its status word (§2.3's words)."""

    order: WsBasicOrder
    status: str
    status_timestamp: int


class WsUserFills(_Wire, frozen=True, kw_only=True):
    """A ``userFills`` payload; the fills are decoded one by one."""

    fills: list[Any]
    is_snapshot: bool = False
    user: str | None = None


class NonUserCancel(_Wire, frozen=True, kw_only=True):
    """One cancel the user did not ask for (``userEvents`` ``nonUserCancel``)."""

    coin: str
    oid: _Id


class WsUserEvent(_Wire, frozen=True, kw_only=True):
    """A ``user`` channel payload: one of its fields is set (those typed ``Any`` are not read)."""

    fills: list[Any] | None = None
    non_user_cancel: list[Any] | None = None
    funding: Any = None
    liquidation: Any = None
    twap_history: Any = None
    twap_slice_fills: Any = None

    @property
    def about_orders(self) -> bool:
        """Whether it carries fills or cancels (the rest is funding, liquidations, twaps)."""
        return self.fills is not None or self.non_user_cancel is not None

    @property
    def known(self) -> bool:
        """Whether any field of the known kinds is set."""
        return self.about_orders or any(
            value is not None
            for value in (self.funding, self.liquidation, self.twap_history, self.twap_slice_fills)
        )


