"""Shared pieces of the loopback exchange's tests: a key, its address, waiting on a condition.

The loopback runs in real time on a thread of its own (the official SDK and
ccxt's client are synchronous); tests wait on conditions, with a timeout that
is only a safety net.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: The official SDK's test key (its signing tests use it too).
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
#: Its address, checksummed as eth-account gives it.
ADDRESS = "0x14791697260E4c9A71f18484C9f997B308e59325"
#: A key no loopback knows.
STRANGER_KEY = "0x" + "42" * 32
#: Generous: the loopback answers in about 0.2 s with the ``none`` profile.
TIMEOUT_S = 15.0


def wait_for(probe: Callable[[], T | None], timeout: float = TIMEOUT_S) -> T:
    """Call ``probe`` until it returns something truthy; return that.

    Raises:
        AssertionError: ``timeout`` passed first.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        time.sleep(0.02)
