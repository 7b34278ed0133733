"""The subcommands of ``lifecycle``: one function per subcommand, ``args`` in, exit status out.

Each imports what it needs when it runs, so that ``import lifecycle.cli`` (and
``lifecycle --help``) loads neither Graphviz nor the runtime nor the adapters.
An output place is checked before any work is done (a directory that is a
file, or under a file, or not writable: status 2, nothing written), and a
write that fails anyway is reported the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.config import ConfigError, check_config, config_warnings, load_config

if TYPE_CHECKING:
    from lifecycle.config import ConfigProblem, LifecycleConfig
    from lifecycle.journal import LoadedJournal

__all__ = [
    "DEFAULTS_RESOURCE",
    "check_config_command",
    "default_config_text",
    "defaults_command",
    "demo_command",
    "diagram_command",
    "loopback_command",
    "report_command",
    "run_command",
    "simulate_command",
    "sweep_command",
    "trace_command",
]

#: The commented default configuration shipped in the package (``config.yaml``).
DEFAULTS_RESOURCE = ("lifecycle.config", "defaults.yaml")


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _place_problem(option: str, directory: str | Path, what: str | None = None) -> bool:
    """Report why ``directory`` cannot take output files; True when it cannot.

    The line starts ``OPTION DIRECTORY:``, or ``cannot write WHAT into DIRECTORY:``.
    """
    from lifecycle.review.diagram import out_dir_problem

    why = out_dir_problem(directory)
    if why is not None:
        where = f"{option} {directory}" if what is None else f"cannot write {what} into {directory}"
        _err(f"{where}: {why}")
    return why is not None


def _write(render: Callable[[], list[Path]], where: str | Path) -> int:
    """Run ``render`` (which writes files into ``where``) and list what it wrote."""
    import graphviz

    from lifecycle.review.diagram import DOT_MISSING

    try:
        written = render()
    except graphviz.ExecutableNotFound:
        _err(f"cannot draw SVG or PNG (any .dot file is written): {DOT_MISSING}")
        return 2
    except graphviz.CalledProcessError as exc:
        _err(f"cannot draw: Graphviz `dot` failed (exit status {exc.returncode})")
        return 2
    except OSError as exc:
        _err(f"cannot write into {where}: {exc.strerror or exc}")
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


def diagram_command(args: argparse.Namespace) -> int:
    """``lifecycle diagram``: the lifecycle from the table, into ``--out``."""
    from lifecycle.review.diagram import render_lifecycle

    if _place_problem("--out", args.out):
        return 2
    return _write(lambda: render_lifecycle(args.out), args.out)


def default_config_text() -> str:
    """The commented default configuration, as shipped in the package."""
    from importlib.resources import files

    package, name = DEFAULTS_RESOURCE
    return files(package).joinpath(name).read_text(encoding="utf-8")


def defaults_command(args: argparse.Namespace) -> int:
    """``lifecycle defaults``: print the commented default configuration."""
    sys.stdout.write(default_config_text())
    return 0


def check_config_command(args: argparse.Namespace) -> int:
    """``lifecycle check-config PATH``: every problem at once, then the warnings."""
    config: LifecycleConfig | None = None
    problems: list[ConfigProblem]
    if args.path == "-":
        from lifecycle.config.loader import parse_config_text

        try:
            config = parse_config_text(sys.stdin.read(), source="<stdin>")
            problems = []
        except ConfigError as exc:
            problems = list(exc.problems)
        except UnicodeDecodeError as exc:
            _err(f"<stdin>: cannot read: {exc.reason}")
            return 1
    else:
        problems = check_config(args.path)
    name = "<stdin>" if args.path == "-" else args.path
    if problems:
        print(f"{name}: {len(problems)} problem(s)")
        for problem in problems:
            print(f"  {problem.path}: {problem.message}")
        return 1
    # Valid: warnings (settings that cannot take effect) are shown, never fail.
    warnings = config_warnings(config if config is not None else load_config(args.path))
    if not warnings:
        print(f"{name}: ok")
        return 0
    print(f"{name}: ok, {len(warnings)} warning(s)")
    for warning in warnings:
        print(f"  warning: {warning.path}: {warning.message}")
    return 0


def demo_command(args: argparse.Namespace) -> int:
    """``lifecycle demo``: a scripted session through the engine."""
    from lifecycle.sim.demo import run_demo

    config = load_config(args.config) if args.config else None
    run_demo(config)
    return 0


def _load(journal: str) -> LoadedJournal | None:
    from lifecycle.journal import JournalCorrupt, load_journal

    try:
        return load_journal(journal)
    except (OSError, JournalCorrupt) as exc:
        _err(f"cannot read journal {journal}: {exc}")
        return None


def trace_command(args: argparse.Namespace) -> int:
    """``lifecycle trace ID``: one journaled order's path, drawn over the lifecycle."""
    from lifecycle.core.errors import UnknownOrder
    from lifecycle.review.report import find_order, order_paths, write_trace

    if args.out is not None and _place_problem("--out", Path(args.out).parent):
        return 2
    loaded = _load(args.journal)
    if loaded is None:
        return 2
    try:
        path = find_order(order_paths(loaded.records), args.id)
    except UnknownOrder:
        _err(f"no order {args.id!r} in journal {loaded.path}")
        return 1
    print(path.text())
    where = Path(args.out).parent if args.out is not None else Path.cwd()
    return _write(lambda: write_trace(path, args.out), where)


def report_command(args: argparse.Namespace) -> int:
    """``lifecycle report``: a journaled run's summary, coverage diagram and review page."""
    from lifecycle.review.report import summarize

    if args.out is not None and _place_problem("--out", args.out):
        return 2
    if args.html is not None and _place_problem("--html", args.html, "the review page"):
        return 2
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
            _err(f"cannot write the review page into {args.html}: {exc.strerror or exc}")
            return 2
        print(f"wrote {page}")
    out = args.out if args.out is not None else loaded.path.parent
    return _write(lambda: summary.write_coverage(out), out)


def simulate_command(args: argparse.Namespace) -> int:
    """``lifecycle simulate``: see :mod:`lifecycle.sim.command`."""
    from lifecycle.sim import simulate_command as run

    return run(
        seed=args.seed, duration_s=args.duration, faults=args.faults,
        config=load_config(args.config) if args.config else None, as_json=args.json,
        out=args.out, keep_orders=args.keep_orders, quiet=args.quiet, verbose=args.verbose,
        restart_at_s=args.restart_at, downtime_s=args.downtime, journal_dir=args.journal,
        restart_from_journal=not args.restart_empty, usage_error=args.usage_error,
        adapter=args.adapter,
    )


def sweep_command(args: argparse.Namespace) -> int:
    """``lifecycle sweep``: see :mod:`lifecycle.sim.sweep`."""
    from lifecycle.sim.sweep import sweep_command as run

    return run(args, sys.stdout, sys.stderr)


def loopback_command(args: argparse.Namespace) -> int:
    """``lifecycle loopback``: see ``lifecycle.adapters.hyperliquid.loopback.cli``."""
    if TYPE_CHECKING:
        # The package is installed as ``lifecycle.adapters`` (setup.cfg package_dir);
        # mypy checks it from its source directory under its own name.
        from adapters.hyperliquid.loopback.cli import run
    else:
        from lifecycle.adapters.hyperliquid.loopback.cli import run
    return run(args)


def run_command(args: argparse.Namespace) -> int:
    """``lifecycle run``: see ``lifecycle.adapters.hyperliquid.run``."""
    if TYPE_CHECKING:
        from adapters.hyperliquid.run import run
    else:
        from lifecycle.adapters.hyperliquid.run import run
    return run(args)
