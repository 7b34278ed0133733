"""Configuration of the order-lifecycle tracker: dataclasses, YAML loading and validation.

A configuration file is a single YAML mapping with up to four sections, each a mapping of
keys to values::

    orders:       # OrdersConfig: timers and policies of the per-order state machine
    sync:         # SyncConfig: periodic open-orders snapshots from the exchange
    reconciler:   # ReconcilerConfig: when to keep, modify or cancel resting quotes
    market:       # MarketConfig: the market the bot trades

Every section and every key is optional. A missing key takes the default declared on its
dataclass below, a missing (or empty) section takes all of its defaults, and an empty file is
the all-defaults configuration. The ``config.yaml`` shipped at the repository root lists every
key with its default value and a comment.

Units are part of the key names: ``_s`` seconds, ``_ms`` milliseconds, ``_bps`` basis points
(1 bps = 0.01 %), ``_pct`` percent and ``_usd`` US dollars. Every key with one of these
suffixes must be strictly positive.

Validation never stops at the first mistake: :func:`parse_config` collects every problem
(unknown sections or keys, wrong types, out-of-range values, inconsistent combinations of
keys) and raises them together in one :class:`ConfigError`, each as a :class:`ConfigProblem`
naming the dotted key path, e.g. ``orders.protection_s`` or
``reconciler.level_tolerance_bps[1]``. :func:`check_config` returns the same problems as a
list instead of raising, for command-line checks (``lifecycle check-config PATH``).

Typical use::

    config = load_config("config.yaml")       # raises ConfigError on any problem
    config.orders.protection_s                 # 10.0
    config.coin_key                            # "BTC", or "dex:COIN" on a builder dex

The configuration objects are frozen; this module only parses and validates, it holds no
state and never reads a clock.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import os
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, TypeVar

import yaml

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

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
        fill_dedup_capacity: Number of trade ids remembered for global fill de-duplication.
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


@dataclass(frozen=True, kw_only=True, slots=True)
class ReconcilerConfig:
    """When to keep, modify or cancel resting quotes (YAML section ``reconciler``).

    Attributes:
        level_tolerance_bps: Matching tolerance per ladder level, in basis points: each
            target (best level first) takes the nearest unmatched working order within its
            level's tolerance. Level ``i`` uses entry ``min(i, len - 1)``. Non-decreasing.
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
        book_stale_s: A book older than this, in seconds, skips the reconcile cycle.
    """

    level_tolerance_bps: tuple[float, ...] = (5.0, 15.0, 22.5)
    latch_bps: float = 3.0
    latch_size_pct: float = 10.0
    max_modify_bps: float = 50.0
    drift_cancel_all_bps: float = 100.0
    min_modify_interval_ms: float = 500.0
    min_notional_usd: float = 10.0
    cross_margin_ticks: int = 2
    book_age_grace_s: float = 2.0
    book_stale_s: float = 5.0


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


@dataclass(frozen=True, kw_only=True, slots=True)
class LifecycleConfig:
    """The complete configuration, one attribute per YAML section.

    ``LifecycleConfig()`` is the all-defaults configuration.

    Attributes:
        orders: Section ``orders``.
        sync: Section ``sync``.
        reconciler: Section ``reconciler``.
        market: Section ``market``.
    """

    orders: OrdersConfig = field(default_factory=OrdersConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    reconciler: ReconcilerConfig = field(default_factory=ReconcilerConfig)
    market: MarketConfig = field(default_factory=MarketConfig)

    @property
    def coin_key(self) -> str:
        """The canonical coin name.

        ``"{dex}:{coin}"`` when a builder dex is set and the coin is a bare name, otherwise
        the coin as configured (a main-dex coin, or a coin already written as
        ``"dex:COIN"``).
        """
        return canonical_coin(self.market.coin, self.market.dex)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem found in a configuration.

    Attributes:
        path: Dotted key path of the offending value, e.g. ``orders.protection_s`` or
            ``reconciler.level_tolerance_bps[1]``; ``<root>`` for the document itself,
            ``<file>`` when the file cannot be read and ``<yaml>`` for a YAML syntax error.
        message: What is wrong, in one line.
    """

    path: str
    message: str

    def __str__(self) -> str:
        """Return ``"path: message"``."""
        return f"{self.path}: {self.message}"


class ConfigError(ValueError):
    """A configuration has one or more problems.

    ``str(error)`` is a header line ``"{source}: N problem(s)"`` followed by one line
    ``"  {path}: {message}"`` per problem.

    Attributes:
        source: Where the configuration came from: the file name, or the ``source`` given
            to :func:`parse_config`.
        problems: Every problem found, in the order found.
    """

    source: str
    problems: tuple[ConfigProblem, ...]

    def __init__(self, source: str, problems: Iterable[ConfigProblem]) -> None:
        """Create the error.

        Args:
            source: Where the configuration came from.
            problems: The problems found.
        """
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self._render())

    def __str__(self) -> str:
        """Return the header line followed by one indented line per problem."""
        return self._render()

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, tuple[ConfigProblem, ...]]]:
        """Support pickling, which would otherwise call ``__init__`` with the message."""
        return (type(self), (self.source, self.problems))

    def _render(self) -> str:
        lines = [f"{self.source}: {len(self.problems)} problem(s)"]
        lines.extend(f"  {problem.path}: {problem.message}" for problem in self.problems)
        return "\n".join(lines)


def load_config(path: str | os.PathLike[str]) -> LifecycleConfig:
    """Read and validate a YAML configuration file.

    Args:
        path: The YAML file to read.

    Returns:
        The validated configuration; keys absent from the file take their defaults.

    Raises:
        ConfigError: The file is missing or unreadable, is not valid YAML, repeats a
            key within a mapping (YAML would keep the last value silently), or has any
            problem found by :func:`parse_config`. The error's ``source`` is the file name.
    """
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise ConfigError(source, [ConfigProblem("<file>", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problem = ConfigProblem("<file>", f"cannot read file: {reason}")
        raise ConfigError(source, [problem]) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = ConfigProblem("<yaml>", _describe_yaml_error(exc))
        raise ConfigError(source, [problem]) from exc
    duplicates = _duplicate_keys(text)
    if not duplicates:
        return parse_config(data, source=source)
    # YAML would keep the last of the values silently: refuse, with the other problems.
    try:
        parse_config(data, source=source)
    except ConfigError as error:
        raise ConfigError(source, [*duplicates, *error.problems]) from None
    raise ConfigError(source, duplicates)


def parse_config(data: object, *, source: str = "<config>") -> LifecycleConfig:
    """Validate an already-parsed configuration document.

    Args:
        data: The document, as returned by ``yaml.safe_load``: ``None`` (an empty document,
            meaning all defaults) or a mapping of section names to mappings of keys to
            values.
        source: Where the document came from, used in the error message.

    Returns:
        The validated configuration; absent sections and keys take their defaults.

    Raises:
        ConfigError: With every problem found, never only the first one.
    """
    out = _Problems()
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        out.add(_ROOT, f"must be a mapping of sections, got {_describe(data)}")
        raise ConfigError(source, out.items)

    for name in data:
        if name not in _SECTION_KEYS:
            out.add(_path(None, name), _unknown_section_message(name))

    config = LifecycleConfig(
        orders=_parse_section("orders", OrdersConfig(), data.get("orders"), out),
        sync=_parse_section("sync", SyncConfig(), data.get("sync"), out),
        reconciler=_parse_section("reconciler", ReconcilerConfig(), data.get("reconciler"), out),
        market=_parse_section("market", MarketConfig(), data.get("market"), out),
    )
    _check_combinations(config, out)
    if out.items:
        raise ConfigError(source, out.items)
    return config


def check_config(path: str | os.PathLike[str]) -> list[ConfigProblem]:
    """List the problems of a YAML configuration file without raising.

    Args:
        path: The YAML file to check.

    Returns:
        Every problem :func:`load_config` would raise, including a missing file or a YAML
        syntax error; an empty list when the file is valid.
    """
    try:
        load_config(path)
    except ConfigError as exc:
        return list(exc.problems)
    return []


# --------------------------------------------------------------------------------------------
# Validation internals
# --------------------------------------------------------------------------------------------

_ROOT: Final = "<root>"

_SECTION_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "orders": tuple(f.name for f in dataclasses.fields(OrdersConfig)),
    "sync": tuple(f.name for f in dataclasses.fields(SyncConfig)),
    "reconciler": tuple(f.name for f in dataclasses.fields(ReconcilerConfig)),
    "market": tuple(f.name for f in dataclasses.fields(MarketConfig)),
}

#: Keys with one of these unit suffixes must be > 0.
_POSITIVE_SUFFIXES: Final = ("_s", "_ms", "_bps", "_pct", "_usd")
_AT_LEAST_ONE: Final = frozenset(
    {"orders.history_limit", "orders.fill_dedup_capacity", "sync.missing_snapshots"}
)
_NON_NEGATIVE: Final = frozenset({"reconciler.cross_margin_ticks", "market.sz_decimals"})
_BELOW_100: Final = frozenset({"reconciler.latch_size_pct"})
_NON_EMPTY_STRINGS: Final = frozenset({"orders.namespace", "market.coin"})

_T = TypeVar("_T", bound="DataclassInstance")

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = 8
_repr.maxdict = 4


class _Problems:
    """Collects problems and remembers which key paths had one."""

    __slots__ = ("bad", "items")

    def __init__(self) -> None:
        self.items: list[ConfigProblem] = []
        self.bad: set[str] = set()

    def add(self, path: str, message: str, key_path: str | None = None) -> None:
        self.items.append(ConfigProblem(path, message))
        self.bad.add(path if key_path is None else key_path)

    def valid(self, *key_paths: str) -> bool:
        return self.bad.isdisjoint(key_paths)


def _path(section: str | None, key: object) -> str:
    return f"{section}.{key}" if section is not None else str(key)


def _show(value: object) -> str:
    return _repr.repr(value)


def _describe(value: object) -> str:
    kind = "empty value" if value is None else type(value).__name__
    return f"{_show(value)} ({kind})"


def _closest(word: object, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(str(word), list(candidates), n=1)
    return matches[0] if matches else None


def _unknown_section_message(name: object) -> str:
    guess = _closest(name, _SECTION_KEYS)
    if guess is not None:
        return f"unknown section; did you mean {guess!r}?"
    qualified = {key: f"{section}.{key}" for section, keys in _SECTION_KEYS.items() for key in keys}
    guess = _closest(name, qualified)
    if guess is not None:
        return (
            f"unknown section; did you mean {qualified[guess]!r}? "
            "(keys belong inside their section)"
        )
    return f"unknown section; valid sections: {', '.join(_SECTION_KEYS)}"


def _unknown_key_message(section: str, key: object) -> str:
    guess = _closest(key, _SECTION_KEYS[section])
    if guess is not None:
        return f"unknown key; did you mean {guess!r}?"
    elsewhere = {
        name: f"{other}.{name}"
        for other, names in _SECTION_KEYS.items()
        if other != section
        for name in names
    }
    guess = _closest(key, elsewhere)
    if guess is not None:
        return f"unknown key; did you mean {elsewhere[guess]!r}?"
    return "unknown key"


def _duplicate_keys(text: str) -> list[ConfigProblem]:
    """One problem per key a mapping of the (valid YAML) document repeats."""
    problems: list[ConfigProblem] = []

    def walk(node: yaml.Node | None, path: str | None) -> None:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                child = key if path is None else f"{path}.{key}"
                line = key_node.start_mark.line + 1
                if key in first_line:
                    problems.append(ConfigProblem(
                        child,
                        f"duplicate key (line {first_line[key]} and line {line}); "
                        "set it once",
                    ))
                else:
                    first_line[key] = line
                walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path or _ROOT}[{index}]")

    walk(yaml.compose(text, Loader=yaml.SafeLoader), None)
    return problems


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        what = exc.problem or "syntax error"
        if exc.context:
            what = f"{what} ({exc.context})"
        return f"invalid YAML at {where}: {what}"
    return f"invalid YAML: {' '.join(str(exc).split())}"


def _parse_section(section: str, default: _T, raw: object, out: _Problems) -> _T:
    """Validate one section, returning ``default`` updated with every valid value."""
    if raw is None:
        return default
    if not isinstance(raw, Mapping):
        out.add(section, f"must be a mapping of keys to values, got {_describe(raw)}")
        return default
    changes: dict[str, object] = {}
    for key, value in raw.items():
        path = _path(section, key)
        if not isinstance(key, str) or key not in _SECTION_KEYS[section]:
            out.add(path, _unknown_key_message(section, key))
            continue
        parsed = _parse_value(path, key, value, getattr(default, key), out)
        if parsed is not None:
            changes[key] = parsed
    return dataclasses.replace(default, **changes)


def _parse_value(
    path: str, key: str, raw: object, default: object, out: _Problems
) -> object | None:
    """Validate one value against the type of its default; ``None`` when invalid."""
    if isinstance(default, OrphanPolicy):
        return _parse_policy(path, raw, out)
    if isinstance(default, float):
        number = _parse_float(path, raw, out)
        if number is None or not _check_range(path, key, path, number, raw, out):
            return None
        return number
    if isinstance(default, int):
        integer = _parse_int(path, raw, out)
        if integer is None or not _check_range(path, key, path, integer, raw, out):
            return None
        return integer
    if isinstance(default, str):
        return _parse_str(path, raw, out)
    if isinstance(default, tuple):
        return _parse_float_list(path, key, raw, out)
    raise TypeError(f"no validator for {path} ({type(default).__name__})")


def _parse_float(
    path: str, raw: object, out: _Problems, key_path: str | None = None
) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        out.add(path, f"expected a number (int or float), got {_describe(raw)}", key_path)
        return None
    try:
        number = float(raw)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        out.add(path, f"must be a finite number, got {_show(raw)}", key_path)
        return None
    return number


def _parse_int(path: str, raw: object, out: _Problems) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int):
        out.add(path, f"expected an integer, got {_describe(raw)}")
        return None
    return raw


def _parse_str(path: str, raw: object, out: _Problems) -> str | None:
    if not isinstance(raw, str):
        hint = "; put the value in quotes" if isinstance(raw, bool | int | float) else ""
        out.add(path, f"expected a string, got {_describe(raw)}{hint}")
        return None
    if path in _NON_EMPTY_STRINGS and not raw.strip():
        out.add(path, f"must be a non-empty string, got {_show(raw)}")
        return None
    if path == "market.dex" and ":" in raw:
        out.add(path, f"must not contain ':', got {_show(raw)}")
        return None
    if path == "market.coin" and ":" in raw:
        prefix, _, name = raw.partition(":")
        if not prefix or not name or ":" in name:
            out.add(path, f"must be COIN or DEX:COIN, got {_show(raw)}")
            return None
    return raw


def _parse_policy(path: str, raw: object, out: _Problems) -> OrphanPolicy | None:
    if isinstance(raw, OrphanPolicy):
        return raw
    allowed = [policy.value for policy in OrphanPolicy]
    if isinstance(raw, str) and raw in allowed:
        return OrphanPolicy(raw)
    message = f"must be one of {', '.join(allowed)}, got {_describe(raw)}"
    if isinstance(raw, str):
        guess = _closest(raw.lower(), allowed)
        if guess is not None:
            message += f"; did you mean {guess!r}?"
    out.add(path, message)
    return None


def _parse_float_list(path: str, key: str, raw: object, out: _Problems) -> tuple[float, ...] | None:
    if not isinstance(raw, list | tuple) or not raw:
        out.add(path, f"expected a non-empty list of numbers, got {_describe(raw)}")
        return None
    numbers: list[float] = []
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        number = _parse_float(item_path, item, out, key_path=path)
        if number is not None and _check_range(item_path, key, path, number, item, out):
            numbers.append(number)
    if len(numbers) != len(raw):
        return None
    return tuple(numbers)


def _check_range(
    path: str, key: str, key_path: str, value: float, raw: object, out: _Problems
) -> bool:
    """Apply the range rules of ``key``; ``raw`` is the value as written, for messages."""
    if key.endswith(_POSITIVE_SUFFIXES) and not value > 0:
        out.add(path, f"must be > 0, got {_show(raw)}", key_path)
        return False
    if key_path in _AT_LEAST_ONE and value < 1:
        out.add(path, f"must be >= 1, got {_show(raw)}", key_path)
        return False
    if key_path in _NON_NEGATIVE and value < 0:
        out.add(path, f"must be >= 0, got {_show(raw)}", key_path)
        return False
    if key_path in _BELOW_100 and value >= 100:
        out.add(path, f"must be < 100, got {_show(raw)}", key_path)
        return False
    return True


def _require(
    out: _Problems,
    path: str,
    value: float,
    relation: str,
    other_path: str,
    other: float,
    why: str = "",
) -> None:
    """Report at ``path`` unless ``value relation other`` holds (both keys must be valid)."""
    if not out.valid(path, other_path):
        return
    holds = value < other if relation == "<" else value >= other
    if not holds:
        reason = f" ({why})" if why else ""
        out.add(path, f"must be {relation} {other_path} ({other!r}), got {value!r}{reason}")


def _check_combinations(config: LifecycleConfig, out: _Problems) -> None:
    """Check the rules that involve more than one key."""
    rec, sync, market = config.reconciler, config.sync, config.market
    _require(
        out,
        "reconciler.latch_bps",
        rec.latch_bps,
        "<",
        "reconciler.max_modify_bps",
        rec.max_modify_bps,
    )
    _require(
        out,
        "reconciler.max_modify_bps",
        rec.max_modify_bps,
        "<",
        "reconciler.drift_cancel_all_bps",
        rec.drift_cancel_all_bps,
    )
    _require(
        out,
        "reconciler.book_age_grace_s",
        rec.book_age_grace_s,
        "<",
        "reconciler.book_stale_s",
        rec.book_stale_s,
    )
    _require(
        out, "sync.missing_min_s", sync.missing_min_s, ">=", "sync.interval_s", sync.interval_s
    )
    _require(
        out,
        "sync.snapshot_max_age_s",
        sync.snapshot_max_age_s,
        ">=",
        "sync.interval_s",
        sync.interval_s,
        "otherwise every scheduled snapshot is already too old to use",
    )

    tolerances_path = "reconciler.level_tolerance_bps"
    if out.valid(tolerances_path):
        tolerances = rec.level_tolerance_bps
        for index in range(1, len(tolerances)):
            previous, current = tolerances[index - 1], tolerances[index]
            if current < previous:
                out.add(
                    f"{tolerances_path}[{index}]",
                    f"must be >= {tolerances_path}[{index - 1}] ({previous!r}), got "
                    f"{current!r} (tolerances must be non-decreasing)",
                    tolerances_path,
                )

    if out.valid("market.sz_decimals") and market.sz_decimals > 6:
        out.add(
            "market.sz_decimals",
            f"must be <= 6 (perp prices keep 6 - sz_decimals decimals), got {market.sz_decimals}",
        )

    if out.valid("market.coin", "market.dex") and market.dex and ":" in market.coin:
        prefix = market.coin.partition(":")[0]
        if prefix != market.dex:
            out.add(
                "market.coin",
                f"dex prefix {prefix!r} must equal market.dex ({market.dex!r}), "
                f"got {market.coin!r}",
            )
