"""Reading a snapshot's rows: the unreadable ones, our coin's, the asset-mismatch alarm.

Theory of operation
-------------------
:func:`read_rows` is the first step of a sync that looks at rows. Each row is
checked with :func:`~lifecycle.policy.snapshot.row_problem` where it enters:
one that cannot be read is dropped, counted and recorded as an anomaly, and
never stops the others from applying. Of the rest, those whose coin equals
ours (in the exchange's own form, prefixed on a builder dex) are kept, one per
oid; the others are counted, and their coin names sampled for the
asset-mismatch alarm: when the exchange listed orders but none for our coin,
the configured coin or dex scope is probably wrong, and an anomaly names up to
:data:`MISMATCH_SAMPLES` of the coins it did list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.ids import Oid
from lifecycle.policy.asking import AskingEngine
from lifecycle.policy.snapshot import OpenOrder, Tally, row_problem

__all__ = ["MISMATCH_SAMPLES", "read_rows"]

log = logging.getLogger("lifecycle.safety_sync")

#: How many coin names the asset-mismatch alarm quotes.
MISMATCH_SAMPLES: Final = 3


def read_rows(
    orders: Sequence[object],
    coin: str,
    engine: AskingEngine,
    counts: dict[str, int],
    tally: Tally,
    now: float,
) -> tuple[list[OpenOrder], int, bool]:
    """Our coin's readable rows (one per oid), how many others, and whether the alarm rang.

    Args:
        orders: The snapshot's rows, as the adapter listed them.
        coin: Our coin in canonical form.
        engine: Where anomalies are recorded.
        counts: The sync's counters (``rows_malformed``, ``asset_mismatches``).
        tally: This sync's counts (``malformed``).
        now: The time of the sync.
    """
    ours: dict[Oid, OpenOrder] = {}
    other_count = 0
    samples: list[str] = []
    for row in orders:
        problem = row_problem(row)
        if problem is not None:
            tally.malformed += 1
            counts["rows_malformed"] += 1
            engine.anomalies.record(
                AnomalyKind.UNKNOWN_ORDER, now, None,
                f"open-orders row dropped, it cannot be read ({problem}): {row!r}",
            )
            continue
        assert isinstance(row, OpenOrder)  # row_problem said so
        # Rows carry the exchange's own names (prefixed on a builder dex), so
        # they compare as they are: a bare name is a main-dex coin.
        if row.coin == coin:
            ours.setdefault(row.oid, row)
            continue
        other_count += 1
        if len(samples) < MISMATCH_SAMPLES and row.coin not in samples:
            samples.append(row.coin)
    mismatch = other_count > 0 and not ours
    if mismatch:
        _alarm_mismatch(coin, engine, counts, other_count, samples, now)
    return list(ours.values()), other_count, mismatch


def _alarm_mismatch(
    coin: str,
    engine: AskingEngine,
    counts: dict[str, int],
    other_count: int,
    samples: list[str],
    now: float,
) -> None:
    counts["asset_mismatches"] += 1
    detail = (
        f"exchange listed {other_count} open orders, none for {coin!r}; "
        f"sample coins: {', '.join(repr(c) for c in samples)} "
        "(coin name or dex scope mismatch?)"
    )
    engine.anomalies.record(AnomalyKind.ASSET_MISMATCH, now, None, detail)
    log.warning(
        "safety sync: asset mismatch: %s",
        detail,
        extra={"coin": coin, "other_coin_orders": other_count, "sample_coins": tuple(samples)},
    )
