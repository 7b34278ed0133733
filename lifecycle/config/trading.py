"""The sections ``lifecycle run`` reads: what to quote (``quoting``) and where (``exchange``).

An embedding bot builds its own strategy and connection and never needs these two
sections; ``lifecycle run`` quotes a ladder around the mid with
:class:`QuotingConfig` and connects to Hyperliquid as :class:`ExchangeConfig` says.
Both check their fields when built, with the rules of :mod:`lifecycle.config.rules`,
like every other section.

Key material never appears in a configuration: the file names the environment
variables (or the encrypted keystore file) the key and its passphrase are read
from, so a configuration can be shared, logged and journaled.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lifecycle.config.rules import check_fields

__all__ = ["ExchangeConfig", "Network", "QuotingConfig"]


class Network(str, enum.Enum):  # noqa: UP042
    """Which Hyperliquid network ``lifecycle run`` trades on.

    Attributes:
        TESTNET: ``https://api.hyperliquid-testnet.xyz`` (the default).
        MAINNET: ``https://api.hyperliquid.xyz``: real money; only when the
            configuration says so explicitly.
    """

    TESTNET = "testnet"
    MAINNET = "mainnet"


@dataclass(frozen=True, kw_only=True, slots=True)
class QuotingConfig:
    """The ladder ``lifecycle run`` quotes (YAML section ``quoting``).

    Attributes:
        levels: Quotes per side (count, >= 1).
        offset_bps: Distance of the best level from the mid, in basis points.
        spacing_bps: Distance between two levels of a side, in basis points.
        size: Size of every level, in coins (> 0; truncated to ``market.sz_decimals``).
        quote_interval_s: Seconds between two quoting cycles.
    """

    levels: int = 3
    offset_bps: float = 4.0
    spacing_bps: float = 5.0
    size: float = 0.0005
    quote_interval_s: float = 1.0

    def __post_init__(self) -> None:
        """Check every field as the loader would.

        Raises:
            ConfigError: With every problem found, each at its key path
                (``quoting.<key>``).
        """
        check_fields("quoting", self, QuotingConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class ExchangeConfig:
    """Where and as whom ``lifecycle run`` trades (YAML section ``exchange``).

    Attributes:
        network: ``testnet`` (default) or ``mainnet``.
        url: Base URL overriding the network's (``http://127.0.0.1:PORT`` for
            ``lifecycle loopback``); empty for the network's own.
        signer_env: Environment variable holding the signing key (hex).
        wallet_file: Path of an encrypted keystore file holding the signing key;
            when set, it is used instead of ``signer_env``.
        wallet_unlock_env: Environment variable holding the keystore's passphrase;
            when it is unset, the passphrase is asked for at the terminal.
        account_address: The account whose orders are tracked (``0x`` and 40 hex
            digits); empty when the signing key is the account's own key. Set it
            when signing with an agent wallet.
        vault_address: A vault or subaccount to trade for; empty for none.
        schedule_cancel: Keep Hyperliquid's dead man's switch (``scheduleCancel``)
            armed while running.
        schedule_cancel_after_s: Seconds ahead the dead man's switch is set, and
            refreshed every third of that (>= 5, Hyperliquid's least delay).
    """

    network: Network = Network.TESTNET
    url: str = ""
    signer_env: str = "HYPERLIQUID_PRIVATE_KEY"
    wallet_file: str = ""
    wallet_unlock_env: str = "HYPERLIQUID_KEYSTORE_PASSPHRASE"
    account_address: str = ""
    vault_address: str = ""
    schedule_cancel: bool = False
    schedule_cancel_after_s: float = 60.0

    def __post_init__(self) -> None:
        """Check every field as the loader would; store each in the model's form.

        Raises:
            ConfigError: With every problem found, each at its key path
                (``exchange.<key>``).
        """
        check_fields("exchange", self, ExchangeConfig)
