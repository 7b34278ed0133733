"""Checkpoints: engine state captured and restored, segments, recovery from the last one."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from test_journal import CONFIG, NAMESPACE, PX, SZ, fresh_engine, run_session, state_of

from lifecycle.core.clock import ManualClock
from lifecycle.core.ids import CloidFactory
from lifecycle.core.order import Side
from lifecycle.engine.facade import Engine
from lifecycle.engine.state import EngineState, capture, decode, encode, restore
from lifecycle.journal import (
    FlushPolicy,
    Journal,
    JournalCorrupt,
    JournaledEngine,
    load_journal,
    load_tail,
    replay,
)
from lifecycle.journal.load import segment_path, segment_paths
from lifecycle.policy.reconciler import Book, Ladder, Level

EVERY = 400  # records between checkpoints: many segments in a short session


def journaled(path: Path, every: int | None = EVERY) -> JournaledEngine:
    return JournaledEngine(
        Journal(path, FlushPolicy(fsync=False)), CONFIG,
        cloids=CloidFactory(NAMESPACE, run_id=1), verify=True, checkpoint_every=every,
    )


def comparable(state: EngineState) -> EngineState:
    """A capture without the cloid counter (replay passes journaled cloids explicitly)."""
    return msgspec.structs.replace(state, cloid_counter=0)


@pytest.fixture(scope="module")
def checkpointed(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[JournaledEngine, Path, dict[int, tuple[int, int, float, EngineState, dict[str, Any]]]]:
    """A long session over many segments, with the files' lengths saved at some steps."""
    path = tmp_path_factory.mktemp("ckpt") / "journal.jsonl"
    engine = journaled(path)
    cut_steps = set(random.Random(13).sample(range(30, 600), 8))
    saved: dict[int, tuple[int, int, float, EngineState, dict[str, Any]]] = {}

    def save(step: int, now: float) -> None:
        if step in cut_steps:
            journal = engine.journal
            saved[step] = (journal.segment, journal.path.stat().st_size, now, capture(engine),
                           state_of(engine))

    run_session(engine, seed=41, steps=600, after_step=save, own_sync=True)
    engine.close()
    return engine, path, saved


# --- capture and restore -------------------------------------------------------------------


def test_capture_restore_capture_is_the_same_state_and_json_roundtrips(
    checkpointed: tuple[JournaledEngine, Path, Any],
) -> None:
    live = checkpointed[0]
    state = capture(live)
    assert decode(encode(state)) == state
    assert b"\n" not in encode(state)
    fresh = Engine(CONFIG, cloids=CloidFactory(NAMESPACE, run_id=1), verify=True)
    restore(fresh, decode(encode(state)))
    assert capture(fresh) == msgspec.structs.replace(state, cloid_counter=0)
    assert state_of(fresh) == state_of(live)
    assert fresh.commands_to_send() == live.commands_to_send()


def test_restored_engine_does_what_the_captured_one_does(tmp_path: Path) -> None:
    # Two engines from one capture, driven on by the same session, journal alike.
    base = Engine(CONFIG, cloids=CloidFactory(NAMESPACE, run_id=1), verify=True)
    clock = ManualClock()
    run_session(base, seed=3, steps=150, clock=clock, own_sync=True)
    state = capture(base)
    outcomes: list[list[tuple[str, Any, Any]]] = []
    for name in ("a", "b"):
        engine = JournaledEngine(Journal(tmp_path / f"{name}.jsonl"), CONFIG,
                                 cloids=CloidFactory(NAMESPACE, run_id=1, start=10_000),
                                 verify=True, checkpoint_every=None)
        restore(engine, state)
        run_session(engine, seed=4, steps=150, clock=ManualClock(clock.now()), own_sync=True)
        engine.close()
        outcomes.append([(r.type, r.at, r.data) for r in load_journal(engine.journal.path)
                         .records[1:]])
    assert outcomes[0] == outcomes[1] and len(outcomes[0]) > 500


def test_restore_into_a_used_engine_is_refused() -> None:
    engine = fresh_engine()
    state = capture(engine)
    engine.place(Side.BUY, PX, SZ, 0.0)
    with pytest.raises(ValueError, match="fresh"):
        restore(engine, state)
    with pytest.raises(ValueError, match="version"):
        restore(fresh_engine(), msgspec.structs.replace(state, version=99))


def test_capture_holds_the_reconcilers_memory(tmp_path: Path) -> None:
    engine = fresh_engine()
    book = Book(best_bid=Decimal("99.9"), best_ask=Decimal("100.1"), at=0.0)
    ladder = Ladder(bids=(Level(price=Decimal("99.5"), size=SZ),), asks=())
    engine.set_targets(ladder, book, 0.0)
    engine.commands_to_send()
    state = capture(engine)
    assert dict(state.reconciler_counters)["places"] == 1
    again = fresh_engine()
    restore(again, state)
    assert again.counters() == engine.counters()
    assert again.reconciler.last_modify_at == engine.reconciler.last_modify_at


# --- segments and recovery -----------------------------------------------------------------


def test_checkpoints_rotate_into_complete_segments_and_the_history_replays_whole(
    checkpointed: tuple[JournaledEngine, Path, Any],
) -> None:
    live, path, _ = checkpointed
    files = segment_paths(path)
    assert [i for i, _ in files] == list(range(len(files))) and len(files) >= 5
    assert files[1][1] == segment_path(path, 1) == path.with_name("journal.000001.jsonl")
    loaded = load_journal(path)
    assert [r.seq for r in loaded.records] == list(range(len(loaded.records)))
    for _, file in files[1:]:
        head = load_tail(file).records  # a segment read alone opens with header and checkpoint
        assert [r.type for r in head[:2]] == ["open", "checkpoint"]
    assert sum(r.type == "checkpoint" for r in loaded.records) == len(files) - 1
    replayed = fresh_engine()
    replay(loaded.records, replayed)
    assert state_of(replayed) == state_of(live)


def test_recover_from_the_last_checkpoint_replays_only_the_tail(
    checkpointed: tuple[JournaledEngine, Path, Any], tmp_path: Path
) -> None:
    live, path, _ = checkpointed
    crashed = _copy(path, tmp_path)
    recovered = JournaledEngine.recover(crashed, 1e6, verify=True)
    assert recovered.recovery is not None
    tail = load_tail(crashed)
    assert len(tail.segments) == 1 and tail.checkpoint is not None
    assert recovered.recovery.inputs <= EVERY
    assert state_of(recovered) == state_of(live)
    assert comparable(capture(recovered)).timers == comparable(capture(live)).timers
    recovered.close()


def test_recover_at_random_points_equals_the_live_engine_and_a_full_replay(
    checkpointed: tuple[JournaledEngine, Path, Any], tmp_path: Path
) -> None:
    _, path, saved = checkpointed
    for step, (segment, size, now, captured, expected) in sorted(saved.items()):
        crashed = _copy(path, tmp_path / f"crash-{step}", upto=(segment, size))
        recovered = JournaledEngine.recover(crashed, now + 60.0, verify=True)
        assert state_of(recovered) == expected, f"step {step}"
        got = capture(recovered)
        # Recovery writes its own records and restarts the cloid factory past the journal.
        differ = [f for f in EngineState.__struct_fields__
                  if getattr(got, f) != getattr(captured, f) and f != "cloid_counter"]
        assert differ == [], f"step {step}"
        assert got.cloid_counter == captured.cloid_counter
        recovered.close()
        full = fresh_engine()
        replay(load_journal(crashed).records, full)
        assert state_of(full) == expected, f"step {step}"


def test_recover_past_a_damaged_checkpoint_uses_the_one_before(
    checkpointed: tuple[JournaledEngine, Path, Any], tmp_path: Path
) -> None:
    live, path, _ = checkpointed
    crashed = _copy(path, tmp_path)
    newest = segment_paths(crashed)[-1][1]
    lines = newest.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"cloid_next":', b'"cloid_next":1', 1)  # checksum now wrong
    newest.write_bytes(b"\n".join(lines))
    with pytest.raises(JournalCorrupt, match="line 2: bad checksum"):
        load_journal(crashed)  # the full history refuses it
    tail = load_tail(crashed)
    assert len(tail.segments) == 2
    recovered = JournaledEngine.recover(crashed, 1e6, verify=True)
    assert state_of(recovered) == state_of(live)
    recovered.close()


def test_recover_after_the_oldest_segments_were_deleted(
    checkpointed: tuple[JournaledEngine, Path, Any], tmp_path: Path
) -> None:
    live, path, _ = checkpointed
    crashed = _copy(path, tmp_path)
    for _, file in segment_paths(crashed)[:-1]:
        file.unlink()
    recovered = JournaledEngine.recover(crashed, 1e6, verify=True)
    assert state_of(recovered) == state_of(live)
    assert recovered.recovery is not None and recovered.recovery.first_at == pytest.approx(
        load_journal(path).records[1].at
    )
    recovered.close()


def test_recover_keeps_checkpointing_and_recovers_again(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    engine = journaled(path, every=200)
    clock = ManualClock()
    run_session(engine, seed=8, steps=200, clock=clock, own_sync=True)
    engine.journal.abandon()
    first = JournaledEngine.recover(path, clock.now(), checkpoint_every=200, verify=True)
    before = len(segment_paths(path))
    for i in range(120):
        first.place(Side.BUY, PX, SZ, clock.now() + i)
        first.commands_to_send()
    assert len(segment_paths(path)) > before
    expected = state_of(first)
    first.journal.abandon()
    second = JournaledEngine.recover(path, clock.now() + 500, verify=True)
    assert state_of(second) == expected
    second.close()
    replayed = fresh_engine()
    replay(load_journal(path).records, replayed)


def test_checkpoint_inside_a_call_is_refused(tmp_path: Path) -> None:
    engine = journaled(tmp_path / "j.jsonl", every=None)
    engine._depth = 1
    with pytest.raises(ValueError, match="between engine calls"):
        engine.checkpoint()
    engine._depth = 0
    engine.close()


def _copy(path: Path, into: Path, upto: tuple[int, int] | None = None) -> Path:
    """Copy a journal's files, the newest cut at ``upto`` (segment, length) as a crash would."""
    into.mkdir(parents=True, exist_ok=True)
    for index, file in segment_paths(path):
        if upto is not None and index > upto[0]:
            break
        data = file.read_bytes()
        if upto is not None and index == upto[0]:
            data = data[: upto[1]]
        (into / file.name).write_bytes(data)
    return into / path.name
