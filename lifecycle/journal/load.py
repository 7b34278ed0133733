"""Loading a journal: its valid records, the torn tail a crash left, its segments.

Theory of operation
-------------------
A journal lives in a run directory as ``journal.jsonl`` (:func:`journal_path`
accepts either the directory or the file). A journal that checkpoints goes on
in segments beside it, ``journal.000001.jsonl`` and so on
(:func:`segment_path`); each segment opens with its own ``open`` header and a
``checkpoint`` record, and ``seq`` runs on across segments without a gap.

Every line is checked before it is decoded (:mod:`~lifecycle.journal.framing`):
the first line of each file must start with the journal's magic and format
version, or the file is not a journal of ours and :class:`NotAJournal` is
raised before anything else happens; every line must carry a matching
checksum. A torn last line (no trailing newline, or a last line without its
checksum or that does not decode) is dropped and its bytes counted, since a
crash may cut the last write short; a line whose checksum does not match was
changed, and is corrupt wherever it is. Anything wrong before the last line, a gap in
``seq``, or a segment that is not complete, raises
:class:`~lifecycle.journal.errors.JournalCorrupt` naming the file and line.

:func:`load_journal` reads the whole history (every segment). :func:`load_tail`
reads what recovery needs: the newest segment whose checkpoint is valid, and
every segment after it. Either result, a :class:`LoadedJournal`, also gives the
length of the valid prefix of its last file, so recovery can cut the torn
tail off before appending.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from lifecycle.journal.codec import FORMAT_VERSION, JournalRecord, decode_line
from lifecycle.journal.errors import JournalCorrupt, NotAJournal
from lifecycle.journal.framing import ChecksumMismatch, FramingError, opening, unframe

__all__ = [
    "CHECKPOINT",
    "JOURNAL_NAME",
    "CheckpointLine",
    "LoadedJournal",
    "check_journal_file",
    "journal_path",
    "load_journal",
    "load_tail",
    "segment_path",
    "segment_paths",
]

#: The journal's file name in a run directory.
JOURNAL_NAME = "journal.jsonl"
#: The record type of a checkpoint (the second line of every segment after the first).
CHECKPOINT = "checkpoint"
_CHECKPOINT_OPENING = b'{"type":"checkpoint",'


class CheckpointLine(msgspec.Struct, kw_only=True, tag_field="type", tag=CHECKPOINT,
                     forbid_unknown_fields=True):
    """A checkpoint record as written: the engine state is kept as raw JSON until used.

    Attributes:
        seq, at: As every record's.
        inputs: Journaled calls before the checkpoint, since the journal began.
        first_at: The earliest time in the journal, whatever segments are kept.
        cloid_next: One past the highest cloid counter of the journaled run used so far.
        state: The engine state (:mod:`lifecycle.engine.state`), undecoded.
    """

    seq: int
    at: float | None
    inputs: int
    first_at: float | None
    cloid_next: int
    state: msgspec.Raw


_checkpoint_decoder = msgspec.json.Decoder(CheckpointLine)


@dataclass(frozen=True, slots=True)
class LoadedJournal:
    """The records of a journal and what was dropped from its end.

    Attributes:
        path: The last file read (the newest segment): where the journal goes on.
        records: Every valid record, in order (from the checkpoint's segment
            on, for :func:`load_tail`).
        valid_bytes: Length of the valid prefix of ``path``.
        dropped_bytes: Bytes of a torn last line, ignored (0 if none).
        segments: The files read, oldest first.
        checkpoint: The checkpoint recovery starts from (:func:`load_tail`); None
            to start from an empty engine.
        segment: The index of :attr:`path` among the journal's segments (0: the first file).
    """

    path: Path
    records: tuple[JournalRecord, ...]
    valid_bytes: int
    dropped_bytes: int
    segments: tuple[Path, ...] = ()
    checkpoint: JournalRecord | None = None
    segment: int = 0

    @property
    def torn(self) -> bool:
        """Whether a torn last line was dropped."""
        return self.dropped_bytes > 0

    @property
    def header(self) -> Mapping[str, Any] | None:
        """The first ``open`` record's fields, or None for an empty journal."""
        if self.records and self.records[0].type == "open":
            return self.records[0].data
        return None

    @property
    def next_seq(self) -> int:
        """The sequence number of the next record to append."""
        return self.records[-1].seq + 1 if self.records else 0



def journal_path(path: str | os.PathLike[str]) -> Path:
    """Return the journal file for ``path``: a run directory's ``journal.jsonl``, or ``path``."""
    p = Path(path)
    return p / JOURNAL_NAME if p.is_dir() else p


def segment_path(base: Path, index: int) -> Path:
    """The file of segment ``index`` of the journal whose first file is ``base``."""
    return base if index == 0 else base.with_name(f"{base.stem}.{index:06d}{base.suffix}")


def _pattern(base: Path) -> re.Pattern[str]:
    return re.compile(re.escape(base.stem) + r"\.(\d{6,})" + re.escape(base.suffix) + r"\Z")


def segment_paths(path: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """The existing files of the journal at ``path``, as ``(segment index, file)``, oldest first.

    Raises:
        FileNotFoundError: The journal has no file.
    """
    base = journal_path(path)
    found: list[tuple[int, Path]] = [(0, base)] if base.exists() else []
    if base.parent.is_dir():
        pattern = _pattern(base)
        for entry in base.parent.iterdir():
            match = pattern.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry))
    if not found:
        raise FileNotFoundError(f"no journal at {base}")
    return sorted(found)


def check_journal_file(path: Path) -> None:
    """Refuse a non-empty file that does not open as a journal of this format does.

    Reads only the file's first line; writes nothing.

    Raises:
        NotAJournal: No magic at the start of the file.
        JournalCorrupt: A journal of another format version.
    """
    with path.open("rb") as f:
        head = f.readline(4096)
    _check_opening(path, head.rstrip(b"\n"))


def _check_opening(path: Path, head: bytes) -> None:
    ours, version = opening(head)
    if not ours:
        version = _unframed_version(head)
        if version is None:
            raise NotAJournal(path, f"it starts with {head[:40]!r}")
    if version is not None and version != FORMAT_VERSION:
        age = "a newer" if version > FORMAT_VERSION else "an older"
        raise JournalCorrupt(
            path, 1, f"format version {version} ({age} release); this release reads "
            f"version {FORMAT_VERSION}"
        )


def _unframed_version(head: bytes) -> int | None:
    """The format version of a journal written before lines had checksums, if ``head`` is one's
    header (format 1 had no magic: its first line is a bare ``open`` record)."""
    try:
        obj = json.loads(head)
    except ValueError:
        return None
    if isinstance(obj, dict) and obj.get("type") == "open" and obj.get("seq") == 0:
        version = obj.get("version")
        return version if type(version) is int and version < FORMAT_VERSION else None
    return None


def _decode(raw: bytes, first: bool) -> JournalRecord:
    body, _ = unframe(raw, first=first)
    if body.startswith(_CHECKPOINT_OPENING):
        line = _checkpoint_decoder.decode(body)
        data = {"inputs": line.inputs, "first_at": line.first_at,
                "cloid_next": line.cloid_next, "state": line.state}
        return JournalRecord(line.seq, line.at, CHECKPOINT, data)
    return decode_line(body)


@dataclass(slots=True)
class _Segment:
    records: list[JournalRecord]
    valid_bytes: int
    dropped_bytes: int


def _load_segment(
    path: Path, *, expect: int | None, last: bool, skip_bad_checkpoint: bool = False
) -> _Segment:
    """Read one file; ``expect`` is its first seq if known, ``last`` whether it may be torn."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    _check_opening(path, lines[0])
    torn = lines.pop()  # after the last newline: a line whose end never reached disk
    if torn and not last:
        raise JournalCorrupt(path, len(lines) + 1, "segment ends inside a line")
    dropped = len(torn)
    records: list[JournalRecord] = []
    offset = 0
    seq = expect
    for index, raw in enumerate(lines):
        line_no = index + 1
        try:
            rec = _decode(raw, index == 0)
        except (ValueError, TypeError, ArithmeticError) as exc:  # FramingError included
            if skip_bad_checkpoint and index == 1 and seq is not None:
                # A damaged checkpoint of a segment replayed through: not needed, skipped.
                offset += len(raw) + 1
                seq += 1
                continue
            if index == len(lines) - 1 and not torn and last and (
                not isinstance(exc, ChecksumMismatch)
            ):
                dropped += len(raw) + 1  # the last line, torn inside: ignored
                break
            kind = "bad checksum" if isinstance(exc, FramingError) else "undecodable record"
            raise JournalCorrupt(path, line_no, f"{kind}: {exc}") from None
        if seq is None:
            seq = rec.seq
        if rec.seq != seq:
            raise JournalCorrupt(path, line_no, f"seq {rec.seq} where {seq} was due")
        if (index == 0) != (rec.type == "open"):
            raise JournalCorrupt(path, line_no, f"{rec.type} record where the header belongs")
        if rec.type == "open" and rec.data["version"] != FORMAT_VERSION:
            raise JournalCorrupt(path, line_no, f"format version {rec.data['version']}")
        wanted = index == 1 and records[0].seq > 0  # a later segment's second line
        if (rec.type == CHECKPOINT) != wanted:
            problem = (f"{rec.type} record where the segment's checkpoint belongs" if wanted
                       else "checkpoint record out of place")
            raise JournalCorrupt(path, line_no, problem)
        records.append(rec)
        offset += len(raw) + 1
        seq += 1
    return _Segment(records, offset, dropped)


def load_journal(path: str | os.PathLike[str]) -> LoadedJournal:
    """Read a whole journal: every segment, oldest first.

    Raises:
        FileNotFoundError: No such journal.
        NotAJournal: A file does not start as a journal does.
        JournalCorrupt: A record before the last line does not decode or
            fails its checksum, the first record is no ``open`` header, or a
            ``seq`` is out of order (within a file or across segments).
    """
    files = segment_paths(path)
    records: list[JournalRecord] = []
    segment = _Segment([], 0, 0)
    for i, (_, file) in enumerate(files):
        expect = records[-1].seq + 1 if records else None
        segment = _load_segment(file, expect=expect, last=i == len(files) - 1)
        records += segment.records
    index, newest = files[-1]
    return LoadedJournal(newest, tuple(records), segment.valid_bytes, segment.dropped_bytes,
                         tuple(p for _, p in files), segment=index)


def load_tail(path: str | os.PathLike[str]) -> LoadedJournal:
    """Read what recovery needs: the newest valid checkpoint and every record after it.

    The newest segment whose checkpoint record is intact is read, with every
    segment after it (a damaged checkpoint there is skipped). Without any
    intact checkpoint the whole journal is read, from its first file.

    Raises:
        As :func:`load_journal`.
    """
    files = segment_paths(path)
    for start in range(len(files) - 1, -1, -1):
        if not _can_start(*files[start]):
            continue  # no intact checkpoint here: try the segment before
        records: list[JournalRecord] = []
        segment = _Segment([], 0, 0)
        for i in range(start, len(files)):
            expect = records[-1].seq + 1 if records else None
            segment = _load_segment(files[i][1], expect=expect, last=i == len(files) - 1,
                                    skip_bad_checkpoint=i > start)
            records += segment.records
        checkpoint = records[1] if len(records) > 1 and records[1].type == CHECKPOINT else None
        index, newest = files[-1]
        return LoadedJournal(newest, tuple(records), segment.valid_bytes, segment.dropped_bytes,
                             tuple(p for _, p in files[start:]), checkpoint, index)
    raise JournalCorrupt(files[0][1], 2, "no intact checkpoint, and the journal's first "
                         "file, which needs none, is gone")


def _can_start(index: int, path: Path) -> bool:
    """Whether recovery can start at ``path``: the first file, or one with an intact checkpoint."""
    if index == 0:
        return True
    with path.open("rb") as f:
        head = f.readline()
        second = f.readline()
    _check_opening(path, head.rstrip(b"\n"))
    if not (head.endswith(b"\n") and second.endswith(b"\n")):
        return False
    try:
        return _decode(head[:-1], True).type == "open" and (
            _decode(second[:-1], False).type == CHECKPOINT
        )
    except (ValueError, TypeError, ArithmeticError):
        return False
