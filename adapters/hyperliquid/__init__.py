"""The Hyperliquid adapter, installed as ``lifecycle.adapters.hyperliquid``.

It speaks Hyperliquid's REST (``/info``, ``/exchange``) and websocket (``/ws``)
protocol for one account on one perp market (HIP-3 ``dex:COIN`` names
included), signs L1 actions (:mod:`.signing`), and parses every answer once,
at the boundary, into the core's events. :mod:`.loopback` is a
Hyperliquid-compatible exchange on 127.0.0.1, backed by the simulated
exchange, for tests and for users' own bots.

The extra ``hyperliquid`` installs what it needs (``websockets``,
``eth-account``, ``msgpack``, ``coincurve``, ``aiohttp``).
"""

from __future__ import annotations

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

__all__ = [
    'ActionSigner',
    'Asset',
    'AssetKind',
    'BatchError',
    'Codec',
    'Credentials',
    'CreditsState',
    'FillCredits',
    'HyperliquidError',
    'InfoRefused',
    'InfoUnavailable',
    'KeyLoadError',
    'L1ActionSigner',
    'L1Signature',
    'ModifyRefusal',
    'NonceSource',
    'OrderTerms',
    'OutcomeKind',
    'Problem',
    'ProblemKind',
    'Reconnected',
    'RestClient',
    'RestOutcome',
    'SignedAction',
    'Signer',
    'StreamCodec',
    'Tif',
    'Universe',
    'UniverseError',
    'UnknownCoin',
    'WireError',
    'WireNumberError',
    'WsMessage',
    'WsSession',
    'action_hash',
    'batch_error',
    'batch_modify_action',
    'cancel_action',
    'cancel_by_cloid_action',
    'cancel_groups',
    'canonical_coin',
    'classify',
    'load_credentials',
    'nonce_source_for',
    'noop_action',
    'open_orders_request',
    'order_action',
    'order_status_request',
    'parse_nonce_refusal',
    'price_to_wire',
    'recover_l1_signer',
    'schedule_cancel_action',
    'signer_from_env',
    'signer_from_keystore',
    'size_to_wire',
    'split_coin',
    'to_wire',
    'user_subscriptions',
    'ws_url',
]
