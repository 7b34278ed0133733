"""The journal's errors: a file that cannot be read, a replay that does not match.

All derive from :class:`~lifecycle.core.errors.LifecycleError`.
:func:`~lifecycle.journal.load.load_journal` raises :class:`JournalCorrupt`,
and :class:`NotAJournal` (a kind of it) for a file that is not a journal of
ours at all, which nothing here ever writes to;
:func:`~lifecycle.journal.replay.replay` (and so recovery) raises
:class:`ReplayDivergence`.
"""

from __future__ import annotations

import os
from pathlib import Path

from lifecycle.core.errors import LifecycleError

__all__ = ["JournalCorrupt", "NotAJournal", "ReplayDivergence"]


class JournalCorrupt(LifecycleError):
    """A journal that cannot be read: a bad record before the last line, or a seq gap.

    Attributes:
        path: The journal file.
        line: The 1-based line number of the bad record.
    """

    def __init__(self, path: str | os.PathLike[str], line: int, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        super().__init__(f"{path}: line {line}: {problem}")


class NotAJournal(JournalCorrupt):
    """A file that does not start as a journal of ours does (magic and format version).

    Opening it as a journal, or recovering it, is refused before anything is
    written: it is left exactly as it was.

    Attributes:
        found: What the file starts with, shortened (or why it cannot be ours).
    """

    def __init__(self, path: str | os.PathLike[str], found: str) -> None:
        self.found = found
        super().__init__(path, 1, f"not a lifecycle journal: {found}")


class ReplayDivergence(LifecycleError):
    """Replaying a journal did not do what the journaled run did.

    Attributes:
        seq: The sequence number of the record where replay diverged.
    """

    def __init__(self, seq: int, problem: str) -> None:
        self.seq = seq
        super().__init__(f"replay diverged at seq {seq}: {problem}")
