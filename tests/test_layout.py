"""The house reads one way down: packages in the order of ``LAYERS``, no import cycle inside the package, no
module reaching into another's private names, light ``__init__`` files, and a reason written at the top of
any module over 400 lines (docs/architecture.md explains the order)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fer_zoo"

# The packages bottom to top (a top-level module is its own entry): a module imports, anywhere in it (inside
# functions too), only from its own layer or the ones before it. Every name under fer_zoo/ is in one layer.
LAYERS = (
    ("core", {"errors", "values", "inputs", "atomic", "outputs", "quiet", "timing", "tf_backend", "environment",
              "status", "metric_names"}),
    ("plugins", {"plugins"}),
    ("data", {"data"}),
    ("models", {"models"}),
    ("report", {"report"}),
    ("training", {"training"}),
    ("inference", {"inference"}),
    ("deploy", {"deploy"}),
    ("benchmark", {"benchmark"}),
    ("serve", {"serve"}),
    ("entry points", {"api", "cli", "__main__", "testing"}),
)
HEAVY = ("tensorflow", "keras", "jax", "torch", "cv2", "matplotlib", "onnxruntime", "tf2onnx", "ray")
# __init__ files that hold code, not only re-exports: the public face, the plugin loader, load_dataset
CODE_IN_INIT = {"fer_zoo", "fer_zoo.plugins", "fer_zoo.data"}


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



def layer_of(module: str) -> int:
    """The index in LAYERS of a module's package (``fer_zoo.data.cache`` -> data's)."""
    top = module.split(".")[1]
    found = [i for i, (_, members) in enumerate(LAYERS) if top in members]
    assert len(found) == 1, f"{module}: put fer_zoo.{top} in exactly one of LAYERS in tests/test_layout.py"
    return found[0]


def face_layers(known: dict[str, Path]) -> dict[str, int]:
    """The layer each name of the public face (``fer_zoo/__init__.py``) comes from: its constants are core,
    a re-export its module's layer, a function (or a lazy ``__getattr__`` branch) the highest layer it imports."""
    tree = ast.parse(known["fer_zoo"].read_text())

    def highest(nodes) -> int:
        targets = [t for node in nodes for _, t in imported(node, "fer_zoo", known)]
        return max((layer_of(resolve(t, known)) for t in targets if resolve(t, known) != "fer_zoo"), default=0)

    names: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and all(
                isinstance(v, ast.Constant) and str(v.value).startswith("fer_zoo.") for v in node.value.values):
            # a table of lazy names: name -> the module __getattr__ imports it from
            names.update({k.value: layer_of(v.value) for k, v in zip(node.value.keys, node.value.values)})
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.Try)):
            for target in ast.walk(node):
                if isinstance(target, ast.Name) and isinstance(target.ctx, ast.Store):
                    names[target.id] = 0
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fer_zoo."):
            names.update({a.asname or a.name: layer_of(node.module) for a in node.names})
        elif isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            for branch in ast.walk(node):
                if isinstance(branch, ast.If) and isinstance(branch.test, ast.Compare):
                    for value in branch.test.comparators:
                        if isinstance(value, ast.Constant) and isinstance(value.value, str):
                            names[value.value] = highest(branch.body)
        elif isinstance(node, ast.FunctionDef):
            names[node.name] = highest(node.body)
    return names


def resolve(dotted: str, known: dict[str, Path]) -> str:
    while dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted


def imported(node: ast.AST, module: str, known: dict[str, Path]):
    """(line, dotted name) for everything of fer_zoo that ``node`` and the code under it import, relative
    imports made absolute; ``fer_zoo.X`` attributes count, as ``import fer_zoo`` then ``fer_zoo.X`` imports X."""
    package = module if known[module].name == "__init__.py" else module.rpartition(".")[0]
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            yield from ((sub.lineno, a.name) for a in sub.names if a.name.split(".")[0] == "fer_zoo")
        elif isinstance(sub, ast.ImportFrom):
            base = sub.module or ""
            if sub.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - sub.level + 1] + ([base] if base else []))
            if base.split(".")[0] == "fer_zoo":
                yield from ((sub.lineno, f"{base}.{a.name}") for a in sub.names)
        elif isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id == "fer_zoo":
            yield sub.lineno, f"fer_zoo.{sub.attr}"


def test_no_module_imports_from_a_layer_above_its_own():
    known = modules()
    face = face_layers(known)
    wrong: dict[str, None] = {}  # one line per import statement, in order
    for module, path in sorted(known.items()):
        if module == "fer_zoo":
            continue  # the public face re-exports from every layer
        mine = layer_of(module)
        for line, dotted in imported(ast.parse(path.read_text()), module, known):
            target = resolve(dotted, known)
            if dotted == "fer_zoo":
                continue  # `import fer_zoo` itself: what it then uses, fer_zoo.X, is checked as X
            if target == "fer_zoo":
                name = dotted.split(".")[1]
                theirs, what = face.get(name, len(LAYERS) - 1), f"fer_zoo.{name} (the public face)"
            else:
                theirs, what = layer_of(target), target
            if theirs > mine:
                wrong[f"{path.relative_to(PACKAGE.parent)}:{line}: {module} ({LAYERS[mine][0]}) imports "
                      f"{what} ({LAYERS[theirs][0]}), a layer above its own"] = None
    assert not wrong, "\n".join(wrong)


def test_the_layer_check_sees_edges_the_way_they_are_written():
    known = modules()
    code = ast.parse("def f():\n    import fer_zoo\n    from fer_zoo.benchmark import bench\n"
                     "    from . import cache\n    return fer_zoo.get_architecture, fer_zoo.Predictor\n")
    found = {dotted for _, dotted in imported(code, "fer_zoo.data.synthetic", known)}
    assert {"fer_zoo.benchmark.bench", "fer_zoo.data.cache", "fer_zoo.get_architecture", "fer_zoo.Predictor"} <= found
    face = face_layers(known)
    assert face["__version__"] == 0 and face["get_architecture"] == layer_of("fer_zoo.plugins")
    assert face["Predictor"] == layer_of("fer_zoo.inference") and face["create_model"] == layer_of("fer_zoo.models")
    assert layer_of("fer_zoo.cli") > layer_of("fer_zoo.benchmark.bench") > layer_of("fer_zoo.training.train")


def test_package_inits_are_light():
    known = modules()
    packages = sorted(name for name, path in known.items() if path.name == "__init__.py")
    for name in packages:
        if name in CODE_IN_INIT:
            continue
        for node in ast.parse(known[name].read_text()).body:
            docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            named = isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["__all__"]
            assert docstring or named or isinstance(node, (ast.Import, ast.ImportFrom)), (
                f"{known[name].relative_to(PACKAGE.parent)}:{node.lineno}: a package's __init__ holds its docstring "
                f"and re-exports; put code in a module of the package")
    # a fresh interpreter: this test process may already have imported Keras
    probe = f"import sys\nimport {', '.join(packages)}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"importing the packages loads {done.stdout.strip()}"

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
