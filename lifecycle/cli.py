"""The ``lifecycle`` command.

Subcommands:

* ``lifecycle diagram [--out DIR]``: render the lifecycle from the table into
  ``DIR/lifecycle.{dot,svg,png}`` (default ``diagrams``).
* ``lifecycle check-config PATH``: report every problem of a config file, with
  its key path; exit status 1 when there is any.
* ``lifecycle demo [--config PATH]``: run a scripted session through the engine,
  printing each transition.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lifecycle.config import ConfigError, check_config, load_config

__all__ = ["main"]


def _diagram(args: argparse.Namespace) -> int:
    from lifecycle.diagram import render_lifecycle

    for path in render_lifecycle(args.out):
        print(f"wrote {path}")
    return 0


def _check_config(args: argparse.Namespace) -> int:
    problems = check_config(args.path)
    if not problems:
        print(f"{args.path}: ok")
        return 0
    print(f"{args.path}: {len(problems)} problem(s)")
    for problem in problems:
        print(f"  {problem.path}: {problem.message}")
    return 1


def _demo(args: argparse.Namespace) -> int:
    from lifecycle.demo import run_demo

    config = load_config(args.config) if args.config else None
    run_demo(config)
    return 0


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
    args = parser.parse_args(argv)
    try:
        status: int = args.run(args)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
