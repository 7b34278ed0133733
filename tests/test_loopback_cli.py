"""``lifecycle loopback`` prints where it listens first, serves, and stops cleanly.

The command runs in a child process, as a user runs it: its first line names
the URL, the URL answers, SIGTERM ends it with status 0 and no traceback. A
bad argument is refused with a message that names it.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys

import httpx

RUN_CLI = (
    "import sys; from lifecycle.adapters.hyperliquid.loopback.cli import main; "
    "sys.exit(main(sys.argv[1:]))"
)


def test_the_first_line_is_the_listening_url_and_sigterm_ends_it_cleanly() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", RUN_CLI, "--port", "0", "--faults", "none", "--seed", "3",
         "--account", "0x14791697260E4c9A71f18484C9f997B308e59325"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        first = child.stdout.readline().rstrip("\n")
        found = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)", first)
        assert found, first
        assert "faults: none; seed: 3" in child.stdout.readline()
        mids = httpx.post(f"{found.group(1)}/info", json={"type": "allMids"}, timeout=30.0)
        assert set(mids.json()) == {"BTC", "ETH", "SOL"}
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0
    assert "Traceback" not in err and err == ""
    assert out == ""


def test_a_malformed_account_is_refused_naming_the_argument() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "--account", "0x123", "--agent", "nope"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert "--account 0x123: an address is 0x + 40 hex digits" in done.stderr
    assert "--agent nope: expected AGENT=ACCOUNT" in done.stderr
    assert done.stdout == ""


def test_the_fault_choices_are_the_simulated_exchanges_profiles() -> None:
    from lifecycle.adapters.hyperliquid.loopback import cli
    from lifecycle.adapters.simulated import PROFILES

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    (faults,) = [a for a in parser._actions if a.dest == "faults"]
    assert set(faults.choices or ()) == set(PROFILES)
