"""What no command lets a user see: a Python traceback for something they did.

Theory of operation
-------------------
:func:`run_guarded` runs a command and turns the ways a user can end it early,
or point it at the wrong place, into one line on stderr and an exit status:

* standard output closed by its reader (``lifecycle simulate | head -1``):
  nothing more is written, standard output is pointed at the null device so
  that the interpreter's final flush cannot fail again, and the status is
  :data:`BROKEN_PIPE` (141, as a shell reports a writer killed by SIGPIPE).
  Standard output is flushed inside the guard, so a closed pipe is met here
  and not at interpreter exit, where it would print "Exception ignored".
* Ctrl-C (``KeyboardInterrupt``): ``interrupted``, status :data:`INTERRUPTED`
  (130). ``lifecycle simulate`` catches its first Ctrl-C itself and prints
  the partial report before returning 130.
* a configuration with problems (:class:`~lifecycle.config.ConfigError`): the
  problems, status 2.
* any other ``OSError`` (a full disk, a file that vanished): the error's text,
  status 1.

Anything else is a bug of the program and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable

__all__ = ["BROKEN_PIPE", "INTERRUPTED", "run_guarded"]

#: Exit status when standard output was closed early: 128 + SIGPIPE.
BROKEN_PIPE = 141
#: Exit status after Ctrl-C: 128 + SIGINT.
INTERRUPTED = 130


def run_guarded(body: Callable[[], int]) -> int:
    """Run ``body`` (a command) and return its exit status, or the guard's.

    ``SystemExit`` (argparse's usage errors, ``--help``, ``--version``) passes
    through, after standard output is flushed.
    """
    from lifecycle.config import ConfigError

    try:
        try:
            return body()
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        _mute_stdout()
        return BROKEN_PIPE
    except KeyboardInterrupt:
        _say("lifecycle: interrupted")
        return INTERRUPTED
    except ConfigError as exc:
        _say(str(exc))
        return 2
    except OSError as exc:
        _say(f"lifecycle: {exc}")
        return 1


def _mute_stdout() -> None:
    """Point file descriptor 1 at the null device: what is still buffered goes nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # standard output is no file descriptor (a test's capture): nothing to mute
    finally:
        os.close(devnull)


def _say(line: str) -> None:
    # When stderr is closed too, the exit status is all that can be said.
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr, flush=True)
