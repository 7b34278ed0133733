"""A Hyperliquid-compatible exchange on 127.0.0.1, backed by the simulated exchange.

It serves ``/info``, ``/exchange`` and ``/ws`` with Hyperliquid's JSON and
error strings, so any Hyperliquid client can trade against a local exchange
that misbehaves on purpose (the simulated exchange's fault profiles).
"""
