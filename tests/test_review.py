"""Reviewing a journaled run: `lifecycle trace` and `lifecycle report`."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from lifecycle.cli import main
from lifecycle.core.clock import ManualClock
from lifecycle.core.errors import IllegalTransition, UnknownOrder
from lifecycle.core.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrphanSeen,
    OrphanVanished,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.order import Side
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.journal import Journal, JournaledEngine, load_journal
from lifecycle.review.report import find_order, order_paths, summarize

S = OrderState
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
PX, SZ = Decimal("100"), Decimal("1")


@dataclass
class Run:
    path: Path
    a: Cloid  # placed, acked, modified (oid 101 -> 102), filled
    b: Cloid  # rejected
    c: Cloid  # cancelled
    d: Cloid  # still expected
    e: Cloid  # still tracked


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """A scripted session; every time below is chosen so the report's numbers are known."""
    clock = ManualClock()
    path = tmp_path / "run" / "journal.jsonl"
    engine = JournaledEngine(Journal(path), cloids=CloidFactory("review", 1), verify=True)

    def at(t: float) -> float:
        clock.set(t)
        return clock.now()

    a, b, c, e = (engine.place(Side.BUY, PX, SZ, at(0)) for _ in range(4))
    engine.commands_to_send()
    for order, oid in ((a, 101), (c, 103), (e, 104)):
        engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(oid)), at(1))
    engine.handle(OrderRejected(cloid=b.cloid, status="tickRejected"), at(2))
    engine.handle(
        OrphanSeen(oid=Oid(900), side=Side.SELL, price=Decimal(105), size=Decimal(2)), at(2)
    )
    with pytest.raises(IllegalTransition):
        engine.cancel(b, at(3))
    engine.cancel(c, at(5))
    engine.commands_to_send()
    engine.handle(OrderCanceled(cloid=c.cloid, oid=Oid(103)), at(7))
    engine.on_timer(at(7))  # the orphan's grace ends
    engine.handle(OrphanVanished(oid=Oid(900)), at(8))
    engine.on_timer(at(11))  # a and e leave protection
    engine.modify(a, Decimal(101), SZ, at(12))
    engine.commands_to_send()
    engine.handle(OrderModified(cloid=a.cloid, oid=Oid(102), old_oid=Oid(101),
                                price=Decimal(101), size=SZ), at(13))
    engine.handle(OrderModified(cloid=e.cloid, oid=Oid(104), price=PX, size=SZ), at(13.5))
    engine.handle(OrderFilled(cloid=a.cloid, oid=Oid(102), tid=Tid(1), side=Side.BUY,
                              price=Decimal(101), size=SZ), at(14))
    engine.handle(OrderCanceled(oid=Oid(555)), at(15))  # nobody's
    d = engine.place(Side.SELL, PX, SZ, at(20))
    engine.commands_to_send()
    engine.close()
    assert (a.state, b.state, c.state, d.state, e.state) == (
        S.GONE, S.GONE, S.GONE, S.EXPECTED, S.TRACKED
    )
    return Run(path, *(Cloid(o.label) for o in (a, b, c, d, e)))


# --- paths ---------------------------------------------------------------------------------


def test_order_paths_number_the_steps_and_collect_every_oid(run: Run) -> None:
    path = order_paths(load_journal(run.path).records)[run.a]
    assert [(s.number, s.at, s.trigger.value) for s in path.steps] == [
        (1, 0.0, "submit"), (2, 1.0, "accept"), (3, 1.0, "finalize"),
        (4, 11.0, "protection_elapsed"), (5, 12.0, "modify_request"), (6, 13.0, "modify_ack"),
        (7, 14.0, "fill_complete"),
    ]
    assert path.oids == [101, 102]
    assert (path.final, path.reason, path.created_at) == (S.GONE, GoneReason.FILLED, 0.0)


def test_order_paths_discovered_orphan_starts_when_first_seen(run: Run) -> None:
    path = order_paths(load_journal(run.path).records)["oid:900"]
    assert path.cloid is None and path.created_at == 2.0
    assert path.stays == [(S.ORPHAN_CANDIDATE, 5.0), (S.AGED_ORPHAN, 1.0)]
    assert path.reason is GoneReason.UNKNOWN


@pytest.mark.parametrize("form", ["canonical", "upper", "bare", "uuid", "old oid", "new oid"])
def test_find_order_accepts_every_cloid_form_and_any_oid(run: Run, form: str) -> None:
    paths = order_paths(load_journal(run.path).records)
    ident = {
        "canonical": str(run.a), "upper": "0X" + run.a[2:].upper(), "bare": run.a[2:],
        "uuid": str(uuid.UUID(hex=run.a[2:])), "old oid": "101", "new oid": "oid:102",
    }[form]
    assert find_order(paths, ident).key == run.a


@pytest.mark.parametrize("ident", ["0x" + "ab" * 16, "999", "nonsense", ""])
def test_find_order_unknown_id_raises_unknown_order(run: Run, ident: str) -> None:
    with pytest.raises(UnknownOrder):
        find_order(order_paths(load_journal(run.path).records), ident)


def test_summarize_counts_orders_stays_anomalies_and_fills(run: Run) -> None:
    summary = summarize(load_journal(run.path))
    assert summary.orders == 6
    assert dict(summary.ended) == {GoneReason.FILLED: 1, GoneReason.CANCELED: 1,
                                   GoneReason.REJECTED: 1, GoneReason.UNKNOWN: 1}
    assert dict(summary.working) == {S.EXPECTED: 1, S.TRACKED: 1}
    times = {t.state: (t.count, t.median_s, t.p99_s) for t in summary.times}
    assert times[S.EXPECTED] == (4, 1.0, 2.0)
    assert times[S.FINALIZED_PROTECTED] == (4, 7.0, 10.0)
    assert times[S.CANCELLING] == (1, 2.0, 2.0)
    assert times[S.PENDING] == (5, 0.0, 0.0)
    assert (summary.fills, summary.position) == (1, Decimal(1))
    assert sum(summary.refused.values()) == 2
    assert summary.coverage.counts()[(S.PENDING, Trigger.SUBMIT)] == 5


# --- lifecycle trace -----------------------------------------------------------------------


@needs_dot
def test_cli_trace_draws_numbered_steps_with_times(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "a.svg"
    assert main(["trace", str(run.a), "--journal", str(run.path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "   4  t=    11.000  finalized_protected --protection_elapsed--> tracked" in printed
    assert "final state: gone (filled)" in printed
    svg = out.read_text()
    for label in ("1. submit @ 0.000", "2. accept @ 1.000", "3. finalize @ 1.000",
                  "6. modify_ack @ 13.000", "7. fill_complete @ 14.000"):
        assert f">{label}</text>" in svg
    assert ">8." not in svg
    assert ">abandon</text>" in svg  # an edge it never took, faded
    assert 'stroke="#bfbfbf"' in svg  # gray75
    assert (tmp_path / "out" / "a.png").read_bytes()[:4] == b"\x89PNG"


@needs_dot
def test_cli_trace_by_prior_oid_and_default_name(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["trace", "101", "--journal", str(run.path.parent)]) == 0
    assert f"order {run.a} (oids: 101, 102" in capsys.readouterr().out
    assert (tmp_path / f"trace-{run.a}.svg").is_file()
    assert (tmp_path / f"trace-{run.a}.png").is_file()


@needs_dot
def test_cli_trace_refused_attempts_are_listed(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", str(run.b), "--journal", str(run.path),
                 "--out", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "refused  t=     3.000  gone --cancel_request-->" in out
    assert "final state: gone (rejected)" in out


def test_cli_trace_unknown_id_exits_1_naming_id_and_journal(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["trace", "424242", "--journal", str(run.path)]) == 1
    err = capsys.readouterr().err
    assert "'424242'" in err and str(run.path) in err


def test_cli_trace_without_graphviz_exits_2(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    assert main(["trace", str(run.a), "--journal", str(run.path),
                 "--out", str(tmp_path / "a")]) == 2
    assert "Graphviz" in capsys.readouterr().err


def test_cli_trace_missing_journal_exits_2_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.jsonl"
    assert main(["trace", "1", "--journal", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


# --- lifecycle report ----------------------------------------------------------------------


def _table(out: str) -> dict[str, list[str]]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("time in state"))
    rows: dict[str, list[str]] = {}
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        name, *numbers = line.split()
        rows[name] = numbers
    return rows


@needs_dot
def test_cli_report_prints_the_runs_numbers(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--journal", str(run.path), "--out", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    assert "orders: 6 (4 ended, 2 still working)" in out
    for reason in ("filled", "canceled", "rejected", "unknown"):
        assert f"  ended {reason:<22}      1" in out
    assert "  working expected                  1" in out
    assert "  working tracked                   1" in out
    table = _table(out)
    assert table["expected"] == ["4", "1.000", "2.000"]
    assert table["finalized_protected"] == ["4", "7.000", "10.000"]
    assert table["tracked"] == ["1", "1.000", "1.000"]
    assert table["modifying"] == ["1", "1.000", "1.000"]
    assert table["orphan_candidate"] == ["1", "5.000", "5.000"]
    assert "anomalies: 2" in out
    assert "  illegal_event                   1" in out
    assert "  unknown_order                   1" in out
    assert "refused transitions: 2" in out
    assert "  tracked --modify_ack-->  x1" in out
    assert "fills: 1, position +1" in out
    assert "torn tail dropped: 0 bytes" in out


@needs_dot
def test_cli_report_writes_the_coverage_diagram_weighted_by_hits(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--journal", str(run.path)]) == 0
    out = capsys.readouterr().out
    svg = run.path.parent / "coverage.svg"
    assert f"wrote {svg}" in out
    text = svg.read_text()
    assert ">submit (5)</text>" in text
    assert ">abandon (0)</text>" in text
    assert (run.path.parent / "coverage.png").read_bytes()[:4] == b"\x89PNG"


@needs_dot
def test_cli_report_counts_a_torn_tail(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    with run.path.open("ab") as f:
        f.write(b'{"seq":99,"at":2')
    assert main(["report", "--journal", str(run.path)]) == 0
    assert "torn tail dropped: 16 bytes" in capsys.readouterr().out


def test_cli_report_corrupt_journal_exits_2_naming_path_and_line(
    run: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = run.path.read_bytes().split(b"\n")
    lines[2] = b"garbage"
    run.path.write_bytes(b"\n".join(lines))
    assert main(["report", "--journal", str(run.path)]) == 2
    err = capsys.readouterr().err
    assert str(run.path) in err and "line 3" in err


def test_cli_report_missing_journal_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--journal", str(tmp_path / "gone.jsonl")]) == 2
    assert "gone.jsonl" in capsys.readouterr().err


@needs_dot
def test_cli_report_html_writes_the_review_page(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "review"
    status = main(
        ["report", "--journal", str(run.path), "--out", str(tmp_path / "rep"), "--html", str(out)]
    )
    assert status == 0
    assert f"wrote {out / 'index.html'}" in capsys.readouterr().out
    page = (out / "index.html").read_text(encoding="utf-8")
    assert str(run.a) in page and "<svg" in page


def test_cli_report_html_into_an_unwritable_place_is_an_error_not_a_traceback(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    status = main(["report", "--journal", str(run.path), "--out", str(tmp_path / "rep"),
                   "--html", str(blocker / "sub")])
    assert status == 2
    assert "cannot write the review page" in capsys.readouterr().err
