"""``lifecycle simulate --adapter hyperliquid-loopback``: the Hyperliquid adapter over real
sockets to the loopback exchange, in virtual time, and the virtual loop's socket waits.

The simulations bind 127.0.0.1 port 0 and run on the virtual clock: a 120-second
run takes about a second of wall time. Runs are compared whole (the report's JSON
without its wall time) to show they repeat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from lifecycle.core.ids import Oid, Tid
from lifecycle.core.order import Side
from lifecycle.runtime.vloop import VirtualTimeLoop, _VirtualSelector
from lifecycle.sim.command import simulate_command
from lifecycle.sim.hl_truth import applied_in_trade_ids
from lifecycle.sim.report import SimulationReport
from lifecycle.sim.simulate import run_simulation
from lifecycle.sim.spec import LOOPBACK, SimulationSpec

if TYPE_CHECKING:
    from adapters.simulated import Owner, TruthFill, TruthOrder
else:
    from lifecycle.adapters.simulated import Owner, TruthFill, TruthOrder

INVARIANTS = (
    "false_orphan_cancels", "premature_untracks", "untracked_resting_at_end",
    "position_mismatch", "double_counted_fills", "illegal_transitions_applied",
    "refused_remote_events", "ghost_orders_at_end",
)


def simulate(faults: str, seed: int = 1, duration_s: float = 120.0) -> SimulationReport:
    return run_simulation(
        SimulationSpec(seed=seed, duration_s=duration_s, faults=faults, adapter=LOOPBACK)
    )


def comparable(report: SimulationReport) -> dict[str, Any]:
    data = report.to_json()
    data.pop("wall_seconds")
    return data


def check_clean(report: SimulationReport) -> None:
    data = report.to_json()
    assert {k: data[k] for k in INVARIANTS} == dict.fromkeys(INVARIANTS, 0), report.findings
    assert report.ok
    # The run traded over the wire: orders placed and modified, fills taken.
    assert data["orders_placed"] > 5
    assert data["modify_requests"] > 5
    assert data["fills"] > 5
    assert data["sim_seconds"] >= 120.0


def test_default_profile_is_clean_and_repeats() -> None:
    first = simulate("default")
    check_clean(first)
    assert sum(first.exchange_faults.values()) > 0  # the profile did misbehave
    assert comparable(simulate("default")) == comparable(first)


def test_harsh_profile_is_clean() -> None:
    report = simulate("harsh", seed=2)
    check_clean(report)
    assert report.runtime.ambiguous > 0 or report.runtime.reconnects > 0


def test_no_fault_profile_is_clean() -> None:
    # Seed 1 has a modify whose new order rests, then fills before the answer is written:
    # the answer still says `resting` (what the modify did), never "not placed".
    check_clean(simulate("none"))


def test_an_unknown_adapter_is_refused() -> None:
    with pytest.raises(ValueError, match="adapter must be one of"):
        run_simulation(SimulationSpec(duration_s=10, adapter="binance"))


@pytest.mark.parametrize(("faults", "downtime_s"), [("default", 10.0), ("harsh", 0.0)])
def test_a_restart_from_the_journal_over_the_wire_is_clean_and_repeats(
    faults: str, downtime_s: float
) -> None:
    # The bot crashes mid-run, the loopback trades on through the downtime, and a new bot
    # recovers from the journal, rebuilds its fill credits and catches up on the fills.
    spec = SimulationSpec(seed=1, duration_s=240.0, faults=faults, adapter=LOOPBACK,
                          restart_at_s=120.0, downtime_s=downtime_s)
    report = run_simulation(spec)
    check_clean(report)
    restart = report.restart
    assert restart is not None and restart.from_journal
    assert restart.at_s == 120.0 and restart.downtime_s == downtime_s
    assert restart.inputs_replayed > 50 and restart.orders_restored > 0
    # Both lives' runtimes are counted: as many syncs as a run without the crash, near enough.
    unbroken = run_simulation(dataclasses.replace(spec, restart_at_s=None))
    assert report.runtime.syncs >= 0.8 * unbroken.runtime.syncs
    assert comparable(run_simulation(spec)) == comparable(report)


def test_a_restart_with_an_empty_engine_shows_what_the_journal_prevents() -> None:
    # Without its journal the second bot does not know the first one's orders: they look
    # like orphans and their fills are forgotten, over the wire as in the simulated run.
    report = run_simulation(SimulationSpec(
        seed=2, duration_s=240.0, faults="default", adapter=LOOPBACK, restart_at_s=120.0,
        downtime_s=10.0, restart_from_journal=False,
    ))
    assert report.restart is not None and not report.restart.from_journal
    assert report.restart.orders_restored == 0
    assert report.orphans_seen > 0 and report.premature_untracks > 0
    assert not report.ok


def test_command_simulates_a_restart_with_the_loopback(tmp_path: Any, capsys: Any) -> None:
    status = simulate_command(
        seed=1, duration_s=60, faults="none", config=None, as_json=False, out=tmp_path,
        restart_at_s=30.0, adapter=LOOPBACK,
    )
    assert status == 0
    assert "restart: stopped abruptly at 30 s, down 10 s" in capsys.readouterr().out


# --- the virtual loop's waits for bytes in flight -----------------------------------------


class _Echo:
    """A peer off the loop: echoes what it gets after ``delay_s`` of real time."""

    def __init__(self, delay_s: float) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.delay_s = delay_s
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        with conn:
            data = conn.recv(100)
            time.sleep(self.delay_s)  # a slow delivery, as a busy kernel could make one
            conn.sendall(data)
            conn.recv(100)  # until the client closes

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=10)


def _echo_once(port: int) -> tuple[float, Any]:
    """Send b"ping" to the echo while a 1-second timer is pending; return when (virtual)
    the answer was read, and the loop's I/O counters."""
    loop = VirtualTimeLoop(start=0.0)

    async def main() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ticker = asyncio.ensure_future(asyncio.sleep(1.0))
        writer.write(b"ping")
        await writer.drain()
        assert await reader.readexactly(4) == b"ping"
        at = loop.time()
        writer.close()
        await ticker
        return at

    try:
        return loop.run_until_complete(main()), loop.io_stats
    finally:
        loop.close()


def test_the_clock_waits_for_an_answer_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    # The answer takes 50 ms of real time; the bound is far above it, and the wait
    # ends when the answer is there, so the clock has not moved when it is read.
    monkeypatch.setattr(_VirtualSelector, "IN_FLIGHT_WAIT_S", 5.0)
    echo = _Echo(delay_s=0.05)
    try:
        at, stats = _echo_once(echo.port)
    finally:
        echo.close()
    assert at == 0.0
    assert stats.sent == stats.received == 4
    assert stats.waits >= 1 and stats.timeouts == 0


def test_bytes_nobody_answers_are_written_off_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # The peer reads but answers only after the bound: the clock moves on after one
    # wait, and the bytes are written off, not waited for at every idle round.
    monkeypatch.setattr(_VirtualSelector, "IN_FLIGHT_WAIT_S", 0.02)
    echo = _Echo(delay_s=0.3)
    try:
        at, stats = _echo_once(echo.port)
    finally:
        echo.close()
    assert at >= 1.0  # read after the pending timer moved the clock
    assert stats.timeouts == 1
    # Read after all: the write-off is taken back.
    assert stats.sent == stats.received == 4 and stats.written_off == 0


# --- naming immediate fills by their trades -----------------------------------------------


def test_an_immediate_fill_is_named_by_its_orders_first_trade() -> None:
    def order(oid: int, placed_at: float, fill_at: float) -> TruthOrder:
        fill = TruthFill(tid=Tid(oid + 1000), oid=Oid(oid), cloid=None, owner=Owner.CLIENT,
                         side=Side.BUY, price=Decimal(1), size=Decimal(1), at=fill_at)
        return TruthOrder(oid=Oid(oid), cloid=None, owner=Owner.CLIENT, side=Side.BUY,
                          price=Decimal(1), size=Decimal(1), filled=Decimal(1),
                          remaining=Decimal(0), post_only=False, placed_at=placed_at,
                          visible_at=placed_at, status="filled", ended_at=fill_at,
                          fills=(fill,), replaces=None, replaced_by=None)

    class Truth:
        def orders(self, owner: Any = None) -> tuple[TruthOrder, ...]:
            return (order(7, 5.0, 5.0), order(8, 5.0, 6.0))

    applied: list[Any] = [
        (Tid(0), Oid(7), "immediate/7"),  # crossed at placement: its first trade
        (Tid(1007), Oid(7), ""),  # that trade's own fill, applied again: a double
        (Tid(0), Oid(8), "immediate/8"),  # no trade at placement: left as it is
        (Tid(1008), Oid(8), ""),
    ]
    assert applied_in_trade_ids(Truth(), applied) == [  # type: ignore[arg-type]
        (1007, 7, ""), (1007, 7, ""), (0, 8, "immediate/8"), (1008, 8, ""),
    ]
