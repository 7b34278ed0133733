"""The engine's argument checks at its public boundary, and their messages.

Theory of operation
-------------------
:class:`~lifecycle.engine.facade.Engine` compares the classes of its
arguments exactly on every call (``price.__class__ is not Decimal``...), which
costs next to nothing; only when one differs does it call
:func:`check_order_arguments`, which accepts what is merely a subclass (a
``Decimal`` subclass, an ``int`` time) and raises ``TypeError`` for the rest,
naming the method, the argument, what it takes and, where it can, how to
write it (``Decimal('100.5')`` for ``100.5``). Nothing has changed when one
is raised.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from decimal import Decimal

from lifecycle.core.ids import Cloid
from lifecycle.core.order import Side

__all__ = ["as_cloid", "check_order_arguments", "config_error", "shown"]


def shown(value: object) -> str:
    """A short repr of ``value`` with its type, for messages."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def config_error(config: object) -> str:
    """The message for ``Engine(config)`` given something else than a LifecycleConfig."""
    message = f"Engine(config=...) takes a LifecycleConfig or None, got {shown(config)}"
    if isinstance(config, str | os.PathLike):
        return f"{message}; read the file first: Engine(load_config({str(config)!r}))"
    if isinstance(config, Mapping):
        return f"{message}; build it first: Engine(parse_config(data))"
    return message


def check_order_arguments(method: str, **arguments: object) -> None:
    """Raise ``TypeError`` for the first argument of the wrong type (others pass).

    The caller's fast check compares classes exactly; a subclass of ``Decimal``
    or an ``int`` time reaches here and is accepted.
    """
    side = arguments.get("side", Side.BUY)
    if not isinstance(side, Side):
        hint = ""
        if isinstance(side, str) and side.lower() in ("buy", "sell"):
            hint = f"; write Side.{side.upper()}"
        raise TypeError(
            f"{method}(side=...) takes a Side (Side.BUY or Side.SELL), got {shown(side)}{hint}"
        )
    for name in ("price", "size"):
        value = arguments[name]
        if not isinstance(value, Decimal):
            # repr() is the shortest text of a float; Decimal(value) would carry its
            # binary error (100.1 -> 100.099999999999994315658113919198513031005859375).
            text = repr(value) if isinstance(value, float) else str(value)
            hint = ""
            if isinstance(value, float | int | str) and not isinstance(value, bool) and (
                len(text) <= 40
            ):
                hint = f"; write Decimal({text!r})"
            raise TypeError(f"{method}({name}=...) takes a Decimal, got {shown(value)}{hint}")
    now = arguments["now"]
    if isinstance(now, bool) or not isinstance(now, float | int):
        raise TypeError(
            f"{method}(now=...) takes the current time in seconds (a float), got {shown(now)}"
        )


def as_cloid(value: object) -> Cloid:
    """``value`` as a :class:`Cloid` (a ``str`` in an accepted form or a ``uuid.UUID``)."""
    if isinstance(value, str | uuid.UUID):
        return Cloid(value)  # InvalidCloid (a ValueError) for a string of no accepted form
    raise TypeError(f"place(cloid=...) takes a Cloid, a str or a uuid.UUID, got {shown(value)}")
