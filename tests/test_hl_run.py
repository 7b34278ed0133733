"""``lifecycle run`` end to end: a real process against ``lifecycle loopback`` on 127.0.0.1.

The loopback runs in a child process (faults ``none``, one registered account);
``lifecycle run`` runs in another, as a user runs it, with the key in its
environment. The checks read the loopback's own answers (``openOrders``,
``clearinghouseState``, ``userRateLimit``), never the bot's word alone: after
SIGTERM nothing of ours rests and the bot's final position is the exchange's.
The waits are conditions with generous timeouts, only as safety nets.
"""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from loopback_helpers import ADDRESS, KEY, wait_for

RUN = [sys.executable, "-m", "lifecycle", "run"]
LOOPBACK = [sys.executable, "-m", "lifecycle", "loopback"]
KEY_ENV = "HL_TEST_KEY"
CONFIG = """\
market:
  coin: BTC
  sz_decimals: {sz_decimals}
quoting:
  levels: 2
  offset_bps: 1.0
  size: 0.0005
  quote_interval_s: 0.5
sync:
  interval_s: 1.0
  snapshot_max_age_s: 2.0
  missing_snapshots: 2
  missing_min_s: 2.0
exchange:
  signer_env: {key_env}
  schedule_cancel: true
  schedule_cancel_after_s: 15
"""
#: Generous: a run stops within a few seconds of its SIGTERM.
STOP_TIMEOUT_S = 60.0


@pytest.fixture
def loopback(tmp_path: Path) -> Iterator[str]:
    """A loopback exchange in a child process; yields its URL."""
    with (tmp_path / "loopback.err").open("w") as err:
        child = subprocess.Popen(
            [*LOOPBACK, "--port", "0", "--faults", "none", "--seed", "3", "--account", ADDRESS],
            stdout=subprocess.PIPE, stderr=err, text=True,
        )
    try:
        assert child.stdout is not None
        found = re.fullmatch(r"listening on (http://\S+)\n", child.stdout.readline())
        assert found, "the loopback did not say where it listens"
        yield found.group(1)
    finally:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=STOP_TIMEOUT_S)


def config_file(tmp_path: Path, sz_decimals: int = 5) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(sz_decimals=sz_decimals, key_env=KEY_ENV))
    return path


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "HYPERLIQUID" not in k}
    env.update(extra)
    return env


class Bot:
    """One ``lifecycle run`` process, its output in files."""

    def __init__(self, tmp_path: Path, name: str, *args: str, key: str | None = KEY) -> None:
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        env = environment(**({KEY_ENV: key} if key is not None else {}))
        with self.out.open("w") as out, self.err.open("w") as err:
            self.child = subprocess.Popen([*RUN, *args], stdout=out, stderr=err, env=env,
                                          cwd=tmp_path)

    def stop(self) -> int:
        self.child.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self) -> int:
        try:
            return self.child.wait(timeout=STOP_TIMEOUT_S)
        finally:
            if self.child.poll() is None:
                self.child.kill()
                self.child.wait()

    @property
    def log(self) -> str:
        return self.err.read_text()

    def final_position(self) -> Decimal:
        found = re.findall(r"stopped: \d+ fills, position (\S+), 0 order\(s\) of ours left",
                           self.log)
        assert found, self.log[-3000:]
        return Decimal(found[-1])


def info(url: str, body: dict[str, Any]) -> Any:
    return httpx.post(f"{url}/info", json=body, timeout=30.0).json()


def resting(url: str) -> list[Any]:
    orders: list[Any] = info(url, {"type": "openOrders", "user": ADDRESS, "dex": ""})
    return orders


def exchange_position(url: str) -> Decimal:
    state = info(url, {"type": "clearinghouseState", "user": ADDRESS})
    sizes = [Decimal(p["position"]["szi"]) for p in state["assetPositions"]
             if p["position"]["coin"] == "BTC"]
    return sum(sizes, Decimal(0))


def fills_position(url: str) -> Decimal:
    fills = info(url, {"type": "userFills", "user": ADDRESS})
    return sum((Decimal(f["sz"]) * (1 if f["side"] == "B" else -1) for f in fills), Decimal(0))


def key_encodings() -> list[bytes]:
    digits = KEY.removeprefix("0x")
    raw = bytes.fromhex(digits)
    texts = [digits, digits.upper(), "0x" + digits, "0X" + digits.upper()]
    encoded = [t.encode() for t in texts]
    encoded += [base64.b64encode(raw), base64.urlsafe_b64encode(raw), base64.b32encode(raw),
                base64.b64encode(digits.encode()), raw]
    return encoded


def test_run_quotes_stops_on_sigterm_with_nothing_resting_and_restarts_from_its_journal(
    tmp_path: Path, loopback: str
) -> None:
    config = config_file(tmp_path)
    args = ("--config", str(config), "--url", loopback, "--journal", "journal",
            "--log-level", "DEBUG")
    first = Bot(tmp_path, "first", *args)
    wait_for(lambda: len(resting(loopback)) >= 4 or first.child.poll() is not None)
    wait_for(lambda: "safety sync BTC: 4 exchange orders, 4 working" in first.log)
    assert first.stop() == 0, first.log[-3000:]
    assert resting(loopback) == []
    assert first.final_position() == exchange_position(loopback) == fills_position(loopback)
    assert "dead man's switch not available" in first.log  # the volume gate, logged
    assert (tmp_path / "journal" / "journal.jsonl").exists()

    again = Bot(tmp_path, "again", *args)
    wait_for(lambda: "recovered" in again.log and len(resting(loopback)) >= 4)
    assert again.stop() == 0, again.log[-3000:]
    assert resting(loopback) == []
    assert again.final_position() == exchange_position(loopback)

    written = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()
               and p.name != "loopback.err" and p.suffix != ".yaml"]
    assert any(b"journal" in w or b"sync" in w for w in written)
    for encoding in key_encodings():
        assert not any(encoding in w for w in written), encoding
    for text in (first.log, again.log):
        assert "Traceback" not in text


def test_a_dry_run_signs_and_sends_no_exchange_request(tmp_path: Path, loopback: str) -> None:
    used = info(loopback, {"type": "userRateLimit", "user": ADDRESS})["nRequestsUsed"]
    bot = Bot(tmp_path, "dry", "--config", str(config_file(tmp_path)), "--url", loopback,
              "--journal", "dry", "--dry-run", "--duration", "120")
    # Stopped once it has signed an order (--duration only bounds a run that never does).
    signed = r"dry run: order of \d+ signed with nonce \d+, not sent"
    wait_for(lambda: re.search(signed, bot.log) is not None or bot.child.poll() is not None)
    assert bot.stop() == 0, bot.log[-3000:]
    assert re.search(signed, bot.log)
    assert info(loopback, {"type": "userRateLimit", "user": ADDRESS})["nRequestsUsed"] == used
    assert resting(loopback) == []


def test_an_sz_decimals_that_differs_from_meta_names_both_values(
    tmp_path: Path, loopback: str
) -> None:
    bot = Bot(tmp_path, "sz", "--config", str(config_file(tmp_path, sz_decimals=4)), "--url",
              loopback, "--journal", "sz")
    assert bot.wait() == 2
    assert "market.sz_decimals is 4 but the exchange's meta gives szDecimals 5" in bot.log
    assert "Traceback" not in bot.log


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize("case", ["no key", "no config", "unreachable", "mainnet url"])
def test_user_errors_are_one_clear_line_without_a_traceback(tmp_path: Path, case: str) -> None:
    config = str(config_file(tmp_path))
    url = f"http://127.0.0.1:{closed_port()}"
    args, key, status, words = {
        "no key": ((config, url), None, 2, f"environment variable {KEY_ENV} is not set"),
        "no config": ((str(tmp_path / "none.yaml"), url), KEY, 2, "file not found"),
        "unreachable": ((config, url), KEY, 1, "no answer after"),
        "mainnet url": ((config, "https://api.hyperliquid.xyz"), KEY, 2,
                        "exchange.network is testnet"),
    }[case]
    bot = Bot(tmp_path, "bad", "--config", args[0], "--url", args[1], "--journal", "j", key=key)
    assert bot.wait() == status
    assert words in bot.log and "Traceback" not in bot.log
    assert not (tmp_path / "j").exists() or case == "unreachable"


def test_a_missing_extra_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    # A library of the hyperliquid extra made unimportable for this process only.
    blocker = tmp_path / "eth_account"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('blocked', name='eth_account')\n")
    config = tmp_path / "c.yaml"
    config.write_text("exchange:\n  network: testnet\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [*RUN, "--config", str(config), "--journal", str(tmp_path / "j")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "pip install 'order-lifecycle[hyperliquid]'" in done.stderr


def test_a_journal_written_for_another_run_is_refused_naming_both(tmp_path: Path) -> None:
    from lifecycle.adapters.hyperliquid.keys import Credentials
    from lifecycle.adapters.hyperliquid.run_session import (
        RunError,
        Settings,
        open_engine,
    )
    from lifecycle.adapters.hyperliquid.signing import Signer

    from lifecycle.config import LifecycleConfig, MarketConfig

    def settings(url: str, coin: str, *, dry_run: bool = False) -> Settings:
        return Settings(
            config=LifecycleConfig(market=MarketConfig(coin=coin)),
            credentials=Credentials(signer=Signer(KEY)), url=url, mainnet=False,
            journal=tmp_path / "j", dry_run=dry_run,
        )

    first = settings("https://api.hyperliquid-testnet.xyz", "BTC")
    engine, recovered = open_engine(first, 1_767_225_600.0)
    engine.close()
    assert not recovered
    again, recovered = open_engine(first, 1_767_225_700.0)
    again.close()
    assert recovered
    with pytest.raises(RunError) as caught:
        open_engine(settings("https://api.hyperliquid-testnet.xyz", "ETH"), 1_767_225_800.0)
    assert "coin 'BTC' (journal) vs 'ETH' (now)" in str(caught.value)
    with pytest.raises(RunError) as caught:
        open_engine(settings("http://127.0.0.1:9", "BTC"), 1_767_225_800.0)
    assert "url 'https://api.hyperliquid-testnet.xyz' (journal)" in str(caught.value)
    with pytest.raises(RunError) as caught:
        open_engine(settings(first.url, "BTC", dry_run=True), 1_767_225_800.0)
    assert "mode 'trading' (journal) vs 'dry run' (now)" in str(caught.value)


def test_a_failing_session_cancels_our_orders_once_and_raises_its_fault(
    tmp_path: Path, loopback: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A fault inside the session (here the quoter's) must not leave our ladder resting with
    # nothing but the dead man's switch (which the loopback, like a fresh account, refuses).
    import asyncio

    import anyio
    from lifecycle.adapters.hyperliquid import run_session
    from lifecycle.adapters.hyperliquid.keys import Credentials
    from lifecycle.adapters.hyperliquid.signing import Signer

    from lifecycle.config import load_config
    from lifecycle.engine import Engine
    from lifecycle.runtime import Runtime

    real = run_session.quote_forever
    oids: list[int] = []

    async def quote_then_fail(runtime: Runtime, engine: Engine, *args: Any) -> None:
        with anyio.fail_after(30):  # a safety net: the loopback answers in tenths of seconds
            async with anyio.create_task_group() as tg:
                tg.start_soon(real, runtime, engine, *args)
                # Its openOrders lags, like the exchange's: wait until it lists the ladder.
                while len(await anyio.to_thread.run_sync(resting, loopback)) < 4:
                    await anyio.sleep(0.05)
                tg.cancel_scope.cancel()
        oids.extend(order["oid"] for order in await anyio.to_thread.run_sync(resting, loopback))
        raise RuntimeError("quoter fault")

    monkeypatch.setattr(run_session, "quote_forever", quote_then_fail)
    settings = run_session.Settings(
        config=load_config(config_file(tmp_path)), credentials=Credentials(signer=Signer(KEY)),
        url=loopback, mainnet=False, journal=tmp_path / "journal",
    )

    async def session() -> int:
        async with httpx.AsyncClient(timeout=30.0) as client:
            status: int = await run_session.trade(settings, client)
            return status

    caplog.set_level("INFO", logger="lifecycle.hyperliquid.run")
    with (pytest.raises(run_session.SessionFault, match="RuntimeError: quoter fault") as caught,
          asyncio.Runner(loop_factory=run_session.WallClockLoop) as runner):
        runner.run(session())
    assert isinstance(caught.value.__cause__, RuntimeError)
    # orderStatus is current where openOrders lags: none of the ladder may still be open.
    statuses = [info(loopback, {"type": "orderStatus", "user": ADDRESS, "oid": oid})
                ["order"]["status"] for oid in oids]
    assert len(oids) >= 4 and "canceled" in statuses
    assert set(statuses) <= {"canceled", "filled"}, statuses
    assert "the trading session failed (RuntimeError: quoter fault)" in caplog.text
    assert "Traceback" in caplog.text  # logged once, with the cancel's outcome after it
    assert re.search(r"last-resort cancel: \d of \d accepted", caplog.text)


def test_the_last_resort_cancels_by_cloid_and_takes_our_orphans_by_oid() -> None:
    # A modify under way may already have replaced the oid the engine holds: the cloid
    # names the replacement too. An orphan carrying our namespace rests as ours.
    from lifecycle.adapters.hyperliquid.run_session import _last_cancels

    from lifecycle.config import LifecycleConfig
    from lifecycle.core.events import OrderAccepted, OrphanSeen
    from lifecycle.core.ids import CloidFactory, Oid
    from lifecycle.core.order import Side
    from lifecycle.core.states import OrderState
    from lifecycle.engine import Engine

    cloids = CloidFactory("bot", run_id=2)
    engine = Engine(LifecycleConfig(), cloids=cloids)
    modifying = engine.place(Side.BUY, Decimal(100), Decimal(1), 0.0)
    engine.commands_to_send()
    engine.handle(OrderAccepted(cloid=modifying.cloid, oid=Oid(11)), 0.1)
    engine.on_timer(60.0)
    engine.modify(modifying, Decimal(101), Decimal(1), 60.0)
    assert modifying.state is OrderState.MODIFYING
    earlier_run = CloidFactory("bot", run_id=1).next()
    engine.handle(OrphanSeen(oid=Oid(12), cloid=earlier_run, side=Side.SELL,
                             price=Decimal(105), size=Decimal(1)), 60.1)
    engine.handle(OrphanSeen(oid=Oid(13), cloid=None, side=Side.SELL, price=Decimal(106),
                             size=Decimal(1)), 60.1)  # someone else's: left alone
    cancels = {(c.cloid, c.oid) for c in _last_cancels(engine)}
    assert cancels == {(modifying.cloid, None), (None, Oid(12))}


def test_a_session_fault_exits_1_with_one_line_pointing_at_the_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import argparse

    from lifecycle.adapters.hyperliquid import run as run_module
    from lifecycle.adapters.hyperliquid.keys import Credentials
    from lifecycle.adapters.hyperliquid.run_session import SessionFault, Settings
    from lifecycle.adapters.hyperliquid.signing import Signer

    from lifecycle.config import LifecycleConfig

    async def failing(settings: Settings) -> int:
        raise SessionFault("RuntimeError: quoter fault")

    settings = Settings(config=LifecycleConfig(), credentials=Credentials(signer=Signer(KEY)),
                        url="http://127.0.0.1:9", mainnet=False, journal=tmp_path / "j")
    monkeypatch.setattr(run_module, "_settings", lambda args: settings)
    monkeypatch.setattr(run_module, "_main", failing)
    monkeypatch.setattr(run_module, "_configure_logging", lambda level: None)  # the root's
    parser = argparse.ArgumentParser()
    run_module.add_arguments(parser)
    assert run_module.run(parser.parse_args(["--config", "unused.yaml"])) == 1
    err = capsys.readouterr().err
    assert "lifecycle run: the trading session failed: RuntimeError: quoter fault" in err
    assert "Traceback" not in err
