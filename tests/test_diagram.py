"""Diagrams come from the machine of record and the committed ones are current."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE
from lifecycle.review.diagram import edges, lifecycle_graph, render

DIAGRAMS = Path(__file__).resolve().parents[1] / "diagrams"


def test_diagram_edges_are_exactly_the_table_rows() -> None:
    assert sorted((s.name, t.name, d.name) for s, t, d in edges()) == sorted(
        (s.name, t.name, d.name) for (s, t), d in TABLE.items()
    )


def test_diagram_committed_dot_matches_fresh_render() -> None:
    committed = (DIAGRAMS / "lifecycle.dot").read_text(encoding="utf-8")
    assert committed == lifecycle_graph().source, (
        "diagrams/lifecycle.dot is stale: run `lifecycle diagram --out diagrams`"
    )


def test_diagram_groups_states_into_three_clusters() -> None:
    source = lifecycle_graph().source
    for cluster in ("cluster_ours", "cluster_discovered", "cluster_terminal"):
        assert f"subgraph {cluster}" in source
    for state in OrderState:
        assert re.search(rf"^\s*{state.name} \[", source, re.MULTILINE), state


def test_diagram_every_trigger_labels_an_edge() -> None:
    # Simple labels are written unquoted, merged loop labels quoted and \n-joined.
    labels = re.findall(r'label=(?:"([^"]*)"|(\w+))', lifecycle_graph().source)
    names = {name for pair in labels for label in pair for name in label.split("\\n")}
    assert {t.value for t in Trigger} <= names


def test_diagram_edge_counts_label_hits_and_dash_unfired_edges() -> None:
    counts = {(OrderState.PENDING, Trigger.SUBMIT): 4}
    source = lifecycle_graph(counts).source
    assert 'label="submit (4)"' in source
    assert 'label="abandon (0)" color=red' in source
    # One edge per table row when counting, but GONE's absorbed messages, which its note
    # lists with their counts (the legend's sample edges join legend_* nodes).
    state_edges = re.findall(r"^\s*[A-Z_]+ -> [A-Z_]+ ", source, re.MULTILINE)
    absorbed = [t for s, t, d in edges() if s is d is OrderState.GONE]
    assert len(state_edges) + len(absorbed) == len(TABLE)
    assert all(f"{t.value} (0) MISSED" in source for t in absorbed)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_diagram_render_writes_dot_svg_png(tmp_path: Path) -> None:
    written = render(lifecycle_graph(), tmp_path, "x")
    assert [p.name for p in written] == ["x.dot", "x.svg", "x.png"]
    assert (tmp_path / "x.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert (tmp_path / "x.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
