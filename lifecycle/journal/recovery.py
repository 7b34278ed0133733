"""Restart recovery: what a crashed run's journal gives back, and how its engine resumes.

Theory of operation
-------------------
:meth:`JournaledEngine.recover
<lifecycle.journal.journaled.JournaledEngine.recover>` loads a journal from its
newest intact checkpoint (or its start), cuts off its torn tail, restores the
checkpoint and replays the records after it (the last call's outcome may be
cut short: replay finishes it and writes the missing records) and keeps
appending to the newest file. Every file is checked before anything is
written: a file that is not a journal of ours is refused and left untouched.
This module holds the steps either side of the replay: :func:`read_crashed_run`
loads the journal, checks that the clock continues it, settles the
configuration and the cloid factory and cuts the torn tail;
:func:`write_recovery` writes the completed outcome and the ``recover`` record
and says what was done (a :class:`RecoveryInfo`). The replay itself runs in
the engine's own module, the one place that may pause its journaling.

The working set is the one at the last journaled call; the timers are those
the replayed moves armed, at their original deadlines, so the first
``on_timer(now)`` after a downtime runs every overdue one:

* PENDING: its placement is queued again and goes out with the next drain.
  A placement drained but whose record was lost (``interval`` or ``on_close``
  policy) is sent again under the same cloid.
* EXPECTED, CANCELLING, MODIFYING: the answer died with the old process; the
  overdue timer sends a status query and the answer decides. Never ended on
  the timeout.
* FINALIZED_PROTECTED: the overdue protection timer moves it to TRACKED.
* TRACKED: the next safety syncs' missing-order check queries it if the
  exchange no longer lists it (the sync's absence streaks are the crashed
  run's, rebuilt by replaying its snapshots, so a streak running before the
  crash goes on and a "not found" it confirmed before stays confirmed).
* ORPHAN_CANDIDATE, AGED_ORPHAN: the grace timer and the next sync decide.
* GONE: tombstones are evicted by their overdue timers.
* Fills made while down arrive again (snapshot on reconnect, user fills):
  each moves the position once, because replay rebuilt the fill ledger's
  trade ids.

Replay rebuilds the engine's orders, indexes, timers, fill ledger, outbox,
the anomalies its calls record, and the safety sync's memory (snapshots are
inputs). A journal with checkpoints is recovered from its newest intact one
(:mod:`lifecycle.journal.checkpoint`), which also restores the reconciler's
memory as of that checkpoint; without one the reconciler starts afresh (its
cycles are journaled as the requests they made).

New cloids never collide with journaled ones: without an explicit factory,
recovery continues the journaled run's namespace and run id from one past the
highest counter any journaled cloid of that run used (:func:`next_cloid_counter`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lifecycle.config.model import LifecycleConfig
from lifecycle.core.errors import TimeWentBackwards
from lifecycle.core.ids import CloidFactory
from lifecycle.journal.checkpoint import CheckpointInfo
from lifecycle.journal.codec import JournalRecord
from lifecycle.journal.load import LoadedJournal, load_tail
from lifecycle.journal.replay import ReplayResult
from lifecycle.journal.writer import Journal

__all__ = [
    "CrashedRun",
    "RecoveryInfo",
    "next_cloid_counter",
    "read_crashed_run",
    "write_recovery",
]


@dataclass(frozen=True, slots=True)
class RecoveryInfo:
    """What :meth:`~lifecycle.journal.journaled.JournaledEngine.recover` found and did.

    Attributes:
        path: The journal file.
        inputs: Journaled calls replayed.
        dropped_bytes: Bytes of a torn last line cut off the file.
        completed: Outcome records of the last call that were lost and written again.
        cloid_start: The counter recovery started the journaled run's cloid
            factory at; None when the caller gave the factory.
        first_at: The earliest time in the journal (None if it has none): a
            driver asks for the account's fills since then, since fills the
            crashed process had not received yet are lost with it.
        last_at: The latest time in the journal before the recovery.
    """

    path: Path
    inputs: int
    dropped_bytes: int
    completed: int
    cloid_start: int | None
    first_at: float | None = None
    last_at: float | None = None


@dataclass(frozen=True, slots=True)
class CrashedRun:
    """A crashed run's journal, read back, and how its engine starts again.

    Attributes:
        loaded: The journal's valid records from its newest intact checkpoint
            on (its torn tail already cut off the file).
        config: The configuration the engine starts with.
        cloids: The cloid factory for new orders.
        cloid_start: The counter the journaled run's factory was started at;
            None when the caller gave the factory.
        first_at: The earliest time in the journal (None if it has none).
        last_at: The latest time in the journal.
        checkpoint: What the checkpoint recovery starts from says; None
            without one.
    """

    loaded: LoadedJournal
    config: LifecycleConfig
    cloids: CloidFactory
    cloid_start: int | None
    first_at: float | None
    last_at: float | None
    checkpoint: CheckpointInfo | None = None


def read_crashed_run(
    path: str | os.PathLike[str],
    now: float,
    *,
    config: LifecycleConfig | None,
    cloids: CloidFactory | None,
) -> CrashedRun:
    """Load a crashed run's journal, and cut off its torn last line, if any.

    The arguments are those of
    :meth:`~lifecycle.journal.journaled.JournaledEngine.recover`.

    Nothing is written before the whole journal checked out.

    Raises:
        FileNotFoundError: No journal at ``path``.
        NotAJournal: A file at ``path`` is not a journal of ours.
        JournalCorrupt: The journal is corrupt before its last line.
        TimeWentBackwards: ``now`` is earlier than the last journaled time.
    """
    loaded = load_tail(path)
    checkpoint: CheckpointInfo | None = None
    if loaded.checkpoint is not None:
        d = loaded.checkpoint.data
        checkpoint = CheckpointInfo(loaded.checkpoint.seq, d["inputs"], d["first_at"],
                                    d["cloid_next"])
    last = max((r.at for r in loaded.records if r.at is not None), default=None)
    if last is not None and now < last:
        raise TimeWentBackwards(
            f"recovery at now={now}, before the journal's last time {last}: "
            "the driver's clock must continue the journaled run's clock"
        )
    header = loaded.header
    if config is None and header is not None:
        config = header["config"]
    config = config if config is not None else LifecycleConfig()
    cloid_start: int | None = None
    if cloids is None:
        namespace = header["namespace"] if header else config.orders.namespace
        run_id = header["run_id"] if header else 0
        cloid_start = next_cloid_counter(loaded.records, namespace, run_id)
        if checkpoint is not None:
            cloid_start = max(cloid_start, checkpoint.cloid_next)
        cloids = CloidFactory(namespace, run_id, start=cloid_start)
    if loaded.dropped_bytes:
        os.truncate(loaded.path, loaded.valid_bytes)
    first = min((r.at for r in loaded.records if r.at is not None), default=None)
    if checkpoint is not None and checkpoint.first_at is not None:
        first = checkpoint.first_at
    return CrashedRun(loaded, config, cloids, cloid_start, first, last, checkpoint)


def write_recovery(
    journal: Journal, run: CrashedRun, result: ReplayResult, now: float
) -> RecoveryInfo:
    """Journal the end of a recovery: the completed outcome, then the ``recover`` record.

    Written and flushed at once, whatever the policy: ``result.tail`` holds
    the records of the last call the crash lost.
    """
    loaded = run.loaded
    journal.extend(result.tail)
    journal.append("recover", now, {
        "dropped_bytes": loaded.dropped_bytes, "inputs": result.inputs,
        "completed": len(result.tail),
    })
    journal.flush()
    return RecoveryInfo(
        loaded.path, result.inputs, loaded.dropped_bytes, len(result.tail), run.cloid_start,
        run.first_at, run.last_at,
    )


def next_cloid_counter(records: Iterable[JournalRecord], namespace: str, run_id: int) -> int:
    """Return one past the highest counter of the cloids of ``namespace``/``run_id`` journaled.

    Counts the cloids of placements and of every order a transition named, so
    orders of the run found again as orphans count too.
    """
    prefix = CloidFactory(namespace, run_id).next()[:18]
    best = -1
    for rec in records:
        if rec.type in ("place", "fired", "refused"):
            cloid = rec.data["cloid"]
            if cloid is not None and cloid.startswith(prefix):
                best = max(best, int(cloid[18:], 16))
    return best + 1
