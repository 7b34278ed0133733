"""The Hyperliquid adapter: one account on one perp market, as the runtime drives it.

Theory of operation
-------------------
:class:`HyperliquidAdapter` is an :class:`~lifecycle.runtime.adapter.ExchangeAdapter`
(with :class:`~lifecycle.runtime.adapter.HeadroomSource`,
:class:`~lifecycle.runtime.fills.FillHistory` and
:class:`~lifecycle.runtime.adapter.AnomalySource`) made of parts that each own one
job: :mod:`.actions` builds the signed actions, an
:class:`~.rest.ActionSigner` signs them with fresh nonces, :class:`~.rest.RestClient`
posts them (``/exchange`` once, never again blindly; ``/info`` retried), and
:class:`~.codec.Codec` reads every answer, once, into the runtime's results and
the core's events.

Batches. ``place``, ``cancel`` and ``modify`` send one action each (cancels: one
``cancel`` for those with an oid and one ``cancelByCloid`` for the rest). An
``ok`` answer is read status by status; anything else is a whole-request
outcome (:meth:`.codec.Codec.batch_failed`): a rate-limit refusal ("Too many
cumulative requests sent", HTTP 429) makes every command's result
``rate_limited`` (the runtime backs off and sends it again), and every other
whole-request failure (an ``err`` body, a 4xx, a timeout, a 5xx) is ambiguous
for **every** command of the batch, never a rejection: the runtime resolves
each by query. ``orderStatus`` asks by cloid whenever the command has one, so
the leg of a modify that survived answers.

Queries. Open orders are always asked for the market's dex
(:func:`.assets.open_orders_request`): without it a HIP-3 coin's orders are
left out. Every query names the account (:attr:`user`), never an agent wallet.

Websocket. :meth:`HyperliquidAdapter.events` reads a stream of
:class:`~.ws.WsMessage` and :class:`~.ws.Reconnected` items (a
:class:`~.ws.WsSession`, or a test's fake) and hands the codec's events on. A
:class:`~.ws.Reconnected` marker calls ``on_reconnect`` with the time the
connection was lost: nothing is replayed after a reconnect, so the runtime
(:meth:`Runtime.notify_reconnect <lifecycle.runtime.driver.Runtime.notify_reconnect>`)
runs a full safety sync and fetches the fills since then. Market channels
(``bbo``, ``l2Book``, ``allMids``, ``trades``) go to ``on_market``.

Problems. Whatever the codec could not use (a malformed message, an unknown
status word, an answer that does not answer, a credit forgotten) is kept as an
:class:`~lifecycle.runtime.adapter.AdapterAnomaly`, stamped with the time it was
found; the runtime takes them (:meth:`take_anomalies`) after every change to
the engine and records each as an anomaly.

Dry run. With ``dry_run`` every action is built and signed as for real, logged
(its type, nonce and body; never the signature) and **not sent**; each command
is answered definitively as refused, with the error ``"dry run: not sent"``
(:data:`DRY_RUN_ERROR`): an ``OrderRejected`` for a placement,
``CancelRejected``/``ModifyRejected`` (order not gone) for the others. Queries
(``/info``) are sent as usual: they change nothing.

The immediate-fill credit (:class:`~.fills.FillCredits`) lives in the codec;
after a restart it is rebuilt from the recovered engine
(:func:`~.adapter_credits.credits_from_engine`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import msgspec

from lifecycle.core.anomalies import AnomalyKind
from lifecycle.core.commands import CancelOrder, Command, ModifyOrder, PlaceOrder, QueryOrderStatus
from lifecycle.core.events import (
    CancelRejected,
    ExchangeEvent,
    ModifyRejected,
    OrderFilled,
    OrderRejected,
)
from lifecycle.core.ids import Cloid
from lifecycle.runtime.adapter import (
    AdapterAnomaly,
    CommandResult,
    FillsUnavailable,
    HeadroomReading,
    HeadroomUnavailable,
    OpenOrdersSnapshot,
    SnapshotUnavailable,
)
from lifecycle.runtime.vloop import current_time

from .actions import (
    OrderTerms,
    batch_modify_action,
    cancel_action,
    cancel_by_cloid_action,
    cancel_groups,
    order_action,
)
from .assets import Asset, open_orders_request
from .codec import Codec
from .errors import HyperliquidError, InfoRefused, InfoUnavailable
from .problems import ProblemKind
from .rest import ActionSigner, RestClient, RestOutcome
from .statuses import BatchError, batch_error
from .wire import UserFillsByTimeRequest, UserRateLimitRequest, order_status_request
from .ws import Reconnected, WsItem, WsMessage

__all__ = ["DRY_RUN_ERROR", "MARKET_CHANNELS", "HyperliquidAdapter", "epoch_ms"]

log = logging.getLogger("lifecycle.hyperliquid.adapter")

C = TypeVar("C", bound=Command)

#: The error of every command a dry run answers (nothing was sent).
DRY_RUN_ERROR = "dry run: not sent"
#: The status word of a placement a dry run refuses.
DRY_RUN_STATUS = "dryRun"
#: Websocket channels about the market, not about the account's orders.
MARKET_CHANNELS = frozenset({"bbo", "l2Book", "allMids", "trades"})
#: Most fills one ``userFillsByTime`` answer holds; a full page asks for the next one.
FILL_PAGE = 2000
#: Pages one fill fetch reads at most (Hyperliquid keeps the 10,000 most recent fills).
FILL_PAGES = 5
#: The terms of placements remembered for modifies (older ones are asked of ``terms``).
TERMS_MEMORY = 10_000

_ANOMALY_OF: dict[ProblemKind, AnomalyKind] = {
    ProblemKind.MALFORMED: AnomalyKind.MALFORMED_MESSAGE,
    ProblemKind.UNKNOWN_STATUS: AnomalyKind.UNKNOWN_STATUS,
    ProblemKind.UNEXPECTED: AnomalyKind.UNEXPECTED_ANSWER,
    ProblemKind.CREDIT_FORGOTTEN: AnomalyKind.CREDIT_FORGOTTEN,
}
_NONE: tuple[AdapterAnomaly, ...] = ()

#: What a modify needs to know of its order that the command does not carry.
TermsOf = Callable[[ModifyOrder], OrderTerms | None]


def epoch_ms(t: float) -> int:
    """Milliseconds since the epoch of a runtime time that *is* Unix time (seconds).

    The default of :class:`HyperliquidAdapter`'s ``epoch_ms``: ``lifecycle run``
    drives the runtime on a loop whose clock reads Unix time.
    """
    return max(0, round(t * 1000))


class HyperliquidAdapter:
    """One account on one Hyperliquid market (see the module docstring).

    Args:
        rest: The REST transport.
        sign: Signs every action with a fresh nonce.
        asset: The market traded (its asset id, rules and dex).
        user: The address every query names: the account (or the vault traded for),
            never an agent wallet's.
        stream: The websocket items to read (a :class:`~.ws.WsSession`); None: no events.
        codec: Reads every answer; a new one for ``asset`` by default.
        dry_run: Sign and log every action, send none (module docstring).
        on_reconnect: Called with the time (runtime clock) the websocket was lost,
            after every reconnect.
        on_market: Called with each market-channel message and the time it arrived.
        terms: Tells a modify the side and kind of an order this adapter did not place.
        epoch_ms: Converts a runtime time to the exchange's milliseconds (fill fetches).
        now: The runtime clock.
    """

    def __init__(
        self,
        rest: RestClient,
        sign: ActionSigner,
        asset: Asset,
        user: str,
        *,
        stream: AsyncIterable[WsItem] | None = None,
        codec: Codec | None = None,
        dry_run: bool = False,
        on_reconnect: Callable[[float], None] | None = None,
        on_market: Callable[[WsMessage, float], None] | None = None,
        terms: TermsOf | None = None,
        epoch_ms: Callable[[float], int] = epoch_ms,
        now: Callable[[], float] = current_time,
    ) -> None:
        self.rest = rest
        self.sign = sign
        self.asset = asset
        self.user = user.lower()
        self.codec = codec if codec is not None else Codec(asset.name)
        self.dry_run = dry_run
        self.on_reconnect = on_reconnect
        self.on_market = on_market
        self._stream = stream
        self._terms_of = terms
        self._epoch_ms = epoch_ms
        self._now = now
        self._terms: OrderedDict[Cloid, OrderTerms] = OrderedDict()
        self._anomalies: list[AdapterAnomaly] = []
        #: Reconnects seen on the websocket.
        self.reconnects = 0
        #: Actions signed and not sent (dry run).
        self.dry_run_actions = 0

    def __repr__(self) -> str:
        return (f"HyperliquidAdapter(coin={self.asset.name!r}, user={self.user}, "
                f"dry_run={self.dry_run})")

    # --- batches -----------------------------------------------------------------------

    async def place(self, orders: Sequence[PlaceOrder]) -> list[CommandResult]:
        """Place ``orders`` with one ``order`` action.

        Raises:
            ValueError: A price or size breaks the asset's rules (the caller's
                rounding is wrong; the message names the order and the field).
        """
        if not orders:
            return []
        action = order_action(self.asset, orders)
        for cmd in orders:
            self._remember(cmd.cloid, OrderTerms.of(cmd))
        outcome = await self._send(action, orders)
        if outcome is None:
            return self._dry(orders)
        codec = self.codec
        return self._read(orders, outcome, lambda a: codec.place_results(orders, a, self._now()))

    async def cancel(self, cancels: Sequence[CancelOrder]) -> list[CommandResult]:
        """Cancel by oid where known (``cancel``), else by cloid (``cancelByCloid``)."""
        if not cancels:
            return []
        by_oid, by_cloid = cancel_groups(cancels)
        results: list[CommandResult | None] = [None] * len(cancels)
        for positions, by_cloid_action in ((by_oid, False), (by_cloid, True)):
            if not positions:
                continue
            group = [cancels[i] for i in positions]
            build = cancel_by_cloid_action if by_cloid_action else cancel_action
            for i, result in zip(positions, await self._cancel(build(self.asset, group), group),
                                 strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    async def _cancel(self, action: Any, group: list[CancelOrder]) -> list[CommandResult]:
        outcome = await self._send(action, group)
        if outcome is None:
            return self._dry(group)
        codec = self.codec
        return self._read(group, outcome, lambda a: codec.cancel_results(group, a, self._now()))

    async def modify(self, modifies: Sequence[ModifyOrder]) -> list[CommandResult]:
        """Modify with one ``batchModify``; an order whose side is unknown is not sent."""
        if not modifies:
            return []
        results: list[CommandResult | None] = [None] * len(modifies)
        known: list[int] = []
        terms: list[OrderTerms] = []
        for i, cmd in enumerate(modifies):
            kept = self._terms_for(cmd)
            if kept is None:
                log.warning("modify of %s not sent: the order's side is unknown",
                            cmd.cloid or f"oid:{cmd.oid}")
                results[i] = CommandResult(
                    command=cmd, ambiguous=False, error="side unknown: not sent",
                    events=(ModifyRejected(cloid=cmd.cloid, oid=cmd.oid, order_gone=False,
                                           message="side unknown: not sent"),),
                )
            else:
                known.append(i)
                terms.append(kept)
        if known:
            group = [modifies[i] for i in known]
            outcome = await self._send(batch_modify_action(self.asset, group, terms), group)
            if outcome is None:
                answered = self._dry(group)
            else:
                answered = self._read(
                    group, outcome,
                    lambda a: self.codec.modify_results(group, terms, a, self._now()),
                )
            for i, result in zip(known, answered, strict=True):
                results[i] = result
        return [r for r in results if r is not None]

    # --- queries -----------------------------------------------------------------------

    async def open_orders(self) -> OpenOrdersSnapshot:
        """The open orders of the market's dex (every coin of it: the safety sync filters).

        Raises:
            SnapshotUnavailable: No answer, a refusal, or one that is not a list.
        """
        taken_at = self._now()
        try:
            answer = await self._info(open_orders_request(self.user, self.asset))
        except HyperliquidError as exc:
            raise _unavailable(SnapshotUnavailable, exc) from None
        try:
            return self.codec.open_orders_snapshot(answer, taken_at)
        finally:
            self._collect()

    async def order_status(self, query: QueryOrderStatus) -> CommandResult:
        """Ask ``orderStatus`` about one order: by cloid when the query has one, else by oid."""
        request = order_status_request(self.user, query)
        try:
            answer = await self._info(request)
        except HyperliquidError as exc:
            error, limited = _why(exc)
            return CommandResult(command=query, events=(), ambiguous=not limited, error=error,
                                 rate_limited=limited)
        result = self.codec.order_status_result(query, answer)
        self._collect()
        return result

    async def fills_since(self, start: float) -> list[OrderFilled]:
        """The account's fills of this market at or after ``start`` (runtime clock),
        oldest first, each through the immediate-fill credit.

        A full page (2,000 fills) asks for the next one, from the time of its
        newest fill, up to :data:`FILL_PAGES` pages; a fill on a page boundary
        comes twice and counts once.

        Raises:
            FillsUnavailable: A page got no answer, or one that is not a list.
        """
        start_ms = self._epoch_ms(start)
        fills: list[OrderFilled] = []
        for _ in range(FILL_PAGES):
            request = UserFillsByTimeRequest(user=self.user, start_time=start_ms)
            try:
                answer = await self._info(request)
            except HyperliquidError as exc:
                raise _unavailable(FillsUnavailable, exc) from None
            try:
                fills.extend(self.codec.fill_history(answer, self._now()))
            finally:
                self._collect()
            newest = _newest_time(answer)
            if len(answer) < FILL_PAGE:
                return fills
            if newest is None or newest <= start_ms:
                break  # a full page within one millisecond: no later start reaches past it
            start_ms = newest
        # Still full after the last page: the history goes on beyond what was fetched.
        # What was fetched counts; the rest is said, never dropped in silence.
        self._anomalies.append(
            AdapterAnomaly(
                kind=AnomalyKind.CATCH_UP_CUT, at=self._now(),
                detail=f"fill history cut: more than {len(fills)} fills since "
                       f"{self._epoch_ms(start)} ms; fills after {start_ms} ms were not fetched",
            )
        )
        return fills

    async def rate_limit_status(self) -> HeadroomReading:
        """The account's request headroom (``userRateLimit``).

        Raises:
            HeadroomUnavailable: No answer, or one that cannot be read.
        """
        try:
            answer = await self._info(UserRateLimitRequest(user=self.user))
        except HyperliquidError as exc:
            raise _unavailable(HeadroomUnavailable, exc) from None
        try:
            return self.codec.headroom(answer)
        finally:
            self._collect()

    # --- the websocket -----------------------------------------------------------------

    async def events(self) -> AsyncIterator[ExchangeEvent]:
        """The events of the websocket's order channels, in arrival order (module docstring)."""
        if self._stream is None:
            return
        codec = self.codec
        async for item in self._stream:
            now = self._now()
            if isinstance(item, Reconnected):
                self.reconnects += 1
                log.info("websocket reconnected (connection %d, down %.3f s: %s): syncing",
                         item.connection, item.down_s, item.lost)
                if self.on_reconnect is not None:
                    self.on_reconnect(now - item.down_s)
                continue
            if item.channel in MARKET_CHANNELS:
                if self.on_market is not None:
                    self.on_market(item, now)
                continue
            events = codec.ws_events(item.channel, item.data, now)
            self._collect(now)
            for event in events:
                yield event

    # --- anomalies ---------------------------------------------------------------------

    def take_anomalies(self) -> Sequence[AdapterAnomaly]:
        """What the codec could not use since the last call, as anomalies, oldest first."""
        if not self._anomalies:
            return _NONE
        taken, self._anomalies = self._anomalies, []
        return taken

    def _collect(self, now: float | None = None) -> None:
        problems = self.codec.take_problems()
        if problems:
            at = self._now() if now is None else now
            self._anomalies.extend(
                AdapterAnomaly(kind=_ANOMALY_OF[p.kind], at=at, detail=p.detail,
                               order_id=p.order_id)
                for p in problems
            )

    # --- internals ---------------------------------------------------------------------

    async def _info(self, request: msgspec.Struct) -> Any:
        return await self.rest.info(msgspec.to_builtins(request))

    async def _send(self, action: Any, commands: Sequence[Command]) -> RestOutcome | None:
        """Post ``action`` once (None in a dry run, after signing and logging it)."""
        if self.dry_run:
            signed = self.sign(action)
            self.dry_run_actions += 1
            log.info("dry run: %s of %d signed with nonce %d, not sent: %s", action["type"],
                     len(commands), signed.nonce, msgspec.json.encode(action).decode())
            return None
        outcome = await self.rest.exchange(action, self.sign)
        if not outcome.answered:
            kind = batch_error(outcome.error) if outcome.refused else None
            level = logging.ERROR if kind is BatchError.SIGNER else logging.WARNING
            log.log(level, "%s of %d: %s, %s for every command", action["type"], len(commands),
                    outcome.kind.value, outcome.error)
        return outcome

    def _read(
        self,
        commands: Sequence[C],
        outcome: RestOutcome,
        answered: Callable[[Any], list[CommandResult]],
    ) -> list[CommandResult]:
        """The results of an outcome: read one by one when answered, else whole-batch."""
        if outcome.answered:
            results = answered(outcome.response)
        else:
            results = self.codec.batch_failed(commands, outcome.error)
        self._collect()
        return results

    @staticmethod
    def _dry(commands: Sequence[Command]) -> list[CommandResult]:
        results = []
        for cmd in commands:
            event: ExchangeEvent
            if isinstance(cmd, PlaceOrder):
                event = OrderRejected(cloid=cmd.cloid, status=DRY_RUN_STATUS,
                                      message=DRY_RUN_ERROR)
            elif isinstance(cmd, CancelOrder):
                event = CancelRejected(cloid=cmd.cloid, oid=cmd.oid, order_gone=False,
                                       message=DRY_RUN_ERROR)
            else:
                assert isinstance(cmd, ModifyOrder)
                event = ModifyRejected(cloid=cmd.cloid, oid=cmd.oid, order_gone=False,
                                       message=DRY_RUN_ERROR)
            results.append(CommandResult(command=cmd, events=(event,), ambiguous=False,
                                         error=DRY_RUN_ERROR))
        return results

    def _remember(self, cloid: Cloid, terms: OrderTerms) -> None:
        self._terms[cloid] = terms
        if len(self._terms) > TERMS_MEMORY:
            self._terms.popitem(last=False)

    def _terms_for(self, cmd: ModifyOrder) -> OrderTerms | None:
        if cmd.cloid is not None:
            kept = self._terms.get(cmd.cloid)
            if kept is not None:
                return kept
        return self._terms_of(cmd) if self._terms_of is not None else None


E = TypeVar("E", SnapshotUnavailable, FillsUnavailable, HeadroomUnavailable)


def _unavailable(kind: type[E], exc: HyperliquidError) -> E:
    error, limited = _why(exc)
    return kind(error, rate_limited=limited)


def _why(exc: HyperliquidError) -> tuple[str, bool]:
    """The words of a failed query and whether it was rate limited."""
    if isinstance(exc, InfoUnavailable):
        return exc.error, exc.rate_limited
    if isinstance(exc, InfoRefused):
        return f"refused (HTTP {exc.status}): {exc.error}", False
    return str(exc), False


def _newest_time(answer: Any) -> int | None:
    times = [item.get("time") for item in answer if isinstance(item, dict)]
    ints = [t for t in times if isinstance(t, int) and not isinstance(t, bool)]
    return max(ints) if ints else None
