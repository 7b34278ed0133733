"""The universe: coin names and asset ids, size decimals, and the dex of each coin.

Theory of operation
-------------------
Hyperliquid names a market by its coin on the wire of orders, fills and
snapshots, and by an integer asset id in signed actions. The id depends on
where the coin sits in the exchange's tables, so it is read from them, never
guessed from a threshold:

* a perp of the first dex: its index in ``meta``'s universe (delisted entries
  keep their slot);
* a perp of a builder-deployed (HIP-3) dex: ``100000 + dex_index * 10000 +
  index``, where ``dex_index`` is the dex's position in ``perpDexs`` (element
  0, ``null``, is the first dex) and ``index`` its position in that dex's
  ``meta`` (asked with ``dex``). Its names carry the dex: ``xyz:TSLA``;
* a spot pair: ``10000 + index`` of ``spotMeta.universe``, named ``@index``
  (or ``PURR/USDC``); its size decimals are its base token's.

A HIP-3 name is ``dex:COIN`` and its coin part may contain any character,
``*`` and ``?`` included: names are compared as plain strings, never as
patterns. Every open-orders query must name the coin's dex
(:attr:`Asset.dex`; :func:`open_orders_request` builds the request so): without
it the exchange leaves HIP-3 orders out.

:class:`Universe` is built once from the answers (:meth:`Universe.from_answers`)
and refuses tables it cannot map unambiguously (:class:`UniverseError`); a
coin it does not hold raises :class:`UnknownCoin`, naming the coin and the
names it might have meant (``BTC`` when only ``hyna:BTC`` exists).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence

import msgspec

from lifecycle.policy.pricing import AssetRules

from .errors import HyperliquidError
from .wire import (
    FrontendOpenOrdersRequest,
    MetaAnswer,
    OpenOrdersRequest,
    PerpDexInfo,
    SpotMetaAnswer,
)

__all__ = [
    "DEX_STRIDE",
    "HIP3_OFFSET",
    "SPOT_OFFSET",
    "Asset",
    "AssetKind",
    "Universe",
    "UniverseError",
    "UnknownCoin",
    "canonical_coin",
    "open_orders_request",
    "perp_asset_id",
    "split_coin",
]

#: Spot asset ids start here (``10000 + index``).
SPOT_OFFSET = 10_000
#: Builder-deployed perp asset ids start here (``100000 + dex_index * 10000 + index``).
HIP3_OFFSET = 100_000
#: The ids one builder-deployed dex spans.
DEX_STRIDE = 10_000


class AssetKind(enum.Enum):
    """Perp or spot: it decides the price decimals (6 or 8 minus the size decimals)."""

    PERP = "perp"
    SPOT = "spot"


class Asset(msgspec.Struct, frozen=True, kw_only=True):
    """One market as the exchange names it.

    Attributes:
        name: The coin on the wire (``BTC``, ``xyz:TSLA``, ``@107``, ``PURR/USDC``).
        asset_id: The id signed actions carry.
        sz_decimals: Decimals a size may have.
        kind: Perp or spot.
        dex: The dex its open-orders queries name (``""``: the first dex, and spot).
        dex_index: The dex's position in ``perpDexs`` (0 for the first dex and spot).
        index: Its position in its table (``meta`` universe or spot universe).
        delisted: The exchange delisted it (its slot is kept).
    """

    name: str
    asset_id: int
    sz_decimals: int
    kind: AssetKind
    dex: str = ""
    dex_index: int = 0
    index: int
    delisted: bool = False

    @property
    def rules(self) -> AssetRules:
        """Its price and size rules (a price has ``6 - sz_decimals`` decimals at most on a
        perp, ``8 - sz_decimals`` on spot; a size ``sz_decimals``).

        Raises:
            ValueError: ``sz_decimals`` is out of the kind's range (over 6 for a perp).
        """
        if self.kind is AssetKind.PERP:
            return AssetRules.perp(self.sz_decimals)
        return AssetRules.spot(self.sz_decimals)


class UniverseError(HyperliquidError, ValueError):
    """The exchange's tables cannot be mapped unambiguously (the message names the coin)."""


class UnknownCoin(HyperliquidError, KeyError):
    """A coin the universe does not hold.

    Attributes:
        coin: The name asked for.
        suggestions: Names it may have meant.
    """

    def __init__(self, coin: str, suggestions: Sequence[str], dexes: Sequence[str]) -> None:
        self.coin = coin
        self.suggestions = tuple(suggestions)
        loaded = ", ".join(repr(d) for d in dexes)
        hint = f"; did you mean {', '.join(map(repr, suggestions))}?" if suggestions else ""
        super().__init__(f"unknown coin {coin!r} (dexes loaded: {loaded}){hint}")

    def __str__(self) -> str:
        return str(self.args[0])


def split_coin(coin: str) -> tuple[str, str]:
    """``(dex, symbol)`` of a coin: ``xyz:TSLA`` -> ``("xyz", "TSLA")``; ``BTC`` -> ``("", "BTC")``.

    Only the first ``:`` separates: the symbol is kept as written.
    """
    dex, sep, symbol = coin.partition(":")
    return (dex, symbol) if sep else ("", coin)


def canonical_coin(coin: str, dex: str = "") -> str:
    """The wire name of ``coin`` on ``dex``: ``("BTC", "hyna")`` -> ``"hyna:BTC"``.

    A name that already carries a dex keeps it; it must be ``dex`` when one is given.

    Raises:
        ValueError: ``coin`` is empty, or names another dex than ``dex``.
    """
    if not coin:
        raise ValueError("coin must not be empty")
    own, _ = split_coin(coin)
    if own:
        if dex and own != dex:
            raise ValueError(f"coin {coin!r} names dex {own!r}, not {dex!r}")
        return coin
    return f"{dex}:{coin}" if dex else coin


def perp_asset_id(dex_index: int, index: int) -> int:
    """The asset id of the perp at ``index`` of the dex at ``dex_index`` of ``perpDexs``.

    Raises:
        ValueError: an index out of range (negative, or past its dex's span).
    """
    if not 0 <= index < DEX_STRIDE:
        raise ValueError(f"perp index must be in [0, {DEX_STRIDE}), got {index}")
    if dex_index < 0:
        raise ValueError(f"dex index must be >= 0, got {dex_index}")
    if dex_index == 0:
        return index
    return HIP3_OFFSET + dex_index * DEX_STRIDE + index


def open_orders_request(
    user: str, asset: Asset, *, frontend: bool = False
) -> OpenOrdersRequest | FrontendOpenOrdersRequest:
    """The open-orders request that lists ``asset``'s orders: scoped to its dex.

    Without its dex the exchange leaves a HIP-3 coin's orders out, and every
    one of them would look missing. ``frontend`` asks ``frontendOpenOrders``
    (tif, trigger and cloid fields) instead of ``openOrders``.

    Raises:
        ValueError: ``user`` is not an address.
    """
    if frontend:
        return FrontendOpenOrdersRequest(user=user, dex=asset.dex)
    return OpenOrdersRequest(user=user, dex=asset.dex)


class Universe:
    """The markets of the loaded dexes, by wire name and by asset id.

    Args:
        assets: Every asset; names and ids must be unique.
        aliases: Other names of some assets (``PURR/USDC`` style spot names).

    Raises:
        UniverseError: two assets share a name or an id.
    """

    __slots__ = ("_aliases", "_by_id", "_by_name")

    def __init__(self, assets: Iterable[Asset], aliases: Mapping[str, str] | None = None) -> None:
        self._by_name: dict[str, Asset] = {}
        self._by_id: dict[int, Asset] = {}
        for asset in assets:
            if asset.name in self._by_name:
                raise UniverseError(f"coin {asset.name!r} is listed twice")
            other = self._by_id.get(asset.asset_id)
            if other is not None:
                raise UniverseError(
                    f"coin {asset.name!r} has asset id {asset.asset_id}, as {other.name!r} has"
                )
            self._by_name[asset.name] = asset
            self._by_id[asset.asset_id] = asset
        self._aliases: dict[str, str] = {
            alias: name
            for alias, name in (aliases or {}).items()
            if alias not in self._by_name and name in self._by_name
        }

    @classmethod
    def from_answers(
        cls,
        *,
        meta: MetaAnswer | None = None,
        perp_dexs: Sequence[PerpDexInfo | None] | None = None,
        dex_metas: Mapping[str, MetaAnswer] | None = None,
        spot_meta: SpotMetaAnswer | None = None,
    ) -> Universe:
        """Build the universe from the exchange's answers.

        Args:
            meta: ``meta`` of the first dex (``dex: ""``), if its perps are wanted.
            perp_dexs: ``perpDexs``: needed with ``dex_metas``.
            dex_metas: ``meta`` of each builder-deployed dex, by dex name.
            spot_meta: ``spotMeta``, if spot pairs are wanted.

        Raises:
            UniverseError: a dex of ``dex_metas`` is not in ``perp_dexs``, a HIP-3
                name lacks its ``dex:`` prefix, a table is too long for its id
                span, or names or ids collide. The message names the coin or dex.
        """
        assets: list[Asset] = []
        aliases: dict[str, str] = {}
        if meta is not None:
            assets.extend(_perps(meta, "", 0))
        if dex_metas:
            indexes = _dex_indexes(perp_dexs)
            for dex, dex_meta in dex_metas.items():
                if dex == "":
                    raise UniverseError("the first dex's meta goes in `meta`, not `dex_metas`")
                if dex not in indexes:
                    known = ", ".join(repr(d) for d in indexes) or "none"
                    raise UniverseError(f"dex {dex!r} is not in perpDexs (known: {known})")
                assets.extend(_perps(dex_meta, dex, indexes[dex]))
        if spot_meta is not None:
            spot, aliases = _spots(spot_meta)
            assets.extend(spot)
        return cls(assets, aliases)

    def asset(self, coin: str) -> Asset:
        """The asset named ``coin`` (its wire name, or a spot pair's ``BASE/QUOTE``).

        Raises:
            UnknownCoin: no such coin; the error names it and close names.
        """
        found = self._by_name.get(coin)
        if found is None:
            alias = self._aliases.get(coin)
            if alias is None:
                raise UnknownCoin(coin, self._suggest(coin), self.dexes())
            found = self._by_name[alias]
        return found

    def by_id(self, asset_id: int) -> Asset:
        """The asset with that id.

        Raises:
            KeyError: no asset has it (the message names the id).
        """
        try:
            return self._by_id[asset_id]
        except KeyError:
            raise KeyError(f"no asset has id {asset_id}") from None

    def dexes(self) -> list[str]:
        """The dexes loaded (``""``: the first dex), in id order."""
        seen: dict[str, None] = {}
        for asset_id in sorted(self._by_id):
            seen.setdefault(self._by_id[asset_id].dex, None)
        return list(seen)

    def __contains__(self, coin: object) -> bool:
        return coin in self._by_name or coin in self._aliases

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def _suggest(self, coin: str) -> list[str]:
        """Names ``coin`` may have meant: same symbol on another dex, other case, close text."""
        _, symbol = split_coin(coin)
        names = list(self._by_name) + list(self._aliases)
        same = [n for n in names if split_coin(n)[1] == symbol and n != coin]
        folded = [n for n in names if n.lower() == coin.lower() and n not in same]
        close = difflib.get_close_matches(coin, names, n=3)
        out: list[str] = []
        for name in (*same, *folded, *close):
            if name not in out:
                out.append(name)
        return out[:5]


def _dex_indexes(perp_dexs: Sequence[PerpDexInfo | None] | None) -> dict[str, int]:
    if perp_dexs is None:
        raise UniverseError("dex_metas need perp_dexs, which numbers the dexes")
    indexes: dict[str, int] = {}
    for i, dex in enumerate(perp_dexs):
        if dex is None:
            continue
        if i == 0:
            raise UniverseError(f"perpDexs[0] must be null (the first dex), got {dex.name!r}")
        if dex.name in indexes:
            raise UniverseError(f"dex {dex.name!r} is listed twice in perpDexs")
        indexes[dex.name] = i
    return indexes


def _perps(meta: MetaAnswer, dex: str, dex_index: int) -> Iterator[Asset]:
    if len(meta.universe) > DEX_STRIDE:
        raise UniverseError(
            f"dex {dex!r} lists {len(meta.universe)} perps, more than the {DEX_STRIDE} "
            "its asset ids span"
        )
    for index, info in enumerate(meta.universe):
        own, _ = split_coin(info.name)
        if own != dex:
            raise UniverseError(
                f"coin {info.name!r} of dex {dex!r}'s meta should be named "
                + (f"'{dex}:...'" if dex else "without a dex prefix")
            )
        yield Asset(
            name=info.name,
            asset_id=perp_asset_id(dex_index, index),
            sz_decimals=info.sz_decimals,
            kind=AssetKind.PERP,
            dex=dex,
            dex_index=dex_index,
            index=index,
            delisted=info.is_delisted,
        )


def _spots(spot_meta: SpotMetaAnswer) -> tuple[list[Asset], dict[str, str]]:
    tokens = {token.index: token for token in spot_meta.tokens}
    assets: list[Asset] = []
    aliases: dict[str, str] = {}
    for pair in spot_meta.universe:
        base_index, quote_index = pair.tokens
        base, quote = tokens.get(base_index), tokens.get(quote_index)
        if base is None or quote is None:
            missing = base_index if base is None else quote_index
            raise UniverseError(f"spot coin {pair.name!r} names token {missing}, not in spotMeta")
        assets.append(
            Asset(
                name=pair.name,
                asset_id=SPOT_OFFSET + pair.index,
                sz_decimals=base.sz_decimals,
                kind=AssetKind.SPOT,
                index=pair.index,
            )
        )
        aliases.setdefault(f"{base.name}/{quote.name}", pair.name)
    return assets, aliases
