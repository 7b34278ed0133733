"""Hyperliquid signing: the protocol reference's vectors, the official client as an oracle, nonces.

The official ``hyperliquid-python-sdk`` is imported here only, as a test
oracle: the differential test builds a few hundred seeded random actions of
every kind the tracker sends, signs each with both signers, and compares the
hashed bytes and the signatures.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import sys
import threading
from decimal import Decimal
from typing import Any

import msgpack
import pytest
from lifecycle.adapters.hyperliquid.nonces import NonceSource, parse_nonce_refusal
from lifecycle.adapters.hyperliquid.signing import (
    AGENT_TYPEHASH,
    EXCHANGE_DOMAIN_SEPARATOR,
    Signer,
    action_hash,
    l1_digest,
    recover_l1_signer,
)
from lifecycle.adapters.hyperliquid.wire_numbers import (
    WireNumberError,
    price_to_wire,
    size_to_wire,
    to_scaled_int,
    to_wire,
)

from lifecycle import AssetRules
from lifecycle.core.order import Side
from lifecycle.policy.pricing import round_price

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260e4c9a71f18484c9f997b308e59325"
ONE = "0x00000000000000000000000000000001"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
ORDER_1 = {"a": 1, "b": True, "p": "100", "s": "100", "r": False, "t": {"limit": {"tif": "Gtc"}}}
DUMMY = {"type": "dummy", "num": to_scaled_int(Decimal(1000), 8)}  # V7's float_to_int_for_hashing


def order_action(*orders: dict[str, Any]) -> dict[str, Any]:
    return {"type": "order", "orders": list(orders), "grouping": "na"}


# (name, action, vault, nonce, mainnet (r, s, v), testnet (r, s, v), connectionId or None):
# the reference's section 5.1, r and s as the official client prints them (leading zeros dropped).
Signature = tuple[str, str, int]
Vector = tuple[str, dict[str, Any], str | None, int, Signature | None, Signature | None, str]
VECTORS: list[Vector] = [
    ("V1", order_action({"a": 4, "b": True, "p": "1670.1", "s": "0.0147", "r": False,
     "t": {"limit": {"tif": "Ioc"}}}), None, 1677777606040, None, None,
     "0fcbeda5ae3c4950a548021552a4fea2226858c4453571bf3f24ba017eac2908"),
    ("V2", DUMMY, None, 0,
     ("0x53749d5b30552aeb2fca34b530185976545bb22d0b3ce6f62e31be961a59298",
      "0x755c40ba9bf05223521753995abb2f73ab3229be8ec921f350cb447e384d8ed8", 27),
     ("0x542af61ef1f429707e3c76c5293c80d01f74ef853e34b76efffcb57e574f9510",
      "0x17b8b32f086e8cdede991f1e2c529f5dd5297cbe8128500e00cbaf766204a613", 28),
     "f528daee6a0bd11407b483cfcd9a48c56884180b70ee86f124053e5fc1bf4d57"),
    ("V3", order_action(ORDER_1), None, 0,
     ("0xd65369825a9df5d80099e513cce430311d7d26ddf477f5b3a33d2806b100d78e",
      "0x2b54116ff64054968aa237c20ca9ff68000f977c93289157748a3162b6ea940e", 28),
     ("0x82b2ba28e76b3d761093aaded1b1cdad4960b3af30212b343fb2e6cdfa4e3d54",
      "0x6b53878fc99d26047f4d7e8c90eb98955a109f44209163f52d8dc4278cbbd9f5", 27),
     "884f2c32bb6dbdd65f6033e32fb28c0cb6f5b345db0f6471fd3366d85c9252c1"),
    ("V4", order_action({**ORDER_1, "c": ONE}), None, 0,
     ("0x41ae18e8239a56cacbc5dad94d45d0b747e5da11ad564077fcac71277a946e3",
      "0x3c61f667e747404fe7eea8f90ab0e76cc12ce60270438b2058324681a00116da", 27),
     ("0xeba0664bed2676fc4e5a743bf89e5c7501aa6d870bdb9446e122c9466c5cd16d",
      "0x7f3e74825c9114bc59086f1eebea2928c190fdfbfde144827cb02b85bbe90988", 28),
     "0ba500cedd8f4ba6ded620a0b1cd04f124d9ba745e2e2893fcc763bcc1444af5"),
    ("V5", DUMMY, VAULT, 0,
     ("0x3c548db75e479f8012acf3000ca3a6b05606bc2ec0c29c50c515066a326239",
      "0x4d402be7396ce74fbba3795769cda45aec00dc3125a984f2a9f23177b190da2c", 28),
     ("0xe281d2fb5c6e25ca01601f878e4d69c965bb598b88fac58e475dd1f5e56c362b",
      "0x7ddad27e9a238d045c035bc606349d075d5c5cd00a6cd1da23ab5c39d4ef0f60", 27),
     "de9e09a7a3da45cc694096d4bfdcd89bc1b892d05497c5ecc1f56c335945184c"),
    ("V6", order_action({**ORDER_1, "t": {"trigger": {"isMarket": True, "triggerPx": "103",
     "tpsl": "sl"}}}), None, 0,
     ("0x98343f2b5ae8e26bb2587daad3863bc70d8792b09af1841b6fdd530a2065a3f9",
      "0x6b5bb6bb0633b710aa22b721dd9dee6d083646a5f8e581a20b545be6c1feb405", 27),
     ("0x971c554d917c44e0e1b6cc45d8f9404f32172a9d3b3566262347d0302896a2e4",
      "0x206257b104788f80450f8e786c329daa589aa0b32ba96948201ae556d5637eac", 28),
     "430a86fb9876e901920d931f5bb20c9d011f6389bd179f39a73c09e6219adcad"),
    ("V10", {"type": "createSubAccount", "name": "example"}, None, 0,
     ("0x51096fe3239421d16b671e192f574ae24ae14329099b6db28e479b86cdd6caa7",
      "0xb71f7d293af92d3772572afb8b102d167a7cef7473388286bc01f52a5c5b423", 27),
     ("0xa699e3ed5c2b89628c746d3298b5dc1cca604694c2c855da8bb8250ec8014a5b",
      "0x53f1b8153a301c72ecc655b1c315d64e1dcea3ee58921fd7507e35818fcc1584", 28), ""),
    ("V11", {"type": "subAccountTransfer", "subAccountUser":
     "0x1d9470d4b963f552e6f671a81619d395877bf409", "isDeposit": True, "usd": 10}, None, 0,
     ("0x43592d7c6c7d816ece2e206f174be61249d651944932b13343f4d13f306ae602",
      "0x71a926cb5c9a7c01c3359ec4c4c34c16ff8107d610994d4de0e6430e5cc0f4c9", 28),
     ("0xe26574013395ad55ee2f4e0575310f003c5bb3351b5425482e2969fa51543927",
      "0xefb08999196366871f919fd0e138b3a7f30ee33e678df7cfaf203e25f0a4278", 28), ""),
    ("V12", {"type": "scheduleCancel"}, None, 0,
     ("0x6cdfb286702f5917e76cd9b3b8bf678fcc49aec194c02a73e6d4f16891195df9",
      "0x6557ac307fa05d25b8d61f21fb8a938e703b3d9bf575f6717ba21ec61261b2a0", 27),
     ("0xc75bb195c3f6a4e06b7d395acc20bbb224f6d23ccff7c6a26d327304e6efaeed",
      "0x342f8ede109a29f2c0723bd5efb9e9100e3bbb493f8fb5164ee3d385908233df", 28),
     "a2887a3147b6542306b61d311a056fd1753913d63cc904f30cba61712a98f4ae"),
    ("V13", {"type": "scheduleCancel", "time": 123456789}, None, 0,
     ("0x609cb20c737945d070716dcc696ba030e9976fcf5edad87afa7d877493109d55",
      "0x16c685d63b5c7a04512d73f183b3d7a00da5406ff1f8aad33f8ae2163bab758b", 28),
     ("0x4e4f2dbd4107c69783e251b7e1057d9f2b9d11cee213441ccfa2be63516dc5bc",
      "0x706c656b23428c8ba356d68db207e11139ede1670481a9e01ae2dfcdb0e1a678", 27),
     "4be18e445114437c5d1d9dd35a09f5601a3cc34ed4ac94a0281251b9bd8f6832"),
]  # fmt: skip


def test_constants_and_the_signer_address() -> None:
    assert EXCHANGE_DOMAIN_SEPARATOR.hex() == (
        "d79297fcdf2ffcd4ae223d01edaa2ba214ff8f401d7c9300d995d17c82aa4040"
    )
    typehash = "26f05c2f7239b6983075e58321292d77b3aa173d19b27257ac96ab362570f508"
    assert AGENT_TYPEHASH.hex() == typehash
    assert Signer(KEY).address == ADDRESS
    assert Signer(KEY[2:].upper()).address == ADDRESS
    assert Signer(bytes.fromhex(KEY[2:])).address == ADDRESS


@pytest.mark.parametrize("vector", VECTORS, ids=[v[0] for v in VECTORS])
def test_reference_vector(vector: Vector) -> None:
    _, action, vault, nonce, mainnet, testnet, connection_id = vector
    if connection_id:
        assert action_hash(action, vault, nonce, None).hex() == connection_id
    signer = Signer(KEY)
    for is_mainnet, expected in ((True, mainnet), (False, testnet)):
        if expected is None:
            continue
        envelope = {"vault_address": vault, "nonce": nonce, "expires_after": None}
        got = signer.sign_l1_action(action, **envelope, is_mainnet=is_mainnet)
        r, s, v = expected
        assert (int(got["r"], 16), int(got["s"], 16), got["v"]) == (int(r, 16), int(s, 16), v)
        assert len(got["r"]) == len(got["s"]) == 66  # zero-padded to 32 bytes
        # The official client's unpadded form recovers the same signer.
        official = {"r": r, "s": s, "v": v}
        assert recover_l1_signer(action, official, **envelope, is_mainnet=is_mainnet) == ADDRESS


def test_v3_digests_and_v1_msgpack() -> None:
    action = order_action(ORDER_1)
    digests = {
        True: "a5cfed1f2d7948de30aecacc7fea3c5e05c1e759020e96239847879b906f801e",
        False: "606be2d25f68768f876dc04a2c3c86ceafd2d6a3c3cbb963454462d6734ebfa6",
    }
    for is_mainnet, digest in digests.items():
        got = l1_digest(
            action, vault_address=None, nonce=0, expires_after=None, is_mainnet=is_mainnet
        )
        assert got.hex() == digest
    assert msgpack.packb(VECTORS[0][1]).hex() == (
        "83a474797065a56f72646572a66f72646572739186a16104a162c3a170a6313637302e31a173a6302e3031"
        "3437a172c2a17481a56c696d697481a3746966a3496f63a867726f7570696e67a26e61"
    )


def test_v7_scaled_integers() -> None:
    assert to_scaled_int(Decimal(123123123123), 8) == 12312312312300000000
    assert to_scaled_int(Decimal("0.00001231"), 8) == 1231
    assert to_scaled_int(Decimal("1.033"), 8) == 103300000
    with pytest.raises(WireNumberError, match=r"0\.000012312312"):
        to_scaled_int(Decimal("0.000012312312"), 8)


# The reference's section 5.3: the Rust client's vectors, then the Python client's outputs
# (whose "-0" for -0.0 is not followed: the Rust client's "0" is the canonical form).
WIRE = {
    "0.": "0", "-0.": "0", "-0.0000": "0", "0.00076000": "0.00076", "0.00000001": "0.00000001",
    "0.12345678": "0.12345678", "87654321.12345678": "87654321.12345678",
    "987654321.00000000": "987654321", "87654321.1234": "87654321.1234", "0.000760": "0.00076",
    "0.00076": "0.00076", "987654321.0": "987654321", "987654321.": "987654321", "100": "100",
    "100.0": "100", "2000.0": "2000", "1670.1": "1670.1", "0.0147": "0.0147", "1e20":
    "100000000000000000000", "123456789.12345679": "123456789.12345679", "1E+2": "100",
}  # fmt: skip


@pytest.mark.parametrize(("text", "wire"), list(WIRE.items()))
def test_float_to_wire_vectors(text: str, wire: str) -> None:
    assert to_wire(Decimal(text)) == wire


@pytest.mark.parametrize("text", ["1e-9", "0.123456789", "1.000000005", "123456789.123456789"])
def test_rounding_is_refused_and_the_error_names_the_value(text: str) -> None:
    with pytest.raises(WireNumberError, match=rf"(?i)^px: {text} has 9 decimal places"):
        to_wire(Decimal(text), field="px")


def test_wire_refuses_floats_and_non_finite_numbers() -> None:
    with pytest.raises(WireNumberError, match=r"p must be a Decimal.*float 0\.1"):
        to_wire(0.1, field="p")  # type: ignore[arg-type]
    with pytest.raises(WireNumberError, match="s must be a finite number, got NaN"):
        to_wire(Decimal("NaN"), field="s")


def test_tick_and_lot_rules_of_the_reference() -> None:
    perp0, perp1, perp3 = AssetRules.perp(0), AssetRules.perp(1), AssetRules.perp(3)
    for good in ("1234.5", "0.001234", "123456"):
        assert price_to_wire(Decimal(good), perp0) == good
    assert price_to_wire(Decimal("0.01234"), perp1) == "0.01234"
    assert price_to_wire(Decimal("0.0001234"), AssetRules.spot(1)) == "0.0001234"
    assert price_to_wire(Decimal("1670.10"), perp0) == "1670.1"
    bad = [("1234.56", perp0), ("0.0012345", perp0), ("12345.6", perp0), ("0.012345", perp1)]
    for text, rules in [*bad, ("0.0001234", AssetRules.spot(3))]:
        with pytest.raises(WireNumberError, match=rf"^p: price {text} .*nearest valid"):
            price_to_wire(Decimal(text), rules)
    assert size_to_wire(Decimal("1.001"), perp3) == "1.001"
    with pytest.raises(WireNumberError, match=r"^s: size 1.0001 .*truncated: 1"):
        size_to_wire(Decimal("1.0001"), perp3)
    with pytest.raises(WireNumberError, match="triggerPx must be a finite number > 0, got -1"):
        price_to_wire(Decimal(-1), perp0, field="triggerPx")


def test_malformed_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="nonce must be in"):
        action_hash(DUMMY, None, -1, None)
    with pytest.raises(ValueError, match="expires_after must be an integer"):
        action_hash(DUMMY, None, 0, "soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vault_address must be 0x followed by 40 hex digits"):
        action_hash(DUMMY, "0x1234", 0, None)
    with pytest.raises(TypeError, match="action cannot be packed"):
        action_hash({"type": "order", "p": Decimal(1)}, None, 0, None)
    with pytest.raises(TypeError, match=r"action\.orders\[0\]\.p is a float \(100\.5\)"):
        action_hash(order_action({**ORDER_1, "p": 100.5}), None, 0, None)
    sig = Signer(KEY).sign_l1_action(
        DUMMY, vault_address=None, nonce=0, expires_after=None, is_mainnet=True
    )
    envelope: dict[str, Any] = {"vault_address": None, "nonce": 0, "expires_after": None}
    with pytest.raises(ValueError, match=r"signature\.v must be 27 or 28"):
        recover_l1_signer(DUMMY, {**sig, "v": 1}, **envelope, is_mainnet=True)
    with pytest.raises(ValueError, match=r"signature\.r must be a 0x hex string"):
        recover_l1_signer(DUMMY, {**sig, "r": "0xzz"}, **envelope, is_mainnet=True)
    with pytest.raises(ValueError, match=r"signature\.s is out of range"):
        recover_l1_signer(DUMMY, {**sig, "s": "0x0"}, **envelope, is_mainnet=True)


# --- the official client as an oracle --------------------------------------------------


def random_address(rng: random.Random) -> str:
    text = rng.randbytes(20).hex()
    return "0x" + (text.upper() if rng.random() < 0.2 else text)  # case must not matter


def random_cloid(rng: random.Random) -> str:
    return "0x" + rng.randbytes(16).hex()


def random_order(rng: random.Random, sdk: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """An order wire built from Decimals here, and by the official client from floats."""
    sz_decimals = rng.randint(0, 5)
    rules = AssetRules.perp(sz_decimals)
    raw = Decimal(rng.randint(1, 10**7)).scaleb(-rng.randint(0, 8))
    price = round_price(raw, rules, Side.SELL)  # rounded up: never to 0
    size = Decimal(rng.randint(1, 10**6)).scaleb(-sz_decimals)
    asset, is_buy, reduce_only = rng.randint(0, 200), rng.random() < 0.5, rng.random() < 0.2
    trigger = Decimal(rng.randint(1, 99_999)) if rng.random() < 0.2 else None
    tif = rng.choice(["Alo", "Ioc", "Gtc"])
    cloid = random_cloid(rng) if rng.random() < 0.6 else None
    if trigger is None:
        kind: dict[str, Any] = {"limit": {"tif": tif}}
        sdk_kind: dict[str, Any] = {"limit": {"tif": tif}}
    else:
        tpsl = rng.choice(["tp", "sl"])
        kind = {"trigger": {"isMarket": True, "triggerPx": to_wire(trigger), "tpsl": tpsl}}
        sdk_kind = {"trigger": {"triggerPx": float(trigger), "isMarket": True, "tpsl": tpsl}}
    ours: dict[str, Any] = {
        "a": asset, "b": is_buy, "p": price_to_wire(price, rules),
        "s": size_to_wire(size, rules), "r": reduce_only, "t": kind,
    }  # fmt: skip
    if cloid is not None:
        ours["c"] = cloid
    request = {
        "coin": "X", "is_buy": is_buy, "sz": float(size), "limit_px": float(price),
        "order_type": sdk_kind, "reduce_only": reduce_only,
        "cloid": None if cloid is None else sdk.types.Cloid(cloid),
    }  # fmt: skip
    theirs = sdk.signing.order_request_to_order_wire(request, asset)
    return ours, theirs


def random_action(rng: random.Random, sdk: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """One action of a kind the tracker sends: ours, and the official client's build of it."""
    kind = rng.choice(
        ["order", "orders", "cancel", "cancelByCloid", "batchModify", "schedule", "noop"]
    )
    if kind in ("order", "orders"):
        pairs = [random_order(rng, sdk) for _ in range(1 if kind == "order" else rng.randint(2, 4))]
        ours = order_action(*(p[0] for p in pairs))
        return ours, sdk.signing.order_wires_to_order_action([p[1] for p in pairs])
    if kind == "cancel":
        cancels = [{"a": rng.randint(0, 200), "o": rng.randint(1, 2**40)} for _ in range(3)]
        action: dict[str, Any] = {"type": "cancel", "cancels": cancels[: rng.randint(1, 3)]}
    elif kind == "cancelByCloid":
        cancels = [{"asset": rng.randint(0, 200), "cloid": random_cloid(rng)} for _ in range(2)]
        action = {"type": "cancelByCloid", "cancels": cancels[: rng.randint(1, 2)]}
    elif kind == "batchModify":
        modifies = []
        for _ in range(rng.randint(1, 3)):
            wire = random_order(rng, sdk)[0]
            oid = rng.randint(1, 2**40) if rng.random() < 0.5 else random_cloid(rng)
            modifies.append({"oid": oid, "order": wire})
        action = {"type": "batchModify", "modifies": modifies}
    elif kind == "schedule":
        action = {"type": "scheduleCancel"}
        if rng.random() < 0.5:
            action["time"] = rng.randint(1_700_000_000_000, 1_900_000_000_000)
    else:
        action = {"type": "noop"}
    return action, action


def test_differential_against_the_official_client() -> None:
    signing = pytest.importorskip("hyperliquid.utils.signing")
    types = pytest.importorskip("hyperliquid.utils.types")
    eth_account = pytest.importorskip("eth_account")
    sdk = type("Sdk", (), {"signing": signing, "types": types})
    rng = random.Random(20240611)
    keys = [rng.randbytes(32) for _ in range(4)]
    signers = [Signer(key) for key in keys]
    wallets = [eth_account.Account.from_key(key) for key in keys]
    kinds: set[str] = set()
    for _ in range(300):
        ours, theirs = random_action(rng, sdk)
        assert msgpack.packb(ours) == msgpack.packb(theirs)  # same wire, same key order
        kinds.add(ours["type"] + ("+" if len(ours.get("orders", ())) > 1 else ""))
        which = rng.randrange(len(keys))
        vault = random_address(rng) if rng.random() < 0.4 else None
        nonce = rng.randint(1_700_000_000_000, 1_900_000_000_000)
        expires = nonce + rng.randint(1, 60_000) if rng.random() < 0.4 else None
        is_mainnet = rng.random() < 0.5
        assert action_hash(ours, vault, nonce, expires) == signing.action_hash(
            theirs, vault, nonce, expires
        )
        got = signers[which].sign_l1_action(
            ours, vault_address=vault, nonce=nonce, expires_after=expires, is_mainnet=is_mainnet
        )
        want = signing.sign_l1_action(wallets[which], theirs, vault, nonce, expires, is_mainnet)
        assert (int(got["r"], 16), int(got["s"], 16), got["v"]) == (
            int(want["r"], 16),
            int(want["s"], 16),
            want["v"],
        )
        envelope = {"vault_address": vault, "nonce": nonce, "expires_after": expires}
        assert recover_l1_signer(ours, got, **envelope, is_mainnet=is_mainnet) == (
            wallets[which].address.lower()
        )
    assert kinds == {"order", "order+", "cancel", "cancelByCloid", "batchModify",
                     "scheduleCancel", "noop"}  # fmt: skip


def test_recover_round_trip_and_any_change_recovers_someone_else() -> None:
    rng = random.Random(7)
    for _ in range(20):
        signer = Signer(rng.randbytes(32))
        action = {"type": "cancel", "cancels": [{"a": rng.randint(0, 9), "o": rng.randint(1, 99)}]}
        envelope: dict[str, Any] = {"vault_address": None, "nonce": rng.randint(0, 2**63)}
        envelope["expires_after"] = None
        sig = signer.sign_l1_action(action, **envelope, is_mainnet=True)
        assert recover_l1_signer(action, sig, **envelope, is_mainnet=True) == signer.address
        changed = [
            ({**action, "cancels": [{"a": 0, "o": 0}]}, envelope, True),
            (action, {**envelope, "nonce": envelope["nonce"] + 1}, True),
            (action, {**envelope, "vault_address": VAULT}, True),
            (action, {**envelope, "expires_after": 1}, True),
            (action, envelope, False),
        ]
        for other, other_envelope, mainnet in changed:
            assert recover_l1_signer(other, sig, **other_envelope, is_mainnet=mainnet) != (
                signer.address
            )


# --- nonces -------------------------------------------------------------------------------


class FrozenClock:
    """A millisecond clock that stands still unless moved, and yields the GIL when read."""

    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        threading.Event().wait(0)  # a thread switch point inside the critical section
        return self.now


def test_nonces_are_strictly_increasing_under_concurrent_threads() -> None:
    clock = FrozenClock(1_700_000_000_000)
    source = NonceSource(clock)
    per_thread: list[list[int]] = [[] for _ in range(8)]
    start = threading.Barrier(len(per_thread))

    def work(out: list[int]) -> None:
        start.wait()
        for _ in range(500):
            out.append(source.next())

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(out,)) for out in per_thread]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    issued = [n for out in per_thread for n in out]
    assert len(set(issued)) == len(issued) == 4000
    assert set(issued) == set(range(clock.now, clock.now + 4000))
    assert all(out == sorted(out) for out in per_thread)
    assert source.last == clock.now + 3999


def test_nonces_are_strictly_increasing_across_asyncio_tasks() -> None:
    clock = FrozenClock(1_000)
    source = NonceSource(clock)

    async def task(out: list[int]) -> list[int]:
        for i in range(50):
            out.append(source.next())
            if i == 25:
                clock.now += 10  # the clock catches up while tasks interleave
            await asyncio.sleep(0)
        return out

    async def main() -> list[list[int]]:
        return list(await asyncio.gather(*(task([]) for _ in range(10))))

    results = asyncio.run(main())
    issued = [n for out in results for n in out]
    assert len(set(issued)) == 500
    assert all(a < b for out in results for a, b in itertools.pairwise(out))


def test_nonce_rules_clock_steps_bumps_and_refusals() -> None:
    clock = FrozenClock(5_000)
    source = NonceSource(clock, max_lead_ms=1_000)
    assert source.last is None
    assert [source.next(), source.next()] == [5_000, 5_001]
    clock.now = 4_000  # the clock steps back: never behind the last issued
    assert source.next() == 5_002
    clock.now = 9_000  # fast-forwarded to the clock
    assert source.next() == 9_000
    source.bump_past(9_500)
    assert source.next() == 9_501
    source.bump_past(100)  # behind: nothing changes
    assert source.next() == 9_502
    with pytest.raises(ValueError, match="nonce 20000 is more than 1000 ms ahead"):
        source.bump_past(20_000)
    with pytest.raises(ValueError, match="nonce must be an integer >= 0, got -1"):
        source.bump_past(-1)
    assert parse_nonce_refusal("Invalid nonce: duplicate nonce 1700000000000") == 1700000000000
    assert parse_nonce_refusal("Invalid nonce: nonce too low 5 < 1700000000001") == 1700000000001
    assert parse_nonce_refusal("Order has invalid price.") is None


def test_one_nonce_source_per_signer() -> None:
    assert Signer(KEY).nonces is Signer(KEY[2:]).nonces
    assert Signer(KEY).nonces is not Signer(b"\x01" * 32).nonces
    own = NonceSource()
    assert Signer(KEY, nonces=own).nonces is own
