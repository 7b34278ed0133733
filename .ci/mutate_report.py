"""The report of a mutation run (`make mutate`): scores per module and the survivors.

Theory of operation
-------------------
mutmut records one exit code per mutant in `mutants/**/*.meta`; :func:`report` folds
them into the columns of :data:`COLUMNS` per module (:class:`Tally`), prints every
survivor with the lines it changes (mutmut's own diff of its function) and the score:
killed and timed-out mutants over judged ones. A survivor whose change is confined to
the prose of a message (an error's or an anomaly's wording, :func:`message_only`) is
listed apart and left out of the second score, since message texts may stay
unmutated; it still counts in the first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    """Verdict counts of one module; the score is caught over judged mutants."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0))
    survivors: list[str] = field(default_factory=list)

    def add(self, name: str, code: int | None) -> None:
        status = STATUS_BY_CODE.get(code, OTHER)
        if status == SKIPPED:
            return
        self.counts[status] += 1
        if status == SURVIVED:
            self.survivors.append(name)

    @property
    def judged(self) -> int:
        return sum(self.counts.values()) - self.counts[NOT_RUN]

    def score(self, ignored: int = 0) -> float | None:
        """Caught over judged, in percent, leaving ``ignored`` survivors out; None: none judged."""
        caught = self.counts[KILLED] + self.counts[TIMEOUT]
        judged = self.judged - ignored
        return 100.0 * caught / judged if judged else None


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


def report(verdicts: Mapping[str, int | None], modules: Sequence[str], scope: str,
           names_only: bool) -> Tally:
    """Print the survivors and the scores of ``verdicts`` (name -> mutmut's exit code)."""
    tallies = {m: Tally() for m in modules}
    total = Tally()
    for name, code in sorted(verdicts.items()):
        tallies[module_of(name)].add(name, code)
        total.add(name, code)
    diffs = {name: changed_lines(name) for name in total.survivors}
    wording = {name for name, lines in diffs.items() if message_only(lines)}
    behaviour = [name for name in total.survivors if name not in wording]
    if behaviour:
        print(f"survivors ({len(behaviour)}): every test passes with each of these changes")
    for name in behaviour:
        print(f"  {name}")
        if not names_only:
            for line in diffs[name]:
                print(f"      {line}")
    if wording:
        print(f"\nsurvivors that change only the wording of a message ({len(wording)}):")
        for name in sorted(wording):
            print(f"  {name}")
    print(f"\nmutation score ({scope}): killed and timed out over judged; "
          "'wording' survivors change only a message's text, 'sans' leaves them out")
    columns = (*COLUMNS[:3], "wording", *COLUMNS[3:])
    print(f"  {'module':<8}" + "".join(f"{c:>10}" for c in columns) + f"{'score':>9}{'sans':>8}")
    for label, tally in (*tallies.items(), ("all", total)):
        counts = {**tally.counts, "wording": len(wording.intersection(tally.survivors))}
        score, sans = tally.score(), tally.score(ignored=counts["wording"])
        shown = [f"{x:.1f}%" if x is not None else "-" for x in (score, sans)]
        print(f"  {label:<8}" + "".join(f"{counts[c]:>10}" for c in columns)
              + f"{shown[0]:>9}{shown[1]:>8}")
    return total
