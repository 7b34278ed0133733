"""Transition coverage: which edges of the lifecycle a run exercised.

Theory of operation
-------------------
The legal edges are the rows of :data:`lifecycle.core.table.TABLE`, one per
``(source, trigger)`` (the destination follows from the row). A
:class:`TransitionCoverage` is a :class:`~lifecycle.core.machine.TransitionObserver`:
attached to one machine (``machine.add_observer``) or to every machine of the
process (:meth:`TransitionCoverage.start`, which the pytest plugin uses), it
counts each fired edge and each refused ``(state, trigger)`` attempt. The
refused ones are the negative coverage: proof that the tests tried illegal
moves and saw them rejected.

:meth:`TransitionCoverage.report` turns the counts into a
:class:`CoverageReport`: every legal edge with its hits, the uncovered first,
and the percentage of legal edges hit at least once. The report renders as a
text table, as JSON, and as the lifecycle diagram with edges weighted by hits
and the uncovered ones dashed red.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lifecycle.core.machine import observe_all, stop_observing_all
from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE

if TYPE_CHECKING:
    from lifecycle.core.order import Order

__all__ = ["CoverageReport", "EdgeHits", "TransitionCoverage"]

Edge = tuple[OrderState, Trigger]


@dataclass(frozen=True, slots=True)
class EdgeHits:
    """One legal edge and how often it fired."""

    source: OrderState
    trigger: Trigger
    dest: OrderState
    hits: int


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """Hits per legal edge and the refused attempts of one run.

    Attributes:
        edges: Every legal edge, the uncovered first (in table order), then
            the covered ones by decreasing hits.
        refused: Illegal ``(state, trigger)`` attempts and how often each was refused.
    """

    edges: tuple[EdgeHits, ...]
    refused: tuple[tuple[OrderState, Trigger, int], ...]

    @property
    def total(self) -> int:
        """Number of legal edges."""
        return len(self.edges)

    @property
    def covered(self) -> int:
        """Number of legal edges fired at least once."""
        return sum(1 for e in self.edges if e.hits)

    @property
    def percent(self) -> float:
        """Covered edges as a percentage of legal edges (100.0 for an empty table)."""
        return 100.0 * self.covered / self.total if self.total else 100.0

    @property
    def uncovered(self) -> tuple[EdgeHits, ...]:
        """The legal edges never fired."""
        return tuple(e for e in self.edges if not e.hits)

    def counts(self) -> dict[Edge, int]:
        """Hits keyed by ``(source, trigger)``, as the diagram takes them."""
        return {(e.source, e.trigger): e.hits for e in self.edges}

    def table(self) -> str:
        """The report as a text table, uncovered edges first, then the percentage."""
        width = max(
            (len(f"{e.source.value} --{e.trigger.value}--> {e.dest.value}") for e in self.edges),
            default=10,
        )
        lines = [f"{'edge':<{width}}  hits"]
        for e in self.edges:
            edge = f"{e.source.value} --{e.trigger.value}--> {e.dest.value}"
            mark = "  MISSED" if not e.hits else ""
            lines.append(f"{edge:<{width}}  {e.hits:>4}{mark}")
        lines.append(
            f"transition coverage: {self.covered}/{self.total} legal edges "
            f"({self.percent:.1f} %)"
        )
        if self.refused:
            lines.append("illegal triggers refused (negative coverage):")
            for state, trigger, attempts in self.refused:
                lines.append(f"  {state.value} --{trigger.value}-->  x{attempts}")
        else:
            lines.append("illegal triggers refused: none attempted")
        return "\n".join(lines)

    def summary(self) -> str:
        """The short report: the percentage, each uncovered edge with what fires its
        trigger, and a one-line count of the refused illegal triggers."""
        from lifecycle.review.docs_text import TRIGGER_TEXT

        lines = [
            f"transition coverage: {self.covered}/{self.total} legal edges "
            f"({self.percent:.1f} %)"
        ]
        for e in self.uncovered:
            lines.append(f"  MISSED {e.source.value} --{e.trigger.value}--> {e.dest.value}")
            text = TRIGGER_TEXT.get(e.trigger)
            if text is not None:
                lines.append(f"         fired by: {text.fired_by.replace('`', '')}")
        attempts = sum(n for _, _, n in self.refused)
        lines.append(
            f"illegal triggers refused: {attempts} attempt(s) of {len(self.refused)} "
            "(state, trigger) pair(s) (-v lists them and every edge)"
        )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        return {
            "percent": round(self.percent, 2),
            "covered": self.covered,
            "total": self.total,
            "edges": [
                {
                    "source": e.source.value,
                    "trigger": e.trigger.value,
                    "dest": e.dest.value,
                    "hits": e.hits,
                }
                for e in self.edges
            ],
            "refused": [
                {"state": s.value, "trigger": t.value, "attempts": n} for s, t, n in self.refused
            ],
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created) and return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return out

    def write_diagram(self, path: str | Path, *, title: str = "Transition coverage") -> Path:
        """Render the coverage diagram to ``path``; the format is its suffix (svg or png).

        Raises:
            ValueError: The suffix is neither ``.svg`` nor ``.png``.
        """
        from lifecycle.review.diagram import lifecycle_graph

        out = Path(path)
        fmt = out.suffix.lower().lstrip(".")
        if fmt not in ("svg", "png"):
            raise ValueError(f"coverage diagram path must end in .svg or .png, got {out}")
        out.parent.mkdir(parents=True, exist_ok=True)
        graph = lifecycle_graph(self.counts(), title=title)
        out.write_bytes(graph.pipe(format=fmt))
        return out


class TransitionCoverage:
    """Counts fired edges and refused attempts (a transition observer)."""

    __slots__ = ("hits", "refused")

    def __init__(self) -> None:
        #: Hits per fired ``(source, trigger)``.
        self.hits: Counter[Edge] = Counter()
        #: Refused attempts per illegal ``(state, trigger)``.
        self.refused: Counter[Edge] = Counter()

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        """Count one fired edge."""
        self.hits[(source, trigger)] += 1

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        """Count one refused attempt (the order is still in its state)."""
        self.refused[(order.state, trigger)] += 1

    def start(self) -> None:
        """Observe every machine of the process, existing and future."""
        observe_all(self)

    def stop(self) -> None:
        """Stop observing every machine."""
        stop_observing_all(self)

    def update(self, hits: Mapping[Edge, int], refused: Mapping[Edge, int] | None = None) -> None:
        """Add counts gathered elsewhere (another process, a journal)."""
        self.hits.update(hits)
        if refused:
            self.refused.update(refused)

    def report(self) -> CoverageReport:
        """Build the report over every legal edge of the table."""
        rows = [
            EdgeHits(source, trigger, dest, self.hits.get((source, trigger), 0))
            for (source, trigger), dest in TABLE.items()
        ]
        order = {key: i for i, key in enumerate(TABLE)}
        rows.sort(key=lambda e: (e.hits > 0, -e.hits, order[(e.source, e.trigger)]))
        refused = tuple(
            (state, trigger, n)
            for (state, trigger), n in sorted(
                self.refused.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value)
            )
        )
        return CoverageReport(edges=tuple(rows), refused=refused)
