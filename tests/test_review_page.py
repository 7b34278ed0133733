"""The review page's content, and the report's orders worth a trace (`lifecycle report --html`)."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.clock import ManualClock
from lifecycle.core.errors import IllegalTransition
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
from lifecycle.core.states import OrderState, Trigger
from lifecycle.journal import Journal, JournaledEngine, JournalRecord, LoadedJournal, load_journal
from lifecycle.review.orders import order_paths
from lifecycle.review.page import json_for_script, write_review_page
from lifecycle.review.page_data import page_data
from lifecycle.review.report import summarize

S, T = OrderState, Trigger
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
PX, SZ = Decimal("100"), Decimal("1")
#: A reject message that would end the data's script element, and open a comment, if
#: written raw; U+2028 ended a JavaScript string in older engines.
NASTY = "</script><script>alert(1)</script><!-- \u2028 & </SCRIPT >"


@dataclass
class Run:
    path: Path
    a: Cloid  # placed, acked, modified (oid 101 -> 102), filled, then the fill again
    b: Cloid  # rejected with NASTY as the message; a cancel refused afterwards
    c: Cloid  # cancelled
    d: Cloid  # still expected at the end
    e: Cloid  # an unasked-for modify ack refused (an anomaly), then cancelled, unanswered


def scripted_journal(path: Path) -> Run:
    """A scripted session whose every time is chosen, so the page's numbers are known."""
    clock = ManualClock()
    engine = JournaledEngine(Journal(path), cloids=CloidFactory("review", 1), verify=True)

    def at(t: float) -> float:
        clock.set(t)
        return clock.now()

    a, b, c, e = (engine.place(Side.BUY, PX, SZ, at(0)) for _ in range(4))
    engine.commands_to_send()
    for order, oid in ((a, 101), (c, 103), (e, 1040)):
        engine.handle(OrderAccepted(cloid=order.cloid, oid=Oid(oid)), at(1))
    engine.handle(OrderRejected(cloid=b.cloid, status="tickRejected", message=NASTY), at(2))
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
    engine.handle(OrderModified(cloid=e.cloid, oid=Oid(1040), price=PX, size=SZ), at(13.5))
    fill = OrderFilled(cloid=a.cloid, oid=Oid(102), tid=Tid(1), side=Side.BUY,
                       price=Decimal(101), size=SZ)
    engine.handle(fill, at(14))
    engine.handle(fill, at(14.5))  # delivered again: moves nothing
    engine.handle(OrderCanceled(oid=Oid(555)), at(15))  # nobody's
    engine.cancel(e, at(16))
    engine.commands_to_send()
    d = engine.place(Side.SELL, PX, SZ, at(20))
    engine.commands_to_send()
    engine.close()
    assert (a.state, b.state, c.state, d.state, e.state) == (
        S.GONE, S.GONE, S.GONE, S.EXPECTED, S.CANCELLING
    )
    return Run(path, *(Cloid(o.label) for o in (a, b, c, d, e)))


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return scripted_journal(tmp_path / "run" / "journal.jsonl")


_DATA = re.compile(r'<script type="application/json" id="review-data">(.*?)</script>', re.DOTALL)


def page_json(page: str) -> Any:
    """The data the page embeds, as its script reads it."""
    match = _DATA.search(page)
    assert match is not None
    return json.loads(match.group(1))


def write(run: Run, out: Path) -> tuple[str, Any]:
    index = write_review_page(load_journal(run.path), out)
    assert index == out / "index.html"
    page = index.read_text(encoding="utf-8")
    return page, page_json(page)


# --- the page's data -------------------------------------------------------------------------


def test_every_order_has_a_row_and_its_numbered_trace(run: Run, tmp_path: Path) -> None:
    _, data = write(run, tmp_path / "page")
    paths = order_paths(load_journal(run.path).records)
    assert [o["key"] for o in data["orders"]] == list(paths) == [
        run.a, run.b, run.c, run.e, "oid:900", run.d]
    assert set(data["traces"]) == set(paths)
    for key, path in paths.items():
        steps = [e for e in data["traces"][key] if e["k"] == "step"]
        assert [(e["n"], e["t"], e["from"], e["trigger"], e["to"]) for e in steps] == [
            (s.number, s.at, s.source.value, s.trigger.value, s.dest.value) for s in path.steps]
    row = {o["key"]: o for o in data["orders"]}
    assert row[run.a] | {"times": None} == row[run.a] | {
        "cloid": run.a, "oids": ["101", "102"], "side": "buy", "final": "gone",
        "reason": "filled", "born": 0.0, "ended": 14.0, "lifetime": 14.0, "steps": 7,
        "refused": 0, "fills": 1, "filled": "1", "anomalies": 0, "times": None}
    # Protected twice: after its ack (1 .. 11) and after its modify's (13 .. 14).
    assert row[run.a]["times"] == {"pending": 0.0, "expected": 1.0, "live": 0.0,
                                   "finalized_protected": 11.0, "tracked": 1.0,
                                   "modifying": 1.0}
    # Still working: its stay in EXPECTED runs to the journal's end (t=20).
    assert (row[run.d]["final"], row[run.d]["times"], row[run.d]["ended"]) == (
        "expected", {"pending": 0.0, "expected": 0.0}, None)
    assert (row["oid:900"]["side"], row["oid:900"]["cloid"]) == ("sell", None)
    assert data["states"] == ["pending", "expected", "live", "finalized_protected", "tracked",
                              "cancelling", "modifying", "orphan_candidate", "aged_orphan"]


def test_a_trace_shows_causes_refusals_anomalies_and_events_that_moved_nothing(
    run: Run, tmp_path: Path
) -> None:
    _, data = write(run, tmp_path / "page")
    a = data["traces"][run.a]
    assert a[1]["why"] == f"OrderAccepted(cloid={run.a}, oid=101)"
    assert a[0]["why"] == "commands taken to send (4)"
    assert a[-1] == {"seq": a[-1]["seq"], "t": 14.5, "k": "event",
                     "why": f"OrderFilled(cloid={run.a}, oid=102, tid=1, side=buy, price=101, "
                            "size=1)"}
    b = [(e["k"], e["t"]) for e in data["traces"][run.b]]
    assert b == [("step", 0.0), ("step", 2.0), ("refused", 3.0)]
    assert data["traces"][run.b][2]["why"] == "cancel requested"
    e = [(x["k"], x["t"], x.get("kind") or x.get("trigger")) for x in data["traces"][run.e]]
    assert e[-3:] == [("refused", 13.5, "modify_ack"), ("anomaly", 13.5, "illegal_event"),
                      ("step", 16.0, "cancel_request")]


def test_summary_counters_and_orders_worth_a_trace(run: Run, tmp_path: Path) -> None:
    _, data = write(run, tmp_path / "page")
    s = data["summary"]
    assert (s["orders"], s["fills"], s["position"], s["refused"], s["anomalies"]) == (
        6, 1, "1", 2, 2)
    assert (s["errors"], s["recoveries"], s["dropped_bytes"]) == (1, 0, 0)
    assert s["ended"] == {"filled": 1, "canceled": 1, "rejected": 1, "unknown": 1}
    assert s["working"] == {"expected": 1, "cancelling": 1}
    assert s["journal"] == str(run.path)
    counters = {c["name"]: c for c in data["counters"]}
    assert {n: c["value"] for n, c in counters.items()} == {
        "illegal_transitions_applied": 0, "refused_remote_events": 1, "double_counted_fills": 0}
    assert counters["refused_remote_events"]["examples"] == [
        {"order": run.e, "text": f"{run.e}: tracked --modify_ack--> refused"}]
    # e has the anomaly (and, working to the journal's end at t=20, the longest life);
    # then the longest lived; d, placed at t=20, lived 0 s.
    assert [w["key"] for w in data["worth"]] == [run.e, run.a, run.c, "oid:900", run.b]
    assert data["worth"][0]["why"] == "1 anomaly (illegal_event); longest lived: 20.000 s"
    assert data["errors"][0]["error"] == "IllegalTransition"


def test_anomalies_by_kind_link_the_orders_they_concern(run: Run, tmp_path: Path) -> None:
    _, data = write(run, tmp_path / "page")
    by_kind = {g["kind"]: g for g in data["anomalies"]}
    assert list(by_kind) == ["illegal_event", "unknown_order"]
    (illegal,) = by_kind["illegal_event"]["items"]
    assert (illegal["order"], illegal["t"]) == (run.e, 13.5)
    (unknown,) = by_kind["unknown_order"]["items"]
    assert (unknown["order"], unknown["id"]) == (None, "oid:555")  # no order of the journal


# --- the HTML: escaping, self-containment, no diagram without dot ---------------------------


def test_journal_text_cannot_end_the_data_script(run: Run, tmp_path: Path) -> None:
    page, data = write(run, tmp_path / "page")
    assert len(re.findall(r"</script", page, re.IGNORECASE)) == 2  # the data's and the code's
    assert "<!--" not in _DATA.search(page).group(1)  # type: ignore[union-attr]
    rejected = data["traces"][run.b][1]
    assert NASTY in rejected["why"]  # read back unchanged
    assert json.loads(json_for_script(NASTY)) == NASTY
    assert not set(json_for_script({"k": NASTY})) & set("<>&\u2028\u2029")
    assert json_for_script(NASTY).startswith('"\\u003c/script\\u003e')


def test_the_page_references_nothing_outside_itself(run: Run, tmp_path: Path) -> None:
    page, _ = write(run, tmp_path / "page")
    assert not re.search(r"https?://", page, re.IGNORECASE)
    assert not re.search(r"<(link|img|iframe|object|embed|base)\b", page, re.IGNORECASE)
    assert not re.search(r"\bsrc\s*=|@import|url\(", page, re.IGNORECASE)
    assert all(h.startswith("#") for h in re.findall(r'\bhref="([^"]*)"', page))
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp is not None and csp.group(1).startswith("default-src 'none'; ")


def test_the_policy_lets_run_exactly_the_pages_script_and_style(run: Run, tmp_path: Path) -> None:
    page, _ = write(run, tmp_path / "page")

    def digest(text: str) -> str:
        return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert script is not None and style is not None
    assert f"script-src '{digest(script.group(1))}';" in page
    assert f"style-src '{digest(style.group(1))}';" in page


@needs_dot
def test_the_diagram_is_inline_svg_with_the_runs_heat(run: Run, tmp_path: Path) -> None:
    page, _ = write(run, tmp_path / "page")
    assert page.count("<svg") == 1 and 'id="diagram-note"' not in page
    assert "xmlns" not in page and "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert ">submit (5)</text>" in page
    assert ">abandon (0)</text>" in page
    assert "Coverage heat: " in page


def test_without_graphviz_the_page_says_so_instead_of_the_diagram(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    page, data = write(run, tmp_path / "page")
    assert "<svg" not in page
    assert '<p class="note" id="diagram-note">Graphviz `dot` is not installed' in page
    assert len(data["orders"]) == 6


def test_writing_again_replaces_the_page_whole(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "page"
    write(run, out)
    first = (out / "index.html").read_bytes()
    write(run, out)
    assert (out / "index.html").read_bytes() == first  # deterministic
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]


# --- invariant counters from hand-made records ----------------------------------------------


def _records(*rows: tuple[str, float | None, dict[str, Any]]) -> LoadedJournal:
    records = tuple(JournalRecord(i, at, kind, data) for i, (kind, at, data) in enumerate(rows))
    return LoadedJournal(Path("made.jsonl"), records, 0, 0)


def _fired(
    cloid: Cloid, source: OrderState, trigger: Trigger, dest: OrderState
) -> dict[str, Any]:
    return {"order": str(cloid), "cloid": cloid, "oid": Oid(7), "source": source,
            "trigger": trigger, "dest": dest, "reason": None}


def test_counters_see_a_fill_counted_twice_and_a_move_that_is_no_row() -> None:
    cloid = Cloid("0x" + "12" * 16)
    fill = OrderFilled(cloid=cloid, oid=Oid(7), tid=Tid(3), side=Side.BUY,
                       price=PX, size=Decimal("0.5"))
    loaded = _records(
        ("place", 0.0, {"cloid": cloid, "side": Side.BUY, "price": PX, "size": SZ}),
        ("fired", 0.0, _fired(cloid, S.PENDING, T.SUBMIT, S.EXPECTED)),
        ("event", 1.0, {"event": OrderAccepted(cloid=cloid, oid=Oid(7))}),
        ("fired", 1.0, _fired(cloid, S.EXPECTED, T.ACCEPT, S.TRACKED)),  # no such row
        ("event", 2.0, {"event": fill}),
        ("fired", 2.0, _fired(cloid, S.TRACKED, T.FILL_PARTIAL, S.TRACKED)),
        ("event", 3.0, {"event": fill}),
        ("fired", 3.0, _fired(cloid, S.TRACKED, T.FILL_PARTIAL, S.TRACKED)),  # again
        ("event", 4.0, {"event": fill}),  # and once more, absorbed
    )
    paths = order_paths(loaded.records)
    data = page_data(loaded, paths, summarize(loaded, paths))
    counters = {c["name"]: c for c in data["counters"]}
    assert counters["illegal_transitions_applied"]["value"] == 1
    assert counters["illegal_transitions_applied"]["examples"][0]["text"] == (
        f"{cloid}: expected --accept--> tracked")
    assert counters["double_counted_fills"]["value"] == 1
    assert counters["refused_remote_events"]["value"] == 0
    (row,) = data["orders"]
    assert (row["fills"], row["filled"]) == (1, "0.5")
    assert [e["k"] for e in data["traces"][str(cloid)]][-1:] == ["event"]


# --- the text report and trace ----------------------------------------------------------------


def test_trace_text_lists_refused_moves_and_anomalies_where_they_happened(run: Run) -> None:
    text = order_paths(load_journal(run.path).records)[run.e].text().splitlines()
    assert text[-4:] == [
        "   refused  t=    13.500  tracked --modify_ack-->",
        "   anomaly  t=    13.500  illegal_event: " + text[-3].split("illegal_event: ", 1)[1],
        "   5  t=    16.000  tracked --cancel_request--> cancelling",
        "final state: cancelling",
    ]
    b = order_paths(load_journal(run.path).records)[run.b].text().splitlines()
    assert [line.split()[0] for line in b[1:]] == ["1", "2", "refused", "final"]


def test_report_names_the_orders_worth_a_trace(run: Run) -> None:
    summary = summarize(load_journal(run.path))
    text = summary.text().splitlines()
    start = text.index("orders worth a trace: 5")
    assert text[start + 1:] == [
        f"  {run.e}  1 anomaly (illegal_event); longest lived: 20.000 s",
        f"  {run.a}  longest lived: 14.000 s",
        f"  {run.c}  longest lived: 7.000 s",
        "  oid:900  longest lived: 6.000 s",
        f"  {run.b}  longest lived: 2.000 s",
    ]
    assert [w.anomalies for w in summary.worth_tracing][:1] == [(AnomalyKind.ILLEGAL_EVENT,)]
    assert summary.anomalous_orders == 1


def test_report_says_how_many_more_orders_have_anomalies(run: Run) -> None:
    summary = summarize(load_journal(run.path))
    assert "more orders with anomalies" not in summary.text()
    many = dataclasses.replace(summary, anomalous_orders=13)
    assert many.text().endswith("\n  ... and 12 more orders with anomalies")
