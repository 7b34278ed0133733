"""The journal: every input and transition on disk, replay and restart recovery.

Rule of this layer: it imports the engine and below, never the runtime, ``sim``
or the CLI.

Its modules, each importing only those listed before it:

* :mod:`~lifecycle.journal.errors`: :class:`JournalCorrupt`, :class:`NotAJournal`,
  :class:`ReplayDivergence`.
* :mod:`~lifecycle.journal.codec`: the record format, lines to and from the
  engine's types (:class:`JournalRecord`, :data:`FORMAT_VERSION`).
* :mod:`~lifecycle.journal.framing`: the magic that opens a journal file and
  the checksum that ends every line.
* :mod:`~lifecycle.journal.guard`: no record stores a field named like a secret.
* :mod:`~lifecycle.journal.load`: reading a journal's files, torn tail dropped,
  foreign files refused (:func:`load_journal`, :func:`load_tail`,
  :func:`journal_path`, :class:`LoadedJournal`).
* :mod:`~lifecycle.journal.writer`: the append-only files (mode 0600), their
  flush policy and segment rotation (:class:`Journal`, :class:`FlushPolicy`,
  :class:`FlushMode`).
* :mod:`~lifecycle.journal.outcomes`: what a call did, as records (:func:`order_key`).
* :mod:`~lifecycle.journal.replay`: checking an engine against a journal
  (:func:`replay`, :class:`ReplayResult`).
* :mod:`~lifecycle.journal.checkpoint`: checkpoints, so recovery replays a
  bounded tail (its design; :data:`DEFAULT_CHECKPOINT_EVERY`).
* :mod:`~lifecycle.journal.recovery`: restarting from a crashed run's journal
  (:class:`RecoveryInfo`, :func:`next_cloid_counter`).
* :mod:`~lifecycle.journal.journaled`: the engine that writes it all
  (:class:`JournaledEngine`, whose ``recover`` puts recovery and replay together).
"""

from lifecycle.journal.checkpoint import DEFAULT_CHECKPOINT_EVERY
from lifecycle.journal.codec import FORMAT_VERSION, JournalRecord
from lifecycle.journal.errors import JournalCorrupt, NotAJournal, ReplayDivergence
from lifecycle.journal.guard import SecretField
from lifecycle.journal.journaled import JournaledEngine
from lifecycle.journal.load import (
    JOURNAL_NAME,
    LoadedJournal,
    journal_path,
    load_journal,
    load_tail,
)
from lifecycle.journal.outcomes import order_key
from lifecycle.journal.recovery import RecoveryInfo, next_cloid_counter
from lifecycle.journal.replay import ReplayResult, replay
from lifecycle.journal.writer import FlushMode, FlushPolicy, Journal

__all__ = [
    "DEFAULT_CHECKPOINT_EVERY",
    "FORMAT_VERSION",
    "JOURNAL_NAME",
    "FlushMode",
    "FlushPolicy",
    "Journal",
    "JournalCorrupt",
    "JournalRecord",
    "JournaledEngine",
    "LoadedJournal",
    "NotAJournal",
    "RecoveryInfo",
    "ReplayDivergence",
    "ReplayResult",
    "SecretField",
    "journal_path",
    "load_journal",
    "load_tail",
    "next_cloid_counter",
    "order_key",
    "replay",
]
