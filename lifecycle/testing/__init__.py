"""A scenario harness: test a bot's order handling without an exchange.

Rule of this layer: it imports the engine and below (``engine``, ``policy``,
``config``, ``core``), never ``runtime``, ``journal``, ``review``, ``sim``, the
CLI or the adapters. The harness for a whole runtime on the virtual clock
against the simulated exchange needs the runtime and the adapters, so it lives
a layer up: :class:`lifecycle.sim.harness.RuntimeHarness`.

Theory of operation
-------------------
A :class:`Scenario` pairs an engine (verifying every fire against the
``transitions`` machine of record) on a :class:`~lifecycle.core.clock.ManualClock`
with a :class:`ScriptedExchange`: a book of what rests on the exchange, under
which oid, with what is left, every trade the exchange executed, and the
exchange's own position. Nothing happens unless the script says so, in the
order it says:

* the bot's side: :meth:`Scenario.place` (``cloid=`` chooses the cloid,
  ``fill=`` makes it trade on arrival), :meth:`~Scenario.cancel`,
  :meth:`~Scenario.modify`, :meth:`~Scenario.cycle` (one reconcile cycle
  against a target ladder); each drains the outbox into :attr:`Scenario.sent`,
  as a driver would send it;
* the exchange's side: :meth:`~Scenario.rest` books an order without telling
  the bot (a placement response still on its way), :meth:`~Scenario.ack`
  delivers the acknowledgement (REST response or websocket ``open``; with
  ``filled=``, Hyperliquid's ``filled`` answer),
  :meth:`~Scenario.fill`, :meth:`~Scenario.cancel_ack`,
  :meth:`~Scenario.exchange_cancel`, :meth:`~Scenario.reject`,
  :meth:`~Scenario.cancel_rejected`, :meth:`~Scenario.modify_ack`,
  :meth:`~Scenario.modify_rejected`, :meth:`~Scenario.answer_status` (for an
  order or an oid), :meth:`~Scenario.foreign`, :meth:`~Scenario.vanish` (off
  the book, nobody told), and :meth:`~Scenario.deliver` for any message as it
  is (late fills, fills of orders never booked here, repeats, anything);
* snapshots: :meth:`~Scenario.snapshot` builds an open-orders snapshot from
  the scripted book, optionally stale (``age``) or lagging (``omit``), and hands
  it to the safety sync;
* time: :meth:`~Scenario.advance` moves the clock and runs due timers.

Then assert with :meth:`~Scenario.expect` (state, reason, filled; the same
check is :func:`expect_state`) and :meth:`~Scenario.expect_position`. Every
exchange-side call changes the book first and delivers the message second, so
snapshots always tell the truth the script made, and a message can be withheld
(``deliver=False``) to replay a lost or late one.

Example::

    s = Scenario()
    order = s.place(Side.BUY, "100", "1")
    s.rest(order)                       # booked; the response is late
    s.snapshot()                        # the sync sees our cloid: no orphan
    s.expect(order, OrderState.FINALIZED_PROTECTED)
    s.fill(order, "1")
    s.expect(order, OrderState.GONE, reason=GoneReason.FILLED)
    s.expect_position("1")

Modules: :mod:`~lifecycle.testing.scenario` (the scenario),
:mod:`~lifecycle.testing.exchange` (the scripted exchange),
:mod:`~lifecycle.testing.values` (accepted values, :func:`expect_state`).
"""

from lifecycle.testing.exchange import BookEntry, ScriptedExchange
from lifecycle.testing.scenario import Scenario
from lifecycle.testing.values import (
    CloidLike,
    Levels,
    Number,
    ScenarioError,
    expect_state,
)

__all__ = [
    "BookEntry",
    "CloidLike",
    "Levels",
    "Number",
    "Scenario",
    "ScenarioError",
    "ScriptedExchange",
    "expect_state",
]
