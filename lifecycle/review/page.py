"""The review page: one self-contained HTML file for the people who read incidents.

Theory of operation
-------------------
:func:`write_review_page` writes ``DIR/index.html`` for a loaded journal. The
page needs no server and fetches nothing: it opens from disk (``file://``),
offline, and holds everything it shows:

* its style and script, from the package's ``page_assets`` (``review.css``,
  ``review.js``: vanilla JavaScript, no library);
* the lifecycle diagram with the run's coverage as heat, as inline SVG
  (:mod:`~lifecycle.review.page_diagram`; rendered with Graphviz ``dot``, and
  replaced by a note saying why when ``dot`` is missing);
* the data (:func:`~lifecycle.review.page_data.page_data`) as JSON in a
  ``<script type="application/json">`` element, which the script reads and
  turns into the summary, the invariant counters, the orders worth a trace,
  the anomalies by kind, and the order table with each order's trace.

Journal text (an exchange's reject message, say) can hold anything, so the
JSON is written with ``<``, ``>`` and ``&`` (and the two line separators
JavaScript once refused in strings) as ``\\u`` escapes: nothing in it can end
the script element or open a comment, and ``JSON.parse`` reads it back
unchanged. The script only ever sets text, never markup. A Content Security
Policy forbids every fetch and lets run only the page's own script and style,
by their SHA-256 digests.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from lifecycle.journal import LoadedJournal
from lifecycle.review.orders import order_paths
from lifecycle.review.page_data import entered_states, page_data
from lifecycle.review.page_diagram import heat_graph, inline_svg
from lifecycle.review.report import summarize

__all__ = ["PAGE_NAME", "json_for_script", "render_page", "write_review_page"]

#: The page's file name in its directory.
PAGE_NAME = "index.html"

_PLACEHOLDER = re.compile(r"\{\{([A-Z]+)\}\}")
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                   "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_UNSAFE = re.compile("[<>&\u2028\u2029]")


def _asset(name: str) -> str:
    return (resources.files("lifecycle.review") / "page_assets" / name).read_text(encoding="utf-8")


def json_for_script(value: Any) -> str:
    """``value`` as JSON safe inside an HTML ``<script>`` element (module docstring).

    Raises:
        ValueError: ``value`` holds a NaN or an infinity (not JSON).
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return _SCRIPT_UNSAFE.sub(lambda m: _SCRIPT_ESCAPES[m.group()], text)


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def render_page(data: dict[str, Any], diagram: str | None, note: str) -> str:
    """The page's HTML, from :func:`~lifecycle.review.page_data.page_data`'s ``data``.

    Args:
        data: The page's data.
        diagram: Inline SVG markup of the diagram, or None to show ``note`` instead.
        note: Why there is no diagram.
    """
    style, script = _asset("review.css"), _asset("review.js")
    csp = (f"default-src 'none'; script-src {_digest(script)}; style-src {_digest(style)}; "
           "img-src data:; base-uri 'none'; form-action 'none'")
    journal = html.escape(data["summary"]["journal"])
    if diagram is not None:
        figure = f'<div class="diagram">{diagram}</div>'
    else:
        figure = f'<p class="note" id="diagram-note">{html.escape(note)}</p>'
    values = {
        "CSP": csp, "TITLE": f"Run review: {journal}", "JOURNAL": journal, "STYLE": style,
        "DIAGRAM": figure, "DATA": json_for_script(data), "SCRIPT": script,
    }
    # One pass over the template: text put in is never searched for placeholders.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("review.html"))


def write_review_page(loaded: LoadedJournal, out_dir: str | os.PathLike[str]) -> Path:
    """Write the review page of ``loaded`` to ``out_dir/index.html``; return its path.

    ``out_dir`` is created if needed; the page replaces any earlier one whole
    (written beside it, then renamed). Without Graphviz ``dot`` the page is
    still written, with a note where the diagram would be.
    """
    paths = order_paths(loaded.records)
    summary = summarize(loaded, paths)
    data = page_data(loaded, paths, summary)
    c = summary.coverage
    title = (f"Coverage heat: {c.covered}/{c.total} legal edges fired "
             f"({c.percent:.1f} %)")
    diagram, note = inline_svg(heat_graph(c.counts(), entered_states(paths), title=title))
    page = render_page(data, diagram, note)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / PAGE_NAME
    partial = out / f".{PAGE_NAME}.partial"
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, target)
    return target
