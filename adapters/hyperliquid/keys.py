"""Loading a signing key, and the addresses an account trades and is queried under.

Theory of operation
-------------------
A key comes from one of two places, both named by configuration, never held
in it: an environment variable holding the key as hex
(:func:`signer_from_env`), or an encrypted Ethereum keystore file (the V3
JSON of ``geth``, ``eth-account`` and wallets) whose passphrase comes from an
environment variable or, when none is named, from a terminal prompt
(:func:`signer_from_keystore`). Either way the result is a
:class:`~lifecycle.adapters.hyperliquid.signing.Signer`, which never reveals
its key.

With an *agent wallet* (an API wallet the account approved) the key that signs
is the agent's, while orders, fills and positions belong to the account: every
``/info`` query and websocket subscription must name the account's address,
since the agent's returns nothing. Trading for a vault or sub-account adds a
third address, the ``vaultAddress`` signed into every action, which is then
the one queried. :class:`Credentials` carries the three together and
:attr:`Credentials.query_address` says which one queries use.

Nothing here logs, formats or raises with a key or a passphrase: messages name
the environment variable or the file, and errors from the decryption library
are reduced to their kind, their chained causes dropped.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from .signing import Signer

__all__ = [
    "Credentials",
    "KeyLoadError",
    "load_credentials",
    "signer_from_env",
    "signer_from_keystore",
]

log = logging.getLogger("lifecycle.hyperliquid.keys")

_HEX = frozenset("0123456789abcdef")

#: Reads a passphrase given a prompt text (:func:`getpass.getpass` by default).
Prompt = Callable[[str], str]


class KeyLoadError(ValueError):
    """A key could not be loaded; the message names its source, never its content."""


#: What an environment variable's name looks like.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def signer_from_env(name: str, *, environ: Mapping[str, str] | None = None) -> Signer:
    """Return the signer whose private key (hex, with or without ``0x``) is in variable ``name``.

    Args:
        name: The environment variable's name.
        environ: The environment to read (``os.environ`` by default).

    Raises:
        KeyLoadError: The variable is unset, empty or not a valid key (the
            message names the variable).
    """
    if not _ENV_NAME.fullmatch(name):
        # Not echoed: a key pasted where a variable's name belongs must not be printed.
        raise KeyLoadError(
            f"the environment variable's name is not a name ({len(name)} characters, not "
            "shown: it may be the key itself); give the variable that holds the key"
        )
    env = os.environ if environ is None else environ
    value = env.get(name)
    if value is None:
        raise KeyLoadError(f"environment variable {name} is not set (it should hold the key)")
    if not value.strip():
        raise KeyLoadError(f"environment variable {name} is empty (it should hold the key)")
    try:
        signer = Signer(value)
    except ValueError as exc:
        raise KeyLoadError(
            f"environment variable {name} does not hold a valid key: {exc}"
        ) from None
    log.info("signer %s loaded from environment variable %s", signer.address, name)
    return signer


def signer_from_keystore(
    path: str | os.PathLike[str],
    *,
    passphrase_env: str | None = None,
    prompt: Prompt | None = None,
    environ: Mapping[str, str] | None = None,
) -> Signer:
    """Return the signer whose key is in the encrypted keystore file at ``path``.

    Args:
        path: A V3 keystore JSON file (scrypt or pbkdf2).
        passphrase_env: The environment variable holding the passphrase; when
            None, the passphrase is asked with ``prompt``.
        prompt: Asks for the passphrase (:func:`getpass.getpass`, which does
            not echo, by default).
        environ: The environment to read (``os.environ`` by default).

    Raises:
        KeyLoadError: The file cannot be read or is not a keystore, the
            passphrase is missing or wrong, or the key does not match the
            file's address (the message names the file or the variable).
    """
    where = Path(path)
    try:
        keystore = json.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KeyLoadError(f"keystore {where}: cannot be read ({exc.strerror})") from None
    except ValueError:
        raise KeyLoadError(f"keystore {where}: not JSON") from None
    if not isinstance(keystore, dict) or ("crypto" not in keystore and "Crypto" not in keystore):
        raise KeyLoadError(f"keystore {where}: not an encrypted keystore (no 'crypto' section)")
    passphrase = _passphrase(where, passphrase_env, prompt, environ)
    try:
        raw = bytes(Account.decrypt(keystore, passphrase))
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise KeyLoadError(f"keystore {where}: wrong passphrase") from None
        raise KeyLoadError(
            f"keystore {where}: cannot be decrypted ({type(exc).__name__})"
        ) from None
    except Exception as exc:  # the library's errors on a malformed file vary by kind
        raise KeyLoadError(
            f"keystore {where}: not a valid encrypted keystore ({type(exc).__name__})"
        ) from None
    try:
        signer = Signer(raw)
    except ValueError:
        raise KeyLoadError(f"keystore {where}: does not hold a valid secp256k1 key") from None
    declared = keystore.get("address")
    if isinstance(declared, str) and declared:
        expected = declared.lower() if declared[:2].lower() == "0x" else "0x" + declared.lower()
        if expected != signer.address:
            raise KeyLoadError(
                f"keystore {where}: declares address {expected} but holds the key of "
                f"{signer.address}"
            )
    log.info("signer %s loaded from keystore %s", signer.address, where)
    return signer


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """Who signs, and whose orders are queried.

    Args:
        signer: The key that signs every action (the account's own key, or an
            agent wallet's).
        account_address: The account the signer acts for; by default the
            signer's own address (no agent). Stored lowercase.
        vault_address: The vault or sub-account traded for, or None. It goes
            into every signed action's hash and the request's ``vaultAddress``.

    Raises:
        ValueError: An address is not ``0x`` followed by 40 hex digits (the
            message names the field).
    """

    signer: Signer
    account_address: str = ""
    vault_address: str | None = None

    def __post_init__(self) -> None:
        account = self.account_address or self.signer.address
        object.__setattr__(self, "account_address", _address("account_address", account))
        if self.vault_address is not None:
            vault = _address("vault_address", self.vault_address)
            object.__setattr__(self, "vault_address", vault)

    @property
    def is_agent(self) -> bool:
        """Whether the signer is an agent wallet (its address is not the account's)."""
        return self.signer.address != self.account_address

    @property
    def query_address(self) -> str:
        """The address every ``/info`` query and subscription names (vault, else account)."""
        return self.vault_address if self.vault_address is not None else self.account_address

    def __repr__(self) -> str:
        return (
            f"Credentials(signer={self.signer.address}, account_address={self.account_address}, "
            f"vault_address={self.vault_address})"
        )

    __str__ = __repr__


def load_credentials(
    *,
    key_env: str | None = None,
    keystore: str | os.PathLike[str] | None = None,
    passphrase_env: str | None = None,
    account_address: str | None = None,
    vault_address: str | None = None,
    prompt: Prompt | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Load the key and return the credentials, as the ``exchange`` configuration names them.

    Empty strings count as not given, as in the configuration. The keystore,
    when given, is used instead of ``key_env``.

    Args:
        key_env: Name of the environment variable holding the key.
        keystore: Path of an encrypted keystore file.
        passphrase_env: With ``keystore``: the variable holding its passphrase;
            when it is None or unset, the passphrase is asked with ``prompt``.
        account_address: The account an agent key acts for (None: the key's own).
        vault_address: The vault or sub-account traded for, or None.
        prompt, environ: As for :func:`signer_from_keystore`.

    Raises:
        KeyLoadError: Neither source is given, or the key cannot be loaded.
        ValueError: An address is malformed (the message names the field).
    """
    if keystore:
        if key_env:
            log.debug("keystore %s is used instead of variable %s", keystore, key_env)
        env = os.environ if environ is None else environ
        if passphrase_env and passphrase_env not in env:
            log.debug("variable %s is not set: the passphrase is asked", passphrase_env)
            passphrase_env = None
        signer = signer_from_keystore(
            keystore, passphrase_env=passphrase_env or None, prompt=prompt, environ=environ
        )
    elif key_env:
        signer = signer_from_env(key_env, environ=environ)
    else:
        raise KeyLoadError("no key source: name key_env (a variable) or keystore (a file)")
    credentials = Credentials(signer, account_address or "", vault_address or None)
    if credentials.is_agent:
        log.info("signer %s is an agent of account %s", signer.address, credentials.account_address)
    return credentials


# --- internals -----------------------------------------------------------------------


def _passphrase(
    where: Path,
    passphrase_env: str | None,
    prompt: Prompt | None,
    environ: Mapping[str, str] | None,
) -> str:
    if passphrase_env is not None:
        env = os.environ if environ is None else environ
        value = env.get(passphrase_env)
        if value is None:
            raise KeyLoadError(
                f"keystore {where}: environment variable {passphrase_env} "
                "(its passphrase) is not set"
            )
        log.debug("passphrase of keystore %s read from %s", where, passphrase_env)
        return value
    ask = getpass.getpass if prompt is None else prompt
    try:
        value = ask(f"Passphrase of keystore {where}: ")
    except (EOFError, OSError):
        raise KeyLoadError(
            f"keystore {where}: no passphrase (no terminal to ask it on; name an "
            "environment variable that holds it)"
        ) from None
    log.debug("passphrase of keystore %s read from the prompt", where)
    return value


def _address(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a 0x hex address string, got {type(value).__name__}")
    text = value.strip().lower()
    if not (len(text) == 42 and text.startswith("0x") and _HEX.issuperset(text[2:])):
        # A longer string may be a key pasted in the wrong place: described, not shown.
        shown = repr(value) if len(value) <= 42 else f"a string of {len(value)} characters"
        raise ValueError(f"{name} must be 0x followed by 40 hex digits, got {shown}")
    return text
