"""Reading a YAML configuration document safely: syntax, size, repeated keys.

YAML has anchors and aliases, which a configuration never needs but a file may
still contain. Two uses of them must not reach the parser's recursive
constructors: an alias naming a node that contains it (a recursive document,
which would end in a ``RecursionError``) and a few aliases that expand to an
enormous document (the "billion laughs": a few hundred bytes taking minutes).
:func:`read_document` composes the node graph once, walks it iteratively with a
budget of values (:data:`MAX_VALUES`) and refuses either shape with a
:class:`~lifecycle.config.model.ConfigProblem`, before anything is constructed.
It also reports every key that a mapping repeats (YAML would keep the last value
silently).

YAML 1.1, which PyYAML reads, takes a number with an exponent only with a dot
and a signed exponent: ``1.0e+3`` is a float, ``1e3`` and ``1.0e3`` are text.
:func:`number_as_text` recognises such text, so that the loader can say why a
number key got a string instead of only that it did.
"""

from __future__ import annotations

import math
import re
from typing import Final

import yaml

from lifecycle.config.model import ConfigProblem

__all__ = [
    "MAX_VALUES",
    "ROOT",
    "describe_yaml_error",
    "duplicate_keys",
    "number_as_text",
    "read_document",
]

#: The most values (scalars, sequences and mappings, aliases expanded) a document may hold.
MAX_VALUES: Final = 10_000
#: The key path of the document itself.
ROOT: Final = "<root>"
#: Text that reads as a number to a person (and to Python's ``float``), not to YAML 1.1.
_NUMBER_TEXT: Final = re.compile(r"[-+]?(\d[\d_]*\.?\d*|\.\d+)([eE][-+]?\d+)?")


def read_document(text: str) -> tuple[object, list[ConfigProblem]]:
    """Parse ``text`` into plain Python data.

    Returns:
        The data (None for an empty document) and the problems found. When the
        document cannot be read at all (a syntax error, a recursive or oversized
        expansion), the data is None and the one problem says why.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return None, [ConfigProblem("<yaml>", describe_yaml_error(exc))]
    shape = _expansion_problem(node)
    if shape is not None:
        return None, [ConfigProblem("<yaml>", shape)]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # e.g. a value its tag cannot construct
        return None, [ConfigProblem("<yaml>", describe_yaml_error(exc))]
    return data, duplicate_keys(node)


def _expansion_problem(root: yaml.Node | None) -> str | None:
    """Why the node graph cannot be expanded safely, or None.

    Iterative depth-first walk: ``open_nodes`` holds the nodes on the current
    path, so meeting one of them again means an alias names its own ancestor.
    """
    if root is None:
        return None
    budget = MAX_VALUES
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            open_nodes.discard(id(node))
            continue
        if id(node) in open_nodes:
            line = node.start_mark.line + 1
            return f"a recursive alias (line {line}): a value that contains itself"
        budget -= 1
        if budget < 0:
            return (
                f"the document expands to more than {MAX_VALUES} values "
                "(anchors and aliases); write the values out"
            )
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                children += (key, value)
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if children:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))
    return None


def duplicate_keys(root: yaml.Node | None) -> list[ConfigProblem]:
    """One problem per key that a mapping of the (safely expandable) document repeats."""
    problems: list[ConfigProblem] = []

    def walk(node: yaml.Node | None, path: str | None) -> None:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                child = key if path is None else f"{path}.{key}"
                line = key_node.start_mark.line + 1
                if key in first_line:
                    problems.append(
                        ConfigProblem(
                            child,
                            f"duplicate key (line {first_line[key]} and line {line}); set it once",
                        )
                    )
                else:
                    first_line[key] = line
                walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path or ROOT}[{index}]")

    walk(root, None)
    return problems


def describe_yaml_error(exc: yaml.YAMLError) -> str:
    """One line saying where the YAML is wrong and what is wrong."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        what = exc.problem or "syntax error"
        if exc.context:
            what = f"{what} ({exc.context})"
        return f"invalid YAML at {where}: {what}"
    return f"invalid YAML: {' '.join(str(exc).split())}"


def number_as_text(value: object, *, integer: bool = False) -> str | None:
    """Why a string a person wrote as a number is a string, and how to write it.

    Args:
        value: A value the document holds where a number is due.
        integer: Whether the key takes an integer.

    Returns:
        A hint starting with ``"; "`` (to follow a type problem's message) when
        ``value`` is text that spells a finite number, such as ``"1e3"``; None
        for anything else.
    """
    if not isinstance(value, str) or _NUMBER_TEXT.fullmatch(value.strip()) is None:
        return None
    try:
        number = float(value.replace("_", ""))
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    text = value.strip()
    # The text matched _NUMBER_TEXT (digits, dots, signs, e): a plain scalar, safe to read.
    if not isinstance(yaml.safe_load(text), str):
        # Unquoted, YAML would read it as a number: it was quoted (or built in code).
        return f"; {text} in quotes is text: write the number without quotes"
    if integer and number.is_integer():
        way = f"{int(number)}"
    else:
        mantissa, _, exponent = f"{number:e}".partition("e")
        mantissa = mantissa.rstrip("0")
        if mantissa.endswith("."):
            mantissa += "0"
        scientific = f"{mantissa}e{int(exponent):+d}"
        plain = repr(number)
        way = scientific if "e" in plain else f"{plain} or {scientific}"
    return (
        f"; YAML reads {text} as text, not a number (an exponent needs a dot "
        f"and a sign): write {way}"
    )
