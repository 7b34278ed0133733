"""Diagrams of the lifecycle, drawn from the ``transitions`` machine of record.

Theory of operation
-------------------
The machine of record is built from :data:`lifecycle.core.table.TABLE`, so the
picture can never show an edge the engine would refuse, nor miss one it allows.
States are grouped as ours, exchange-discovered and terminal; each edge is one
trigger (parallel edges are kept apart, so each can be labelled and, given
``edge_counts``, weighted by how often it fired).

Every kind of move has its own line, explained by a legend drawn with the
graph (real edge samples, so the legend cannot drift from the drawing):
requests we send are blue, exchange messages black, timers dashed, immediate
moves (``finalize``: the engine's own step in the same instant, no waiting)
a double line. A state's reflexive moves (late or repeated messages it
absorbs without changing) share one grey loop, except GONE's: GONE absorbs
many messages and nearly every state has arrows into it, which would cross a
loop's label, so GONE's list is a note beside it in the same column instead.

With ``edge_counts`` (a simulation's or a test run's coverage) every edge is
labelled ``trigger (hits)`` and drawn wider the more it fired; an edge never
fired is red, dotted and ends in a bar (so it differs from a covered timer by
line and arrowhead, not by colour alone), and GONE's note lists each absorbed
message with its count, ``MISSED`` for those never seen.

The ``.dot`` text is deterministic and committed under ``diagrams/``; a test
fails when it differs from a fresh render. SVG and PNG need Graphviz's ``dot``
(:data:`DOT_MISSING` says how to install it); :func:`out_dir_problem` tells
beforehand why a directory cannot take the files.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import graphviz

from lifecycle.core.machine import build_record_machine
from lifecycle.core.states import DISCOVERED, OURS, TERMINAL, OrderState, Trigger

__all__ = [
    "DOT_MISSING",
    "GONE_NOTE",
    "edges",
    "lifecycle_graph",
    "out_dir_problem",
    "render",
    "render_lifecycle",
]

#: What to tell someone whose system has no Graphviz ``dot`` (the Python
#: package ``graphviz`` only calls it; pip cannot install it).
DOT_MISSING = (
    "Graphviz `dot` is not installed (pip installs only its Python wrapper). Install "
    "Graphviz: `sudo apt install graphviz` (Debian, Ubuntu), `sudo dnf install graphviz` "
    "(Fedora), `brew install graphviz` (macOS), `conda install graphviz`, or see "
    "https://graphviz.org/download/"
)

#: Triggers decided locally (requests); drawn in blue.
_LOCAL = frozenset(
    {Trigger.SUBMIT, Trigger.ABANDON, Trigger.CANCEL_REQUEST, Trigger.MODIFY_REQUEST, Trigger.ADOPT}
)
#: Triggers fired when one of the engine's timers elapses; drawn dashed.
_TIMERS = frozenset({Trigger.PROTECTION_ELAPSED, Trigger.GRACE_ELAPSED})
#: Triggers the engine fires at once, in the same instant as the move before
#: (no timer, no message); drawn as a double line.
_IMMEDIATE = frozenset({Trigger.FINALIZE})

#: The node holding the messages GONE absorbs (next to GONE).
GONE_NOTE = "GONE_absorbs"

_REQUEST = {"color": "blue", "fontcolor": "blue"}
_TIMER = {"style": "dashed"}
_INSTANT = {"color": "black:invis:black"}
_ABSORBED = {"color": "gray40", "fontcolor": "gray25"}
_MISSED = {"color": "red", "fontcolor": "red", "style": "dotted", "arrowhead": "tee"}
#: Of a missed edge's attributes, those written after its colour (graphviz sorts
#: keyword attributes; ``label=... color=red`` is what readers of the .dot grep for).
_MISSED_LAST = ("style", "arrowhead")

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


def _kind_style(trigger: Trigger) -> dict[str, str]:
    if trigger in _LOCAL:
        return dict(_REQUEST)
    if trigger in _TIMERS:
        return dict(_TIMER)
    if trigger in _IMMEDIATE:
        return dict(_INSTANT)
    return {}


def lifecycle_graph(
    edge_counts: Mapping[tuple[OrderState, Trigger], int] | None = None,
    *,
    title: str = "Order lifecycle",
) -> graphviz.Digraph:
    """Build the lifecycle graph, with its legend.

    Args:
        edge_counts: Optional hit count per ``(source, trigger)``; edges are
            then labelled with their count and drawn wider the more they fired,
            and edges never fired are red, dotted and end in a bar.
        title: The graph's label.

    Returns:
        A ``graphviz.Digraph``; ``.source`` is the DOT text.
    """
    g = graphviz.Digraph("lifecycle")
    g.attr(label=title, labelloc="t", fontsize="18", rankdir="LR", fontname="Helvetica")
    g.attr("node", shape="box", style="rounded,filled", fillcolor="white", fontname="Helvetica")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    absorbed = [(t, edge_counts.get((s, t), 0) if edge_counts is not None else None)
                for s, t, d in edges() if s is d is OrderState.GONE]
    for key, label, states in _GROUPS:
        with g.subgraph(name=f"cluster_{key}") as sub:
            sub.attr(label=label, style="rounded,dashed", color="gray50")
            for state in OrderState:  # enum order: deterministic output
                if state in states:
                    fill = "gray90" if state in TERMINAL else "white"
                    sub.node(state.name, state.name, fillcolor=fill)
            if OrderState.GONE in states and absorbed:
                with sub.subgraph() as column:  # the note sits in GONE's column
                    column.attr(rank="same")
                    column.node(OrderState.GONE.name)
                    column.node(GONE_NOTE, _note_label(absorbed), shape="note",
                                style="filled", fillcolor="gray97", color="gray40",
                                fontsize="9")
    top = max(edge_counts.values(), default=0) if edge_counts else 0
    loops: dict[OrderState, list[str]] = {}
    for source, trigger, dest in edges():
        if source is dest is OrderState.GONE:
            continue  # in the note
        if edge_counts is None and source is dest:
            # Reflexive moves (late or repeated messages) share one loop per
            # state in the plain diagram: stacked loops make labels collide.
            loops.setdefault(source, []).append(trigger.value)
            continue
        attrs = {"label": trigger.value}
        last: dict[str, str] = {}
        if edge_counts is None:
            attrs.update(_kind_style(trigger))
        else:
            hits = edge_counts.get((source, trigger), 0)
            attrs["label"] = f"{trigger.value} ({hits})"
            if hits == 0:
                attrs.update((k, v) for k, v in _MISSED.items() if k not in _MISSED_LAST)
                last = {k: _MISSED[k] for k in _MISSED_LAST}
            else:
                attrs.update(_ABSORBED if source is dest else _kind_style(trigger))
                attrs["penwidth"] = f"{1 + 4 * hits / top:.2f}"
        g.edge(source.name, dest.name, _attributes=last or None, **attrs)
    for state, names in loops.items():
        g.edge(state.name, state.name, label="\\n".join(names), **_ABSORBED)
    _legend(g, counted=edge_counts is not None)
    return g


def _note_label(absorbed: list[tuple[Trigger, int | None]]) -> str:
    lines = ["GONE absorbs (late or", "repeated; it stays GONE):"]
    for trigger, hits in absorbed:
        if hits is None:
            lines.append(trigger.value)
        else:
            lines.append(f"{trigger.value} ({hits}){' MISSED' if hits == 0 else ''}")
    return "\\n".join(lines)


def _legend(g: graphviz.Digraph, *, counted: bool) -> None:
    """A legend cluster: one sample edge per kind of line, each with its meaning."""
    rows: list[tuple[str, dict[str, str]]] = [
        ("request we send", _REQUEST),
        ("exchange message", {}),
        ("timer elapses", _TIMER),
        ("immediate: the engine's next step, no wait (finalize)", _INSTANT),
        ("absorbed: a late or repeated message, state unchanged", _ABSORBED),
    ]
    if counted:
        rows += [
            ("trigger (n): fired n times, wider the more", {"penwidth": "3"}),
            ("never fired (missed)", _MISSED),
        ]
    with g.subgraph(name="cluster_legend") as legend:
        legend.attr(label="legend", style="rounded", color="gray70", fontsize="11")
        legend.attr("node", shape="plaintext", style="", fontsize="9", label="", width="0.2",
                    height="0.2")
        for i, (meaning, style) in enumerate(rows):
            legend.node(f"legend_{i}_from")
            legend.node(f"legend_{i}_to", meaning)
            legend.edge(f"legend_{i}_from", f"legend_{i}_to", **style)


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
        OSError: ``out_dir`` cannot be created or written (a file of that name,
            no permission).
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


def out_dir_problem(path: str | os.PathLike[str]) -> str | None:
    """Why files cannot be written into the directory ``path``, or None.

    The directory may not exist yet (it is created with its parents): then the
    nearest existing ancestor must be a writable directory.
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        return f"{target} is a file, not a directory"
    probe = target
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        return f"{probe} is a file, so {target} cannot be a directory"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"{probe} is not writable"
    return None


def render_lifecycle(out_dir: str | Path = "diagrams") -> list[Path]:
    """Render the lifecycle into ``out_dir/lifecycle.{dot,svg,png}``."""
    return render(lifecycle_graph(), out_dir, "lifecycle")
