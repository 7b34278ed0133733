"""The command line's log lines: time, level, logger and message, on stderr.

Theory of operation
-------------------
:func:`cli_logging` puts one handler on the root logger while a command runs
and takes it away after, so a program that calls :func:`lifecycle.cli.main`
keeps its own logging as it was. The handler writes to whatever ``sys.stderr``
is when a line is written (not the stream of the moment it was made), and its
:class:`LogFormatter` writes lines like::

    2025-01-31 14:02:07.125 WARNING lifecycle.engine: ...
    sim 1234.500s WARNING lifecycle.engine: ...

The second form is a line logged inside a simulation: the time is the virtual
clock's, in simulated seconds from the start of the run, because the wall
time of a simulated hour that takes seconds says nothing. A line is logged in
a simulation when the thread's running event loop is the runtime's
:class:`~lifecycle.runtime.vloop.VirtualTimeLoop`; the runtime module is only
looked up among the loaded modules, so formatting never imports it (nor anyio).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LogFormatter", "cli_logging", "simulated_time"]

#: Each line: when, level, logger, message.
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def simulated_time() -> float | None:
    """The virtual clock's time when called inside a simulation, else None."""
    vloop = sys.modules.get("lifecycle.runtime.vloop")
    if vloop is None:
        return None  # nothing has loaded the runtime: no simulation can be running
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    if isinstance(loop, vloop.VirtualTimeLoop):
        return float(loop.time())
    return None


class LogFormatter(logging.Formatter):
    """Formats ``time level logger: message``; the time is simulated in a simulation."""

    def __init__(self) -> None:
        """Create the formatter with :data:`LINE_FORMAT`."""
        super().__init__(LINE_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``sim 12.345s`` inside a simulation, else the local wall time to the millisecond."""
        simulated = simulated_time()
        if simulated is not None:
            return f"sim {simulated:.3f}s"
        wall = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        return f"{wall}.{int(record.msecs):03d}"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the ``sys.stderr`` of the moment each line is written."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


@contextmanager
def cli_logging() -> Iterator[logging.Handler]:
    """While inside, log lines (warnings and above, as the loggers let through)
    go to stderr as :class:`LogFormatter` writes them."""
    handler = _StderrHandler()
    handler.setFormatter(LogFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
