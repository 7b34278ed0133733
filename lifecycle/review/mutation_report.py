"""The transition mutation report: the score, the unchecked edges first, JSON.

Theory of operation
-------------------
A :class:`MutationReport` gathers the outcome of every mutation run, with the
tests that reached its edge, and what was not run: retargets skipped (see
:func:`lifecycle.review.mutation.table_mutations`), mutations of edges no
passing test reached, tests set aside. The score is ``caught / (caught +
survived)`` over the mutations run, as a percentage; a mutation the pass could
not judge (an error) is in neither count and is listed on its own. An edge is
*unchecked* when at least one of its mutations survived: every test that
reaches it passes with the edge broken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifecycle.review.mutation import Edge, Mutation, SkippedMutation, edge_label
from lifecycle.review.mutation_run import Outcome

__all__ = ["MutationReport", "MutationResult", "UncheckedEdge"]

_SHORT_TESTS = 3


@dataclass(frozen=True, slots=True)
class MutationResult:
    """One mutation run: its outcome and the tests that reached its edge."""

    mutation: Mutation
    outcome: Outcome
    reaching: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UncheckedEdge:
    """An edge reached by tests none of which noticed a mutation of it."""

    edge: Edge
    label: str
    survived: tuple[Mutation, ...]
    reaching: tuple[str, ...]


def _mutation_json(m: Mutation) -> dict[str, Any]:
    return {
        "source": m.source.value,
        "trigger": m.trigger.value,
        "dest": m.dest.value,
        "kind": m.kind.value,
        "to": m.to.value if m.to is not None else None,
    }


def _tests(tests: tuple[str, ...], verbose: bool) -> str:
    if verbose or len(tests) <= _SHORT_TESTS:
        return ", ".join(tests)
    more = len(tests) - _SHORT_TESTS
    return ", ".join(tests[:_SHORT_TESTS]) + f" and {more} more (-v lists them)"


@dataclass(frozen=True, slots=True)
class MutationReport:
    """The outcome of a mutation pass.

    Attributes:
        results: Every mutation run, in table order.
        skipped: Mutations not made, with the reason.
        unreached: Mutations of edges no passing test reached (not run).
        set_aside: Tests never run against a mutation (marker or pattern).
        unreliable: Tests that failed when run alone without a mutation, and how.
        not_rederived: Import-time uses of the table a mutation could not follow.
        test_runs: Tests run in all, the checks of the catchers included.
        jobs: Children run at once.
        seconds: Wall time of the pass.
    """

    results: tuple[MutationResult, ...]
    skipped: tuple[SkippedMutation, ...] = ()
    unreached: tuple[Mutation, ...] = ()
    set_aside: tuple[str, ...] = ()
    unreliable: tuple[tuple[str, str], ...] = ()
    not_rederived: tuple[str, ...] = ()
    test_runs: int = 0
    jobs: int = 1
    seconds: float = 0.0

    @property
    def caught(self) -> int:
        """Mutations some test noticed (failed, hung or died)."""
        return sum(1 for r in self.results if r.outcome.caught)

    @property
    def survived(self) -> int:
        """Mutations every reaching test passed with."""
        return sum(1 for r in self.results if r.outcome.status == "survived")

    @property
    def errors(self) -> tuple[MutationResult, ...]:
        """Mutations the pass could not judge."""
        return tuple(r for r in self.results if r.outcome.status == "error")

    @property
    def score(self) -> float:
        """``caught / (caught + survived)`` in percent; 0.0 when nothing was judged."""
        judged = self.caught + self.survived
        return 100.0 * self.caught / judged if judged else 0.0

    def unchecked(self) -> tuple[UncheckedEdge, ...]:
        """The edges with a surviving mutation, in table order."""
        edges: dict[Edge, list[MutationResult]] = {}
        for r in self.results:
            if r.outcome.status == "survived":
                edges.setdefault(r.mutation.edge, []).append(r)
        return tuple(
            UncheckedEdge(
                edge,
                edge_label(rs[0].mutation.source, rs[0].mutation.trigger, rs[0].mutation.dest),
                tuple(r.mutation for r in rs),
                rs[0].reaching,
            )
            for edge, rs in edges.items()
        )

    def summary(self) -> str:
        """The score line."""
        judged = self.caught + self.survived
        if not judged:
            return (
                "transition mutation score: no mutation was judged "
                "(no passing test reaches an edge)"
            )
        return (
            f"transition mutation score: {self.caught}/{judged} mutations caught "
            f"({self.score:.1f} %), {self.survived} survived"
        )

    def text(self, *, verbose: bool = False) -> str:
        """The report as text: unchecked edges first, then errors, then the score.

        With ``verbose``, every test reaching an unchecked edge and every
        mutation with the test that caught it.
        """
        lines: list[str] = []
        unchecked = self.unchecked()
        if unchecked:
            lines.append(
                f"unchecked edges: reached, but no test noticed a mutation ({len(unchecked)})"
            )
            for u in unchecked:
                lines.append(f"  {u.label}")
                lines.append("    survived: " + ", ".join(m.change for m in u.survived))
                lines.append(
                    f"    reached by {len(u.reaching)} test(s): {_tests(u.reaching, verbose)}"
                )
        if self.errors:
            lines.append(f"mutations the pass could not judge ({len(self.errors)})")
            lines.extend(f"  {r.mutation}: {r.outcome.message}" for r in self.errors)
        if verbose:
            lines.extend(self._details())
        lines.append(self.summary())
        not_run = [
            f"{len(self.skipped)} mutation(s) skipped",
            f"{len(self.unreached)} on edges no passing test reaches",
            f"{len(self.set_aside)} test(s) set aside",
        ]
        if self.unreliable:
            not_run.append(f"{len(self.unreliable)} unreliable test(s)")
        if self.not_rederived:
            not_run.append(
                f"{len(self.not_rederived)} import-time use(s) of the table not followed"
            )
        lines.append("not run: " + ", ".join(not_run))
        lines.append(
            f"mutation pass: {len(self.results)} mutations, {self.test_runs} test runs, "
            f"{self.jobs} job(s), {self.seconds:.1f} s"
        )
        return "\n".join(lines)

    def _details(self) -> list[str]:
        lines = ["every mutation:"]
        for r in self.results:
            o = r.outcome
            by = f" by {o.test}" if o.test else ""
            why = f": {o.message}" if o.message and o.status != "error" else ""
            lines.append(
                f"  {o.status:<8} {r.mutation}{by} ({o.tests_run}/{len(r.reaching)} tests, "
                f"{o.seconds:.2f} s){why}"
            )
        lines.extend(f"  skipped  {s}" for s in self.skipped)
        lines.extend(f"  not run  {m}: no passing test reaches the edge" for m in self.unreached)
        lines.extend(f"set aside: {t}" for t in self.set_aside)
        lines.extend(f"unreliable: {t}: {why}" for t, why in self.unreliable)
        lines.extend(f"not followed: {where}" for where in self.not_rederived)
        return lines

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        return {
            "score": round(self.score, 2),
            "caught": self.caught,
            "survived": self.survived,
            "errors": len(self.errors),
            "mutations_run": len(self.results),
            "test_runs": self.test_runs,
            "jobs": self.jobs,
            "seconds": round(self.seconds, 3),
            "unchecked_edges": [
                {
                    "source": u.edge[0].value,
                    "trigger": u.edge[1].value,
                    "dest": u.survived[0].dest.value,
                    "survived": [_mutation_json(m) for m in u.survived],
                    "tests": list(u.reaching),
                }
                for u in self.unchecked()
            ],
            "mutations": [
                {
                    **_mutation_json(r.mutation),
                    "status": r.outcome.status,
                    "test": r.outcome.test,
                    "message": r.outcome.message,
                    "tests_run": r.outcome.tests_run,
                    "tests_reaching": len(r.reaching),
                    "seconds": round(r.outcome.seconds, 3),
                }
                for r in self.results
            ],
            "skipped": [
                {
                    "source": s.source.value,
                    "trigger": s.trigger.value,
                    "dest": s.dest.value,
                    "kind": s.kind.value,
                    "reason": s.reason,
                }
                for s in self.skipped
            ],
            "unreached": [_mutation_json(m) for m in self.unreached],
            "set_aside": list(self.set_aside),
            "unreliable": [{"test": t, "reason": why} for t, why in self.unreliable],
            "not_rederived": list(self.not_rederived),
        }

    def write_json(self, path: str | Path) -> Path:
        """Write :meth:`to_json` to ``path`` (parents created) and return the path."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return out
