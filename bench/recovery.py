"""Benchmark of restart recovery from a long journal. Not a test.

Run as ``.venv/bin/python bench/recovery.py [RECORDS]`` (default 1,000,000);
it prints one line per measurement and the figures as JSON at the end.

Method: :func:`build_journal` drives a
:class:`~lifecycle.journal.JournaledEngine` through many short order lifecycles
(place, drain, accept, protection timer, cancel, drain, cancel ack, the
tombstone evicted by the next order's timer; an empty open-orders snapshot
every tenth order), 15 records each, until the journal holds ``records``
records, with the flush policy ``on_close`` and no fsync, so building costs
little but the engine's own work. Building is not timed. :func:`recover_ms`
then times one :meth:`JournaledEngine.recover
<lifecycle.journal.JournaledEngine.recover>` of that journal (wall clock,
``time.perf_counter``, after ``gc.collect()``), with checkpoints every
``checkpoint_every`` records (the default interval) or, with None, none: the
whole history replayed, for comparison.

Target: recovery of a 1,000,000-record journal in at most 1 s; with
checkpoints it replays at most one interval, whatever the history.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from lifecycle.config import LifecycleConfig
from lifecycle.core.events import OrderAccepted, OrderCanceled
from lifecycle.core.ids import CloidFactory, Oid
from lifecycle.core.order import Side
from lifecycle.journal import (
    DEFAULT_CHECKPOINT_EVERY,
    FlushMode,
    FlushPolicy,
    Journal,
    JournaledEngine,
)
from lifecycle.policy.safety_sync import OpenOrdersSnapshot

__all__ = ["build_journal", "recover_ms"]

_PRICE = Decimal("100.5")
_SIZE = Decimal("1")
_CLOSE_ONLY = FlushPolicy(mode=FlushMode.ON_CLOSE, fsync=False)


class BenchError(AssertionError):
    """A measurement did not do what it claims."""


def build_journal(
    directory: Path, records: int, *, checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY
) -> tuple[Path, float]:
    """Write a journal of at least ``records`` records in ``directory``.

    Returns:
        The journal's first file and its last time.
    """
    config = LifecycleConfig()
    path = directory / "journal.jsonl"
    engine = JournaledEngine(
        Journal(path, _CLOSE_ONLY), config, cloids=CloidFactory("bench", run_id=1),
        checkpoint_every=checkpoint_every,
    )
    protection = config.orders.protection_s
    i = 0
    t = 0.0
    while engine.journal.next_seq < records:
        t = i * 20.0
        order = engine.place(Side.BUY, _PRICE, _SIZE, t)
        engine.commands_to_send()
        oid = Oid(i + 1)
        engine.handle(OrderAccepted(cloid=order.cloid, oid=oid), t)
        engine.on_timer(t + protection)  # TRACKED; the previous tombstone is evicted
        engine.cancel(order, t + protection + 1)
        engine.commands_to_send()
        engine.handle(OrderCanceled(cloid=order.cloid, oid=oid), t + protection + 1)
        if i % 10 == 0:
            engine.handle_snapshot(OpenOrdersSnapshot(taken_at=t + 12, orders=()), t + 12)
        i += 1
    engine.close()
    return path, t + 20.0


def recover_ms(
    records: int = 1_000_000, *, checkpoint_every: int | None = DEFAULT_CHECKPOINT_EVERY
) -> float:
    """Milliseconds one recovery of a ``records``-record journal takes (building it not timed).

    Raises:
        BenchError: The recovered engine is not the journaled one (orders, position).
    """
    with tempfile.TemporaryDirectory(prefix="lifecycle-recovery-") as tmp:
        path, now = build_journal(Path(tmp), records, checkpoint_every=checkpoint_every)
        gc.collect()
        start = time.perf_counter()
        engine = JournaledEngine.recover(path, now, checkpoint_every=checkpoint_every)
        elapsed = time.perf_counter() - start
        engine.close()
        if engine.recovery is None or engine.position != 0 or any(
            o.state.value != "gone" for o in engine.registry
        ):
            raise BenchError("the recovered engine is not the journaled one")
    return elapsed * 1000.0


def main(argv: list[str]) -> int:
    """Measure and print; return the exit status."""
    records = int(argv[0]) if argv else 1_000_000
    results: dict[str, float] = {}
    for name, every in (("checkpointed", DEFAULT_CHECKPOINT_EVERY), ("full_replay", None)):
        ms = recover_ms(records, checkpoint_every=every)
        results[f"recover_ms_{name}"] = round(ms, 1)
        print(f"recover {records:,} records ({name}): {ms:,.1f} ms", file=sys.stderr)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
