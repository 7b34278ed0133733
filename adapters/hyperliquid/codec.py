"""Hyperliquid's answers to core events and the runtime's results: the adapter's codec.

Theory of operation
-------------------
:class:`Codec` is what an :class:`~lifecycle.runtime.adapter.ExchangeAdapter`
implementation calls with each answer it receives, once, at the boundary:

* **batches** (``order``, ``cancel``/``cancelByCloid``, ``batchModify``):
  ``place_results``, ``cancel_results`` and ``modify_results`` read the
  ``statuses`` one by one, in request order, and give one
  :class:`~lifecycle.runtime.adapter.CommandResult` per command. ``resting``
  accepts; ``filled`` is an immediate fill credited once
  (:class:`~.fills.FillCredits`); an ``error`` is the order's rejection, a
  cancel's refusal (gone or not) or one of the three refused modifies
  (:class:`~.statuses.ModifyRefusal`); ``success`` is a cancel done. A status
  the command cannot have, a bare word such as ``waitingForFill``, a status
  that does not decode, or a status missing from a short list is ambiguous
  for its command alone, and a problem.
* **whole-request errors** (``{"status": "err"}``, or the transport's
  refusal): :meth:`Codec.batch_failed` makes every command's result rate
  limited ("Too many cumulative requests sent") or ambiguous (anything else:
  a batch pre-validation error names no order, so none is taken as rejected).
* **info answers**: ``orderStatus`` gives one
  :class:`~lifecycle.core.events.OrderStatusReport`; ``openOrders`` and
  ``frontendOpenOrders`` a snapshot (a row that does not decode is dropped
  and a problem, the others stay); ``userFills``/``userFillsByTime`` the
  fills to hand the engine; ``userRateLimit`` a headroom reading. An answer
  that cannot be read at all raises the runtime's ``...Unavailable`` error.

Answers may be given as raw JSON or as parsed objects, and a batch answer as
the whole body (``{"status": ..., "response": ...}``) or as its ``response``
member. Exchange text in events is ASCII. Nothing the exchange sends raises
elsewhere: problems are collected for :meth:`~.ws_codec.StreamCodec.take_problems`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from lifecycle.core.commands import CancelOrder, Command, ModifyOrder, PlaceOrder, QueryOrderStatus
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
    StatusOutcome,
)
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side
from lifecycle.runtime.adapter import (
    CommandResult,
    FillsUnavailable,
    HeadroomReading,
    HeadroomUnavailable,
    OpenOrder,
    OpenOrdersSnapshot,
    SnapshotUnavailable,
    is_rate_limit_refusal,
)

from .actions import OrderTerms
from .problems import ProblemKind, ascii_text, order_label
from .statuses import (
    ModifyRefusal,
    cancel_refused_gone,
    classify_status,
    modify_refusal,
    reject_status,
)
from .translate import OUTCOMES, side_of
from .wire import (
    ActionAnswer,
    BatchStatus,
    ExchangeAnswer,
    FilledStatus,
    FrontendOrderRow,
    OrderStatusAnswer,
    StatusEntry,
    UserRateLimitAnswer,
    WireError,
    decode,
    decode_item,
)
from .ws_codec import StreamCodec

__all__ = ["Codec"]

C = TypeVar("C", bound=Command)
_Answer = Callable[[int, C, StatusEntry], CommandResult]
_ZERO = Decimal(0)
#: The shape of one batch status; a union is no ``type[...]``, hence ``Any``.
_STATUS_SHAPE: Any = BatchStatus


class Codec(StreamCodec):
    """Answers of one account on one coin to events and results (see the module docstring).

    Args:
        coin: The market's wire name; fills and order updates of other coins
            are skipped (snapshots keep every row: the safety sync counts them).
        credits: The immediate-fill credit (shared by answers and fills).
    """

    # --- batches -----------------------------------------------------------------------

    def place_results(
        self, commands: Sequence[PlaceOrder], answer: object, now: float
    ) -> list[CommandResult]:
        """One result per placement, from the ``order`` action's answer."""

        def one(i: int, cmd: PlaceOrder, entry: StatusEntry) -> CommandResult:
            if entry.resting is not None:
                if not self._same_cloid(cmd.cloid, entry.resting.cloid, i, "order"):
                    return _ambiguous(cmd, "answer names another cloid")
                accepted = OrderAccepted(cloid=cmd.cloid, oid=Oid(entry.resting.oid))
                return _done(cmd, accepted)
            if entry.filled is not None:
                if not self._same_cloid(cmd.cloid, entry.filled.cloid, i, "order"):
                    return _ambiguous(cmd, "answer names another cloid")
                return self._immediate(cmd, entry.filled, cmd.cloid, cmd.side, (), now)
            message = ascii_text(entry.error or "")
            return _done(
                cmd, OrderRejected(cloid=cmd.cloid, status=reject_status(message), message=message)
            )

        return self._batch(commands, answer, "order", one)

    def cancel_results(
        self, commands: Sequence[CancelOrder], answer: object, now: float
    ) -> list[CommandResult]:
        """One result per cancel, from a ``cancel`` or ``cancelByCloid`` answer."""

        def one(i: int, cmd: CancelOrder, entry: StatusEntry) -> CommandResult:
            if entry.error is None:
                self._unexpected(i, "cancel", "a resting or filled status", cmd)
                return _ambiguous(cmd, "unexpected cancel status")
            message = ascii_text(entry.error)
            gone = cancel_refused_gone(message)
            return _done(
                cmd,
                CancelRejected(cloid=cmd.cloid, oid=cmd.oid, order_gone=gone, message=message),
            )

        return self._batch(commands, answer, "cancel", one, success=_cancel_done)

    def modify_results(
        self,
        commands: Sequence[ModifyOrder],
        terms: Sequence[OrderTerms],
        answer: object,
        now: float,
    ) -> list[CommandResult]:
        """One result per modify, from the ``batchModify`` answer.

        ``terms[i]`` are the kept terms of ``commands[i]`` (its side names an
        immediate fill of the replacement).

        Raises:
            ValueError: ``terms`` and ``commands`` differ in length.
        """
        if len(terms) != len(commands):
            raise ValueError(f"{len(commands)} modifies need as many terms, got {len(terms)}")

        def one(i: int, cmd: ModifyOrder, entry: StatusEntry) -> CommandResult:
            status = entry.resting or entry.filled
            if status is not None:
                if not self._same_cloid(cmd.cloid, status.cloid, i, "batchModify"):
                    return _ambiguous(cmd, "answer names another cloid")
                modified = OrderModified(
                    cloid=cmd.cloid, oid=Oid(status.oid), old_oid=cmd.oid,
                    price=cmd.price, size=cmd.size,
                )
                if entry.filled is None:
                    return _done(cmd, modified)
                return self._immediate(
                    cmd, entry.filled, cmd.cloid, terms[i].side, (modified,), now
                )
            message = ascii_text(entry.error or "")
            refusal = modify_refusal(message)
            if refusal is ModifyRefusal.REPLACEMENT_REFUSED:
                # The old order was cancelled; only its replacement was refused, so
                # the order has ended. Marked exchange-initiated: a plain `canceled`
                # during a modify is the replaced leg, and the engine would wait
                # for a replacement that will never come.
                canceled = OrderCanceled(
                    cloid=cmd.cloid, oid=cmd.oid, status="canceled", exchange_initiated=True
                )
                return CommandResult(
                    command=cmd, events=(canceled,), ambiguous=False, error=message
                )
            gone = refusal is ModifyRefusal.ORDER_GONE
            refused = ModifyRejected(cloid=cmd.cloid, oid=cmd.oid, order_gone=gone, message=message)
            return CommandResult(command=cmd, events=(refused,), ambiguous=False, error=message)

        return self._batch(commands, answer, "batchModify", one)

    def batch_failed(self, commands: Sequence[C], error: str) -> list[CommandResult]:
        """Every command's result when the whole request failed with ``error``.

        A rate-limit refusal is definitive (nothing happened; ``rate_limited``);
        anything else (a whole-batch ``err``, a timeout, a 5xx) is ambiguous.
        """
        words = ascii_text(error)
        limited = is_rate_limit_refusal(error)
        return [
            CommandResult(
                command=cmd, events=(), ambiguous=not limited, error=words, rate_limited=limited
            )
            for cmd in commands
        ]

    @staticmethod
    def action_error(answer: object) -> str | None:
        """None when an action answered ``ok`` (``scheduleCancel``, ``noop``), else its words.

        An answer that cannot be read gives the reader's words.
        """
        try:
            body = decode(answer, ExchangeAnswer, "action answer")
        except WireError as exc:
            return ascii_text(str(exc))
        if body.status == "ok":
            return None
        return ascii_text(body.response if isinstance(body.response, str) else body.status)

    # --- info answers ------------------------------------------------------------------

    def order_status_result(self, query: QueryOrderStatus, answer: object) -> CommandResult:
        """The result of an ``orderStatus`` query: one report, or ambiguous with a problem."""
        label = order_label(query.cloid, query.oid)
        try:
            body = decode(answer, OrderStatusAnswer, "orderStatus")
        except WireError as exc:
            self._problem(ProblemKind.MALFORMED, str(exc), label)
            return _ambiguous(query, "unreadable orderStatus answer")
        if body.status == "unknownOid":
            report = OrderStatusReport(
                cloid=query.cloid, oid=query.oid, outcome=StatusOutcome.NOT_FOUND,
                status="unknownOid",
            )
            return _done(query, report)
        if body.status != "order" or body.order is None:
            self._problem(
                ProblemKind.UNEXPECTED, f"orderStatus: status {body.status!r} without order", label
            )
            return _ambiguous(query, f"orderStatus status {ascii_text(body.status)}")
        word, order = body.order.status, body.order.order
        fact, known = classify_status(word)
        if not known:
            taken = f"taken as {fact.value}" if fact is not None else "no fact taken from it"
            self._problem(ProblemKind.UNKNOWN_STATUS, f"orderStatus: {word!r}, {taken}", label)
        if fact is None:
            return _ambiguous(query, f"unknown status {ascii_text(word)}")
        cloid = self._cloid(order.cloid, "orderStatus: $.order.order", order.oid)
        if (query.cloid is not None and cloid is not None and cloid != query.cloid) or (
            query.cloid is None and query.oid is not None and order.oid != query.oid
        ):
            self._problem(
                ProblemKind.UNEXPECTED, f"orderStatus answered for another order: {order.oid}",
                label,
            )
            return _ambiguous(query, "answer names another order")
        report = OrderStatusReport(
            cloid=query.cloid if query.cloid is not None else cloid,
            oid=Oid(order.oid), outcome=OUTCOMES[fact], status=ascii_text(word),
        )
        return _done(query, report)

    def open_orders_snapshot(self, answer: object, taken_at: float) -> OpenOrdersSnapshot:
        """The snapshot of an ``openOrders`` or ``frontendOpenOrders`` answer.

        ``taken_at`` is when the request was sent (the driver's clock).

        Raises:
            SnapshotUnavailable: the answer is not a list.
        """
        try:
            items = decode(answer, list[Any], "openOrders")
        except WireError as exc:
            self._problem(ProblemKind.MALFORMED, str(exc))
            raise SnapshotUnavailable(str(exc)) from None
        rows: list[OpenOrder] = []
        for i, item in enumerate(items):
            try:
                row = decode_item(item, FrontendOrderRow, f"$[{i}]", "openOrders")
            except WireError as exc:
                self._problem(ProblemKind.MALFORMED, str(exc))
                continue
            rows.append(
                OpenOrder(
                    coin=row.coin, oid=Oid(row.oid),
                    cloid=self._cloid(row.cloid, f"openOrders: $[{i}]", row.oid),
                    side=side_of(row.side),
                    price=row.limit_px, size=row.sz,
                )
            )
        return OpenOrdersSnapshot(taken_at=taken_at, orders=tuple(rows))

    def fill_history(self, answer: object, now: float) -> list[OrderFilled]:
        """The fills of a ``userFills``/``userFillsByTime`` answer to hand the engine,
        oldest first, each through the immediate-fill credit.

        Raises:
            FillsUnavailable: the answer is not a list.
        """
        try:
            items = decode(answer, list[Any], "userFills")
        except WireError as exc:
            self._problem(ProblemKind.MALFORMED, str(exc))
            raise FillsUnavailable(str(exc)) from None
        return self.read_fills(items, "$", now, what="userFills", by_time=True)

    def headroom(self, answer: object) -> HeadroomReading:
        """The reading of a ``userRateLimit`` answer.

        Raises:
            HeadroomUnavailable: the answer cannot be read.
        """
        try:
            body = decode(answer, UserRateLimitAnswer, "userRateLimit")
        except WireError as exc:
            self._problem(ProblemKind.MALFORMED, str(exc))
            raise HeadroomUnavailable(str(exc)) from None
        volume = body.cum_vlm if body.cum_vlm.is_finite() else _ZERO
        return HeadroomReading(
            used=body.n_requests_used, cap=body.n_requests_cap,
            surplus=body.n_requests_surplus, cum_volume=volume,
        )

    # --- internals ---------------------------------------------------------------------

    def _batch(
        self,
        commands: Sequence[C],
        answer: object,
        what: str,
        one: _Answer[C],
        success: Callable[[C], CommandResult] | None = None,
    ) -> list[CommandResult]:
        """Read a batch answer and give each command the result of its status."""
        statuses = self._statuses(commands, answer, what)
        if isinstance(statuses, str):
            return self.batch_failed(commands, statuses)
        if statuses is None:
            return [_ambiguous(cmd, f"unreadable {what} answer") for cmd in commands]
        if len(statuses) != len(commands):
            self._problem(
                ProblemKind.UNEXPECTED,
                f"{what}: {len(statuses)} statuses for {len(commands)} commands",
            )
        results: list[CommandResult] = []
        for i, cmd in enumerate(commands):
            if i >= len(statuses):
                results.append(_ambiguous(cmd, f"no status in the {what} answer"))
                continue
            try:
                status: BatchStatus = decode_item(
                    statuses[i], _STATUS_SHAPE, f"$.response.data.statuses[{i}]", what
                )
            except WireError as exc:
                self._problem(ProblemKind.MALFORMED, str(exc), _label(cmd))
                results.append(_ambiguous(cmd, "unreadable status"))
                continue
            if isinstance(status, str):
                if status == "success" and success is not None:
                    results.append(success(cmd))
                else:
                    self._unexpected(i, what, repr(status), cmd)
                    results.append(_ambiguous(cmd, ascii_text(status)))
                continue
            if sum(x is not None for x in (status.resting, status.filled, status.error)) != 1:
                self._unexpected(i, what, "a status with no kind, or several", cmd)
                results.append(_ambiguous(cmd, "unreadable status"))
                continue
            if status.error is not None and is_rate_limit_refusal(status.error):
                results.append(self.batch_failed((cmd,), status.error)[0])
                continue
            results.append(one(i, cmd, status))
        return results

    def _statuses(self, commands: Sequence[Command], answer: object, what: str) -> Any:
        """The raw statuses of a batch answer; the error text of a whole-request
        ``err``; or None (a problem) when the answer cannot be read."""
        try:
            if isinstance(answer, (bytes, bytearray, memoryview, str, msgspec.Raw)):
                answer = msgspec.json.decode(answer)
            if isinstance(answer, dict) and "status" in answer:
                body = decode(answer, ExchangeAnswer, what)
                if body.status != "ok":
                    return body.response if isinstance(body.response, str) else body.status
                response = body.response
            else:
                response = decode(answer, ActionAnswer, what)
        except (WireError, msgspec.DecodeError) as exc:
            self._problem(ProblemKind.MALFORMED, f"{what}: {exc}")
            return None
        if not isinstance(response, ActionAnswer) or response.data is None:
            self._problem(ProblemKind.UNEXPECTED, f"{what}: an ok answer without statuses")
            return None
        return response.data.statuses

    def _immediate(
        self,
        cmd: Command,
        filled: FilledStatus,
        cloid: Cloid | None,
        side: Side,
        before: tuple[ExchangeEvent, ...],
        now: float,
    ) -> CommandResult:
        """A ``filled`` status: the credit's fill, or an ack binding the oid when the
        fills already brought it all."""
        oid = Oid(filled.oid)
        try:
            credit = self.credits.immediate(
                oid=oid, cloid=cloid, side=side, total=filled.total_sz, avg_px=filled.avg_px,
                now=now,
            )
        except (TypeError, ValueError) as exc:
            self._problem(ProblemKind.MALFORMED, f"filled status: {exc}", order_label(cloid, oid))
            return _ambiguous(cmd, "unreadable filled status")
        if credit is not None:
            return CommandResult(command=cmd, events=(*before, credit), ambiguous=False)
        if before:
            return CommandResult(command=cmd, events=before, ambiguous=False)
        return _done(cmd, OrderAccepted(cloid=cloid, oid=oid))

    def _same_cloid(self, ours: Cloid | None, theirs: str | None, i: int, what: str) -> bool:
        """Whether a status's cloid (when it names one) is the command's; a problem if not."""
        if theirs is None or ours is None:
            return True
        try:
            if Cloid(theirs) == ours:
                return True
        except ValueError:
            pass
        self._problem(
            ProblemKind.UNEXPECTED, f"{what}: statuses[{i}] names cloid {theirs!r}", ours
        )
        return False

    def _unexpected(self, i: int, what: str, found: str, cmd: Command) -> None:
        self._problem(ProblemKind.UNEXPECTED, f"{what}: statuses[{i}] is {found}", _label(cmd))


def _label(cmd: Command) -> str | None:
    return order_label(getattr(cmd, "cloid", None), getattr(cmd, "oid", None))


def _done(cmd: Command, event: ExchangeEvent) -> CommandResult:
    return CommandResult(command=cmd, events=(event,), ambiguous=False)


def _ambiguous(cmd: Command, error: str) -> CommandResult:
    return CommandResult(command=cmd, events=(), ambiguous=True, error=error)


def _cancel_done(cmd: CancelOrder) -> CommandResult:
    return _done(cmd, OrderCanceled(cloid=cmd.cloid, oid=cmd.oid, status="canceled"))
