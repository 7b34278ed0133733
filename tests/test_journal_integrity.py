"""The journal trusts none of its bytes: foreign files, file modes, secrets, checksums."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from lifecycle.config import LifecycleConfig, MarketConfig, OrdersConfig, OrphanPolicy
from lifecycle.core.commands import CancelOrder
from lifecycle.core.errors import IllegalTransition
from lifecycle.core.events import OrderAccepted, OrderFilled
from lifecycle.core.ids import CloidFactory, Oid, Tid
from lifecycle.core.order import Side
from lifecycle.core.states import Trigger
from lifecycle.engine.state import EngineState
from lifecycle.journal import (
    FORMAT_VERSION,
    Journal,
    JournalCorrupt,
    JournaledEngine,
    NotAJournal,
    load_journal,
)
from lifecycle.journal.codec import RECORD_TYPES
from lifecycle.journal.framing import MAGIC, frame, unframe
from lifecycle.journal.guard import SECRET_NAME, SecretField, field_names
from lifecycle.journal.load import segment_paths
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot

NAMESPACE = "test"
CONFIG = LifecycleConfig(
    orders=OrdersConfig(orphan_policy=OrphanPolicy.ADOPT, namespace=NAMESPACE),
    market=MarketConfig(coin="BTC"),
)
PX = Decimal("100.5")
SZ = Decimal("1")


def new_engine(path: Path, **kwargs: Any) -> JournaledEngine:
    return JournaledEngine(Journal(path), CONFIG, cloids=CloidFactory(NAMESPACE, run_id=1),
                           **kwargs)


def filled_journal(path: Path) -> Path:
    engine = new_engine(path)
    order = engine.place(Side.BUY, PX, SZ, 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(3)), 0.1)
    engine.handle(OrderFilled(cloid=order.cloid, oid=Oid(3), tid=Tid(1), side=Side.BUY,
                              price=PX, size=SZ), 0.2)
    engine.place(Side.SELL, PX, SZ, 0.3)
    engine.close()
    return path


# --- a file that is not a journal of ours is never touched ----------------------------------

FOREIGN = [
    pytest.param(b"hello\n", id="one-line"),
    pytest.param(b"hello", id="one-line-no-newline"),
    pytest.param(b'{"name": "settings", "debug": true}\n{"more": 1}\n', id="other-jsonl"),
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", id="binary"),
    pytest.param(b"{", id="one-brace"),  # a prefix of the magic, but followed by nothing else
]


@pytest.mark.parametrize("content", FOREIGN)
def test_recover_refuses_a_file_that_is_not_a_journal_and_leaves_it_as_it_was(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(content)
    os.utime(path, (1_000_000, 1_000_000))
    if content == b"{":
        # One byte that may begin a header torn by a crash: recovered as empty.
        JournaledEngine.recover(path, 1.0, config=CONFIG).close()
        assert path.read_bytes().startswith(MAGIC)
        return
    with pytest.raises(NotAJournal, match="not a lifecycle journal") as info:
        JournaledEngine.recover(path, 1.0, config=CONFIG)
    assert info.value.path == path and str(path) in str(info.value)
    assert repr(content.split(b"\n")[0][:5])[2:-1] in str(info.value)  # what was found
    assert path.read_bytes() == content
    assert path.stat().st_mtime == 1_000_000
    assert sorted(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("content", [p for p in FOREIGN if p.id != "one-brace"])
def test_journal_opening_for_append_refuses_a_foreign_file(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(content)
    with pytest.raises(NotAJournal):
        Journal(path, next_seq=3)
    with pytest.raises(NotAJournal):
        load_journal(path)
    with pytest.raises(FileExistsError):
        Journal(path)  # a new journal never goes over a file
    assert path.read_bytes() == content


def test_recover_refuses_a_journal_of_a_newer_format_naming_its_version(tmp_path: Path) -> None:
    path = filled_journal(tmp_path / "j.jsonl")
    data = path.read_bytes()
    newer = data.replace(b'{"lifecycle_journal":%d,' % FORMAT_VERSION,
                         b'{"lifecycle_journal":99,', 1)
    path.write_bytes(newer)
    with pytest.raises(JournalCorrupt, match="format version 99") as info:
        JournaledEngine.recover(path, 5.0)
    assert info.value.line == 1
    assert path.read_bytes() == newer


def test_recover_refuses_a_journal_of_format_1_naming_its_version(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    old = b'{"seq":0,"at":null,"type":"open","version":1,"config":{},"namespace":"n","run_id":0}\n'
    path.write_bytes(old)
    with pytest.raises(JournalCorrupt, match=r"format version 1 \(an older release") as info:
        JournaledEngine.recover(path, 5.0)
    assert not isinstance(info.value, NotAJournal)
    with pytest.raises(JournalCorrupt, match="format version 1"):
        Journal(path, next_seq=1)
    assert path.read_bytes() == old


def test_recover_refuses_a_journal_with_a_foreign_segment_before_writing(tmp_path: Path) -> None:
    path = filled_journal(tmp_path / "j.jsonl")
    before = path.read_bytes()
    intruder = tmp_path / "j.000001.jsonl"
    intruder.write_bytes(b"not ours\n")
    with pytest.raises(NotAJournal, match=r"j\.000001\.jsonl"):
        JournaledEngine.recover(path, 5.0)
    assert path.read_bytes() == before and intruder.read_bytes() == b"not ours\n"


# --- file modes ----------------------------------------------------------------------------


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # the most permissive: the journal must not rely on the umask
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def test_journal_files_are_created_readable_by_their_owner_only(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "run" / "journal.jsonl"
    engine = new_engine(path, checkpoint_every=20)
    for i in range(30):
        engine.place(Side.BUY, PX, SZ, float(i))
        engine.commands_to_send()
    engine.journal.abandon()
    recovered = JournaledEngine.recover(path, 100.0, checkpoint_every=20)
    for i in range(30):
        recovered.place(Side.SELL, PX, SZ, 100.0 + i)
    recovered.close()
    files = [p for _, p in segment_paths(path)]
    assert len(files) >= 4  # the first file and the segments its checkpoints opened
    assert [mode(p) for p in files] == [0o600] * len(files)
    assert not list(path.parent.glob("*.tmp"))


def test_an_empty_file_taken_for_a_new_journal_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    new_engine(path).close()
    assert mode(path) == 0o600


# --- secrets -------------------------------------------------------------------------------


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def every_record_kind(path: Path) -> list[dict[str, Any]]:
    """A journal holding every record type there is, read back as plain JSON objects."""
    engine = new_engine(path, checkpoint_every=None)
    order = engine.place(Side.BUY, PX, SZ, 0.0)  # open, place
    engine.commands_to_send()  # drain, fired
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(3)), 0.1)  # event
    rows = (OpenOrder(coin="BTC", oid=Oid(9), side=Side.SELL, price=PX, size=SZ),)
    engine.handle_snapshot(OpenOrdersSnapshot(taken_at=0.2, orders=rows), 0.2)  # snapshot
    engine.on_timer(20.0)  # timer
    engine.move(engine.order(Oid(9)), Trigger.ADOPT, 21.0)  # move
    engine.modify(order, PX, SZ, 21.0)  # modify
    with pytest.raises(IllegalTransition):
        engine.modify(order, PX, SZ, 21.5)  # refused, error
    engine.query(order)  # query
    engine.request_sync("test")  # sync_request
    engine.send(CancelOrder(cloid=order.cloid, oid=Oid(3)))  # send
    engine.cancel(order, 22.0)  # cancel
    engine.handle(OrderFilled(oid=Oid(404), tid=Tid(7), side=Side.BUY, price=PX, size=SZ),
                  23.0)  # anomaly
    engine.checkpoint()  # checkpoint
    engine.journal.abandon()
    JournaledEngine.recover(path, 30.0).close()  # recover
    return [json.loads(line) for _, p in segment_paths(path) for line in p.read_bytes()
            .splitlines()]


def test_every_record_kind_stores_no_field_named_like_a_secret(tmp_path: Path) -> None:
    objects = every_record_kind(tmp_path / "j.jsonl")
    kinds = {o["type"] for o in objects}
    assert kinds == RECORD_TYPES | {"checkpoint"}
    leaked = sorted({k for o in objects for k in _keys(o) if SECRET_NAME.search(k)})
    assert leaked == []
    # The engine state is checked by its declared fields as well.
    assert not [n for n in field_names(EngineState) if SECRET_NAME.search(n.split(".")[-1])]


@dataclasses.dataclass(frozen=True)
class LeakyEvent:
    oid: int
    private_key: str


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class LeakyConfig(LifecycleConfig):
    api_key: str = "0xdeadbeef"


def test_journal_refuses_a_field_named_like_a_secret_before_writing(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    with pytest.raises(SecretField, match="private_key"):
        journal.append("event", 1.0, {"event": LeakyEvent(oid=1, private_key="k")})
    with pytest.raises(SecretField, match="secret"):
        journal.append("error", None, {"error": "x", "message": "y", "secret": "z"})
    assert journal.buffered == 0 and journal.next_seq == 0
    journal.close()
    assert path.read_bytes() == b""
    with Journal(tmp_path / "k.jsonl") as other, pytest.raises(SecretField, match="api_key"):
        JournaledEngine(other, LeakyConfig())
    assert (tmp_path / "k.jsonl").read_bytes() == b""


@pytest.mark.parametrize("name", ["key", "apiKey", "SECRET", "private", "walletPassphrase",
                                  "password", "mnemonic_words"])
def test_secret_name_pattern_catches_the_usual_spellings(name: str) -> None:
    assert SECRET_NAME.search(name)


# --- checksums and the magic ---------------------------------------------------------------


def test_every_line_is_json_with_a_checksum_and_the_file_opens_with_the_magic(
    tmp_path: Path,
) -> None:
    path = filled_journal(tmp_path / "j.jsonl")
    data = path.read_bytes()
    assert data.startswith(b'{"lifecycle_journal":%d,"type":"open",' % FORMAT_VERSION)
    for line in data.splitlines():
        assert re.fullmatch(rb'\{.*,"crc":"[0-9a-f]{8}"\}', line)
        assert json.loads(line)["crc"]


def _edit(path: Path, find: bytes, replace: bytes) -> int:
    """Make a valid-JSON edit to the line holding ``find``, checksum left as it was."""
    lines = path.read_bytes().split(b"\n")
    index = next(i for i, line in enumerate(lines) if find in line)
    lines[index] = lines[index].replace(find, replace)
    json.loads(lines[index])  # still valid JSON
    path.write_bytes(b"\n".join(lines))
    return index + 1


@pytest.mark.parametrize(
    ("find", "replace"),
    [
        pytest.param(b'"kind":"OrderFilled","cloid"', None, id="fill-size-doubled"),
        pytest.param(b'"type":"place","seq":1,', None, id="side-flipped"),
        pytest.param(b'"type":"fired","seq":3,', None, id="dest-changed"),
    ],
)
def test_load_refuses_a_valid_json_edit_naming_the_line(
    tmp_path: Path, find: bytes, replace: bytes | None
) -> None:
    path = filled_journal(tmp_path / "j.jsonl")
    data = path.read_bytes()
    line = next(li for li in data.split(b"\n") if find in li)
    if b"OrderFilled" in find:
        edited = line.replace(b'"size":"1"', b'"size":"2"')
    elif b"place" in find:
        edited = line.replace(b'"side":"buy"', b'"side":"sell"')
    else:
        edited = line.replace(b'"dest":"expected"', b'"dest":"gone"')
    assert edited != line
    number = _edit(path, line, edited)
    with pytest.raises(JournalCorrupt, match=f"line {number}: bad checksum") as info:
        load_journal(path)
    assert info.value.line == number and info.value.path == path
    with pytest.raises(JournalCorrupt):
        JournaledEngine.recover(path, 10.0)
    assert path.read_bytes() == data.replace(line, edited)  # recovery wrote nothing


def test_load_refuses_an_edited_last_line_but_drops_a_torn_one(tmp_path: Path) -> None:
    path = filled_journal(tmp_path / "j.jsonl")
    data = path.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    edited = last.replace(b'"side":"sell"', b'"side":"buy"')
    assert edited != last
    path.write_bytes(data.replace(last, edited))
    with pytest.raises(JournalCorrupt, match="bad checksum"):
        load_journal(path)
    path.write_bytes(data[:-5])  # a crash cut the last line short
    loaded = load_journal(path)
    assert loaded.dropped_bytes == len(last) - 4
    assert [r.type for r in loaded.records].count("place") == 1


def test_frame_and_unframe_are_inverse_and_detect_any_flipped_bit() -> None:
    body = b'{"type":"timer","seq":7,"at":20.0}'
    line = frame(body)[:-1]
    assert unframe(line) == (body, None)
    header = frame(b'{"type":"open","seq":0}', version=FORMAT_VERSION)[:-1]
    assert unframe(header, first=True) == (b'{"type":"open","seq":0}', FORMAT_VERSION)
    for i in range(len(line) * 8):
        flipped = bytearray(line)
        flipped[i // 8] ^= 1 << (i % 8)
        with pytest.raises(ValueError):
            unframe(bytes(flipped))


def test_engine_state_names_are_plain_struct_fields() -> None:
    assert {f.name for f in msgspec.structs.fields(EngineState)} >= {"orders", "timers",
                                                                       "streaks"}
