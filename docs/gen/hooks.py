"""MkDocs hooks: the site's generated pages, made from the code at every build.

Theory of operation
-------------------
``mkdocs.yml`` loads this file (``hooks:``). When MkDocs has collected the Markdown
files of ``docs/``, :func:`on_files` adds the pages made by
:mod:`lifecycle.review.docs_gen` and :mod:`lifecycle.review.docs_tables` (the
lifecycle, the end reasons, the configuration) and the committed diagrams, so none
of them is a file that could go stale.
:func:`on_page_markdown` fills the ``<!-- generated: NAME -->`` markers of the
hand-written pages with generated tables, and :func:`on_page_content` turns the reST
roles left in rendered docstrings (``:class:`` and friends) into plain code. A page
that cannot be generated raises, which fails the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from lifecycle.review import docs_gen, docs_tables

_MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")
#: What mkdocstrings leaves of a reST role: the role's name, then the code it named.
_ROLE_HTML = re.compile(
    r":(?:class|mod|func|meth|attr|data|exc|obj):<code>(~?)([^<]*?)(?:\s*&lt;[^<]*&gt;)?</code>"
)


def _root(config: MkDocsConfig) -> Path:
    return Path(str(config.config_file_path)).resolve().parent


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the generated pages and the committed diagrams to the site."""
    root = _root(config)
    defaults = (root / "config.yaml").read_text(encoding="utf-8")
    pages = {
        "lifecycle.md": docs_gen.lifecycle_page(),
        "end-reasons.md": docs_gen.end_reasons_page(),
        "configuration.md": docs_tables.configuration_page(defaults),
    }
    for name, text in pages.items():
        files.append(File.generated(config, name, content=text))
    for name in ("lifecycle.svg", "trace-example.svg"):
        path = root / "diagrams" / name
        files.append(File.generated(config, f"img/{name}", abs_src_path=str(path)))
    return files


def _tables(root: Path) -> dict[str, Callable[[], str]]:
    return {
        "pytest-options": docs_tables.plugin_options_table,
        "hyperliquid-modules": lambda: docs_tables.package_modules_table(
            root / "adapters" / "hyperliquid", "lifecycle.adapters.hyperliquid"
        ),
    }


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace each ``<!-- generated: NAME -->`` marker with its generated table."""
    tables = _tables(_root(config))

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in tables:
            raise ValueError(f"{page.file.src_uri}: no generated table named {name!r}")
        return tables[name]()

    return _MARKER.sub(fill, markdown)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Show ``:class:`~a.B``` left in rendered docstrings as plain code (``B``)."""

    def code(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"<code>{name.rpartition('.')[2] if match.group(1) else name}</code>"

    return _ROLE_HTML.sub(code, html)
