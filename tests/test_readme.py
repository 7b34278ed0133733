"""The README's embedding example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_embedding_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "the README has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "send PlaceOrder(" in out
    assert "CancelOrder(" in out


def test_readme_documents_every_config_key() -> None:
    import dataclasses

    from lifecycle.config import LifecycleConfig

    text = README.read_text(encoding="utf-8")
    config = LifecycleConfig()
    for section in dataclasses.fields(config):
        for key in dataclasses.fields(getattr(config, section.name)):
            assert f"`{section.name}.{key.name}`" in text, f"{section.name}.{key.name}"
