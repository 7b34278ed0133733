"""The ``lifecycle`` command.

Subcommands:

* ``lifecycle diagram [--out DIR]``: render the lifecycle from the table into
  ``DIR/lifecycle.{dot,svg,png}`` (default ``diagrams``).
* ``lifecycle check-config PATH``: report every problem of a config file, with
  its key path; exit status 1 when there is any.
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

Both exit with status 2 when Graphviz ``dot`` is missing.

* ``lifecycle simulate [--seed N] [--duration S] [--faults none|default|harsh]
  [--config PATH] [--json] [--out DIR] [--keep-orders] [--quiet] [--verbose]``:
  run the engine, the runtime and a ladder quoter against the simulated
  exchange on a virtual clock (default: one hour, ``default`` faults), print
  the report (``--json``: as JSON) and write ``DIR/simulation.{dot,svg}``
  (default ``diagrams``). Exit status 1 when an invariant counter is not 0.
* ``lifecycle loopback [--port N] [--account ADDRESS ...] [--faults
  none|default|harsh] [--seed N]``: run a Hyperliquid-compatible exchange on
  127.0.0.1, backed by the simulated exchange, in real time; its first line
  is ``listening on http://HOST:PORT``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.config import ConfigError, check_config, config_warnings, load_config

if TYPE_CHECKING:
    from lifecycle.journal import LoadedJournal

__all__ = ["main"]


def _diagram(args: argparse.Namespace) -> int:
    from lifecycle.review.diagram import render_lifecycle

    for path in render_lifecycle(args.out):
        print(f"wrote {path}")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    problems = check_config(args.path)
    if problems:
        print(f"{args.path}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  {problem.path}: {problem.message}")
        return 1
    # Valid: warnings (settings that cannot take effect) are shown, never fail.
    warnings = config_warnings(load_config(args.path))
    if not warnings:
        print(f"{args.path}: ok")
        return 0
    print(f"{args.path}: ok, {len(warnings)} warning(s)")
    for warning in warnings:
        print(f"  warning: {warning.path}: {warning.message}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lifecycle.sim.demo import run_demo

    config = load_config(args.config) if args.config else None
    run_demo(config)
    return 0


def _load(journal: str) -> LoadedJournal | None:
    from lifecycle.journal import JournalCorrupt, load_journal

    try:
        return load_journal(journal)
    except (OSError, JournalCorrupt) as exc:
        print(f"cannot read journal {journal}: {exc}", file=sys.stderr)
        return None


def _trace(args: argparse.Namespace) -> int:
    from lifecycle.core.errors import UnknownOrder
    from lifecycle.review.report import find_order, order_paths, write_trace

    loaded = _load(args.journal)
    if loaded is None:
        return 2
    try:
        path = find_order(order_paths(loaded.records), args.id)
    except UnknownOrder:
        print(f"no order {args.id!r} in journal {loaded.path}", file=sys.stderr)
        return 1
    print(path.text())
    return _write(lambda: write_trace(path, args.out))


def _report(args: argparse.Namespace) -> int:
    from lifecycle.review.report import summarize

    loaded = _load(args.journal)
    if loaded is None:
        return 2
    summary = summarize(loaded)
    print(summary.text())
    if args.html is not None:
        from lifecycle.review.page import write_review_page

        try:
            page = write_review_page(loaded, args.html)
        except OSError as exc:
            print(f"cannot write the review page into {args.html}: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {page}")
    out = args.out if args.out is not None else loaded.path.parent
    return _write(lambda: summary.write_coverage(out))


def _simulate(args: argparse.Namespace) -> int:
    from lifecycle.sim import simulate_command

    return simulate_command(
        seed=args.seed, duration_s=args.duration, faults=args.faults,
        config=load_config(args.config) if args.config else None, as_json=args.json,
        out=args.out, keep_orders=args.keep_orders, quiet=args.quiet, verbose=args.verbose,
        restart_at_s=args.restart_at, downtime_s=args.downtime, journal_dir=args.journal,
        restart_from_journal=not args.restart_empty,
    )


def _write(render: Callable[[], list[Path]]) -> int:
    import graphviz

    try:
        written = render()
    except graphviz.ExecutableNotFound:
        print("cannot draw: Graphviz `dot` is not installed", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def _loopback(args: argparse.Namespace) -> int:
    from lifecycle.adapters.hyperliquid.loopback.cli import run

    return run(args)


def _sweep(args: argparse.Namespace) -> int:
    from lifecycle.sim.sweep import sweep_command

    return sweep_command(args, sys.stdout, sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="lifecycle", description="Order lifecycle tracking as explicit state machines."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("diagram", help="render the lifecycle diagram from the table")
    p.add_argument("--out", default="diagrams", help="output directory (default: diagrams)")
    p.set_defaults(run=_diagram)
    p = sub.add_parser("check-config", help="report every problem of a config file")
    p.add_argument("path", help="the YAML file to check")
    p.set_defaults(run=_check_config)
    p = sub.add_parser("demo", help="drive a scripted lifecycle through the engine")
    p.add_argument("--config", help="a config file (default: built-in defaults)")
    p.set_defaults(run=_demo)
    p = sub.add_parser("trace", help="draw one journaled order's path over the lifecycle")
    p.add_argument("id", help="a cloid (any accepted form) or an oid, current or prior")
    p.add_argument("--journal", required=True, help="the journal file or its run directory")
    p.add_argument("--out", help="output name for .dot/.svg/.png (default: trace-<id>)")
    p.set_defaults(run=_trace)
    p = sub.add_parser("report", help="summarize a journaled run and draw its coverage")
    p.add_argument("--journal", required=True, help="the journal file or its run directory")
    p.add_argument("--out", help="directory for coverage.svg/png (default: the journal's)")
    p.add_argument("--html", metavar="DIR",
                   help="also write a self-contained review page to DIR/index.html")
    p.set_defaults(run=_report)
    p = sub.add_parser("simulate", help="run the engine against the simulated exchange")
    p.add_argument("--seed", type=int, default=1, help="seed of the exchange (default: 1)")
    p.add_argument("--duration", type=float, default=3600.0,
                   help="simulated seconds of quoting (default: 3600)")
    p.add_argument("--faults", choices=("none", "default", "harsh"), default="default",
                   help="fault profile of the exchange (default: default)")
    p.add_argument("--config", help="a config file (default: built-in defaults)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", default="diagrams",
                   help="directory for simulation.dot/svg (default: diagrams)")
    p.add_argument("--keep-orders", action="store_true",
                   help="leave the quotes resting at the end instead of cancelling them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="let the engine's warnings through")
    p.add_argument("--restart-at", type=float, metavar="SECONDS",
                   help="stop the bot abruptly this many simulated seconds in and bring "
                        "it back from its journal")
    p.add_argument("--downtime", type=float, default=10.0, metavar="SECONDS",
                   help="how long the bot stays down at --restart-at (default: 10)")
    p.add_argument("--journal", metavar="DIR",
                   help="journal the run into DIR/journal.jsonl and keep it (for "
                        "`lifecycle trace` and `lifecycle report`); default: none, or a "
                        "temporary one with --restart-at")
    p.add_argument("--restart-empty", action="store_true",
                   help="with --restart-at, bring the bot back with an empty engine instead "
                        "of its journal (shows what the journal prevents; fails the invariants)")
    p.set_defaults(run=_simulate)

    from lifecycle.sim.sweep import add_sweep_arguments

    p = sub.add_parser("sweep", help="run many restart simulations at once, in parallel")
    add_sweep_arguments(p)
    p.set_defaults(run=_sweep)
    from lifecycle.adapters.hyperliquid.loopback.cli import add_arguments as add_loopback_arguments

    p = sub.add_parser("loopback", help="run a Hyperliquid-compatible exchange on 127.0.0.1")
    add_loopback_arguments(p)
    p.set_defaults(run=_loopback)
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
