"""Exceptions raised by the core.

The tree::

    LifecycleError
    ├── IllegalTransition     a trigger that is not a row of the table (changes nothing)
    ├── UnknownOrder          the caller named an order the registry does not hold
    ├── InvalidCloid          (also ValueError) a client order id in none of our forms
    └── TimeWentBackwards     (also ValueError) ``now`` smaller than an earlier ``now``

Every one of them is *local*: the caller misused the API, and it is raised. A
*remote* inconsistency (an exchange message that is illegal for the order's
state, a fill for an order nobody knows) is never raised: the engine records an
:class:`~lifecycle.core.anomalies.Anomaly`, keeps running and asks the exchange.
Configuration problems raise :class:`lifecycle.config.model.ConfigError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lifecycle.core.states import OrderState, Trigger

__all__ = [
    "IllegalTransition",
    "InvalidCloid",
    "LifecycleError",
    "TimeWentBackwards",
    "UnknownOrder",
]


class LifecycleError(Exception):
    """Base class of every exception the core raises."""


class IllegalTransition(LifecycleError):
    """A trigger that the table does not allow in the order's current state.

    Attributes:
        order_id: The order's client order id (or oid, for orders without one).
        state: The state the order is in, unchanged.
        trigger: The refused trigger.
    """

    def __init__(self, order_id: str, state: OrderState, trigger: Trigger) -> None:
        self.order_id = order_id
        self.state = state
        self.trigger = trigger
        super().__init__(
            f"{order_id}: can't apply {trigger.value} in state {state.value}"
        )


class UnknownOrder(LifecycleError, KeyError):
    """The caller named an order the registry does not hold."""

    def __init__(self, order_id: object) -> None:
        self.order_id = order_id
        super().__init__(f"no order {order_id!r} in the registry")

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidCloid(LifecycleError, ValueError):
    """A client order id that is in none of the accepted forms."""


class TimeWentBackwards(LifecycleError, ValueError):
    """``now`` was smaller than a ``now`` the engine was already given."""
