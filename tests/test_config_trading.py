"""The ``quoting`` and ``exchange`` sections that ``lifecycle run`` reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from lifecycle.config import (
    ConfigError,
    ExchangeConfig,
    LifecycleConfig,
    Network,
    QuotingConfig,
    check_config,
    load_config,
)

ADDRESS = "0x" + "ab" * 20


def _problems(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return {p.path: p.message for p in check_config(path)}


def test_defaults_trade_on_testnet_with_the_key_from_the_environment() -> None:
    config = LifecycleConfig()
    assert config.exchange.network is Network.TESTNET
    assert config.exchange.url == ""
    assert config.exchange.signer_env == "HYPERLIQUID_PRIVATE_KEY"
    assert config.quoting.levels == 3


def test_mainnet_only_when_written(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"exchange:\n  network: mainnet\n  account_address: '{ADDRESS}'\n")
    config = load_config(path)
    assert config.exchange.network is Network.MAINNET
    assert config.exchange.account_address == ADDRESS


def test_every_problem_of_the_new_sections_is_listed_at_once(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        "exchange:\n  network: mainet\n  account_address: '0x12'\n  vault_address: 5\n"
        "  url: ftp://x\n  schedule_cancel_after_s: 2\n  signer_env: ''\n"
        "quoting:\n  size: 0\n  levels: 0\n  spacing_bps: -1\n",
    )
    assert "did you mean 'mainnet'" in problems["exchange.network"]
    assert "40 hexadecimal digits" in problems["exchange.account_address"]
    assert "expected a string" in problems["exchange.vault_address"]
    assert "http://" in problems["exchange.url"]
    assert ">= 5" in problems["exchange.schedule_cancel_after_s"]
    assert "non-empty" in problems["exchange.signer_env"]
    assert problems["quoting.size"] == "must be > 0, got 0"
    assert problems["quoting.levels"] == "must be >= 1, got 0"
    assert problems["quoting.spacing_bps"] == "must be > 0, got -1"
    assert len(problems) == 9


def test_sections_built_in_code_check_themselves() -> None:
    with pytest.raises(ConfigError) as caught:
        ExchangeConfig(url="127.0.0.1:8080", account_address="0x" + "g" * 40)
    paths = {p.path for p in caught.value.problems}
    assert paths == {"exchange.url", "exchange.account_address"}
    with pytest.raises(ConfigError, match=r"quoting\.levels"):
        QuotingConfig(levels=0)
    assert QuotingConfig(size=1).size == 1.0
    assert ExchangeConfig(network="mainnet").network is Network.MAINNET  # type: ignore[arg-type]


KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def _encodings(key: str) -> list[str]:
    """The key as it could appear in text: hex with and without 0x, upper case, decimal."""
    bare = key[2:]
    return [bare, bare.upper(), str(int(bare, 16)), bare[:16], bare[-16:]]


@pytest.mark.parametrize(
    "line",
    [
        f"  signer_env: '{KEY}'",
        f"  wallet_unlock_env: '{KEY}'",
        f"  account_address: '{KEY}'",
        f"  vault_address: '{KEY}'",
        f"  account_address: {KEY}",  # unquoted: YAML reads an integer
        f"  url: '{KEY}'",
    ],
)
def test_a_key_pasted_into_the_exchange_section_is_never_echoed(
    tmp_path: Path, line: str
) -> None:
    problems = _problems(tmp_path, f"exchange:\n{line}\n")
    assert problems, line
    text = "\n".join(f"{path}: {message}" for path, message in problems.items())
    for encoding in _encodings(KEY):
        assert encoding not in text, (line, text)
    assert "not shown" in text


def test_the_signer_never_echoes_a_key_given_as_a_variable_name() -> None:
    from lifecycle.adapters.hyperliquid.keys import KeyLoadError, signer_from_env

    with pytest.raises(KeyLoadError) as caught:
        signer_from_env(KEY, environ={})
    for encoding in _encodings(KEY):
        assert encoding not in str(caught.value)
