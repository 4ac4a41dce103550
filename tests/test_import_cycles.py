"""No import cycle inside losscalc/ (issue 10). Every module is parsed with `ast`; its
module-level imports of losscalc modules (absolute `losscalc.x`, relative `.x` and `..x`,
`from . import x`, packages resolved to their `__init__`) are the edges of a graph, which
must have no cycle. Imports inside functions are left out: they are the deliberately lazy
ones (start-up time, SPEC §9). Imports under `if TYPE_CHECKING:` are left out too: they never
run."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "losscalc"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in p.parts}


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level_imports(tree: ast.Module):
    """The Import and ImportFrom nodes that run when the module is imported: at the top, or
    inside module-level if/try/with blocks; not in functions or classes' methods, and not
    under `if TYPE_CHECKING:`."""
    def walk(body):
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            elif isinstance(node, ast.If):
                if not is_type_checking(node.test):
                    yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                yield from walk(node.body)
                for handler in node.handlers:
                    yield from walk(handler.body)
                yield from walk(node.orelse)
                yield from walk(node.finalbody)
            elif isinstance(node, (ast.With, ast.For, ast.While)):
                yield from walk(node.body)
                yield from walk(getattr(node, "orelse", []))
            elif isinstance(node, ast.ClassDef):  # a class body runs at import; its methods do not
                yield from walk(node.body)
    yield from walk(tree.body)


def resolve(name: str, known: dict[str, Path]) -> str | None:
    """The losscalc module that importing `name` runs last (`losscalc.a.b` runs losscalc,
    losscalc.a and losscalc.a.b; the edge that matters is to the module named), or None."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in module_level_imports(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                base = ".".join(base)
                stem = f"{base}.{node.module}" if node.module else base
            else:
                stem = node.module or ""
            # `from .pkg import mod` imports the submodule when there is one, else a name of pkg
            names = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem
                     for alias in node.names]
        for target in names:
            if target == "losscalc" or target.startswith("losscalc."):
                resolved = resolve(target, known)
                if resolved and resolved != name:
                    targets.add(resolved)
                    targets.update(packages_run_first(resolved, name, known))
    return targets


def packages_run_first(target: str, importer: str, known: dict[str, Path]) -> set[str]:
    """Importing losscalc.a.b runs losscalc/a/__init__.py first: an edge too, unless that
    package is the importer's own (it is already being imported when the importer runs)."""
    parts, own = target.split("."), importer.split(".")
    found = set()
    for i in range(2, len(parts)):  # losscalc itself is every module's own package
        package = ".".join(parts[:i])
        if package in known and parts[:i] != own[:i]:
            found.add(package)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a], or None (an iterative depth-first search)."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(edges, WHITE)
    for start in sorted(edges):
        if colour[start] != WHITE:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        colour[start] = GREY
        while stack:
            node, children = stack[-1]
            for child in children:
                if colour.get(child, BLACK) == GREY:
                    return path[path.index(child):] + [child]
                if colour.get(child) == WHITE:
                    colour[child] = GREY
                    path.append(child)
                    stack.append((child, iter(sorted(edges[child]))))
                    break
            else:
                colour[node] = BLACK
                path.pop()
                stack.pop()
    return None


def test_the_graph_is_read():
    """The reader sees the package's real imports (so an empty graph cannot pass silently)."""
    edges = graph()
    assert "losscalc.cli" in edges and "losscalc.readers.shards" in edges
    assert "losscalc.errors" in edges["losscalc.readers.shards"]    # from ..errors import LossError
    assert "losscalc.readers.base" in edges["losscalc.readers.shards"]  # from .base import LazyArray
    assert "losscalc.readers" not in edges["losscalc.readers.shards"]  # its own package
    assert sum(map(len, edges.values())) > 10


def test_lazy_imports_inside_functions_are_not_edges():
    tree = ast.parse("import losscalc.a\ndef f():\n    import losscalc.b\nif TYPE_CHECKING:\n    import losscalc.c\n"
                     "try:\n    from . import d\nexcept ImportError:\n    pass\n")
    found = [getattr(n, "module", None) or n.names[0].name for n in module_level_imports(tree)]
    assert found == ["losscalc.a", "d"]


def test_packages_on_the_way_are_edges():
    known = dict.fromkeys(["losscalc", "losscalc.a", "losscalc.a.b", "losscalc.a.c", "losscalc.d"], Path())
    assert packages_run_first("losscalc.a.b", "losscalc.d", known) == {"losscalc.a"}
    assert packages_run_first("losscalc.a.b", "losscalc.a.c", known) == set()


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_inside_losscalc():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle at module level: " + " -> ".join(cycle)
