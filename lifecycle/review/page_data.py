"""The review page's data: what the page shows of a journaled run, as plain JSON values.

Theory of operation
-------------------
The orders' paths (:func:`lifecycle.review.orders.order_paths`) and the run's
summary (:func:`lifecycle.review.report.summarize`) hold most of it. One more
pass over the records (:class:`_Scan`) adds what neither keeps:

* the cause of every move: each ``fired`` or ``refused`` record follows the
  call that made it (its input record, or the ``sync_event`` a snapshot led
  to), described in a line (``OrderFilled(oid=.., tid=.., ...)``);
* the exchange events that name an order but moved it nowhere (a fill
  delivered twice, say), so an order's trace shows every message about it;
* each order's side and distinct fills (by fill identity);
* the invariant counters a journal can check by itself, each of which must be
  0 (:data:`INVARIANTS`): moves that are not rows of the table, exchange
  messages the table refused, and fills counted twice (a fill identity seen
  before whose call still fired a fill trigger). The counters that need the
  exchange's truth (position mismatch, untracked resting orders...) belong to
  a simulation's own report, not to a journal.

:func:`page_data` assembles it all: the summary, the counters, the anomalies by
kind (with the order each concerns), one row per order for the table (ids,
side, final state and reason, lifetime, seconds in each state, counts) and
each order's numbered trace, keyed by the order's key. Values are JSON types
only: ids are strings, decimals are strings, times are seconds.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.events import OrderFilled, OrphanSeen
from lifecycle.core.ids import Oid
from lifecycle.core.states import LOCAL_TRIGGERS, OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.journal import JournalRecord, LoadedJournal
from lifecycle.review.orders import OrderAnomaly, OrderPath, Refusal, Step
from lifecycle.review.report import RunSummary

__all__ = ["INVARIANTS", "describe_event", "entered_states", "page_data"]

#: The invariant counters a journal checks by itself: ``(name, what it counts)``.
INVARIANTS: tuple[tuple[str, str], ...] = (
    ("illegal_transitions_applied", "fired moves that are not rows of the transition table"),
    ("refused_remote_events", "exchange messages the table refused in the order's state "
                              "(every late or repeated message that happens is a legal row)"),
    ("double_counted_fills", "fills delivered again (same identity) that still moved an order"),
)
_ZERO = Decimal(0)
_FILL_TRIGGERS = frozenset({Trigger.FILL_PARTIAL, Trigger.FILL_COMPLETE, Trigger.LATE_FILL})
#: Examples kept per non-zero counter, and calls that raised kept for the page.
_EXAMPLES = 5
_ERRORS_SHOWN = 100


def _plain(value: Any) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def describe_event(event: Any) -> str:
    """``Kind(field=value, ...)`` of an event or command, without empty fields."""
    fields = msgspec.structs.asdict(event)
    shown = ", ".join(f"{k}={_plain(v)}" for k, v in fields.items() if v is not None and v != "")
    return f"{type(event).__name__}({shown})"


def _describe_call(rec: JournalRecord) -> str:
    d, kind = rec.data, rec.type
    if kind == "place":
        return f"place {d['side'].value} {d['size']} @ {d['price']}"
    if kind == "modify":
        return f"modify requested: {d['size']} @ {d['price']}"
    if kind == "cancel":
        return "cancel requested"
    if kind == "move":
        return f"move {d['trigger'].value}" + (" (exchange)" if d["remote"] else "")
    if kind == "event":
        return describe_event(d["event"])
    if kind == "sync_event":
        return "safety sync: " + describe_event(d["event"])
    if kind == "snapshot":
        snap = d["snapshot"]
        return f"open-orders snapshot of t={snap.taken_at:.3f} ({len(snap.orders)} orders)"
    if kind == "timer":
        return "timers due"
    if kind == "query":
        return "status query"
    if kind == "sync_request":
        return f"sync requested: {d['reason']}"
    if kind == "send":
        return "sent " + describe_event(d["command"])
    if kind == "drain":
        return f"commands taken to send ({len(d['commands'])})"
    return kind


class _Scan:
    """One pass over the records: causes, unmoving events, sides, fills, invariants."""

    def __init__(self, paths: Mapping[str, OrderPath]) -> None:
        self.paths = paths
        self.by_oid: dict[Oid, str] = {o: k for k, p in paths.items() for o in p.oids}
        self.cause_of: dict[int, int] = {}  # fired/refused seq -> its cause's seq
        self.causes: dict[int, str] = {}  # cause seq -> its description
        self.quiet: dict[str, list[tuple[int, float | None, str]]] = {}  # unmoving events
        self.sides: dict[str, str] = {}
        self.fills: dict[str, set[Any]] = {}
        self.filled: dict[str, Decimal] = {}
        self.counters: Counter[str] = Counter()
        self.examples: dict[str, list[tuple[str | None, str]]] = {}
        self.errors: list[dict[str, Any]] = []
        self._seen_fills: set[Any] = set()
        self._cause: JournalRecord | None = None
        self._event: JournalRecord | None = None  # the current input, if an exchange event
        self._named: str | None = None  # the order it names
        self._moved: set[str] = set()  # orders the current call moved or refused
        self._repeat = False  # the current input is a fill delivered again

    def run(self, records: tuple[JournalRecord, ...]) -> None:
        for rec in records:
            if rec.is_input:
                self._close()
                self._cause = rec
                self._input(rec)
            elif rec.type == "sync_event":
                self._cause = rec
                self._side_of(rec.data["event"])
            elif rec.type in ("fired", "refused"):
                self._outcome(rec)
            elif rec.type == "error":
                self.errors.append({"seq": rec.seq, "t": rec.at, "error": rec.data["error"],
                                    "message": rec.data["message"]})
        self._close()

    def _key(self, event: Any) -> str | None:
        cloid = getattr(event, "cloid", None)
        if cloid is not None and str(cloid) in self.paths:
            return str(cloid)
        for name in ("oid", "old_oid"):
            oid = getattr(event, name, None)
            if oid is not None and oid in self.by_oid:
                return self.by_oid[oid]
        return None

    def _side_of(self, event: Any) -> None:
        if type(event) is OrphanSeen:
            key = str(event.cloid) if event.cloid is not None else f"oid:{event.oid}"
            self.sides.setdefault(key, event.side.value)

    def _input(self, rec: JournalRecord) -> None:
        if rec.type == "place":
            self.sides.setdefault(str(rec.data["cloid"]), rec.data["side"].value)
        if rec.type != "event":
            return
        event = rec.data["event"]
        self._side_of(event)
        self._event, self._named = rec, self._key(event)
        if type(event) is OrderFilled:
            identity = event.identity
            self._repeat = identity in self._seen_fills
            self._seen_fills.add(identity)
            if self._named is not None:
                mine = self.fills.setdefault(self._named, set())
                if identity not in mine:
                    mine.add(identity)
                    self.filled[self._named] = self.filled.get(self._named, _ZERO) + event.size

    def _close(self) -> None:
        """End the current call: an event that moved its order nowhere joins its trace."""
        event, named = self._event, self._named
        if event is not None and named is not None and named not in self._moved:
            self.quiet.setdefault(named, []).append(
                (event.seq, event.at, describe_event(event.data["event"])))
        self._event, self._named, self._moved, self._repeat = None, None, set(), False

    def _outcome(self, rec: JournalRecord) -> None:
        d = rec.data
        self._moved.add(d["order"])
        if self._cause is not None:
            self.cause_of[rec.seq] = self._cause.seq
            if self._cause.seq not in self.causes:
                self.causes[self._cause.seq] = _describe_call(self._cause)
        if rec.type == "refused":
            if d["trigger"] not in LOCAL_TRIGGERS:
                self._count("refused_remote_events", d["order"],
                            f"{d['state'].value} --{d['trigger'].value}--> refused")
            return
        source, trigger, dest = d["source"], d["trigger"], d["dest"]
        if TABLE.get((source, trigger)) is not dest:
            self._count("illegal_transitions_applied", d["order"],
                        f"{source.value} --{trigger.value}--> {dest.value}")
        if self._repeat and trigger in _FILL_TRIGGERS:
            self._repeat = False  # one count per delivery
            self._count("double_counted_fills", d["order"], f"{trigger.value} again")

    def _count(self, name: str, key: str, what: str) -> None:
        self.counters[name] += 1
        examples = self.examples.setdefault(name, [])
        if len(examples) < _EXAMPLES:
            examples.append((key if key in self.paths else None, f"{key}: {what}"))


def _time(at: float | None) -> float | None:
    return None if at is None else round(at, 6)


def _trace(path: OrderPath, scan: _Scan) -> list[dict[str, Any]]:
    entries: list[tuple[int, dict[str, Any]]] = []
    for item in path.history():
        cause = scan.causes.get(scan.cause_of.get(item.seq, -1), "")
        if isinstance(item, Step):
            entry = {"k": "step", "n": item.number, "from": item.source.value,
                     "to": item.dest.value, "trigger": item.trigger.value, "why": cause}
        elif isinstance(item, Refusal):
            entry = {"k": "refused", "from": item.state.value, "trigger": item.trigger.value,
                     "why": cause}
        else:
            assert isinstance(item, OrderAnomaly)
            entry = {"k": "anomaly", "kind": item.kind.value, "why": item.detail}
        entries.append((item.seq, {"seq": item.seq, "t": _time(item.at), **entry}))
    for seq, at, text in scan.quiet.get(path.key, ()):
        entries.append((seq, {"seq": seq, "t": _time(at), "k": "event", "why": text}))
    entries.sort(key=lambda e: e[0])
    return [e for _, e in entries]


def _orders(paths: Mapping[str, OrderPath], scan: _Scan, summary: RunSummary,
            ) -> tuple[list[str], list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    end = summary.last_at
    worth = {w.key: w.why for w in summary.worth_tracing}
    rows: list[dict[str, Any]] = []
    traces: dict[str, list[dict[str, Any]]] = {}
    visited: set[OrderState] = set()
    for key, path in paths.items():
        times = path.time_in_states(end)
        visited.update(times)
        rows.append({
            "key": key, "cloid": str(path.cloid) if path.cloid is not None else None,
            "oids": [str(o) for o in path.oids], "side": scan.sides.get(key),
            "final": path.final.value,
            "reason": path.reason.value if path.reason is not None else None,
            "born": _time(path.born_at), "ended": _time(path.ended_at),
            "lifetime": _time(path.lifetime(end)),
            "times": {s.value: round(t, 6) for s, t in times.items()},
            "steps": len(path.steps), "refused": len(path.refusals),
            "fills": len(scan.fills.get(key, ())), "filled": str(scan.filled.get(key, _ZERO)),
            "anomalies": len(path.anomalies), "worth": worth.get(key, ""),
        })
        traces[key] = _trace(path, scan)
    states = [s.value for s in OrderState if s in visited and s is not OrderState.GONE]
    return states, rows, traces


def _anomalies(loaded: LoadedJournal, paths: Mapping[str, OrderPath]) -> list[dict[str, Any]]:
    owner = {a.seq: key for key, p in paths.items() for a in p.anomalies}
    by_kind: dict[AnomalyKind, list[dict[str, Any]]] = {}
    for rec in loaded.records:
        if rec.type == "anomaly":
            d = rec.data
            by_kind.setdefault(d["kind"], []).append({
                "seq": rec.seq, "t": _time(rec.at), "order": owner.get(rec.seq),
                "id": d["order_id"], "detail": d["detail"]})
    return [{"kind": k.value, "count": len(by_kind[k]), "items": by_kind[k]}
            for k in AnomalyKind if k in by_kind]


def _summary(summary: RunSummary, errors: int) -> dict[str, Any]:
    c = summary.coverage
    return {
        "journal": str(summary.path), "records": summary.records,
        "dropped_bytes": summary.dropped_bytes, "inputs": summary.inputs,
        "fired": summary.fired, "refused": sum(summary.refused.values()),
        "recoveries": summary.recoveries, "errors": errors,
        "first_at": _time(summary.first_at), "last_at": _time(summary.last_at),
        "orders": summary.orders, "fills": summary.fills, "position": str(summary.position),
        "anomalies": sum(summary.anomalies.values()),
        "ended": {r.value: n for r, n in summary.ended.items()},
        "working": {s.value: n for s, n in summary.working.items()},
        "times": [{"state": t.state.value, "stays": t.count, "median": round(t.median_s, 6),
                   "p99": round(t.p99_s, 6)} for t in summary.times],
        "refused_moves": [{"state": s.value, "trigger": t.value, "count": n}
                          for (s, t), n in summary.refused.items()],
        "coverage": {"covered": c.covered, "total": c.total, "percent": round(c.percent, 1),
                     "never": [f"{e.source.value} --{e.trigger.value}--> {e.dest.value}"
                               for e in c.uncovered]},
    }


def page_data(
    loaded: LoadedJournal, paths: Mapping[str, OrderPath], summary: RunSummary
) -> dict[str, Any]:
    """Everything the review page shows of ``loaded``, as JSON values (module docstring).

    Args:
        loaded: The journal.
        paths: Its :func:`~lifecycle.review.orders.order_paths`.
        summary: Its :func:`~lifecycle.review.report.summarize`, from ``paths``.
    """
    scan = _Scan(paths)
    scan.run(loaded.records)
    states, rows, traces = _orders(paths, scan, summary)
    counters = [{"name": name, "about": about, "value": scan.counters[name],
                 "examples": [{"order": k, "text": t} for k, t in scan.examples.get(name, [])]}
                for name, about in INVARIANTS]
    return {
        "summary": _summary(summary, len(scan.errors)),
        "counters": counters,
        "errors": scan.errors[:_ERRORS_SHOWN],
        "worth": [{"key": w.key, "why": w.why} for w in summary.worth_tracing],
        "anomalous_orders": summary.anomalous_orders,
        "anomalies": _anomalies(loaded, paths),
        "states": states,
        "orders": rows,
        "traces": traces,
    }


def entered_states(paths: Mapping[str, OrderPath]) -> Counter[OrderState]:
    """How many orders entered each state (the state they were born in included)."""
    entered: Counter[OrderState] = Counter()
    for path in paths.values():
        states = {path.steps[0].source if path.steps else path.final}
        states.update(step.dest for step in path.steps)
        entered.update(states)
    return entered
