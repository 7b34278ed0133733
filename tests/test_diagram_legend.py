"""The diagrams explain themselves: a legend, immediate moves unlike timers, GONE's absorbed
messages in a note beside it, and a missed edge unlike a covered timer beyond its colour."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.review.coverage import TransitionCoverage
from lifecycle.review.diagram import GONE_NOTE, edges, lifecycle_graph

S = OrderState
T = Trigger
EDGE = re.compile(r"^\s*(\w+) -> (\w+) \[(.*)\]$", re.MULTILINE)
ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")


def state_edges(source: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """``(tail, head, trigger) -> attributes`` of every edge between states."""
    found: dict[tuple[str, str, str], dict[str, str]] = {}
    for tail, head, attrs in EDGE.findall(source):
        if tail.startswith("legend_"):
            continue
        parsed = {k: v.strip('"') for k, v in ATTR.findall(attrs)}
        for trigger in parsed["label"].split("\\n"):
            found[(tail, head, trigger.split(" (")[0])] = parsed
    return found


def style(attrs: dict[str, str]) -> dict[str, str]:
    """The attributes that draw a line, colour aside."""
    return {k: v for k, v in attrs.items()
            if k in ("style", "arrowhead", "dir") or (k == "color" and ":" in v)}


@pytest.mark.parametrize("counted", [False, True])
def test_legend_shows_a_sample_of_every_kind_of_line(counted: bool) -> None:
    source = lifecycle_graph({} if counted else None).source
    assert "subgraph cluster_legend" in source and "label=legend" in source
    meanings = ["request we send", "exchange message", "timer elapses", "immediate:",
                "absorbed:"]
    if counted:
        meanings += ["fired n times", "never fired (missed)"]
    for meaning in meanings:
        assert re.search(rf"legend_\d+_to \[label=\"[^\"]*{re.escape(meaning)}", source), meaning
    samples = re.findall(r"^\s*legend_(\d+)_from -> legend_\1_to\b", source, re.MULTILINE)
    assert len(samples) == len(meanings)


def test_finalize_is_drawn_unlike_a_timer_and_unlike_a_message() -> None:
    drawn = state_edges(lifecycle_graph().source)
    finalize = drawn[("LIVE", "FINALIZED_PROTECTED", "finalize")]
    timers = [drawn[("FINALIZED_PROTECTED", "TRACKED", "protection_elapsed")],
              drawn[("ORPHAN_CANDIDATE", "AGED_ORPHAN", "grace_elapsed")]]
    message = drawn[("EXPECTED", "LIVE", "accept")]
    assert all(style(timer) == {"style": "dashed"} for timer in timers)
    assert style(finalize) == {"color": "black:invis:black"}  # a double line
    assert style(message) == {}
    assert len({str(style(a)) for a in (finalize, timers[0], message)}) == 3


def test_gone_absorbs_in_a_note_beside_it_not_in_a_loop() -> None:
    source = lifecycle_graph().source
    assert not re.search(r"^\s*GONE -> GONE ", source, re.MULTILINE)
    note = re.search(rf"^\s*{GONE_NOTE} \[label=\"([^\"]*)\"(.*)\]$", source, re.MULTILINE)
    assert note is not None and "shape=note" in note.group(2)
    lines = note.group(1).split("\\n")
    absorbed = [t.value for s, t, d in edges() if s is d is S.GONE]
    assert len(absorbed) >= 8 and lines[2:] == absorbed
    # The note shares GONE's column (rank), inside the terminal cluster.
    column = re.search(r"\{\s*rank=same\s*GONE\s*" + GONE_NOTE, source)
    assert column is not None
    assert source.index("subgraph cluster_terminal") < column.start()
    # Every other state's reflexive moves are still one loop each.
    for state in (S.FINALIZED_PROTECTED, S.TRACKED, S.CANCELLING, S.MODIFYING):
        assert len(re.findall(rf"^\s*{state.name} -> {state.name} ", source, re.MULTILINE)) == 1


def test_every_table_row_is_drawn_once_with_counts() -> None:
    counts = {key: 1 for key in TABLE}
    source = lifecycle_graph(counts).source
    drawn = state_edges(source)
    note = re.search(rf"{GONE_NOTE} \[label=\"([^\"]*)\"", source)
    assert note is not None
    in_note = {line.split(" (")[0] for line in note.group(1).split("\\n")[2:]}
    rows = {(s.name, d.name, t.value) for (s, t), d in TABLE.items()}
    assert {k for k in drawn} | {("GONE", "GONE", t) for t in in_note} == rows
    assert len(drawn) + len(in_note) == len(TABLE)


def test_coverage_missed_edge_differs_from_a_covered_timer_beyond_colour() -> None:
    coverage = TransitionCoverage()
    coverage.update({(S.FINALIZED_PROTECTED, T.PROTECTION_ELAPSED): 3})
    source = lifecycle_graph(coverage.report().counts()).source
    drawn = state_edges(source)
    covered_timer = drawn[("FINALIZED_PROTECTED", "TRACKED", "protection_elapsed")]
    missed_timer = drawn[("ORPHAN_CANDIDATE", "AGED_ORPHAN", "grace_elapsed")]
    missed_message = drawn[("EXPECTED", "LIVE", "accept")]
    assert style(covered_timer) == {"style": "dashed"} and "penwidth" in covered_timer
    for missed in (missed_timer, missed_message):
        assert missed["color"] == "red"
        assert style(missed) == {"style": "dotted", "arrowhead": "tee"}
        assert style(missed) != style(covered_timer)
    assert 'label="abandon (0)" color=red' in source  # what readers of the .dot grep for
    note = re.search(rf"{GONE_NOTE} \[label=\"([^\"]*)\"", source)
    assert note is not None and "late_fill (0) MISSED" in note.group(1)


@needs_dot
def test_coverage_picture_renders_with_its_legend(tmp_path: Path) -> None:
    coverage = TransitionCoverage()
    coverage.update({(S.PENDING, T.SUBMIT): 2, (S.GONE, T.LATE_FILL): 1})
    svg = coverage.report().write_diagram(tmp_path / "coverage.svg").read_text(encoding="utf-8")
    for text in ("never fired (missed)", "timer elapses", "late_fill (1)", "GONE absorbs"):
        assert text in svg
    assert coverage.report().write_diagram(tmp_path / "coverage.png").read_bytes()[:4] == (
        b"\x89PNG")


@needs_dot
def test_review_page_heat_diagram_still_renders() -> None:
    from lifecycle.review.page_diagram import heat_graph, inline_svg

    markup, why = inline_svg(heat_graph({(S.PENDING, T.SUBMIT): 4}, {S.PENDING: 4}, title="t"))
    assert why == "" and markup is not None and markup.startswith("<svg")
