"""Configuration: the model (frozen dataclasses) and its loader.

Rule of this layer: it imports nothing else of the package.
"""

from lifecycle.config.model import (
    ConfigError,
    ConfigProblem,
    LifecycleConfig,
    MarketConfig,
    OrdersConfig,
    OrphanPolicy,
    ReconcilerConfig,
    SyncConfig,
    canonical_coin,
    check_config,
    load_config,
    parse_config,
)

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "LifecycleConfig",
    "MarketConfig",
    "OrdersConfig",
    "OrphanPolicy",
    "ReconcilerConfig",
    "SyncConfig",
    "canonical_coin",
    "check_config",
    "load_config",
    "parse_config",
]
