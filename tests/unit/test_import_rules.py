"""The import rules that keep measurements honest, checked over the source's import graph.

Every folder's ``__init__`` says what it may import; these are the rules a breach of which
would change what is measured or shown: the measured worker loads nothing of the harness but
the records, the /proc readers and the strategy contract (anything else would be charged to
its memory); views and analysis never measure; analysis never prints; the records that cross
process boundaries stay standard library only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "memharness_s3"
SOURCES = {PACKAGE: ROOT / "harness", f"{PACKAGE}.strategies": ROOT / "strategies"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for prefix, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    # the strategies folder is mapped into the package: harness/ has no strategies/ of its own
    return found


MODULES = _modules()


def _imports(module: str) -> set[str]:
    """The package modules ``module`` imports anywhere in its body (functions included)."""
    tree = ast.parse(MODULES[module].read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from pkg import sub` imports the submodule when there is one
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name in MODULES}


def _closure(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(_imports(module))
        # importing a module imports its parent packages first
        parent = module.rpartition(".")[0]
        while parent:
            if parent in MODULES:
                todo.append(parent)
            parent = parent.rpartition(".")[0]
    return seen


def _in(module: str, *folders: str) -> bool:
    return any(module == f"{PACKAGE}.{f}" or module.startswith(f"{PACKAGE}.{f}.") for f in folders)


def test_the_graph_is_read() -> None:
    # guards the rules below against passing over an empty or mis-mapped graph
    assert len(MODULES) > 80
    assert f"{PACKAGE}.model.records" in _imports(f"{PACKAGE}.execution.worker")


def test_the_worker_loads_only_the_model_procfs_and_the_strategy_contract() -> None:
    allowed_packages = {
        PACKAGE,
        f"{PACKAGE}.execution",
        f"{PACKAGE}.model",
        f"{PACKAGE}.strategies",
    }
    loaded = _closure(f"{PACKAGE}.execution.worker") - {f"{PACKAGE}.execution.worker"}
    extra = {
        module
        for module in loaded
        if module not in allowed_packages
        and not _in(module, "model", "strategies")
        and module != f"{PACKAGE}.execution.procfs"
    }
    assert not extra, f"the measured worker would load {sorted(extra)}"
    for package in allowed_packages:
        assert not _imports(package), f"{package}/__init__ must import nothing: the worker loads it"


@pytest.mark.parametrize("folder", ["views", "analysis"])
def test_views_and_analysis_never_measure(folder: str) -> None:
    offending = {
        f"{module} imports {imported}"
        for module in MODULES
        if _in(module, folder)
        for imported in _imports(module)
        if _in(imported, "execution", "s3", "cli", "experiments")
    }
    assert not offending, sorted(offending)


def test_analysis_never_renders_or_prints() -> None:
    offending: list[str] = []
    for module, path in MODULES.items():
        if not _in(module, "analysis"):
            continue
        offending += [f"{module} imports {name}" for name in _imports(module) if _in(name, "views")]
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                offending.append(f"{module}:{node.lineno} calls print")
            if isinstance(node, ast.Attribute) and node.attr in {"stdout", "stderr"}:
                offending.append(f"{module}:{node.lineno} writes to sys.{node.attr}")
    assert not offending, offending


def test_the_model_is_standard_library_only() -> None:
    for module, path in MODULES.items():
        if not _in(module, "model"):
            continue
        outside = {name for name in _imports(module) if not _in(name, "model")}
        assert not outside, f"{module} imports {sorted(outside)}"
        third_party = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "level", 0) == 0:
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                third_party |= {n.split(".")[0] for n in names} - {PACKAGE, "__future__"}
        import sys

        assert third_party <= set(sys.stdlib_module_names), f"{module}: {third_party}"
