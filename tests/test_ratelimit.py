"""The rolling weight budget: every wait makes progress, waits end when enough weight
has left the window, and cancels have a lane that nothing else can block."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from lifecycle.runtime import WeightBudget, current_time, ratelimit, run_virtual, sleep
from lifecycle.runtime.vloop import _VirtualSelector

#: The start time of the run that hung: 1.4004312928317197 + 60 rounds to a float
#: x with x - 60 < 1.4004312928317197, so the old test "spent at or before
#: now - window" kept the spend while the wait "spent + window - now" came to 0.0.
HUNG_AT = 1.4004312928317197


def guarded_sleeps(monkeypatch: pytest.MonkeyPatch, limit: int = 10) -> list[float]:
    """Record every wait of the budget; fail on a non-positive one or on too many
    (a wait that makes no progress would spin forever on the virtual clock), and
    fail if the virtual loop spins in place."""
    waits: list[float] = []
    select = _VirtualSelector.select
    spins = [0, -1.0]

    def watched(self: _VirtualSelector, timeout: float | None = None) -> list[Any]:
        now = self._loop.time()
        spins[0] = spins[0] + 1 if now == spins[1] else 0
        spins[1] = now
        assert spins[0] < 100_000, f"the virtual clock is stuck at {now!r}"
        return select(self, timeout)

    monkeypatch.setattr(_VirtualSelector, "select", watched)

    async def guarded(seconds: float) -> None:
        waits.append(seconds)
        assert seconds > 0, f"the budget waited {seconds!r} s: the clock would never move"
        assert len(waits) <= limit, f"the budget keeps waiting: {waits}"
        await sleep(seconds)

    monkeypatch.setattr(ratelimit, "sleep", guarded)
    return waits


def at(start: float, main: Callable[[], Awaitable[float]]) -> float:
    return run_virtual(main, start=start)[0]


def test_budget_wait_at_the_rounding_boundary_makes_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits = guarded_sleeps(monkeypatch)

    async def main() -> float:
        budget = WeightBudget(per_min=20)
        await budget.take(20)
        await sleep(60.0)  # the clock reads HUNG_AT + 60, rounded
        await budget.take(20)
        return current_time()

    took_at = at(HUNG_AT, main)
    assert took_at >= HUNG_AT + 60.0
    assert waits == []  # the spend left the window exactly when the clock got there


def test_budget_waits_are_positive_and_few_whatever_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Start times of every magnitude, each with a spend that fills the window and a
    # take that must wait until it has left; the window rule holds exactly.
    waits = guarded_sleeps(monkeypatch, limit=10_000)
    rng = random.Random(11)
    starts = [rng.uniform(0, 10.0**e) for e in range(-3, 10) for _ in range(40)] + [HUNG_AT]

    async def main() -> float:
        for start in starts:
            budget = WeightBudget(per_min=5)
            now = max(current_time(), start)
            await sleep(now - current_time())
            spent_at = current_time()
            await budget.take(5)
            await sleep(rng.uniform(0, 59.0))
            before = len(waits)
            await budget.take(1)
            assert current_time() >= spent_at + 60.0
            assert len(waits) - before <= 2
        return current_time()

    at(0.0, main)
    assert waits and all(w > 0 for w in waits)


def test_budget_waits_once_until_enough_weight_has_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits = guarded_sleeps(monkeypatch)

    async def main() -> tuple[float, float]:
        budget = WeightBudget(per_min=10)
        for weight in (4, 4, 2):
            await budget.take(weight)
            await sleep(10.0)
        waited = await budget.take(5)  # at 30: 10 spent; 4 leave at 60, 4 more at 70
        return waited, current_time()

    waited, took_at = at(0.0, main)
    assert took_at == pytest.approx(70.0) and waited == pytest.approx(40.0)
    assert len(waits) == 1


def test_cancel_lane_is_not_held_behind_requests_waiting_for_budget() -> None:
    async def main() -> dict[str, float]:
        budget = WeightBudget(per_min=100, reserve=10)
        done: dict[str, float] = {}

        async def take(name: str, weight: int, safety: bool) -> None:
            await budget.take(weight, safety=safety)
            done[name] = current_time()

        await budget.take(85)  # ordinary requests may fill 90
        async with anyio.create_task_group() as tg:
            tg.start_soon(take, "snapshot", 20, False)  # waits for the 85 to leave
            await sleep(1.0)
            tg.start_soon(take, "place", 1, False)  # queued behind the snapshot
            tg.start_soon(take, "cancel", 1, True)
            await sleep(1.0)
            tg.start_soon(take, "cancels", 15, True)  # 86 + 15 > 100: waits for the 85
        return done

    done, _ = run_virtual(main)
    assert done["cancel"] == 1.0
    assert done["snapshot"] == pytest.approx(60.0) and done["place"] == pytest.approx(60.0)
    assert done["cancels"] == pytest.approx(60.0)


def test_ordinary_requests_leave_the_reserve_free() -> None:
    async def main() -> dict[str, float]:
        budget = WeightBudget(per_min=10, reserve=3)
        waited: dict[str, float] = {}

        async def take(name: str, weight: int, safety: bool) -> None:
            waited[name] = await budget.take(weight, safety=safety)

        await budget.take(7)
        async with anyio.create_task_group() as tg:
            tg.start_soon(take, "place", 1, False)  # 8 > 10 - 3
            await sleep(1.0)
            tg.start_soon(take, "cancels", 3, True)  # 10: the reserve
        return waited

    waited, _ = run_virtual(main)
    assert waited == {"place": pytest.approx(60.0), "cancels": 0.0}


def test_budget_refuses_a_reserve_as_large_as_itself() -> None:
    with pytest.raises(ValueError, match="reserve"):
        WeightBudget(per_min=10, reserve=10)
    with pytest.raises(ValueError, match="per_min"):
        WeightBudget(per_min=0)


def test_simulation_with_one_second_syncs_under_harsh_faults_ends(tmp_path: Path) -> None:
    # The run that spun forever at 61.40043129283172 s: the budget's wait came to 0.0.
    config = tmp_path / "fast.yaml"
    config.write_text("sync: {interval_s: 1, snapshot_max_age_s: 2, missing_min_s: 3}\n")
    command = [sys.executable, "-m", "lifecycle", "simulate", "--duration", "120",
               "--faults", "harsh", "--seed", "1", "--config", str(config), "--quiet", "--json"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    report, _ = json.JSONDecoder().raw_decode(done.stdout)
    invariants = ("false_orphan_cancels", "premature_untracks", "untracked_resting_at_end",
                  "position_mismatch", "double_counted_fills", "illegal_transitions_applied",
                  "refused_remote_events")
    assert {name: report[name] for name in invariants} == dict.fromkeys(invariants, 0)
    assert report["sim_seconds"] >= 120.0
