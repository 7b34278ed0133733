"""Who signed an action, whom they act for, and whether its nonce is fresh.

Theory of operation
-------------------
The exchange never trusts an address in the request: it recovers the signer
from the signature over the action it re-serialized itself, so any difference
in the signed bytes (key order, trailing zeros, the network) shows up as a
different, unknown signer (the protocol reference, sections 4.1 and 9 row 4).
L1 actions are recovered with
:func:`~lifecycle.adapters.hyperliquid.signing.recover_l1_signer`; the
user-signed ``approveAgent`` with :func:`recover_user_signer` (EIP-712 in the
``HyperliquidSignTransaction`` domain, section 4.2).

:class:`Accounts` says whom a signer acts for: an account acts for itself, an
agent (API wallet) for the account that approved it. Accounts are registered
up front (``--account``), or, in open mode (no account registered), every
signer that is not an agent is an account of its own on its first action.
Agents are approved with the ``approveAgent`` action, signed by the account
(a new unnamed agent replaces the account's previous unnamed one, a named one
replaces the agent of that name), or up front with :meth:`Accounts.approve`.

:class:`NonceBook` applies the nonce rules per signer (section 4.4): the
nonce lies within (now - 2 days, now + 1 day), was never used, and is larger
than the smallest of the signer's 100 highest nonces once it holds 100.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from coincurve import PublicKey
from eth_hash.auto import keccak

from ..signing import address_of_public_key

__all__ = [
    "APPROVE_AGENT_FIELDS",
    "Accounts",
    "NonceBook",
    "is_address",
    "must_deposit",
    "recover_user_signer",
    "unknown_signer",
]

_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_DAY_MS: Final = 86_400_000
_HEX: Final = frozenset("0123456789abcdef")

#: The signed fields of ``approveAgent``, in order (section 4.2).
APPROVE_AGENT_FIELDS: Final = (
    ("hyperliquidChain", "string"),
    ("agentAddress", "address"),
    ("agentName", "string"),
    ("nonce", "uint64"),
)


def unknown_signer(address: str) -> str:
    """The refusal of an L1 action whose signer is no account or agent (section 3.2)."""
    return f"L1 error: User or API Wallet {address} does not exist."


def must_deposit(address: str) -> str:
    """The refusal of a user-signed action whose signer is no account."""
    return f"Must deposit before performing actions. User: {address}"


def is_address(value: object) -> bool:
    """Whether ``value`` is ``0x`` + 40 hex digits (any letter case)."""
    return (
        isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X")
        and set(value[2:].lower()) <= _HEX
    )


class Accounts:
    """Accounts, and the agents that act for them (see the module docstring).

    Args:
        accounts: The accounts; none means open mode.
        agents: Agents approved up front: agent address -> account address.

    Raises:
        ValueError: An address is not ``0x`` + 40 hex digits, or an agent's
            account is not one of ``accounts`` (outside open mode).
    """

    def __init__(self, accounts: Iterable[str] = (), agents: Mapping[str, str] | None = None):
        self._accounts: set[str] = set()
        for address in accounts:
            self.add(address)
        self.open = not self._accounts
        self._agents: dict[str, str] = {}
        self._names: dict[tuple[str, str], str] = {}
        for agent, account in (agents or {}).items():
            self.approve(agent, account)

    def add(self, address: str) -> str:
        """Register an account; return its lowercase address."""
        if not is_address(address):
            raise ValueError(f"account address must be 0x + 40 hex digits, got {address!r}")
        key = address.lower()
        self._accounts.add(key)
        return key

    def approve(self, agent: str, account: str, name: str = "") -> None:
        """Let ``agent`` act for ``account`` (replacing the account's agent of that name)."""
        if not is_address(agent):
            raise ValueError(f"agent address must be 0x + 40 hex digits, got {agent!r}")
        if not is_address(account):
            raise ValueError(f"account address must be 0x + 40 hex digits, got {account!r}")
        agent, account = agent.lower(), account.lower()
        if account not in self._accounts:
            if not self.open:
                raise ValueError(f"agent {agent} names {account}, which is no account")
            self._accounts.add(account)
        previous = self._names.get((account, name))
        if previous is not None:
            self._agents.pop(previous, None)  # agents are pruned when replaced
        self._names[(account, name)] = agent
        self._agents[agent] = account

    def is_account(self, address: str) -> bool:
        """Whether ``address`` is a registered account."""
        return address.lower() in self._accounts

    def account_of(self, signer: str) -> str | None:
        """Whom ``signer`` acts for; in open mode an unknown signer becomes an account."""
        signer = signer.lower()
        if signer in self._agents:
            return self._agents[signer]
        if signer in self._accounts:
            return signer
        if self.open:
            self._accounts.add(signer)
            return signer
        return None

    def agents_of(self, account: str) -> list[str]:
        """The agents acting for ``account``."""
        account = account.lower()
        return sorted(a for a, owner in self._agents.items() if owner == account)

    def accounts(self) -> list[str]:
        """Every registered account."""
        return sorted(self._accounts)


class NonceBook:
    """Per-signer nonce rules (see the module docstring).

    Args:
        keep: How many of its highest nonces a signer's set holds.
        past_ms: How far behind now a nonce may be.
        future_ms: How far ahead of now a nonce may be.
    """

    def __init__(
        self, keep: int = 100, past_ms: int = 2 * _DAY_MS, future_ms: int = _DAY_MS
    ) -> None:
        self._keep = keep
        self._past = past_ms
        self._future = future_ms
        self._sets: dict[str, list[int]] = {}

    def spend(self, signer: str, nonce: int, now_ms: int) -> str | None:
        """Use ``nonce`` for ``signer`` at ``now_ms``; return the refusal, or None if fresh."""
        low, high = now_ms - self._past, now_ms + self._future
        if not low < nonce < high:
            return f"Invalid nonce: nonce {nonce} is outside the allowed window ({low}, {high})"
        held = self._sets.setdefault(signer.lower(), [])
        i = bisect.bisect_left(held, nonce)
        if i < len(held) and held[i] == nonce:
            return f"Invalid nonce: duplicate nonce {nonce}"
        if len(held) >= self._keep and nonce < held[0]:
            return f"Invalid nonce: nonce too low {nonce} < {held[0]}"
        held.insert(i, nonce)
        if len(held) > self._keep:
            del held[0]
        return None


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _encode(kind: str, value: Any) -> bytes:
    """One EIP-712 field as its 32-byte word."""
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return bytes(keccak(value.encode()))
    if kind == "address":
        if not is_address(value):
            raise ValueError(f"expected an address, got {value!r}")
        return bytes(12) + bytes.fromhex(value[2:])
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expected a bool, got {value!r}")
        return _word(int(value))
    if kind.startswith("uint"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**64:
            raise ValueError(f"expected an unsigned integer, got {value!r}")
        return _word(value)
    raise ValueError(f"unsupported EIP-712 type {kind}")


def _scalar(name: str, value: object) -> int:
    if isinstance(value, str) and value[:2] in ("0x", "0X") and 2 < len(value) <= 66:
        try:
            number = int(value[2:], 16)
        except ValueError:
            number = 0
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = 0
    if not 0 < number < _SECP256K1_N:
        raise ValueError(f"signature.{name} is not a valid scalar: {value!r}")
    return number


def recover_user_signer(
    primary_type: str,
    fields: Sequence[tuple[str, str]],
    message: Mapping[str, Any],
    signature: Mapping[str, Any],
) -> str:
    """The lowercase address that signed a user-signed action (EIP-712, section 4.2).

    Args:
        primary_type: E.g. ``HyperliquidTransaction:ApproveAgent``.
        fields: The signed ``(name, type)`` pairs, in order.
        message: The action as signed (``signatureChainId`` gives the domain's chain).
        signature: ``{"r", "s", "v"}``.

    Raises:
        ValueError: A field or the signature is malformed (the message names it).
    """
    chain = message.get("signatureChainId")
    if not isinstance(chain, str) or chain[:2] not in ("0x", "0X"):
        raise ValueError(f"signatureChainId must be a 0x hex string, got {chain!r}")
    try:
        chain_id = int(chain[2:], 16)
    except ValueError:
        raise ValueError(f"signatureChainId must be a 0x hex string, got {chain!r}") from None
    domain_type = keccak(
        b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    domain = keccak(
        domain_type + keccak(b"HyperliquidSignTransaction") + keccak(b"1") + _word(chain_id)
        + bytes(32)
    )
    signature_type = f"{primary_type}({','.join(f'{t} {n}' for n, t in fields)})"
    encoded = b"".join(_encode(kind, message.get(name)) for name, kind in fields)
    struct = keccak(keccak(signature_type.encode()) + encoded)
    digest = keccak(b"\x19\x01" + domain + struct)
    r = _scalar("r", signature.get("r"))
    s = _scalar("s", signature.get("s"))
    v = signature.get("v")
    if isinstance(v, bool) or v not in (27, 28):
        raise ValueError(f"signature.v must be 27 or 28, got {v!r}")
    raw = _word(r) + _word(s) + bytes((v - 27,))
    try:
        public_key = PublicKey.from_signature_and_message(raw, digest, hasher=None)
    except ValueError:
        raise ValueError("signature recovers no public key") from None
    return address_of_public_key(public_key)
