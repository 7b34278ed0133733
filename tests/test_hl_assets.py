"""The Hyperliquid universe: coin names and asset ids from meta, perpDexs and spotMeta,
HIP-3 ids (100000 + dex index x 10000 + index), names with ``*`` or ``?``, the dex of
each coin, and errors that name the coin."""

from __future__ import annotations

import random
from typing import Any

import pytest
from lifecycle.adapters.hyperliquid.assets import (
    Asset,
    AssetKind,
    Universe,
    UniverseError,
    UnknownCoin,
    canonical_coin,
    open_orders_request,
    perp_asset_id,
    split_coin,
)
from lifecycle.adapters.hyperliquid.errors import HyperliquidError
from lifecycle.adapters.hyperliquid.wire import (
    FrontendOpenOrdersRequest,
    MetaAnswer,
    OpenOrdersRequest,
    PerpDexInfo,
    SpotMetaAnswer,
    decode,
)

META = (
    '{"universe":[{"name":"BTC","szDecimals":5,"maxLeverage":50},{"name":"HPOS","szDecimals":0,'
    '"maxLeverage":3,"onlyIsolated":true},{"name":"LOOM","szDecimals":1,"maxLeverage":3,'
    '"isDelisted":true,"marginMode":"strictIsolated","onlyIsolated":true}],"marginTables":[]}'
)
PERP_DEXS = (
    '[null, {"name":"test","fullName":"test dex","deployer":"0x5e89b26d8d66da9888c835c9bfcc2aa5'
    '1813e152","oracleUpdater":null,"feeRecipient":null}, {"name":"xyz","fullName":"XYZ"}]'
)
SPOT_META = (
    '{"universe":[{"tokens":[1,0],"name":"PURR/USDC","index":0,"isCanonical":true},'
    '{"tokens":[150,0],"name":"@107","index":107,"isCanonical":false}],"tokens":['
    '{"name":"USDC","szDecimals":8,"weiDecimals":8,"index":0},'
    '{"name":"PURR","szDecimals":0,"weiDecimals":5,"index":1},'
    '{"name":"HYPE","szDecimals":2,"weiDecimals":8,"index":150}]}'
)


def meta_of(*names: str, sz: int = 2) -> MetaAnswer:
    return decode({"universe": [{"name": n, "szDecimals": sz} for n in names]}, MetaAnswer, "meta")


def dexs() -> list[PerpDexInfo | None]:
    return decode(PERP_DEXS, list[PerpDexInfo | None], "perpDexs")


def universe() -> Universe:
    return Universe.from_answers(
        meta=decode(META, MetaAnswer, "meta"),
        perp_dexs=dexs(),
        dex_metas={"test": meta_of("test:ABC", "test:DEF"), "xyz": meta_of("xyz:TSLA", "xyz:AB*C",
                                                                             "xyz:AB?C")},
        spot_meta=decode(SPOT_META, SpotMetaAnswer, "spotMeta"),
    )


def test_first_dex_perp_ids_are_universe_positions_delisted_kept() -> None:
    u = universe()

    assert [u.asset(n).asset_id for n in ("BTC", "HPOS", "LOOM")] == [0, 1, 2]
    assert u.asset("LOOM").delisted and u.asset("BTC").sz_decimals == 5
    assert u.asset("BTC").dex == "" and u.asset("BTC").kind is AssetKind.PERP


def test_hip3_ids_follow_the_reference_formula() -> None:
    u = universe()

    # DOCS: test:ABC has perp_dex_index 1 and index 0, so asset 110000.
    assert u.asset("test:ABC").asset_id == 110000
    assert u.asset("test:DEF").asset_id == 110001
    assert u.asset("xyz:TSLA").asset_id == 120000
    assert u.asset("xyz:TSLA").dex == "xyz" and u.asset("xyz:TSLA").dex_index == 2


def test_names_with_star_and_question_mark_are_plain_names() -> None:
    u = universe()

    assert u.asset("xyz:AB*C").asset_id == 120001
    assert u.asset("xyz:AB?C").asset_id == 120002
    assert "xyz:ABXC" not in u and "xyz:AB*" not in u
    with pytest.raises(UnknownCoin):
        u.asset("xyz:AB?")


def test_spot_ids_names_aliases_and_base_size_decimals() -> None:
    u = universe()

    assert u.asset("PURR/USDC").asset_id == 10000 and u.asset("PURR/USDC").sz_decimals == 0
    hype = u.asset("@107")
    assert hype.asset_id == 10107 and hype.sz_decimals == 2 and hype.kind is AssetKind.SPOT
    assert u.asset("HYPE/USDC") is hype and "HYPE/USDC" in u


def test_by_id_and_dexes() -> None:
    u = universe()

    assert u.by_id(110001).name == "test:DEF" and u.by_id(10107).name == "@107"
    assert u.dexes() == ["", "test", "xyz"]
    with pytest.raises(KeyError, match="999"):
        u.by_id(999)


def test_rules_give_six_or_eight_price_decimals_minus_size_decimals() -> None:
    u = universe()

    assert u.asset("BTC").rules.max_decimals == 1
    assert u.asset("@107").rules.max_decimals == 6
    assert u.asset("test:ABC").rules.max_decimals == 4


def test_unknown_coin_names_it_and_suggests_the_dex_prefixed_name() -> None:
    u = universe()

    with pytest.raises(UnknownCoin) as caught:
        u.asset("TSLA")
    assert "'TSLA'" in str(caught.value) and "'xyz:TSLA'" in str(caught.value)
    assert caught.value.coin == "TSLA" and "xyz:TSLA" in caught.value.suggestions
    with pytest.raises(UnknownCoin, match=r"'btc'.*'BTC'"):
        u.asset("btc")
    assert isinstance(caught.value, HyperliquidError) and isinstance(caught.value, KeyError)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dex_metas": {"nope": meta_of("nope:A")}, "perp_dexs": dexs()}, "'nope' is not in"),
        ({"dex_metas": {"test": meta_of("ABC")}, "perp_dexs": dexs()}, "'ABC'.*'test:"),
        ({"dex_metas": {"test": meta_of("xyz:ABC")}, "perp_dexs": dexs()}, "'xyz:ABC'"),
        ({"meta": meta_of("test:ABC")}, "'test:ABC'.*without a dex prefix"),
        ({"dex_metas": {"test": meta_of("test:A")}}, "need perp_dexs"),
        ({"meta": meta_of("BTC", "BTC")}, "'BTC' is listed twice"),
        ({"dex_metas": {"": meta_of("BTC")}, "perp_dexs": dexs()}, "first dex"),
        (
            {"dex_metas": {"test": meta_of("test:A")},
             "perp_dexs": decode('[{"name":"test"}]', list[PerpDexInfo | None], "p")},
            "must be null",
        ),
        (
            {"dex_metas": {"test": meta_of("test:A")},
             "perp_dexs": decode('[null,{"name":"test"},{"name":"test"}]',
                                 list[PerpDexInfo | None], "p")},
            "listed twice",
        ),
        (
            {"spot_meta": decode('{"universe":[{"tokens":[9,0],"name":"@1","index":1}],'
                                 '"tokens":[{"name":"USDC","szDecimals":8,"index":0}]}',
                                 SpotMetaAnswer, "s")},
            "'@1' names token 9",
        ),
    ],
)
def test_tables_that_cannot_be_mapped_raise_naming_the_coin(kwargs: Any, match: str) -> None:
    with pytest.raises(UniverseError, match=match):
        Universe.from_answers(**kwargs)


def test_a_dex_with_more_perps_than_its_id_span_is_refused() -> None:
    big = meta_of(*(f"test:C{i}" for i in range(10_001)))
    with pytest.raises(UniverseError, match="10001 perps"):
        Universe.from_answers(perp_dexs=dexs(), dex_metas={"test": big})


def test_two_assets_with_one_id_are_refused() -> None:
    a = Asset(name="A", asset_id=3, sz_decimals=0, kind=AssetKind.PERP, index=3)
    b = Asset(name="B", asset_id=3, sz_decimals=0, kind=AssetKind.PERP, index=3)
    with pytest.raises(UniverseError, match="'B' has asset id 3"):
        Universe([a, b])


@pytest.mark.parametrize(
    ("coin", "expected"),
    [("xyz:TSLA", ("xyz", "TSLA")), ("BTC", ("", "BTC")), ("a:b:c", ("a", "b:c")),
     ("@107", ("", "@107")), ("xyz:A*?", ("xyz", "A*?"))],
)
def test_split_coin(coin: str, expected: tuple[str, str]) -> None:
    assert split_coin(coin) == expected


def test_canonical_coin_prefixes_the_dex_and_refuses_a_conflict() -> None:
    assert canonical_coin("BTC", "hyna") == "hyna:BTC"
    assert canonical_coin("hyna:BTC", "hyna") == "hyna:BTC"
    assert canonical_coin("BTC") == "BTC"
    with pytest.raises(ValueError, match="names dex 'xyz', not 'hyna'"):
        canonical_coin("xyz:BTC", "hyna")
    with pytest.raises(ValueError, match="empty"):
        canonical_coin("")


@pytest.mark.parametrize(("dex_index", "index"), [(0, -1), (1, 10_000), (-1, 0)])
def test_perp_asset_id_refuses_out_of_range(dex_index: int, index: int) -> None:
    with pytest.raises(ValueError, match="index"):
        perp_asset_id(dex_index, index)


def test_ids_agree_with_the_official_sdk_on_seeded_universes() -> None:
    info_mod = pytest.importorskip("hyperliquid.info")
    rng = random.Random(7)
    for _ in range(20):
        n_dexes = rng.randint(1, 4)
        names = [f"d{i}" for i in range(1, n_dexes + 1)]
        first = [f"C{j}" for j in range(rng.randint(1, 30))]
        metas = {d: [f"{d}:X{j}" for j in range(rng.randint(1, 30))] for d in names}
        ours = Universe.from_answers(
            meta=meta_of(*first),
            perp_dexs=decode([None] + [{"name": d} for d in names], list[PerpDexInfo | None], "p"),
            dex_metas={d: meta_of(*m) for d, m in metas.items()},
        )
        sdk = info_mod.Info("http://127.0.0.1:9", skip_ws=True,
                            meta={"universe": [{"name": c, "szDecimals": 2} for c in first]},
                            spot_meta={"universe": [], "tokens": []})
        for i, d in enumerate(names):  # the SDK's own formula: 110000 + i * 10000
            sdk.set_perp_meta({"universe": [{"name": c, "szDecimals": 2} for c in metas[d]]},
                              110000 + i * 10000)
        for asset in ours:
            assert sdk.name_to_asset(asset.name) == asset.asset_id, asset.name
        assert len(ours) == len(first) + sum(map(len, metas.values()))


def test_universe_iterates_every_asset_once() -> None:
    u = universe()
    names = [a.name for a in u]

    assert len(names) == len(set(names)) == len(u) == 3 + 2 + 3 + 2


def test_open_orders_requests_are_scoped_to_the_coins_dex() -> None:
    u, user = universe(), "0x" + "ab" * 20

    hip3 = open_orders_request(user, u.asset("xyz:TSLA"))
    first = open_orders_request(user, u.asset("BTC"), frontend=True)
    spot = open_orders_request(user, u.asset("@107"))

    assert hip3 == OpenOrdersRequest(user=user, dex="xyz")
    assert first == FrontendOpenOrdersRequest(user=user, dex="")
    assert spot == OpenOrdersRequest(user=user, dex="")
