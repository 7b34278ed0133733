"""The signed actions the tracker sends, built from the core's commands.

Theory of operation
-------------------
An action is signed over its msgpack encoding, and msgpack keeps a dict's
insertion order: the same action with its keys in another order hashes to
other bytes, and the exchange then recovers another address ("User or API
Wallet ... does not exist"). So every builder here inserts its keys in the
order the protocol reference (§3) and the official SDK use, and the tests
compare the msgpack bytes with the reference's vectors and the SDK's own
builders:

* ``order``: ``type, orders, grouping``; each order ``a, b, p, s, r, t`` then
  ``c`` only when there is a cloid (never ``null``); ``t`` is
  ``{"limit": {"tif": ...}}``;
* ``cancel``: ``type, cancels``, each ``a, o``;
* ``cancelByCloid``: ``type, cancels``, each ``asset, cloid`` (not ``a``/``c``);
* ``batchModify``: ``type, modifies``, each ``oid, order`` (``oid`` an int,
  or the cloid when the oid is unknown); the flag ``a`` (always place) is
  the action's last key, sent only as ``true``: an action hashed with
  ``a: false`` is refused;
* ``scheduleCancel``: ``type`` then ``time`` (absent: remove the schedule);
* ``noop``: ``type``.

Prices and sizes become wire strings through :mod:`.wire_numbers`, which
checks the asset's tick and lot rules and refuses any rounding: rounding is
the reconciler's decision, made before the command. A command the builder
cannot express raises ``ValueError`` naming the command's position and field.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal, NotRequired, TypedDict

import msgspec

from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder
from lifecycle.core.ids import Cloid
from lifecycle.core.order import Side

from .assets import Asset
from .wire_numbers import price_to_wire, size_to_wire

__all__ = [
    "BatchModifyAction",
    "CancelAction",
    "CancelByCloidAction",
    "CancelByCloidWire",
    "CancelWire",
    "LimitType",
    "ModifyWire",
    "NoopAction",
    "OrderAction",
    "OrderTerms",
    "OrderWire",
    "ScheduleCancelAction",
    "Tif",
    "batch_modify_action",
    "cancel_action",
    "cancel_by_cloid_action",
    "cancel_groups",
    "noop_action",
    "order_action",
    "order_wire",
    "schedule_cancel_action",
]


class Tif(enum.Enum):
    """Time in force of a limit order."""

    #: Post-only: cancelled rather than matching at once.
    ALO = "Alo"
    #: Rests until cancelled.
    GTC = "Gtc"
    #: Fills what it can at once; the rest is cancelled.
    IOC = "Ioc"


class _Tif(TypedDict):
    tif: str


class LimitType(TypedDict):
    """``t`` of a limit order: ``{"limit": {"tif": "Alo"}}``."""

    limit: _Tif


class OrderWire(TypedDict):
    """One order of an ``order`` action (and of a modify)."""

    a: int
    b: bool
    p: str
    s: str
    r: bool
    t: LimitType
    c: NotRequired[str]


class OrderAction(TypedDict):
    """``{"type": "order", "orders": [...], "grouping": "na"}``."""

    type: Literal["order"]
    orders: list[OrderWire]
    grouping: Literal["na"]


class CancelWire(TypedDict):
    """One cancel by oid."""

    a: int
    o: int


class CancelAction(TypedDict):
    """``{"type": "cancel", "cancels": [{"a": ..., "o": ...}]}``."""

    type: Literal["cancel"]
    cancels: list[CancelWire]


class CancelByCloidWire(TypedDict):
    """One cancel by cloid."""

    asset: int
    cloid: str


class CancelByCloidAction(TypedDict):
    """``{"type": "cancelByCloid", "cancels": [{"asset": ..., "cloid": ...}]}``."""

    type: Literal["cancelByCloid"]
    cancels: list[CancelByCloidWire]


class ModifyWire(TypedDict):
    """One modify: the order (its oid, or its cloid) and its new terms."""

    oid: int | str
    order: OrderWire


class BatchModifyAction(TypedDict):
    """``{"type": "batchModify", "modifies": [...]}``, then ``"a": true`` if always placing."""

    type: Literal["batchModify"]
    modifies: list[ModifyWire]
    a: NotRequired[Literal[True]]


class ScheduleCancelAction(TypedDict):
    """``{"type": "scheduleCancel"}``, with ``time`` (ms) to set the dead man's switch."""

    type: Literal["scheduleCancel"]
    time: NotRequired[int]


class NoopAction(TypedDict):
    """``{"type": "noop"}``: marks its nonce used and does nothing else."""

    type: Literal["noop"]


class OrderTerms(msgspec.Struct, frozen=True, kw_only=True):
    """What a modify keeps of the order it replaces: the side and the kind.

    A :class:`~lifecycle.core.commands.ModifyOrder` carries only the new price
    and size; the replacement order on the wire needs the rest.
    """

    side: Side
    post_only: bool = True
    reduce_only: bool = False

    @classmethod
    def of(cls, place: PlaceOrder) -> OrderTerms:
        """The terms of the order ``place`` placed."""
        return cls(side=place.side, post_only=place.post_only, reduce_only=place.reduce_only)

    @property
    def tif(self) -> Tif:
        """Alo for a post-only order, Gtc otherwise."""
        return Tif.ALO if self.post_only else Tif.GTC


def order_wire(
    asset: Asset,
    *,
    side: Side,
    price: Decimal,
    size: Decimal,
    tif: Tif,
    reduce_only: bool = False,
    cloid: Cloid | None = None,
    where: str = "order",
) -> OrderWire:
    """One limit order on the wire, its keys in signing order (``c`` only with a cloid).

    Raises:
        ValueError: the price or size breaks the asset's tick or lot rules
            (the message names ``where`` and the field).
    """
    rules = asset.rules
    wire: OrderWire = {
        "a": asset.asset_id,
        "b": side is Side.BUY,
        "p": price_to_wire(price, rules, field=f"{where}.p"),
        "s": size_to_wire(size, rules, field=f"{where}.s"),
        "r": reduce_only,
        "t": {"limit": {"tif": tif.value}},
    }
    if cloid is not None:
        wire["c"] = str(cloid)
    return wire


def order_action(
    asset: Asset, orders: Sequence[PlaceOrder], *, tif: Tif | None = None
) -> OrderAction:
    """The ``order`` action placing ``orders`` (in that order) on ``asset``.

    Args:
        asset: The market every order is for.
        orders: The placements; each carries its cloid.
        tif: Overrides every order's time in force (default: Alo for a
            post-only order, Gtc otherwise; Ioc only when asked here).

    Raises:
        ValueError: ``orders`` is empty, or a price or size breaks the asset's
            rules (the message names ``orders[i]`` and the field).
    """
    if not orders:
        raise ValueError("an order action needs at least one order")
    wires = [
        order_wire(
            asset,
            side=cmd.side,
            price=cmd.price,
            size=cmd.size,
            tif=tif or (Tif.ALO if cmd.post_only else Tif.GTC),
            reduce_only=cmd.reduce_only,
            cloid=cmd.cloid,
            where=f"orders[{i}]",
        )
        for i, cmd in enumerate(orders)
    ]
    return {"type": "order", "orders": wires, "grouping": "na"}


def cancel_groups(cancels: Sequence[CancelOrder]) -> tuple[list[int], list[int]]:
    """Positions of the cancels that go by oid, and of those that go by cloid.

    A cancel goes by oid when it has one, else by cloid (the two are separate
    actions on the wire; answer each group's positions with its own answer).

    Raises:
        ValueError: a cancel names neither (the message gives its position).
    """
    by_oid: list[int] = []
    by_cloid: list[int] = []
    for i, cmd in enumerate(cancels):
        if cmd.oid is not None:
            by_oid.append(i)
        elif cmd.cloid is not None:
            by_cloid.append(i)
        else:
            raise ValueError(f"cancels[{i}] names neither an oid nor a cloid")
    return by_oid, by_cloid


def cancel_action(asset: Asset, cancels: Sequence[CancelOrder]) -> CancelAction:
    """The ``cancel`` action (by oid) for ``cancels``.

    Raises:
        ValueError: ``cancels`` is empty, or one has no oid (its position is named).
    """
    if not cancels:
        raise ValueError("a cancel action needs at least one cancel")
    wires: list[CancelWire] = []
    for i, cmd in enumerate(cancels):
        if cmd.oid is None:
            raise ValueError(f"cancels[{i}] has no oid: cancel it by cloid")
        wires.append({"a": asset.asset_id, "o": int(cmd.oid)})
    return {"type": "cancel", "cancels": wires}


def cancel_by_cloid_action(asset: Asset, cancels: Sequence[CancelOrder]) -> CancelByCloidAction:
    """The ``cancelByCloid`` action for ``cancels``.

    Raises:
        ValueError: ``cancels`` is empty, or one has no cloid (its position is named).
    """
    if not cancels:
        raise ValueError("a cancelByCloid action needs at least one cancel")
    wires: list[CancelByCloidWire] = []
    for i, cmd in enumerate(cancels):
        if cmd.cloid is None:
            raise ValueError(f"cancels[{i}] has no cloid: cancel it by oid")
        wires.append({"asset": asset.asset_id, "cloid": str(cmd.cloid)})
    return {"type": "cancelByCloid", "cancels": wires}


def batch_modify_action(
    asset: Asset,
    modifies: Sequence[ModifyOrder],
    terms: Sequence[OrderTerms],
    *,
    always_place: bool = False,
) -> BatchModifyAction:
    """The ``batchModify`` action for ``modifies``.

    Each modify names its order by oid when known, else by cloid; the
    replacement keeps the cloid (so the order stays ours) and the terms the
    caller gives (``terms[i]`` for ``modifies[i]``). The new size is the size
    the replacement rests: what the old order filled is not carried over.

    Args:
        asset: The market every order is on.
        modifies: The modifies.
        terms: Side and kind of each modified order.
        always_place: Ask the exchange to place the replacement even when the
            cancel of the old order fails (the key ``a``, sent only when True).

    Raises:
        ValueError: ``modifies`` is empty or ``terms`` differs in length, a
            modify names neither oid nor cloid, or a price or size breaks the
            asset's rules (the message names ``modifies[i]`` and the field).
    """
    if not modifies:
        raise ValueError("a batchModify action needs at least one modify")
    if len(terms) != len(modifies):
        raise ValueError(f"{len(modifies)} modifies need as many terms, got {len(terms)}")
    wires: list[ModifyWire] = []
    for i, (cmd, kept) in enumerate(zip(modifies, terms, strict=True)):
        target: int | str
        if cmd.oid is not None:
            target = int(cmd.oid)
        elif cmd.cloid is not None:
            target = str(cmd.cloid)
        else:
            raise ValueError(f"modifies[{i}] names neither an oid nor a cloid")
        order = order_wire(
            asset,
            side=kept.side,
            price=cmd.price,
            size=cmd.size,
            tif=kept.tif,
            reduce_only=kept.reduce_only,
            cloid=cmd.cloid,
            where=f"modifies[{i}].order",
        )
        wires.append({"oid": target, "order": order})
    action: BatchModifyAction = {"type": "batchModify", "modifies": wires}
    if always_place:
        action["a"] = True
    return action


def schedule_cancel_action(time_ms: int | None) -> ScheduleCancelAction:
    """The dead man's switch: cancel every open order at ``time_ms``; None removes it.

    The exchange wants the time at least 5 s ahead, and refuses the action
    until the account has traded $1,000,000.

    Raises:
        ValueError: ``time_ms`` is not an int >= 0.
    """
    action: ScheduleCancelAction = {"type": "scheduleCancel"}
    if time_ms is not None:
        if isinstance(time_ms, bool) or not isinstance(time_ms, int) or time_ms < 0:
            raise ValueError(f"time_ms must be an int >= 0 (ms) or None, got {time_ms!r}")
        action["time"] = time_ms
    return action


def noop_action() -> NoopAction:
    """The action that only marks its nonce used (cancels whatever was signed with it)."""
    return {"type": "noop"}
