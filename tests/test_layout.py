"""The shape of the house: layers import downward only, no import cycles, modules stay small enough to read.

Read from the source with `ast` (no module is imported), so the test also covers imports inside functions,
which a runtime check of `sys.modules` would miss. Imports under `if TYPE_CHECKING:` are annotations only and
do not count.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "halo_cli"
MAX_LINES = 500
# What a module says in its docstring when it is longer than MAX_LINES because it holds one concept.
ONE_CONCEPT = "one concept"

# Lower layers first. A module may import its own layer or a lower one, never a higher one.
LAYERS: list[set[str]] = [
    {"halo_cli", "halo_cli.core", "halo_cli.core.errors", "halo_cli.core.paths", "halo_cli.core.fsutil",
     "halo_cli.core.actions"},
    {"halo_cli.core.config"},
    {"halo_cli.core.models", "halo_cli.core.env", "halo_cli.core.policy", "halo_cli.core.store"},
    {"halo_cli.core.rl"},
    {"halo_cli.core.runtime"},
    {"halo_cli.commands", "halo_cli.tui"},
    {"halo_cli.app"},
]


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                for sub in ast.walk(child):
                    if hasattr(sub, "lineno"):
                        lines.add(sub.lineno)
    return lines


def imports_of(name: str) -> set[str]:
    """The halo_cli modules `name` imports (a submodule when `from pkg import submodule`, else the module)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("halo_cli"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("halo_cli"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.add(sub if sub in MODULES else node.module)
    out.discard(name)
    return out


def layer_of(name: str) -> int:
    best, depth = -1, -1
    for i, layer in enumerate(LAYERS):
        for prefix in layer:
            if (name == prefix or name.startswith(prefix + ".")) and prefix.count(".") > depth:
                best, depth = i, prefix.count(".")
    assert best >= 0, f"{name} is in no layer: add it to LAYERS"
    return best


def test_every_module_imports_downward_only() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {dep} (layer {layer_of(dep)})"
        for name in MODULES for dep in sorted(imports_of(name)) if layer_of(dep) > layer_of(name)
    ]
    assert not upward, "\n".join(upward)


def test_core_never_imports_commands_or_tui() -> None:
    bad = [f"{n} -> {d}" for n in MODULES if n.startswith("halo_cli.core") for d in imports_of(n)
           if d.startswith(("halo_cli.commands", "halo_cli.tui", "halo_cli.app"))]
    assert not bad, bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for name in MODULES:
        graph[name] = {d for d in imports_of(name) if d in MODULES}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_is_small_or_one_concept(name: str) -> None:
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    lines = text.count("\n")
    if lines <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert ONE_CONCEPT in doc, f"{path} has {lines} lines: split it, or say in its docstring which one concept it is"


@pytest.mark.parametrize("name", sorted(n for n, p in MODULES.items() if p.name == "__init__.py"))
def test_every_package_says_what_it_holds(name: str) -> None:
    doc = ast.get_docstring(ast.parse(MODULES[name].read_text(encoding="utf-8")))
    assert doc and len(doc.split()) >= 6, f"package {name} needs a docstring saying what it holds"
