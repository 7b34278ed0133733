"""Configuration: the model (frozen dataclasses that check themselves) and its loader.

Rule of this layer: it imports nothing else of the package. :mod:`.model` declares every
key with its default; :mod:`.rules` holds the checks every value obeys, run by the loader
on a YAML document and by each section dataclass built in code; :mod:`.loader` parses YAML
and reports every problem at once; :mod:`.coherence` lists the settings that are valid but
cannot take effect (warnings).
"""

from lifecycle.config.coherence import config_warnings
from lifecycle.config.loader import check_config, load_config, parse_config
from lifecycle.config.model import (
    ExchangeConfig,
    LifecycleConfig,
    MarketConfig,
    Network,
    OrdersConfig,
    OrphanPolicy,
    QuotingConfig,
    ReconcilerConfig,
    SyncConfig,
    canonical_coin,
)
from lifecycle.config.problems import ConfigError, ConfigProblem

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "ExchangeConfig",
    "LifecycleConfig",
    "MarketConfig",
    "Network",
    "OrdersConfig",
    "OrphanPolicy",
    "QuotingConfig",
    "ReconcilerConfig",
    "SyncConfig",
    "canonical_coin",
    "check_config",
    "config_warnings",
    "load_config",
    "parse_config",
]
