"""Checkpoints: recovery time bounded by the checkpoint interval, not by the history.

Design
------
Without checkpoints, recovery replays a journal from its first record, so a
restart costs time in proportion to everything the run ever did. With them:

* **What.** A checkpoint is everything that decides a future transition,
  captured between two engine calls by :func:`lifecycle.engine.state.capture`:
  orders and tombstones (every field, fills and history included), the
  cloid and oid indexes, the timers (each timed state's FIFO of live
  entries), the fill ledger (position, counters, the window of trade ids),
  parked fills, the outbox and the queries already queued in this drain, the
  engine's time, the anomaly counts and recent anomalies, the safety sync's
  streaks, reported orphans, last sync and snapshot times and counters, and
  the reconciler's memory (last modify batch, modifies in flight, counters).
  The checkpoint record adds what belongs to the journal: calls journaled
  since it began, its earliest time (a restarted driver fetches fills since
  then), and one past the highest cloid counter used, so new cloids never
  repeat journaled ones.
* **Where.** Every ``checkpoint_every`` records
  (:data:`DEFAULT_CHECKPOINT_EVERY`) the journaled engine flushes the current
  file and rotates into the next *segment*, ``journal.000001.jsonl`` and on
  beside ``journal.jsonl`` (:func:`~lifecycle.journal.load.segment_path`). A
  segment opens with an ``open`` header (magic, format version,
  configuration, cloid namespace and run id) and the ``checkpoint`` record,
  written whole under a temporary name and renamed into place (fsynced, file
  and directory, under an fsync policy), so it exists complete or not at all;
  ``seq`` runs on across segments, and a full load
  (:func:`~lifecycle.journal.load.load_journal`) still reads the whole
  history for review. Files are created with mode 0600.
* **Recovery.** :func:`~lifecycle.journal.load.load_tail` takes the newest
  segment whose checkpoint record passes its checksum and decodes (falling
  back one segment at a time past a damaged one, whose own records are still
  replayed through), :func:`restore_checkpoint` writes it into a fresh engine
  and replay runs only the records after it, cutting a torn last line as
  before. The cost is one checkpoint read plus at most ``checkpoint_every``
  records replayed (more only past a damaged checkpoint).
* **Exactness.** The state is captured between calls, at a record boundary,
  and replay from it runs the same calls on the same state; the tests hold an
  engine recovered from any checkpoint equal to one that replayed the whole
  journal, and to the live engine, and a capture of a restored engine equal to
  the capture it came from. Two parts are only as exact as what the journal
  holds: the reconciler's memory is journaled through its requests, not its
  cycles (``set_targets`` is no input), so after recovery it is as of the
  checkpoint (a full replay leaves it empty); and the ids of queried orders
  that no longer exist are dropped.
* **Retention.** Segments are kept; deleting the oldest ones (all but the
  newest with an intact checkpoint) loses only history, never recovery.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import msgspec

from lifecycle.core.ids import CloidFactory
from lifecycle.core.order import Order
from lifecycle.engine import state as engine_state
from lifecycle.engine.facade import Engine
from lifecycle.journal.codec import JournalRecord
from lifecycle.journal.guard import check_record
from lifecycle.journal.load import CheckpointLine

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "CheckpointInfo",
    "checkpoint_body",
    "cloid_next",
    "restore_checkpoint",
]

#: Records between two checkpoints of a journaled engine, unless it is given another interval.
DEFAULT_CHECKPOINT_EVERY = 50_000

_encoder = msgspec.json.Encoder(decimal_format="string")


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """What a checkpoint record says besides the engine state.

    Attributes:
        seq: The checkpoint record's sequence number.
        inputs: Journaled calls before it, since the journal began.
        first_at: The earliest time in the journal.
        cloid_next: One past the highest cloid counter of the journaled run used.
    """

    seq: int
    inputs: int
    first_at: float | None
    cloid_next: int


def checkpoint_body(
    seq: int,
    *,
    at: float | None,
    inputs: int,
    first_at: float | None,
    cloid_next: int,
    state: engine_state.EngineState,
) -> bytes:
    """The JSON object of a checkpoint record (unframed, no newline)."""
    check_record("checkpoint", {"state": state})
    line = CheckpointLine(
        seq=seq, at=at, inputs=inputs, first_at=first_at, cloid_next=cloid_next,
        state=msgspec.Raw(engine_state.encode(state)),
    )
    return _encoder.encode(line)


def cloid_next(factory: CloidFactory, orders: Iterable[Order], floor: int) -> int:
    """One past the highest counter of ``factory``'s run among its own and ``orders``' cloids.

    ``floor`` is the value of the previous checkpoint (cloids of evicted
    orders made before it count through it).
    """
    prefix = CloidFactory(factory.namespace, factory.run_id).next()[:18]
    best = max(floor, factory.counter)  # stopgap: private (the factory's own position)
    for order in orders:
        cloid = order.cloid
        if cloid is not None and cloid.startswith(prefix):
            best = max(best, int(cloid[18:], 16) + 1)
    return best


def restore_checkpoint(engine: Engine, record: JournalRecord) -> CheckpointInfo:
    """Write the state of the checkpoint ``record`` into ``engine`` (fresh, same configuration).

    Raises:
        ValueError: The state does not decode, or is of another layout.
    """
    data: dict[str, Any] = dict(record.data)
    raw: msgspec.Raw = data["state"]
    engine_state.restore(engine, engine_state.decode(bytes(raw)))
    return CheckpointInfo(record.seq, data["inputs"], data["first_at"], data["cloid_next"])
