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
list instead of raising, for command-line checks (``lifecycle check-config PATH``);
:func:`parse_config_text` reads a document given as text (``check-config -``, stdin).

A number written in a form YAML 1.1 reads as text (``1e3``: no dot, no exponent
sign) is refused like any text where a number is due, and the problem says why
and how to write it (:func:`~lifecycle.config.document.number_as_text`).

Typical use::

    config = load_config("config.yaml")       # raises ConfigError on any problem
    config.orders.protection_s                 # 10.0
    config.coin_key                            # "BTC", or "dex:COIN" on a builder dex

This module only parses and validates; it holds no state and never reads a clock.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from lifecycle.config.document import ROOT, number_as_text, read_document
from lifecycle.config.model import (
    LifecycleConfig,
    MarketConfig,
    OrdersConfig,
    ReconcilerConfig,
    RuntimePolicyConfig,
    SyncConfig,
)
from lifecycle.config.problems import ConfigError, ConfigProblem
from lifecycle.config.rules import Problems, check_combinations, check_value, closest, describe
from lifecycle.config.trading import ExchangeConfig, QuotingConfig

__all__ = ["check_config", "load_config", "parse_config", "parse_config_text"]


def load_config(path: str | os.PathLike[str]) -> LifecycleConfig:
    """Read and validate a YAML configuration file.

    A setting that is valid but cannot take effect as written does not refuse
    the file; :func:`~lifecycle.config.coherence.config_warnings` lists those.

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
    return parse_config_text(text, source=source)


def parse_config_text(text: str, *, source: str = "<config>") -> LifecycleConfig:
    """Read and validate the text of a YAML configuration (``lifecycle check-config -``).

    Args:
        text: The YAML document.
        source: Where it came from, used in the error message.

    Returns:
        The validated configuration, as :func:`load_config` returns it.

    Raises:
        ConfigError: Every problem :func:`load_config` would raise but a missing file.
    """
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
    out = Problems()
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        out.add(_ROOT, f"must be a mapping of sections, got {describe(data)}")
        raise ConfigError(source, out.items)

    for name in data:
        if name not in _SECTION_KEYS:
            out.add(_path(None, name), _unknown_section_message(name))

    # Every value is checked before any section is built: a section refuses
    # to be built with a problem, and every problem must be reported at once.
    sections = {
        name: _parse_section(name, data.get(name), out) for name in _SECTION_MODELS
    }
    check_combinations(sections, out)
    if out.items:
        raise ConfigError(source, out.items)
    built = {name: _SECTION_MODELS[name](**values) for name, values in sections.items()}
    return LifecycleConfig(**built)  # type: ignore[arg-type]


def check_config(path: str | os.PathLike[str]) -> list[ConfigProblem]:
    """List the problems of a YAML configuration file without raising.

    Args:
        path: The YAML file to check.

    Returns:
        Every problem :func:`load_config` would raise, including a missing file or a YAML
        syntax error; an empty list when the file is valid. Warnings are not problems
        here: :func:`~lifecycle.config.coherence.config_warnings` lists them.
    """
    try:
        load_config(path)
    except ConfigError as exc:
        return list(exc.problems)
    return []


# --------------------------------------------------------------------------------------------
# Parsing internals
# --------------------------------------------------------------------------------------------

_ROOT: Final = ROOT

_SECTION_MODELS: Final[Mapping[str, type[DataclassInstance]]] = {
    "orders": OrdersConfig,
    "sync": SyncConfig,
    "reconciler": ReconcilerConfig,
    "market": MarketConfig,
    "runtime": RuntimePolicyConfig,
    "quoting": QuotingConfig,
    "exchange": ExchangeConfig,
}
_SECTION_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    name: tuple(f.name for f in dataclasses.fields(model))
    for name, model in _SECTION_MODELS.items()
}
_DEFAULTS: Final[Mapping[str, dict[str, object]]] = {
    name: {f.name: f.default for f in dataclasses.fields(model)}
    for name, model in _SECTION_MODELS.items()
}


def _path(section: str | None, key: object) -> str:
    return f"{section}.{key}" if section is not None else str(key)


def _unknown_section_message(name: object) -> str:
    guess = closest(name, _SECTION_KEYS)
    if guess is not None:
        return f"unknown section; did you mean {guess!r}?"
    qualified = {key: f"{section}.{key}" for section, keys in _SECTION_KEYS.items() for key in keys}
    guess = closest(name, qualified)
    if guess is not None:
        return (
            f"unknown section; did you mean {qualified[guess]!r}? "
            "(keys belong inside their section)"
        )
    return f"unknown section; valid sections: {', '.join(_SECTION_KEYS)}"


def _unknown_key_message(section: str, key: object) -> str:
    guess = closest(key, _SECTION_KEYS[section])
    if guess is not None:
        return f"unknown key; did you mean {guess!r}?"
    elsewhere = {
        name: f"{other}.{name}"
        for other, names in _SECTION_KEYS.items()
        if other != section
        for name in names
    }
    guess = closest(key, elsewhere)
    if guess is not None:
        return f"unknown key; did you mean {elsewhere[guess]!r}?"
    return "unknown key"


def _parse_section(section: str, raw: object, out: Problems) -> dict[str, object]:
    """Check one section; return its values by key, defaults for the absent or refused."""
    values = dict(_DEFAULTS[section])
    if raw is None:
        return values
    if not isinstance(raw, Mapping):
        out.add(section, f"must be a mapping of keys to values, got {describe(raw)}")
        return values
    for key, value in raw.items():
        path = _path(section, key)
        if not isinstance(key, str) or key not in values:
            out.add(path, _unknown_key_message(section, key))
            continue
        before = len(out.items)
        checked = check_value(path, key, value, _DEFAULTS[section][key], out)
        if checked is not None:
            values[key] = checked
        elif len(out.items) > before:
            _explain_text_numbers(out, before, path, value)
    return values


def _explain_text_numbers(out: Problems, first: int, path: str, value: object) -> None:
    """Add to each type problem from ``first`` on why YAML read its number as text.

    The value of ``path``, or one item of it (``path[i]``), may be a number a person
    wrote that YAML 1.1 reads as a string (``1e3``); the problem then says so.
    """
    for index in range(first, len(out.items)):
        problem = out.items[index]
        integer = problem.message.startswith("expected an integer")
        if not (integer or problem.message.startswith("expected a number")):
            continue
        raw: object = value
        if problem.path != path:
            item = problem.path.removeprefix(f"{path}[").removesuffix("]")
            if not (isinstance(value, list) and item.isdigit() and int(item) < len(value)):
                continue
            raw = value[int(item)]
        hint = number_as_text(raw, integer=integer)
        if hint is not None:
            out.items[index] = ConfigProblem(problem.path, problem.message + hint,
                                             problem.severity)
