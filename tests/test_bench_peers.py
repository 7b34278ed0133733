"""The peer comparison still runs its paths, at toy sizes, and skips absent peers.

No timing is looked at. Each run checks that its orders went the whole way
(GONE(canceled) here, CANCELED after five events in NautilusTrader, every
event and command through its execution engine) and raises ``BenchError``
otherwise. The NautilusTrader tests are skipped when it is not installed.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

PEERS = Path(__file__).resolve().parent.parent / "bench" / "peers.py"


@pytest.fixture(scope="module")
def peers() -> Iterator[ModuleType]:
    """``bench/peers.py``, loaded as a module (its sibling imports resolved in ``bench/``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(PEERS.parent))
        spec = importlib.util.spec_from_file_location("lifecycle_bench_peers", PEERS)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        yield module


def test_our_lifecycle_run(peers: ModuleType) -> None:
    """Our side runs on its own, with no peer installed."""
    result = peers.lifecycle_equiv_run(50)
    assert math.isfinite(result) and result > 0


def test_absent_peer_is_skipped_with_a_logged_reason(
    peers: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With no peer importable only our key is measured, and each skip is logged."""
    assert peers.skip_reason("no_such_peer_package.orders") is not None
    monkeypatch.setattr(peers, "skip_reason", lambda module: f"{module} is not installed")
    with caplog.at_level(logging.WARNING, logger="bench.peers"):
        result = peers.measure_peers(1, lifecycle_orders=20, warmup=5)
    assert set(result) == {"lifecycle_fsm_equiv_us_per_order"}
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any(m.startswith("nautilus_trader skipped") for m in skipped)
    assert any(m.startswith("hummingbot skipped") for m in skipped)


def test_peer_versions_names_every_peer(peers: ModuleType) -> None:
    """Every peer has a version string, ``missing`` when not installed."""
    versions = peers.peer_versions()
    assert set(versions) == {label for label, _ in peers.PEERS}
    assert all(isinstance(v, str) and v for v in versions.values())


def test_nautilus_runs_at_toy_size(peers: ModuleType) -> None:
    """Both NautilusTrader paths and the ratios are measured when it is installed."""
    pytest.importorskip("nautilus_trader")
    result = peers.measure_peers(
        1, lifecycle_orders=30, nautilus_fsm_orders=30, nautilus_exec_orders=30, warmup=5
    )
    for key in (
        "lifecycle_fsm_equiv_us_per_order",
        "nautilus_fsm_us_per_order",
        "nautilus_exec_us_per_order",
        "nautilus_fsm_ratio",
        "nautilus_exec_ratio",
    ):
        assert math.isfinite(result[key]) and result[key] > 0, key
    assert result["nautilus_fsm_ratio"] == pytest.approx(
        result["nautilus_fsm_us_per_order"] / result["lifecycle_fsm_equiv_us_per_order"]
    )
    assert peers.peer_versions()["nautilus_trader"] != "missing"


def test_nautilus_exec_run_uses_a_fresh_engine_per_run(peers: ModuleType) -> None:
    """Two runs in a row each count only their own orders (its check would fail otherwise)."""
    pytest.importorskip("nautilus_trader")
    assert peers.nautilus_exec_run(10) > 0
    assert peers.nautilus_exec_run(12) > 0
    assert peers.nautilus_fsm_run(10) > 0


def test_our_run_refuses_orders_that_did_not_end(
    peers: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the cancel is refused instead of answered, the orders stay alive and the run raises."""
    from lifecycle import CancelRejected

    def refused(*, cloid: object, oid: object) -> CancelRejected:
        """A refused cancel in place of the cancel's answer."""
        return CancelRejected(cloid=cloid, oid=oid, order_gone=False)

    # lifecycle_equiv_run is bench/engine.py's lifecycle_run: patch its module's name.
    monkeypatch.setitem(peers.lifecycle_equiv_run.__globals__, "OrderCanceled", refused)
    with pytest.raises(peers.BenchError, match="did not end gone"):
        peers.lifecycle_equiv_run(5)
