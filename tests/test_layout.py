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


def test_tests_reach_no_private_name_of_fer_zoo():
    """Tests go through the public surface, so a refactor that keeps behaviour keeps them passing: no
    ``from fer_zoo... import _name``, no ``module._name`` of a fer_zoo module, no ``setattr(.., "_name")``."""
    root = PACKAGE.parent
    files = sorted([*(root / "tests").glob("*.py"), *root.glob("plugins/*/tests/*.py")])
    leaks = []
    for path in files:
        tree = ast.parse(path.read_text())
        modules_here = set()  # names bound to fer_zoo modules in this file
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fer_zoo"):
                leaks += [f"{path.name}:{node.lineno} imports {node.module}.{a.name}" for a in node.names
                          if a.name.startswith("_") and a.name != "__version__"]
                modules_here |= {a.asname or a.name for a in node.names}
            elif isinstance(node, ast.Import):
                modules_here |= {a.asname or a.name.partition(".")[0] for a in node.names
                                 if a.name.startswith("fer_zoo")}
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                base = node.value
                while isinstance(base, ast.Attribute):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in modules_here:
                    leaks.append(f"{path.name}:{node.lineno} reads {ast.unparse(node)}")
            elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("setattr") and len(node.args) > 1:
                name = node.args[1]
                if isinstance(name, ast.Constant) and isinstance(name.value, str) and \
                        name.value.rpartition(".")[2].startswith("_") and not name.value.endswith("__"):
                    leaks.append(f"{path.name}:{node.lineno} patches {name.value}")
    assert len(files) > 20  # the check sees the tests
    assert not leaks, "\n".join(leaks)
