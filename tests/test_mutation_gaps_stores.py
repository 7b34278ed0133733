"""The engine's stores (fill ledger, registry, parked fills): behaviour that mutation
testing (``make mutate``) found unpinned.

Each test names, in a comment, the mutants it kills: changes to
``lifecycle/engine/ledger.py``, ``registry.py`` and ``parking.py`` that every other
test let pass.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

import pytest

from lifecycle.core.anomalies import AnomalyKind, AnomalyLog
from lifecycle.core.errors import UnknownOrder
from lifecycle.core.events import OrderFilled
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import FillId, Order, Side
from lifecycle.engine.ledger import FillLedger
from lifecycle.engine.parking import PARKED_OIDS, park
from lifecycle.engine.registry import OrderRegistry

D = Decimal
BUY = Side.BUY


def fid(tid: int, oid: int | None = 1, ref: str = "") -> FillId:
    return (Tid(tid), None if oid is None else Oid(oid), ref)


# --- what apply accepts and how it refuses the rest ------------------------------------------


def test_apply_accepts_zero_ids_and_an_int_time() -> None:
    # Kills `tid < 0` -> `tid <= 0` / `< 1` and the same for oid, and the
    # `-_INF < now` mutants of _check_time (an int time takes that path).
    ledger = FillLedger()
    assert ledger.apply(fid(0, 0), BUY, D(1), 5)
    assert ledger.position == D(1) and ledger.fills == 1
    assert not ledger.apply(fid(0, 0), BUY, D(1), 6)
    assert ledger.duplicates == 1


BAD = [
    ("tid", (Tid(-1), Oid(1), ""), BUY, D(1), 1.0, ValueError, "an int >= 0, got -1"),
    ("tid", (True, Oid(1), ""), BUY, D(1), 1.0, TypeError, "an int >= 0, got True"),
    ("oid", (Tid(1), Oid(-1), ""), BUY, D(1), 1.0, ValueError, "None or an int >= 0, got -1"),
    ("oid", (Tid(1), "7", ""), BUY, D(1), 1.0, TypeError, "None or an int >= 0, got '7'"),
    ("fill_ref", (Tid(1), Oid(1), 5), BUY, D(1), 1.0, TypeError, "a str, got 5"),
    ("size", (Tid(1), Oid(1), ""), BUY, D(0), 1.0, ValueError,
     "a finite Decimal > 0, got Decimal('0')"),
    ("size", (Tid(1), Oid(1), ""), BUY, 1, 1.0, TypeError, "a finite Decimal > 0, got 1"),
    ("side", (Tid(1), Oid(1), ""), "buy", D(1), 1.0, TypeError, "a Side member, got 'buy'"),
    ("now", (Tid(1), Oid(1), ""), BUY, D(1), -math.inf, ValueError, "a finite time, got -inf"),
    ("now", (Tid(1), Oid(1), ""), BUY, D(1), math.inf, ValueError, "a finite time, got inf"),
    ("now", (Tid(1), Oid(1), ""), BUY, D(1), "1", TypeError, "a finite time, got '1'"),
]


@pytest.mark.parametrize(("name", "identity", "side", "size", "now", "error", "says"), BAD)
def test_apply_refuses_a_bad_argument_naming_it_and_changes_nothing(
    name: str, identity: object, side: object, size: object, now: object,
    error: type[Exception], says: str,
) -> None:
    # Kills the mutants of each _refuse call (the name, the value, the wording) and of
    # _refuse's choice between TypeError and ValueError (`kind is not bool`).
    ledger = FillLedger()
    message = f"FillLedger.apply: {name} must be {says}"
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        ledger.apply(identity, side, size, now)  # type: ignore[arg-type]
    assert (ledger.position, ledger.fills, len(ledger)) == (D(0), 0, 0)


def test_a_ledger_takes_only_a_positive_finite_memory_and_a_capacity_of_one_or_more() -> None:
    # Kills the mutants of FillLedger.__init__'s checks and its default capacity.
    assert FillLedger().capacity == 100_000
    assert FillLedger(capacity=1, memory_s=0.5).memory_s == 0.5
    for memory_s in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match=r"^memory_s must be a finite number > 0, got "):
            FillLedger(memory_s=memory_s)
    with pytest.raises(ValueError, match=r"^capacity must be >= 1, got 0$"):
        FillLedger(capacity=0)


# --- the memory by time ---------------------------------------------------------------------


def test_an_identity_is_remembered_for_exactly_memory_s() -> None:
    # Kills `times[0] < horizon` -> `<=` in _expire (entered because an older one expires).
    ledger = FillLedger(memory_s=10.0)
    ledger.apply(fid(1), BUY, D(1), 0.0)
    ledger.apply(fid(2), BUY, D(1), 1.0)
    assert ledger.remembers(fid(2), 11.0)
    assert not ledger.remembers(fid(1), 11.0)
    assert len(ledger) == 1
    assert not ledger.remembers(fid(2), math.nextafter(11.0, math.inf))


def test_a_fill_event_past_the_memory_expires_the_old_identities() -> None:
    # Kills `_expire(now)` -> `_expire(None)` in FillLedger.apply_event.
    ledger = FillLedger(memory_s=10.0)
    event = OrderFilled(oid=Oid(1), tid=Tid(1), side=BUY, price=D(1), size=D(1))
    assert ledger.apply_event(event, 0.0)
    later = OrderFilled(oid=Oid(1), tid=Tid(2), side=BUY, price=D(1), size=D(1))
    assert ledger.apply_event(later, 20.0)
    assert len(ledger) == 1 and not ledger.remembers(fid(1), 20.0)


def test_binding_an_oid_to_an_order_the_registry_does_not_hold_names_it() -> None:
    # Kills `UnknownOrder(order.label)` -> `UnknownOrder(None)` in OrderRegistry.bind_oid.
    order = Order(cloid=CloidFactory("test").next(), side=BUY, price=D(1), size=D(1), now=0.0)
    with pytest.raises(UnknownOrder) as raised:
        OrderRegistry().bind_oid(order, Oid(1))
    assert raised.value.order_id == order.label


def test_expiring_the_old_keeps_the_young() -> None:
    # Kills `horizon = now - memory_s` -> `now + memory_s` in _expire.
    ledger = FillLedger(memory_s=10.0)
    ledger.apply(fid(1), BUY, D(1), 0.0)
    ledger.apply(fid(2), BUY, D(1), 9.0)
    assert ledger.apply(fid(3), BUY, D(1), 10.5)  # fid(1) is past the memory now
    assert not ledger.apply(fid(2), BUY, D(1), 10.5)
    assert (ledger.position, ledger.fills, ledger.duplicates) == (D(3), 3, 1)


def test_restore_refuses_a_ledger_whose_identities_all_expired() -> None:
    # Kills `self.fills or self._ids` -> `and` in FillLedger.restore.
    ledger = FillLedger(memory_s=10.0)
    ledger.apply(fid(1), BUY, D(1), 0.0)
    assert not ledger.remembers(fid(1), 20.0) and len(ledger) == 0 and ledger.fills == 1
    with pytest.raises(ValueError, match=r"^restore needs a fresh ledger$"):
        ledger.restore(FillLedger().checkpoint())
    assert ledger.position == D(1)


# --- the capacity backstop ------------------------------------------------------------------


def ledger_with_log(capacity: int) -> tuple[FillLedger, AnomalyLog]:
    ledger, log = FillLedger(capacity=capacity, memory_s=100.0), AnomalyLog()
    ledger.report = log.record
    return ledger, log


def test_each_identity_forgotten_early_is_counted_and_reported() -> None:
    # Kills `overflows += 1` -> `= 1`, `_overflow(now)` -> `_overflow(None)`, and the
    # order id chosen for a fill with and without an oid.
    ledger, log = ledger_with_log(capacity=1)
    ledger.apply(fid(1, oid=None), BUY, D(1), 0.0)
    ledger.apply(fid(2, oid=5, ref="x"), BUY, D(1), 2.0)
    ledger.apply(fid(3), BUY, D(1), 3.5)
    assert ledger.overflows == 2 and ledger.forgotten_until == 2.0
    first, second = list(log)
    assert (first.kind, first.at, first.order_id) == (AnomalyKind.FILL_MEMORY_FULL, 2.0, None)
    assert (second.at, second.order_id) == (3.5, "oid:5")
    assert second.detail == (
        "fill 2 (x) forgotten 1.500 s after it was applied: orders.fill_dedup_capacity (1) "
        "reached within orders.fill_memory_s (100 s)"
    )
    assert first.detail.startswith("fill 1 forgotten 2.000 s after")
    assert log.counts[AnomalyKind.FILL_MEMORY_FULL] == 2


def test_remembered_from_starts_after_a_fill_forgotten_exactly_at_the_horizon() -> None:
    # Kills `forgotten >= start` -> `forgotten > start` in remembered_from.
    ledger, _ = ledger_with_log(capacity=1)
    ledger.apply(fid(1), BUY, D(1), 0.0)
    ledger.apply(fid(2), BUY, D(1), 5.0)  # forgets fid(1), applied at 0.0
    assert ledger.remembered_from(100.0) == math.nextafter(0.0, math.inf)
    assert ledger.remembered_from(99.0) == math.nextafter(0.0, math.inf)
    assert ledger.remembered_from(101.0) == 1.0


# --- the registry forgets only what names the order removed -------------------------------------


def test_removing_an_order_keeps_the_ids_that_now_name_another_order() -> None:
    # Kills `... is order` -> `... is not order` (and their removal) in OrderRegistry.remove:
    # a checkpoint's indexes are taken as given, so an id may name another order than
    # the one that carries it.
    factory = CloidFactory("test")
    old = Order(cloid=factory.next(), oid=Oid(1), side=Side.BUY, price=D(100), size=D(1), now=0.0)
    old.prior_oids = (Oid(3),)
    new = Order(cloid=old.cloid, oid=Oid(2), side=Side.BUY, price=D(99), size=D(1), now=0.0)
    new.prior_oids = (Oid(1), Oid(3))
    registry = OrderRegistry()
    assert old.cloid is not None
    registry.restore([old, new], [(old.cloid, new)],
                     [(Oid(1), new), (Oid(2), new), (Oid(3), new)])
    registry.remove(old)
    assert old not in registry and new in registry
    assert registry.by_cloid(old.cloid) is new
    assert [registry.by_oid(Oid(k)) for k in (1, 2, 3)] == [new, new, new]
    registry.remove(new)
    assert len(registry) == 0
    cloids, oids = registry.indexes()
    assert not cloids and not oids


# --- bounds --------------------------------------------------------------------------------


def test_parking_keeps_the_newest_oids_up_to_its_bound() -> None:
    # Kills `len(parked) > PARKED_OIDS` -> `>=` in park.
    parked: dict[Oid, list[OrderFilled]] = {}
    for oid in range(PARKED_OIDS):
        park(parked, OrderFilled(oid=Oid(oid), tid=Tid(oid), side=Side.BUY, price=D(1),
                                 size=D(1)))
    assert len(parked) == PARKED_OIDS and Oid(0) in parked
    park(parked, OrderFilled(oid=Oid(0), tid=Tid(10**6), side=Side.BUY, price=D(1), size=D(1)))
    assert len(parked) == PARKED_OIDS and len(parked[Oid(0)]) == 2
    park(parked, OrderFilled(oid=Oid(PARKED_OIDS), tid=Tid(10**7), side=Side.BUY, price=D(1),
                             size=D(1)))
    assert len(parked) == PARKED_OIDS and Oid(0) not in parked and Oid(1) in parked


def test_registry_restore_refuses_a_registry_holding_only_an_index() -> None:
    # Kills `or` -> `and` in OrderRegistry.restore's emptiness check.
    order = Order(cloid=CloidFactory("test").next(), oid=Oid(1), side=Side.BUY, price=D(1),
                  size=D(1), now=0.0)
    assert order.cloid is not None
    for cloids, oids in (([(order.cloid, order)], []), ([], [(Oid(1), order)])):
        registry = OrderRegistry()
        registry.restore([], cloids, oids)
        with pytest.raises(ValueError, match=r"^restore needs an empty registry$"):
            registry.restore([], [], [])
