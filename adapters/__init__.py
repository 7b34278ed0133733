"""Exchange adapters, installed as ``lifecycle.adapters``.

The core (``lifecycle``) never imports this package; adapters import the core.
``lifecycle.adapters.simulated`` is the simulated exchange (truth, fault
profiles, invariant counters); ``lifecycle.adapters.hyperliquid`` speaks
Hyperliquid's protocol and serves a loopback copy of it.
"""
