"""Reading ``/exchange`` requests: the envelope, the action, and the action as it is signed.

Theory of operation
-------------------
The exchange deserializes an action into its own types and hashes its own
serialization of them, not the client's bytes (the protocol reference,
sections 3 and 4). :func:`parse_action` does the same: it checks every field
of the actions the loopback performs and rebuilds the action in the
protocol's key order with numbers in their canonical wire form
(:func:`~lifecycle.adapters.hyperliquid.wire_numbers.to_wire`: no trailing
zeros) and cloids in lowercase. A client that signed anything else (another
key order, ``"100.0"`` for ``"100"``) recovers to another address, as on the
exchange. A body that does not fit raises :class:`Malformed` (HTTP 422).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from lifecycle.core.ids import Cloid

from ..wire_numbers import WireNumberError, to_wire
from .auth import is_address

__all__ = [
    "Action",
    "ApproveAgent",
    "CancelAction",
    "Envelope",
    "Malformed",
    "ModifyAction",
    "Noop",
    "OrderAction",
    "OrderWire",
    "ScheduleCancel",
    "UpdateLeverage",
    "parse_action",
    "parse_envelope",
]

#: Action types Hyperliquid has and the loopback does not perform.
UNSUPPORTED: Final = frozenset({
    "usdSend", "spotSend", "withdraw3", "usdClassTransfer", "sendAsset", "approveBuilderFee",
    "createSubAccount", "subAccountTransfer", "subAccountSpotTransfer", "vaultTransfer",
    "twapOrder", "twapCancel", "updateIsolatedMargin", "reserveRequestWeight", "setReferrer",
    "tokenDelegate", "userSetAbstraction", "agentSetAbstraction", "userDexAbstraction",
    "agentEnableDexAbstraction", "convertToMultiSigUser", "multiSig", "evmUserModify",
    "createVault", "spotUser", "perpDeploy", "spotDeploy", "cSignerAction", "cValidatorAction",
})
_TIFS: Final = frozenset({"Gtc", "Ioc", "Alo", "FrontendMarket"})


class Malformed(ValueError):
    """The request does not fit the exchange's schema (answered with HTTP 422)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Envelope:
    """What surrounds the action in a ``/exchange`` body."""

    action: Mapping[str, Any]
    nonce: int
    signature: Mapping[str, Any]
    vault: str | None
    expires_after: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class OrderWire:
    """One order of an ``order`` or ``modify`` action."""

    asset: int
    is_buy: bool
    price: Decimal
    size: Decimal
    reduce_only: bool
    tif: str | None  # None for a trigger order
    cloid: Cloid | None


@dataclass(frozen=True, slots=True)
class OrderAction:
    orders: tuple[OrderWire, ...]
    grouping: str
    builder: bool


@dataclass(frozen=True, slots=True)
class CancelAction:
    """``cancel`` (targets are oids) or ``cancelByCloid`` (targets are cloids)."""

    cancels: tuple[tuple[int, int | Cloid], ...]
    by_cloid: bool


@dataclass(frozen=True, slots=True)
class ModifyAction:
    """``modify`` (``single``) or ``batchModify``; each target is an oid or a cloid."""

    modifies: tuple[tuple[int | Cloid, OrderWire], ...]
    single: bool


@dataclass(frozen=True, slots=True)
class ScheduleCancel:
    time: int | None


@dataclass(frozen=True, slots=True)
class Noop:
    pass


@dataclass(frozen=True, slots=True)
class UpdateLeverage:
    asset: int
    is_cross: bool
    leverage: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ApproveAgent:
    """A user-signed agent approval; ``message`` is what was signed."""

    agent: str
    name: str | None
    nonce: int
    chain: str
    message: Mapping[str, Any]


Action = (
    OrderAction | CancelAction | ModifyAction | ScheduleCancel | Noop | UpdateLeverage
    | ApproveAgent
)


def parse_envelope(body: object) -> Envelope:
    """Check a ``/exchange`` body's envelope.

    Raises:
        Malformed: A field is missing or has the wrong type.
    """
    if not isinstance(body, dict):
        raise Malformed("the body must be a JSON object")
    action, signature = body.get("action"), body.get("signature")
    if not isinstance(action, dict) or not isinstance(action.get("type"), str):
        raise Malformed("action must be an object with a type")
    if not isinstance(signature, dict):
        raise Malformed("signature must be an object")
    vault = body.get("vaultAddress")
    if vault is not None and not is_address(vault):
        raise Malformed("vaultAddress must be an address or null")
    expires = body.get("expiresAfter")
    if expires is not None:
        expires = _uint(expires, "expiresAfter")
    return Envelope(
        action=action, nonce=_uint(body.get("nonce"), "nonce"), signature=signature,
        vault=vault.lower() if vault is not None else None, expires_after=expires,
    )


def parse_action(raw: Mapping[str, Any]) -> tuple[Action, dict[str, Any]]:
    """Check an action; return it and its canonical form (what its signer signed).

    Raises:
        Malformed: The action does not fit its type's schema, or the type is unknown.
        NotImplementedError: A Hyperliquid action the loopback does not perform.
    """
    kind = raw["type"]
    if kind == "order":
        orders = [_order(o) for o in _list(raw.get("orders"), "orders")]
        grouping = raw.get("grouping")
        if grouping not in ("na", "normalTpsl", "positionTpsl"):
            raise Malformed("grouping must be na, normalTpsl or positionTpsl")
        canonical: dict[str, Any] = {"type": "order", "orders": [w for _, w in orders],
                                     "grouping": grouping}
        builder = raw.get("builder")
        if builder is not None:
            if not isinstance(builder, dict) or not is_address(builder.get("b")):
                raise Malformed("builder must be {b: address, f: int}")
            canonical["builder"] = {"b": builder["b"], "f": _uint(builder.get("f"), "builder.f")}
        action = OrderAction(tuple(o for o, _ in orders), grouping, builder is not None)
        return action, canonical
    if kind in ("cancel", "cancelByCloid"):
        by_cloid = kind == "cancelByCloid"
        key_a, key_o = ("asset", "cloid") if by_cloid else ("a", "o")
        cancels: list[tuple[int, int | Cloid]] = []
        wires: list[dict[str, Any]] = []
        for item in _list(raw.get("cancels"), "cancels"):
            if not isinstance(item, dict):
                raise Malformed("each cancel must be an object")
            asset = _uint(item.get(key_a), key_a)
            target: int | Cloid = (
                _cloid(item.get(key_o)) if by_cloid else _uint(item.get(key_o), key_o)
            )
            cancels.append((asset, target))
            wires.append({key_a: asset, key_o: target})
        return CancelAction(tuple(cancels), by_cloid), {"type": kind, "cancels": wires}
    if kind in ("modify", "batchModify"):
        single = kind == "modify"
        items = [raw] if single else _list(raw.get("modifies"), "modifies")
        modifies = []
        wires = []
        for item in items:
            if not isinstance(item, dict):
                raise Malformed("each modify must be an object")
            oid = item.get("oid")
            target = _cloid(oid) if isinstance(oid, str) else _uint(oid, "oid")
            order, wire = _order(item.get("order"))
            modifies.append((target, order))
            wires.append({"oid": target, "order": wire})
        if single:
            canonical = {"type": "modify", "oid": wires[0]["oid"], "order": wires[0]["order"]}
        else:
            canonical = {"type": "batchModify", "modifies": wires}
        if raw.get("a") is True:
            canonical["a"] = True
        return ModifyAction(tuple(modifies), single), canonical
    if kind == "scheduleCancel":
        if "time" in raw and raw["time"] is not None:
            time = _uint(raw["time"], "time")
            return ScheduleCancel(time), {"type": kind, "time": time}
        return ScheduleCancel(None), {"type": kind}
    if kind == "noop":
        return Noop(), {"type": kind}
    if kind == "updateLeverage":
        asset = _uint(raw.get("asset"), "asset")
        is_cross = _bool(raw.get("isCross"), "isCross")
        leverage = _uint(raw.get("leverage"), "leverage")
        canonical = {"type": kind, "asset": asset, "isCross": is_cross, "leverage": leverage}
        return UpdateLeverage(asset, is_cross, leverage), canonical
    if kind == "approveAgent":
        agent, name = raw.get("agentAddress"), raw.get("agentName")
        if not isinstance(agent, str) or not is_address(agent) or not isinstance(name, str | None):
            raise Malformed("approveAgent needs agentAddress (an address) and agentName")
        chain = raw.get("hyperliquidChain")
        if not isinstance(chain, str):
            raise Malformed("approveAgent needs hyperliquidChain")
        message = dict(raw)
        message.setdefault("agentName", "")  # an unnamed agent is signed with ""
        approve = ApproveAgent(
            agent=agent.lower(), name=name, nonce=_uint(raw.get("nonce"), "nonce"), chain=chain,
            message=message,
        )
        return approve, dict(raw)
    if kind in UNSUPPORTED:
        raise NotImplementedError(kind)
    raise Malformed(f"unknown action type {kind!r}")


def _order(raw: object) -> tuple[OrderWire, dict[str, Any]]:
    if not isinstance(raw, dict):
        raise Malformed("an order must be an object")
    asset = _uint(raw.get("a"), "a")
    is_buy = _bool(raw.get("b"), "b")
    price, p = _number(raw.get("p"), "p")
    size, s = _number(raw.get("s"), "s")
    reduce_only = _bool(raw.get("r"), "r")
    kind = raw.get("t")
    wire: dict[str, Any] = {"a": asset, "b": is_buy, "p": p, "s": s, "r": reduce_only}
    tif: str | None = None
    if isinstance(kind, dict) and isinstance(kind.get("limit"), dict) and len(kind) == 1:
        tif = kind["limit"].get("tif")
        if tif not in _TIFS:
            raise Malformed(f"tif must be one of {sorted(_TIFS)}")
        wire["t"] = {"limit": {"tif": tif}}
    elif isinstance(kind, dict) and isinstance(kind.get("trigger"), dict) and len(kind) == 1:
        trigger = kind["trigger"]
        _, px = _number(trigger.get("triggerPx"), "triggerPx")
        if trigger.get("tpsl") not in ("tp", "sl"):
            raise Malformed("tpsl must be tp or sl")
        wire["t"] = {"trigger": {"isMarket": _bool(trigger.get("isMarket"), "isMarket"),
                                 "triggerPx": px, "tpsl": trigger["tpsl"]}}
    else:
        raise Malformed("t must be {limit: {tif}} or {trigger: {...}}")
    cloid = None
    if "c" in raw:
        cloid = _cloid(raw["c"])
        wire["c"] = cloid
    order = OrderWire(asset=asset, is_buy=is_buy, price=price, size=size,
                      reduce_only=reduce_only, tif=tif, cloid=cloid)
    return order, wire


def _list(value: object, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise Malformed(f"{name} must be a list")
    return value


def _uint(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
        raise Malformed(f"{name} must be an unsigned integer, got {value!r}")
    return value


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise Malformed(f"{name} must be a boolean, got {value!r}")
    return value


def _number(value: object, name: str) -> tuple[Decimal, str]:
    if not isinstance(value, str):
        raise Malformed(f"{name} must be a decimal string, got {value!r}")
    try:
        number = Decimal(value)
        return number, to_wire(number, field=name)
    except (InvalidOperation, WireNumberError) as exc:
        raise Malformed(f"{name} is not a wire number: {value!r}") from exc


def _cloid(value: object) -> Cloid:
    if not isinstance(value, str) or len(value) != 34 or value[:2] != "0x":
        raise Malformed(f"a cloid must be 0x + 32 hex digits, got {value!r}")
    try:
        return Cloid(value)
    except ValueError as exc:
        raise Malformed(f"a cloid must be 0x + 32 hex digits, got {value!r}") from exc
