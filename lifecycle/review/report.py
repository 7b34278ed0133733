"""Reviewing a journaled run: one order's path, and the run's summary.

Theory of operation
-------------------
Review reads a journal's records (:func:`lifecycle.journal.load_journal`)
without replaying them: the ``fired`` and ``refused`` records already say what
happened to every order, and the ``place`` and ``OrphanSeen`` records say
when each order was born. :func:`order_paths` folds them into one
:class:`OrderPath` per order, keyed as the journal keys them (the cloid, else
``oid:`` and the first oid), with every oid it had, its numbered steps and its
final state.

From the paths:

* :func:`trace_graph` draws one order's path over the lifecycle diagram: the
  edges it took are numbered in order with their times, the rest are grey;
* :func:`summarize` counts orders by final reason (and those still working),
  the time spent in each state (median and p99 of every completed stay, from
  the transitions; a stay still running when the journal ends is not
  counted), the anomalies and refused transitions, the fills, and the edge
  coverage of the run, whose diagram :meth:`RunSummary.write_coverage` renders
  with each edge weighted by how often it fired.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import graphviz

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.errors import InvalidCloid, UnknownOrder
from lifecycle.core.events import OrderFilled, OrphanSeen
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Side
from lifecycle.core.states import DISCOVERED, OURS, TERMINAL, GoneReason, OrderState, Trigger
from lifecycle.journal import JournalRecord, LoadedJournal
from lifecycle.review.coverage import CoverageReport, TransitionCoverage
from lifecycle.review.diagram import edges, render

__all__ = [
    "OrderPath",
    "RunSummary",
    "StateTimes",
    "Step",
    "find_order",
    "order_paths",
    "summarize",
    "trace_graph",
    "write_trace",
]

_FADED = "gray75"
_GROUPS = (("ours", OURS), ("exchange-discovered", DISCOVERED), ("terminal", TERMINAL))


@dataclass(frozen=True, slots=True)
class Step:
    """One transition an order took.

    Attributes:
        number: Its position in the order's path, from 1.
        seq: The journal record it comes from.
        at: When it fired.
    """

    number: int
    seq: int
    at: float
    source: OrderState
    trigger: Trigger
    dest: OrderState

    def __str__(self) -> str:
        return (f"{self.number:>4}  t={self.at:>10.3f}  "
                f"{self.source.value} --{self.trigger.value}--> {self.dest.value}")


@dataclass(slots=True)
class OrderPath:
    """Everything the journal says about one order.

    Attributes:
        key: The journal's name for it: its cloid, else ``oid:`` + its first oid.
        cloid: Its cloid, if it has one.
        oids: Every oid it had, oldest first.
        created_at: When it was placed or first seen as an orphan, if journaled.
        steps: The transitions it took, in order.
        refused: ``(at, state, trigger)`` of each trigger refused in its state.
        final: Its state at the end of the journal.
        reason: Why it ended, once GONE.
    """

    key: str
    cloid: Cloid | None
    created_at: float | None
    final: OrderState
    oids: list[Oid] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    refused: list[tuple[float, OrderState, Trigger]] = field(default_factory=list)
    reason: GoneReason | None = None
    #: Completed stays: ``(state, seconds)``.
    stays: list[tuple[OrderState, float]] = field(default_factory=list)
    _entered_at: float | None = None

    @property
    def label(self) -> str:
        """The cloid, else ``oid:<first oid>``."""
        return self.key

    def _see_oid(self, oid: Oid | None) -> None:
        if oid is not None and oid not in self.oids:
            self.oids.append(oid)

    def text(self) -> str:
        """The path as lines of text: identity, steps, end."""
        oids = ", ".join(str(o) for o in self.oids) or "none"
        born = "" if self.created_at is None else f", created at t={self.created_at:.3f}"
        lines = [f"order {self.key} (oids: {oids}{born})"]
        lines += [str(step) for step in self.steps]
        for at, state, trigger in self.refused:
            lines.append(f"   refused  t={at:>10.3f}  {state.value} --{trigger.value}-->")
        end = self.final.value + (f" ({self.reason.value})" if self.reason else "")
        lines.append(f"final state: {end}")
        return "\n".join(lines)


def order_paths(records: Iterable[JournalRecord]) -> dict[str, OrderPath]:
    """Fold a journal's records into one path per order, in order of first appearance."""
    paths: dict[str, OrderPath] = {}
    seen_orphan: dict[str, float] = {}  # key -> time of the latest OrphanSeen
    for rec in records:
        kind, d, at = rec.type, rec.data, rec.at
        if kind == "place":
            key = str(d["cloid"])
            if key not in paths:
                paths[key] = OrderPath(key, d["cloid"], at, OrderState.PENDING, _entered_at=at)
        elif kind in ("event", "sync_event") and type(d["event"]) is OrphanSeen:
            event: OrphanSeen = d["event"]
            key = str(event.cloid) if event.cloid is not None else f"oid:{event.oid}"
            if at is not None:
                seen_orphan[key] = at
            path = paths.get(key)
            if path is None:
                path = paths[key] = OrderPath(
                    key, event.cloid, at, OrderState.ORPHAN_CANDIDATE, _entered_at=at
                )
            path._see_oid(event.oid)
        elif kind == "fired" or kind == "refused":
            key = d["order"]
            path = paths.get(key)
            state = d["source"] if kind == "fired" else d["state"]
            if path is None:
                path = paths[key] = OrderPath(key, d["cloid"], None, state)
            path._see_oid(d["oid"])
            assert at is not None
            if state is not path.final:
                # A new order under a known key (an orphan seen again after it
                # vanished): its stay started when it was last seen.
                path.final = state
                path._entered_at = seen_orphan.get(key)
            if kind == "refused":
                path.refused.append((at, state, d["trigger"]))
                continue
            dest: OrderState = d["dest"]
            path.steps.append(Step(len(path.steps) + 1, rec.seq, at, state, d["trigger"], dest))
            if dest is not state:
                if path._entered_at is not None:
                    path.stays.append((state, at - path._entered_at))
                path._entered_at = at
                path.final = dest
            if dest is OrderState.GONE:
                path.reason = d["reason"]
    return paths


def find_order(paths: Mapping[str, OrderPath], ident: str) -> OrderPath:
    """Return the path of the order ``ident`` names.

    Args:
        paths: From :func:`order_paths`.
        ident: A cloid in any accepted form (``0x`` + hex, bare hex, UUID), or
            an oid (``123`` or ``oid:123``), current or replaced by a modify.

    Raises:
        UnknownOrder: No order of the journal has that id.
    """
    text = ident.strip()
    try:
        path = paths.get(Cloid(text))
    except InvalidCloid:
        path = None
    if path is not None:
        return path
    digits = text.removeprefix("oid:")
    if digits.isdigit():
        oid = Oid(int(digits))
        for path in paths.values():
            if oid in path.oids:
                return path
    raise UnknownOrder(ident)


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
        return "\n".join(lines)

    def write_coverage(self, out_dir: str | Path) -> list[Path]:
        """Write ``coverage.svg`` and ``coverage.png`` into ``out_dir``; return their paths.

        Raises:
            graphviz.ExecutableNotFound: Graphviz ``dot`` is not installed.
        """
        title = f"Transition coverage of {self.path}"
        return [self.coverage.write_diagram(Path(out_dir) / f"coverage.{fmt}", title=title)
                for fmt in ("svg", "png")]


def summarize(loaded: LoadedJournal) -> RunSummary:
    """Compute the :class:`RunSummary` of a loaded journal."""
    records = loaded.records
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
    return RunSummary(
        path=loaded.path, records=len(records), dropped_bytes=loaded.dropped_bytes,
        inputs=inputs, fired=fired, recoveries=recoveries,
        first_at=min(timed, default=None), last_at=max(timed, default=None),
        orders=len(paths),
        ended={r: ended[r] for r in GoneReason if ended[r]},
        working={s: working[s] for s in OrderState if working[s]},
        times=times,
        anomalies={k: anomalies[k] for k in AnomalyKind if anomalies[k]},
        refused=dict(sorted(refused.items(), key=lambda kv: (kv[0][0].value, kv[0][1].value))),
        fills=len(tids), position=position, coverage=coverage.report(),
    )
