"""Benchmark of Hyperliquid L1 signing, ours and the official client's. Not a test.

Run alone as ``.venv/bin/python bench/hyperliquid_sign.py`` (prints the figures
as JSON), or through :func:`measure` from ``bench/run.py``.

Theory of operation: one signature is what the adapter pays per action: the
action's msgpack and keccak (its connection id), the EIP-712 digest of the
phantom agent, and one recoverable secp256k1 signature. The action is a
single limit order with a cloid, built once before timing (building it is the
REST layer's work); every signature uses a new nonce, so no two signatures
hash the same bytes. A run collects garbage once (``gc.collect()``), then
times each signature alone (``time.perf_counter``) and returns the median of
its calls; a key's figure is the median of its runs' medians, so a call
slowed by the machine or by a collection moves it by one rank, not by its
delay. The runs of the two keys alternate (one run of each in turn), in this
one process, after one untimed warm-up run each.

Each run checks its work and raises :class:`BenchError` otherwise: our last
signature must recover our signer's address, and the official client's last
signature must equal ours for the same action and nonce.

Keys
----
``hl_sign_us``
    One :meth:`Signer.sign_l1_action
    <lifecycle.adapters.hyperliquid.signing.Signer.sign_l1_action>` of a
    single-order action, microseconds: the median of :data:`RUNS` runs of
    :data:`SIGNS` calls. Target: at most 100.
``hl_sdk_sign_us``
    One ``hyperliquid.utils.signing.sign_l1_action`` (the official client,
    0.24.0, with whatever ``eth-keys`` backend it finds installed) of the same
    action, microseconds: the median of :data:`RUNS` runs of :data:`SDK_SIGNS`
    calls. Absent, the reason given by :func:`sdk_skip_reason`, when the
    official client is not installed.
``hl_sdk_sign_ratio``
    ``hl_sdk_sign_us / hl_sign_us``, present with ``hl_sdk_sign_us``.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from lifecycle.adapters.hyperliquid.signing import Signer, recover_l1_signer
from measure import BenchError, Measurement, log_to_stderr
from measure import measure as measure_keys

__all__ = [
    "ACTION",
    "KEY",
    "RUNS",
    "SDK_SIGNS",
    "SIGNS",
    "measure",
    "sdk_skip_reason",
]

#: Runs of each key.
RUNS = 7
#: Timed signatures per run of ``hl_sign_us``.
SIGNS = 400
#: Timed signatures per run of ``hl_sdk_sign_us`` (each costs far more).
SDK_SIGNS = 40
#: A throwaway key (the official client's test key): never a funded one.
KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
#: One single-order action, in the protocol's key order.
ACTION: dict[str, Any] = {
    "type": "order",
    "orders": [
        {
            "a": 4,
            "b": True,
            "p": "1670.1",
            "s": "0.0147",
            "r": False,
            "t": {"limit": {"tif": "Gtc"}},
            "c": "0x00000000000000000000000000000001",
        }
    ],
    "grouping": "na",
}
_FIRST_NONCE = 1_700_000_000_000


def sdk_skip_reason() -> str | None:
    """None when the official client can be measured, else why not."""
    try:
        import eth_account  # noqa: F401
        import hyperliquid.utils.signing  # noqa: F401
    except ImportError as exc:
        return f"hyperliquid-python-sdk is not importable: {exc}"
    return None


def _timed(sign: Callable[[int], dict[str, Any]], count: int, first: int) -> tuple[float, Any]:
    """Median microseconds of ``count`` signatures with nonces from ``first``, and the last one."""
    times: list[float] = []
    signature: Any = None
    gc.collect()
    for nonce in range(first, first + count):
        started = time.perf_counter()
        signature = sign(nonce)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6, signature


def _ours(signer: Signer) -> Callable[[int], dict[str, Any]]:
    def sign(nonce: int) -> dict[str, Any]:
        return dict(
            signer.sign_l1_action(
                ACTION, vault_address=None, nonce=nonce, expires_after=None, is_mainnet=True
            )
        )

    return sign


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (int(a["r"], 16), int(a["s"], 16), a["v"]) == (int(b["r"], 16), int(b["s"], 16), b["v"])


def measure(runs: int = RUNS) -> dict[str, float]:
    """Measure ``hl_sign_us`` (and the official client's figures when it is installed).

    Raises:
        BenchError: A signature did not verify, or the official client signed differently.
    """
    log_to_stderr()
    signer = Signer(KEY)
    ours = _ours(signer)
    next_nonce = [_FIRST_NONCE]

    def take(count: int) -> int:
        first = next_nonce[0]
        next_nonce[0] += count
        return first

    def run_ours() -> float:
        first = take(SIGNS)
        value, signature = _timed(ours, SIGNS, first)
        last = first + SIGNS - 1
        envelope: dict[str, Any] = {"vault_address": None, "nonce": last, "expires_after": None}
        if recover_l1_signer(ACTION, signature, **envelope, is_mainnet=True) != signer.address:
            raise BenchError("hl_sign_us: the last signature does not recover the signer")
        return value

    measurements = [Measurement("hl_sign_us", runs, f"{SIGNS} signings", run_ours, "us")]
    reason = sdk_skip_reason()
    if reason is None:
        from eth_account import Account
        from hyperliquid.utils import signing as sdk

        wallet = Account.from_key(KEY)

        def theirs(nonce: int) -> dict[str, Any]:
            result: dict[str, Any] = sdk.sign_l1_action(wallet, ACTION, None, nonce, None, True)
            return result

        def run_sdk() -> float:
            first = take(SDK_SIGNS)
            value, signature = _timed(theirs, SDK_SIGNS, first)
            if not _same(signature, ours(first + SDK_SIGNS - 1)):
                raise BenchError("hl_sdk_sign_us: the official client signed differently")
            return value

        _timed(theirs, SDK_SIGNS, take(SDK_SIGNS))  # warm-up, untimed
        what = f"{SDK_SIGNS} signings by the official client"
        measurements.append(Measurement("hl_sdk_sign_us", runs, what, run_sdk, "us"))
    _timed(ours, SIGNS, take(SIGNS))  # warm-up, untimed
    results = measure_keys(*measurements)
    if "hl_sdk_sign_us" in results:
        results["hl_sdk_sign_ratio"] = results["hl_sdk_sign_us"] / results["hl_sign_us"]
    return results


if __name__ == "__main__":
    skipped = sdk_skip_reason()
    figures: dict[str, Any] = dict(measure())
    if skipped is not None:
        figures["skipped"] = {"hl_sdk_sign_us": skipped}
    json.dump(figures, sys.stdout, indent=2)
    print()
