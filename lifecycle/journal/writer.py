"""Writing a journal: an append-only file of encoded records, and when they reach the disk.

Theory of operation
-------------------
A :class:`Journal` numbers the records it is given (``seq``, from 0 or from
the count of an existing file it appends to), encodes each with the codec at
once, so a record that does not encode is refused before anything is buffered,
and holds the lines in memory until its :class:`FlushPolicy` says to write.

Durability (:class:`FlushPolicy`): records wait in memory and are written
(and fsynced) after every call that produced some (``every_record``), once
``interval_ms`` of *engine* time has passed since the last write
(``interval``: the core never reads a clock, so the times it is given drive
the writes), or at close (``on_close``). A crash loses what was not written,
and may tear the last line. The buffer is written in one ``write``, so a crash
tears at most its last line, which loading drops.

The journal knows nothing of the engine: what goes into it, and in which
groups, is the :class:`~lifecycle.journal.journaled.JournaledEngine`'s business.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lifecycle.journal.codec import encode_line
from lifecycle.journal.load import JOURNAL_NAME, journal_path

__all__ = ["FlushMode", "FlushPolicy", "Journal"]


class FlushMode(enum.Enum):
    """When buffered records are written to disk."""

    #: After every engine call that produced records, before it returns.
    EVERY_RECORD = "every_record"
    #: Once ``interval_ms`` of engine time has passed since the last write.
    INTERVAL = "interval"
    #: At close (or when the buffer outgrows ``max_buffer_bytes``).
    ON_CLOSE = "on_close"


@dataclass(frozen=True, kw_only=True, slots=True)
class FlushPolicy:
    """How durable the journal is, and what it costs.

    Attributes:
        mode: When records are written.
        interval_ms: Engine-time milliseconds between writes (``INTERVAL``).
        fsync: Also ``fsync`` the file after each write (survives a power loss,
            not only a process crash).
        max_buffer_bytes: Bytes of buffered records that force a write
            (without fsync) under ``INTERVAL`` and ``ON_CLOSE``.
    """

    mode: FlushMode = FlushMode.EVERY_RECORD
    interval_ms: float = 0.0
    fsync: bool = True
    max_buffer_bytes: int = 4 << 20

    def __post_init__(self) -> None:
        if self.mode is FlushMode.INTERVAL and not self.interval_ms > 0:
            raise ValueError(f"interval_ms must be > 0, got {self.interval_ms}")


class Journal:
    """An append-only JSON-lines journal file.

    Args:
        path: The file (created with its parents), or an existing run directory.
        policy: When records reach the disk.
        next_seq: The sequence number of the next record: 0 for a new
            journal (the file must be absent or empty), the record count to
            append to an existing one.

    Raises:
        FileExistsError: ``next_seq`` is 0 and the file already holds records.
    """

    __slots__ = ("_buffer", "_buffered", "_file", "_written_at", "next_seq", "path", "policy")

    def __init__(
        self, path: str | os.PathLike[str], policy: FlushPolicy | None = None, *, next_seq: int = 0
    ) -> None:
        self.path = journal_path(path)
        if next_seq == 0 and self.path.exists() and self.path.stat().st_size:
            raise FileExistsError(f"{self.path} already holds a journal; recover it instead")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.policy = policy if policy is not None else FlushPolicy()
        self.next_seq = next_seq
        self._file: IO[bytes] | None = open(self.path, "ab")  # noqa: SIM115 (owned until close)
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._written_at: float | None = None

    @classmethod
    def in_dir(cls, run_dir: str | os.PathLike[str], policy: FlushPolicy | None = None) -> Journal:
        """Start the journal of a new run: ``run_dir/journal.jsonl`` (``run_dir`` created)."""
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        return cls(Path(run_dir) / JOURNAL_NAME, policy)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._file is None

    @property
    def buffered(self) -> int:
        """Records appended but not yet written."""
        return len(self._buffer)

    def append(self, kind: str, at: float | None, fields: Mapping[str, Any]) -> int:
        """Buffer one record and return its sequence number (see :meth:`commit`).

        Raises:
            KeyError: ``kind`` is no record type, or a field is missing.
            ValueError: The journal is closed.
        """
        self.extend(((kind, at, fields),))
        return self.next_seq - 1

    def extend(self, records: Iterable[tuple[str, float | None, Mapping[str, Any]]]) -> None:
        """Buffer ``(type, at, fields)`` records in order; all of them or, on error, none.

        Raises:
            KeyError: A type is no record type, or a field is missing.
            ValueError: The journal is closed.
        """
        if self._file is None:
            raise ValueError(f"journal {self.path} is closed")
        seq = self.next_seq
        lines = [encode_line(seq + i, at, kind, fields)
                 for i, (kind, at, fields) in enumerate(records)]
        self.next_seq = seq + len(lines)
        self._buffer += lines
        self._buffered += sum(map(len, lines))

    def commit(self, now: float | None) -> None:
        """Apply the policy at engine time ``now``: write the buffer if it is due."""
        policy = self.policy
        if policy.mode is FlushMode.EVERY_RECORD:
            if self._buffer:
                self.flush()
            return
        if policy.mode is FlushMode.INTERVAL and now is not None and math.isfinite(now):
            if self._written_at is None:
                self._written_at = now  # the first interval starts with the first time
            elif now - self._written_at >= policy.interval_ms / 1000:
                self._written_at = now
                self.flush()
                return
        if self._buffered > policy.max_buffer_bytes:
            self._write(sync=False)

    def flush(self) -> None:
        """Write every buffered record now (and fsync, if the policy says so)."""
        self._write(sync=self.policy.fsync)

    def close(self) -> None:
        """Write what is buffered and close the file (idempotent)."""
        if self._file is None:
            return
        self.flush()
        self._file.close()
        self._file = None

    def abandon(self) -> int:
        """Close the file without writing what is buffered, as a crashed process
        leaves it; return how many buffered records were lost (idempotent)."""
        lost = len(self._buffer)
        self._buffer.clear()
        self._buffered = 0
        if self._file is not None:
            self._file.close()
            self._file = None
        return lost

    def _write(self, *, sync: bool) -> None:
        file = self._file
        if file is None:
            return
        if self._buffer:
            # One write for the whole group: a crash tears at most its last line.
            file.write(b"".join(self._buffer))
            self._buffer.clear()
            self._buffered = 0
        file.flush()
        if sync:
            os.fsync(file.fileno())

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
