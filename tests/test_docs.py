"""The documentation site builds strictly, and its generated pages cover the code.

The site is built once per module, with ``mkdocs build --strict`` into a temporary
directory (any warning fails it), and the built HTML is checked against the code: every
state and trigger of the table with the states each trigger fires from, every end reason
with the moves that reach it, every config key with its default, every option of the
pytest plugin, the peers mapping for every state. The Python examples of the pages run as
written. The generator's own guards (words missing for a trigger, a config key without a
description, table rows it cannot read) are checked without a build.
"""

from __future__ import annotations

import dataclasses
import enum
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import lifecycle
from lifecycle.config import LifecycleConfig
from lifecycle.core.states import GoneReason, OrderState, Trigger
from lifecycle.core.table import TABLE, gone_reason
from lifecycle.review import docs_gen, docs_tables, docs_text

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
         "--config-file", str(ROOT / "mkdocs.yml"), "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-6000:]}"
    return out


def page(site: Path, name: str) -> str:
    path = site / name
    assert path.is_file(), f"the site has no {name}"
    return path.read_text(encoding="utf-8")


def section(text: str, anchor: str) -> str:
    """The HTML from the heading with id ``anchor`` to the next h2 or h3."""
    start = text.find(f'id="{anchor}"')
    assert start >= 0, f"no section #{anchor}"
    ends = [i for i in (text.find("<h2", start), text.find("<h3", start)) if i >= 0]
    return text[start : min(ends, default=len(text))]


def codes(fragment: str) -> list[str]:
    return re.findall(r"<code>([^<]*)</code>", fragment)


def plain(fragment: str) -> str:
    """The text of an HTML fragment: inline tags removed, block tags made spaces."""
    inline = re.sub(r"</?(?:code|a|em|strong)\b[^>]*>", "", fragment)
    return html.unescape(re.sub(r"<[^>]+>", " ", inline))


def test_every_page_of_the_nav_is_built(site: Path) -> None:
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]

    def files(items: list[object]) -> list[str]:
        found: list[str] = []
        for item in items:
            assert isinstance(item, dict)
            for value in item.values():
                found += files(value) if isinstance(value, list) else [str(value)]
        return found

    pages = files(nav)
    assert {"lifecycle.md", "end-reasons.md", "configuration.md", "peers.md"} <= set(pages)
    for name in pages:
        page(site, name.removesuffix(".md") + ".html")
    assert (site / "img" / "lifecycle.svg").is_file()


def test_lifecycle_page_lists_every_state_trigger_and_move(site: Path) -> None:
    text = page(site, "lifecycle.html")
    for state in OrderState:
        assert state.name in codes(section(text, f"state-{state.value}"))
    for trigger in Trigger:
        part = section(text, f"trigger-{trigger.value}")
        fires = re.search(r"Fires from:</strong>(.*?)</p>", part, re.DOTALL)
        assert fires, f"{trigger.value}: no 'Fires from' line"
        expected = [s.name for (s, t) in TABLE if t is trigger]
        assert codes(fires.group(1)) == expected, trigger.value
        words = " ".join(plain(part).split())
        meaning = docs_text.TRIGGER_TEXT[trigger].meaning.replace("`", "")
        assert meaning in words, trigger.value
        assert "Fired by:" in words, trigger.value
    moves = section(text, "moves")
    for (source, trigger), dest in TABLE.items():
        row = rf"<td><code>{source.name}</code></td>\s*<td><code>{trigger.value}</code></td>" \
              rf"\s*<td><code>{dest.name}</code></td>"
        assert re.search(row, moves), f"move {source.name} --{trigger.value}--> {dest.name}"


def test_every_end_reason_is_explained_with_the_moves_that_reach_it(site: Path) -> None:
    text = page(site, "end-reasons.html")
    reached: dict[GoneReason, dict[str, list[str]]] = {r: {} for r in GoneReason}
    for (source, trigger), dest in TABLE.items():
        if dest is OrderState.GONE and source is not OrderState.GONE:
            reached[gone_reason(source, trigger)].setdefault(trigger.value, []).append(
                source.name
            )
    for reason in GoneReason:
        part = section(text, f"reason-{reason.value}")
        assert len(plain(part).split()) > 40, f"{reason.value} is not explained"
        rows = re.findall(
            r'<td><a href="lifecycle.html#trigger-(\w+)"><code>\w+</code></a></td>\s*'
            r"<td>(.*?)</td>",
            part,
        )
        assert {t: codes(cell) for t, cell in rows} == reached[reason], reason.value
    unknown = plain(section(text, "reason-unknown"))
    assert "normal" in unknown
    assert "Order was never placed, already canceled, or filled" in unknown


def model_value(value: object) -> object:
    """A config default as YAML gives it back."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [model_value(v) for v in value]
    return value


def test_configuration_page_lists_every_key_with_its_default(site: Path) -> None:
    text = page(site, "configuration.html")
    config = LifecycleConfig()
    keys = 0
    for section_field in dataclasses.fields(config):
        values = getattr(config, section_field.name)
        for key in dataclasses.fields(values):
            path = f"{section_field.name}.{key.name}"
            cell = re.search(
                rf"<td><code>{re.escape(path)}</code></td>\s*<td><code>(.*?)</code></td>"
                r"\s*<td>.*?</td>\s*<td>(.*?)</td>",
                text,
                re.DOTALL,
            )
            assert cell, f"{path} is not on the configuration page"
            shown = yaml.safe_load(html.unescape(cell.group(1)))
            assert shown == model_value(getattr(values, key.name)), path
            assert plain(cell.group(2)).strip(), f"{path} has no meaning"
            keys += 1
    assert keys >= 40
    assert "The defaults file" in text


def test_coverage_page_lists_every_option_of_the_plugin(
    site: Path, pytestconfig: pytest.Config
) -> None:
    text = page(site, "coverage.html")
    table = plain(section(text, "options"))
    options = [name for name in vars(pytestconfig.option) if name.startswith("lifecycle_")]
    assert "lifecycle_cov_fail_under" in options
    for name in options:
        assert "--" + name.replace("_", "-") in table, name
    assert "mutation testing" in plain(text).lower()


def test_peers_page_maps_every_state(site: Path) -> None:
    text = plain(page(site, "peers.html"))
    for peer in ("NautilusTrader", "Hummingbot", "ccxt"):
        assert peer in text
    for state in OrderState:
        assert state.name in text, state.name
    for reason in GoneReason:
        assert f"GONE({reason.value})" in text, reason.value


def test_hyperliquid_page_lists_the_adapters_modules(site: Path) -> None:
    text = plain(page(site, "hyperliquid.html"))
    root = ROOT / "adapters" / "hyperliquid"
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(("lifecycle.adapters.hyperliquid", *parts)).removesuffix(".__init__")
        assert name in text, name


def test_python_examples_of_the_pages_run(capsys: pytest.CaptureFixture[str]) -> None:
    ran = 0
    for path in sorted(DOCS.glob("*.md")):
        for block in re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"),
                                re.DOTALL):
            exec(compile(block, str(path), "exec"), {"__name__": "docs_example"})
            ran += 1
    assert ran >= 8
    assert "PlaceOrder(" in capsys.readouterr().out


def test_help_points_to_the_documentation() -> None:
    doc = lifecycle.__doc__ or ""
    assert "make docs" in doc and "site/index.html" in doc and "docs/" in doc


# --- the generator's guards, without a build -------------------------------------------


def test_a_trigger_without_words_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    words = dict(docs_text.TRIGGER_TEXT)
    del words[Trigger.CANCEL_GONE]
    monkeypatch.setattr(docs_gen, "TRIGGER_TEXT", words)
    with pytest.raises(docs_gen.DocsOutOfDate, match="cancel_gone"):
        docs_gen.lifecycle_page()


def test_timer_words_must_match_the_engines_timed_states(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = dict(docs_text.TIMER_TEXT)
    del words[OrderState.GONE]
    monkeypatch.setattr(docs_gen, "TIMER_TEXT", words)
    with pytest.raises(docs_gen.DocsOutOfDate, match="timed states"):
        docs_gen.end_reasons_page()


def test_a_config_key_without_a_description_fails_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = docs_tables.attribute_docs

    def forgetful(kind: type) -> dict[str, str]:
        words = real(kind)
        words.pop("protection_s", None)
        return words

    monkeypatch.setattr(docs_tables, "attribute_docs", forgetful)
    with pytest.raises(docs_gen.DocsOutOfDate, match=r"orders\.protection_s"):
        docs_tables.configuration_page()


def test_table_rows_the_generator_cannot_read_fail_the_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    extra = dict(TABLE)
    extra[(OrderState.LIVE, Trigger.REJECT)] = OrderState.GONE
    monkeypatch.setattr(docs_gen, "TABLE", extra)
    with pytest.raises(docs_gen.DocsOutOfDate, match="LIVE/reject"):
        docs_gen.table_notes()


def test_docstring_markup_becomes_markdown() -> None:
    text = ":class:`~lifecycle.core.order.Order`, :meth:`Runtime.session <a.b.Runtime.session>`"
    assert docs_gen.markdown_text(text + " and ``x``") == "`Order`, `Runtime.session` and `x`"
    assert docs_tables.yaml_value(1e-05) == "0.00001"
    assert yaml.safe_load(docs_tables.yaml_value("true")) == "true"
