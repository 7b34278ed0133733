"""One order's story in a journal: its path, and the orders worth tracing.

Theory of operation
-------------------
Review reads a journal's records (:func:`lifecycle.journal.load_journal`)
without replaying them: the ``fired`` and ``refused`` records already say what
happened to every order, the ``anomaly`` records name the order they concern,
and the ``place`` and ``OrphanSeen`` records say when each order was born.
:func:`order_paths` folds them into one :class:`OrderPath` per order, keyed as
the journal keys them (the cloid, else ``oid:`` and the first oid), with every
oid it had, its numbered steps, its refused moves and its anomalies (each with
the record it comes from, so :meth:`OrderPath.history` and the trace text read
in journal order) and its final state. :func:`find_order` finds an order by
any of its ids.

:func:`worth_tracing` names the orders a reviewer should trace first: those
with anomalies (the most first) and the longest lived, ended or not (an order
stuck in a state is as suspect as one that misbehaved).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.errors import InvalidCloid, UnknownOrder
from lifecycle.core.events import OrphanSeen
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.journal import JournalRecord

__all__ = [
    "WORTH_ANOMALOUS",
    "WORTH_LONGEST",
    "OrderAnomaly",
    "OrderPath",
    "Refusal",
    "Step",
    "WorthTracing",
    "find_order",
    "order_paths",
    "worth_tracing",
]

#: How many orders with anomalies, and how many longest lived, a report names.
WORTH_ANOMALOUS = 10
WORTH_LONGEST = 5


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


@dataclass(frozen=True, slots=True)
class Refusal:
    """A trigger the table refused in the order's state (the order stayed put)."""

    seq: int
    at: float
    state: OrderState
    trigger: Trigger

    def __str__(self) -> str:
        return f"   refused  t={self.at:>10.3f}  {self.state.value} --{self.trigger.value}-->"


@dataclass(frozen=True, slots=True)
class OrderAnomaly:
    """An anomaly the engine recorded about the order."""

    seq: int
    at: float
    kind: AnomalyKind
    detail: str

    def __str__(self) -> str:
        return f"   anomaly  t={self.at:>10.3f}  {self.kind.value}: {self.detail}"


@dataclass(slots=True)
class OrderPath:
    """Everything the journal says about one order.

    Attributes:
        key: The journal's name for it: its cloid, else ``oid:`` + its first oid.
        cloid: Its cloid, if it has one.
        oids: Every oid it had, oldest first.
        created_at: When it was placed or first seen as an orphan, if journaled.
        steps: The transitions it took, in order.
        refusals: The triggers refused in its state, in order.
        anomalies: The anomalies recorded about it, in order.
        final: Its state at the end of the journal.
        reason: Why it ended, once GONE.
    """

    key: str
    cloid: Cloid | None
    created_at: float | None
    final: OrderState
    oids: list[Oid] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    anomalies: list[OrderAnomaly] = field(default_factory=list)
    reason: GoneReason | None = None
    #: Completed stays: ``(state, seconds)``.
    stays: list[tuple[OrderState, float]] = field(default_factory=list)
    _entered_at: float | None = None

    @property
    def label(self) -> str:
        """The cloid, else ``oid:<first oid>``."""
        return self.key

    @property
    def refused(self) -> list[tuple[float, OrderState, Trigger]]:
        """``(at, state, trigger)`` of each refused trigger, in order."""
        return [(r.at, r.state, r.trigger) for r in self.refusals]

    @property
    def born_at(self) -> float | None:
        """When it was created, else when the journal first shows it, if ever timed."""
        if self.created_at is not None:
            return self.created_at
        firsts = (self.steps[:1], self.refusals[:1], self.anomalies[:1])
        return min((x[0].at for x in firsts if x), default=None)

    @property
    def ended_at(self) -> float | None:
        """When it last entered GONE, if it ends the journal there."""
        if self.final is not OrderState.GONE:
            return None
        return next((s.at for s in reversed(self.steps)
                     if s.dest is OrderState.GONE and s.source is not OrderState.GONE), None)

    def lifetime(self, end: float | None) -> float | None:
        """Seconds from :attr:`born_at` to :attr:`ended_at`, else to ``end`` (the journal's)."""
        born, gone = self.born_at, self.ended_at
        last = gone if gone is not None else end
        return None if born is None or last is None else max(0.0, last - born)

    def time_in_states(self, end: float | None) -> dict[OrderState, float]:
        """Seconds spent in each state: the completed stays, plus the stay still
        running at ``end`` (the journal's last time) when it is not GONE."""
        totals: dict[OrderState, float] = {}
        for state, seconds in self.stays:
            totals[state] = totals.get(state, 0.0) + seconds
        entered = self._entered_at
        if self.final is not OrderState.GONE and entered is not None and end is not None:
            totals[self.final] = totals.get(self.final, 0.0) + max(0.0, end - entered)
        return totals

    def history(self) -> list[Step | Refusal | OrderAnomaly]:
        """Its steps, refused moves and anomalies, in journal order."""
        return sorted((*self.steps, *self.refusals, *self.anomalies), key=lambda x: x.seq)

    def _see_oid(self, oid: Oid | None, by_oid: dict[Oid, str]) -> None:
        if oid is not None and oid not in self.oids:
            self.oids.append(oid)
            by_oid.setdefault(oid, self.key)

    def text(self) -> str:
        """The path as lines of text: identity, then steps, refused moves and anomalies
        in the order they happened, then the end."""
        oids = ", ".join(str(o) for o in self.oids) or "none"
        born = "" if self.created_at is None else f", created at t={self.created_at:.3f}"
        lines = [f"order {self.key} (oids: {oids}{born})"]
        lines += [str(item) for item in self.history()]
        end = self.final.value + (f" ({self.reason.value})" if self.reason else "")
        lines.append(f"final state: {end}")
        return "\n".join(lines)


def order_paths(records: Iterable[JournalRecord]) -> dict[str, OrderPath]:
    """Fold a journal's records into one path per order, in order of first appearance.

    An anomaly is the order's when its ``order_id`` is the order's key or names
    one of its oids (``oid:<n>``); an anomaly about an order the journal never
    shows (an unknown order's message) belongs to none.
    """
    paths: dict[str, OrderPath] = {}
    by_oid: dict[Oid, str] = {}
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
            path._see_oid(event.oid, by_oid)
        elif kind == "anomaly":
            owner = _owner(paths, by_oid, d["order_id"])
            if owner is not None:
                assert at is not None
                owner.anomalies.append(OrderAnomaly(rec.seq, at, d["kind"], d["detail"]))
        elif kind == "fired" or kind == "refused":
            key = d["order"]
            path = paths.get(key)
            state = d["source"] if kind == "fired" else d["state"]
            if path is None:
                path = paths[key] = OrderPath(key, d["cloid"], None, state)
            path._see_oid(d["oid"], by_oid)
            assert at is not None
            if state is not path.final:
                # A new order under a known key (an orphan seen again after it
                # vanished): its stay started when it was last seen.
                path.final = state
                path._entered_at = seen_orphan.get(key)
            if kind == "refused":
                path.refusals.append(Refusal(rec.seq, at, state, d["trigger"]))
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


def _owner(paths: Mapping[str, OrderPath], by_oid: Mapping[Oid, str],
           order_id: str | None) -> OrderPath | None:
    """The path an anomaly's ``order_id`` (an order's label) names, if the journal has it."""
    if order_id is None:
        return None
    path = paths.get(order_id)
    digits = order_id.removeprefix("oid:")
    if path is None and digits.isdigit():
        key = by_oid.get(Oid(int(digits)))
        path = paths[key] if key is not None else None
    return path


@dataclass(frozen=True, slots=True)
class WorthTracing:
    """An order a reviewer should trace, and why.

    Attributes:
        key: The order's key in :func:`order_paths`.
        anomalies: The kinds of its anomalies, one per anomaly, in order.
        lifetime_s: Seconds from its birth to its end (or the journal's end).
        longest: Whether it is among the longest lived.
    """

    key: str
    anomalies: tuple[AnomalyKind, ...]
    lifetime_s: float | None
    longest: bool

    @property
    def why(self) -> str:
        """The reasons, as text."""
        reasons = []
        if self.anomalies:
            counts = Counter(self.anomalies)
            kinds = ", ".join(k.value + (f" x{n}" if n > 1 else "") for k, n in counts.items())
            n = len(self.anomalies)
            reasons.append(f"{n} anomal{'y' if n == 1 else 'ies'} ({kinds})")
        if self.longest and self.lifetime_s is not None:
            reasons.append(f"longest lived: {self.lifetime_s:.3f} s")
        return "; ".join(reasons)


def worth_tracing(
    paths: Mapping[str, OrderPath], end: float | None, *,
    anomalous: int | None = WORTH_ANOMALOUS, longest: int = WORTH_LONGEST,
) -> list[WorthTracing]:
    """The orders worth a trace: those with anomalies, then the longest lived.

    Args:
        paths: From :func:`order_paths`.
        end: The journal's last time: where the lives of orders still working end.
        anomalous: How many orders with anomalies to name (the most anomalies
            first, then in order of appearance); None for all of them.
        longest: How many of the longest-lived orders to name (the longest
            first, then in order of appearance); an order named for both
            reasons is named once, among those with anomalies.
    """
    lives = {key: p.lifetime(end) for key, p in paths.items()}
    flagged = sorted((k for k, p in paths.items() if p.anomalies),
                     key=lambda k: -len(paths[k].anomalies))[:anomalous]
    timed = [k for k, t in lives.items() if t is not None]
    oldest = sorted(timed, key=lambda k: -(lives[k] or 0.0))[:longest]
    named = flagged + [k for k in oldest if k not in set(flagged)]
    return [WorthTracing(k, tuple(a.kind for a in paths[k].anomalies), lives[k], k in oldest)
            for k in named]


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
