"""The ``lifecycle`` command: entry point ``lifecycle.cli:main``, also ``python -m lifecycle``.

Subcommands:

* ``lifecycle diagram [--out DIR]``: render the lifecycle from the table into
  ``DIR/lifecycle.{dot,svg,png}`` (default ``diagrams``), with its legend.
* ``lifecycle check-config PATH``: report every problem of a config file, with
  its key path; ``-`` reads the file from standard input. Exit status 1 when
  there is any.
* ``lifecycle defaults``: print the commented default configuration (the
  ``config.yaml`` shipped in the package), which ``check-config`` accepts.
* ``lifecycle demo [--config PATH]``: run a scripted session through the engine,
  printing each transition.
* ``lifecycle trace ID --journal PATH [--out FILE]``: print one journaled
  order's path and draw it over the lifecycle (``FILE.{dot,svg,png}``, default
  ``trace-<id>``); ID is a cloid in any accepted form or an oid, current or
  prior. Exit status 1 for an unknown id, 2 for an unreadable journal.
* ``lifecycle report --journal PATH [--out DIR] [--html DIR]``: print a
  journaled run's summary (naming the orders worth a trace) and write its
  coverage diagram to ``DIR/coverage.{svg,png}`` (default: the journal's
  directory); ``--html DIR`` also writes the review page ``DIR/index.html``
  (without ``dot``, a note replaces its diagram). Exit status 2 for an
  unreadable journal or an unwritable DIR.

``diagram``, ``trace`` and ``report`` exit with status 2, saying how to
install Graphviz, when its ``dot`` is missing, and with status 2 when an
output place is a file or not writable (checked before anything is done).

* ``lifecycle simulate [--seed N] [--duration S] [--faults none|default|harsh]
  [--config PATH] [--json] [--out DIR] [--keep-orders] [--quiet] [--verbose]
  [--restart-at S [--downtime S] [--restart-empty]] [--journal DIR]``:
  run the engine, the runtime and a ladder quoter against the simulated
  exchange on a virtual clock (default: one hour, ``default`` faults), print
  the report (``--json``: the same figures as JSON) and write
  ``DIR/simulation.{dot,svg}`` (default ``diagrams``). Exit status 1 when an
  invariant counter is not 0, 2 for bad arguments (an option that needs
  another is a usage error), 130 when Ctrl-C stopped it (the partial report
  is printed).
* ``lifecycle sweep ...``: many restart simulations at once
  (:mod:`lifecycle.sim.sweep`).
* ``lifecycle loopback [--port N] [--account ADDRESS ...] [--faults
  none|default|harsh] [--seed N]``: run a Hyperliquid-compatible exchange on
  127.0.0.1, backed by the simulated exchange, in real time; its first line
  is ``listening on http://HOST:PORT``.
* ``lifecycle run --config PATH [--url URL] [--dry-run] [--journal DIR]``:
  quote the configured ladder on Hyperliquid (testnet unless the configuration
  says mainnet), journaled; Ctrl-C or SIGTERM cancels our orders and exits 0
  (see ``lifecycle.adapters.hyperliquid.run``).

Every command: ``lifecycle --version``; no traceback for what a user can do
(:mod:`lifecycle.cli.guard`: a closed standard output exits 141, Ctrl-C 130);
log lines carry time, level and logger (:mod:`lifecycle.cli.logs`).

The parser is :mod:`lifecycle.cli.parser`, the subcommands
:mod:`lifecycle.cli.commands`.
"""

from __future__ import annotations

from collections.abc import Sequence

from lifecycle.cli.guard import run_guarded
from lifecycle.cli.logs import cli_logging

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Raises:
        SystemExit: A usage error (status 2), ``--help`` or ``--version`` (status 0),
            as argparse raises them.
    """
    with cli_logging():
        return run_guarded(lambda: _dispatch(argv))


def _dispatch(argv: Sequence[str] | None) -> int:
    from lifecycle.cli.parser import build_parser

    args = build_parser().parse_args(argv)
    status: int = args.run(args)
    return status
