"""Diagrams of the lifecycle, drawn from the ``transitions`` machine of record.

The machine of record is built from :data:`lifecycle.core.table.TABLE`, so the
picture can never show an edge the engine would refuse, nor miss one it allows.
States are grouped as ours, exchange-discovered and terminal; each edge is one
trigger (parallel edges are kept apart, so each can be labelled and, given
``edge_counts``, weighted by how often it fired).

The ``.dot`` text is deterministic and committed under ``diagrams/``; a test
fails when it differs from a fresh render. SVG and PNG need Graphviz's ``dot``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import graphviz

from lifecycle.core.machine import build_record_machine
from lifecycle.core.states import DISCOVERED, OURS, TERMINAL, OrderState, Trigger

__all__ = ["edges", "lifecycle_graph", "render", "render_lifecycle"]

#: Triggers decided locally (requests); drawn in blue.
_LOCAL = frozenset(
    {Trigger.SUBMIT, Trigger.ABANDON, Trigger.CANCEL_REQUEST, Trigger.MODIFY_REQUEST, Trigger.ADOPT}
)
#: Triggers fired by the engine's own timers or bookkeeping; drawn dashed.
_TIMED = frozenset({Trigger.FINALIZE, Trigger.PROTECTION_ELAPSED, Trigger.GRACE_ELAPSED})

_GROUPS = (
    ("ours", "ours", OURS),
    ("discovered", "exchange-discovered", DISCOVERED),
    ("terminal", "terminal", TERMINAL),
)


def edges() -> Iterator[tuple[OrderState, Trigger, OrderState]]:
    """Yield every ``(source, trigger, dest)`` of the machine of record, in table order."""
    record = build_record_machine()
    by_name = {s.name: s for s in OrderState}
    for name, event in record.events.items():
        trigger = Trigger(name)
        for transitions in event.transitions.values():
            for t in transitions:
                yield by_name[t.source], trigger, by_name[t.dest]


def lifecycle_graph(
    edge_counts: Mapping[tuple[OrderState, Trigger], int] | None = None,
    *,
    title: str = "Order lifecycle",
) -> graphviz.Digraph:
    """Build the lifecycle graph.

    Args:
        edge_counts: Optional hit count per ``(source, trigger)``; edges are
            then labelled with their count and drawn wider the more they fired,
            and edges never fired are dashed red.
        title: The graph's label.

    Returns:
        A ``graphviz.Digraph``; ``.source`` is the DOT text.
    """
    g = graphviz.Digraph("lifecycle")
    g.attr(label=title, labelloc="t", fontsize="18", rankdir="LR", fontname="Helvetica")
    g.attr("node", shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    for key, label, states in _GROUPS:
        with g.subgraph(name=f"cluster_{key}") as sub:
            sub.attr(label=label, style="rounded,dashed", color="gray50")
            for state in OrderState:  # enum order: deterministic output
                if state in states:
                    fill = "gray90" if state in TERMINAL else "white"
                    sub.node(state.name, state.name, fillcolor=fill)
    top = max(edge_counts.values(), default=0) if edge_counts else 0
    loops: dict[OrderState, list[str]] = {}
    for source, trigger, dest in edges():
        if edge_counts is None and source is dest:
            # Reflexive moves (late or repeated messages) share one loop per
            # state in the plain diagram: stacked loops make labels collide.
            loops.setdefault(source, []).append(trigger.value)
            continue
        attrs = {"label": trigger.value}
        if trigger in _LOCAL:
            attrs["color"] = attrs["fontcolor"] = "blue"
        elif trigger in _TIMED:
            attrs["style"] = "dashed"
        if edge_counts is not None:
            hits = edge_counts.get((source, trigger), 0)
            attrs["label"] = f"{trigger.value} ({hits})"
            if hits == 0:
                attrs.update(color="red", fontcolor="red", style="dashed")
            else:
                attrs["penwidth"] = f"{1 + 4 * hits / top:.2f}"
        g.edge(source.name, dest.name, **attrs)
    for state, names in loops.items():
        g.edge(state.name, state.name, label="\\n".join(names), color="gray40")
    return g


def render(
    graph: graphviz.Digraph,
    out_dir: str | Path,
    name: str,
    formats: tuple[str, ...] = ("svg", "png"),
) -> list[Path]:
    """Write ``name.dot`` and one file per format (rendered with Graphviz ``dot``).

    Returns:
        The paths written, the ``.dot`` first.

    Raises:
        graphviz.ExecutableNotFound: ``dot`` is not installed (the ``.dot`` is
            still written).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dot_path = out / f"{name}.dot"
    dot_path.write_text(graph.source, encoding="utf-8")
    written = [dot_path]
    for fmt in formats:
        path = out / f"{name}.{fmt}"
        path.write_bytes(graph.pipe(format=fmt))
        written.append(path)
    return written


def render_lifecycle(out_dir: str | Path = "diagrams") -> list[Path]:
    """Render the lifecycle into ``out_dir/lifecycle.{dot,svg,png}``."""
    return render(lifecycle_graph(), out_dir, "lifecycle")
