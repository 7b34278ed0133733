"""The mutation report's split of survivors into judged and unexplained ones.

`.ci` is not a package: the report module (and the driver, for its `--fail-under`
options) load by path. The survivors' diffs are synthetic; mutmut's own diff
(`changed_lines`) is replaced, so no mutation run is needed.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest

CI = Path(__file__).resolve().parents[1] / ".ci"

A = "lifecycle.core.order.x_f__mutmut_1"  # recorded, still adds the recorded line
B = "lifecycle.core.order.x_f__mutmut_2"  # recorded, but now adds another line
C = "lifecycle.engine.ledger.x_g__mutmut_3"  # not recorded
KILLED = "lifecycle.engine.ledger.x_g__mutmut_4"

DIFFS = {
    A: ["- if x < 0:", "+ if x <= 0:"],
    B: ["- return y + 1", "+ return y - 1"],
    C: ["- cache = {}", "+ cache = None"],
}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, CI / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rep() -> Iterator[ModuleType]:
    saved = sys.modules.get("mutate_report")
    yield load("mutate_report")
    if saved is None:
        sys.modules.pop("mutate_report", None)
    else:
        sys.modules["mutate_report"] = saved


def judgements(rep: ModuleType) -> dict[str, object]:
    return {
        A: rep.Judgement("equivalent", "+ if x <= 0:", "0 is accepted by the slow path too"),
        B: rep.Judgement("equivalent", "+ return y * 1", "recorded for an older mutation"),
    }


# A recorded survivor is judged only while it still adds the recorded line.
def test_a_recorded_survivor_is_judged_only_while_it_adds_the_recorded_line(
        rep: ModuleType) -> None:
    unexplained, judged = rep.split_survivors(DIFFS, judgements(rep))
    assert sorted(judged) == [A]
    assert judged[A].reason == "0 is accepted by the slow path too"
    assert unexplained == [B, C]


# A mutant that only deletes lines is identified by what it deletes.
def test_a_deletion_is_identified_by_its_removed_lines(rep: ModuleType) -> None:
    assert rep.added_lines(["- send_event=False,", "- )", "+ )"]) == "+ )"
    assert rep.added_lines(["- model=None,"]) == "- model=None,"
    assert rep.added_lines(["- a", "+ b", "+ c"]) == "+ b | + c"


# The record file: comments and blank lines skipped, four tab-separated fields a line.
def test_the_record_file_is_read_and_a_malformed_line_is_named(
        rep: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "judged.txt"
    path.write_text(f"# header\n\n{A}\tequivalent\t+ if x <= 0:\tsame verdict\n"
                    f"{B}\twording\t+ raise E('XX')\tonly the text\n", encoding="utf-8")
    loaded = rep.load_judgements(path)
    assert loaded == {A: rep.Judgement("equivalent", "+ if x <= 0:", "same verdict"),
                      B: rep.Judgement("wording", "+ raise E('XX')", "only the text")}
    assert rep.load_judgements(tmp_path / "absent.txt") == {}
    path.write_text(f"# header\n{A}\tequivalent\tno reason\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"judged\.txt line 2: expected 4"):
        rep.load_judgements(path)
    path.write_text(f"{A}\tharmless\t+ x\twhy\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1: verdict 'harmless'"):
        rep.load_judgements(path)


# The committed record parses, and each line names a verdict and the change it holds for.
def test_the_committed_record_is_well_formed(rep: ModuleType) -> None:
    loaded = rep.load_judgements()
    assert loaded, "the committed record holds no judgement"
    for name, judgement in loaded.items():
        assert name.startswith("lifecycle.") and "__mutmut_" in name
        assert judgement.added.startswith(("+ ", "- ")), name
        assert "/tmp" not in judgement.reason and "scratch" not in judgement.reason, name


# The report prints unexplained survivors first with their diffs, then the judged ones
# with their reasons; the 'sans' score leaves the judged ones out.
def test_the_report_lists_unexplained_survivors_before_judged_ones(
        rep: ModuleType, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def diff(name: str) -> Sequence[str]:
        return DIFFS[name]

    monkeypatch.setattr(rep, "changed_lines", diff)
    verdicts = {A: 0, B: 0, C: 0, KILLED: 1}
    total = rep.report(verdicts, ("core", "engine"), "test", False, judgements(rep))
    out = capsys.readouterr().out
    unexplained = out.index("unexplained survivors (2)")
    listed = out.index("judged survivors (1)")
    assert unexplained < out.index(f"  {B}\n") < out.index("+ return y - 1") < listed
    assert "recorded as equivalent when it added: + return y * 1" in out
    assert out.index(f"  {A}  equivalent: 0 is accepted by the slow path too") > listed
    assert f"  {A}\n" not in out  # a judged survivor is not listed with its diff
    header, core, engine, everything = out.splitlines()[-4:]
    assert header.split() == ["module", "killed", "timeout", "survived", "judged", "wording",
                              "no", "tests", "other", "not", "run", "score", "sans"]
    assert core.split() == ["core", "0", "0", "2", "1", "0", "0", "0", "0", "0.0%", "0.0%"]
    assert engine.split() == ["engine", "1", "0", "1", "0", "0", "0", "0", "0", "50.0%",
                              "50.0%"]
    assert everything.split()[-2:] == ["25.0%", "33.3%"]
    assert total.explained == {A}
    assert total.score() == 25.0
    assert total.unexplained_score() == pytest.approx(100 / 3)


# --fail-under compares every survivor by default, only unexplained ones when asked.
def test_fail_under_can_leave_judged_survivors_out(
        rep: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(CI))  # the driver imports the report by name
    driver = load("mutate")
    try:
        args = driver.parse_args(["--fail-under", "30", "--unexplained-only"])
        assert args.unexplained_only and args.fail_under == 30
        assert not driver.parse_args(["--fail-under", "30"]).unexplained_only
        with pytest.raises(SystemExit):
            driver.parse_args(["--unexplained-only"])  # nothing to apply it to
        tally = rep.Tally()
        for name, code in ((A, 0), (C, 0), (KILLED, 1)):
            tally.add(name, code)
        tally.explained = {A}
        assert driver.gate_score(tally, unexplained_only=False) == pytest.approx(100 / 3)
        assert driver.gate_score(tally, unexplained_only=True) == 50.0
    finally:
        sys.modules.pop("mutate", None)
