"""Mid-price paths: a seeded random walk with jumps, or a recorded series.

A path is advanced by the exchange's event loop: :meth:`PricePath.next_change`
says when the mid next moves, :meth:`PricePath.advance` applies every move up to
a time. Mids are valid exchange prices (5 significant figures).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import random
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from .market import MarketParams
from .ticks import round_price

__all__ = ["CsvPrices", "PricePath", "RandomWalk"]


class PricePath(Protocol):
    """A mid price that moves at known times."""

    @property
    def mid(self) -> Decimal:
        """The current mid."""
        ...

    def next_change(self) -> float | None:
        """When the mid next moves, or None if it never will again."""
        ...

    def advance(self, t: float) -> Decimal:
        """Apply every move at or before ``t``; return the mid."""
        ...


class RandomWalk:
    """A geometric random walk on a fixed step, with occasional jumps.

    Args:
        rng: The walk's own random stream.
        market: Start mid, step, volatility and jump parameters.
        start: Time of the first mid.
    """

    def __init__(self, rng: random.Random, market: MarketParams, start: float) -> None:
        self._rng = rng
        self._market = market
        self._log_mid = math.log(float(market.mid))
        self._mid = round_price(market.mid, market.sz_decimals)
        self._next = start + market.price_step_s

    @property
    def mid(self) -> Decimal:
        """The current mid."""
        return self._mid

    def next_change(self) -> float:
        """When the next step happens."""
        return self._next

    def advance(self, t: float) -> Decimal:
        """Take every step due at or before ``t``; return the mid."""
        m = self._market
        rng = self._rng
        # A jump on a step with probability rate * step (rate per second).
        jump_p = m.jumps_per_hour / 3600.0 * m.price_step_s
        while self._next <= t:
            move = rng.gauss(0.0, m.volatility_bps)
            if jump_p and rng.random() < jump_p:
                move += m.jump_bps * (1 if rng.random() < 0.5 else -1) * (0.5 + rng.random())
            self._log_mid += move / 10_000.0
            self._next += m.price_step_s
        self._mid = round_price(Decimal(repr(math.exp(self._log_mid))), m.sz_decimals)
        return self._mid


class CsvPrices:
    """A recorded series of mids: ``(time_s, mid)`` rows, the mid held until the next row.

    Args:
        rows: ``(time_s, mid)`` pairs, in increasing time.
        sz_decimals: Size decimals of the instrument (for rounding the mids).

    Raises:
        ValueError: No rows, times not increasing, or a mid <= 0.
    """

    def __init__(self, rows: Iterable[tuple[float, Decimal]], sz_decimals: int) -> None:
        self._rows = [(float(t), round_price(Decimal(m), sz_decimals)) for t, m in rows]
        if not self._rows:
            raise ValueError("a price series needs at least one row")
        times = [t for t, _ in self._rows]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError("price series times must be strictly increasing")
        self._i = 0

    @classmethod
    def from_csv(cls, source: str | Path, sz_decimals: int) -> CsvPrices:
        """Read a CSV file (or CSV text) of ``time_s,mid`` rows; a header row is skipped."""
        text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
        rows: list[tuple[float, Decimal]] = []
        lines = [r for r in csv.reader(io.StringIO(text)) if r and r[0].strip()]
        for i, record in enumerate(lines):
            try:
                rows.append((float(record[0]), Decimal(record[1].strip())))
            except (ValueError, ArithmeticError, IndexError):
                if i > 0:  # only the first line may be a header
                    raise ValueError(f"bad price row: {record!r}") from None
        return cls(rows, sz_decimals)

    @property
    def mid(self) -> Decimal:
        """The current mid."""
        return self._rows[self._i][1]

    def next_change(self) -> float | None:
        """The time of the next row, or None after the last."""
        nxt = self._i + 1
        return self._rows[nxt][0] if nxt < len(self._rows) else None

    def advance(self, t: float) -> Decimal:
        """Move to the last row at or before ``t``; return its mid."""
        rows = self._rows
        while self._i + 1 < len(rows) and rows[self._i + 1][0] <= t:
            self._i += 1
        return rows[self._i][1]
