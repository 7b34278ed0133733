"""Websocket messages and fill lists to core events; the base of :class:`~.codec.Codec`.

Theory of operation
-------------------
:class:`StreamCodec` reads what the account's websocket subscriptions deliver
and the fill lists of ``userFills``/``userFillsByTime``, for one coin:

* ``orderUpdates``: each item's status word becomes its fact's event
  (:func:`~.translate.status_event`); ``filled`` gives none, the fills do.
* ``userFills``: each fill goes through the immediate-fill credit
  (:class:`~.fills.FillCredits`), which hands on what is not counted yet.
  **A batch marked ``isSnapshot`` is dropped whole**, its fills neither
  handed on nor shown to the credit: the subscription replays fills delivered
  before (the seed system's B13 counted them again). What the bot missed while
  the socket was down is fetched with ``userFillsByTime`` (the runtime's fill
  catch-up after every reconnect), and those fills take the credit path as
  any other. :attr:`StreamCodec.replayed_fills` counts the fills dropped.
* ``user`` (``userEvents``): its fills take the same path, so a fill that
  came on ``userFills`` too is counted once; a ``nonUserCancel`` is an
  exchange cancel (status ``nonUserCancel``); funding, liquidations and twaps
  carry nothing about orders.
* ``error`` frames are problems; acknowledgements, pongs, post answers and
  market channels give nothing.

Items of other coins are skipped (counted in :attr:`StreamCodec.other_coin`):
the engine tracks one market. Nothing here raises for what the exchange sent:
a frame or an item that cannot be read is a :class:`~.problems.Problem`
(:meth:`StreamCodec.take_problems`), and the rest of the frame still counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lifecycle.core.events import ExchangeEvent, OrderCanceled, OrderFilled
from lifecycle.core.ids import Cloid, Oid

from .fills import FillCredits
from .problems import Problem, ProblemKind, ascii_text, order_label
from .statuses import Fact, classify_status
from .translate import cloid_of, fill_event, status_event
from .wire import WireError, WireFill, decode, decode_item
from .ws_wire import NonUserCancel, WsFrame, WsOrder, WsUserEvent, WsUserFills

__all__ = ["StreamCodec"]


class StreamCodec:
    """Websocket frames and fill lists of one coin, to events (see the module docstring).

    Args:
        coin: The market's wire name (``BTC``, ``xyz:TSLA``...); items of other
            coins are skipped.
        credits: The immediate-fill credit shared with the action answers
            (a new one by default).
    """

    def __init__(self, coin: str, *, credits: FillCredits | None = None) -> None:
        if not isinstance(coin, str) or not coin:
            raise ValueError(f"coin must be a non-empty str, got {coin!r}")
        self.coin = coin
        self.credits = credits if credits is not None else FillCredits()
        #: Items skipped because they name another coin.
        self.other_coin = 0
        #: Fills of ``isSnapshot`` batches, dropped.
        self.replayed_fills = 0
        self._problems: list[Problem] = []

    def take_problems(self) -> list[Problem]:
        """The problems found since the last call: the codec's in the order found,
        then the credit's.

        Record each as an anomaly; a problem changed no order by itself.
        """
        problems = self._problems + self.credits.take_problems()
        self._problems = []
        return problems

    def _cloid(self, text: str | None, where: str, oid: int | None) -> Cloid | None:
        """The canonical cloid of a wire ``cloid``; text that is no cloid is a problem
        and read as none (the message still counts)."""
        cloid, readable = cloid_of(text)
        if not readable:
            self._problem(
                ProblemKind.MALFORMED, f"{where}: cloid {text!r} is no cloid, read as none",
                order_label(None, oid),
            )
        return cloid

    def _problem(self, kind: ProblemKind, detail: str, order_id: str | None = None) -> None:
        label = None if order_id is None else ascii_text(order_id, limit=100)
        self._problems.append(Problem(kind=kind, detail=ascii_text(detail), order_id=label))

    # --- websocket ---------------------------------------------------------------------

    def ws_frame(self, frame: bytes | str, now: float) -> list[ExchangeEvent]:
        """The events of one websocket frame as received (text or bytes).

        A frame that is not JSON (the greeting ``Websocket connection
        established.``) gives nothing.
        """
        text = frame if isinstance(frame, str) else bytes(frame).decode("utf-8", "replace")
        if not text.lstrip().startswith("{"):
            return []
        try:
            parsed = decode(frame, WsFrame, "websocket frame")
        except WireError as exc:
            self._problem(ProblemKind.MALFORMED, str(exc))
            return []
        return self.ws_events(parsed.channel, parsed.data, now)

    def ws_events(self, channel: str, data: object, now: float) -> list[ExchangeEvent]:
        """The events of one channel message (``data`` raw JSON or parsed objects)."""
        try:
            if channel == "orderUpdates":
                return self._order_updates(decode(data, list[Any], "orderUpdates"))
            if channel == "userFills":
                return self._user_fills(decode(data, WsUserFills, "userFills"), now)
            if channel == "user":
                return self._user_event(decode(data, WsUserEvent, "userEvents"), now)
        except WireError as exc:
            self._problem(ProblemKind.MALFORMED, str(exc))
            return []
        if channel == "error":
            shown = data if isinstance(data, str) else repr(data)
            self._problem(ProblemKind.UNEXPECTED, f"websocket error: {shown}")
        return []

    def _order_updates(self, items: list[Any]) -> list[ExchangeEvent]:
        events: list[ExchangeEvent] = []
        for i, item in enumerate(items):
            try:
                update = decode_item(item, WsOrder, f"$[{i}]", "orderUpdates")
            except WireError as exc:
                self._problem(ProblemKind.MALFORMED, str(exc))
                continue
            order = update.order
            if order.coin != self.coin:
                self.other_coin += 1
                continue
            event = self._status_event(update.status, order.cloid, order.oid, "orderUpdates")
            if event is not None:
                events.append(event)
        return events

    def _status_event(
        self, word: str, cloid_text: str | None, oid: int, where: str
    ) -> ExchangeEvent | None:
        """The event of a status word about a resting order; unknown words are problems."""
        label = order_label(cloid_text, oid)
        fact, known = classify_status(word)
        if not known:
            taken = f"taken as {fact.value}" if fact is not None else "no fact taken from it"
            self._problem(
                ProblemKind.UNKNOWN_STATUS, f"{where}: unknown status {word!r}, {taken}", label
            )
        if fact is None or fact is Fact.FILLED:
            return None
        cloid = self._cloid(cloid_text, where, oid)
        try:
            return status_event(fact, word, cloid, Oid(oid))
        except (TypeError, ValueError) as exc:  # a value the event refuses
            self._problem(ProblemKind.MALFORMED, f"{where}: {exc}", label)
            return None

    def _user_fills(self, payload: WsUserFills, now: float) -> list[ExchangeEvent]:
        if payload.is_snapshot:
            self.replayed_fills += len(payload.fills)
            return []
        return list(self.read_fills(payload.fills, "$.fills", now, what="userFills"))

    def _user_event(self, payload: WsUserEvent, now: float) -> list[ExchangeEvent]:
        events: list[ExchangeEvent] = []
        if payload.fills is not None:
            events.extend(self.read_fills(payload.fills, "$.fills", now, what="userEvents"))
        for i, item in enumerate(payload.non_user_cancel or ()):
            try:
                cancel = decode_item(item, NonUserCancel, f"$.nonUserCancel[{i}]", "userEvents")
            except WireError as exc:
                self._problem(ProblemKind.MALFORMED, str(exc))
                continue
            if cancel.coin != self.coin:
                self.other_coin += 1
                continue
            events.append(
                OrderCanceled(
                    oid=Oid(cancel.oid), status="nonUserCancel", exchange_initiated=True
                )
            )
        if not payload.known:
            self._problem(ProblemKind.UNEXPECTED, "userEvents: a payload of no known kind")
        return events

    # --- fills -------------------------------------------------------------------------

    def read_fills(
        self, items: Iterable[Any], where: str, now: float, *, what: str, by_time: bool = False
    ) -> list[OrderFilled]:
        """The fills of ``items`` (wire fill objects) to hand the engine.

        Each fill of this coin goes through the credit; one that cannot be read
        is a problem. With ``by_time`` the fills are taken oldest first.
        """
        fills: list[tuple[int, WireFill]] = []
        for i, item in enumerate(items):
            try:
                fills.append((i, decode_item(item, WireFill, f"{where}[{i}]", what)))
            except WireError as exc:
                self._problem(ProblemKind.MALFORMED, str(exc))
        if by_time:
            fills.sort(key=lambda pair: pair[1].time)
        out: list[OrderFilled] = []
        for i, fill in fills:
            if fill.coin != self.coin:
                self.other_coin += 1
                continue
            cloid = self._cloid(fill.cloid, f"{what}: {where}[{i}]", fill.oid)
            try:
                event = fill_event(fill, cloid)
            except (TypeError, ValueError) as exc:
                self._problem(
                    ProblemKind.MALFORMED, f"{what}: {where}[{i}]: {exc}",
                    order_label(fill.cloid, fill.oid),
                )
                continue
            handed = self.credits.fill(event, now)
            if handed is not None:
                out.append(handed)
        return out
