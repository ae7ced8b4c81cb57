"""The import structure: data flows one way, commands stand alone, the simulator keeps apart."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import bulk_provision
from bulk_provision.cli import COMMAND_MODULES

PACKAGE = Path(bulk_provision.__file__).parent

# Lowest first: a module may import its own layer or lower ones, never a higher one.
LAYERS = [
    ["errors", "terminal", "glance.models", "model", "lifecycle"],
    ["config", "password_headers", "roster_headers", "roster_csv", "roster_excel", "roster",
     "paths", "ratelimit", "retry", "calllog", "journal_files", "journal_rows", "journal_reads",
     "glance"],
    ["validation", "plan", "checkpoint", "connection", "report", "salvage", "export", "notify"],
    ["settings", "provision", "row_run"],
    ["planner", "resume", "approved_plan", "undo", "job", "summary_doc", "undo_run"],
    ["cli", "web", "simulator", "__main__"],
]


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


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("bulk_provision.")}


def test_no_module_imports_a_higher_layer() -> None:
    wrong = []
    for name, path in modules().items():
        if name == "bulk_provision":
            continue
        for imported in imports(path):
            if layer_of(imported) > layer_of(name):
                wrong.append(f"{name} imports {imported}")
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
                         check=True, timeout=60).stdout
    assert out.split() == ["False", "False"]
