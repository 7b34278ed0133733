"""Hyperliquid keys: loading from the environment and from keystores, agent credentials,
and no key material in any log, output, repr or error."""

from __future__ import annotations

import base64
import copy
import getpass
import json
import logging
import pickle
import traceback
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from lifecycle.adapters.hyperliquid.keys import (
    Credentials,
    KeyLoadError,
    load_credentials,
    signer_from_env,
    signer_from_keystore,
)
from lifecycle.adapters.hyperliquid.signing import Signer

KEY = "0x0123456789012345678901234567890123456789012345678901234567890123"
ADDRESS = "0x14791697260e4c9a71f18484c9f997b308e59325"
ACCOUNT = "0x5e9ee1089755c3435139848e47e6635505d5a13a"
VAULT = "0x1719884eb866cb12b2287399b15f7db5e7d775ea"
PASSPHRASE = "correct horse battery staple"


def write_keystore(directory: Path, key: str = KEY, passphrase: str = PASSPHRASE) -> Path:
    # A cheap work factor: the tests exercise the format, not the key stretching.
    keystore = Account.encrypt(key, passphrase, kdf="scrypt", iterations=2**10)
    path = directory / "key.json"
    path.write_text(json.dumps(keystore), encoding="utf-8")
    return path


def test_key_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HL_TEST_KEY", KEY)
    assert signer_from_env("HL_TEST_KEY").address == ADDRESS
    assert signer_from_env("K", environ={"K": f"  {KEY[2:]}\n"}).address == ADDRESS
    with pytest.raises(KeyLoadError, match="environment variable MISSING is not set"):
        signer_from_env("MISSING", environ={})
    with pytest.raises(KeyLoadError, match="environment variable K is empty"):
        signer_from_env("K", environ={"K": " "})
    with pytest.raises(KeyLoadError, match=r"K does not hold a valid key: .*64 hex digits"):
        signer_from_env("K", environ={"K": KEY + "0"})
    with pytest.raises(KeyLoadError, match=r"K does not hold a valid key: .*out of range"):
        signer_from_env("K", environ={"K": "0" * 64})


def test_keystore_with_the_passphrase_from_the_environment(tmp_path: Path) -> None:
    path = write_keystore(tmp_path)
    env = {"HL_PASS": PASSPHRASE}
    assert signer_from_keystore(path, passphrase_env="HL_PASS", environ=env).address == ADDRESS
    with pytest.raises(KeyLoadError, match=r"HL_NONE .*is not set"):
        signer_from_keystore(path, passphrase_env="HL_NONE", environ=env)


def test_keystore_with_the_passphrase_from_the_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_keystore(tmp_path)
    asked: list[str] = []

    def fake_getpass(prompt: str = "", stream: Any = None) -> str:
        asked.append(prompt)
        return PASSPHRASE

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert signer_from_keystore(path).address == ADDRESS
    assert asked == [f"Passphrase of keystore {path}: "]

    def no_terminal(prompt: str) -> str:
        raise EOFError

    with pytest.raises(KeyLoadError, match="no passphrase"):
        signer_from_keystore(path, prompt=no_terminal)


def test_keystore_errors_name_the_file_and_hold_no_secret(tmp_path: Path) -> None:
    path = write_keystore(tmp_path)
    with pytest.raises(KeyLoadError) as wrong:
        signer_from_keystore(path, prompt=lambda _: "wrong passphrase")
    assert str(wrong.value) == f"keystore {path}: wrong passphrase"
    assert wrong.value.__cause__ is None and wrong.value.__suppress_context__
    with pytest.raises(KeyLoadError, match="cannot be read"):
        signer_from_keystore(tmp_path / "absent.json", prompt=lambda _: PASSPHRASE)
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(KeyLoadError, match=r"bad\.json: not JSON"):
        signer_from_keystore(tmp_path / "bad.json", prompt=lambda _: PASSPHRASE)
    (tmp_path / "plain.json").write_text(json.dumps({"key": KEY}), encoding="utf-8")
    with pytest.raises(KeyLoadError, match=r"plain\.json: not an encrypted keystore"):
        signer_from_keystore(tmp_path / "plain.json", prompt=lambda _: PASSPHRASE)
    forged = json.loads(path.read_text(encoding="utf-8"))
    forged["address"] = ACCOUNT[2:]
    path.write_text(json.dumps(forged), encoding="utf-8")
    with pytest.raises(KeyLoadError, match=f"declares address {ACCOUNT} but holds .*{ADDRESS}"):
        signer_from_keystore(path, prompt=lambda _: PASSPHRASE)


def test_credentials_of_an_agent_wallet_query_the_account() -> None:
    own = Credentials(Signer(KEY))
    assert (own.account_address, own.query_address, own.is_agent) == (ADDRESS, ADDRESS, False)
    agent = Credentials(Signer(KEY), ACCOUNT.upper().replace("0X", "0x"))
    assert agent.signer.address == ADDRESS
    assert (agent.account_address, agent.query_address, agent.is_agent) == (ACCOUNT, ACCOUNT, True)
    vault = Credentials(Signer(KEY), ACCOUNT, VAULT)
    assert (vault.query_address, vault.vault_address) == (VAULT, VAULT)
    with pytest.raises(ValueError, match="account_address must be 0x followed by 40 hex"):
        Credentials(Signer(KEY), "0x1234")
    loaded = load_credentials(key_env="K", account_address=ACCOUNT, environ={"K": KEY})
    assert loaded.is_agent and loaded.query_address == ACCOUNT
    with pytest.raises(KeyLoadError, match="no key source"):
        load_credentials(key_env="", keystore="", environ={})


def test_load_credentials_follows_the_configuration(tmp_path: Path) -> None:
    path = write_keystore(tmp_path, key="0x" + "01" * 32)
    env = {"K": KEY, "P": PASSPHRASE}
    by_env = load_credentials(key_env="K", keystore="", vault_address="", environ=env)
    assert (by_env.signer.address, by_env.vault_address) == (ADDRESS, None)
    # The keystore wins over key_env; an unset passphrase variable falls back to the prompt.
    asked: list[str] = []
    by_file = load_credentials(
        key_env="K", keystore=str(path), passphrase_env="UNSET", environ=env,
        prompt=lambda text: asked.append(text) or PASSPHRASE,
    )  # fmt: skip
    other = Signer("01" * 32).address
    assert (by_file.signer.address, len(asked)) == (other, 1)
    by_pass = load_credentials(keystore=path, passphrase_env="P", environ=env, prompt=None)
    assert by_pass.signer.address == other


def test_a_signer_cannot_be_pickled_and_copies_are_itself() -> None:
    signer = Signer(KEY)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Credentials(signer))
    assert copy.copy(signer) is signer and copy.deepcopy(signer) is signer
    assert repr(signer) == str(signer) == f"Signer(address={ADDRESS})"


def key_encodings(key_hex: str) -> list[str]:
    """Every form the key could leak in, as text."""
    bare = key_hex.removeprefix("0x")
    raw = bytes.fromhex(bare)
    return [
        bare,
        "0x" + bare,
        bare.upper(),
        "0X" + bare.upper(),
        repr(raw),
        raw.decode("latin-1"),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        str(int(bare, 16)),
        PASSPHRASE,
    ]


def test_no_key_material_anywhere_while_loading_and_signing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    def failing(call: Any) -> None:
        try:
            call()
        except Exception as exc:
            texts.append("".join(traceback.format_exception(exc)))
        else:
            raise AssertionError("expected an error")

    path = write_keystore(tmp_path)
    env = {"HL_KEY": KEY, "HL_PASS": PASSPHRASE, "HL_BAD": KEY[:-1] + "g"}
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: PASSPHRASE)
    signers = [
        signer_from_env("HL_KEY", environ=env),
        signer_from_keystore(path, passphrase_env="HL_PASS", environ=env),
        signer_from_keystore(path),
    ]
    credentials = [
        load_credentials(key_env="HL_KEY", environ=env),
        load_credentials(keystore=path, passphrase_env="HL_PASS", account_address=ACCOUNT,
                         vault_address=VAULT, environ=env),
    ]  # fmt: skip
    failing(lambda: signer_from_env("HL_BAD", environ=env))
    failing(lambda: signer_from_env("HL_KEY", environ={"HL_KEY": KEY + "00"}))
    failing(lambda: signer_from_keystore(path, prompt=lambda _: PASSPHRASE + "!"))
    failing(lambda: Credentials(signers[0], KEY))  # a key pasted as the account address
    failing(lambda: Credentials(signers[0], ACCOUNT, KEY))
    failing(lambda: pickle.dumps(signers[0]))
    failing(lambda: json.dumps(signers[0]))
    failing(lambda: Signer(bytes.fromhex(KEY[2:]) + b"\x00"))
    for signer in signers:
        for is_mainnet in (True, False):
            signature = signer.sign_l1_action(
                {"type": "noop"}, vault_address=None, nonce=1, expires_after=None,
                is_mainnet=is_mainnet,
            )  # fmt: skip
            texts.append(repr(signature))
        texts += [repr(signer), str(signer), repr(signer.nonces), f"{signer!r:>80}"]
    texts += [repr(c) for c in credentials] + [str(c) for c in credentials]
    captured = capsys.readouterr()
    texts += [caplog.text, captured.out, captured.err]
    texts += [logging.Formatter().format(record) for record in caplog.records]
    assert ADDRESS in caplog.text and "HL_KEY" in caplog.text  # the logs did say something
    everything = "\n".join(texts)
    for secret in key_encodings(KEY):
        assert secret not in everything
        assert secret.lower() not in everything.lower()
    assert bytes.fromhex(KEY[2:]) not in everything.encode("utf-8", "surrogateescape")
