"""What the interpreter needs of the engine that composes it.

The interpreter decides which trigger each exchange event means; the engine
owns the registry, the machine, the ledger and the outbox it acts on. The
interpreter is handed its engine as an :class:`InterpreterHost` instead of
importing the engine module, so the dependency points one way: the engine
module imports the interpreter, never the reverse.
"""

from __future__ import annotations

from typing import Protocol

from lifecycle.config import LifecycleConfig
from lifecycle.core.anomalies import AnomalyLog
from lifecycle.core.commands import Command
from lifecycle.core.errors import IllegalTransition
from lifecycle.core.machine import OrderMachine
from lifecycle.core.order import Order
from lifecycle.core.states import Trigger
from lifecycle.core.timers import StateTimers
from lifecycle.engine.ledger import FillLedger
from lifecycle.engine.registry import OrderRegistry
from lifecycle.policy.safety_sync import SafetySync

__all__ = ["InterpreterHost"]


class InterpreterHost(Protocol):
    """The engine as the interpreter sees it (:class:`~lifecycle.engine.Engine` is one)."""

    @property
    def config(self) -> LifecycleConfig:
        """The engine's configuration."""
        ...

    @property
    def registry(self) -> OrderRegistry:
        """The orders by cloid and oid."""
        ...

    @property
    def machine(self) -> OrderMachine:
        """The only place state changes."""
        ...

    @property
    def ledger(self) -> FillLedger:
        """Fills, once per trade id."""
        ...

    @property
    def timers(self) -> StateTimers:
        """The timers of the timed states."""
        ...

    @property
    def anomalies(self) -> AnomalyLog:
        """Where remote inconsistencies are recorded."""
        ...

    @property
    def sync(self) -> SafetySync:
        """The safety sync (it knows whether an order's absence is confirmed)."""
        ...

    def move_remote(self, order: Order, trigger: Trigger, now: float) -> bool:
        """Fire a trigger caused by an exchange message; an illegal one is an anomaly."""
        ...

    def remote_refused(self, order: Order, error: IllegalTransition, now: float) -> None:
        """Record a refused exchange-caused trigger and query the order."""
        ...

    def query(self, order: Order, *, by_cloid: bool = False) -> None:
        """Queue one status query for ``order``."""
        ...

    def request_sync(self, reason: str) -> None:
        """Queue one open-orders snapshot request."""
        ...

    def send(self, command: Command) -> None:
        """Queue a command without any transition."""
        ...
