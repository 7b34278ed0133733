"""Which test reached which edge: the recording a mutation pass starts from.

Theory of operation
-------------------
An :class:`EdgeRecorder` observes every machine of the process (like transition
coverage) and attributes each fired edge to the test running at the time, as
the pytest plugin announces it (:meth:`EdgeRecorder.enter_test`). Fixtures
shared by several tests (module or session scope) are announced too
(:meth:`EdgeRecorder.enter_fixture`): an edge fired while such a fixture is set
up belongs to every test that uses it, since running any of them alone sets the
fixture up again and fires the edge. The recorder also keeps, per test, the time
its run took and whether it passed cleanly: only clean tests can say anything
about a mutation, and the fast ones go first.

The recorder knows nothing of pytest: tests and fixtures are keys (node ids,
fixture definitions) given by the plugin.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING

from lifecycle.core.machine import observe_all, stop_observing_all
from lifecycle.review.mutation import Edge

if TYPE_CHECKING:
    from lifecycle.core.order import Order
    from lifecycle.core.states import OrderState, Trigger

__all__ = ["EdgeRecorder"]


class EdgeRecorder:
    """Records, per test, the edges it fired, its duration and whether it passed."""

    __slots__ = ("_current", "_fixtures", "by_fixture", "by_test", "clean", "seconds")

    def __init__(self) -> None:
        self._current: str | None = None
        self._fixtures: list[Hashable] = []
        #: Edges fired while each test ran (its setup and teardown included).
        self.by_test: defaultdict[str, set[Edge]] = defaultdict(set)
        #: Edges fired while each shared fixture was set up.
        self.by_fixture: defaultdict[Hashable, set[Edge]] = defaultdict(set)
        #: Seconds each test took, all phases together.
        self.seconds: defaultdict[str, float] = defaultdict(float)
        #: Whether each test passed in every phase (a skip or an xfail is not clean).
        self.clean: dict[str, bool] = {}

    # TransitionObserver

    def transition_fired(
        self, order: Order, source: OrderState, trigger: Trigger, dest: OrderState, now: float
    ) -> None:
        """Attribute the edge to the running test and the shared fixture being set up."""
        edge = (source, trigger)
        if self._current is not None:
            self.by_test[self._current].add(edge)
        if self._fixtures:
            self.by_fixture[self._fixtures[-1]].add(edge)

    def transition_refused(self, order: Order, trigger: Trigger, now: float) -> None:
        """Refused triggers reach no edge."""

    # announcements from the test runner

    def start(self) -> None:
        """Observe every machine of the process."""
        observe_all(self)

    def stop(self) -> None:
        """Stop observing."""
        stop_observing_all(self)

    def enter_test(self, test: str) -> None:
        """``test`` runs from now on."""
        self._current = test

    def leave_test(self) -> None:
        """No test runs any more."""
        self._current = None

    def enter_fixture(self, fixture: Hashable) -> None:
        """A shared ``fixture`` is being set up (nested set-ups stack)."""
        self._fixtures.append(fixture)

    def leave_fixture(self) -> None:
        """The innermost shared fixture is set up."""
        if self._fixtures:
            self._fixtures.pop()

    def phase(self, test: str, seconds: float, *, passed: bool) -> None:
        """Record one phase (setup, call, teardown) of ``test``."""
        self.seconds[test] += seconds
        self.clean[test] = self.clean.get(test, True) and passed

    # reading

    def reaching(
        self, uses: Mapping[str, Iterable[Hashable]] | None = None
    ) -> dict[Edge, list[str]]:
        """The clean tests that reached each edge, fastest first.

        Args:
            uses: The shared fixtures each test uses; their edges count as the
                test's own.
        """
        edges: defaultdict[Edge, set[str]] = defaultdict(set)
        for test, fired in self.by_test.items():
            for edge in fired:
                edges[edge].add(test)
        for test, fixtures in (uses or {}).items():
            for fixture in fixtures:
                for edge in self.by_fixture.get(fixture, ()):
                    edges[edge].add(test)
        return {
            edge: sorted(
                (t for t in tests if self.clean.get(t, False)),
                key=lambda t: (self.seconds.get(t, 0.0), t),
            )
            for edge, tests in edges.items()
        }
