"""The simulated exchange: a seeded, deterministic, discrete-event model of a venue.

Theory of operation
-------------------
Like the engine, the model is sans-I/O: time is an argument, it never reads a
clock and never sleeps. A driver hands it requests with
:meth:`SimulatedExchange.submit` (getting a :class:`~.wire.Ticket`), moves the
world forward with :meth:`SimulatedExchange.advance` (getting every
:data:`~.wire.Delivery` due by then, in delivery-time order), and may jump
virtual time to :meth:`SimulatedExchange.next_time`.

Inside, the :class:`~.scheduler.Scheduler` keeps two heaps ordered by
``(time, sequence)``:

* **happenings** at the venue: a request arriving (after a one-way REST
  latency), a price step, a taker, an exchange-initiated cancel, a websocket
  disconnect or reconnect. Running one may schedule others, at the same or a
  later instant; the periodic ones reschedule themselves until
  :meth:`SimulatedExchange.close_market`.
* **deliveries** to the client: a REST :class:`~.wire.Response` (the
  ``CommandResult`` of each command, after the return latency; or an
  ambiguous one when the answer is lost), a :class:`~.wire.WsMessage` after
  its websocket delay (:class:`~.websocket.WsFeed`), a
  :class:`~.wire.WsReconnected` notice.

The market's processes (:class:`~.processes.MarketProcesses`) and the
venue's rules (:class:`~.venue.Venue`) run as happenings.

``advance(now)`` first runs every happening at or before ``now``, then pops
every delivery at or before ``now``. A delivery is always later than the
happening that made it, so deliveries come out in global time order across
calls; the ones a websocket disconnect cut off are dropped as they are popped.

What can happen to a request, drawn from the :class:`~.profiles.FaultProfile`
(or forced with :meth:`SimulatedExchange.inject_rest_fault`):

* nothing: it arrives, the venue acts (:class:`~.venue.Venue`), the answer
  comes back; if it would come back after ``request_timeout_s`` the client
  has given up, and the result is ambiguous although the action happened;
* a timeout: no answer; the result (ambiguous) is delivered at the client's
  deadline, and the venue acted anyway with ``lost_request_executed_rate``;
* a 5xx: an ambiguous answer after the usual latency; acted or not, likewise;
* a rate-limit refusal (:class:`~.ratelimit.RateLimiter`): definitive, nothing
  done, the exchange's words in ``error``.

Every random draw comes from a ``random.Random`` stream of its own, seeded from
``seed`` and the stream's name (prices, takers, REST faults, websocket faults,
the venue, ids, the starting orders), so changing one fault rate does not
shift the price path, and the same seed and profile give the same deliveries.

The referee's view (who placed what, what rests, every trade, every cancel
received) is :attr:`SimulatedExchange.truth`.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal

from lifecycle.core.commands import (
    CancelOrder,
    Command,
    FetchOpenOrders,
    ModifyOrder,
    PlaceOrder,
    QueryOrderStatus,
)
from lifecycle.core.errors import TimeWentBackwards
from lifecycle.core.ids import Cloid, CloidFactory, Oid
from lifecycle.core.order import Side
from lifecycle.runtime import CommandResult, OpenOrdersSnapshot

from .book import Book
from .market import MarketParams
from .prices import PricePath, RandomWalk
from .processes import MarketProcesses
from .profiles import FaultProfile
from .profiles import profile as named_profile
from .ratelimit import RateLimiter
from .scheduler import Action, Scheduler
from .truth import Owner, Truth
from .venue import Venue
from .websocket import WsFeed
from .wire import (
    SERVER_ERROR,
    Delivery,
    Response,
    Ticket,
    request_weight,
    timed_out,
)

__all__ = ["REST_FAULTS", "SimulatedExchange"]

#: The kinds of lost REST answer :meth:`SimulatedExchange.inject_rest_fault` forces.
REST_FAULTS = ("timeout", "server_error")

_COMMAND_TYPES = (PlaceOrder, CancelOrder, ModifyOrder, QueryOrderStatus, FetchOpenOrders)
_ACTIONS = (PlaceOrder, CancelOrder, ModifyOrder)
#: First asset id of the first builder-deployed (HIP-3) dex.
_HIP3_FIRST_ASSET = 110_000


class SimulatedExchange:
    """One account on one market of a simulated venue (see the module docstring).

    Args:
        seed: Seeds every random stream; the same seed gives the same run.
        profile: A :class:`FaultProfile` or the name of one (``none``,
            ``default``, ``harsh``).
        coin: The market's coin.
        dex: A builder-deployed (HIP-3) dex name; coins are then ``dex:COIN``.
        start: The time the model starts at.
        market: Instrument rules and the rest of the market.
        prices: A mid-price path; by default a seeded random walk from ``market.mid``.
        previous_run: The cloid factory of an earlier run of the bot (same
            namespace, another run id); its next cloids name the
            ``previous_orders`` resting at the start. The factory is consumed.
        previous_orders: Orders of the earlier run resting at the start.
        foreign_orders: Orders of someone else resting at the start (half with
            cloids of another namespace, half without a cloid).
    """

    def __init__(
        self,
        seed: int,
        profile: FaultProfile | str = "none",
        *,
        coin: str = "BTC",
        dex: str = "",
        start: float = 0.0,
        market: MarketParams | None = None,
        prices: PricePath | None = None,
        previous_run: CloidFactory | None = None,
        previous_orders: int = 0,
        foreign_orders: int = 0,
    ) -> None:
        if ":" in coin:
            raise ValueError(f"coin {coin!r} must be the bare name; pass the dex as dex=")
        if previous_orders and previous_run is None:
            raise ValueError("previous_orders needs the previous run's cloid factory")
        self.seed = seed
        self.profile = profile if isinstance(profile, FaultProfile) else named_profile(profile)
        self.dex = dex
        self.coin = f"{dex}:{coin}" if dex else coin
        #: The venue's asset id: the coin's index on its dex (0 here), offset for HIP-3.
        self.asset = _HIP3_FIRST_ASSET if dex else 0
        self.market = market if market is not None else MarketParams()
        #: Faults produced so far, by kind (``timeout``, ``ws_drop``,
        #: ``marginCanceled``, ``rate_limited``...).
        self.fault_counts: Counter[str] = Counter()
        self._clock = Scheduler(start)
        self._ticket_ids = itertools.count(1)
        self._forced_rest: list[tuple[str, bool]] = []
        self._rest_rng = self._stream("rest")
        self._limiter = RateLimiter(
            self.profile.ip_weight_per_min, self.profile.address_request_buffer
        )
        self.book = Book(self._stream("ids"))
        self.ws = WsFeed(
            self.profile, self._stream("ws"), self._clock.deliver, self.fault_counts
        )
        path = prices if prices is not None else RandomWalk(
            self._stream("prices"), self.market, start
        )
        self.venue = Venue(
            book=self.book, market=self.market, prices=path, profile=self.profile, ws=self.ws,
            rng=self._stream("venue"), coin=self.coin, schedule=self._clock.at,
            counts=self.fault_counts,
        )
        #: The exchange's own knowledge, for checking a client's view.
        self.truth = Truth(self.book)
        self._seed_orders(previous_run, previous_orders, foreign_orders, start)
        self._processes = MarketProcesses(
            scheduler=self._clock, venue=self.venue, ws=self.ws, market=self.market,
            profile=self.profile, taker_rng=self._stream("takers"),
            event_rng=self._stream("exchange-events"),
        )
        self._processes.start(start)

    def _stream(self, name: str) -> random.Random:
        # String seeds are hashed with SHA-512 by `random`: stable across processes.
        return random.Random(f"{self.seed}/{name}")

    # --- reading ------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The latest time the model was moved to."""
        return self._clock.now

    @property
    def mid(self) -> Decimal:
        """The current mid price."""
        return self.venue.prices.mid

    def bbo(self) -> tuple[Decimal, Decimal]:
        """The rest of the market's best bid and ask as the model stands."""
        return self.venue.bbo()

    def bbo_before(self, t: float) -> tuple[Decimal, Decimal]:
        """The rest of the market's best bid and ask as they stood just before ``t``:
        the freshest touch a client can know at ``t``, whether or not the model
        has run a price step due at ``t`` yet.

        Raises:
            TimeWentBackwards: ``t`` is before the model's time.
        """
        self._clock.run_until(t)
        return self.venue.bbo_before(t)

    def next_time(self) -> float | None:
        """When something next happens or is due for delivery; None when nothing will."""
        return self._clock.next_time()

    def listen(self, callback: Callable[[float], None] | None) -> None:
        """Call ``callback(t)`` whenever a happening or a delivery is scheduled at
        ``t`` (one listener; None removes it). A client waiting for the model
        uses it to wake when something is due sooner than it planned to look."""
        self._clock.listener = callback

    # --- driving ------------------------------------------------------------------------

    def submit(self, commands: Command | Sequence[Command], now: float) -> Ticket:
        """Send one request: a command, or a batch of commands of one kind.

        Its answer comes back later as a :class:`~.wire.Response` from :meth:`advance`.

        Raises:
            ValueError: An empty batch, mixed kinds, or more than one ``FetchOpenOrders``.
            TimeWentBackwards: ``now`` is before the model's time.
        """
        batch = (commands,) if isinstance(commands, _COMMAND_TYPES) else tuple(commands)
        if not batch:
            raise ValueError("an empty request")
        kinds = {type(c) for c in batch}
        if len(kinds) != 1 or not isinstance(batch[0], _COMMAND_TYPES):
            names = sorted(k.__name__ for k in kinds)
            raise ValueError(f"a request carries commands of one kind, got {names}")
        if isinstance(batch[0], FetchOpenOrders) and len(batch) > 1:
            raise ValueError("one open-orders request at a time")
        self._clock.run_until(now)
        ticket = Ticket(id=next(self._ticket_ids), commands=batch, submitted_at=now)
        p, rng = self.profile, self._rest_rng
        if self._forced_rest:
            fault: str | None
            fault, executed = self._forced_rest.pop(0)
        else:
            draw = rng.random()
            if draw < p.timeout_rate:
                fault = "timeout"
            elif draw < p.timeout_rate + p.server_error_rate:
                fault = "server_error"
            else:
                fault = None
            executed = fault is None or rng.random() < p.lost_request_executed_rate
        arrival = now + p.rest_latency.draw(rng)
        answer_at = arrival + p.rest_latency.draw(rng)
        deadline = now + p.request_timeout_s
        if fault is not None:
            self.fault_counts[fault] += 1
            self.fault_counts[f"{fault}_executed" if executed else f"{fault}_not_executed"] += 1
        if executed:
            # The venue acts; its answer reaches the client only if nothing was lost
            # and it beats the client's deadline.
            reply = None if fault is not None or answer_at > deadline else answer_at
            self._clock.at(arrival, lambda t: self._process(ticket, t, reply))
        if fault == "server_error" and answer_at <= deadline:
            self._ambiguous(ticket, answer_at, SERVER_ERROR)
        elif fault is not None or answer_at > deadline:
            if fault is None:
                self.fault_counts["late_answer"] += 1
            self._ambiguous(ticket, deadline, timed_out(p.request_timeout_s))
        return ticket

    def advance(self, now: float) -> list[Delivery]:
        """Move the world to ``now``; return everything delivered by then, in time order.

        Raises:
            TimeWentBackwards: ``now`` is before the model's time.
        """
        self._clock.run_until(now)
        return self._clock.pop_due(now, self.ws.alive)

    def close_market(self, now: float) -> None:
        """Stop the market after ``now``: no more price moves, takers or venue-initiated
        events. Requests and messages in flight still complete, so a driver can let
        everything settle (until :meth:`next_time` is None) before comparing views."""
        self._clock.run_until(now)
        self._processes.close(now)

    # --- direct reads (no latency, faults or rate limit) ---------------------------------

    def open_orders(self, now: float, dex: str | None = None) -> OpenOrdersSnapshot:
        """The open orders at ``now``, lagging placements by the profile's snapshot lag.

        Args:
            now: The time of the snapshot (``taken_at``).
            dex: The dex the request names; None means this market's dex. Naming
                another dex returns no orders, as the venue does for a request
                that omits a HIP-3 dex.
        """
        self._clock.run_until(now)
        if dex is not None and dex != self.dex:
            return OpenOrdersSnapshot(taken_at=now, orders=())
        return self.venue.snapshot(now)

    def order_status(self, query: QueryOrderStatus, now: float) -> CommandResult:
        """The venue's answer to a status query at ``now`` (one ``OrderStatusReport``)."""
        self._clock.run_until(now)
        return self.venue.query(query, now, faults=False)

    # --- forcing faults ------------------------------------------------------------------

    def inject_rest_fault(self, kind: str, *, executed: bool, count: int = 1) -> None:
        """Make the next ``count`` submitted requests lose their answer.

        Args:
            kind: ``timeout`` (no answer; ambiguous at the client's deadline) or
                ``server_error`` (a 5xx; ambiguous).
            executed: Whether the venue performs the request anyway.
            count: How many requests.
        """
        if kind not in REST_FAULTS:
            raise ValueError(f"kind must be one of {REST_FAULTS}, got {kind!r}")
        self._forced_rest.extend([(kind, executed)] * count)

    def inject_reject(self, status: str, count: int = 1) -> None:
        """Reject the next ``count`` well-formed placements with ``status``
        (``perpMarginRejected``...)."""
        self.venue.force_reject(status, count)

    def inject_fill(self, oid: Oid, at: float, size: Decimal | None = None) -> None:
        """A taker trades with order ``oid`` at ``at`` (``size``, or a random part or all).

        Raises:
            TimeWentBackwards: ``at`` is before the model's time.
        """
        self._inject_at(at, lambda t: self.venue.hit(oid, size, t))

    def inject_exchange_cancel(self, oid: Oid, status: str, at: float) -> None:
        """The venue cancels order ``oid`` on its own at ``at`` with ``status``.

        Raises:
            TimeWentBackwards: ``at`` is before the model's time.
        """
        def cancel(t: float) -> None:
            order = self.book.resting.get(oid)
            if order is not None:
                self.venue.exchange_cancel(order, status, t)
        self._inject_at(at, cancel)

    def inject_scheduled_cancel(self, at: float) -> None:
        """The dead man's switch fires at ``at``: every open order ends ``scheduledCancel``.

        Raises:
            TimeWentBackwards: ``at`` is before the model's time.
        """
        def fire(t: float) -> None:
            for order in list(self.book.resting.values()):
                self.venue.exchange_cancel(order, "scheduledCancel", t)
        self._inject_at(at, fire)

    def inject_ws_disconnect(self, at: float, downtime_s: float) -> None:
        """The websocket drops at ``at`` and comes back ``downtime_s`` later.

        Raises:
            TimeWentBackwards: ``at`` is before the model's time.
        """
        def drop(t: float) -> None:
            if self.ws.disconnect(t):
                self._clock.at(t + downtime_s, self.ws.reconnect)
        self._inject_at(at, drop)

    def inject_client_stop(self, at: float) -> None:
        """The client's process stops abruptly at ``at``: its websocket is cut and
        stays down (a reconnect due meanwhile does not happen) until
        :meth:`inject_client_start`. The venue keeps trading; what it sends
        meanwhile is lost, and answers to requests in flight reach no one (a
        new :class:`SimulatedAdapter` ignores answers to requests it did not make).

        Raises:
            TimeWentBackwards: ``at`` is before the model's time.
        """
        self._inject_at(at, self.ws.hold)

    def inject_client_start(self, at: float) -> None:
        """The client is back at ``at``: a new websocket connection (announced,
        as any reconnect, with the fills snapshot).

        Raises:
            TimeWentBackwards: ``at`` is before the model's time.
        """
        self._inject_at(at, self.ws.release)

    # --- internals ------------------------------------------------------------------------

    def _inject_at(self, at: float, action: Action) -> None:
        if at < self._clock.now:
            raise TimeWentBackwards(f"cannot inject at {at}: the model is at {self._clock.now}")
        self._clock.at(at, action)

    def _ambiguous(self, ticket: Ticket, at: float, error: str) -> None:
        results = tuple(
            CommandResult(command=c, events=(), ambiguous=True, error=error)
            for c in ticket.commands
        )
        self._clock.deliver(at, Response(at=at, ticket=ticket, results=results), None)

    def _process(self, ticket: Ticket, t: float, reply_at: float | None) -> None:
        """The request reaches the venue at ``t``; answer at ``reply_at`` unless lost."""
        commands = ticket.commands
        first = commands[0]
        actions = len(commands) if isinstance(first, _ACTIONS) else 0
        refusal = self._limiter.admit(
            t, request_weight(commands), actions, cancels=isinstance(first, CancelOrder),
            volume_usd=self.book.volume_usd,
        )
        snapshot = None
        if refusal is not None:
            self.fault_counts["rate_limited"] += 1
            results = tuple(
                CommandResult(command=c, events=(), ambiguous=False, error=refusal,
                              rate_limited=True)
                for c in commands
            )
        elif isinstance(first, FetchOpenOrders):
            snapshot = self.venue.snapshot(t)
            results = (CommandResult(command=first, events=(), ambiguous=False),)
        else:
            results = tuple(self._act(c, t) for c in commands)
        if reply_at is not None:
            response = Response(at=reply_at, ticket=ticket, results=results, snapshot=snapshot)
            self._clock.deliver(reply_at, response, None)

    def _act(self, command: Command, t: float) -> CommandResult:
        venue = self.venue
        if isinstance(command, PlaceOrder):
            return venue.place(command, t)
        if isinstance(command, CancelOrder):
            return venue.cancel(command, t)
        if isinstance(command, ModifyOrder):
            return venue.modify(command, t)
        if isinstance(command, QueryOrderStatus):
            return venue.query(command, t, faults=True)
        raise TypeError(f"not a command: {command!r}")

    # --- the account at the start -------------------------------------------------------------

    def _seed_orders(
        self, previous_run: CloidFactory | None, previous: int, foreign: int, start: float
    ) -> None:
        rng = self._stream("start")
        levels = {Side.BUY: 0, Side.SELL: 0}

        def rest(cloid_of: Callable[[int], Cloid | None], owner: Owner, count: int) -> None:
            for i in range(count):
                side = Side.BUY if i % 2 == 0 else Side.SELL
                placed_at = start - rng.uniform(60.0, 3600.0)
                self.venue.seed_order(cloid_of(i), owner, side, levels[side], placed_at)
                levels[side] += 1

        if previous_run is not None:
            rest(lambda _: previous_run.next(), Owner.PREVIOUS_RUN, previous)
        others = CloidFactory("another-bot", run_id=rng.randrange(2**32))
        rest(lambda i: others.next() if i % 4 < 2 else None, Owner.FOREIGN, foreign)
