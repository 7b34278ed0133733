"""The Hyperliquid codec, action answers: batch statuses read one by one (``resting``,
``filled``, ``error``, bare words), whole-batch errors ambiguous for every order, cancel
refusals, and the three refused modifies; malformed answers are problems, never
exceptions. Info answers are in ``test_hl_codec_info.py``, websocket messages in
``test_hl_codec_ws.py``."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from lifecycle.adapters.hyperliquid.actions import OrderTerms
from lifecycle.adapters.hyperliquid.codec import Codec
from lifecycle.adapters.hyperliquid.problems import ProblemKind
from lifecycle.adapters.hyperliquid.statuses import (
    BatchError,
    batch_error,
    reject_status,
)

from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder
from lifecycle.core.events import (
    CancelRejected,
    ModifyRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderModified,
    OrderRejected,
)
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side

D = Decimal
C1, C2, C3 = (Cloid(f"0x{i:032x}") for i in (1, 2, 3))
RATE = (
    "Too many cumulative requests sent (97460 > 97456) for cumulative volume traded $87457.46. "
    "Place taker orders to free up 1 request per USDC traded."
)


def places(n: int = 3) -> list[PlaceOrder]:
    return [PlaceOrder(cloid=c, side=Side.BUY, price=D("100"), size=D("1"))
            for c in (C1, C2, C3)[:n]]


def ok(kind: str, *statuses: Any) -> dict[str, Any]:
    return {"status": "ok", "response": {"type": kind, "data": {"statuses": list(statuses)}}}


def kinds(codec: Codec) -> list[ProblemKind]:
    return [p.kind for p in codec.take_problems()]


# --- order answers ---------------------------------------------------------------------------


def test_place_statuses_are_read_one_by_one() -> None:
    codec = Codec("ETH")
    answer = ok("order", {"resting": {"oid": 77738308}},
                {"filled": {"totalSz": "0.1", "avgPx": "100.84", "oid": 6195281425}},
                {"error": "Order must have minimum value of $10."})

    rest, fill, err = codec.place_results(places(), answer, 1.0)

    assert rest.events == (OrderAccepted(cloid=C1, oid=Oid(77738308)),)
    (immediate,) = fill.events
    assert isinstance(immediate, OrderFilled) and immediate.size == D("0.1")
    assert immediate.price == D("100.84") and immediate.cloid == C2 and immediate.tid == 0
    assert err.events == (OrderRejected(cloid=C3, status="minTradeNtlRejected",
                                        message="Order must have minimum value of $10."),)
    assert not any(r.ambiguous for r in (rest, fill, err)) and codec.take_problems() == []


def test_answer_as_bytes_as_objects_and_as_the_response_member_agree() -> None:
    answer = ok("order", {"resting": {"oid": 5}}, {"error": "Invalid TP/SL price."},
                {"resting": {"oid": 6, "cloid": str(C3)}})
    raw = json.dumps(answer)

    results = [Codec("ETH").place_results(places(), form, 0) for form in
               (answer, raw, raw.encode(), answer["response"], json.dumps(answer["response"]))]

    assert all(r == results[0] for r in results)
    assert results[0][1].events[0].status == "badTriggerPxRejected"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("message", "status"),
    [
        ("Price must be divisible by tick size. asset=4", "tickRejected"),
        ("Order has invalid price.", "tickRejected"),
        ("Order must have minimum value of $10. asset=159", "minTradeNtlRejected"),
        ("Order must have minimum value of 10 USDC.", "minTradeSpotNtlRejected"),
        ("Insufficient margin to place order. asset=159", "perpMarginRejected"),
        ("Reduce only order would increase position.", "reduceOnlyRejected"),
        ("Post only order would have immediately matched, bbo was 1.2@1.3. asset=0",
         "badAloPxRejected"),
        ("Order could not immediately match against any resting orders.", "iocCancelRejected"),
        ("Invalid TP/SL price.", "badTriggerPxRejected"),
        ("No liquidity available for market order.", "marketOrderNoLiquidityRejected"),
        ("Order would increase open interest while open interest is capped",
         "positionIncreaseAtOpenInterestCapRejected"),
        ("Order rejected due to price more aggressive than oracle while at open interest cap",
         "tooAggressiveAtOpenInterestCapRejected"),
        ("Order would increase open interest too quickly", "openInterestIncreaseRejected"),
        ("(Spot-only) Order has insufficient spot balance to trade",
         "insufficientSpotBalanceRejected"),
        ("Insufficient spot balance asset=10000", "insufficientSpotBalanceRejected"),
        ("Order price too far from oracle", "oracleRejected"),
        ("Order would cause position to exceed margin tier limit at current leverage",
         "perpMaxPositionRejected"),
        ("Order has zero size.", "rejected"),
        ("Only post-only orders allowed immediately after a network upgrade", "rejected"),
    ],
)
def test_place_error_messages_map_to_their_status_words(message: str, status: str) -> None:
    (result,) = Codec("ETH").place_results(places(1), ok("order", {"error": message}), 0)

    assert reject_status(message) == status
    assert result.events == (OrderRejected(cloid=C1, status=status, message=message),)


@pytest.mark.parametrize("word", ["waitingForFill", "waitingForTrigger", "success", "weird"])
def test_a_bare_word_for_a_placement_is_ambiguous_for_it_alone(word: str) -> None:
    codec = Codec("ETH")

    first, second = codec.place_results(places(2), ok("order", word, {"resting": {"oid": 1}}), 0)

    assert first.ambiguous and first.events == () and word in first.error
    assert not second.ambiguous and second.events == (OrderAccepted(cloid=C2, oid=Oid(1)),)
    assert kinds(codec) == [ProblemKind.UNEXPECTED]


@pytest.mark.parametrize(
    "error",
    [
        "L1 error: User or API Wallet 0x0000000000000000000000000000000000000001 does not exist.",
        "Action already expired",
        "Invalid nonce: duplicate nonce 1700000000000",
        "Order has invalid price.",  # a batch pre-validation error names no order
    ],
)
def test_a_whole_batch_err_is_ambiguous_for_every_order(error: str) -> None:
    results = Codec("ETH").place_results(places(), {"status": "err", "response": error}, 0)

    assert [r.ambiguous for r in results] == [True] * 3
    assert all(r.events == () and r.error == error and not r.rate_limited for r in results)


def test_a_rate_limit_err_is_definitive_and_rate_limited_for_every_order() -> None:
    codec = Codec("ETH")

    results = codec.place_results(places(), {"status": "err", "response": RATE}, 0)
    one = codec.place_results(places(2), ok("order", {"error": RATE}, {"resting": {"oid": 3}}), 0)

    assert all(r.rate_limited and not r.ambiguous and r.events == () for r in results)
    assert one[0].rate_limited and not one[1].rate_limited
    assert batch_error(RATE) is BatchError.RATE_LIMITED


@pytest.mark.parametrize(
    ("error", "kind"),
    [("Action already expired", BatchError.EXPIRED),
     ("Invalid nonce: nonce too low 5 < 6", BatchError.NONCE),
     ("Must deposit before performing actions. User: 0xabc", BatchError.SIGNER),
     ("Cannot set scheduled cancel time until enough volume traded. Required: $1000000. "
      "Traded: $373.47205.", BatchError.SCHEDULE_CANCEL_LOCKED),
     ("something new", BatchError.OTHER)],
)
def test_batch_errors_are_classified(error: str, kind: BatchError) -> None:
    assert batch_error(error) is kind


def test_transport_failures_are_ambiguous_unless_rate_limited() -> None:
    codec = Codec("ETH")

    timeout = codec.batch_failed(places(2), "request timed out after 10 s")
    limited = codec.batch_failed(places(2), "429 Too Many Requests")

    assert all(r.ambiguous and r.error.startswith("request timed out") for r in timeout)
    assert all(r.rate_limited and not r.ambiguous for r in limited)


def test_a_short_status_list_leaves_the_missing_orders_ambiguous() -> None:
    codec = Codec("ETH")

    results = codec.place_results(places(), ok("order", {"resting": {"oid": 4}}), 0)

    assert [r.ambiguous for r in results] == [False, True, True]
    assert kinds(codec) == [ProblemKind.UNEXPECTED]


@pytest.mark.parametrize(
    "bad",
    [
        {"resting": {"oid": "4"}},
        {"filled": {"totalSz": "x", "avgPx": "1", "oid": 4}},
        {"resting": {"oid": 4}, "error": "both"},
        {},
        5,
        {"filled": {"totalSz": "0", "avgPx": "1", "oid": 4}},
        {"filled": {"totalSz": "NaN", "avgPx": "1", "oid": 4}},
        {"resting": {"oid": 4, "cloid": "0x" + "9" * 32}},  # another order's cloid
    ],
)
def test_a_malformed_status_is_ambiguous_for_its_order_alone(bad: Any) -> None:
    codec = Codec("ETH")

    first, second = codec.place_results(places(2), ok("order", bad, {"resting": {"oid": 9}}), 0)

    assert first.ambiguous and first.events == ()
    assert second.events == (OrderAccepted(cloid=C2, oid=Oid(9)),)
    problems = codec.take_problems()
    assert len(problems) == 1 and problems[0].kind in (ProblemKind.MALFORMED,
                                                       ProblemKind.UNEXPECTED)
    assert problems[0].order_id == str(C1) or "statuses[0]" in problems[0].detail


@pytest.mark.parametrize(
    "answer",
    ["not json", b"{", {"status": 5}, {"status": "ok", "response": "text"},
     {"status": "ok", "response": {"type": "default"}}, [1, 2], None,
     {"type": "order", "data": {"statuses": "x"}}],
)
def test_an_unreadable_answer_is_ambiguous_for_all_and_a_problem(answer: Any) -> None:
    codec = Codec("ETH")

    results = codec.place_results(places(2), answer, 0)

    assert all(r.ambiguous and r.events == () for r in results)
    assert len(codec.take_problems()) == 1


def test_non_ascii_error_text_is_escaped_not_a_crash() -> None:
    codec = Codec("ETH")

    (result,) = codec.place_results(places(1), ok("order", {"error": "Prix refusé ≥ 5"}), 0)

    (event,) = result.events
    assert isinstance(event, OrderRejected) and event.message.isascii() and "\\xe9" in event.message


# --- cancels -----------------------------------------------------------------------------


def test_cancel_statuses_success_gone_and_still_resting() -> None:
    cancels = [CancelOrder(cloid=C1, oid=Oid(1)), CancelOrder(cloid=C2, oid=None),
               CancelOrder(cloid=None, oid=Oid(3))]
    answer = ok("cancel", "success",
                {"error": "Order was never placed, already canceled, or filled. asset=4"},
                {"error": "Something else"})

    done, gone, refused = Codec("ETH").cancel_results(cancels, answer, 0)

    assert done.events == (OrderCanceled(cloid=C1, oid=Oid(1), status="canceled"),)
    assert gone.events == (CancelRejected(cloid=C2, oid=None, order_gone=True,
                                          message="Order was never placed, already canceled, "
                                                  "or filled. asset=4"),)
    (still,) = refused.events
    assert isinstance(still, CancelRejected) and not still.order_gone


def test_a_cancel_answered_with_a_placement_status_is_ambiguous() -> None:
    codec = Codec("ETH")

    (result,) = codec.cancel_results([CancelOrder(cloid=C1, oid=Oid(1))],
                                     ok("cancel", {"resting": {"oid": 1}}), 0)

    assert result.ambiguous and kinds(codec) == [ProblemKind.UNEXPECTED]


# --- modifies: success, immediate fill, the three refusals ---------------------------------


def modifies() -> tuple[list[ModifyOrder], list[OrderTerms]]:
    cmds = [ModifyOrder(cloid=c, oid=Oid(i), price=D("101"), size=D("2"))
            for i, c in enumerate((C1, C2, C3), start=10)]
    return cmds, [OrderTerms(side=Side.SELL)] * 3


def test_modify_resting_and_filled_bind_the_new_oid() -> None:
    cmds, terms = modifies()
    answer = ok("order", {"resting": {"oid": 20}},
                {"filled": {"totalSz": "0.5", "avgPx": "101", "oid": 21, "cloid": str(C2)}},
                {"resting": {"oid": 22}})

    rest, fill, _ = Codec("ETH").modify_results(cmds, terms, answer, 0)

    assert rest.events == (OrderModified(cloid=C1, oid=Oid(20), old_oid=Oid(10),
                                         price=D("101"), size=D("2")),)
    modified, immediate = fill.events
    assert isinstance(modified, OrderModified) and modified.oid == 21
    assert isinstance(immediate, OrderFilled) and immediate.side is Side.SELL
    assert immediate.size == D("0.5") and immediate.oid == 21


def test_the_three_refused_modifies_are_told_apart() -> None:
    cmds, terms = modifies()
    answer = ok("order",
                {"error": "Error placing new order during modify: Insufficient margin to place "
                          "order. asset=4"},
                {"error": "Cannot modify canceled or filled order"},
                {"error": "Order price cannot be more than 95% away from the reference price"})

    replaced, gone, unchanged = Codec("ETH").modify_results(cmds, terms, answer, 0)

    # The old order was cancelled; only the replacement was refused: the order ended.
    assert replaced.events == (OrderCanceled(cloid=C1, oid=Oid(10), status="canceled",
                                             exchange_initiated=True),)
    assert replaced.error.startswith("Error placing new order during modify")
    (g,) = gone.events
    assert isinstance(g, ModifyRejected) and g.order_gone and g.oid == 11
    (u,) = unchanged.events
    assert isinstance(u, ModifyRejected) and not u.order_gone
    assert not any(r.ambiguous for r in (replaced, gone, unchanged))


def test_modify_terms_must_match_the_commands() -> None:
    cmds, terms = modifies()
    with pytest.raises(ValueError, match="as many terms"):
        Codec("ETH").modify_results(cmds, terms[:1], ok("order"), 0)


def test_action_error_for_default_answers() -> None:
    assert Codec.action_error({"status": "ok", "response": {"type": "default"}}) is None
    assert Codec.action_error(b'{"status":"err","response":"Cannot set scheduled cancel"}') == (
        "Cannot set scheduled cancel"
    )
    assert Codec.action_error("garbage").startswith("action answer: ")  # type: ignore[union-attr]
