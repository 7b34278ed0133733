"""The journal: every input and transition on disk, replay and restart recovery.

Rule of this layer: it imports the engine and below, never the runtime, ``sim``
or the CLI.
"""

from lifecycle.journal.writer import (
    FORMAT_VERSION,
    JOURNAL_NAME,
    FlushMode,
    FlushPolicy,
    Journal,
    JournalCorrupt,
    JournaledEngine,
    JournalRecord,
    LoadedJournal,
    RecoveryInfo,
    ReplayDivergence,
    ReplayResult,
    journal_path,
    load_journal,
    next_cloid_counter,
    order_key,
    replay,
)

__all__ = [
    "FORMAT_VERSION",
    "JOURNAL_NAME",
    "FlushMode",
    "FlushPolicy",
    "Journal",
    "JournalCorrupt",
    "JournalRecord",
    "JournaledEngine",
    "LoadedJournal",
    "RecoveryInfo",
    "ReplayDivergence",
    "ReplayResult",
    "journal_path",
    "load_journal",
    "next_cloid_counter",
    "order_key",
    "replay",
]
