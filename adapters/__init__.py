"""Exchange adapters, installed as ``lifecycle.adapters``.

The core (``lifecycle``) never imports this package; adapters import the core.
The simulated exchange and the Hyperliquid adapter are not built yet.
"""
