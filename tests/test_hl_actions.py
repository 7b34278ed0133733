"""Hyperliquid actions built from the core's commands: key orders checked against the
protocol reference's msgpack vectors and the official SDK's own builders, and commands
the builders cannot express refused naming the command.

The official SDK is a test oracle only (imported with ``importorskip``).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from lifecycle.adapters.hyperliquid.actions import (
    OrderTerms,
    Tif,
    batch_modify_action,
    cancel_action,
    cancel_by_cloid_action,
    cancel_groups,
    noop_action,
    order_action,
    order_wire,
    schedule_cancel_action,
)
from lifecycle.adapters.hyperliquid.assets import Asset, AssetKind

from lifecycle.core.commands import CancelOrder, ModifyOrder, PlaceOrder
from lifecycle.core.ids import Cloid, Oid
from lifecycle.core.order import Side

CLOID1 = "0x00000000000000000000000000000001"
ETH4 = Asset(name="ETH", asset_id=4, sz_decimals=4, kind=AssetKind.PERP, index=4)
ETH1 = Asset(name="ETH", asset_id=1, sz_decimals=4, kind=AssetKind.PERP, index=1)


# --- actions: key order and bytes ----------------------------------------------------------


def test_order_wire_without_cloid_matches_reference_vector_v1() -> None:
    wire = order_wire(ETH4, side=Side.BUY, price=Decimal("1670.1"), size=Decimal("0.0147"),
                      tif=Tif.IOC)
    action = {"type": "order", "orders": [wire], "grouping": "na"}

    assert msgpack.packb(action).hex() == (
        "83a474797065a56f72646572a66f72646572739186a16104a162c3a170a6313637302e31a173a6302e30313437"
        "a172c2a17481a56c696d697481a3746966a3496f63a867726f7570696e67a26e61"
    )


def test_order_action_with_cloid_matches_reference_vector_v4() -> None:
    place = PlaceOrder(cloid=Cloid(CLOID1), side=Side.BUY, price=Decimal("100"),
                       size=Decimal("100"), post_only=False)
    action = order_action(ETH1, [place])

    assert msgpack.packb(action).hex() == (
        "83a474797065a56f72646572a66f72646572739187a16101a162c3a170a3313030a173a3313030a172c2a174"
        "81a56c696d697481a3746966a3477463a163d9223078303030303030303030303030303030303030303030303030"
        "3030303030303031a867726f7570696e67a26e61"
    )


def test_schedule_cancel_actions_match_reference_vectors_v12_v13() -> None:
    assert msgpack.packb(schedule_cancel_action(None)).hex() == (
        "81a474797065ae7363686564756c6543616e63656c"
    )
    assert msgpack.packb(schedule_cancel_action(123456789)).hex() == (
        "82a474797065ae7363686564756c6543616e63656ca474696d65ce075bcd15"
    )
    assert noop_action() == {"type": "noop"}


@pytest.mark.parametrize("time_ms", [-1, True, 1.5, "1"])
def test_schedule_cancel_bad_time_raises(time_ms: Any) -> None:
    with pytest.raises(ValueError, match="time_ms"):
        schedule_cancel_action(time_ms)


def test_order_action_tif_follows_post_only_unless_given() -> None:
    alo = PlaceOrder(cloid=Cloid(CLOID1), side=Side.SELL, price=Decimal("2000"), size=Decimal("1"))
    gtc = PlaceOrder(cloid=Cloid("0x" + "2" * 32), side=Side.BUY, price=Decimal("1999.5"),
                     size=Decimal("0.5"), post_only=False, reduce_only=True)

    default = order_action(ETH1, [alo, gtc])
    ioc = order_action(ETH1, [alo, gtc], tif=Tif.IOC)

    assert [o["t"]["limit"]["tif"] for o in default["orders"]] == ["Alo", "Gtc"]
    assert [o["t"]["limit"]["tif"] for o in ioc["orders"]] == ["Ioc", "Ioc"]
    assert default["orders"][1]["r"] is True and default["orders"][0]["b"] is False
    assert list(default["orders"][0]) == ["a", "b", "p", "s", "r", "t", "c"]


def test_order_action_refuses_a_price_off_tick_naming_the_order() -> None:
    bad = PlaceOrder(cloid=Cloid(CLOID1), side=Side.BUY, price=Decimal("1670.123456"),
                     size=Decimal("1"))
    with pytest.raises(ValueError, match=r"orders\[0\]\.p"):
        order_action(ETH1, [bad])
    with pytest.raises(ValueError, match="at least one"):
        order_action(ETH1, [])


def test_cancel_groups_split_by_oid_and_cloid() -> None:
    cancels = [
        CancelOrder(cloid=Cloid(CLOID1), oid=Oid(5)),
        CancelOrder(cloid=Cloid(CLOID1), oid=None),
        CancelOrder(cloid=None, oid=Oid(6)),
    ]
    assert cancel_groups(cancels) == ([0, 2], [1])
    with pytest.raises(ValueError, match=r"cancels\[0\]"):
        cancel_groups([CancelOrder(cloid=None, oid=None)])
    with pytest.raises(ValueError, match=r"cancels\[0\] has no oid"):
        cancel_action(ETH1, [cancels[1]])
    with pytest.raises(ValueError, match=r"cancels\[0\] has no cloid"):
        cancel_by_cloid_action(ETH1, [cancels[2]])


def test_batch_modify_keys_and_always_place_flag_last_and_only_true() -> None:
    modify = ModifyOrder(cloid=Cloid(CLOID1), oid=None, price=Decimal("1105"), size=Decimal("0.1"))
    plain = batch_modify_action(ETH4, [modify], [OrderTerms(side=Side.BUY, post_only=False)])
    forced = batch_modify_action(ETH4, [modify], [OrderTerms(side=Side.BUY)], always_place=True)

    assert list(plain) == ["type", "modifies"]
    assert plain["modifies"][0]["oid"] == CLOID1
    assert list(plain["modifies"][0]) == ["oid", "order"]
    assert list(forced) == ["type", "modifies", "a"] and forced["a"] is True
    with pytest.raises(ValueError, match="as many terms"):
        batch_modify_action(ETH4, [modify], [])


# --- actions against the official SDK's own builders --------------------------------------


class _Capture:
    """The SDK's Exchange with its POST replaced by handing back the action it built."""

    def __init__(self) -> None:
        exchange_mod = pytest.importorskip("hyperliquid.exchange")
        eth_account = pytest.importorskip("eth_account")
        self.types = pytest.importorskip("hyperliquid.utils.types")

        class Exchange(exchange_mod.Exchange):  # type: ignore[misc, name-defined]
            def _post_action(self, action: Any, signature: Any, nonce: Any) -> Any:
                return action

        wallet = eth_account.Account.from_key("0x" + "01" * 32)
        meta = {"universe": [{"name": n, "szDecimals": 4} for n in ("BTC", "SOL", "ATOM", "X",
                                                                      "ETH")]}
        self.sdk = Exchange(wallet, "http://127.0.0.1:9", meta=meta,
                            spot_meta={"universe": [], "tokens": []})


def _random_price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1, 99999)).scaleb(-rng.randint(0, 2))


def test_actions_hash_the_same_bytes_as_the_sdk_builders_seeded() -> None:
    capture = _Capture()
    sdk, Cl = capture.sdk, capture.types.Cloid
    rng = random.Random(20260901)
    for _ in range(60):
        n = rng.randint(1, 4)
        cloids = [Cloid(f"0x{rng.getrandbits(128):032x}") for _ in range(n)]
        places = [
            PlaceOrder(cloid=c, side=rng.choice(list(Side)), price=_random_price(rng),
                       size=Decimal(rng.randint(1, 10**6)).scaleb(-4),
                       post_only=rng.random() < 0.5, reduce_only=rng.random() < 0.3)
            for c in cloids
        ]
        theirs = sdk.bulk_orders([
            {"coin": "ETH", "is_buy": p.side is Side.BUY, "sz": float(p.size),
             "limit_px": float(p.price), "order_type": {"limit": {"tif": "Alo" if p.post_only
                                                                   else "Gtc"}},
             "reduce_only": p.reduce_only, "cloid": Cl(str(p.cloid))}
            for p in places
        ])
        assert msgpack.packb(order_action(ETH4, places)) == msgpack.packb(theirs)

        oids = [Oid(rng.getrandbits(40)) for _ in range(n)]
        cancels = [CancelOrder(cloid=c, oid=o) for c, o in zip(cloids, oids, strict=True)]
        assert msgpack.packb(cancel_action(ETH4, cancels)) == msgpack.packb(
            sdk.bulk_cancel([{"coin": "ETH", "oid": o} for o in oids])
        )
        assert msgpack.packb(cancel_by_cloid_action(ETH4, cancels)) == msgpack.packb(
            sdk.bulk_cancel_by_cloid([{"coin": "ETH", "cloid": Cl(str(c))} for c in cloids])
        )

        modifies = [
            ModifyOrder(cloid=p.cloid, oid=o if rng.random() < 0.7 else None,
                        price=p.price, size=p.size)
            for p, o in zip(places, oids, strict=True)
        ]
        terms = [OrderTerms.of(p) for p in places]
        theirs_modify = sdk.bulk_modify_orders_new([
            {"oid": m.oid if m.oid is not None else Cl(str(m.cloid)),
             "order": {"coin": "ETH", "is_buy": t.side is Side.BUY, "sz": float(m.size),
                       "limit_px": float(m.price),
                       "order_type": {"limit": {"tif": t.tif.value}},
                       "reduce_only": t.reduce_only, "cloid": Cl(str(m.cloid))}}
            for m, t in zip(modifies, terms, strict=True)
        ])
        assert msgpack.packb(batch_modify_action(ETH4, modifies, terms)) == msgpack.packb(
            theirs_modify
        )
    when = rng.getrandbits(41)
    assert msgpack.packb(schedule_cancel_action(when)) == msgpack.packb(sdk.schedule_cancel(when))
    assert msgpack.packb(schedule_cancel_action(None)) == msgpack.packb(sdk.schedule_cancel(None))
    assert msgpack.packb(noop_action()) == msgpack.packb(sdk.noop(1))
