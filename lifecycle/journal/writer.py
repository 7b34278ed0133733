"""Writing a journal: an append-only file of encoded records, and when they reach the disk.

Theory of operation
-------------------
A :class:`Journal` numbers the records it is given (``seq``, from 0 or from
the count of an existing file it appends to), encodes each with the codec and
frames it with its checksum (:mod:`~lifecycle.journal.framing`) at once, so a
record that does not encode, or that would store a field named like a secret
(:mod:`~lifecycle.journal.guard`), is refused before anything is buffered; it
holds the lines in memory until its :class:`FlushPolicy` says to write.

Files are created readable by their owner only (mode 0600), and an existing
file is appended to only once its first line shows it is a journal of this
format: anything else is refused before a byte is written.

Segments: :meth:`Journal.rotate` ends the current file and goes on in the next
segment, which it writes whole (its ``open`` header and a checkpoint record)
under a temporary name and renames into place, so a segment exists complete
or not at all (see :mod:`lifecycle.journal.checkpoint`).

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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lifecycle.journal.codec import FORMAT_VERSION, encode_line
from lifecycle.journal.framing import frame, seal
from lifecycle.journal.guard import check_record
from lifecycle.journal.load import JOURNAL_NAME, check_journal_file, journal_path, segment_path

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


def _create(path: Path) -> IO[bytes]:
    """Open ``path`` for appending, creating it readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "ab")


class Journal:
    """An append-only JSON-lines journal file, or a run of segment files.

    Args:
        path: The journal's first file (created with its parents, mode 0600),
            or an existing run directory.
        policy: When records reach the disk.
        next_seq: The sequence number of the next record: 0 for a new
            journal (the file must be absent or empty), the record count to
            append to an existing one.
        segment: The segment appended to (0: ``path`` itself; see
            :func:`~lifecycle.journal.load.segment_path`).

    Raises:
        FileExistsError: ``next_seq`` is 0 and the file already holds records.
        NotAJournal: ``next_seq`` is not 0 and the file does not start as a
            journal does (nothing is written to it).
        JournalCorrupt: The file is a journal of another format version.
    """

    __slots__ = ("_buffer", "_buffered", "_file", "_written_at", "base", "next_seq", "path",
                 "policy", "segment")

    def __init__(
        self,
        path: str | os.PathLike[str],
        policy: FlushPolicy | None = None,
        *,
        next_seq: int = 0,
        segment: int = 0,
    ) -> None:
        #: The journal's first file: segments are named after it.
        self.base = journal_path(path)
        #: The index of the segment being written.
        self.segment = segment
        #: The file being written (the current segment).
        self.path = segment_path(self.base, segment)
        if next_seq == 0 and self.path.exists() and self.path.stat().st_size:
            raise FileExistsError(f"{self.path} already holds a journal; recover it instead")
        if next_seq:
            check_journal_file(self.path)  # before the file is opened for writing
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.policy = policy if policy is not None else FlushPolicy()
        self.next_seq = next_seq
        self._file: IO[bytes] | None = _create(self.path)
        if next_seq == 0 and hasattr(os, "fchmod"):
            os.fchmod(self._file.fileno(), 0o600)  # an empty file found there becomes ours
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
            KeyError: ``kind`` is no record type.
            TypeError: A field is missing or unknown, or does not encode.
            SecretField: A field is named like key material.
            ValueError: The journal is closed.
        """
        self.extend(((kind, at, fields),))
        return self.next_seq - 1

    def extend(self, records: Iterable[tuple[str, float | None, Mapping[str, Any]]]) -> None:
        """Buffer ``(type, at, fields)`` records in order; all of them or, on error, none.

        Raises:
            As :meth:`append`.
        """
        if self._file is None:
            raise ValueError(f"journal {self.path} is closed")
        seq = self.next_seq
        check, encode = check_record, encode_line
        lines: list[bytes] = []
        for kind, at, fields in records:
            check(kind, fields)
            line = encode(seq, at, kind, fields)
            lines.append(seal(line) if kind != "open" else
                         frame(line[:-1], version=FORMAT_VERSION))
            seq += 1
        self.next_seq = seq
        self._buffer += lines
        self._buffered += sum(map(len, lines))

    def rotate(self, header: Mapping[str, Any], checkpoint: Callable[[int], bytes]) -> Path:
        """End the current segment and go on in the next one; return its file.

        Everything buffered is written to the current segment first (and
        fsynced, if the policy says so). The next segment is written whole,
        its ``open`` header (``header``'s fields) then the checkpoint record
        ``checkpoint(seq)`` builds (one JSON object), under a temporary name,
        and renamed into place: it exists complete or not at all.

        Raises:
            ValueError: The journal is closed.
        """
        if self._file is None:
            raise ValueError(f"journal {self.path} is closed")
        self.flush()
        seq = self.next_seq
        check_record("open", header)
        data = frame(encode_line(seq, None, "open", header)[:-1], version=FORMAT_VERSION)
        data += frame(checkpoint(seq + 1))
        segment = self.segment + 1
        path = segment_path(self.base, segment)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if self.policy.fsync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if self.policy.fsync:
            _sync_dir(path.parent)
        self._file.close()
        self._file = _create(path)
        self.path, self.segment, self.next_seq = path, segment, seq + 2
        return path

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


def _sync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the platform allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory
    finally:
        os.close(fd)
