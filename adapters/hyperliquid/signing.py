"""Signing of Hyperliquid L1 actions (order, cancel, modify, scheduleCancel, noop, ...).

Theory of operation
-------------------
An L1 action is signed in three steps (the protocol reference, section 4.1):

1. :func:`action_hash`: ``keccak256(msgpack(action) || nonce (8 bytes, big
   endian) || vault flag [|| 20 vault bytes] [|| 0x00 || expiresAfter (8
   bytes)])``, the *connection id*. The action's keys are packed in insertion
   order, so callers build every dict in the protocol's key order.
2. :func:`l1_digest`: the EIP-712 digest of the *phantom agent* ``Agent(string
   source, bytes32 connectionId)`` with ``source`` ``"a"`` on mainnet and
   ``"b"`` on testnet, in the domain ``Exchange`` / ``1`` / chain 1337 /
   the zero contract. Its type hash, the hashes of the two sources and the
   domain separator are constants computed once at import, so the digest
   costs two keccak calls: ``keccak(0x1901 || domain || keccak(typehash ||
   keccak(source) || connectionId))``. No generic typed-data encoder runs per
   signature.
3. A recoverable secp256k1 signature of that digest (libsecp256k1 through
   ``coincurve``: deterministic RFC 6979 nonces, low ``s``), returned as
   ``{"r": "0x<64 hex>", "s": "0x<64 hex>", "v": 27 | 28}``. ``r`` and ``s``
   are zero-padded to 32 bytes; the exchange reads them as numbers, so this
   is the same signature as the unpadded form other clients send.

:func:`recover_l1_signer` runs the same digest backwards and returns the
lowercase address that signed, which is what the exchange does to decide whose
action it is (a wrong byte anywhere yields a different address, never an error).

A :class:`Signer` holds its private key in a slot that no ``repr``, ``str``,
pickle or copy ever reveals; its :attr:`Signer.address` is public. Each
signer's :attr:`Signer.nonces` is the process-wide nonce source of its address
(:func:`~lifecycle.adapters.hyperliquid.nonces.nonce_source_for`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NoReturn, TypedDict

import msgpack
from coincurve import PrivateKey, PublicKey
from eth_hash.auto import keccak

from .nonces import NonceSource, nonce_source_for

__all__ = [
    "AGENT_TYPEHASH",
    "EXCHANGE_DOMAIN_SEPARATOR",
    "L1Signature",
    "Signer",
    "action_hash",
    "address_of_public_key",
    "l1_digest",
    "recover_l1_signer",
]

#: Order of the secp256k1 group: ``r`` and ``s`` lie in ``[1, N)``.
_SECP256K1_N: Final = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_UINT64_LIMIT: Final = 1 << 64
_ZERO_ADDRESS_WORD: Final = bytes(32)


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


_DOMAIN_TYPEHASH: Final = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
#: ``keccak256("Agent(string source,bytes32 connectionId)")``.
AGENT_TYPEHASH: Final[bytes] = keccak(b"Agent(string source,bytes32 connectionId)")
#: EIP-712 domain separator of ``{"name": "Exchange", "version": "1", "chainId": 1337,
#: "verifyingContract": 0x0...0}``, the domain of every L1 action.
EXCHANGE_DOMAIN_SEPARATOR: Final[bytes] = keccak(
    _DOMAIN_TYPEHASH + keccak(b"Exchange") + keccak(b"1") + _word(1337) + _ZERO_ADDRESS_WORD
)
_EIP712_PREFIX: Final = b"\x19\x01" + EXCHANGE_DOMAIN_SEPARATOR
# The struct hash's first 64 bytes depend only on the network.
_AGENT_PREFIX: Final = {
    True: AGENT_TYPEHASH + keccak(b"a"),
    False: AGENT_TYPEHASH + keccak(b"b"),
}
_NO_VAULT: Final = b"\x00"
_VAULT: Final = b"\x01"
_EXPIRES: Final = b"\x00"


class L1Signature(TypedDict):
    """A signature as the exchange's ``signature`` field carries it."""

    r: str
    s: str
    v: int


def action_hash(
    action: Mapping[str, Any], vault_address: str | None, nonce: int, expires_after: int | None
) -> bytes:
    """Return the 32-byte connection id of ``action`` (keccak of its msgpack and envelope).

    Args:
        action: The action, its keys in the protocol's order (insertion order is hashed).
            Every price and size in it is already a wire string.
        vault_address: The vault or sub-account traded for (``0x`` + 40 hex digits), or None.
        nonce: The action's nonce, an integer in ``[0, 2**64)``.
        expires_after: Milliseconds timestamp after which the action is refused, or None.

    Raises:
        ValueError: An argument is malformed (the message names it).
        TypeError: ``action`` holds a float (numbers go on the wire as strings or
            integers: a float would be signed as a float, which the exchange never
            does, and recover as another signer), or a value msgpack cannot pack,
            such as a Decimal (the message names where).
    """
    try:
        data = msgpack.packb(action)
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"action cannot be packed: {exc}") from None
    if not isinstance(data, bytes):  # pragma: no cover - msgpack always returns bytes
        raise TypeError("action cannot be packed")
    # A float packs as 0xca/0xcb; those bytes also occur inside strings and ints,
    # so their presence only triggers the exact (slower) walk.
    if b"\xcb" in data or b"\xca" in data:
        _refuse_floats(action, "action")
    data += _uint64("nonce", nonce)
    if vault_address is None:
        data += _NO_VAULT
    else:
        data += _VAULT + _address_bytes("vault_address", vault_address)
    if expires_after is not None:
        data += _EXPIRES + _uint64("expires_after", expires_after)
    return keccak(data)


def l1_digest(
    action: Mapping[str, Any],
    *,
    vault_address: str | None,
    nonce: int,
    expires_after: int | None,
    is_mainnet: bool,
) -> bytes:
    """Return the 32-byte EIP-712 digest that signs ``action`` (the phantom agent's).

    Raises:
        ValueError, TypeError: As :func:`action_hash`.
    """
    connection_id = action_hash(action, vault_address, nonce, expires_after)
    return keccak(_EIP712_PREFIX + keccak(_AGENT_PREFIX[bool(is_mainnet)] + connection_id))


def address_of_public_key(public_key: PublicKey) -> str:
    """Return the lowercase ``0x`` address of a secp256k1 public key."""
    return "0x" + keccak(public_key.format(compressed=False)[1:])[-20:].hex()


def recover_l1_signer(
    action: Mapping[str, Any],
    signature: Mapping[str, Any],
    *,
    vault_address: str | None,
    nonce: int,
    expires_after: int | None,
    is_mainnet: bool,
) -> str:
    """Return the lowercase ``0x`` address whose key signed ``action`` with ``signature``.

    Any change to the action, its envelope (vault, nonce, expiry) or the network
    recovers a different address, as on the exchange; only a malformed
    signature raises.

    Args:
        action: The action as it was signed (same key order).
        signature: ``{"r", "s", "v"}``: ``r`` and ``s`` as ``0x`` hex strings,
            with or without leading zeros (or as integers), ``v`` 27 or 28.
        vault_address, nonce, expires_after, is_mainnet: As for
            :meth:`Signer.sign_l1_action`.

    Raises:
        ValueError: The signature is malformed or recovers no public key (the
            message names the field), or an argument is malformed.
        TypeError: As :func:`action_hash`.
    """
    r = _scalar("signature.r", signature.get("r"))
    s = _scalar("signature.s", signature.get("s"))
    v = signature.get("v")
    if isinstance(v, bool) or v not in (27, 28):
        raise ValueError(f"signature.v must be 27 or 28, got {v!r}")
    digest = l1_digest(
        action,
        vault_address=vault_address,
        nonce=nonce,
        expires_after=expires_after,
        is_mainnet=is_mainnet,
    )
    raw = _word(r) + _word(s) + bytes((v - 27,))
    try:
        public_key = PublicKey.from_signature_and_message(raw, digest, hasher=None)
    except ValueError:
        raise ValueError("signature recovers no public key") from None
    return address_of_public_key(public_key)


class Signer:
    """One private key that signs L1 actions; its key never prints, pickles or copies out.

    Args:
        private_key: 32 bytes, or 64 hex digits with or without ``0x``.
        nonces: The nonce source to use; by default the process-wide source of
            this signer's address, shared by every :class:`Signer` of the same
            key (nonces are tracked per signer by the exchange).

    Raises:
        ValueError: ``private_key`` is not a valid secp256k1 key. The message
            never contains the key.
    """

    __slots__ = ("__key", "_address", "_nonces")

    def __init__(self, private_key: str | bytes, *, nonces: NonceSource | None = None) -> None:
        self.__key = PrivateKey(_key_bytes(private_key))
        self._address = address_of_public_key(self.__key.public_key)
        self._nonces = nonce_source_for(self._address) if nonces is None else nonces

    @property
    def address(self) -> str:
        """The signer's address, lowercase ``0x`` hex (for an agent wallet, the agent's own)."""
        return self._address

    @property
    def nonces(self) -> NonceSource:
        """The nonce source of this signer: take every action's nonce from it."""
        return self._nonces

    def sign_l1_action(
        self,
        action: Mapping[str, Any],
        *,
        vault_address: str | None,
        nonce: int,
        expires_after: int | None,
        is_mainnet: bool,
    ) -> L1Signature:
        """Sign ``action`` and return ``{"r", "s", "v"}`` for the request's ``signature``.

        Args:
            action: The action, its keys in the protocol's order, prices and sizes
                already wire strings (:mod:`.wire_numbers`).
            vault_address: The vault or sub-account traded for, or None. It is part of
                the signed hash, so it must match the request's ``vaultAddress``.
            nonce: The request's ``nonce`` (from :attr:`nonces`).
            expires_after: The request's ``expiresAfter``, or None.
            is_mainnet: True on mainnet, False on testnet (another phantom-agent source).

        Raises:
            ValueError, TypeError: As :func:`action_hash`.
        """
        digest = l1_digest(
            action,
            vault_address=vault_address,
            nonce=nonce,
            expires_after=expires_after,
            is_mainnet=is_mainnet,
        )
        raw = self.__key.sign_recoverable(digest, hasher=None)
        return {"r": "0x" + raw[:32].hex(), "s": "0x" + raw[32:64].hex(), "v": 27 + raw[64]}

    def __repr__(self) -> str:
        return f"Signer(address={self._address})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a Signer cannot be pickled or serialized (it holds a private key)")

    def __copy__(self) -> Signer:
        return self

    def __deepcopy__(self, memo: Any) -> Signer:
        return self


# --- internals -----------------------------------------------------------------------


def _key_bytes(private_key: object) -> bytes:
    """The 32 key bytes; errors describe the shape of the input, never its content."""
    if isinstance(private_key, (bytes, bytearray)):
        raw = bytes(private_key)
        if len(raw) != 32:
            raise ValueError(f"private key must be 32 bytes, got {len(raw)} bytes")
    elif isinstance(private_key, str):
        text = private_key.strip()
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        if len(text) != 64:
            raise ValueError(
                "private key must be 64 hex digits (with or without 0x), "
                f"got {len(text)} characters"
            )
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise ValueError("private key is not hexadecimal") from None
    else:
        raise ValueError(f"private key must be str or bytes, got {type(private_key).__name__}")
    if not 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
        raise ValueError("private key is out of range for secp256k1")
    return raw


def _address_bytes(field: str, address: object) -> bytes:
    if not isinstance(address, str):
        raise ValueError(f"{field} must be a 0x hex address string, got {type(address).__name__}")
    text = address[2:] if address.startswith(("0x", "0X")) else address
    if len(text) != 40:
        _bad_address(field, address)
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        _bad_address(field, address)
    if len(raw) != 20:
        _bad_address(field, address)
    return raw


def _bad_address(field: str, address: str) -> NoReturn:
    # A longer string may be a key pasted in the wrong place: described, not shown.
    shown = repr(address) if len(address) <= 42 else f"a string of {len(address)} characters"
    raise ValueError(f"{field} must be 0x followed by 40 hex digits, got {shown}")


def _refuse_floats(value: object, where: str) -> None:
    if isinstance(value, float):
        raise TypeError(
            f"{where} is a float ({value!r}); numbers go on the wire as strings "
            "(wire_numbers.to_wire) or integers"
        )
    if isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_floats(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _refuse_floats(item, f"{where}[{index}]")


def _uint64(field: str, value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an integer, got {type(value).__name__} {value!r}")
    if not 0 <= value < _UINT64_LIMIT:
        raise ValueError(f"{field} must be in [0, 2**64), got {value}")
    return value.to_bytes(8, "big")


def _scalar(field: str, value: object) -> int:
    if isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            number = int(text, 16)
        except ValueError:
            raise ValueError(f"{field} must be a 0x hex string, got {value!r}") from None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise ValueError(f"{field} must be a 0x hex string, got {value!r}")
    if not 0 < number < _SECP256K1_N:
        raise ValueError(f"{field} is out of range for secp256k1")
    return number
