"""``record``: a frozen, keyword-only, slotted dataclass that is cheap to build.

A frozen dataclass's generated ``__init__`` assigns each field through
``object.__setattr__``, about a third of a microsecond per field; events and
commands are built on the hot path, so that cost adds up. ``record`` keeps
everything the dataclass generates (``__eq__``, ``__repr__``, ``__hash__``,
``FrozenInstanceError`` on assignment, ``dataclasses.fields``) and replaces only
``__init__`` with one that stores each field through its slot descriptor.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar, dataclass_transform

__all__ = ["record"]

_C = TypeVar("_C", bound=type)


@dataclass_transform(frozen_default=True, kw_only_default=True)
def record(cls: _C) -> _C:
    """Make ``cls`` a frozen, keyword-only, slotted dataclass with a fast ``__init__``."""
    made: Any = dataclasses.dataclass(frozen=True, kw_only=True, slots=True)(cls)
    fields = dataclasses.fields(made)
    namespace: dict[str, Any] = {}
    params = []
    for f in fields:
        namespace[f"_set_{f.name}"] = getattr(made, f.name).__set__
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
    body = "".join(f"    _set_{f.name}(self, {f.name})\n" for f in fields) or "    pass\n"
    signature = f"self, *, {', '.join(params)}" if params else "self"
    exec(f"def __init__({signature}) -> None:\n{body}", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{made.__qualname__}.__init__"
    made.__init__ = init
    result: _C = made
    return result
