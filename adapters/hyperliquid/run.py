"""``lifecycle run``: quote the configured ladder on Hyperliquid, journaled, until stopped.

Usage::

    lifecycle run --config PATH [--url URL] [--dry-run] [--journal DIR]
                  [--duration S] [--log-level LEVEL]

(or ``python -m lifecycle.adapters.hyperliquid.run`` with the same arguments).

* The network is the configuration's ``exchange.network``: testnet unless the file
  says ``network: mainnet``. The URL is ``--url``, else ``exchange.url``, else the
  network's own; mainnet's URL with any network but ``mainnet`` is refused, so real
  money is never traded by default.
* The key is read as ``exchange`` names it (``signer_env``, or ``wallet_file`` with
  ``wallet_unlock_env``); it never appears in a log, an error or the journal.
  With ``account_address`` the key is an agent wallet's, and every query names
  the account.
* ``--journal DIR`` (default ``./lifecycle-run``) holds the journal: a run that
  finds one there recovers from it (after a crash or a stop) and fetches the
  fills it may have missed.
* ``--dry-run`` signs and logs every action and sends none (queries still go):
  each command is answered as refused with ``dry run: not sent``.
* SIGINT (Ctrl-C) or SIGTERM, or ``--duration`` seconds: quoting stops, every order
  of ours is cancelled, the engine syncs with the exchange, and the command exits 0.

Exit status: 0 after a clean stop; 2 for a problem the user fixes (configuration,
key, coin, ``szDecimals``, journal, the ``hyperliquid`` extra missing); 1 when the
exchange cannot be reached, or when the stop ends with orders of ours not known to
be gone (each named in a warning).
Theory of operation: :mod:`.run_session`; the market view and the quoting
cycle: :mod:`.run_market`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .run_session import Settings

__all__ = ["MAINNET_URL", "TESTNET_URL", "add_arguments", "main", "missing_extra", "run"]

#: Hyperliquid's mainnet (real money).
MAINNET_URL = "https://api.hyperliquid.xyz"
#: Hyperliquid's testnet.
TESTNET_URL = "https://api.hyperliquid-testnet.xyz"
_MAINNET_HOST = "api.hyperliquid.xyz"
#: Libraries whose DEBUG lines are shown only with ``--log-level DEBUG``.
_CHATTY = ("httpx", "httpcore", "websockets", "asyncio", "aiohttp")
#: Each request's bound (connect, read, write): an ``/exchange`` without an answer
#: by then is ambiguous and resolved by query.
HTTP_TIMEOUT_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments to ``parser``."""
    parser.add_argument("--config", required=True, metavar="PATH",
                        help="the configuration file (its quoting, market and exchange sections)")
    parser.add_argument("--url", metavar="URL",
                        help="the exchange's base URL (e.g. a `lifecycle loopback`); default: "
                             "exchange.url, else the network's")
    parser.add_argument("--dry-run", action="store_true",
                        help="sign and log every action, send none")
    parser.add_argument("--journal", default="lifecycle-run", metavar="DIR",
                        help="the journal's directory; recovered from when it holds one "
                             "(default: ./lifecycle-run)")
    parser.add_argument("--duration", type=float, metavar="S",
                        help="stop after S seconds (default: run until SIGINT or SIGTERM)")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="the lowest level logged to stderr (default: INFO)")


def _url(args: argparse.Namespace, exchange_url: str, mainnet: bool) -> str:
    from .run_session import RunError

    url = args.url or exchange_url or (MAINNET_URL if mainnet else TESTNET_URL)
    where = "--url" if args.url else "exchange.url"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RunError(f"{where} {url!r}: expected http://HOST[:PORT] or https://HOST")
    if parts.hostname.lower() == _MAINNET_HOST and not mainnet:
        raise RunError(
            f"{where} {url!r} is Hyperliquid's mainnet, but exchange.network is testnet: "
            "say `network: mainnet` in the exchange section to trade real money"
        )
    return url.rstrip("/")


def _settings(args: argparse.Namespace) -> Settings:
    from lifecycle.config import ConfigError, Network, load_config

    from .keys import KeyLoadError, load_credentials
    from .run_session import RunError, Settings

    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise RunError(f"--duration {args.duration}: expected a number of seconds > 0")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        raise RunError(str(exc)) from None
    exchange = config.exchange
    mainnet = exchange.network is Network.MAINNET
    url = _url(args, exchange.url, mainnet)
    try:
        credentials = load_credentials(
            key_env=exchange.signer_env or None, keystore=exchange.wallet_file or None,
            passphrase_env=exchange.wallet_unlock_env or None,
            account_address=exchange.account_address or None,
            vault_address=exchange.vault_address or None,
        )
    except (KeyLoadError, ValueError) as exc:
        raise RunError(f"exchange: {exc}") from None
    return Settings(config=config, credentials=credentials, url=url, mainnet=mainnet,
                    journal=Path(args.journal), dry_run=args.dry_run,
                    duration_s=args.duration)


def _configure_logging(level: str) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")


def missing_extra(exc: ImportError) -> str:
    """What to say when a library of the ``hyperliquid`` extra is not installed."""
    return (
        f"{exc.name or 'a library'} is not installed; the Hyperliquid adapter needs the "
        "extra: pip install 'order-lifecycle[hyperliquid]'"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``lifecycle run`` with parsed ``args``; return the exit status."""
    from lifecycle.core.errors import TimeWentBackwards
    from lifecycle.journal import JournalCorrupt, NotAJournal, ReplayDivergence

    try:
        from .run_session import RunError, SessionFault, WallClockLoop
    except ImportError as exc:
        print(f"lifecycle run: {missing_extra(exc)}", file=sys.stderr)
        return 2

    _configure_logging(args.log_level)
    log = logging.getLogger("lifecycle.hyperliquid.run")
    try:
        settings = _settings(args)
        network = "mainnet" if settings.mainnet else "testnet"
        log.info("lifecycle run: %s on %s (%s) for %s, journal %s%s",
                 settings.config.market.coin, settings.url, network,
                 settings.credentials.query_address, settings.journal,
                 ", dry run" if settings.dry_run else "")
        if settings.mainnet:
            log.warning("trading on mainnet: real money")
        with asyncio.Runner(loop_factory=WallClockLoop) as runner:
            return runner.run(_main(settings))
    except RunError as exc:
        print(f"lifecycle run: {exc}", file=sys.stderr)
        return exc.status
    except SessionFault as exc:
        print(f"lifecycle run: the trading session failed: {exc} (the traceback and the "
              "last-resort cancel's outcome are in the log above)", file=sys.stderr)
        return 1
    except (NotAJournal, JournalCorrupt, ReplayDivergence, TimeWentBackwards, OSError) as exc:
        print(f"lifecycle run: --journal {args.journal}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Only before the session's own handlers are in place (while connecting).
        print("lifecycle run: interrupted before trading began", file=sys.stderr)
        return 130


async def _main(settings: Settings) -> int:
    import httpx

    from .run_session import trade

    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
        return await trade(settings, client)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run (``python -m lifecycle.adapters.hyperliquid.run``)."""
    parser = argparse.ArgumentParser(
        prog="lifecycle run", description="Quote the configured ladder on Hyperliquid."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
