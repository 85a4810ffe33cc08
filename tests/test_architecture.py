"""The dependency rules of STYLE §7.1, checked by walking every import with ``ast``:
the codec stays sans-I/O and the parts only meet through their packages' public names."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names)
IO_MODULES = {"socket", "asyncio", "time", "select", "selectors", "subprocess", "os", "io", "pathlib"}


def imports_of(path: Path) -> set[str]:
    """Top-level dotted names of every import in ``path``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


WIRE_FILES = sorted((ROOT / "xrdsim" / "wire").glob("*.py"))


@pytest.mark.parametrize("path", WIRE_FILES, ids=lambda p: p.name)
def test_wire_imports_only_stdlib_and_itself(path):
    for name in imports_of(path):
        top = name.split(".")[0]
        assert top in STDLIB or name.startswith("xrdsim.wire") or name == "xrdsim.errors", f"{path.name} imports {name}"


@pytest.mark.parametrize("path", WIRE_FILES, ids=lambda p: p.name)
def test_wire_never_touches_sockets_files_or_clocks(path):
    bad = {n for n in imports_of(path) if n.split(".")[0] in IO_MODULES}
    assert not bad, f"{path.name} imports {bad}"


def test_no_module_reaches_into_another_packages_private_names():
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        if "tests" in path.parts or "bench" in path.parts:
            continue
        package = path.relative_to(ROOT).parts[0]
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] != package and any(p.startswith("_") and not p.startswith("__") for p in parts):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders
