"""Configuration: the model (frozen dataclasses) and its loader.

Rule of this layer: it imports nothing else of the package. :mod:`.model` declares every
key with its default; :mod:`.loader` parses YAML and reports every problem at once.
"""

from lifecycle.config.loader import check_config, load_config, parse_config
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
