"""Loading and validating a configuration: every problem at once, with key paths.

A configuration file is a single YAML mapping (see :mod:`lifecycle.config.model` for the
sections). Every section and every key is optional. A missing key takes the default declared
on its dataclass, a missing (or empty) section takes all of its defaults, and an empty file is
the all-defaults configuration. Every key with a unit suffix must be strictly positive.

Validation never stops at the first mistake: :func:`parse_config` collects every problem
(unknown sections or keys, keys set twice, wrong types, out-of-range values, inconsistent
combinations of keys) and raises them together in one :class:`ConfigError`, each as a
:class:`ConfigProblem` naming the dotted key path, e.g. ``orders.protection_s`` or
``reconciler.level_tolerance_bps[1]``. :func:`check_config` returns the same problems as a
list instead of raising, for command-line checks (``lifecycle check-config PATH``).

Typical use::

    config = load_config("config.yaml")       # raises ConfigError on any problem
    config.orders.protection_s                 # 10.0
    config.coin_key                            # "BTC", or "dex:COIN" on a builder dex

This module only parses and validates; it holds no state and never reads a clock.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import reprlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from lifecycle.config.document import ROOT, read_document
from lifecycle.config.model import (
    ConfigError,
    ConfigProblem,
    LifecycleConfig,
    MarketConfig,
    OrdersConfig,
    OrphanPolicy,
    ReconcilerConfig,
    RuntimePolicyConfig,
    SyncConfig,
)

__all__ = ["check_config", "load_config", "parse_config"]

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
    data, duplicates = read_document(text)
    if duplicates and data is None:  # unreadable: syntax, recursion or size
        raise ConfigError(source, duplicates)
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
        runtime=_parse_section("runtime", RuntimePolicyConfig(), data.get("runtime"), out),
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

_ROOT: Final = ROOT

_SECTION_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "orders": tuple(f.name for f in dataclasses.fields(OrdersConfig)),
    "sync": tuple(f.name for f in dataclasses.fields(SyncConfig)),
    "reconciler": tuple(f.name for f in dataclasses.fields(ReconcilerConfig)),
    "market": tuple(f.name for f in dataclasses.fields(MarketConfig)),
    "runtime": tuple(f.name for f in dataclasses.fields(RuntimePolicyConfig)),
}

#: Keys with one of these unit suffixes must be > 0.
_POSITIVE_SUFFIXES: Final = ("_s", "_ms", "_bps", "_pct", "_usd")
#: Backoffs that grow from ``_initial_s`` by ``_factor`` up to ``_max_s``.
_BACKOFFS: Final = ("rejection_backoff", "rate_limit_backoff", "exhaustion_backoff")
_AT_LEAST_ONE: Final = frozenset(
    {"orders.history_limit", "orders.fill_dedup_capacity", "sync.missing_snapshots",
     "runtime.rejection_backoff_after", *(f"runtime.{b}_factor" for b in _BACKOFFS)}
)
_NON_NEGATIVE: Final = frozenset({"reconciler.cross_margin_ticks", "market.sz_decimals"})
_BELOW_100: Final = frozenset(
    {"reconciler.latch_size_pct", "runtime.safety_reserve_pct", "runtime.headroom_min_pct",
     "runtime.exhaustion_jitter_pct"}
)
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

    runtime = config.runtime
    for backoff in _BACKOFFS:
        _require(
            out, f"runtime.{backoff}_max_s", getattr(runtime, f"{backoff}_max_s"), ">=",
            f"runtime.{backoff}_initial_s", getattr(runtime, f"{backoff}_initial_s"),
        )
    _require(
        out, "runtime.headroom_refresh_s", runtime.headroom_refresh_s, "<",
        "runtime.headroom_max_age_s", runtime.headroom_max_age_s,
        "otherwise the reading ages out before the next one",
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
