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
