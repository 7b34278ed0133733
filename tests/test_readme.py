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


def _shell_examples() -> list[tuple[str, list[str]]]:
    """Each ``$ lifecycle ...`` example of the README with the lines it shows."""
    text = README.read_text(encoding="utf-8")
    examples = []
    for block in re.findall(r"```\n(\$ lifecycle .*?)```", text, re.DOTALL):
        command, *shown = block.strip().splitlines()
        examples.append((command[2:], [line for line in shown if line != "..."]))
    return examples


@pytest.mark.parametrize(("command", "shown"), _shell_examples())
def test_readme_command_prints_what_the_readme_shows(
    command: str, shown: list[str], tmp_path: Path
) -> None:
    import shlex
    import subprocess
    import sys

    # Run in this test's own directory (what the commands write stays there), with the
    # README's paths and files there too.
    args = [a.replace("/tmp/run", str(tmp_path / "run")) for a in shlex.split(command)]
    (tmp_path / "config.yaml").write_bytes((README.parent / "config.yaml").read_bytes())
    assert args[0] == "lifecycle"
    done = subprocess.run(
        [sys.executable, "-m", "lifecycle", *args[1:]],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
    )
    printed = done.stdout.splitlines()
    for line in shown:
        assert line in printed, f"the README shows {line!r}; the command printed:\n{done.stdout}"


def test_readme_has_shell_examples_to_check() -> None:
    assert _shell_examples()
