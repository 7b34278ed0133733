"""The journal's errors: a file that cannot be read, a replay that does not match.

Both derive from :class:`~lifecycle.core.errors.LifecycleError`.
:func:`~lifecycle.journal.load.load_journal` raises :class:`JournalCorrupt`;
:func:`~lifecycle.journal.replay.replay` (and so recovery) raises
:class:`ReplayDivergence`.
"""

from __future__ import annotations

import os
from pathlib import Path

from lifecycle.core.errors import LifecycleError

__all__ = ["JournalCorrupt", "ReplayDivergence"]


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


class ReplayDivergence(LifecycleError):
    """Replaying a journal did not do what the journaled run did.

    Attributes:
        seq: The sequence number of the record where replay diverged.
    """

    def __init__(self, seq: int, problem: str) -> None:
        self.seq = seq
        super().__init__(f"replay diverged at seq {seq}: {problem}")
