"""The argument parser of ``lifecycle``: every subcommand, its options and its help.

Each subcommand's parser sets ``run`` (the function of
:mod:`lifecycle.cli.commands` that runs it); a subcommand whose options are
added by another module (``sweep``, ``loopback``) is wired as ``loopback`` is:
``add_arguments(parser)`` from that module, then ``run=`` a function here that
imports the module's ``run`` when called.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from lifecycle.cli import commands

__all__ = ["build_parser", "version"]


def version() -> str:
    """The installed distribution's version (``unknown`` when not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("order-lifecycle")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The ``lifecycle`` parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="lifecycle", description="Order lifecycle tracking as explicit state machines."
    )
    parser.add_argument("--version", action="version", version=f"lifecycle {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("diagram", help="render the lifecycle diagram from the table")
    p.add_argument("--out", default="diagrams", help="output directory (default: diagrams)")
    p.set_defaults(run=commands.diagram_command)
    p = sub.add_parser("check-config", help="report every problem of a config file")
    p.add_argument("path", help="the YAML file to check; - reads it from standard input")
    p.set_defaults(run=commands.check_config_command)
    p = sub.add_parser("defaults", help="print the commented default configuration",
                       description="Print config.yaml with every key at its default and "
                                   "what it does: `lifecycle defaults > config.yaml`.")
    p.set_defaults(run=commands.defaults_command)
    p = sub.add_parser("demo", help="drive a scripted lifecycle through the engine")
    p.add_argument("--config", help="a config file (default: built-in defaults)")
    p.set_defaults(run=commands.demo_command)
    p = sub.add_parser("trace", help="draw one journaled order's path over the lifecycle")
    p.add_argument("id", help="a cloid (any accepted form) or an oid, current or prior")
    p.add_argument("--journal", required=True, help="the journal file or its run directory")
    p.add_argument("--out", help="output name for .dot/.svg/.png (default: trace-<id>)")
    p.set_defaults(run=commands.trace_command)
    p = sub.add_parser("report", help="summarize a journaled run and draw its coverage")
    p.add_argument("--journal", required=True, help="the journal file or its run directory")
    p.add_argument("--out", help="directory for coverage.svg/png (default: the journal's)")
    p.add_argument("--html", metavar="DIR",
                   help="also write a self-contained review page to DIR/index.html")
    p.set_defaults(run=commands.report_command)
    _add_simulate(sub)

    from lifecycle.sim.sweep import add_sweep_arguments

    p = sub.add_parser("sweep", help="run many restart simulations at once, in parallel")
    add_sweep_arguments(p)
    p.set_defaults(run=commands.sweep_command)
    if TYPE_CHECKING:
        # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
        # mypy checks it from its source directory under its own name.
        from adapters.hyperliquid.loopback.cli import add_arguments as add_loopback_arguments
        from adapters.hyperliquid.run import add_arguments as add_run_arguments
    else:
        from lifecycle.adapters.hyperliquid.loopback.cli import (
            add_arguments as add_loopback_arguments,
        )
        from lifecycle.adapters.hyperliquid.run import add_arguments as add_run_arguments

    p = sub.add_parser("loopback", help="run a Hyperliquid-compatible exchange on 127.0.0.1")
    add_loopback_arguments(p)
    p.set_defaults(run=commands.loopback_command)
    p = sub.add_parser(
        "run", help="quote the configured ladder on Hyperliquid (testnet unless the config "
        "says mainnet)"
    )
    add_run_arguments(p)
    p.set_defaults(run=commands.run_command)
    return parser


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("simulate", help="run the engine against the simulated exchange")
    p.add_argument("--seed", type=int, default=1, help="seed of the exchange (default: 1)")
    p.add_argument("--duration", type=float, default=3600.0,
                   help="simulated seconds of quoting (default: 3600)")
    p.add_argument("--faults", choices=("none", "default", "harsh"), default="default",
                   help="fault profile of the exchange (default: default)")
    p.add_argument("--config", help="a config file (default: built-in defaults)")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON (every figure of the text report)")
    p.add_argument("--out", default="diagrams",
                   help="directory for simulation.dot/svg (default: diagrams)")
    p.add_argument("--keep-orders", action="store_true",
                   help="leave the quotes resting at the end instead of canceling them")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true",
                   help="let the engine's warnings through (stamped with simulated time)")
    p.add_argument("--restart-at", type=float, metavar="SECONDS",
                   help="stop the bot abruptly this many simulated seconds in and bring "
                        "it back from its journal")
    p.add_argument("--downtime", type=float, metavar="SECONDS",
                   help="how long the bot stays down at --restart-at (default: 10; needs "
                        "--restart-at)")
    p.add_argument("--journal", metavar="DIR",
                   help="journal the run into DIR/journal.jsonl and keep it (for "
                        "`lifecycle trace` and `lifecycle report`); default: none, or a "
                        "temporary one with --restart-at")
    p.add_argument("--restart-empty", action="store_true",
                   help="with --restart-at, bring the bot back with an empty engine instead "
                        "of its journal (shows what the journal prevents; fails the invariants)")
    p.add_argument("--adapter", choices=("simulated", "hyperliquid-loopback"),
                   default="simulated",
                   help="simulated: the simulated exchange's own adapter (default); "
                        "hyperliquid-loopback: the Hyperliquid adapter over real sockets to "
                        "the loopback exchange, in virtual time")
    p.set_defaults(run=commands.simulate_command, usage_error=p.error)
