"""Loading a journal file: its valid records, and the torn tail a crash left.

Theory of operation
-------------------
A journal lives in a run directory as ``journal.jsonl`` (:func:`journal_path`
accepts either the directory or the file). :func:`load_journal` decodes it line
by line with the codec. A torn last line (no trailing newline, or a line that
does not decode) is dropped and its bytes counted, since a crash may cut the
last write short; anything wrong before the last line, or a gap in ``seq``,
raises :class:`~lifecycle.journal.errors.JournalCorrupt` naming the line. The
result, a :class:`LoadedJournal`, also gives the length of the valid prefix, so
recovery can cut the torn tail off before appending.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifecycle.journal.codec import FORMAT_VERSION, JournalRecord, decode_line
from lifecycle.journal.errors import JournalCorrupt

__all__ = ["JOURNAL_NAME", "LoadedJournal", "journal_path", "load_journal"]

#: The journal's file name in a run directory.
JOURNAL_NAME = "journal.jsonl"


@dataclass(frozen=True, slots=True)
class LoadedJournal:
    """The records of a journal file and what was dropped from its end.

    Attributes:
        path: The file.
        records: Every valid record, in order.
        valid_bytes: Length of the valid prefix of the file.
        dropped_bytes: Bytes of a torn last line, ignored (0 if none).
    """

    path: Path
    records: tuple[JournalRecord, ...]
    valid_bytes: int
    dropped_bytes: int

    @property
    def torn(self) -> bool:
        """Whether a torn last line was dropped."""
        return self.dropped_bytes > 0

    @property
    def header(self) -> Mapping[str, Any] | None:
        """The ``open`` record's fields, or None for an empty journal."""
        if self.records and self.records[0].type == "open":
            return self.records[0].data
        return None


def journal_path(path: str | os.PathLike[str]) -> Path:
    """Return the journal file for ``path``: a run directory's ``journal.jsonl``, or ``path``."""
    p = Path(path)
    return p / JOURNAL_NAME if p.is_dir() else p


def load_journal(path: str | os.PathLike[str]) -> LoadedJournal:
    """Read a journal file (or a run directory's journal).

    Raises:
        FileNotFoundError: No such file.
        JournalCorrupt: A record before the last line does not decode, the
            first record is no ``open`` header, or a ``seq`` is out of order.
    """
    file = journal_path(path)
    data = file.read_bytes()
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: a line whose end never reached disk
    dropped = len(torn)
    records: list[JournalRecord] = []
    offset = 0
    for index, raw in enumerate(lines):
        line_no = index + 1
        try:
            rec = decode_line(raw)
        except (ValueError, TypeError, ArithmeticError) as exc:
            if index == len(lines) - 1 and not torn:
                dropped += len(raw) + 1  # the last line, torn inside: ignored
                break
            raise JournalCorrupt(file, line_no, f"undecodable record: {exc}") from None
        if rec.seq != index:
            raise JournalCorrupt(file, line_no, f"seq {rec.seq} where {index} was due")
        if (index == 0) != (rec.type == "open"):
            raise JournalCorrupt(file, line_no, f"{rec.type} record where the header belongs")
        if rec.type == "open" and rec.data["version"] > FORMAT_VERSION:
            raise JournalCorrupt(file, line_no, f"format version {rec.data['version']} is newer")
        records.append(rec)
        offset += len(raw) + 1
    return LoadedJournal(file, tuple(records), offset, dropped)
