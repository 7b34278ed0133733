"""Reviewing a journaled run: one order's path drawn, and the run's summary.

Theory of operation
-------------------
The orders' paths come from :mod:`lifecycle.review.orders` (re-exported here:
:func:`order_paths`, :func:`find_order`, :class:`OrderPath`...), which reads
the journal's records without replaying them. From the paths:

* :func:`trace_graph` draws one order's path over the lifecycle diagram: the
  edges it took are numbered in order with their times, the rest are grey;
* :func:`summarize` counts orders by final reason (and those still working),
  the time spent in each state (median and p99 of every completed stay, from
  the transitions; a stay still running when the journal ends is not
  counted), the anomalies and refused transitions, the fills, and the edge
  coverage of the run, whose diagram :meth:`RunSummary.write_coverage` renders
  with each edge weighted by how often it fired; it also names the orders
  worth a trace (:func:`worth_tracing`: those with anomalies, and the longest
  lived).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import graphviz

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Tid
from lifecycle.core.order import Side
from lifecycle.core.states import DISCOVERED, OURS, TERMINAL, GoneReason, OrderState, Trigger
from lifecycle.journal import LoadedJournal
from lifecycle.review.coverage import CoverageReport, TransitionCoverage
from lifecycle.review.diagram import edges, render
from lifecycle.review.orders import (
    OrderAnomaly,
    OrderPath,
    Refusal,
    Step,
    WorthTracing,
    find_order,
    order_paths,
    worth_tracing,
)

__all__ = [
    "OrderAnomaly",
    "OrderPath",
    "Refusal",
    "RunSummary",
    "StateTimes",
    "Step",
    "WorthTracing",
    "find_order",
    "order_paths",
    "summarize",
    "trace_graph",
    "worth_tracing",
    "write_trace",
]

_FADED = "gray75"
_GROUPS = (("ours", OURS), ("exchange-discovered", DISCOVERED), ("terminal", TERMINAL))


def trace_graph(path: OrderPath) -> graphviz.Digraph:
    """Draw the lifecycle with ``path``'s edges numbered in order, with their times.

    Edges and states the order never visited are grey; each visited edge is
    labelled ``<n>. <trigger> @ <time>`` once per visit.
    """
    visits: dict[tuple[OrderState, Trigger], list[Step]] = {}
    for step in path.steps:
        visits.setdefault((step.source, step.trigger), []).append(step)
    visited = {s.source for s in path.steps} | {s.dest for s in path.steps} | {path.final}
    g = graphviz.Digraph("trace")
    g.attr(label=f"Order {path.key}: {len(path.steps)} steps, final state {path.final.value}"
           + (f" ({path.reason.value})" if path.reason else ""),
           labelloc="t", fontsize="16", rankdir="LR", fontname="Helvetica")
    g.attr("node", shape="box", style="rounded,filled", fontname="Helvetica")
    g.attr("edge", fontname="Helvetica", fontsize="9")
    for label, states in _GROUPS:
        with g.subgraph(name=f"cluster_{label}") as sub:
            sub.attr(label=label, style="rounded,dashed", color="gray50")
            for state in OrderState:
                if state not in states:
                    continue
                if state in visited:
                    width = "3" if state is path.final else "1.5"
                    sub.node(state.name, state.name, fillcolor="lightblue", penwidth=width)
                else:
                    sub.node(state.name, state.name, fillcolor="white", color=_FADED,
                             fontcolor=_FADED)
    # Reflexive moves share one loop per state (a taken one and a faded one):
    # stacked loops make labels collide.
    taken_loops: dict[OrderState, list[Step]] = {}
    faded_loops: dict[OrderState, list[str]] = {}
    for source, trigger, dest in edges():
        taken = visits.get((source, trigger))
        if source is dest:
            if taken:
                taken_loops.setdefault(source, []).extend(taken)
            else:
                faded_loops.setdefault(source, []).append(trigger.value)
        elif taken:
            g.edge(source.name, dest.name, label=_numbered(taken), penwidth="2.5", color="black")
        else:
            g.edge(source.name, dest.name, label=trigger.value, color=_FADED, fontcolor=_FADED)
    for state, steps in taken_loops.items():
        steps.sort(key=lambda s: s.number)
        g.edge(state.name, state.name, label=_numbered(steps), penwidth="2.5", color="black")
    for state, names in faded_loops.items():
        g.edge(state.name, state.name, label="\\n".join(names), color=_FADED, fontcolor=_FADED)
    return g


def _numbered(steps: Iterable[Step]) -> str:
    return "\\n".join(f"{s.number}. {s.trigger.value} @ {s.at:.3f}" for s in steps)


def write_trace(path: OrderPath, out: str | Path | None = None) -> list[Path]:
    """Render :func:`trace_graph` to ``OUT.dot``, ``OUT.svg`` and ``OUT.png``.

    Args:
        path: The order.
        out: The output name (a ``.svg`` or ``.png`` suffix is dropped);
            ``trace-<key>`` in the current directory if None.

    Raises:
        graphviz.ExecutableNotFound: Graphviz ``dot`` is not installed.
    """
    if out is None:
        target = Path(f"trace-{path.key.replace(':', '-')}")
    else:
        target = Path(out)
        if target.suffix.lower() in (".svg", ".png"):
            target = target.with_suffix("")
    return render(trace_graph(path), target.parent, target.name)


# --- the run's summary -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateTimes:
    """Completed stays in one state."""

    state: OrderState
    count: int
    median_s: float
    p99_s: float


def _p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]  # nearest rank


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The numbers of one journaled run (see :func:`summarize`).

    Attributes:
        path: The journal file.
        records: Records read.
        dropped_bytes: Bytes of a torn last line ignored.
        inputs: Journaled calls.
        fired: Transitions fired.
        recoveries: Restarts recorded in the journal.
        first_at, last_at: The span of engine time covered, if any.
        orders: Orders the journal names.
        ended: Orders GONE, by reason.
        working: Orders not GONE at the end, by state.
        times: Completed stays per state, in state order.
        anomalies: Anomalies journaled, by kind.
        refused: Refused ``(state, trigger)`` attempts.
        fills: Distinct trade ids filled.
        position: Signed position from the distinct fills.
        coverage: Edge coverage of the run.
        worth_tracing: The orders worth a trace (:func:`worth_tracing`).
        anomalous_orders: Orders with anomalies, named in ``worth_tracing`` or not.
    """

    path: Path
    records: int
    dropped_bytes: int
    inputs: int
    fired: int
    recoveries: int
    first_at: float | None
    last_at: float | None
    orders: int
    ended: Mapping[GoneReason, int]
    working: Mapping[OrderState, int]
    times: tuple[StateTimes, ...]
    anomalies: Mapping[AnomalyKind, int]
    refused: Mapping[tuple[OrderState, Trigger], int]
    fills: int
    position: Decimal
    coverage: CoverageReport
    worth_tracing: tuple[WorthTracing, ...] = ()
    anomalous_orders: int = 0

    def text(self) -> str:
        """The summary as a printable report."""
        span = ("no engine time" if self.first_at is None or self.last_at is None
                else f"t={self.first_at:.3f} .. t={self.last_at:.3f}")
        lines = [
            f"journal {self.path}: {self.records} records, torn tail dropped: "
            f"{self.dropped_bytes} bytes",
            f"run: {span}; {self.inputs} inputs, {self.fired} transitions fired, "
            f"{sum(self.refused.values())} refused, {self.recoveries} recoveries",
            f"orders: {self.orders} ({sum(self.ended.values())} ended, "
            f"{sum(self.working.values())} still working)",
        ]
        lines += [f"  ended {reason.value:<22} {n:>6}" for reason, n in self.ended.items()]
        lines += [f"  working {state.value:<20} {n:>6}" for state, n in self.working.items()]
        lines.append(f"time in state (s)            {'stays':>6} {'median':>10} {'p99':>10}")
        lines += [f"  {t.state.value:<26} {t.count:>6} {t.median_s:>10.3f} {t.p99_s:>10.3f}"
                  for t in self.times]
        lines.append(f"fills: {self.fills}, position {self.position:+}")
        lines.append(f"anomalies: {sum(self.anomalies.values())}")
        lines += [f"  {kind.value:<26} {n:>6}" for kind, n in self.anomalies.items()]
        lines.append(f"refused transitions: {sum(self.refused.values())}")
        lines += [f"  {state.value} --{trigger.value}-->  x{n}"
                  for (state, trigger), n in self.refused.items()]
        c = self.coverage
        lines.append(f"transition coverage: {c.covered}/{c.total} legal edges ({c.percent:.1f} %)")
        lines.append(f"orders worth a trace: {len(self.worth_tracing)}")
        lines += [f"  {w.key}  {w.why}" for w in self.worth_tracing]
        shown = sum(1 for w in self.worth_tracing if w.anomalies)
        if self.anomalous_orders > shown:
            lines.append(f"  ... and {self.anomalous_orders - shown} more orders with anomalies")
        return "\n".join(lines)

    def write_coverage(self, out_dir: str | Path) -> list[Path]:
        """Write ``coverage.svg`` and ``coverage.png`` into ``out_dir``; return their paths.

        Raises:
            graphviz.ExecutableNotFound: Graphviz ``dot`` is not installed.
        """
        title = f"Transition coverage of {self.path}"
        return [self.coverage.write_diagram(Path(out_dir) / f"coverage.{fmt}", title=title)
                for fmt in ("svg", "png")]


def summarize(loaded: LoadedJournal, paths: Mapping[str, OrderPath] | None = None) -> RunSummary:
    """Compute the :class:`RunSummary` of a loaded journal.

    Args:
        loaded: The journal.
        paths: Its :func:`order_paths`, if already computed.
    """
    records = loaded.records
    if paths is None:
        paths = order_paths(records)
    coverage = TransitionCoverage()
    refused: Counter[tuple[OrderState, Trigger]] = Counter()
    anomalies: Counter[AnomalyKind] = Counter()
    tids: set[Tid] = set()
    position = Decimal(0)
    inputs = fired = recoveries = 0
    for rec in records:
        d = rec.data
        if rec.is_input:
            inputs += 1
            event = d.get("event")
            if type(event) is OrderFilled and event.tid not in tids:
                tids.add(event.tid)
                position += event.size if event.side is Side.BUY else -event.size
        elif rec.type == "fired":
            fired += 1
            coverage.hits[(d["source"], d["trigger"])] += 1
        elif rec.type == "refused":
            refused[(d["state"], d["trigger"])] += 1
        elif rec.type == "anomaly":
            anomalies[d["kind"]] += 1
        elif rec.type == "recover":
            recoveries += 1
    coverage.update({}, refused)
    stays: dict[OrderState, list[float]] = {}
    ended: Counter[GoneReason] = Counter()
    working: Counter[OrderState] = Counter()
    for path in paths.values():
        for state, seconds in path.stays:
            stays.setdefault(state, []).append(seconds)
        if path.final is OrderState.GONE:
            ended[path.reason if path.reason is not None else GoneReason.UNKNOWN] += 1
        else:
            working[path.final] += 1
    times = tuple(
        StateTimes(s, len(stays[s]), statistics.median(stays[s]), _p99(stays[s]))
        for s in OrderState if s in stays
    )
    timed = [r.at for r in records if r.at is not None]
    last_at = max(timed, default=None)
    return RunSummary(
        path=loaded.path, records=len(records), dropped_bytes=loaded.dropped_bytes,
        inputs=inputs, fired=fired, recoveries=recoveries,
        first_at=min(timed, default=None), last_at=last_at,
        orders=len(paths),
        ended={r: ended[r] for r in GoneReason if ended[r]},
        working={s: working[s] for s in OrderState if working[s]},
        times=times,
        anomalies={k: anomalies[k] for k in AnomalyKind if anomalies[k]},
        refused=dict(sorted(refused.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))),
        fills=len(tids), position=position, coverage=coverage.report(),
        worth_tracing=tuple(worth_tracing(paths, last_at)),
        anomalous_orders=sum(1 for p in paths.values() if p.anomalies),
    )
