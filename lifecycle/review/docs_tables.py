"""Generated tables of declarations: config keys, the pytest plugin's options, a package's modules.

Theory of operation
-------------------
Part of the documentation site's generator (:mod:`lifecycle.review.docs_gen` has the
lifecycle and end-reason pages, and the helpers shared with this module). Each table is
made from a declaration, each time the site is built, so it cannot drift from it:

* :func:`configuration_page`: every key of :class:`~lifecycle.config.model.LifecycleConfig`,
  section by section, with its type and default (as ``config.yaml`` writes it,
  :func:`yaml_value`) and its meaning from the section's ``Attributes:`` docstring
  (:func:`attribute_docs`); a key without a description raises
  :class:`~lifecycle.review.docs_gen.DocsOutOfDate`;
* :func:`plugin_options_table`: what the pytest plugin's ``pytest_addoption`` declares,
  recorded by a stand-in for pytest's parser (pytest is imported only then);
* :func:`package_modules_table`: a package's modules with the first paragraph of each
  docstring, read from source without importing them, so the adapters' optional
  dependencies need not be installed.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import inspect
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from lifecycle.config.model import LifecycleConfig
from lifecycle.review.docs_gen import DocsOutOfDate, cell, code_list, markdown_text

__all__ = [
    "attribute_docs",
    "configuration_page",
    "package_modules_table",
    "plugin_options_table",
    "yaml_value",
]


def attribute_docs(kind: type) -> dict[str, str]:
    """The ``Attributes:`` section of a class's Google-style docstring, by name."""
    lines = inspect.cleandoc(kind.__doc__ or "").splitlines()
    docs: dict[str, str] = {}
    name = ""
    inside = False
    for line in lines:
        if line.strip() == "Attributes:":
            inside = True
            continue
        if not inside:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        entry = re.match(r"^ {4}(\w+): (.*)$", line)
        if entry:
            name = entry.group(1)
            docs[name] = entry.group(2).strip()
        elif line.startswith("        ") and name:
            docs[name] += " " + line.strip()
    return docs


def yaml_value(value: object) -> str:
    """``value`` as it is written in ``config.yaml``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, str):
        # Quoted when YAML would read the bare word as something else ("", "true", "1").
        return value if value and yaml.safe_load(value) == value else json.dumps(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, float):
        # Positional, with a dot: YAML reads `1e-05` as text and `30` as an int.
        text = format(Decimal(repr(value)), "f")
        return text if "." in text else text + ".0"
    return repr(value)


def configuration_page(defaults_file: str | None = None) -> str:
    """The configuration page: every key with its type, default and meaning.

    Args:
        defaults_file: The text of ``config.yaml``, shown at the end when given.

    Raises:
        DocsOutOfDate: A key has no description in its section's docstring.
    """
    config = LifecycleConfig()
    out = [
        "# Configuration",
        "",
        "Every key of the configuration file, generated from the config model "
        "(`lifecycle.config.model`) each time this site is built. Any key or whole "
        "section may be left out, and takes its default; unknown keys are errors. "
        "`load_config(path)` returns frozen dataclasses; `LifecycleConfig()` is the "
        "all-defaults configuration, and sections built in code are checked exactly as "
        "a file is. Every problem is reported at once in one `ConfigError`, each at its "
        "key path, and `lifecycle check-config PATH` prints that report and, as "
        "warnings, settings that are valid but cannot take effect.",
        "",
        "Units are part of the key names: `_s` seconds, `_ms` milliseconds, `_bps` basis "
        "points (1 bps = 0.01 %), `_pct` percent, `_usd` US dollars; every such key must "
        "be greater than 0.",
    ]
    problems = []
    for section in dataclasses.fields(config):
        value = getattr(config, section.name)
        kind = type(value)
        words = attribute_docs(kind)
        summary = inspect.cleandoc(kind.__doc__ or "").splitlines()[0]
        out += ["", f"## `{section.name}` {{#{section.name}}}", "",
                f"{markdown_text(summary)} (`{kind.__name__}`)", "",
                "| key | default | type | meaning |", "|---|---|---|---|"]
        for key in dataclasses.fields(value):
            if key.name not in words:
                problems.append(f"{section.name}.{key.name}")
            default = getattr(value, key.name)
            kind_text = f"`{key.type}`"
            if isinstance(default, enum.Enum):
                kind_text = "one of " + code_list(str(m.value) for m in type(default))
            out.append(f"| `{section.name}.{key.name}` | `{yaml_value(default)}` | "
                       f"{kind_text} | {cell(words.get(key.name, ''))} |")
    if problems:
        raise DocsOutOfDate(f"config keys without a description in the model: {problems}")
    if defaults_file is not None:
        out += ["", "## The defaults file {#defaults-file}", "",
                "`config.yaml` at the top of the repository lists every key with its "
                "default and a comment:", "", "```yaml", defaults_file.rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


class _OptionRecorder:
    """Stands in for pytest's parser: records what ``pytest_addoption`` declares."""

    def __init__(self) -> None:
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.ini: dict[str, str] = {}

    def getgroup(self, *args: Any, **kwargs: Any) -> _OptionRecorder:
        return self

    def addoption(self, *names: str, **attrs: Any) -> None:
        self.options.append((names, attrs))

    def addini(self, name: str, help: str, *args: Any, **kwargs: Any) -> None:
        self.ini[name] = help


def plugin_options_table() -> str:
    """The pytest plugin's command-line options and ini keys, as a Markdown table."""
    from lifecycle.review import pytest_plugin  # imports pytest: only when asked for

    recorder = _OptionRecorder()
    pytest_plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    out = ["| option | ini key | what it does |", "|---|---|---|"]
    for names, attrs in recorder.options:
        metavar = attrs.get("metavar")
        shown = ", ".join(f"`{n}={metavar}`" if metavar else f"`{n}`" for n in names)
        ini = names[0].lstrip("-").replace("-", "_")
        helptext = str(attrs.get("help", "")).replace("%%", "%")
        out.append(f"| {shown} | {f'`{ini}`' if ini in recorder.ini else ''} | "
                   f"{cell(helptext)} |")
    return "\n".join(out) + "\n"


def package_modules_table(root: Path, package: str, *, skip: Sequence[str] = ()) -> str:
    """A package's modules and the first paragraph of each docstring, read from source.

    Nothing is imported, so the package's optional dependencies need not be installed.

    Args:
        root: The package's folder.
        package: Its dotted name, as users import it.
        skip: Folder names to leave out (relative to ``root``).

    Returns:
        A Markdown table, or a sentence saying the package has no modules yet.
    """
    rows = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if any(part in skip for part in parts) or "__pycache__" in parts:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join((package, *parts))
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        first = " ".join(doc.split("\n\n")[0].split())
        rows.append(f"| `{name}` | {cell(first)} |")
    if not rows:
        return f"`{package}` has no modules yet.\n"
    return "\n".join(["| module | what it holds |", "|---|---|", *rows]) + "\n"
