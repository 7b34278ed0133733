"""``lifecycle loopback``: run the loopback exchange in real time until stopped.

The first line printed is ``listening on http://HOST:PORT``; point any
Hyperliquid client at that URL (the official SDK: ``base_url=``; it signs as
testnet for any URL but mainnet's, which is what the loopback expects unless
``--mainnet``). Ctrl-C or SIGTERM stops it (exit status 0).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import LoopbackExchange

__all__ = ["add_arguments", "main", "run"]

_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
#: The simulated exchange's fault profiles (its PROFILES, named here so that
#: reading the arguments imports nothing heavy).
_FAULTS = ("none", "default", "harsh")


def _is_address(text: str) -> bool:
    """Whether ``text`` is ``0x`` + 40 hex digits."""
    return _ADDRESS.fullmatch(text) is not None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments to ``parser``."""
    parser.add_argument("--port", type=int, default=0,
                        help="the port to listen on (default: 0, any free port)")
    parser.add_argument("--account", action="extend", nargs="+", default=[], metavar="ADDRESS",
                        help="an account allowed to trade (repeatable); none: any signer "
                             "trades as an account of its own")
    parser.add_argument("--agent", action="append", default=[], metavar="AGENT=ACCOUNT",
                        help="approve an agent (API wallet) for an account up front; agents "
                             "are also approved by the approveAgent action")
    parser.add_argument("--faults", choices=_FAULTS, default="default",
                        help="fault profile of the simulated exchange (default: default)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the markets (default: 1)")
    parser.add_argument("--mainnet", action="store_true",
                        help="expect mainnet signatures (default: testnet, as the official "
                             "SDK signs for any URL but mainnet's)")


def _problems(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    problems = []
    if not 0 <= args.port <= 65535:
        problems.append(f"--port {args.port}: a port is 0 to 65535")
    for address in args.account:
        if not _is_address(address):
            problems.append(f"--account {address}: an address is 0x + 40 hex digits")
    agents: dict[str, str] = {}
    for pair in args.agent:
        agent, _, account = pair.partition("=")
        if not (_is_address(agent) and _is_address(account)):
            problems.append(f"--agent {pair}: expected AGENT=ACCOUNT, two 0x addresses")
        elif args.account and account.lower() not in {a.lower() for a in args.account}:
            problems.append(f"--agent {pair}: {account} is not one of the --account addresses")
        else:
            agents[agent] = account
    return problems, agents


def run(args: argparse.Namespace) -> int:
    """Run the loopback until SIGINT or SIGTERM; return the exit status."""
    problems, agents = _problems(args)
    if problems:
        for problem in problems:
            print(f"lifecycle loopback: {problem}", file=sys.stderr)
        return 2
    try:
        from .server import LoopbackExchange
    except ImportError as exc:
        print(f"lifecycle loopback: {exc.name or 'a library'} is not installed; the loopback "
              "needs the extra: pip install 'order-lifecycle[hyperliquid]'", file=sys.stderr)
        return 2

    exchange = LoopbackExchange(
        accounts=args.account, agents=agents, faults=args.faults, seed=args.seed,
        mainnet=args.mainnet, port=args.port,
    )
    try:
        asyncio.run(_serve(exchange, args))
    except OSError as exc:
        print(f"lifecycle loopback: --port {args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(exchange: LoopbackExchange, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    url = await exchange.start()
    try:
        print(f"listening on {url}", flush=True)
        accounts = ", ".join(args.account) if args.account else "any signer (open mode)"
        print(f"accounts: {accounts}; faults: {args.faults}; seed: {args.seed}; "
              f"network: {'mainnet' if args.mainnet else 'testnet'}", flush=True)
        await stop.wait()
    finally:
        await exchange.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run (``python -m lifecycle.adapters.hyperliquid.loopback.cli``)."""
    parser = argparse.ArgumentParser(
        prog="lifecycle loopback",
        description="A Hyperliquid-compatible exchange on 127.0.0.1, backed by the simulated "
                    "exchange.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
