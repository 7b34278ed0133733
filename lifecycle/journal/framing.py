"""Framing: the magic that opens a journal file, and the checksum that closes every line.

Theory of operation
-------------------
The codec turns a record into one JSON object; this module frames it as a
journal line, and checks a line before the codec reads it. The line stays one
JSON object, so line-oriented JSON tools still read a journal:

* every line ends with ``,"crc":"XXXXXXXX"}``: the CRC-32 (8 lowercase hex
  digits) of the line's bytes before that suffix. A line whose checksum does
  not match was changed after it was written (a flipped bit, or an edit that
  left valid JSON: a size doubled, a side flipped); loading refuses it as
  corrupt, naming the line, even as the last line: a crash leaves a line
  without its checksum (torn), never one with a wrong checksum.
* the first line of every file (segment) also starts with the magic
  ``{"lifecycle_journal":N,`` where ``N`` is the format version. It is checked
  before anything else is read, and before anything is ever written to an
  existing file: a file that does not start with it (or with a prefix of it,
  for a header torn by a crash) is not a journal of ours and is never touched.

:func:`frame` and :func:`unframe` are exact inverses; :func:`opening` tells a
journal's first bytes from any other file's.
"""

from __future__ import annotations

import zlib

__all__ = ["MAGIC", "ChecksumMismatch", "FramingError", "frame", "opening", "seal", "unframe"]

#: The first bytes of every journal file (then the format version and a comma).
MAGIC = b'{"lifecycle_journal":'
_CRC_HEAD = b',"crc":"'
_CRC_TAIL = b'"}'
# ',"crc":"' + 8 hex digits + '"}'
_SUFFIX_LEN = len(_CRC_HEAD) + 8 + len(_CRC_TAIL)
_HEX = frozenset(b"0123456789abcdef")
_SEAL = _CRC_HEAD + b"%08x" + _CRC_TAIL + b"\n"


class FramingError(ValueError):
    """A line that is not framed as this module frames lines (or fails its checksum)."""


class ChecksumMismatch(FramingError):
    """A whole, well-framed line whose bytes no longer match its checksum.

    A crash cuts a line short, leaving no checksum at its end; a line that
    has one, but a wrong one, was changed after it was written.
    """


def frame(body: bytes, *, version: int | None = None) -> bytes:
    """Frame the codec's JSON object ``body`` (no newline) as one journal line, newline included.

    With ``version`` the line is a file's first: it starts with the magic.
    """
    if not (body.startswith(b"{") and body.endswith(b"}")):
        raise FramingError(f"not a JSON object: {body[:40]!r}")
    inner = body[:-1]
    if version is not None:
        inner = b"%s%d,%s" % (MAGIC, version, inner[1:])
    return b"%s%s%08x%s\n" % (inner, _CRC_HEAD, zlib.crc32(inner), _CRC_TAIL)


def seal(line: bytes) -> bytes:
    """Frame a line as the codec writes it (one JSON object and its newline): :func:`frame`
    for every line but a file's first, on the hot path of every record."""
    if line[-2:] != b"}\n":
        raise FramingError(f"not a JSON object line: {line[:40]!r}")
    inner = line[:-2]
    return inner + _SEAL % zlib.crc32(inner)


def unframe(line: bytes, *, first: bool = False) -> tuple[bytes, int | None]:
    """Check one line (without its newline); return the codec's JSON object and the version.

    The version is the magic's, for the ``first`` line of a file; None otherwise.

    Raises:
        ChecksumMismatch: The line's checksum does not match its bytes.
        FramingError: No checksum suffix, or (``first``) no magic and version.
    """
    if not (line.endswith(_CRC_TAIL) and line[-_SUFFIX_LEN:-10] == _CRC_HEAD):
        raise FramingError("no checksum at the end of the line")
    inner = line[:-_SUFFIX_LEN]
    digits = line[-10:-2]
    crc = b"%08x" % zlib.crc32(inner)
    if digits != crc:
        if not _HEX.issuperset(digits):
            raise FramingError("no checksum at the end of the line")
        raise ChecksumMismatch(
            f"checksum mismatch: the line says {digits.decode()}, its bytes give "
            f"{crc.decode()} (changed after it was written)"
        )
    if not first:
        return inner + b"}", None
    version, rest = _version(inner)
    if version is None:
        raise FramingError("the first line does not start with the journal's magic")
    return b"{" + rest + b"}", version


def opening(head: bytes) -> tuple[bool, int | None]:
    """Tell whether a file starting with ``head`` may be a journal of ours.

    ``head`` is the file's first line, or all its bytes when it has no newline.
    Returns ``(ours, version)``: ``ours`` is True when ``head`` starts with the
    magic and a version, or is a prefix of the magic (a header torn by a crash,
    or an empty file); ``version`` is the format version, when ``head`` holds it
    whole.
    """
    if len(head) <= len(MAGIC):
        return MAGIC.startswith(head), None
    version, _ = _version(head)
    if version is not None:
        return True, version
    # The magic then digits only: a header torn inside its version.
    rest = head[len(MAGIC):]
    return head.startswith(MAGIC) and rest.isdigit(), None


def _version(data: bytes) -> tuple[int | None, bytes]:
    """Split ``MAGIC + digits + ","`` off ``data``: (version, the rest), or (None, data)."""
    if not data.startswith(MAGIC):
        return None, data
    comma = data.find(b",", len(MAGIC))
    digits = data[len(MAGIC):comma]
    if comma < 0 or not digits.isdigit() or len(digits) > 9:
        return None, data
    return int(digits), data[comma + 1:]
