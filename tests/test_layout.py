"""The house reads one way down: no import cycle inside the package, no module reaching into another's
private names, and a reason written at the top of any module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fer_zoo"


def modules() -> dict[str, Path]:
    found = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts): p for p in PACKAGE.rglob("*.py")}
    return {name.removesuffix(".__init__"): path for name, path in found.items()}


def imports(path: Path, known: dict[str, Path]) -> tuple[set[str], list[str]]:
    """The package modules ``path`` imports (anywhere in it), and the private names it imports from them."""
    edges, private = set(), []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if node.module.startswith("fer_zoo"):
                private += [f"{node.module}.{a.name}" for a in node.names
                            if a.name.startswith("_") and a.name != "__version__"]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and known[name].name != "__init__.py":  # a package's face re-exports; not an edge
                edges.add(name)
    return edges, private


def test_no_import_cycle_and_no_private_imports():
    known = modules()
    graph, leaks = {}, []
    for name, path in known.items():
        edges, private = imports(path, known)
        graph[name] = edges - {name}
        leaks += [f"{name} imports {p}" for p in private]
    assert not leaks
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for other in sorted(graph[name]):
            assert state.get(other) != "open", "import cycle: " + " -> ".join(trail + [name, other])
            if other not in state:
                visit(other, trail + [name])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    assert "fer_zoo.training.train" in graph and "fer_zoo.models.pipeline" in graph["fer_zoo.training.train"]  # the check sees edges


def test_long_modules_say_why_at_the_top():
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text().splitlines()
        if len(lines) > 400:
            head = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "long because" in head.lower(), f"{path.name} has {len(lines)} lines and no reason at its top"
