"""Fault profiles: how badly the simulated exchange and its network behave.

A :class:`FaultProfile` is a frozen record of rates (probabilities per request,
per message or per order) and of delay distributions (:class:`Latency`). The
exchange draws every fault from it with its own seeded random streams, so a
profile plus a seed reproduces a run exactly.

Three named profiles (:data:`PROFILES`):

``none``
    No faults at all, small fixed latencies, no rate limit: the baseline in
    which any discrepancy between a client and the truth is the client's bug.
``default``
    What a healthy day on the real venue looks like: variable latencies with
    tails, rare timeouts and 5xx, occasional websocket drops, duplicates,
    reordering and reconnects, rare exchange-initiated cancels and rejects.
``harsh``
    Everything an order tracker has to survive, often: long tails, frequent
    ambiguous outcomes, lossy websocket, frequent disconnects, spurious
    ``unknownOid`` answers, fills without a cloid, tight rate limits.

Rates are forced to 1.0 in tests to produce one fault kind on demand
(``dataclasses.replace(PROFILES["none"], timeout_rate=1.0)``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "EXCHANGE_CANCEL_STATUSES",
    "PROFILES",
    "RANDOM_REJECT_STATUSES",
    "FaultProfile",
    "Latency",
    "profile",
]

#: Cancels the exchange makes on its own, in its own words (orderStatus table).
EXCHANGE_CANCEL_STATUSES: tuple[str, ...] = (
    "marginCanceled",
    "reduceOnlyCanceled",
    "selfTradeCanceled",
    "openInterestCapCanceled",
    "liquidatedCanceled",
    "delistedCanceled",
)

#: Rejections of placements that are well formed (the account's or the
#: market's condition, not the order's terms), drawn at ``reject_rate``.
RANDOM_REJECT_STATUSES: tuple[str, ...] = (
    "perpMarginRejected",
    "perpMaxPositionRejected",
    "oracleRejected",
    "positionIncreaseAtOpenInterestCapRejected",
    "tooManyOpenOrdersRejected",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Latency:
    """A delay distribution in seconds: lognormal around ``median_s``, clamped.

    With ``sigma == 0`` every draw is ``median_s`` (a fixed latency).
    """

    median_s: float
    sigma: float = 0.0
    min_s: float = 0.0
    max_s: float = math.inf

    def __post_init__(self) -> None:
        if not (self.median_s >= 0 and self.sigma >= 0 and 0 <= self.min_s <= self.max_s):
            raise ValueError(f"invalid latency {self!r}")

    @classmethod
    def fixed(cls, seconds: float) -> Latency:
        """A latency that is always ``seconds``."""
        return cls(median_s=seconds, min_s=seconds, max_s=seconds)

    def draw(self, rng: random.Random) -> float:
        """Draw one delay from ``rng``."""
        if self.sigma == 0 or self.median_s == 0:
            value = self.median_s
        else:
            value = rng.lognormvariate(math.log(self.median_s), self.sigma)
        return min(max(value, self.min_s), self.max_s)


@dataclass(frozen=True, kw_only=True, slots=True)
class FaultProfile:
    """Rates and delay distributions of the simulated exchange's faults.

    Rates are probabilities in [0, 1] unless their name says otherwise.
    """

    name: str
    #: One-way REST delay, drawn once each way (client -> exchange -> client).
    rest_latency: Latency
    #: Delay of each websocket message from the exchange to the client.
    ws_latency: Latency
    #: How long a new order (or a modify's new oid) takes to appear in
    #: open-orders snapshots.
    snapshot_lag: Latency
    #: When the client gives up waiting for a REST answer (then: ambiguous).
    request_timeout_s: float = 10.0
    #: A request's answer never arrives: the client times out (ambiguous).
    timeout_rate: float = 0.0
    #: The answer is an HTTP 5xx (ambiguous).
    server_error_rate: float = 0.0
    #: Of timeouts and 5xx, the share whose action the exchange performed anyway.
    lost_request_executed_rate: float = 0.5
    #: A well-formed placement is rejected with one of ``reject_statuses``.
    reject_rate: float = 0.0
    reject_statuses: tuple[str, ...] = RANDOM_REJECT_STATUSES
    #: Exchange-initiated cancels of resting orders, per minute (whole account).
    exchange_cancels_per_min: float = 0.0
    exchange_cancel_statuses: tuple[str, ...] = EXCHANGE_CANCEL_STATUSES
    #: A resting placement is hit by a taker in the instant it is accepted, so
    #: the fill races the placement response.
    immediate_fill_rate: float = 0.0
    #: A websocket message is lost.
    ws_drop_rate: float = 0.0
    #: A websocket message is delivered twice.
    ws_duplicate_rate: float = 0.0
    #: A websocket message is held back by ``ws_reorder_delay`` and overtaken.
    ws_reorder_rate: float = 0.0
    ws_reorder_delay: Latency = field(default_factory=lambda: Latency.fixed(0.5))
    #: Websocket disconnects per hour; no order update of the downtime is
    #: replayed after the reconnect.
    ws_disconnects_per_hour: float = 0.0
    ws_downtime: Latency = field(default_factory=lambda: Latency.fixed(2.0))
    #: A status query for an order the exchange knows answers ``unknownOid``
    #: anyway (an open issue of the real venue).
    status_unknown_oid_rate: float = 0.0
    #: On a modify, the old oid's ``canceled`` is sent before the new oid's
    #: ``open`` (otherwise after).
    modify_cancel_first_rate: float = 0.0
    #: Websocket fills carry the order's cloid (the documented fill has none).
    fills_carry_cloid: bool = True
    #: IP budget: request weight per rolling minute; None = unlimited.
    ip_weight_per_min: int | None = None
    #: Address budget: actions allowed beyond 1 per USDC traded; None = unlimited.
    address_request_buffer: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "timeout_rate", "server_error_rate", "lost_request_executed_rate", "reject_rate",
            "immediate_fill_rate", "ws_drop_rate", "ws_duplicate_rate", "ws_reorder_rate",
            "status_unknown_oid_rate", "modify_cancel_first_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.exchange_cancels_per_min < 0 or self.ws_disconnects_per_hour < 0:
            raise ValueError("event rates must be >= 0")
        if self.request_timeout_s <= 0:
            raise ValueError("request_timeout_s must be > 0")


_NONE = FaultProfile(
    name="none",
    rest_latency=Latency.fixed(0.1),
    ws_latency=Latency.fixed(0.05),
    snapshot_lag=Latency.fixed(0.5),
)

_DEFAULT = FaultProfile(
    name="default",
    rest_latency=Latency(median_s=0.12, sigma=0.5, min_s=0.03, max_s=8.0),
    ws_latency=Latency(median_s=0.08, sigma=0.8, min_s=0.01, max_s=8.0),
    snapshot_lag=Latency(median_s=1.2, sigma=0.6, min_s=0.5, max_s=5.0),
    timeout_rate=0.002,
    server_error_rate=0.002,
    reject_rate=0.002,
    exchange_cancels_per_min=0.05,
    immediate_fill_rate=0.01,
    ws_drop_rate=0.001,
    ws_duplicate_rate=0.002,
    ws_reorder_rate=0.01,
    ws_reorder_delay=Latency(median_s=0.3, sigma=0.7, min_s=0.05, max_s=3.0),
    ws_disconnects_per_hour=0.5,
    ws_downtime=Latency(median_s=2.0, sigma=0.7, min_s=0.5, max_s=30.0),
    modify_cancel_first_rate=0.2,
    ip_weight_per_min=1200,
    address_request_buffer=10_000,
)

_HARSH = FaultProfile(
    name="harsh",
    rest_latency=Latency(median_s=0.25, sigma=1.0, min_s=0.03, max_s=20.0),
    ws_latency=Latency(median_s=0.2, sigma=1.0, min_s=0.01, max_s=10.0),
    snapshot_lag=Latency(median_s=2.5, sigma=0.6, min_s=0.5, max_s=5.0),
    request_timeout_s=5.0,
    timeout_rate=0.03,
    server_error_rate=0.02,
    reject_rate=0.02,
    exchange_cancels_per_min=1.0,
    immediate_fill_rate=0.1,
    ws_drop_rate=0.02,
    ws_duplicate_rate=0.03,
    ws_reorder_rate=0.1,
    ws_reorder_delay=Latency(median_s=0.8, sigma=0.8, min_s=0.05, max_s=5.0),
    ws_disconnects_per_hour=6.0,
    ws_downtime=Latency(median_s=5.0, sigma=0.8, min_s=1.0, max_s=60.0),
    status_unknown_oid_rate=0.01,
    modify_cancel_first_rate=0.5,
    fills_carry_cloid=False,
    ip_weight_per_min=600,
    address_request_buffer=2_000,
)

#: The named profiles, by name.
PROFILES: Mapping[str, FaultProfile] = MappingProxyType(
    {p.name: p for p in (_NONE, _DEFAULT, _HARSH)}
)


def profile(name: str) -> FaultProfile:
    """Return the named profile.

    Raises:
        KeyError: No profile has that name (the message lists the names).
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"no fault profile {name!r}; known: {', '.join(PROFILES)}") from None
