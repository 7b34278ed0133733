"""Engine state: everything that decides a future transition, captured and restored.

Theory of operation
-------------------
:func:`capture` reads an :class:`~lifecycle.engine.facade.Engine` into an
:class:`EngineState`, plain typed data (msgspec structs of numbers, strings,
decimals and enum members); :func:`restore` writes one into a fresh engine of
the same configuration, so that from then on it does exactly what the
captured engine would have done, given the same calls. :func:`encode` and
:func:`decode` turn a state into JSON and back (the journal's checkpoints).

What is captured, component by component:

* orders: every field of every order the registry holds (tombstones
  included), in the registry's order, and the orders only something else still
  refers to (a timer entry, an absence streak, a modify in flight), marked
  unregistered. Orders are named by their position in :attr:`EngineState.orders`
  everywhere else in the state, so shared references stay shared.
* the registry's cloid and oid indexes (prior oids included), as they are;
* the timers: each timed state's FIFO of ``(deadline, entry count, order)``,
  in order (stale entries, of orders that left the state since, never fire
  and are left out);
* the fill ledger, as it captures itself (:meth:`FillLedger.checkpoint
  <lifecycle.engine.ledger.FillLedger.checkpoint>`): position, counters and
  the fill identities it remembers;
* the interpreter's parked fills (fills that came before their oid was known);
* the outbox, the orders already queried in this drain, the pending sync
  request, the engine's latest time and the cloid factory's counter;
* the anomaly log: the counts by kind and the recent anomalies;
* the safety sync: the absence streaks, the foreign orphans reported, the
  times of the last sync and the last snapshot applied, its counters;
* the reconciler: the time of its last modify batch, the modifies in flight
  it remembers, its counters.

Each component is read and written through accessors of its own, made for
checkpoints (``checkpoint()``/``restore()`` pairs, :meth:`Order.restored
<lifecycle.core.order.Order.restored>`, :meth:`StateTimers.entries
<lifecycle.core.timers.StateTimers.entries>`...): this module touches no
private attribute of another object (a test holds it to that). A capture
restored into a fresh engine captures again to an equal state (the tests
hold the two equal).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import msgspec

from lifecycle.core.anomalies import Anomaly, AnomalyKind
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import Cloid, Oid, Tid
from lifecycle.core.order import Fill, Order, Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.engine.facade import Engine, OutboxState
from lifecycle.engine.ledger import LedgerState
from lifecycle.policy.matching import Asked
from lifecycle.policy.reconciler import ReconcilerMemory
from lifecycle.policy.safety_sync import SyncMemory

__all__ = ["STATE_VERSION", "EngineState", "capture", "decode", "encode", "restore"]

#: The layout of :class:`EngineState`; a checkpoint of another layout is not restored.
STATE_VERSION = 1


# The state's parts are structs written as JSON arrays (compact; field order is
# the layout, versioned by STATE_VERSION).


class OrderData(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One order, every field (its fills and its history included)."""

    cloid: str | None
    oid: int | None
    prior_oids: tuple[int, ...]
    side: Side
    price: Decimal
    size: Decimal
    filled: Decimal
    state: OrderState
    reason: GoneReason | None
    requested: tuple[Decimal, Decimal] | None
    status: str | None
    created_at: float
    state_since: float
    entries: int
    #: ``(tid, price, size, at, ref)`` per fill, in arrival order.
    fills: tuple[tuple[int, Decimal, Decimal, float, str], ...]
    history_origin: OrderState
    #: ``(at, trigger, dest)`` per transition kept, oldest first.
    history: tuple[tuple[float, Trigger, OrderState], ...]
    registered: bool


class CommandData(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One queued command: its class name and the fields that class has."""

    kind: str
    cloid: str | None = None
    oid: int | None = None
    side: Side | None = None
    price: Decimal | None = None
    size: Decimal | None = None
    post_only: bool = True
    reduce_only: bool = False
    reason: str = ""


class FillData(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """A parked fill (an :class:`~lifecycle.core.events.OrderFilled` for an unknown oid)."""

    cloid: str | None
    oid: int | None
    tid: int
    side: Side
    price: Decimal
    size: Decimal
    fill_ref: str


class AnomalyData(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    """One recent anomaly."""

    kind: AnomalyKind
    at: float
    order_id: str | None
    detail: str


class EngineState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything that decides an engine's future transitions (see the module)."""

    version: int
    now: float | None
    cloid_namespace: str
    cloid_run_id: int
    cloid_counter: int
    orders: tuple[OrderData, ...]
    by_cloid: tuple[tuple[str, int], ...]
    by_oid: tuple[tuple[int, int], ...]
    #: Per timed state, its queue of ``(deadline, entry count, order)``.
    timers: tuple[tuple[OrderState, tuple[tuple[float, int, int], ...]], ...]
    ledger: LedgerState
    parked: tuple[tuple[int, tuple[FillData, ...]], ...]
    outbox: tuple[CommandData, ...]
    queried: tuple[int, ...]
    sync_requested: bool
    anomaly_counts: tuple[tuple[AnomalyKind, int], ...]
    anomalies: tuple[AnomalyData, ...]
    #: ``(order, absent count, first absent taken_at, queried)`` per streak.
    streaks: tuple[tuple[int, int, float, bool], ...]
    ignored_orphans: tuple[int, ...]
    last_sync_at: float | None
    last_taken_at: float | None
    sync_counters: tuple[tuple[str, int], ...]
    last_modify_at: float | None
    #: ``(order, price, size, state_since when asked)`` per modify in flight.
    asked: tuple[tuple[int, Decimal, Decimal, float], ...]
    reconciler_counters: tuple[tuple[str, int], ...]


_COMMANDS: dict[str, type] = {
    cls.__name__: cls
    for cls in (PlaceOrder, CancelOrder, ModifyOrder, QueryOrderStatus, FetchOpenOrders)
}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _cloid(text: str | None) -> Cloid | None:
    return None if text is None else Cloid(text)


def _order_data(order: Order, registered: bool) -> OrderData:
    fills = tuple((int(f.tid), f.price, f.size, f.at, f.ref) for f in order.fills.values())
    records = order.history
    history = tuple((r.at, r.trigger, r.dest) for r in records)
    # The state the kept history starts from: the first record's source, or, with
    # no record, the state the order was created in (it has never moved).
    origin = records[0].source if records else order.state
    return OrderData(
        cloid=None if order.cloid is None else str(order.cloid),
        oid=order.oid, prior_oids=tuple(order.prior_oids), side=order.side, price=order.price,
        size=order.size, filled=order.filled, state=order.state, reason=order.reason,
        requested=order.requested, status=order.status, created_at=order.created_at,
        state_since=order.state_since, entries=order.entries,
        fills=fills, history_origin=origin, history=history, registered=registered,
    )


def _order(data: OrderData) -> Order:
    """Rebuild an order as captured (a restored order is built, not moved: no transition)."""
    return Order.restored(
        cloid=_cloid(data.cloid), oid=None if data.oid is None else Oid(data.oid),
        prior_oids=tuple(Oid(o) for o in data.prior_oids), side=data.side, price=data.price,
        size=data.size, filled=data.filled, state=data.state, reason=data.reason,
        requested=data.requested, status=data.status, created_at=data.created_at,
        state_since=data.state_since, entries=data.entries,
        fills=[Fill(tid=Tid(t), price=p, size=s, at=a, ref=r) for t, p, s, a, r in data.fills],
        history_origin=data.history_origin, history=data.history,
    )


def _command_data(command: Command) -> CommandData:
    fields: dict[str, Any] = {
        name: getattr(command, name)
        for name in ("cloid", "oid", "side", "price", "size", "post_only", "reduce_only",
                     "reason")
        if hasattr(command, name)
    }
    if fields.get("cloid") is not None:
        fields["cloid"] = str(fields["cloid"])
    return CommandData(kind=type(command).__name__, **fields)


def _command(data: CommandData) -> Command:
    cls = _COMMANDS[data.kind]
    if cls is FetchOpenOrders:
        return FetchOpenOrders(reason=data.reason)
    ids: dict[str, Any] = {"cloid": _cloid(data.cloid),
                           "oid": None if data.oid is None else Oid(data.oid)}
    terms: dict[str, Any] = {"price": data.price, "size": data.size}
    if cls is PlaceOrder:
        return PlaceOrder(cloid=ids["cloid"], **terms, side=data.side or Side.BUY,
                          post_only=data.post_only, reduce_only=data.reduce_only)
    if cls is ModifyOrder:
        return ModifyOrder(**ids, **terms)
    command: Command = cls(**ids)
    return command


class _Orders:
    """Numbers the orders of a capture: registered ones first, then any other referenced."""

    def __init__(self, registered: list[Order]) -> None:
        self.orders = list(registered)
        self.index = {id(o): i for i, o in enumerate(registered)}
        self.count = len(registered)

    def __call__(self, order: Order) -> int:
        i = self.index.get(id(order))
        if i is None:
            i = self.index[id(order)] = len(self.orders)
            self.orders.append(order)
        return i


def capture(engine: Engine) -> EngineState:
    """Read everything that decides ``engine``'s future transitions (see the module).

    The engine is only read; call it between two engine calls, never inside one.
    """
    registry = engine.registry
    # Orders are numbered as first met: the registry's, then any other, in this order.
    number = _Orders(list(registry))
    cloid_index, oid_index = registry.indexes()
    by_cloid = tuple((str(c), number(o)) for c, o in cloid_index.items())
    by_oid = tuple((int(k), number(o)) for k, o in oid_index.items())
    timers = tuple(
        (state, tuple((d, e, number(o)) for d, e, o in entries))
        for state, entries in engine.timers.entries().items()
    )
    sync = engine.sync.checkpoint()
    streaks = tuple(
        (number(o), n, since, queried) for o, (n, since, queried) in sync.streaks.items()
    )
    ignored = tuple(number(o) for o in sync.ignored)
    reconciler = engine.reconciler.checkpoint()
    asked = tuple((number(a.order), a.price, a.size, a.since) for a in reconciler.asked)
    outbox = engine.outbox_state()
    # Ids of orders no longer referenced anywhere cannot matter again.
    queried = tuple(i for key, i in number.index.items() if key in outbox.queried)
    parked = tuple(
        (int(oid), tuple(
            FillData(cloid=None if f.cloid is None else str(f.cloid), oid=f.oid, tid=int(f.tid),
                     side=f.side, price=f.price, size=f.size, fill_ref=f.fill_ref)
            for f in fills))
        for oid, fills in engine.parked_fills().items()
    )
    anomalies = engine.anomalies
    cloids = engine.cloids
    orders = tuple(
        _order_data(o, i < number.count) for i, o in enumerate(number.orders)
    )
    return EngineState(
        version=STATE_VERSION,
        now=_finite(engine.now),
        cloid_namespace=cloids.namespace,
        cloid_run_id=cloids.run_id,
        cloid_counter=cloids.counter,
        orders=orders,
        by_cloid=by_cloid,
        by_oid=by_oid,
        timers=timers,
        ledger=engine.ledger.checkpoint(),
        parked=parked,
        outbox=tuple(_command_data(c) for c in outbox.commands),
        queried=queried,
        sync_requested=outbox.sync_requested,
        anomaly_counts=tuple((k, n) for k, n in anomalies.counts.items() if n),
        anomalies=tuple(
            AnomalyData(kind=a.kind, at=a.at, order_id=a.order_id, detail=a.detail)
            for a in anomalies
        ),
        streaks=streaks,
        ignored_orphans=ignored,
        last_sync_at=sync.last_sync_at,
        last_taken_at=sync.last_taken_at,
        sync_counters=tuple(sync.counters.items()),
        last_modify_at=reconciler.last_modify_at,
        asked=asked,
        reconciler_counters=tuple(reconciler.counters.items()),
    )


def restore(engine: Engine, state: EngineState) -> None:
    """Write ``state`` into ``engine``, a fresh engine of the captured one's configuration.

    The cloid factory is left as it is: its counter is in ``state`` for the
    caller to start one from.

    Raises:
        ValueError: ``state`` has another layout, or ``engine`` is not fresh.
    """
    if state.version != STATE_VERSION:
        raise ValueError(f"engine state version {state.version}, this release reads "
                         f"{STATE_VERSION}")
    if len(engine.registry) or engine.timers.pending() or len(engine.ledger):
        raise ValueError("restore needs a fresh engine")
    orders = [_order(d) for d in state.orders]
    engine.registry.restore(
        [o for o, d in zip(orders, state.orders, strict=True) if d.registered],
        [(Cloid(c), orders[i]) for c, i in state.by_cloid],
        [(Oid(k), orders[i]) for k, i in state.by_oid],
    )
    engine.timers.load({
        timed: [(d, e, orders[i]) for d, e, i in entries] for timed, entries in state.timers
    })
    engine.ledger.restore(state.ledger)
    engine.restore_parked({
        Oid(oid): [OrderFilled(cloid=_cloid(f.cloid), oid=None if f.oid is None else Oid(f.oid),
                               tid=Tid(f.tid), side=f.side, price=f.price, size=f.size,
                               fill_ref=f.fill_ref)
                   for f in fills]
        for oid, fills in state.parked
    })
    engine.restore_outbox(OutboxState(
        commands=tuple(_command(c) for c in state.outbox),
        queried=frozenset(id(orders[i]) for i in state.queried),
        sync_requested=state.sync_requested,
    ))
    engine.restore_now(float("-inf") if state.now is None else state.now)
    engine.anomalies.restore(
        dict(state.anomaly_counts),
        [Anomaly(kind=a.kind, at=a.at, order_id=a.order_id, detail=a.detail)
         for a in state.anomalies],
    )
    engine.sync.restore(SyncMemory(
        streaks={orders[i]: (n, since, queried) for i, n, since, queried in state.streaks},
        ignored=tuple(orders[i] for i in state.ignored_orphans),
        last_sync_at=state.last_sync_at,
        last_taken_at=state.last_taken_at,
        counters=dict(state.sync_counters),
    ))
    engine.reconciler.restore(ReconcilerMemory(
        last_modify_at=state.last_modify_at,
        asked=tuple(Asked(order=orders[i], price=p, size=s, since=since)
                    for i, p, s, since in state.asked),
        counters=dict(state.reconciler_counters),
    ))


def _enc_hook(value: Any) -> Any:
    if isinstance(value, str):  # a Cloid (a str subclass, which msgspec leaves to the hook)
        return str(value)
    raise NotImplementedError(f"cannot encode {type(value).__name__}: {value!r}")


_encoder = msgspec.json.Encoder(enc_hook=_enc_hook, decimal_format="string")
_decoder = msgspec.json.Decoder(EngineState)


def encode(state: EngineState) -> bytes:
    """The JSON of ``state`` (one line: no newline inside)."""
    return _encoder.encode(state)


def decode(data: bytes) -> EngineState:
    """Read :func:`encode`'s JSON back.

    Raises:
        ValueError: ``data`` is not an engine state (``msgspec`` errors are ``ValueError``).
    """
    return _decoder.decode(data)
