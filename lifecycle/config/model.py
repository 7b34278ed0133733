"""The configuration model: frozen dataclasses with every default, checked when built.

A configuration has up to seven sections::

    orders:       # OrdersConfig: timers and policies of the per-order state machine
    sync:         # SyncConfig: periodic open-orders snapshots from the exchange
    reconciler:   # ReconcilerConfig: when to keep, modify or cancel resting quotes
    market:       # MarketConfig: the market the bot trades
    runtime:      # RuntimePolicyConfig: when the runtime holds back requests
    quoting:      # QuotingConfig: the ladder `lifecycle run` quotes
    exchange:     # ExchangeConfig: where and as whom `lifecycle run` trades

Each dataclass declares its keys with their defaults (the ``config.yaml`` shipped at the
repository root lists every key with its default value and a comment). Units are part of the
key names: ``_s`` seconds, ``_ms`` milliseconds, ``_bps`` basis points (1 bps = 0.01 %),
``_pct`` percent and ``_usd`` US dollars.

The objects are frozen and valid: each section checks its fields when it is built, in code
as from a file, with the rules the loader applies (:mod:`lifecycle.config.rules`), and raises
one :class:`ConfigError` listing every :class:`ConfigProblem` at its key path
(``orders.orphan_policy``). A value is stored in the form the loader makes of it: an int where
a float is due becomes that float, a policy's text (``"adopt"``) the :class:`OrphanPolicy`
member, a list of tolerances a tuple. Parsing YAML lives in :mod:`lifecycle.config.loader`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from lifecycle.config.problems import ConfigError, ConfigProblem
from lifecycle.config.rules import check_fields, describe
from lifecycle.config.trading import ExchangeConfig, Network, QuotingConfig

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
    "RuntimePolicyConfig",
    "SyncConfig",
    "canonical_coin",
]


class OrphanPolicy(str, enum.Enum):  # noqa: UP042
    """What to do with an open exchange order that the tracker does not know.

    Attributes:
        CANCEL: Cancel the order.
        ADOPT: Start tracking the order as one of ours.
        IGNORE: Leave the order alone and do not track it.
    """

    CANCEL = "cancel"
    ADOPT = "adopt"
    IGNORE = "ignore"


def canonical_coin(coin: str, dex: str = "") -> str:
    """Return a coin name in the form Hyperliquid uses in order rows.

    Builder-deployed (HIP-3) perps are named ``"{dex}:{coin}"`` everywhere on
    the wire; main-dex perps keep their bare name. A bare ``coin`` on a
    configured ``dex`` is prefixed; a name that already carries a dex prefix,
    and any name on the main dex (``dex == ""``), is returned as it is.

    Letter case is kept: the exchange matches names exactly, and mixed-case
    names exist (``kPEPE``), so folding case could merge two different coins.

    Args:
        coin: A coin name, bare (``"BTC"``) or prefixed (``"xyz:TSLA"``).
        dex: The builder dex the name belongs to; empty for the main perp dex.

    Returns:
        The canonical name, e.g. ``canonical_coin("TSLA", "xyz") == "xyz:TSLA"``.
    """
    if dex and ":" not in coin:
        return f"{dex}:{coin}"
    return coin


@dataclass(frozen=True, kw_only=True, slots=True)
class OrdersConfig:
    """Timers and policies of the per-order state machine (YAML section ``orders``).

    Attributes:
        expected_ttl_s: Seconds an EXPECTED order (sent, no answer yet) may wait before a
            status query is sent for it.
        protection_s: Seconds after an order is acknowledged during which lagging snapshots
            cannot report it missing.
        tombstone_s: Seconds an ended order is kept to absorb late fills.
        cancel_timeout_s: Seconds a CANCELLING or MODIFYING order may wait for an answer
            before a status query is sent for it.
        orphan_grace_s: Seconds an unknown exchange order must still be seen after first
            sight before ``orphan_policy`` applies to it.
        orphan_policy: What to do with an unknown exchange order still seen after its grace.
        namespace: Bot namespace carried in our client order ids, so that orders placed by
            an earlier run are recognised as ours.
        history_limit: Number of state transitions kept per order.
        fill_dedup_capacity: Most fill identities remembered at once for global fill
            de-duplication: a backstop to ``fill_memory_s``; reaching it forgets a fill
            younger than that, which is recorded as a ``fill_memory_full`` anomaly.
        fill_memory_s: Seconds a fill's identity is remembered after it was applied, so
            that any repeat within that time moves the position no further. A restart's
            fill catch-up never asks for older fills; the default (one day) covers an
            overnight outage. At least one hour (``MIN_FILL_MEMORY_S``).
    """

    expected_ttl_s: float = 30.0
    protection_s: float = 10.0
    tombstone_s: float = 5.0
    cancel_timeout_s: float = 30.0
    orphan_grace_s: float = 5.0
    orphan_policy: OrphanPolicy = OrphanPolicy.CANCEL
    namespace: str = "lifecycle"
    history_limit: int = 32
    fill_dedup_capacity: int = 100_000
    fill_memory_s: float = 86_400.0

    def __post_init__(self) -> None:
        """Check every field as the loader would; store each in the model's form.

        Raises:
            ConfigError: With every problem found, each at its key path
                (``orders.<key>``).
        """
        check_fields("orders", self, OrdersConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class SyncConfig:
    """Periodic open-orders snapshots from the exchange (YAML section ``sync``).

    Attributes:
        interval_s: Seconds between two scheduled snapshots.
        snapshot_max_age_s: Seconds after which a snapshot is too old to be applied.
        missing_snapshots: A TRACKED order absent from this many consecutive fresh
            snapshots gets a status query; only the answer can end it.
        missing_min_s: ...and those snapshots must span at least this many seconds.
    """

    interval_s: float = 5.0
    snapshot_max_age_s: float = 10.0
    missing_snapshots: int = 3
    missing_min_s: float = 10.0

    def __post_init__(self) -> None:
        """Check every field as the loader would; store each in the model's form.

        Raises:
            ConfigError: With every problem found, each at its key path
                (``sync.<key>``).
        """
        check_fields("sync", self, SyncConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReconcilerConfig:
    """When to keep, modify or cancel resting quotes (YAML section ``reconciler``).

    Attributes:
        level_tolerance_bps: Matching tolerance per ladder level, in basis points: each
            target (best level first) takes the nearest unmatched working order within its
            level's tolerance. Level ``i`` uses entry ``min(i, len - 1)``. Non-decreasing.
            The defaults follow the seed system's live derivation from the modify limit:
            half of ``max_modify_bps`` at the best level, ``max_modify_bps`` at the next,
            1.5 times that deeper; so ``max_modify_bps`` is reached (a matched order is
            modified up to it, not cancelled and re-placed) and still bounds the deepest
            levels.
        latch_bps: A matched order within this many basis points of its target price (and
            within ``latch_size_pct`` of its size) is kept as it is.
        latch_size_pct: Size half of the latch band, in percent of the target size.
        max_modify_bps: A matched order outside the latch band but within this many basis
            points is modified; farther ones are cancelled and re-placed.
        drift_cancel_all_bps: If any working order is farther than this from every target,
            every working order is cancelled and the whole ladder re-placed.
        min_modify_interval_ms: Milliseconds between two modify batches; a modify due sooner
            is latched (the order stays as it is), never turned into cancel + place.
        min_notional_usd: Orders worth less than this (price x size, US dollars) are not
            placed.
        cross_margin_ticks: Levels within this many ticks of the opposite best price are
            dropped so that they do not cross.
        book_age_grace_s: Beyond this book age, in seconds, the crossing margin grows by
            one tick per second.
        book_stale_s: A book this old or older, in seconds, skips the reconcile cycle.
    """

    level_tolerance_bps: tuple[float, ...] = (25.0, 50.0, 75.0)
    latch_bps: float = 3.0
    latch_size_pct: float = 10.0
    max_modify_bps: float = 50.0
    drift_cancel_all_bps: float = 100.0
    min_modify_interval_ms: float = 500.0
    min_notional_usd: float = 10.0
    cross_margin_ticks: int = 2
    book_age_grace_s: float = 2.0
    book_stale_s: float = 5.0

    def __post_init__(self) -> None:
        """Check every field as the loader would; store each in the model's form.

        Raises:
            ConfigError: With every problem found, each at its key path
                (``reconciler.<key>``).
        """
        check_fields("reconciler", self, ReconcilerConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class MarketConfig:
    """The market the bot trades (YAML section ``market``).

    Attributes:
        coin: Coin name, e.g. ``"BTC"``; on a HIP-3 builder dex either the bare name or the
            full ``"dex:COIN"`` name.
        dex: HIP-3 builder dex name; empty for the main perp dex.
        sz_decimals: The asset's ``szDecimals`` (Hyperliquid ``meta``): sizes are truncated
            to this many decimals and prices keep at most ``6 - sz_decimals`` decimals.
    """

    coin: str = "BTC"
    dex: str = ""
    sz_decimals: int = 5

    def __post_init__(self) -> None:
        """Check every field as the loader would; store each in the model's form.

        Raises:
            ConfigError: With every problem found, each at its key path
                (``market.<key>``).
        """
        check_fields("market", self, MarketConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class RuntimePolicyConfig:
    """When the runtime holds back requests (YAML section ``runtime``).

    Cancels are never held by these policies: only new placements (and, where
    said, modifies) wait.

    Attributes:
        rejection_backoff_after: Consecutive rejection events (a place batch whose
            every order was rejected counts once) before placements back off.
        rejection_backoff_initial_s: First placement backoff after that many events.
        rejection_backoff_factor: Growth of that backoff per further event.
        rejection_backoff_max_s: Longest placement backoff; a success resets it.
        rate_limit_backoff_initial_s: After a rate-limit refusal, placements and
            modifies wait this long.
        rate_limit_backoff_factor: Growth of that wait per consecutive refusal.
        rate_limit_backoff_max_s: Longest such wait; a success resets it.
        safety_reserve_pct: Percent of the request-weight budget kept for cancels:
            other requests wait once the rest is spent.
        headroom_min_pct: Below this account headroom (percent of the address
            request cap still free), no new placement or modify is sent.
        headroom_max_age_s: A headroom reading older than this no longer blocks.
        headroom_refresh_s: Seconds between two headroom readings (adapters that
            offer them).
        exhaustion_backoff_initial_s: Placements and modifies wait this long when
            headroom is found exhausted.
        exhaustion_backoff_factor: Growth of that wait per consecutive exhaustion.
        exhaustion_backoff_max_s: Longest such wait.
        exhaustion_jitter_pct: Each exhaustion wait is scaled by a random factor
            within this many percent of 1.
        recovery_cooldown_s: Least time between two empty-ladder recoveries.
        startup_cancel_all: Before quoting, the runtime cancels every order of our
            coin the exchange lists that is of our namespace (any order when
            ``orders.orphan_policy`` is not ``ignore``), in up to 5 rounds 500 ms
            apart (:meth:`Runtime.session <lifecycle.runtime.driver.Runtime.session>`).
    """

    rejection_backoff_after: int = 3
    rejection_backoff_initial_s: float = 5.0
    rejection_backoff_factor: float = 2.0
    rejection_backoff_max_s: float = 120.0
    rate_limit_backoff_initial_s: float = 10.0
    rate_limit_backoff_factor: float = 1.5
    rate_limit_backoff_max_s: float = 60.0
    safety_reserve_pct: float = 10.0
    headroom_min_pct: float = 1.0
    headroom_max_age_s: float = 60.0
    headroom_refresh_s: float = 30.0
    exhaustion_backoff_initial_s: float = 30.0
    exhaustion_backoff_factor: float = 2.0
    exhaustion_backoff_max_s: float = 600.0
    exhaustion_jitter_pct: float = 50.0
    recovery_cooldown_s: float = 2.0
    startup_cancel_all: bool = False

    def __post_init__(self) -> None:
        """Check every field as the loader would; store each in the model's form.

        Raises:
            ConfigError: With every problem found, each at its key path
                (``runtime.<key>``).
        """
        check_fields("runtime", self, RuntimePolicyConfig)


@dataclass(frozen=True, kw_only=True, slots=True)
class LifecycleConfig:
    """The complete configuration, one attribute per YAML section.

    ``LifecycleConfig()`` is the all-defaults configuration.

    Attributes:
        orders: Section ``orders``.
        sync: Section ``sync``.
        reconciler: Section ``reconciler``.
        market: Section ``market``.
        runtime: Section ``runtime``.
        quoting: Section ``quoting`` (read by ``lifecycle run`` only).
        exchange: Section ``exchange`` (read by ``lifecycle run`` only).
    """

    orders: OrdersConfig = field(default_factory=OrdersConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    reconciler: ReconcilerConfig = field(default_factory=ReconcilerConfig)
    market: MarketConfig = field(default_factory=MarketConfig)
    runtime: RuntimePolicyConfig = field(default_factory=RuntimePolicyConfig)
    quoting: QuotingConfig = field(default_factory=QuotingConfig)
    exchange: ExchangeConfig = field(default_factory=ExchangeConfig)

    def __post_init__(self) -> None:
        """Check that each section is an instance of its class (each checked itself).

        Raises:
            ConfigError: A section is not an instance of its class.
        """
        problems = [
            ConfigProblem(name, f"expected a {kind.__name__}, got {describe(value)}")
            for name, kind in _SECTIONS
            if not isinstance(value := getattr(self, name), kind)
        ]
        if problems:
            raise ConfigError(type(self).__name__, problems)

    @property
    def coin_key(self) -> str:
        """The canonical coin name.

        ``"{dex}:{coin}"`` when a builder dex is set and the coin is a bare name, otherwise
        the coin as configured (a main-dex coin, or a coin already written as
        ``"dex:COIN"``).
        """
        return canonical_coin(self.market.coin, self.market.dex)


_SECTIONS: tuple[tuple[str, type], ...] = (
    ("orders", OrdersConfig),
    ("sync", SyncConfig),
    ("reconciler", ReconcilerConfig),
    ("market", MarketConfig),
    ("runtime", RuntimePolicyConfig),
    ("quoting", QuotingConfig),
    ("exchange", ExchangeConfig),
)
