"""What a configuration check reports: problems, raised together as one :class:`ConfigError`.

A problem is an error (the configuration is refused) or a warning (it loads,
but a setting cannot take effect as written). Errors travel together in one
:class:`ConfigError`; warnings are listed by
:func:`~lifecycle.config.coherence.config_warnings` and printed by
``lifecycle check-config``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["ERROR", "WARNING", "ConfigError", "ConfigProblem", "Severity"]

#: How serious a problem is: an ``"error"`` refuses the configuration, a
#: ``"warning"`` does not.
Severity = Literal["error", "warning"]
#: The severity of a problem that refuses the configuration.
ERROR: Final = "error"
#: The severity of a problem that does not refuse it.
WARNING: Final = "warning"


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem found in a configuration.

    Attributes:
        path: Dotted key path of the offending value, e.g. ``orders.protection_s`` or
            ``reconciler.level_tolerance_bps[1]``; ``<root>`` for the document itself,
            ``<file>`` when the file cannot be read and ``<yaml>`` for a YAML syntax error.
        message: What is wrong, in one line.
        severity: ``"error"`` (the configuration is refused) or ``"warning"`` (it
            loads, but a setting cannot take effect as written).
    """

    path: str
    message: str
    severity: Severity = ERROR

    def __str__(self) -> str:
        """Return ``"path: message"``."""
        return f"{self.path}: {self.message}"


class ConfigError(ValueError):
    """A configuration has one or more problems.

    ``str(error)`` is a header line ``"{source}: N problem(s)"`` followed by one line
    ``"  {path}: {message}"`` per problem.

    Attributes:
        source: Where the configuration came from: the file name, the ``source`` given
            to :func:`~lifecycle.config.loader.parse_config`, or the name of the class
            built in code (``"OrdersConfig"``).
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
