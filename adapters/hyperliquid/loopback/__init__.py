"""A Hyperliquid-compatible exchange on 127.0.0.1, backed by the simulated exchange.

It serves ``/info``, ``/exchange`` and ``/ws`` with Hyperliquid's JSON and
error strings, so any Hyperliquid client can trade against a local exchange
that misbehaves on purpose (the simulated exchange's fault profiles).

:class:`LoopbackExchange` runs on the caller's asyncio loop;
:class:`BackgroundLoopback` runs one on a thread of its own, for synchronous
clients such as the official SDK; ``lifecycle loopback`` (:mod:`.cli`) runs
one until stopped.

Who may trade: the accounts given (``accounts=``, ``--account``), and the
agents (API wallets) approved for them, either up front (``agents=``,
``--agent AGENT=ACCOUNT``) or by the account's signed ``approveAgent`` action
(the official SDK's ``Exchange.approve_agent()``). With no account given,
every signer that is not an agent trades as an account of its own. Any other
signer is refused as Hyperliquid refuses it: ``L1 error: User or API Wallet
0x... does not exist.``

What differs from the venue: every account trades against the simulated rest
of the market, not against the other accounts; there are no trigger (TP/SL)
orders, builder fees, spot or HIP-3 markets, transfers or funding; a modify
changes price and size only; each account starts with 1,000,000 USDC.
"""


from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .background import BackgroundLoopback
    from .markets import DEFAULT_MARKETS, MarketSpec
    from .server import LoopbackExchange

__all__ = ["DEFAULT_MARKETS", "BackgroundLoopback", "LoopbackExchange", "MarketSpec"]

# Imported on first use, so that `lifecycle --help` (which reads .cli's arguments)
# needs neither aiohttp nor the signing libraries.
_HOMES = {"BackgroundLoopback": ".background", "DEFAULT_MARKETS": ".markets",
          "MarketSpec": ".markets", "LoopbackExchange": ".server"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
