"""The public API is explicit, and the core keeps its import boundaries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import lifecycle

PACKAGE = Path(lifecycle.__file__).parent
#: The sans-I/O layers: no I/O library, no adapter, no clock.
PURE_LAYERS = ("core", "config", "engine", "policy")
CORE_FILES = sorted(p for layer in PURE_LAYERS for p in (PACKAGE / layer).glob("*.py"))
FORBIDDEN = ("anyio", "httpx", "websockets", "lifecycle.adapters", "adapters")
#: The one module of the pure layers allowed to read a clock (MonotonicClock).
CLOCK_READERS = {PACKAGE / "core" / "clock.py"}


def test_all_matches_the_public_names() -> None:
    public = {
        name
        for name, value in vars(lifecycle).items()
        if not name.startswith("_") and not isinstance(value, type(lifecycle))
    }
    assert set(lifecycle.__all__) == public
    assert len(lifecycle.__all__) == len(set(lifecycle.__all__))


def test_every_public_name_is_documented() -> None:
    for name in lifecycle.__all__:
        value = getattr(lifecycle, name)
        if callable(value):
            assert value.__doc__, name


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_pure_layers_import_no_io_libraries_or_adapters() -> None:
    assert len(CORE_FILES) > 20
    for path in CORE_FILES:
        for name in imports_of(path):
            assert not name.startswith(FORBIDDEN), f"{path} imports {name}"


def test_only_the_simulation_and_the_cli_import_the_adapters() -> None:
    # import-linter cannot see lifecycle.adapters (mapped from adapters/ by package_dir).
    importers = {
        path.relative_to(PACKAGE).parts[0]
        for path in PACKAGE.rglob("*.py")
        if any(name.startswith(("lifecycle.adapters", "adapters")) for name in imports_of(path))
    }
    assert importers <= {"sim", "cli"}
    assert "sim" in importers


def test_importing_the_core_loads_no_io_library() -> None:
    code = (
        "import sys, lifecycle, lifecycle.engine.facade, lifecycle.cli, lifecycle.review.diagram;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('anyio', 'httpx', 'websockets')"
        " or m.startswith('lifecycle.adapters')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_core_never_reads_a_clock() -> None:
    for path in CORE_FILES:
        if path in CLOCK_READERS:
            continue
        text = path.read_text(encoding="utf-8")
        for call in ("time.time(", "time.monotonic(", "datetime.now(", "time.sleep("):
            assert call not in text, f"{path.name} calls {call}"


def test_state_is_assigned_only_by_the_machine() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name in ("machine.py", "order.py"):
            continue
        text = path.read_text(encoding="utf-8")
        # Any `<something>.state = ...` other than an object's own attribute.
        assert not re.search(r"(?<!self)\.state\s*=(?!=)", text), f"{path.name} assigns state"


#: Modules that must reach other objects through public names only.
PUBLIC_ONLY = (PACKAGE / "engine" / "state.py",)
_NAMED_ACCESS = ("getattr", "setattr", "delattr", "hasattr")


def private_accesses(source: str) -> list[str]:
    """``name._attr`` (or ``getattr(name, "_attr")``...) on anything but ``self``/``cls``."""

    def private(attr: str) -> bool:
        return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))

    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and private(node.attr):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append((node.lineno, ast.unparse(node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _NAMED_ACCESS
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and private(node.args[1].value)
        ):
            found.append((node.lineno, ast.unparse(node)))
    return [f"line {line}: {code}" for line, code in sorted(found)]


def test_private_access_detector_finds_what_it_must() -> None:
    source = (
        "engine._outbox.append(x)\n"
        "self._own = 1\n"
        "cls._own\n"
        "setattr(order, '_entries', 3)\n"
        "type(x).__name__\n"
        "engine.registry._by_oid\n"
    )
    assert [a.split(":")[0] for a in private_accesses(source)] == [
        "line 1", "line 4", "line 6",
    ]


def test_engine_state_uses_only_public_names_of_other_objects() -> None:
    for path in PUBLIC_ONLY:
        text = path.read_text(encoding="utf-8")
        assert private_accesses(text) == [], f"{path.name} reads or writes private attributes"
        assert "object.__new__" not in text, f"{path.name} builds objects around their class"


def test_the_simulation_loads_the_hyperliquid_client_only_for_a_loopback_run() -> None:
    code = (
        "import sys, lifecycle.sim, lifecycle.sim.command, lifecycle.sim.simulate;"
        "print(','.join(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'eth_account')"
        " or m.startswith('lifecycle.adapters.hyperliquid')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_adapter_and_the_simulation_import_in_either_order() -> None:
    # The adapter's quoting loop imports the simulation's quoter; a loopback simulation
    # imports the adapter: neither order may meet a half-initialised module.
    for first, second in (
        ("lifecycle.adapters.hyperliquid.run_market", "lifecycle.sim.hl_bot"),
        ("lifecycle.sim.hl_bot", "lifecycle.adapters.hyperliquid.run_market"),
        ("lifecycle.adapters.hyperliquid.run_session", "lifecycle.sim"),
    ):
        code = f"import {first}, {second}"
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
