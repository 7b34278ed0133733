"""The review page in a real browser: headless Chromium loads it from disk and runs it.

Chromium is driven over its DevTools protocol (a websocket; its port comes from the
``DevToolsActivePort`` file in a fresh profile). Every wait is on a condition the
browser reports (an answer, the page's load event), with a timeout only as a safety
net. Skipped only when ``/usr/bin/chromium`` is absent (``apt-get install chromium``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_review_page import Run, scripted_journal
from websockets.sync.client import ClientConnection, connect

from lifecycle.journal import load_journal
from lifecycle.review.page import write_review_page

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium (Debian: apt-get install chromium)"
)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--remote-debugging-port=0",
)
#: Run through util-linux's setpriv where it is, so that the browser is terminated when
#: the test process dies, even killed (a parent-death signal, kept across the exec).
SETPRIV = shutil.which("setpriv")
LAUNCH = (SETPRIV, "--pdeathsig", "TERM", "--") if SETPRIV else ()
#: Safety nets only: every wait ends as soon as its condition holds.
START_S = 60.0
ANSWER_S = 30.0


class Browser:
    """One headless Chromium with one page, spoken to over the DevTools protocol.

    A context manager: leaving it closes the browser, and stops the process whatever
    happened (the process is reaped; a hung one is killed).
    """

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.events: list[dict[str, Any]] = []
        self.session = ""
        self._ids = itertools.count(1)
        self._closing = False
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Browser:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        self.profile.mkdir(parents=True)
        log = self._stack.enter_context((self.profile.parent / "chromium.log").open("wb"))
        process = subprocess.Popen(
            [*LAUNCH, str(CHROMIUM), *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        self._stack.callback(self._stop, process)
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_S
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            # Chromium writes the file once it listens; there is nothing to wait on but it.
            assert process.poll() is None, f"chromium exited with {process.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        port, browser_path = port_file.read_text().splitlines()[:2]
        self.ws: ClientConnection = self._stack.enter_context(connect(
            f"ws://127.0.0.1:{port}{browser_path}", proxy=None, max_size=None,
            open_timeout=ANSWER_S))
        self._stack.callback(self._close_browser)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=self.session)

    def _close_browser(self) -> None:
        with contextlib.suppress(Exception):  # gone already: _stop ends it either way
            self.call("Browser.close")
            self._closing = True

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        """Reap the process: it exits by itself once asked to close; else it is terminated."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=ANSWER_S if self._closing else 0)
            return
        process.terminate()
        try:
            process.wait(timeout=ANSWER_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no answer from chromium in time"
        message: dict[str, Any] = json.loads(self.ws.recv(timeout=remaining))
        if "method" in message:
            self.events.append(message)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send one command and return its result (events meanwhile are kept)."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.monotonic() + ANSWER_S
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == ident:
                assert "error" not in answer, f"{method}: {answer['error']}"
                result: dict[str, Any] = answer["result"]
                return result

    def wait_for(self, method: str, since: int) -> dict[str, Any]:
        """The first event ``method`` of the page among ``self.events[since:]``, or the next."""
        deadline = time.monotonic() + ANSWER_S
        seen = since
        while True:
            for event in self.events[seen:]:
                if event["method"] == method and event.get("sessionId") == self.session:
                    return event
            seen = len(self.events)
            self._receive(deadline)

    def open(self, url: str) -> None:
        """Navigate the page to ``url`` and wait for its load event (its scripts have run)."""
        since = len(self.events)
        self.call("Page.navigate", {"url": url}, session=self.session)
        self.wait_for("Page.loadEventFired", since)

    def js(self, expression: str) -> Any:
        """The value of ``expression`` in the page (an exception fails the test)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                           session=self.session)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def console_errors(self) -> list[str]:
        """Every error the page reported: console errors, uncaught exceptions, log errors
        (a blocked script or style, a failed load)."""
        errors = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(json.dumps(params["exceptionDetails"]))
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                errors.append(json.dumps(params["args"]))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(params["entry"]["text"])
        return errors


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, str]:
    root = tmp_path_factory.mktemp("review")
    run = scripted_journal(root / "run" / "journal.jsonl")
    index = write_review_page(load_journal(run.path), root / "page")
    return run, index.as_uri()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(tmp_path_factory.mktemp("chromium") / "profile") as chromium:
        yield chromium


def visible_rows(browser: Browser) -> list[str]:
    return list(browser.js(
        "[...document.querySelectorAll('#order-body tr.order-row')].map(r => r.dataset.key)"))


def open_trace(browser: Browser) -> dict[str, Any]:
    return dict(browser.js("""(() => {
        const rows = [...document.querySelectorAll('#order-body tr.trace-row')];
        return {keys: rows.map(r => r.dataset.key),
                steps: rows.length ? [...rows[0].querySelectorAll('tr.step')].map(
                    r => r.cells[0].textContent + ' ' + r.cells[2].textContent) : [],
                kinds: rows.length ? [...rows[0].querySelectorAll('.trace-table tbody tr')].map(
                    r => r.className) : []};
    })()"""))


def test_the_page_loads_and_runs_without_console_errors(
    browser: Browser, page: tuple[Run, str]
) -> None:
    _, url = page
    browser.open(url)
    assert browser.js("document.body.dataset.ready") == "true"
    assert browser.console_errors() == []
    assert len(visible_rows(browser)) == 6
    assert browser.js("document.getElementById('order-count').textContent") == "6 of 6 orders"
    counters = browser.js("""Object.fromEntries([...document.querySelectorAll(
        '#counter-body tr')].map(r => [r.dataset.counter, r.className]))""")
    assert counters == {"illegal_transitions_applied": "ok", "refused_remote_events": "bad",
                        "double_counted_fills": "ok"}
    assert browser.js("document.querySelectorAll('#anomaly-kinds details').length") == 2
    # The reject message's "<script>" stayed text: no third script element.
    assert browser.js("document.querySelectorAll('script').length") == 2


def test_filtering_by_a_cloid_leaves_its_row_and_opening_it_shows_its_trace(
    browser: Browser, page: tuple[Run, str]
) -> None:
    run, url = page
    browser.open(url)
    browser.js(f"""(() => {{
        const box = document.getElementById('order-filter');
        box.value = '{run.a}';
        box.dispatchEvent(new Event('input', {{bubbles: true}}));
    }})()""")
    assert visible_rows(browser) == [run.a]
    assert browser.js("document.getElementById('order-count').textContent") == "1 of 6 orders"
    assert open_trace(browser)["keys"] == []
    browser.js("document.querySelector('#order-body tr.order-row a.order-link').click()")
    trace = open_trace(browser)
    assert trace["keys"] == [run.a]
    assert trace["steps"] == [
        "1. pending \u2192 expected (submit)", "2. expected \u2192 live (accept)",
        "3. live \u2192 finalized_protected (finalize)",
        "4. finalized_protected \u2192 tracked (protection_elapsed)",
        "5. tracked \u2192 modifying (modify_request)",
        "6. modifying \u2192 finalized_protected (modify_ack)",
        "7. finalized_protected \u2192 gone (fill_complete)",
    ]
    assert trace["kinds"][-1] == "event"  # the fill delivered again, which moved nothing
    assert browser.js("location.hash") == f"#order={run.a}"
    browser.js("document.querySelector('#order-body tr.order-row').click()")  # closes it
    assert open_trace(browser)["keys"] == []
    assert browser.console_errors() == []


def test_an_anomaly_links_to_its_order_through_any_filter(
    browser: Browser, page: tuple[Run, str]
) -> None:
    run, url = page
    browser.open(url)
    browser.js("""(() => {
        const box = document.getElementById('order-filter');
        box.value = 'rejected';
        box.dispatchEvent(new Event('input', {bubbles: true}));
    })()""")
    assert visible_rows(browser) == [run.b]
    browser.js("document.querySelector('#anomaly-kinds a.order-link').click()")
    assert visible_rows(browser) == [run.e]
    trace = open_trace(browser)
    assert trace["keys"] == [run.e] and trace["kinds"][-3:] == ["refused", "anomaly", "step"]
    assert browser.console_errors() == []


def test_the_address_of_an_order_opens_its_trace(
    browser: Browser, page: tuple[Run, str]
) -> None:
    _, url = page
    browser.open("about:blank")  # a new document: from the page itself, a fragment loads nothing
    browser.open(f"{url}#order=oid%3A900")
    assert open_trace(browser)["keys"] == ["oid:900"]
    assert browser.console_errors() == []


def test_each_column_sorts_both_ways(browser: Browser, page: tuple[Run, str]) -> None:
    run, url = page
    browser.open(url)
    columns = browser.js(
        "[...document.querySelectorAll('#order-head th')].map(th => th.dataset.col)")
    assert columns[:7] == ["key", "oids", "side", "final", "reason", "born", "lifetime"]
    lifetimes = {run.a: 14, run.b: 2, run.c: 7, run.d: 0, run.e: 20, "oid:900": 6}
    by_life = sorted(lifetimes, key=lambda k: lifetimes[k])
    browser.js("document.querySelector('#order-head th[data-col=lifetime] button').click()")
    assert visible_rows(browser) == by_life
    assert browser.js(
        "document.querySelector('#order-head th[data-col=lifetime]').getAttribute('aria-sort')"
    ) == "ascending"
    browser.js("document.querySelector('#order-head th[data-col=lifetime] button').click()")
    assert visible_rows(browser) == by_life[::-1]
    for column in columns:  # every column sorts, and keeps every row
        browser.js(f"document.querySelector('#order-head th[data-col=\"{column}\"] button')"
                   ".click()")
        assert sorted(visible_rows(browser)) == sorted(lifetimes), column
    browser.js("document.querySelector('#order-head th[data-col=side] button').click()")
    sides = browser.js("[...document.querySelectorAll('#order-body tr.order-row')]"
                       ".map(r => r.cells[2].textContent)")
    assert sides == sorted(sides)
    # By current oid as a number (1040 after 900), orders without one last.
    browser.js("document.querySelector('#order-head th[data-col=oids] button').click()")
    assert visible_rows(browser) == [run.a, run.c, "oid:900", run.e, run.b, run.d]
    assert browser.console_errors() == []

