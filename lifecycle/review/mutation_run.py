"""Running the tests again against each mutated table, one forked child per mutation.

Theory of operation
-------------------
The pass runs after the normal session, in the same process, where every test
module is imported and every test item collected. For each mutation the parent
forks a child (``os.fork``): the child applies the mutation in memory
(:func:`lifecycle.review.mutation_apply.applied`), runs the given tests through
pytest's own per-test protocol (fixtures, markers, warning filters and capture
exactly as in the session, reports kept from the terminal), and tells the parent
over a pipe, one line per event, which test it starts and whether it passed. It
stops at the first failure. The child never returns into pytest: it leaves with
``os._exit``, so nothing of the session (files, summaries) is written twice.

The parent runs up to ``jobs`` children at once and gives each test a time limit
(``timeout`` seconds plus ten times what the test took in the session); a child
past it is killed with its whole process group, and the hanging test is
credited with the catch. A child that dies during a test is treated the same
way. Hypothesis tests run without their example database (a mutation's
failures must not be replayed by later sessions) and without shrinking (the
first failure is all the pass needs).

Tests are ordered per mutation by the estimated chance of a catch per second:
``(catches + 1) / (runs + 2)`` over the test's earlier runs in this pass,
divided by its duration, so fast tests that caught before go first.

Finally every test credited with a catch is run once more in a child without
any mutation. One that fails (or hangs) there too is unreliable when run alone
after the session; the mutations it caught are run again without it.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lifecycle.review.mutation import Mutation
from lifecycle.review.mutation_apply import TableConsumers, applied

if TYPE_CHECKING:
    import pytest

__all__ = ["ForkRunner", "Outcome"]

#: Statuses that count as caught: a test failed, hung or died under the mutation.
CAUGHT = frozenset({"caught", "timeout", "crashed"})
_ROUNDS = 5
_MESSAGE_CHARS = 300


@dataclass(slots=True)
class Outcome:
    """What the tests made of one mutation.

    Attributes:
        status: ``caught`` (a test failed), ``timeout`` (a test hung),
            ``crashed`` (the process died during a test), ``survived`` (every
            test passed) or ``error`` (the pass could not tell).
        test: The test that caught it (or hung, or died); None otherwise.
        message: The failure's one-line summary, or what went wrong.
        tests_run: Tests run in the child, the catching one included.
        seconds: Wall time of the child.
    """

    status: str
    test: str | None = None
    message: str = ""
    tests_run: int = 0
    seconds: float = 0.0

    @property
    def caught(self) -> bool:
        """Whether a test noticed the mutation."""
        return self.status in CAUGHT


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MESSAGE_CHARS else line[: _MESSAGE_CHARS - 3] + "..."


def _failure_summary(report: Any) -> str:
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    message = getattr(crash, "message", None) or str(longrepr).strip().splitlines()[-1:] or [""]
    text = message if isinstance(message, str) else message[0]
    return _one_line(f"{report.when}: {text}")


class _Listener:
    """The child's ear: the first failed report of the running test."""

    def __init__(self) -> None:
        self.failure: str | None = None

    def take(self) -> str | None:
        """The failure heard since the last call, if any."""
        failure, self.failure = self.failure, None
        return failure

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and self.failure is None:
            self.failure = _failure_summary(report)


def _calm_hypothesis(items: list[pytest.Item]) -> None:
    """No example database and no shrinking for the Hypothesis tests among ``items``."""
    if "hypothesis" not in sys.modules:
        return
    from hypothesis import Phase, settings

    dropped = {Phase.shrink, getattr(Phase, "explain", Phase.shrink)}
    for item in items:
        test = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if isinstance(current, settings):
            phases = tuple(p for p in current.phases if p not in dropped)
            test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                current, database=None, phases=phases
            )


@dataclass(frozen=True, slots=True)
class _Result:
    outcome: Outcome
    ran: list[str]
    failures: list[tuple[str, str]]


@dataclass(slots=True)
class _Child:
    pid: int
    fd: int
    mutation: Mutation | None
    tests: list[str]
    started: float
    limit: Callable[[str], float]
    buffer: bytes = b""
    current: int | None = None
    deadline: float = float("inf")
    passed: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    error: str = ""
    done: bool = False
    killed: bool = False


def _few(tests: list[str]) -> str:
    shown = ", ".join(tests[:3])
    return shown if len(tests) <= 3 else f"{shown} and {len(tests) - 3} more"


def _kill(child: _Child) -> None:
    """Kill ``child`` and everything its tests started (its process group)."""
    child.killed = True
    with suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


@contextmanager
def _reaping(running: dict[int, tuple[int, _Child]]) -> Iterator[None]:
    """On any exception (an interrupt included), kill and reap the children still running.

    They run in process groups of their own, which a terminal's interrupt does not reach.
    """
    try:
        yield
    except BaseException:
        for _, child in running.values():
            _kill(child)
            with suppress(ChildProcessError):
                os.waitpid(child.pid, 0)
            os.close(child.fd)
        raise


class ForkRunner:
    """Runs tests against mutated tables in forked children (see the module docstring).

    Args:
        session: The pytest session whose items are run again.
        items: The items by node id.
        seconds: How long each test took in the session.
        consumers: What a mutation changes besides the rows.
        jobs: Children run at once.
        timeout: Seconds every test may take in a child, on top of ten times
            its duration in the session.
        quiet: Called first thing in each child, to stop the session's own
            recording there.
    """

    def __init__(
        self,
        session: pytest.Session,
        items: dict[str, pytest.Item],
        seconds: dict[str, float],
        consumers: TableConsumers,
        *,
        jobs: int = 1,
        timeout: float = 60.0,
        quiet: Callable[[], None] = lambda: None,
    ) -> None:
        self.session = session
        self.items = items
        self.seconds = seconds
        self.consumers = consumers
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.quiet = quiet
        self.runs: Counter[str] = Counter()
        self.catches: Counter[str] = Counter()
        #: Tests that failed or hung when run alone without a mutation, and how.
        self.unreliable: dict[str, str] = {}
        #: Tests run in children in all.
        self.test_runs = 0
        self._checked: set[str] = set()

    # --- ordering -------------------------------------------------------------------

    def _rank(self, test: str) -> float:
        chance = (self.catches[test] + 1) / (self.runs[test] + 2)
        return -chance / max(self.seconds.get(test, 0.0), 1e-3)

    def _order(self, tests: list[str]) -> list[str]:
        return sorted(tests, key=lambda t: (self._rank(t), t))

    def _limit(self, test: str) -> float:
        return self.timeout + 10.0 * self.seconds.get(test, 0.0)

    # --- the child ------------------------------------------------------------------

    def _child_main(
        self, mutation: Mutation | None, tests: list[str], stop_first: bool, write_fd: int
    ) -> int:
        with suppress(OSError):  # its own group: a timeout kills what its tests started too
            os.setpgid(0, 0)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        out = os.fdopen(write_fd, "w", buffering=1, encoding="utf-8")
        try:
            self.quiet()
            config = self.session.config
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                config.pluginmanager.unregister(reporter)
            listener = _Listener()
            config.pluginmanager.register(listener, "lifecycle-mutation-listener")
            items = [self.items[t] for t in tests]
            _calm_hypothesis(items)
            context = applied(mutation, self.consumers) if mutation else nullcontext()
            with context:
                for i, item in enumerate(items):
                    out.write(f"S {i}\n")
                    # The next test keeps the fixtures it shares with this one.
                    nextitem = items[i + 1] if i + 1 < len(items) else None
                    item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                    failure = listener.take()
                    if failure is None:
                        out.write(f"P {i}\n")
                        continue
                    out.write(f"F {i} {failure}\n")
                    if stop_first:
                        self._teardown()
                        break
            out.write("D\n")
        except BaseException as exc:  # the parent must hear of anything at all
            out.write(f"E {_one_line(f'{type(exc).__name__}: {exc}')}\n")
            return 1
        return 0

    def _teardown(self) -> None:
        """Tear down the fixtures kept for the next test, which will not run."""
        # Best effort: the child exits right after, whatever happens here.
        with suppress(BaseException):
            self.session._setupstate.teardown_exact(None)

    def _spawn(self, mutation: Mutation | None, tests: list[str], stop_first: bool) -> _Child:
        read_fd, write_fd = os.pipe()
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        with warnings.catch_warnings():
            # Python 3.12+ warns when forking a process that has threads (a test
            # may leave some); the child only runs tests, and a child that hangs
            # is killed at its time limit.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 70
            try:
                os.close(read_fd)
                code = self._child_main(mutation, tests, stop_first, write_fd)
            finally:
                os._exit(code)
        os.close(write_fd)
        with suppress(OSError):  # the child did it first, or already ended
            os.setpgid(pid, pid)
        now = time.monotonic()
        return _Child(pid, read_fd, mutation, tests, now, self._limit, deadline=now + self.timeout)

    # --- the parent -----------------------------------------------------------------

    def _feed(self, child: _Child, data: bytes) -> None:
        child.buffer += data
        *lines, child.buffer = child.buffer.split(b"\n")
        for raw in lines:
            kind, _, rest = raw.decode("utf-8", "replace").partition(" ")
            index, _, message = rest.partition(" ")
            if kind == "S":
                child.current = int(index)
                child.deadline = time.monotonic() + child.limit(child.tests[child.current])
            elif kind == "P":
                child.passed.append(int(index))
                child.current = None
                child.deadline = time.monotonic() + self.timeout
            elif kind == "F":
                child.failed.append((int(index), message))
                child.current = None
                child.deadline = time.monotonic() + self.timeout
            elif kind == "D":
                child.done = True
            elif kind == "E":
                child.error = rest

    def _finish(self, child: _Child) -> _Result:
        """The child's outcome, the tests it ran and each (test, why) that failed in it."""
        os.close(child.fd)
        _, wait_status = os.waitpid(child.pid, 0)
        seconds = time.monotonic() - child.started
        ran = [child.tests[i] for i in child.passed] + [child.tests[i] for i, _ in child.failed]
        failures = [(child.tests[i], m) for i, m in child.failed]
        if child.current is not None:
            test = child.tests[child.current]
            ran.append(test)
            if child.killed:
                failures.append((test, f"timed out after {self._limit(test):.0f} s"))
            else:
                code = os.waitstatus_to_exitcode(wait_status)
                failures.append((test, f"the process died (exit status {code})"))
        self.test_runs += len(ran)
        if child.mutation is not None:
            for test in ran:
                self.runs[test] += 1
        if child.error:
            return _Result(Outcome("error", None, child.error, len(ran), seconds), ran, failures)
        if failures:
            test, message = failures[0]
            status = "caught"
            if child.current is not None and test == child.tests[child.current]:
                status = "timeout" if child.killed else "crashed"
            if child.mutation is not None:
                self.catches[test] += 1
            return _Result(Outcome(status, test, message, len(ran), seconds), ran, failures)
        if not child.done:
            why = (
                f"timed out after {self.timeout:g} s outside any test"
                if child.killed
                else f"the child ended early (exit status {os.waitstatus_to_exitcode(wait_status)})"
            )
            return _Result(Outcome("error", None, why, len(ran), seconds), ran, failures)
        return _Result(Outcome("survived", None, "", len(ran), seconds), ran, failures)

    def _drive(self, jobs: list[tuple[Mutation | None, list[str], bool]]) -> list[_Result]:
        """Run each job ``(mutation, tests, stop at first failure)``; results in job order."""
        results: list[_Result | None] = [None] * len(jobs)
        pending = list(enumerate(jobs))
        running: dict[int, tuple[int, _Child]] = {}
        with selectors.DefaultSelector() as selector, _reaping(running):
            while pending or running:
                while pending and len(running) < self.jobs:
                    index, (mutation, tests, stop_first) = pending.pop(0)
                    ordered = self._order(tests) if mutation is not None else tests
                    child = self._spawn(mutation, ordered, stop_first)
                    running[child.fd] = (index, child)
                    selector.register(child.fd, selectors.EVENT_READ)
                now = time.monotonic()
                wait = min(c.deadline for _, c in running.values()) - now
                for key, _ in selector.select(max(0.0, min(wait, 5.0))):
                    index, child = running[key.fd]
                    data = os.read(child.fd, 65536)
                    if data:
                        self._feed(child, data)
                        continue
                    selector.unregister(child.fd)
                    del running[child.fd]
                    results[index] = self._finish(child)
                now = time.monotonic()
                for _, child in list(running.values()):
                    if now >= child.deadline and not child.killed:
                        _kill(child)
        return [r for r in results if r is not None]

    def run(self, plans: list[tuple[Mutation, list[str]]]) -> dict[Mutation, Outcome]:
        """Run each mutation against its tests; check the catchers; return every outcome."""
        # The session's objects never change in a child: keeping them out of the
        # collector's sight there spares the copy-on-write of every page it would scan.
        gc.collect()
        gc.freeze()
        try:
            return self._run(plans)
        finally:
            gc.unfreeze()

    def _run(self, plans: list[tuple[Mutation, list[str]]]) -> dict[Mutation, Outcome]:
        outcomes: dict[Mutation, Outcome] = {}
        todo = plans
        tests_of = dict(plans)
        for _ in range(_ROUNDS):
            jobs: list[tuple[Mutation | None, list[str], bool]] = []
            for mutation, tests in todo:
                usable = [t for t in tests if t not in self.unreliable]
                if usable:
                    jobs.append((mutation, usable, True))
                else:
                    outcomes[mutation] = Outcome(
                        "error", None,
                        "only tests that fail when run again alone reach the edge: "
                        + _few(tests),
                    )
            for (job_mutation, _, _), result in zip(jobs, self._drive(jobs), strict=True):
                assert job_mutation is not None
                outcomes[job_mutation] = result.outcome
            self._check_catchers(outcomes)
            todo = [
                (m, tests_of[m])
                for m, o in outcomes.items()
                if o.caught and o.test in self.unreliable
            ]
            if not todo:
                break
        for mutation, outcome in outcomes.items():
            if outcome.caught and outcome.test in self.unreliable:
                outcomes[mutation] = Outcome(
                    "error", outcome.test,
                    f"caught only by a test that also fails without the mutation: "
                    f"{self.unreliable[outcome.test or '']}",
                    outcome.tests_run, outcome.seconds,
                )
        return outcomes

    def _check_catchers(self, outcomes: dict[Mutation, Outcome]) -> None:
        """Run each new catcher alone without a mutation; note those that fail then too."""
        while True:
            catchers = sorted(
                {o.test for o in outcomes.values() if o.caught and o.test}
                - self._checked - set(self.unreliable)
            )
            if not catchers:
                return
            (result,) = self._drive([(None, catchers, False)])
            for test, why in result.failures:
                self.unreliable[test] = why
            self._checked.update(result.ran)
            if result.outcome.status == "error" and not result.ran:
                for test in catchers:
                    self.unreliable.setdefault(test, result.outcome.message)
