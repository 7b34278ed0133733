"""An in-process simulated exchange on a virtual clock, with fault injection.

The model (:class:`SimulatedExchange`) is sans-I/O and deterministic: time is an
argument and every random draw comes from the seed. :class:`SimulatedAdapter`
puts the :class:`~lifecycle.runtime.adapter.ExchangeAdapter` protocol on top of it for
a runtime; :class:`Truth` and :mod:`.invariants` let a driver check a client's
view against what the exchange really did.
"""

from .adapter import Alarm, SimulatedAdapter
from .exchange import REST_FAULTS, SimulatedExchange
from .invariants import (
    double_counted_fills,
    false_orphan_cancels,
    position_mismatch,
    premature_untracks,
    untracked_resting_at_end,
)
from .market import MarketParams
from .prices import CsvPrices, PricePath, RandomWalk
from .profiles import (
    EXCHANGE_CANCEL_STATUSES,
    PROFILES,
    RANDOM_REJECT_STATUSES,
    FaultProfile,
    Latency,
    profile,
)
from .ticks import (
    price_is_valid,
    round_price,
    round_size,
    size_is_valid,
)
from .truth import (
    CancelReceived,
    Owner,
    Truth,
    TruthFill,
    TruthOrder,
)
from .wire import (
    Delivery,
    Response,
    Ticket,
    WsMessage,
    WsReconnected,
)

__all__ = [
    "EXCHANGE_CANCEL_STATUSES",
    "PROFILES",
    "RANDOM_REJECT_STATUSES",
    "REST_FAULTS",
    "Alarm",
    "CancelReceived",
    "CsvPrices",
    "Delivery",
    "FaultProfile",
    "Latency",
    "MarketParams",
    "Owner",
    "PricePath",
    "RandomWalk",
    "Response",
    "SimulatedAdapter",
    "SimulatedExchange",
    "Ticket",
    "Truth",
    "TruthFill",
    "TruthOrder",
    "WsMessage",
    "WsReconnected",
    "double_counted_fills",
    "false_orphan_cancels",
    "position_mismatch",
    "premature_untracks",
    "price_is_valid",
    "profile",
    "round_price",
    "round_size",
    "size_is_valid",
    "untracked_resting_at_end",
]
