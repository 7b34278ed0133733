"""The Hyperliquid adapter, installed as ``lifecycle.adapters.hyperliquid``.

It speaks Hyperliquid's REST (``/info``, ``/exchange``) and websocket (``/ws``)
protocol for one account on one perp market (HIP-3 ``dex:COIN`` names
included), signs L1 actions (:mod:`.signing`), and parses every answer once,
at the boundary, into the core's events. :mod:`.loopback` is a
Hyperliquid-compatible exchange on 127.0.0.1, backed by the simulated
exchange, for tests and for users' own bots.

The extra ``hyperliquid`` installs what it needs (``websockets``,
``eth-account``, ``msgpack``, ``coincurve``, ``aiohttp``). The names below are
imported on first use, so that importing a submodule (the CLI imports
:mod:`.loopback.cli` to list its options) does not load the whole client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .actions import (
        OrderTerms,
        Tif,
        batch_modify_action,
        cancel_action,
        cancel_by_cloid_action,
        cancel_groups,
        noop_action,
        order_action,
        schedule_cancel_action,
    )
    from .adapter import (
        DRY_RUN_ERROR,
        HyperliquidAdapter,
    )
    from .adapter_credits import (
        credits_from_engine,
    )
    from .assets import (
        Asset,
        AssetKind,
        Universe,
        UniverseError,
        UnknownCoin,
        canonical_coin,
        open_orders_request,
        split_coin,
    )
    from .codec import (
        Codec,
    )
    from .deadman import (
        DeadMansSwitch,
    )
    from .errors import (
        HyperliquidError,
        InfoRefused,
        InfoUnavailable,
    )
    from .fills import (
        CreditsState,
        FillCredits,
    )
    from .keys import (
        Credentials,
        KeyLoadError,
        load_credentials,
        signer_from_env,
        signer_from_keystore,
    )
    from .nonces import (
        NonceSource,
        nonce_source_for,
        parse_nonce_refusal,
    )
    from .problems import (
        Problem,
        ProblemKind,
    )
    from .rest import (
        ActionSigner,
        L1ActionSigner,
        OutcomeKind,
        RestClient,
        RestOutcome,
        SignedAction,
        classify,
    )
    from .signing import (
        L1Signature,
        Signer,
        action_hash,
        recover_l1_signer,
    )
    from .statuses import (
        BatchError,
        ModifyRefusal,
        batch_error,
    )
    from .wire import (
        WireError,
        order_status_request,
    )
    from .wire_numbers import (
        WireNumberError,
        price_to_wire,
        size_to_wire,
        to_wire,
    )
    from .ws import (
        Reconnected,
        WsMessage,
        WsSession,
        user_subscriptions,
        ws_url,
    )
    from .ws_codec import (
        StreamCodec,
    )

# Public name -> the submodule that defines it.
_WHERE: dict[str, str] = {
    "DRY_RUN_ERROR": "adapter",
    "HyperliquidAdapter": "adapter",
    "credits_from_engine": "adapter_credits",
    "DeadMansSwitch": "deadman",
    "ActionSigner": "rest",
    "Asset": "assets",
    "AssetKind": "assets",
    "BatchError": "statuses",
    "Codec": "codec",
    "Credentials": "keys",
    "CreditsState": "fills",
    "FillCredits": "fills",
    "HyperliquidError": "errors",
    "InfoRefused": "errors",
    "InfoUnavailable": "errors",
    "KeyLoadError": "keys",
    "L1ActionSigner": "rest",
    "L1Signature": "signing",
    "ModifyRefusal": "statuses",
    "NonceSource": "nonces",
    "OrderTerms": "actions",
    "OutcomeKind": "rest",
    "Problem": "problems",
    "ProblemKind": "problems",
    "Reconnected": "ws",
    "RestClient": "rest",
    "RestOutcome": "rest",
    "SignedAction": "rest",
    "Signer": "signing",
    "StreamCodec": "ws_codec",
    "Tif": "actions",
    "Universe": "assets",
    "UniverseError": "assets",
    "UnknownCoin": "assets",
    "WireError": "wire",
    "WireNumberError": "wire_numbers",
    "WsMessage": "ws",
    "WsSession": "ws",
    "action_hash": "signing",
    "batch_error": "statuses",
    "batch_modify_action": "actions",
    "cancel_action": "actions",
    "cancel_by_cloid_action": "actions",
    "cancel_groups": "actions",
    "canonical_coin": "assets",
    "classify": "rest",
    "load_credentials": "keys",
    "nonce_source_for": "nonces",
    "noop_action": "actions",
    "open_orders_request": "assets",
    "order_action": "actions",
    "order_status_request": "wire",
    "parse_nonce_refusal": "nonces",
    "price_to_wire": "wire_numbers",
    "recover_l1_signer": "signing",
    "schedule_cancel_action": "actions",
    "signer_from_env": "keys",
    "signer_from_keystore": "keys",
    "size_to_wire": "wire_numbers",
    "split_coin": "assets",
    "to_wire": "wire_numbers",
    "user_subscriptions": "ws",
    "ws_url": "ws",
}

__all__ = [
    "DRY_RUN_ERROR",
    "ActionSigner",
    "Asset",
    "AssetKind",
    "BatchError",
    "Codec",
    "Credentials",
    "CreditsState",
    "DeadMansSwitch",
    "FillCredits",
    "HyperliquidAdapter",
    "HyperliquidError",
    "InfoRefused",
    "InfoUnavailable",
    "KeyLoadError",
    "L1ActionSigner",
    "L1Signature",
    "ModifyRefusal",
    "NonceSource",
    "OrderTerms",
    "OutcomeKind",
    "Problem",
    "ProblemKind",
    "Reconnected",
    "RestClient",
    "RestOutcome",
    "SignedAction",
    "Signer",
    "StreamCodec",
    "Tif",
    "Universe",
    "UniverseError",
    "UnknownCoin",
    "WireError",
    "WireNumberError",
    "WsMessage",
    "WsSession",
    "action_hash",
    "batch_error",
    "batch_modify_action",
    "cancel_action",
    "cancel_by_cloid_action",
    "cancel_groups",
    "canonical_coin",
    "classify",
    "credits_from_engine",
    "load_credentials",
    "nonce_source_for",
    "noop_action",
    "open_orders_request",
    "order_action",
    "order_status_request",
    "parse_nonce_refusal",
    "price_to_wire",
    "recover_l1_signer",
    "schedule_cancel_action",
    "signer_from_env",
    "signer_from_keystore",
    "size_to_wire",
    "split_coin",
    "to_wire",
    "user_subscriptions",
    "ws_url",
]


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
