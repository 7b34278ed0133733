"""The report of a mutation run (`make mutate`): scores per module and the survivors.

Theory of operation
-------------------
mutmut records one exit code per mutant in `mutants/**/*.meta`; :func:`report` folds
them into the columns of :data:`COLUMNS` per module (:class:`Tally`), prints every
survivor with the lines it changes (mutmut's own diff of its function) and the score:
killed and timed-out mutants over those with a verdict (run).

Survivors fall into three disjoint groups. *Judged*: recorded in
`.ci/mutation_judged.txt` (:func:`load_judgements`) as equivalent or wording-only, with
the line the mutant adds; the record applies only while the mutant still adds that very
line (:func:`split_survivors`), because mutmut numbers the mutants of a function anew
once it is edited and a name may then denote another mutation. *Wording*: not recorded,
but the change is confined to the prose of a message (:func:`message_only`); message
texts may stay unmutated. *Unexplained*: every other survivor, printed first with its
diff. The second score ("sans") leaves judged and wording survivors out, so that it
counts only unexplained ones against the tests; the first score counts them all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

JUDGED_FILE = Path(__file__).with_name("mutation_judged.txt")
VERDICTS = ("equivalent", "wording")

# mutmut's exit codes per mutant (mutmut/stats.py), folded into the columns printed here;
# 37 is "caught by the type checker", which this setup does not run.
KILLED, TIMEOUT, SURVIVED, NO_TESTS, SKIPPED, OTHER, NOT_RUN = (
    "killed", "timeout", "survived", "no tests", "skipped", "other", "not run",
)
STATUS_BY_CODE: dict[int | None, str] = {
    1: KILLED, 3: KILLED, 37: KILLED,
    36: TIMEOUT, 24: TIMEOUT, -24: TIMEOUT, 152: TIMEOUT, 255: TIMEOUT,
    0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS, 34: SKIPPED, None: NOT_RUN,
}
COLUMNS = (KILLED, TIMEOUT, SURVIVED, NO_TESTS, OTHER, NOT_RUN)


@dataclass
class Tally:
    """Verdict counts of one module; the score is caught over those with a verdict."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    survivors: list[str] = field(default_factory=list)
    # Survivors judged or message-only (set by report()): left out of unexplained_score().
    explained: set[str] = field(default_factory=set)

    def add(self, name: str, code: int | None) -> None:
        status = STATUS_BY_CODE.get(code, OTHER)
        if status == SKIPPED:
            return
        self.counts[status] += 1
        if status == SURVIVED:
            self.survivors.append(name)

    @property
    def decided(self) -> int:
        """Mutants with a verdict: every counted one but those not run."""
        return sum(self.counts.values()) - self.counts[NOT_RUN]

    def score(self, ignored: int = 0) -> float | None:
        """Caught over decided, in percent, leaving ``ignored`` survivors out; None: none."""
        caught = self.counts[KILLED] + self.counts[TIMEOUT]
        decided = self.decided - ignored
        return 100.0 * caught / decided if decided else None

    def unexplained_score(self) -> float | None:
        """The score leaving out the survivors in :attr:`explained`."""
        return self.score(ignored=len(self.explained.intersection(self.survivors)))


def changed_lines(name: str) -> list[str]:
    """The lines a mutant removes (``- ``) and adds (``+ ``), from mutmut's diff."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        path = Path(name.rsplit(".", 1)[0].replace(".", "/") + ".py")
        diff = get_diff_for_mutant(name, path=path)
    except Exception as exc:  # one unreadable mutant must not cost the whole report
        return [f"? (no diff: {exc})"]
    body = diff.splitlines()[2:]  # past the ---/+++ header
    return [f"{line[0]} {line[1:].strip()}" for line in body
            if line[:1] in "+-" and line[1:].strip()]


STRING = re.compile(r"""[rRbBuUfF]{0,2}(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")


def message_only(lines: Sequence[str]) -> bool:
    """Whether a mutant changes nothing but the wording of messages.

    True when each removed line and its added line differ only inside string
    literals (or one literal became None), and every literal that changed reads as
    prose (it holds a space): an error's or an anomaly's text, not a key or a field
    name.
    """
    removed = [line[2:] for line in lines if line.startswith("- ")]
    added = [line[2:] for line in lines if line.startswith("+ ")]
    if not removed or len(removed) != len(added):
        return False
    for old, new in zip(removed, added, strict=True):
        if any(" " in m.group() and old[:m.start()] + "None" + old[m.end():] == new
               for m in STRING.finditer(old)):
            continue  # the message itself became None
        if STRING.sub('""', old) != STRING.sub('""', new):
            return False
        changed = [a for a, b in zip(STRING.findall(old), STRING.findall(new), strict=True)
                   if a != b]
        if not changed or not all(" " in text for text in changed):
            return False
    return True


def module_of(name: str) -> str:
    """`lifecycle.core.order.x_f__mutmut_1` -> `core`."""
    return name.split(".")[1]


@dataclass(frozen=True)
class Judgement:
    """A recorded verdict on one surviving mutant (a line of `mutation_judged.txt`)."""

    verdict: str  # one of VERDICTS
    added: str  # what :func:`added_lines` gave for the mutant when it was judged
    reason: str


def load_judgements(path: Path = JUDGED_FILE) -> dict[str, Judgement]:
    """Mutant name -> :class:`Judgement`, from ``path`` (none when the file is absent).

    Each line holds four tab-separated fields: name, verdict, the line the mutant adds,
    reason; lines starting with ``#`` and blank lines are skipped. A malformed line
    raises ValueError naming the file, the line number and the field.
    """
    if not path.exists():
        return {}
    judgements: dict[str, Judgement] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        fields = raw.split("\t")
        where = f"{path.name} line {number}"
        if len(fields) != 4 or not all(f.strip() for f in fields):
            raise ValueError(f"{where}: expected 4 non-empty tab-separated fields "
                             f"(name, verdict, added line, reason), got {len(fields)}")
        name, verdict, added, reason = (f.strip() for f in fields)
        if verdict not in VERDICTS:
            raise ValueError(f"{where}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        if name in judgements:
            raise ValueError(f"{where}: mutant {name} is recorded twice")
        judgements[name] = Judgement(verdict, added, reason)
    return judgements


def added_lines(lines: Sequence[str]) -> str:
    """What identifies a mutant's change: its ``+`` lines, joined by `` | ``.

    A mutant that only deletes (an argument dropped, say) adds nothing; its ``-``
    lines stand in.
    """
    added = [line for line in lines if line.startswith("+ ")]
    return " | ".join(added or [line for line in lines if line.startswith("- ")])


def split_survivors(diffs: Mapping[str, Sequence[str]], judgements: Mapping[str, Judgement],
                    ) -> tuple[list[str], dict[str, Judgement]]:
    """Survivors (name -> diff lines) split into the unexplained and the judged ones.

    A survivor is judged when its name is recorded and it still adds the recorded line;
    a recorded name whose mutant now adds another line is unexplained.
    """
    judged = {name: judgements[name] for name, lines in diffs.items()
              if name in judgements and judgements[name].added == added_lines(lines)}
    return [name for name in diffs if name not in judged], judged


def report(verdicts: Mapping[str, int | None], modules: Sequence[str], scope: str,
           names_only: bool, judgements: Mapping[str, Judgement] | None = None) -> Tally:
    """Print the survivors and the scores of ``verdicts`` (name -> mutmut's exit code).

    ``judgements`` defaults to :data:`JUDGED_FILE`'s. Every returned tally's
    ``explained`` holds the judged and wording survivors.
    """
    if judgements is None:
        judgements = load_judgements()
    tallies = {m: Tally() for m in modules}
    total = Tally()
    for name, code in sorted(verdicts.items()):
        tallies[module_of(name)].add(name, code)
        total.add(name, code)
    diffs = {name: changed_lines(name) for name in total.survivors}
    unjudged, judged = split_survivors(diffs, judgements)
    wording = {name for name in unjudged if message_only(diffs[name])}
    behaviour = [name for name in unjudged if name not in wording]
    if behaviour:
        print(f"unexplained survivors ({len(behaviour)}): every test passes with each of "
              "these changes")
    for name in behaviour:
        print(f"  {name}")
        if name in judgements:  # the function changed since the judgement was recorded
            print(f"      (recorded as {judgements[name].verdict} when it added: "
                  f"{judgements[name].added})")
        if not names_only:
            for line in diffs[name]:
                print(f"      {line}")
    if wording:
        print(f"\nsurvivors that change only the wording of a message ({len(wording)}):")
        for name in sorted(wording):
            print(f"  {name}")
    if judged:
        print(f"\njudged survivors ({len(judged)}), recorded in {JUDGED_FILE.name}:")
        for name in sorted(judged):
            print(f"  {name}  {judged[name].verdict}: {judged[name].reason}")
    explained = wording | judged.keys()
    print(f"\nmutation score ({scope}): killed and timed out over those run; 'judged' "
          f"survivors are recorded in {JUDGED_FILE.name}, 'wording' ones change only a "
          "message's text; 'sans' leaves both out")
    columns = (*COLUMNS[:3], "judged", "wording", *COLUMNS[3:])
    print(f"  {'module':<8}" + "".join(f"{c:>10}" for c in columns) + f"{'score':>9}{'sans':>8}")
    for label, tally in (*tallies.items(), ("all", total)):
        tally.explained = explained.intersection(tally.survivors)
        counts = {**tally.counts, "judged": len(judged.keys() & tally.explained),
                  "wording": len(wording & tally.explained)}
        score, sans = tally.score(), tally.unexplained_score()
        shown = [f"{x:.1f}%" if x is not None else "-" for x in (score, sans)]
        print(f"  {label:<8}" + "".join(f"{counts[c]:>10}" for c in columns)
              + f"{shown[0]:>9}{shown[1]:>8}")
    return total
