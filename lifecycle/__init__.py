"""Order lifecycle tracking for trading bots, as explicit finite-state machines.

Every order is a state machine driven by exchange facts; local decisions can
only ask (move an order into an asking state), and only exchange-proven facts
end an order. The engine is sans-I/O: events in, commands out, time as an
argument.

Documentation
-------------
The documentation site is built from this code: run ``make docs`` in the
repository and open ``site/index.html``. Its sources are the Markdown pages
under ``docs/`` (``docs/embedding.md`` has an embedding example,
``docs/harness.md`` the test harnesses); the lifecycle page (every state and
trigger, and the states each trigger fires from), the end reasons and the
configuration keys are generated from the table and the config model at every
build, so they always match the installed code.

Architecture
------------
The package is layered; each layer is a folder and imports only the layers
below it (``setup.cfg`` says it as import-linter contracts, checked by
``make test``)::

    cli.py, __main__.py       the ``lifecycle`` command
    sim/                      the simulation job, the example quoter, the demo
    runtime/ journal/         the anyio driver and the adapter protocol; the journal,
    review/  testing/         replay and recovery; diagrams, coverage, the pytest
                              plugin, trace and report; the scenario harness
    engine/                   the sans-I/O tracker: facade, interpreter, registry, ledger
    policy/                   reconciler and safety sync: they may only ask, through
                              the asking protocol (policy/asking.py)
    config/  core/            the config model and loader; states, THE table, the
                              machine, orders, ids, events, commands, errors, clock

``adapters/`` is installed as ``lifecycle.adapters``; only ``sim`` and the CLI
import it. ``core``, ``config``, ``engine`` and ``policy`` import no I/O library.
Each folder's ``__init__`` states its rule. Everything a user needs is
re-exported here.
"""

from lifecycle.config import (
    ConfigError,
    ConfigProblem,
    LifecycleConfig,
    MarketConfig,
    OrdersConfig,
    OrphanPolicy,
    ReconcilerConfig,
    SyncConfig,
    check_config,
    load_config,
    parse_config,
)
from lifecycle.core.anomalies import Anomaly, AnomalyKind, AnomalyLog
from lifecycle.core.clock import Clock, ManualClock, MonotonicClock
from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import (
    IllegalTransition,
    InvalidCloid,
    LifecycleError,
    TimeWentBackwards,
    UnknownOrder,
)
from lifecycle.core.events import (
    CancelRejected,
    ExchangeEvent,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
    OrderStatusReport,
    OrphanSeen,
    OrphanVanished,
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, CloidFactory, Oid, Tid
from lifecycle.core.machine import MachineDisagreement, OrderMachine, TransitionObserver
from lifecycle.core.order import Fill, Order, Side, TransitionRecord
from lifecycle.core.states import (
    DISCOVERED,
    IN_FLIGHT,
    OURS,
    RESTING,
    TERMINAL,
    WORKING,
    GoneReason,
    OrderState,
    Trigger,
)
from lifecycle.core.table import TABLE
from lifecycle.engine.facade import Engine
from lifecycle.engine.registry import OrderRegistry
from lifecycle.journal import (
    FlushMode,
    FlushPolicy,
    Journal,
    JournalCorrupt,
    JournaledEngine,
    ReplayDivergence,
    load_journal,
    replay,
)
from lifecycle.policy.pricing import AssetRules
from lifecycle.policy.reconciler import Book, Decision, Ladder, Level, Plan, Reconciler, SidePlan
from lifecycle.policy.safety_sync import (
    OpenOrder,
    OpenOrdersSnapshot,
    SafetySync,
    SyncReport,
    canonical_coin,
)
from lifecycle.review.coverage import CoverageReport, TransitionCoverage

__all__ = (
    "DISCOVERED",
    "IN_FLIGHT",
    "OURS",
    "RESTING",
    "TABLE",
    "TERMINAL",
    "WORKING",
    "Anomaly",
    "AnomalyKind",
    "AnomalyLog",
    "AssetRules",
    "Book",
    "CancelOrder",
    "CancelRejected",
    "Clock",
    "Cloid",
    "CloidFactory",
    "Command",
    "ConfigError",
    "ConfigProblem",
    "CoverageReport",
    "Decision",
    "Engine",
    "ExchangeEvent",
    "FetchOpenOrders",
    "Fill",
    "FlushMode",
    "FlushPolicy",
    "GoneReason",
    "IllegalTransition",
    "InvalidCloid",
    "Journal",
    "JournalCorrupt",
    "JournaledEngine",
    "Ladder",
    "Level",
    "LifecycleConfig",
    "LifecycleError",
    "MachineDisagreement",
    "ManualClock",
    "MarketConfig",
    "ModifyOrder",
    "ModifyRejected",
    "MonotonicClock",
    "Oid",
    "OpenOrder",
    "OpenOrdersSnapshot",
    "Order",
    "OrderAccepted",
    "OrderCanceled",
    "OrderFilled",
    "OrderMachine",
    "OrderModified",
    "OrderRegistry",
    "OrderRejected",
    "OrderState",
    "OrderStatusReport",
    "OrdersConfig",
    "OrphanPolicy",
    "OrphanSeen",
    "OrphanVanished",
    "PlaceOrder",
    "Plan",
    "QueryOrderStatus",
    "Reconciler",
    "ReconcilerConfig",
    "ReplayDivergence",
    "SafetySync",
    "Side",
    "SidePlan",
    "StatusOutcome",
    "SyncConfig",
    "SyncReport",
    "Tid",
    "TimeWentBackwards",
    "TransitionCoverage",
    "TransitionObserver",
    "TransitionRecord",
    "Trigger",
    "UnknownOrder",
    "canonical_coin",
    "check_config",
    "load_config",
    "load_journal",
    "parse_config",
    "replay",
)
