"""Transition mutation testing: would any test notice if an edge of the table broke?

Transition coverage says that every legal edge was reached; it does not say that
any test checks what the edge does. Mutation testing of the table does: each
legal edge ``(source, trigger) -> dest`` is broken in two ways, the tests that
reached it run again against the broken table, and an edge whose breakage no
test notices is *reached but never checked*.

Theory of operation
-------------------
**The mutations** (:func:`table_mutations`). For every row of
:data:`~lifecycle.core.table.TABLE`, in table order:

* *removed*: the pair ``(source, trigger)`` is no longer legal. The machine
  refuses the trigger, so an exchange fact becomes an anomaly answered by a
  status query and a local request raises
  :class:`~lifecycle.core.errors.IllegalTransition`.
* *retargeted*: the same pair leads to another legal destination (a state some
  row leads into; ``PENDING`` is none). The choice is deterministic, the first
  usable state of: the other destinations the table reaches from ``source``
  (table order), then the destinations reached from ``dest``, then any
  destination (table order). A destination is unusable when entering it would
  make the table unbuildable rather than different: ``GONE`` entered by a
  trigger with no gone reason (``accept``, ``fill_partial``, ``superseded``...;
  the machine could not say why the order ended). A row with no usable
  destination is skipped and the report says so.

**Applying one** (:mod:`lifecycle.review.mutation_apply`) changes every place
the running code reads the table: the rows themselves (``TABLE`` is a read-only
view of them, so every reader sees the change, and every machine built from
then on, the ``transitions`` machine of record included); the module-level
values computed from the table at import (found by reading the source of every
loaded module that holds the table, re-evaluated, and rebound wherever they
were imported); and the machines that already exist.

**Running the tests** (:mod:`lifecycle.review.mutation_run`). During the normal
session a recorder notes which test fired which edge (fixtures shared by
several tests included). Afterwards, for each mutation, a forked child process
applies it in memory and runs again only the tests that reached the edge,
stopping at the first failure: *caught by* that test, or *survived*. A test
that hangs past its time limit catches the mutation as well. Tests that catch
often and run fast go first. Every test credited with a catch is then run once
more without any mutation; one that fails then too is unreliable, and the
mutations it caught are tried again without it.

**The score** (:mod:`lifecycle.review.mutation_report`) is
``caught / (caught + survived)`` over the mutations run; mutations of edges no
test reached are listed apart (transition coverage already counts them).
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lifecycle.core.states import OrderState, Trigger
from lifecycle.core.table import TABLE, gone_reason

__all__ = [
    "Edge",
    "Mutation",
    "MutationKind",
    "SkippedMutation",
    "edge_label",
    "retarget_destination",
    "table_mutations",
]

Edge = tuple[OrderState, Trigger]


class MutationKind(enum.Enum):
    """How a row of the table is broken."""

    #: The pair is no longer legal.
    REMOVED = "removed"
    #: The pair leads to another legal destination.
    RETARGETED = "retargeted"


def edge_label(source: OrderState, trigger: Trigger, dest: OrderState) -> str:
    """``source --trigger--> dest``, as the coverage table writes edges."""
    return f"{source.value} --{trigger.value}--> {dest.value}"


@dataclass(frozen=True, slots=True)
class Mutation:
    """One broken row: ``(source, trigger)`` removed, or retargeted to ``to``.

    Attributes:
        source: The row's source state.
        trigger: The row's trigger.
        dest: The row's real destination.
        kind: Removed or retargeted.
        to: The new destination of a retargeted row; None for a removed one.
    """

    source: OrderState
    trigger: Trigger
    dest: OrderState
    kind: MutationKind
    to: OrderState | None = None

    def __post_init__(self) -> None:
        if (self.kind is MutationKind.RETARGETED) != (self.to is not None):
            raise ValueError(f"to: a retargeted mutation needs one, a removed one none ({self})")
        if self.to is self.dest:
            raise ValueError(
                f"to: retargeting to the row's own destination changes nothing: {self.to}"
            )

    @property
    def edge(self) -> Edge:
        """The row's key ``(source, trigger)``."""
        return (self.source, self.trigger)

    @property
    def change(self) -> str:
        """``removed`` or ``retargeted to <state>``."""
        if self.to is None:
            return self.kind.value
        return f"{self.kind.value} to {self.to.value}"

    def __str__(self) -> str:
        return f"{edge_label(self.source, self.trigger, self.dest)} {self.change}"


@dataclass(frozen=True, slots=True)
class SkippedMutation:
    """A mutation not made, and why."""

    source: OrderState
    trigger: Trigger
    dest: OrderState
    kind: MutationKind
    reason: str

    def __str__(self) -> str:
        label = edge_label(self.source, self.trigger, self.dest)
        return f"{label} {self.kind.value}: {self.reason}"


def _enters_cleanly(source: OrderState, trigger: Trigger, to: OrderState) -> bool:
    """Whether a row ``(source, trigger) -> to`` could be built into a machine."""
    if to is not OrderState.GONE or source is OrderState.GONE:
        return True
    try:
        gone_reason(source, trigger)
    except KeyError:  # no reason for ending an order by this trigger
        return False
    return True


def _candidates(
    table: Mapping[Edge, OrderState], source: OrderState, dest: OrderState
) -> Iterator[OrderState]:
    yield from (d for (s, _), d in table.items() if s is source)
    yield from (d for (s, _), d in table.items() if s is dest)
    yield from table.values()


def retarget_destination(
    source: OrderState,
    trigger: Trigger,
    table: Mapping[Edge, OrderState] = TABLE,
) -> OrderState | None:
    """Return the destination a retargeted ``(source, trigger)`` row leads to.

    See the module docstring for the rule. Returns None when no legal
    destination other than the row's own can be entered by ``trigger``.

    Raises:
        KeyError: ``(source, trigger)`` is not a row of ``table``.
    """
    dest = table[(source, trigger)]
    legal = frozenset(table.values())
    for state in _candidates(table, source, dest):
        if state is not dest and state in legal and _enters_cleanly(source, trigger, state):
            return state
    return None


def table_mutations(
    table: Mapping[Edge, OrderState] = TABLE,
) -> tuple[tuple[Mutation, ...], tuple[SkippedMutation, ...]]:
    """Return every mutation of ``table`` (table order, removal first) and those skipped."""
    made: list[Mutation] = []
    skipped: list[SkippedMutation] = []
    for (source, trigger), dest in table.items():
        made.append(Mutation(source, trigger, dest, MutationKind.REMOVED))
        to = retarget_destination(source, trigger, table)
        if to is None:
            skipped.append(
                SkippedMutation(
                    source, trigger, dest, MutationKind.RETARGETED,
                    f"no other legal destination can be entered by {trigger.value}",
                )
            )
        else:
            made.append(Mutation(source, trigger, dest, MutationKind.RETARGETED, to))
    return tuple(made), tuple(skipped)
