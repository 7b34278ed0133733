"""A replay does not repeat the run's INFO lines (a restart from a long journal stays quiet)."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

from lifecycle.config import LifecycleConfig, MarketConfig, OrdersConfig
from lifecycle.core.events import OrderAccepted
from lifecycle.core.ids import CloidFactory, Oid
from lifecycle.core.order import Side
from lifecycle.journal import Journal, JournaledEngine
from lifecycle.journal.replay import REPEATED_LOGGERS
from lifecycle.policy.safety_sync import OpenOrder, OpenOrdersSnapshot

CONFIG = LifecycleConfig(orders=OrdersConfig(namespace="logs"), market=MarketConfig(coin="BTC"))
SYNC_LINE = "safety sync BTC: 1 exchange orders"


def journaled_run(run_dir: Path) -> None:
    """A short run whose safety syncs log INFO lines, journaled in ``run_dir``."""
    engine = JournaledEngine(Journal.in_dir(run_dir), CONFIG,
                             cloids=CloidFactory("logs", run_id=1))
    order = engine.place(Side.BUY, Decimal(100), Decimal(1), 1.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(7)), 1.1)
    row = OpenOrder(oid=Oid(7), cloid=order.cloid, side=Side.BUY, price=Decimal(100),
                    size=Decimal(1), coin="BTC")
    for at in (2.0, 4.0, 6.0):
        engine.handle_snapshot(OpenOrdersSnapshot(taken_at=at, orders=(row,)), at)
    engine.close()


def test_recovery_at_info_does_not_repeat_the_runs_sync_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    journaled_run(tmp_path)
    assert caplog.text.count(SYNC_LINE) == 3  # the run itself logs them
    caplog.clear()
    recovered = JournaledEngine.recover(tmp_path, 10.0)
    assert recovered.recovery is not None and recovered.recovery.inputs >= 5
    assert SYNC_LINE not in caplog.text
    # After it, the recovered engine's own syncs log again.
    recovered.handle_snapshot(OpenOrdersSnapshot(taken_at=12.0, orders=()), 12.0)
    recovered.close()
    assert "safety sync BTC: 0 exchange orders" in caplog.text
    assert all(logging.getLogger(n).getEffectiveLevel() == logging.INFO
               for n in REPEATED_LOGGERS)


def test_recovery_at_debug_keeps_every_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    journaled_run(tmp_path)
    caplog.clear()
    JournaledEngine.recover(tmp_path, 10.0).close()
    assert caplog.text.count(SYNC_LINE) == 3
