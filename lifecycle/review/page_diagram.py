"""The review page's diagram: the lifecycle with the run's coverage as heat, as inline SVG.

Theory of operation
-------------------
:func:`heat_graph` draws every legal edge of the machine of record
(:func:`lifecycle.review.diagram.edges`) coloured by how often the run fired
it: pale orange for a rare edge, dark red for the busiest, on a logarithmic
scale (a few edges fire thousands of times, most a handful), wider the hotter;
an edge never fired is grey and dashed. Each state is filled by how many
orders entered it, on the same scale. A state's reflexive edges (late or
repeated messages it absorbs) share one loop, labelled with each trigger's
count, so their labels do not collide.

:func:`inline_svg` renders it with Graphviz ``dot`` and returns markup fit to
sit inside an HTML page: the XML prolog, doctype and namespace declarations
are dropped (HTML puts ``<svg>`` in its namespace by itself, and the page then
names no external address at all). Without ``dot`` it returns None and the
reason, and the page shows the reason instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import graphviz

from lifecycle.core.states import DISCOVERED, OURS, TERMINAL, OrderState, Trigger
from lifecycle.review.diagram import edges

__all__ = ["heat_colour", "heat_graph", "inline_svg"]

_COOL = (0xFD, 0xD4, 0x9E)  # the least-fired edge that fired
_HOT = (0xB3, 0x00, 0x00)  # the most-fired edge
_PALE = (0xFF, 0xFF, 0xFF)  # a state no order entered
_WARM = (0xFC, 0x8D, 0x59)  # the state the most orders entered
_NEVER = "#9e9e9e"
_GROUPS = (("ours", "ours", OURS), ("discovered", "exchange-discovered", DISCOVERED),
           ("terminal", "terminal", TERMINAL))


def _heat(count: int, top: int) -> float:
    """0.0 for one hit, 1.0 for ``top`` hits, logarithmic between."""
    if top <= 1:
        return 1.0
    return math.log(count) / math.log(top)


def heat_colour(fraction: float, cool: tuple[int, int, int] = _COOL,
                hot: tuple[int, int, int] = _HOT) -> str:
    """The ``#rrggbb`` colour ``fraction`` (0..1) of the way from ``cool`` to ``hot``."""
    f = min(1.0, max(0.0, fraction))
    return "#" + "".join(f"{round(c + (h - c) * f):02x}" for c, h in zip(cool, hot, strict=True))


def heat_graph(
    hits: Mapping[tuple[OrderState, Trigger], int],
    entered: Mapping[OrderState, int],
    *,
    title: str,
) -> graphviz.Digraph:
    """The lifecycle with edges coloured by ``hits`` and states by ``entered`` orders."""
    g = graphviz.Digraph("coverage_heat")
    g.attr(label=title, labelloc="t", fontsize="16", rankdir="LR", fontname="Helvetica")
    g.attr("node", shape="box", style="rounded,filled", fontname="Helvetica")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    most_entered = max(entered.values(), default=0)
    for key, label, states in _GROUPS:
        with g.subgraph(name=f"cluster_{key}") as sub:
            sub.attr(label=label, style="rounded,dashed", color="gray50")
            for state in OrderState:  # enum order: deterministic output
                if state not in states:
                    continue
                n = entered.get(state, 0)
                fill = heat_colour(_heat(n, most_entered), _PALE, _WARM) if n else "white"
                sub.node(state.name, state.name, fillcolor=fill,
                         tooltip=f"{state.value}: {n} orders entered")
    top = max(hits.values(), default=0)
    loops: dict[OrderState, list[tuple[Trigger, int]]] = {}
    for source, trigger, dest in edges():
        n = hits.get((source, trigger), 0)
        if source is dest:
            loops.setdefault(source, []).append((trigger, n))
            continue
        tip = f"{source.value} --{trigger.value}--> {dest.value}: fired {n} times"
        g.edge(source.name, dest.name, label=f"{trigger.value} ({n})", tooltip=tip,
               **_edge_style(n, top))
    for state, triggers in loops.items():
        n = sum(count for _, count in triggers)
        label = "\\n".join(f"{t.value} ({count})" for t, count in triggers)
        g.edge(state.name, state.name, label=label,
               tooltip=f"{state.value}: reflexive moves fired {n} times", **_edge_style(n, top))
    return g


def _edge_style(n: int, top: int) -> dict[str, str]:
    if n == 0:
        return {"color": _NEVER, "fontcolor": _NEVER, "style": "dashed"}
    heat = _heat(n, top)
    colour = heat_colour(heat)
    return {"color": colour, "fontcolor": colour, "penwidth": f"{1 + 4 * heat:.2f}"}


_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.DOTALL)
_NAMESPACES = re.compile(r'\s+xmlns(?::xlink)?="[^"]*"')


def inline_svg(graph: graphviz.Digraph) -> tuple[str | None, str]:
    """Render ``graph`` as SVG markup for an HTML page.

    Returns:
        ``(markup, "")``, or ``(None, why)`` when Graphviz ``dot`` is missing
        or fails.
    """
    try:
        svg = graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return None, "Graphviz `dot` is not installed, so the diagram is not drawn."
    except graphviz.CalledProcessError as exc:
        return None, f"Graphviz `dot` failed (exit status {exc.returncode}); no diagram."
    body = _PROLOG.sub("", svg, count=1)
    head, sep, rest = body.partition(">")
    head = _NAMESPACES.sub("", head)
    return f'{head} role="img" aria-label="lifecycle coverage heat"{sep}{rest}', ""
