"""The benchmark's measurements still do what they claim, at toy sizes.

Nothing here looks at a timing: each measurement checks its own outcome (the
orders ended GONE, the fills were applied, the history is the benchmark path)
and raises ``BenchError`` otherwise, so these tests catch a benchmark that no
longer runs or no longer measures its lifecycle. ``make bench`` measures.
"""

from __future__ import annotations

import importlib.util
import inspect
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from lifecycle.core.order import Order
from lifecycle.core.states import OrderState

BENCH = Path(__file__).resolve().parent.parent / "bench" / "run.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lifecycle_bench_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "name", ["lifecycle_run", "lifecycle_prebuilt_run", "lifecycle_floor_run"]
)
def test_lifecycle_measurements_run_their_path(bench: ModuleType, name: str) -> None:
    result = getattr(bench, name)(50)
    assert math.isfinite(result) and result > 0


def test_floor_loop_leaves_orders_as_the_engine_does(bench: ModuleType) -> None:
    # The floor writes every slot of Order itself: a slot it forgot would make
    # it cheaper than the engine for the wrong reason.
    source = inspect.getsource(bench.lifecycle_floor_run)
    for slot in Order.__slots__:
        assert f"order.{slot} = " in source, slot


def test_floor_loop_refuses_a_wrong_path(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The floor's own check fails when its moves do not follow the table's path.
    monkeypatch.setattr(bench, "PATH", (*bench.PATH[:-1], bench.T.CANCEL_FAILED))
    with pytest.raises(bench.BenchError, match="wrong history"):
        bench.lifecycle_floor_run(5)


def test_event_and_memory_measurements_run(bench: ModuleType) -> None:
    assert bench.event_run(20, n=40) > 0
    assert bench.bytes_run(20) > 0
    assert bench.floor_run(100) > 0


def test_check_lifecycle_catches_an_order_left_alive(bench: ModuleType) -> None:
    engine = bench.Engine()
    order = engine.place(bench.Side.BUY, bench.PRICE, bench.SIZE, 1.0)
    assert order.state is OrderState.PENDING
    with pytest.raises(bench.BenchError, match="did not end gone"):
        bench.check_lifecycle(engine, order, 1)
