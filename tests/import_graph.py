"""The import graph of a package, read from its source, and the cycles in it (a test helper).

Every ``import`` and ``from … import`` statement of every module counts, wherever it stands: at the
top, inside a function (a "lazy" import still ties the two modules together) and, unless
``type_checking=False``, under ``if TYPE_CHECKING:``. Only imports between the package's own
modules are edges.

Use from a test (pytest's importlib mode puts no test folder on ``sys.path``, so load it by path)::

    import importlib.util, pathlib
    spec = importlib.util.spec_from_file_location(
        "import_graph", pathlib.Path(__file__).parents[1] / "import_graph.py")
    import_graph = importlib.util.module_from_spec(spec); spec.loader.exec_module(import_graph)
    import_graph.assert_no_import_cycles(ROOT / "core", "sciarch")
"""

from __future__ import annotations

import ast
from pathlib import Path


def module_names(package_dir: Path, package_name: str) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` file below ``package_dir``."""
    package_dir = Path(package_dir)
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir).with_suffix("")
        if "__pycache__" in relative.parts or "templates" in relative.parts:
            continue
        parts = list(relative.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join([package_name, *parts])] = path
    return modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module of the package that importing dotted ``name`` runs last (its longest known prefix)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(tree: ast.AST, type_checking: bool):
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if not type_checking and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(module: str, modules: dict[str, Path], *, type_checking: bool = True) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source (``type_checking=False``:
    not counting imports under ``if TYPE_CHECKING:``)."""
    path = modules[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if _is_package(module, modules) else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _walk(tree, type_checking):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _resolve(alias.name, modules)
                if target:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[:-(node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            target = _resolve(stem, modules)
            if target is None:
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{stem}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif target == stem or alias.name == "*":
                    found.add(target)
            if target != stem:  # `from pkg.missing import x`: the nearest module that exists
                found.add(target)
    found.discard(module)
    return found


def import_graph(package_dir: Path, package_name: str, *, type_checking: bool = True) -> dict[str, set[str]]:
    """Module → the package's modules it imports, for every module below ``package_dir``."""
    modules = module_names(package_dir, package_name)
    return {name: imports_of(name, modules, type_checking=type_checking) for name in modules}


def import_cycles(package_dir: Path, package_name: str, *, type_checking: bool = True) -> list[list[str]]:
    """Each import cycle of the package, as a path ``[a, b, …, a]`` through one strongly connected
    set of modules (Tarjan's algorithm); empty when the imports run one way."""
    graph = import_graph(package_dir, package_name, type_checking=type_checking)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # recursive: a package has far fewer modules than the limit
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_through(component, graph) for component in components]


def _cycle_through(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """One cycle inside a strongly connected ``component``, starting at its first module."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:  # breadth first from start until an edge returns to it
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if node != start else [start, start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return [*component, component[0]]  # not reached for a strongly connected set


def assert_no_import_cycles(package_dir: Path, package_name: str, *, type_checking: bool = True) -> None:
    """Fail, naming every cycle as ``a → b → a``, if the package's modules import each other in a ring."""
    cycles = import_cycles(package_dir, package_name, type_checking=type_checking)
    assert not cycles, f"import cycles in {package_name} ({package_dir}):\n" + "\n".join(
        "  " + " → ".join(cycle) for cycle in cycles)
