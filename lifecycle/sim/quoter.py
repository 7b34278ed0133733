"""A minimal ladder quoter: an example of embedding the engine in a strategy.

Theory of operation
-------------------
A strategy decides where it wants to rest; the engine decides what to send.
:class:`LadderQuoter` knows nothing of orders, states or the exchange: from the
top of the book it builds a :class:`~lifecycle.policy.reconciler.Ladder` of ``levels``
quotes per side around the mid, the first ``offset_bps`` away and each next
one ``spacing_bps`` further, all of ``size``, and hands it with the book to
:meth:`Engine.set_targets <lifecycle.engine.facade.Engine.set_targets>`. Rounding to
the tick, dropping crossing levels, keeping, modifying, cancelling and placing
are the reconciler's job; the strategy only calls ``set_targets`` again
whenever it likes (every second, on every book update...).

A driver calls it with the engine it runs::

    quoter = LadderQuoter(levels=3, spacing_bps=5.0, size=Decimal("0.0005"))
    runtime.every(1.0, lambda now: runtime.request(
        lambda engine, t: quoter.quote(engine, book_now(), t)))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from lifecycle.policy.reconciler import Book, Ladder, Level, Plan

if TYPE_CHECKING:
    from lifecycle.engine.facade import Engine

__all__ = ["LadderQuoter"]

_BPS = Decimal(10_000)


@dataclass(frozen=True, kw_only=True, slots=True)
class LadderQuoter:
    """Quotes ``levels`` levels per side around the mid.

    Attributes:
        levels: Quotes per side.
        offset_bps: Distance of the best level from the mid, in basis points.
        spacing_bps: Distance between two levels of a side, in basis points.
        size: Size of every level.
    """

    levels: int = 3
    offset_bps: Decimal = Decimal(4)
    spacing_bps: Decimal = Decimal(5)
    size: Decimal = Decimal("0.0005")
    #: Each level's price as a multiple of the mid, bids then asks (fixed by the
    #: fields above, so worked out once rather than every cycle).
    _factors: tuple[tuple[Decimal, ...], tuple[Decimal, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.levels < 0:
            raise ValueError(f"levels must be >= 0, got {self.levels}")
        if not (self.offset_bps > 0 and self.spacing_bps > 0 and self.size > 0):
            raise ValueError("offset_bps, spacing_bps and size must be > 0")
        steps = [(self.offset_bps + i * self.spacing_bps) / _BPS for i in range(self.levels)]
        factors = (tuple(1 - s for s in steps), tuple(1 + s for s in steps))
        object.__setattr__(self, "_factors", factors)

    def ladder(self, mid: Decimal) -> Ladder:
        """The target ladder around ``mid`` (prices unrounded: the reconciler rounds)."""
        below, above = self._factors
        return Ladder(
            bids=tuple(Level(price=mid * f, size=self.size) for f in below),
            asks=tuple(Level(price=mid * f, size=self.size) for f in above),
        )

    def quote(self, engine: Engine, book: Book, now: float) -> Plan:
        """Set the engine's targets from ``book``; return the reconciler's plan.

        A book missing a side gives an empty ladder: every quote is pulled.
        """
        if book.best_bid is None or book.best_ask is None:
            return engine.set_targets(Ladder(), book, now)
        mid = (book.best_bid + book.best_ask) / 2
        return engine.set_targets(self.ladder(mid), book, now)
