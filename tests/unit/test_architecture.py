"""The import structure: data flows one way, no circles, commands stand alone, the simulator apart.

Every import counts, those inside functions included: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bulk_provision
from bulk_provision.cli import COMMAND_MODULES

PACKAGE = Path(bulk_provision.__file__).parent
SCHEMAS = PACKAGE.parent / "schemas"

# Lowest first: a module may import its own layer or lower ones, never a higher one.
LAYERS = [
    ["errors", "terminal", "columns", "schemas"],  # schemas: the window onto top-level schemas/
    ["settings", "recipe"],
    ["model", "glance", "journal"],
    ["plan", "provision", "roster", "report"],
    ["jobs"],
    ["cli", "web", "simulator", "__main__"],
]
# What the command line and the page may import below ``jobs``: the vocabulary and the readers
# of results, never the engine, the journal's writers or the planner's internals.
FRONT_ENDS = ("bulk_provision.cli", "bulk_provision.web")
ENGINE_INTERNALS = ("bulk_provision.provision", "bulk_provision.plan")
MAX_TOP_LEVEL_MODULES = 10


def layer_of(module: str) -> int:
    name = module.removeprefix("bulk_provision.")
    best = -1, -1
    for number, members in enumerate(LAYERS):
        for member in members:
            if name == member or name.startswith(member + "."):
                best = max(best, (len(member), number))
    assert best[1] >= 0, f"{module} is in no layer: add it to LAYERS"
    return best[1]


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(("bulk_provision", *parts)).removesuffix(".__init__")
        found[name] = path
    return found


def imports(path: Path, known: set[str] | None = None) -> set[str]:
    """The ``bulk_provision`` modules ``path`` imports; ``from package import module`` counts as
    the module when ``known`` lists it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & (known or set())
            names.update(submodules or {node.module})
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "bulk_provision" or n.startswith("bulk_provision.")}


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: imports(path, known) & known - {name} for name, path in found.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycles_finds_a_circle_and_nothing_else() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for name, path in modules().items():
        if name == "bulk_provision":
            continue
        for imported in imports(path):
            if imported != "bulk_provision" and layer_of(imported) > layer_of(name):
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_no_import_circle_anywhere() -> None:
    assert cycles(graph()) == []


def test_the_command_line_and_the_page_go_through_jobs() -> None:
    wrong = [
        f"{name} imports {imported}"
        for name, targets in graph().items() if name.startswith(FRONT_ENDS)
        for imported in targets if imported.startswith(ENGINE_INTERNALS)
    ]
    assert wrong == []


def test_few_modules_sit_directly_in_the_package() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top


def test_the_schemas_do_not_import_the_tool() -> None:
    wrong = [
        f"{path.name} imports {imported}"
        for path in SCHEMAS.glob("*.py") for imported in imports(path)
    ]
    assert wrong == []


def test_no_command_imports_another_command() -> None:
    commands = {f"bulk_provision.cli.{c}" for c in COMMAND_MODULES}
    wrong = [
        f"{name} imports {imported}"
        for name, path in modules().items() if name in commands
        for imported in imports(path) if imported in commands and imported != name
    ]
    assert wrong == []


def test_the_simulator_does_not_load_the_clients_wire_code() -> None:
    code = "import bulk_provision.simulator.server, sys; print('bulk_provision.glance.wire' in " \
           "sys.modules, 'bulk_provision.glance.client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         encoding="utf-8",
                         check=True, timeout=60).stdout
    assert out.split() == ["False", "False"]
