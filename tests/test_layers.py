"""The package's import graph: imports point down the layers (README, "Code map"), and there is no cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "proxy"

# Top to bottom. A module may import its own package and any package of a lower layer, nothing else.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("proxy.__main__",),
    ("proxy.cli",),
    ("proxy.daemon", "proxy.demo", "proxy.tools"),
    ("proxy.http",),
    ("proxy.service",),
    ("proxy.imaging", "proxy.storage", "proxy.observe"),
    ("proxy.config", "proxy.policy"),
    ("proxy.keys", "proxy.signing", "proxy.stored"),
    ("proxy.errors", "proxy"),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def unit(module: str) -> str:
    """The layer entry a module belongs to: its package (``proxy.http``) or its own name (``proxy.keys``)."""
    entries = [entry for layer in LAYERS for entry in layer]
    matches = [e for e in entries if module == e or module.startswith(e + ".")]
    return max(matches, key=len)


def rank(entry: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if entry in layer)


def imports() -> dict[str, set[str]]:
    """Every module of ``proxy`` and the ``proxy`` modules it imports (at any depth, lazily too)."""
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        name = module_name(path)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{name}: relative import (use absolute ones)"
                if node.module and node.module.split(".")[0] == "proxy":
                    found.add(node.module)
                    found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "proxy")
        graph[name] = found
    modules = set(graph)
    return {name: {m for m in targets if m in modules and m != name} for name, targets in graph.items()}


def test_every_module_has_a_layer() -> None:
    for name in imports():
        assert unit(name), name


def test_imports_point_down() -> None:
    upward = []
    for name, targets in imports().items():
        for target in targets:
            source, dest = unit(name), unit(target)
            if target == "proxy" or source == dest:
                continue
            if rank(dest) <= rank(source):
                upward.append(f"{name} -> {target}")
    assert not upward, "imports that do not point down: " + ", ".join(sorted(upward))


def test_no_import_cycle() -> None:
    graph = imports()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
