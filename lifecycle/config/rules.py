"""The rules every configuration value obeys, however the configuration was made.

Theory of operation
-------------------
One set of checks serves both ways of making a configuration: the loader runs
them on the values of a YAML document, and each section dataclass runs them
on its own fields when it is built in code (``OrdersConfig(...)``,
``dataclasses.replace(...)``), so a configuration object that exists is a
valid one, whatever made it.

:func:`check_value` checks one value against the type of its key's default
and the range rules its name implies (unit suffixes ``_s``, ``_ms``,
``_bps``, ``_pct`` and ``_usd`` must be > 0, counts at least 1...), and
returns it in the model's form (a switch must be a YAML boolean, never a
number or a word): an int where a float is due becomes that float, a
policy's text becomes the enum member, a list of numbers a tuple of
floats. :func:`check_combinations` checks the rules that involve more than one
key of a section, skipping a rule whose keys already had a problem (a value
that was refused cannot contradict another). Problems are collected in
:class:`Problems`, never raised one at a time: every problem is reported at
once. :func:`check_fields` is what a section's ``__post_init__`` calls.

This module holds no state and imports nothing else of the package but the
problem types, so the model can call it while its classes are being built.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import re
import reprlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final

from lifecycle.config.problems import ConfigError, ConfigProblem

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "Problems",
    "check_combinations",
    "check_fields",
    "check_value",
    "closest",
    "describe",
    "show",
]

#: Keys with one of these unit suffixes must be > 0.
_POSITIVE_SUFFIXES: Final = ("_s", "_ms", "_bps", "_pct", "_usd")
#: Backoffs that grow from ``_initial_s`` by ``_factor`` up to ``_max_s``.
_BACKOFFS: Final = ("rejection_backoff", "rate_limit_backoff", "exhaustion_backoff")
_AT_LEAST_ONE: Final = frozenset(
    {"orders.history_limit", "orders.fill_dedup_capacity", "sync.missing_snapshots",
     "quoting.levels", "runtime.rejection_backoff_after",
     *(f"runtime.{b}_factor" for b in _BACKOFFS)}
)
_NON_NEGATIVE: Final = frozenset({"reconciler.cross_margin_ticks", "market.sz_decimals"})
_BELOW_100: Final = frozenset(
    {"reconciler.latch_size_pct", "runtime.safety_reserve_pct", "runtime.headroom_min_pct",
     "runtime.exhaustion_jitter_pct"}
)
_NON_EMPTY_STRINGS: Final = frozenset(
    {"orders.namespace", "market.coin", "exchange.signer_env", "exchange.wallet_unlock_env"}
)
#: Keys > 0 whatever their name says.
_POSITIVE: Final = frozenset({"quoting.size"})
#: Keys holding an address: empty, or ``0x`` and 40 hexadecimal digits.
_ADDRESSES: Final = frozenset({"exchange.account_address", "exchange.vault_address"})
#: Keys naming an environment variable, and what such a name looks like.
_ENV_NAMES: Final = frozenset({"exchange.signer_env", "exchange.wallet_unlock_env"})
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Hyperliquid's least ``scheduleCancel`` delay, in seconds.
MIN_SCHEDULE_CANCEL_S: Final = 5.0

#: The least ``orders.fill_memory_s``: one hour. A restart's fill catch-up fetches the
#: fills since the journal began, but from no earlier than 90 % of the memory back (the
#: rest is the fetch's margin), so the memory must cover the downtime plus the stopped
#: process's last fill-sync period. An hour covers a routine restart (a deploy, a host
#: reboot) of up to 54 minutes; a shorter memory would leave the fills of such a
#: downtime unfetched.
MIN_FILL_MEMORY_S: Final = 3600.0

_repr = reprlib.Repr()
_repr.maxstring = 60
_repr.maxother = 60
_repr.maxlist = 8
_repr.maxdict = 4


class Problems:
    """Collects problems and remembers which key paths had one."""

    __slots__ = ("bad", "items")

    def __init__(self) -> None:
        #: The problems, in the order found.
        self.items: list[ConfigProblem] = []
        #: The key paths that had a problem.
        self.bad: set[str] = set()

    def add(self, path: str, message: str, key_path: str | None = None) -> None:
        """Report ``message`` at ``path``; ``key_path`` is its key when ``path`` is an item."""
        self.items.append(ConfigProblem(path, message))
        self.bad.add(path if key_path is None else key_path)

    def valid(self, *key_paths: str) -> bool:
        """Whether none of ``key_paths`` had a problem."""
        return self.bad.isdisjoint(key_paths)


def show(value: object) -> str:
    """A short repr of ``value`` for messages."""
    return _repr.repr(value)


def describe(value: object) -> str:
    """A short repr of ``value`` with its type, for messages."""
    kind = "empty value" if value is None else type(value).__name__
    return f"{show(value)} ({kind})"


def closest(word: object, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, or None when none is close."""
    matches = difflib.get_close_matches(str(word), list(candidates), n=1)
    return matches[0] if matches else None


# --- one value ---------------------------------------------------------------------------


def check_value(path: str, key: str, raw: object, default: object, out: Problems) -> object | None:
    """Check one value against the type of its default; return it in the model's form.

    Args:
        path: The value's key path, e.g. ``orders.protection_s``.
        key: The key alone, whose suffix sets the range rules.
        raw: The value as given.
        default: The key's default, whose type the value must have.
        out: Where problems go.

    Returns:
        The value as the model holds it, or None when it has a problem.
    """
    if isinstance(default, enum.Enum):
        return _check_choice(path, raw, type(default), out)
    if isinstance(default, bool):  # before int: a bool is an int to isinstance
        return _check_bool(path, raw, out)
    if isinstance(default, float):
        number = _check_float(path, raw, out)
        if number is None or not _check_range(path, key, path, number, raw, out):
            return None
        return number
    if isinstance(default, int):
        integer = _check_int(path, raw, out)
        if integer is None or not _check_range(path, key, path, integer, raw, out):
            return None
        return integer
    if isinstance(default, str):
        return _check_str(path, raw, out)
    if isinstance(default, tuple):
        return _check_float_list(path, key, raw, out)
    raise TypeError(f"no validator for {path} ({type(default).__name__})")


def _check_float(
    path: str, raw: object, out: Problems, key_path: str | None = None
) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        out.add(path, f"expected a number (int or float), got {describe(raw)}", key_path)
        return None
    try:
        number = float(raw)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        out.add(path, f"must be a finite number, got {show(raw)}", key_path)
        return None
    return number


def _check_int(path: str, raw: object, out: Problems) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int):
        out.add(path, f"expected an integer, got {describe(raw)}")
        return None
    return int(raw)


def _check_bool(path: str, raw: object, out: Problems) -> bool | None:
    if not isinstance(raw, bool):
        out.add(path, f"expected true or false, got {describe(raw)}")
        return None
    return raw


def _withheld(raw: object) -> str:
    """A refused ``exchange`` value described without its content: it may be key material
    pasted into the wrong key, which must never reach a terminal or a log."""
    length = len(raw) if isinstance(raw, str) else len(str(raw))
    return f"a {type(raw).__name__} of {length} characters (not shown: it may be key material)"


def _check_str(path: str, raw: object, out: Problems) -> str | None:
    secretive = path.startswith("exchange.")
    if not isinstance(raw, str):
        hint = "; put the value in quotes" if isinstance(raw, bool | int | float) else ""
        got = _withheld(raw) if secretive else describe(raw)
        out.add(path, f"expected a string, got {got}{hint}")
        return None
    if path in _NON_EMPTY_STRINGS and not raw.strip():
        out.add(path, f"must be a non-empty string, got {show(raw)}")
        return None
    if path in _ENV_NAMES and not _ENV_NAME.fullmatch(raw):
        out.add(path, f"must name an environment variable (letters, digits and _), got "
                      f"{_withheld(raw)}; the key itself goes in that variable, not here")
        return None
    if path in _ADDRESSES and raw and not _is_address(raw):
        out.add(path, f"must be empty or 0x and 40 hexadecimal digits, got {_withheld(raw)}")
        return None
    if path == "exchange.url" and raw and not raw.startswith(("http://", "https://")):
        out.add(path, f"must be empty or start with http:// or https://, got {_withheld(raw)}")
        return None
    if path == "market.dex" and ":" in raw:
        out.add(path, f"must not contain ':', got {show(raw)}")
        return None
    if path == "market.coin" and ":" in raw:
        prefix, _, name = raw.partition(":")
        if not prefix or not name or ":" in name:
            out.add(path, f"must be COIN or DEX:COIN, got {show(raw)}")
            return None
    return raw


def _is_address(text: str) -> bool:
    digits = text[2:]
    return (
        text[:2] in ("0x", "0X")
        and len(digits) == 40
        and all(c in "0123456789abcdefABCDEF" for c in digits)
    )


def _check_choice(
    path: str, raw: object, choices: type[enum.Enum], out: Problems
) -> enum.Enum | None:
    if isinstance(raw, choices):
        return raw
    allowed = [member.value for member in choices]
    if isinstance(raw, str) and raw in allowed:
        return choices(raw)
    message = f"must be one of {', '.join(allowed)}, got {describe(raw)}"
    if isinstance(raw, str):
        guess = closest(raw.lower(), allowed)
        if guess is not None:
            message += f"; did you mean {guess!r}?"
    out.add(path, message)
    return None


def _check_float_list(path: str, key: str, raw: object, out: Problems) -> tuple[float, ...] | None:
    if not isinstance(raw, list | tuple) or not raw:
        out.add(path, f"expected a non-empty list of numbers, got {describe(raw)}")
        return None
    numbers: list[float] = []
    for index, item in enumerate(raw):
        item_path = f"{path}[{index}]"
        number = _check_float(item_path, item, out, key_path=path)
        if number is not None and _check_range(item_path, key, path, number, item, out):
            numbers.append(number)
    if len(numbers) != len(raw):
        return None
    return tuple(numbers)


def _check_range(
    path: str, key: str, key_path: str, value: float, raw: object, out: Problems
) -> bool:
    """Apply the range rules of ``key``; ``raw`` is the value as written, for messages."""
    if (key.endswith(_POSITIVE_SUFFIXES) or key_path in _POSITIVE) and not value > 0:
        out.add(path, f"must be > 0, got {show(raw)}", key_path)
        return False
    if key_path in _AT_LEAST_ONE and value < 1:
        out.add(path, f"must be >= 1, got {show(raw)}", key_path)
        return False
    if key_path in _NON_NEGATIVE and value < 0:
        out.add(path, f"must be >= 0, got {show(raw)}", key_path)
        return False
    if key_path in _BELOW_100 and value >= 100:
        out.add(path, f"must be < 100, got {show(raw)}", key_path)
        return False
    return True


# --- several values ----------------------------------------------------------------------


def _require(
    out: Problems,
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


def check_combinations(sections: Mapping[str, Mapping[str, object]], out: Problems) -> None:
    """Check the rules that involve more than one key, for the sections given.

    Args:
        sections: Section name to its values by key (every key of the section,
            defaults included); a section not given is not checked.
        out: Where problems go; a rule whose keys had a problem is skipped.
    """
    orders = sections.get("orders")
    if orders is not None and out.valid("orders.fill_memory_s"):
        memory = _number(orders["fill_memory_s"])
        if memory < MIN_FILL_MEMORY_S:
            out.add(
                "orders.fill_memory_s",
                f"must be >= {MIN_FILL_MEMORY_S:g} (one hour), got {memory!r} (a restart's "
                "fill catch-up reaches back at most 90 % of it: a shorter memory cannot "
                "cover the downtime of a routine restart)",
            )
    rec = sections.get("reconciler")
    if rec is not None:
        for path, relation, other in (
            ("latch_bps", "<", "max_modify_bps"),
            ("max_modify_bps", "<", "drift_cancel_all_bps"),
            ("book_age_grace_s", "<", "book_stale_s"),
        ):
            _require(
                out, f"reconciler.{path}", _number(rec[path]), relation,
                f"reconciler.{other}", _number(rec[other]),
            )
    sync = sections.get("sync")
    if sync is not None:
        _require(
            out, "sync.missing_min_s", _number(sync["missing_min_s"]), ">=",
            "sync.interval_s", _number(sync["interval_s"]),
        )
        _require(
            out, "sync.snapshot_max_age_s", _number(sync["snapshot_max_age_s"]), ">=",
            "sync.interval_s", _number(sync["interval_s"]),
            "otherwise every scheduled snapshot is already too old to use",
        )
    runtime = sections.get("runtime")
    if runtime is not None:
        for backoff in _BACKOFFS:
            _require(
                out, f"runtime.{backoff}_max_s", _number(runtime[f"{backoff}_max_s"]), ">=",
                f"runtime.{backoff}_initial_s", _number(runtime[f"{backoff}_initial_s"]),
            )
        _require(
            out, "runtime.headroom_refresh_s", _number(runtime["headroom_refresh_s"]), "<",
            "runtime.headroom_max_age_s", _number(runtime["headroom_max_age_s"]),
            "otherwise the reading ages out before the next one",
        )
    if rec is not None:
        _check_tolerances(rec["level_tolerance_bps"], out)
    market = sections.get("market")
    if market is not None:
        _check_market(market, out)
    exchange = sections.get("exchange")
    if exchange is not None and out.valid("exchange.schedule_cancel_after_s"):
        after = _number(exchange["schedule_cancel_after_s"])
        if after < MIN_SCHEDULE_CANCEL_S:
            out.add(
                "exchange.schedule_cancel_after_s",
                f"must be >= {MIN_SCHEDULE_CANCEL_S:g} (Hyperliquid refuses a dead man's "
                f"switch set less than 5 s ahead), got {after!r}",
            )


def _check_tolerances(tolerances: object, out: Problems) -> None:
    path = "reconciler.level_tolerance_bps"
    if not out.valid(path) or not isinstance(tolerances, tuple):
        return
    for index in range(1, len(tolerances)):
        previous, current = tolerances[index - 1], tolerances[index]
        if current < previous:
            out.add(
                f"{path}[{index}]",
                f"must be >= {path}[{index - 1}] ({previous!r}), got "
                f"{current!r} (tolerances must be non-decreasing)",
                path,
            )


def _check_market(market: Mapping[str, object], out: Problems) -> None:
    sz_decimals = market["sz_decimals"]
    if out.valid("market.sz_decimals") and isinstance(sz_decimals, int) and sz_decimals > 6:
        out.add(
            "market.sz_decimals",
            f"must be <= 6 (perp prices keep 6 - sz_decimals decimals), got {sz_decimals}",
        )
    coin, dex = market["coin"], market["dex"]
    if (
        out.valid("market.coin", "market.dex")
        and isinstance(coin, str)
        and isinstance(dex, str)
        and dex
        and ":" in coin
    ):
        prefix = coin.partition(":")[0]
        if prefix != dex:
            out.add(
                "market.coin",
                f"dex prefix {prefix!r} must equal market.dex ({dex!r}), got {coin!r}",
            )


def _number(value: object) -> float:
    """A value a rule compares: a number once its key passed (others never reach a rule)."""
    return value if isinstance(value, int | float) else math.nan


# --- a section built in code -------------------------------------------------------------

# Per section class: its fields as (name, default).
_FIELDS: dict[type, tuple[tuple[str, object], ...]] = {}


def check_fields(section: str, instance: DataclassInstance, model: type) -> None:
    """Check a section dataclass built in code, as the loader checks a document's section.

    Each field of ``model`` (the section's class; a subclass's own fields are
    not the section's and are left alone) is checked with :func:`check_value`
    and stored back in the model's form; then the section's combinations are
    checked.

    Raises:
        ConfigError: With every problem, at key paths such as
            ``orders.orphan_policy``; its source is the class name.
    """
    fields = _FIELDS.get(model)
    if fields is None:
        fields = tuple((f.name, f.default) for f in dataclasses.fields(model))
        _FIELDS[model] = fields
    out = Problems()
    values: dict[str, object] = {}
    for name, default in fields:
        raw = getattr(instance, name)
        checked = check_value(f"{section}.{name}", name, raw, default, out)
        if checked is None:
            values[name] = raw
            continue
        if checked is not raw:
            # Frozen: stored as the loader would have made it (3 -> 3.0, "adopt" -> ADOPT).
            object.__setattr__(instance, name, checked)
        values[name] = checked
    check_combinations({section: values}, out)
    if out.items:
        raise ConfigError(type(instance).__name__, out.items)
