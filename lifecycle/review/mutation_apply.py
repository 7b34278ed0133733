"""Applying one table mutation to the running process, everywhere the table is read.

Theory of operation
-------------------
A mutation that some reader of the table does not see is no mutation at all,
so :func:`applied` changes three things:

1. **The rows.** :data:`~lifecycle.core.table.TABLE` is a read-only view of the
   table module's row dict, which is edited in place (a retargeted row keeps its
   position). Every reader of ``TABLE`` (``legal_triggers``, the referee of the
   simulations, the tests themselves) and every machine built from then on
   (its move lookup and its ``transitions`` machine of record) see the change.
2. **Values derived at import.** :func:`find_consumers` looks, in every loaded
   module, for globals bound to the table (``TABLE``, the row dict,
   ``legal_triggers``, ``build_record_machine`` or the table module). In those
   modules it reads the source and takes each top-level assignment to a plain
   name whose expression mentions one of them (``MODIFIABLE = frozenset(s for
   (s, t) in TABLE if ...)``); its value is watched in turn, so values derived
   from derived values are found too, across modules. Applying a mutation
   re-evaluates each expression in its module's globals, in the order found, and
   rebinds the new value in its module and wherever the old object was imported
   (``from ... import CANCELLABLE``). Other import-time uses of the table (a
   class attribute, a loop at module level) cannot be re-derived; they are
   reported, so nothing escapes silently. Decorator arguments (``parametrize``)
   are ignored: tests are collected already.
3. **Machines that already exist.** Each machine keeps a per-machine move lookup
   built when it was created; :func:`find_consumers` finds the live ones (after a
   garbage collection) and the mutation rewrites their entry for the row: deleted,
   or replaced by the move into the new destination, whose timer (if that state
   has one) is taken from another move of the same machine into it. Their
   machine of record is rebuilt when they verify.

:func:`find_consumers` runs once, before any mutation; :func:`applied` is a
context manager that undoes everything on exit, so it also serves in-process
tests. The pytest plugin applies each mutation in a forked child and never
undoes it there.
"""

from __future__ import annotations

import ast
import gc
import sys
import tokenize
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import CodeType, ModuleType
from typing import Any

from lifecycle.core import table as table_module
from lifecycle.core.machine import OrderMachine, build_record_machine
from lifecycle.core.states import OrderState
from lifecycle.core.table import TABLE, gone_reason, legal_triggers
from lifecycle.review.mutation import Mutation

__all__ = ["Derived", "TableConsumers", "applied", "find_consumers"]

# The row dict behind TABLE: editing it in place is what makes the mutation real
# for every reader of the read-only view.
_ROWS = table_module._ROWS

# Objects whose appearance in a module-level expression means "derived from the table".
_ROOTS: tuple[object, ...] = (TABLE, _ROWS, legal_triggers, build_record_machine, table_module)

# Values too common to be told apart by identity: never rebound as aliases.
_SHARED = (type(None), bool, int, float, str, bytes)


@dataclass(frozen=True, slots=True)
class Derived:
    """A module-level value computed from the table at import.

    Attributes:
        module: The module's name.
        name: The global it is bound to.
        code: Its expression, compiled for ``eval`` in the module's globals.
        where: ``file:line`` of the assignment.
        aliases: Other ``(module, name)`` globals bound to the same object.
    """

    module: str
    name: str
    code: CodeType
    where: str
    aliases: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class TableConsumers:
    """Everything besides the rows that a mutation must change.

    Attributes:
        derived: Values to re-evaluate, dependencies first.
        machines: The machines alive when the consumers were found.
        unhandled: ``file:line`` of import-time uses of the table that cannot be
            re-derived.
    """

    derived: tuple[Derived, ...]
    machines: tuple[OrderMachine, ...]
    unhandled: tuple[str, ...]


def _source_tree(module: ModuleType) -> tuple[str, ast.Module] | None:
    path = getattr(module, "__file__", None)
    if not path or not str(path).endswith(".py"):
        return None
    try:
        with tokenize.open(path) as handle:
            return str(path), ast.parse(handle.read(), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _resolve(node: ast.expr, namespace: dict[str, Any]) -> object | None:
    """The object a ``name`` or ``name.attr.attr`` expression denotes, through modules only."""
    if isinstance(node, ast.Name):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = _resolve(node.value, namespace)
        if isinstance(owner, ModuleType):
            return vars(owner).get(node.attr)
    return None


def _mentions(node: ast.AST, namespace: dict[str, Any], watched: dict[int, object]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name | ast.Attribute):
            obj = _resolve(sub, namespace)
            if obj is not None and id(obj) in watched:
                return True
    return False


def _target(stmt: ast.stmt) -> tuple[str, ast.expr] | None:
    """``(name, value)`` of ``name = value`` or ``name: T = value``; None otherwise."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    return (target.id, value) if isinstance(target, ast.Name) else None


def _scan(
    module: ModuleType,
    tree: tuple[str, ast.Module],
    watched: dict[int, object],
    found: dict[tuple[str, str], tuple[CodeType, str]],
    unhandled: dict[str, None],
) -> bool:
    """Record the derived values of one module; return whether any was new."""
    path, body = tree
    namespace = vars(module)
    new = False
    for stmt in body.body:
        if isinstance(stmt, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        where = f"{path}:{stmt.lineno}"
        assignment = _target(stmt)
        if isinstance(stmt, ast.ClassDef):
            if any(_mentions(s, namespace, watched) for s in stmt.body if _target(s)):
                unhandled[where] = None
            continue
        if not _mentions(stmt, namespace, watched):
            continue
        if assignment is None or assignment[0] not in namespace:
            unhandled[where] = None
            continue
        name, value = assignment
        key = (module.__name__, name)
        if key not in found:
            expression = ast.fix_missing_locations(ast.Expression(body=value))
            found[key] = (compile(expression, path, "eval"), where)
            new = True
        obj = namespace[name]
        if not isinstance(obj, _SHARED):
            watched[id(obj)] = obj
    return new


def _modules() -> list[ModuleType]:
    return [m for m in list(sys.modules.values()) if isinstance(m, ModuleType)]


def _aliases(modules: list[ModuleType], module: str, name: str) -> tuple[tuple[str, str], ...]:
    obj = vars(sys.modules[module])[name]
    if isinstance(obj, _SHARED):
        return ()
    return tuple(
        (m.__name__, n)
        for m in modules
        for n, v in list(vars(m).items())
        if v is obj and (m.__name__, n) != (module, name)
    )


def find_consumers() -> TableConsumers:
    """Find the derived values and live machines a mutation must change (see the module doc)."""
    watched: dict[int, object] = {id(obj): obj for obj in _ROOTS}
    found: dict[tuple[str, str], tuple[CodeType, str]] = {}
    unhandled: dict[str, None] = {}
    trees: dict[str, tuple[str, ast.Module] | None] = {}
    modules = _modules()
    changed = True
    while changed:
        changed = False
        for module in modules:
            if module is table_module or module.__name__ == __name__:
                continue
            namespace = vars(module)
            if not any(id(v) in watched for v in list(namespace.values())):
                continue
            name = module.__name__
            if name not in trees:
                trees[name] = _source_tree(module)
            tree = trees[name]
            if tree is not None and _scan(module, tree, watched, found, unhandled):
                changed = True
    derived = tuple(
        Derived(module, name, code, where, _aliases(modules, module, name))
        for (module, name), (code, where) in found.items()
    )
    gc.collect()
    machines = tuple(o for o in gc.get_objects() if isinstance(o, OrderMachine))
    return TableConsumers(derived, machines, tuple(unhandled))


def _move_into(machine: OrderMachine, mutation: Mutation, to: OrderState) -> Any:
    """The move lookup entry of ``machine`` for the mutated row (see OrderMachine)."""
    source, trigger = mutation.edge
    arm: Any = None
    duration = 0.0
    if to is not source:
        for moves in machine._moves.values():
            timed = next((m for m in moves.values() if m[0] is to and m[2] is not None), None)
            if timed is not None:
                arm, duration = timed[2], timed[3]
                break
    gone = OrderState.GONE
    reason = gone_reason(source, trigger) if to is gone and source is not gone else None
    return (to, (trigger, to), arm, duration, reason)


@contextmanager
def applied(mutation: Mutation, consumers: TableConsumers) -> Iterator[None]:
    """Apply ``mutation`` to the rows, the derived values and ``consumers.machines``; undo on exit.

    Raises:
        KeyError: The mutation's row is not in the table.
    """
    edge = mutation.edge
    if edge not in _ROWS:
        raise KeyError(f"mutation: no row {edge} in the table")
    snapshot = dict(_ROWS)
    undo: list[tuple[dict[str, Any], str, object]] = []
    machine_undo: list[tuple[OrderMachine, Any, Any]] = []
    try:
        if mutation.to is None:
            del _ROWS[edge]
        else:
            _ROWS[edge] = mutation.to
        for value in consumers.derived:
            namespace = vars(sys.modules[value.module])
            fresh = eval(value.code, namespace)
            for module, name in ((value.module, value.name), *value.aliases):
                target = vars(sys.modules[module])
                undo.append((target, name, target[name]))
                target[name] = fresh
        for machine in consumers.machines:
            moves = machine._moves[mutation.source]
            machine_undo.append((machine, moves.get(mutation.trigger), machine.record))
            if mutation.to is None:
                moves.pop(mutation.trigger, None)
            else:
                moves[mutation.trigger] = _move_into(machine, mutation, mutation.to)
            if machine.verify:
                machine.record = build_record_machine()
        yield
    finally:
        _ROWS.clear()
        _ROWS.update(snapshot)  # the rows in their order, which readers may rely on
        for target, name, old in reversed(undo):
            target[name] = old
        for machine, move, record in machine_undo:
            moves = machine._moves[mutation.source]
            if move is None:
                moves.pop(mutation.trigger, None)
            else:
                moves[mutation.trigger] = move
            machine.record = record

