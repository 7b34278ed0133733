"""Nonces for Hyperliquid actions: one strictly increasing source per signer.

Theory of operation
-------------------
The exchange tracks nonces per signer (the account's address, or the agent
wallet's when an agent signs). It keeps the signer's highest nonces (20 or
100, by the version of its documentation) and accepts a new one only if it
is larger than the smallest of them, was never used before, and lies near
the block time (within a day; one version of the documentation says from two
days before to one day after). Its documentation recommends one atomic
counter per signer, fast-forwarded to the current millisecond timestamp.

:class:`NonceSource` is that counter: :meth:`NonceSource.next` returns
``max(now_ms, last + 1)`` under a lock, so every nonce is larger than every
nonce issued before it, whatever the clock does. Many nonces in one
millisecond run ahead of the clock by one each and the clock catches up; a
clock that steps back leaves the counter where it was. The lock is held for a
few instructions and never across I/O, so calling :meth:`NonceSource.next`
from threads and from asyncio tasks (which it does not block) is safe.

A duplicate-nonce refusal (another process signing with the same key, or a
restart within the same millisecond) is handled by the layer that posts
actions, once::

    nonce = signer.nonces.next()
    answer = post(action, nonce, signer.sign_l1_action(action, nonce=nonce, ...))
    refused = parse_nonce_refusal(answer_text)   # None for any other answer
    if refused is not None:                       # nothing happened: re-sign once
        signer.nonces.bump_past(refused)
        nonce = signer.nonces.next()
        answer = post(action, nonce, signer.sign_l1_action(action, nonce=nonce, ...))

A second refusal is reported as it is, never retried again.
:func:`nonce_source_for` gives the process-wide source of an address, so two
signers of one key never draw from two counters.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Final

__all__ = [
    "DEFAULT_MAX_LEAD_MS",
    "NonceSource",
    "nonce_source_for",
    "parse_nonce_refusal",
    "wall_clock_ms",
]

#: How far ahead of the clock :meth:`NonceSource.bump_past` may move the counter, in ms.
DEFAULT_MAX_LEAD_MS: Final = 300_000

_DUPLICATE: Final = re.compile(r"duplicate nonce (\d+)", re.IGNORECASE)
_TOO_LOW: Final = re.compile(r"nonce too low (\d+) < (\d+)", re.IGNORECASE)


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch, the exchange's nonce unit."""
    return time.time_ns() // 1_000_000


class NonceSource:
    """Strictly increasing millisecond nonces for one signer, safe under threads and tasks.

    Args:
        clock_ms: The clock, in milliseconds since the epoch (the wall clock by default).
        max_lead_ms: The furthest ahead of the clock :meth:`bump_past` may move
            the counter; a larger value is refused as not coming from the exchange.

    Raises:
        ValueError: ``max_lead_ms`` is not an integer >= 0.
    """

    __slots__ = ("_clock_ms", "_last", "_lock", "_max_lead_ms")

    def __init__(
        self,
        clock_ms: Callable[[], int] = wall_clock_ms,
        *,
        max_lead_ms: int = DEFAULT_MAX_LEAD_MS,
    ) -> None:
        if isinstance(max_lead_ms, bool) or not isinstance(max_lead_ms, int) or max_lead_ms < 0:
            raise ValueError(f"max_lead_ms must be an integer >= 0, got {max_lead_ms!r}")
        self._clock_ms = clock_ms
        self._max_lead_ms = max_lead_ms
        self._last = -1
        self._lock = threading.Lock()

    @property
    def last(self) -> int | None:
        """The last nonce issued (or bumped past), None before the first."""
        last = self._last
        return None if last < 0 else last

    def next(self) -> int:
        """Return a nonce larger than every one issued before: ``max(now_ms, last + 1)``."""
        with self._lock:
            floor = self._last + 1
            now = self._clock_ms()
            nonce = now if now > floor else floor
            self._last = nonce
            return nonce

    def bump_past(self, nonce: int) -> None:
        """Make every later :meth:`next` larger than ``nonce`` (one the exchange refused).

        A ``nonce`` at or below the last one issued changes nothing.

        Raises:
            ValueError: ``nonce`` is not an integer >= 0, or lies more than
                ``max_lead_ms`` ahead of the clock (the message names it).
        """
        if isinstance(nonce, bool) or not isinstance(nonce, int) or nonce < 0:
            raise ValueError(f"nonce must be an integer >= 0, got {nonce!r}")
        with self._lock:
            limit = self._clock_ms() + self._max_lead_ms
            if nonce > limit:
                raise ValueError(
                    f"nonce {nonce} is more than {self._max_lead_ms} ms ahead of the clock "
                    f"(at most {limit}); refusing to move the nonce counter there"
                )
            if nonce > self._last:
                self._last = nonce

    def __repr__(self) -> str:
        return f"NonceSource(last={self.last})"


def parse_nonce_refusal(message: str) -> int | None:
    """Return the nonce to bump past when ``message`` refuses an action for its nonce.

    ``"Invalid nonce: duplicate nonce N"`` gives ``N``; ``"Invalid nonce: nonce
    too low N < LEAST"`` gives ``LEAST`` (the smallest nonce the exchange still
    holds, which the next one must exceed). Any other message gives None.
    """
    found = _DUPLICATE.search(message)
    if found is not None:
        return int(found.group(1))
    found = _TOO_LOW.search(message)
    if found is not None:
        return max(int(found.group(1)), int(found.group(2)))
    return None


_registry: dict[str, NonceSource] = {}
_registry_lock = threading.Lock()


def nonce_source_for(address: str) -> NonceSource:
    """Return the process-wide :class:`NonceSource` of ``address`` (one per signer).

    Addresses are compared in lowercase. The source uses the wall clock.
    """
    key = address.lower()
    with _registry_lock:
        source = _registry.get(key)
        if source is None:
            source = _registry[key] = NonceSource()
        return source
