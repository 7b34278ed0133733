"""The generated pages of the documentation site, made from the code when the site is built.

Theory of operation
-------------------
The site (``mkdocs.yml``, ``docs/``) is Markdown written by hand, plus pages and
tables that must never disagree with the code. Those are made here, each from its
source, every time the site is built (``docs/gen/hooks.py`` calls these functions),
so they cannot drift:

* :func:`lifecycle_page`: every state, every trigger and every legal move, from
  :data:`~lifecycle.core.table.TABLE`; the states' and triggers' meanings from their
  ``#:`` comments in :mod:`lifecycle.core.states`, each row's reason from its comment
  in :mod:`lifecycle.core.table`, the timed states from the engine's timers, and
  the words of :mod:`lifecycle.review.docs_text`;
* :func:`end_reasons_page`: every :class:`~lifecycle.core.states.GoneReason`, with
  the moves that end an order with it (:func:`~lifecycle.core.table.gone_reason`);
* the configuration page, the pytest plugin's options and a package's modules, made
  from their declarations by :mod:`lifecycle.review.docs_tables`.

Anything the words do not cover (a trigger, a timed state or a reason without text, a
config key without a description, a table row the source reading cannot place) raises
:class:`DocsOutOfDate`, which fails the build.
"""

from __future__ import annotations

import enum
import inspect
import re
from collections.abc import Iterable

from lifecycle.core import table as table_module
from lifecycle.core.states import (
    DISCOVERED,
    IN_FLIGHT,
    LOCAL_TRIGGERS,
    OURS,
    RESTING,
    TERMINAL,
    WORKING,
    GoneReason,
    OrderState,
    Trigger,
)
from lifecycle.core.table import TABLE, gone_reason
from lifecycle.engine.facade import Engine
from lifecycle.review.docs_text import REASON_TEXT, TIMER_TEXT, TRIGGER_TEXT

__all__ = [
    "DocsOutOfDate",
    "cell",
    "code_list",
    "end_reasons_page",
    "enum_member_docs",
    "lifecycle_page",
    "markdown_text",
    "table_notes",
]

S = OrderState

#: The derived state sets, with what membership means, in the order they are shown.
_GROUPS: tuple[tuple[frozenset[OrderState], str], ...] = (
    (OURS, "ours (placed by this bot)"),
    (DISCOVERED, "discovered (found on the exchange)"),
    (TERMINAL, "terminal"),
    (IN_FLIGHT, "in flight (an answer is outstanding)"),
    (WORKING, "working (holds its ladder level)"),
    (RESTING, "resting (proven on the book)"),
)

_ROW = re.compile(r"^\(S\.([A-Z_]+), T\.([A-Z_]+)\): S\.([A-Z_]+),$")
_MEMBER = re.compile(r"^([A-Z_][A-Z0-9_]*)\s*=")
_ROLE = re.compile(r":[a-z]+:`(~?)([^`<]+?)(?:\s*<[^>]*>)?`")


class DocsOutOfDate(Exception):
    """The code has something the documentation's words do not cover."""


# --- reading the code -------------------------------------------------------------------


def markdown_text(text: str) -> str:
    """Turn a docstring's reST inline markup into Markdown.

    ``:class:`~a.b.C``` becomes ```C```, ``:meth:`X.y <a.X.y>``` becomes ```X.y```,
    and double backquotes become single ones.
    """

    def role(match: re.Match[str]) -> str:
        name = match.group(2).strip()
        if match.group(1):
            name = name.rpartition(".")[2]
        return f"`{name}`"

    return _ROLE.sub(role, text).replace("``", "`")


def enum_member_docs(kind: type[enum.Enum]) -> dict[str, str]:
    """The ``#:`` comments written just above an enum's members, by member name."""
    docs: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(kind).splitlines():
        text = line.strip()
        if text.startswith("#:"):
            pending.append(text[2:].strip())
            continue
        member = _MEMBER.match(text)
        if member and pending and member.group(1) in kind.__members__:
            docs[member.group(1)] = " ".join(pending)
        pending = []
    return docs


def table_notes() -> dict[tuple[OrderState, Trigger], str]:
    """Each table row's comment (the lines just above it), by ``(state, trigger)``.

    Raises:
        DocsOutOfDate: The source's rows are not exactly the table's.
    """
    notes: dict[tuple[OrderState, Trigger], str] = {}
    seen: set[tuple[OrderState, Trigger]] = set()
    pending: list[str] = []
    for line in inspect.getsource(table_module).splitlines():
        text = line.strip()
        if text.startswith("# ---"):
            pending = []
        elif text.startswith("#"):
            pending.append(text.lstrip("#").strip())
        else:
            row = _ROW.match(text)
            if row:
                key = (OrderState[row.group(1)], Trigger[row.group(2)])
                seen.add(key)
                if pending:
                    notes[key] = " ".join(pending)
            pending = []
    if seen != set(TABLE):
        raise DocsOutOfDate(
            "lifecycle/core/table.py: rows read from the source differ from TABLE: "
            f"{sorted(f'{s.name}/{t.value}' for s, t in seen ^ set(TABLE))}"
        )
    return notes


# --- rendering helpers ------------------------------------------------------------------


def cell(text: str) -> str:
    """``text`` as one Markdown table cell (markup converted, pipes escaped)."""
    return markdown_text(text).replace("|", "\\|").replace("\n", " ")


def code_list(items: Iterable[str]) -> str:
    """``items`` as a comma-separated list of code spans, or "none"."""
    return ", ".join(f"`{item}`" for item in items) or "none"


def _state_link(state: OrderState) -> str:
    return f"[`{state.name}`](#state-{state.value})"


def _trigger_link(trigger: Trigger) -> str:
    return f"[`{trigger.value}`](#trigger-{trigger.value})"


def _timed_states() -> frozenset[OrderState]:
    return frozenset(Engine().timers.slots)


def _check_words() -> None:
    problems = []
    if missing := [t.value for t in Trigger if t not in TRIGGER_TEXT]:
        problems.append(f"triggers without words in docs_text.TRIGGER_TEXT: {missing}")
    if missing := [r.value for r in GoneReason if r not in REASON_TEXT]:
        problems.append(f"end reasons without words in docs_text.REASON_TEXT: {missing}")
    timed = _timed_states()
    if set(TIMER_TEXT) != timed:
        problems.append(
            "docs_text.TIMER_TEXT must describe exactly the engine's timed states "
            f"{sorted(s.name for s in timed)}, has {sorted(s.name for s in TIMER_TEXT)}"
        )
    if unused := [t.value for t in Trigger if t not in {t for _, t in TABLE}]:
        problems.append(f"triggers in no table row: {unused}")
    if problems:
        raise DocsOutOfDate("; ".join(problems))


# --- the pages --------------------------------------------------------------------------


def lifecycle_page() -> str:
    """The lifecycle page: every state, every trigger and every legal move of the table.

    Raises:
        DocsOutOfDate: A trigger or timed state has no words, or the table's source
            cannot be read row by row.
    """
    _check_words()
    state_docs = enum_member_docs(OrderState)
    trigger_docs = enum_member_docs(Trigger)
    notes = table_notes()
    timed = _timed_states()
    rows = list(TABLE.items())
    out = [
        "# The lifecycle",
        "",
        f"Every legal move of an order: {len(OrderState)} states, {len(Trigger)} triggers "
        f"and {len(rows)} legal moves, generated from `lifecycle.core.table.TABLE` each time "
        "this site is built. A pair of state and trigger that is not listed here is illegal: "
        "a local request (`cancel`, `modify`...) raises `IllegalTransition`, naming the "
        "order, the state and the trigger, and changes nothing; an exchange message that "
        "would need it is recorded as an anomaly and answered with a status query.",
        "",
        "![The order lifecycle](img/lifecycle.svg)",
        "",
        "The picture is drawn from the same table (`lifecycle diagram`). Blue edges are "
        "local requests, dashed edges timers; each state's self-loop lists the late or "
        "repeated messages it absorbs.",
        "",
        "## States",
        "",
        "| state | meaning | timer |",
        "|---|---|---|",
    ]
    for state in OrderState:
        timer = TIMER_TEXT[state].partition(":")[0] if state in timed else ""
        out.append(f"| {_state_link(state)} | {cell(state_docs.get(state.name, ''))} | {timer} |")
    for state in OrderState:
        out += ["", f"### `{state.name}` {{#state-{state.value}}}", ""]
        if state.name in state_docs:
            out += [markdown_text(state_docs[state.name]), ""]
        groups = [label for members, label in _GROUPS if state in members]
        out.append(f"**Groups:** {', '.join(groups) or 'none'}")
        if state in timed:
            out += ["", f"**Timer:** {markdown_text(TIMER_TEXT[state])}"]
        entering = [(s, t) for (s, t), d in rows if d is state and s is not state]
        out += ["", "**Entered by:** " + (", ".join(
            f"{_trigger_link(t)} from `{s.name}`" for s, t in entering
        ) or "nothing in the table: orders are created in it")]
        out += ["", "| trigger | to |", "|---|---|"]
        for (source, trigger), dest in rows:
            if source is state:
                to = "itself" if dest is state else _state_link(dest)
                out.append(f"| {_trigger_link(trigger)} | {to} |")
    out += ["", "## Triggers", ""]
    for trigger in Trigger:
        words = TRIGGER_TEXT[trigger]
        kind = "Local request or timer" if trigger in LOCAL_TRIGGERS else "Exchange fact"
        moves = [((s, t), d) for (s, t), d in rows if t is trigger]
        out += ["", f"### `{trigger.value}` {{#trigger-{trigger.value}}}", "", f"*{kind}.*"]
        if trigger.name in trigger_docs:
            out += ["", markdown_text(trigger_docs[trigger.name])]
        out += ["", words.meaning, "", f"**Fired by:** {words.fired_by}", ""]
        out.append("**Fires from:** " + code_list(s.name for (s, _), _ in moves))
        out += ["", "| from | to | ends with |", "|---|---|---|"]
        for (source, _), dest in moves:
            reason = ""
            if dest is S.GONE and source is not S.GONE:
                why = gone_reason(source, trigger).value
                reason = f"[`{why}`](end-reasons.md#reason-{why})"
            out.append(f"| `{source.name}` | `{dest.name}` | {reason} |")
    out += [
        "",
        "## Every legal move {#moves}",
        "",
        "One row per table row, in the table's order, with the comment that says why the "
        "row exists where it has one.",
        "",
        "| from | trigger | to | why |",
        "|---|---|---|---|",
    ]
    for (source, trigger), dest in rows:
        note = cell(notes.get((source, trigger), ""))
        out.append(f"| `{source.name}` | `{trigger.value}` | `{dest.name}` | {note} |")
    return "\n".join(out) + "\n"


def end_reasons_page() -> str:
    """The end reasons page: what each reason means and which moves end an order with it.

    Raises:
        DocsOutOfDate: A reason has no words.
    """
    _check_words()
    docs = enum_member_docs(GoneReason)
    reached: dict[GoneReason, dict[Trigger, list[OrderState]]] = {r: {} for r in GoneReason}
    for (source, trigger), dest in TABLE.items():
        if dest is S.GONE and source is not S.GONE:
            reached[gone_reason(source, trigger)].setdefault(trigger, []).append(source)
    out = [
        "# How orders end",
        "",
        "An order ends when it reaches `GONE`, and only an exchange-proven fact takes it "
        "there (the one exception is abandoning a placement that was never sent). "
        "`order.reason` then says why, as a `GoneReason`, and `order.status` keeps the "
        "exchange's own word (`marginCanceled`, `tickRejected`...). The reason is set "
        "once: later messages absorbed by the tombstone do not change it. The moves "
        "below are generated from the table and `lifecycle.core.table.gone_reason` each "
        "time this site is built.",
        "",
        "| reason | in short |",
        "|---|---|",
    ]
    for reason in GoneReason:
        out.append(f"| [`{reason.value}`](#reason-{reason.value}) | "
                   f"{cell(docs.get(reason.name, ''))} |")
    for reason in GoneReason:
        out += ["", f"## `{reason.value}` {{#reason-{reason.value}}}", ""]
        if reason.name in docs:
            out += [f"*{markdown_text(docs[reason.name])}*", ""]
        out += [REASON_TEXT[reason], "", "**Reached by:**", "",
                "| trigger | from |", "|---|---|"]
        for trigger, sources in reached[reason].items():
            out.append(f"| [`{trigger.value}`](lifecycle.md#trigger-{trigger.value}) | "
                       f"{code_list(s.name for s in sources)} |")
    return "\n".join(out) + "\n"
