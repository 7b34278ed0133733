"""Outcome records: what one engine call did, as the journal writes it.

Theory of operation
-------------------
A call's outcome is the transitions the machine fired or refused during it,
and the error it raised, if any. The journaled engine writes them after the
call's input record; replay builds the same fields from the replayed engine and
compares them with the journal's. Both build them here, so the two sides can
only differ in what the engine did, never in how it is written down. Each
order is named by :func:`order_key`, stable for its whole life, so a report can
follow one order through a journal even as its exchange id changes.
"""

from __future__ import annotations

from typing import Any

from lifecycle.core.order import Order
from lifecycle.core.states import OrderState, Trigger

__all__ = ["error_fields", "fired_fields", "order_key", "refused_fields"]


def order_key(order: Order) -> str:
    """Name an order for its whole life: its cloid, else ``oid:`` + the first oid it had."""
    if order.cloid is not None:
        return str(order.cloid)
    first = order.prior_oids[0] if order.prior_oids else order.oid
    return f"oid:{first}"


def fired_fields(
    order: Order, source: OrderState, trigger: Trigger, dest: OrderState
) -> dict[str, Any]:
    """The fields of a ``fired`` record: ``order`` moved from ``source`` to ``dest``."""
    return {
        "order": order_key(order), "cloid": order.cloid, "oid": order.oid, "source": source,
        "trigger": trigger, "dest": dest,
        "reason": order.reason if dest is OrderState.GONE else None,
    }


def refused_fields(order: Order, trigger: Trigger) -> dict[str, Any]:
    """The fields of a ``refused`` record: ``trigger`` is illegal in ``order``'s state."""
    return {
        "order": order_key(order), "cloid": order.cloid, "oid": order.oid,
        "state": order.state, "trigger": trigger,
    }


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The fields of an ``error`` record: the call raised ``exc``."""
    return {"error": type(exc).__name__, "message": str(exc)}
