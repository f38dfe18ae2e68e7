"""The keyword parameters of a builder read from its source, without importing it.

A recipe names its data, model and task builders; the modules that define them import torch (and
Lightning) at their top, which costs seconds. :func:`static_parameters` reads a builder's
parameter names from the module's syntax tree instead, so that a misspelt argument is reported
before torch is imported (:func:`sciarch.config.precheck`). It answers only where the source says
everything: a function, or a class with its own ``__init__``, without ``**kwargs`` and without a
decorator that could change the signature; anything else (a dataclass, an alias, a builder
written in C) is None, and is checked after the import as before. A test compares its answers
with :func:`sciarch.validation.parameters_of` for every registered builder.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path


def module_file(module: str) -> Path | None:
    """The ``.py`` file of ``module``, found without importing it or its parent packages."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: found, not imported
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    folders = list(spec.submodule_search_locations or [])
    for k, part in enumerate(rest):
        last = k == len(rest) - 1
        found = None
        for folder in folders:
            package = Path(folder) / part
            if (package / "__init__.py").is_file():
                found = package
                break
            if last and (Path(folder) / f"{part}.py").is_file():
                return Path(folder) / f"{part}.py"
        if found is None:
            return None
        if last:
            return found / "__init__.py"
        folders = [str(found)]
    return None


@functools.lru_cache(maxsize=256)
def _tree(path: Path, mtime: float) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None


def _names(function: ast.FunctionDef | ast.AsyncFunctionDef, is_method: bool) -> tuple[str, ...] | None:
    args = function.args
    if args.kwarg is not None:  # **kwargs: forwarded somewhere the source here does not say
        return None
    positional = [a.arg for a in args.args]
    if is_method and not args.posonlyargs and positional:
        positional = positional[1:]  # self (unless it is positional-only, with the rest of those)
    return tuple(positional + [a.arg for a in args.kwonlyargs])


def static_parameters(reference: str, *, decorated: bool = False) -> tuple[str, ...] | None:
    """The keyword parameter names of ``"package.module:attr"``, read from the source; None where
    the source alone cannot say (see the module's documentation). ``decorated``: trust that a
    decorator keeps the signature (``functools.wraps``), as Lightning's ``Trainer.__init__`` does."""
    module, _, attr = reference.partition(":")
    if not module or not attr or "." in attr:
        return None
    path = module_file(module)
    if path is None:
        return None
    try:
        tree = _tree(path, path.stat().st_mtime)
    except OSError:
        return None
    if tree is None:
        return None
    found: ast.AST | None = None
    for node in tree.body:  # the last top-level definition of the name wins, as on import
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == attr:
            found = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)):
            targets = (node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign)
                       else [])
            bound = {t.id for t in targets if isinstance(t, ast.Name)}
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                bound = {(a.asname or a.name).split(".")[0] for a in node.names}
            if attr in bound:
                found = None  # bound otherwise: only an import could say
    if found is None or (getattr(found, "decorator_list", None) and not decorated):
        return None
    if isinstance(found, ast.ClassDef):
        init = [n for n in found.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
        if not init or (init[-1].decorator_list and not decorated):
            return None  # inherited or wrapped: the bases decide
        return _names(init[-1], is_method=True)
    return _names(found, is_method=False)


#: modules whose names an annotation may use when it is read from source (their objects are the
#: ones an import would give), and the builtins it may use
_SAFE_MODULES = ("typing", "collections.abc", "pathlib", "os")
_SAFE_BUILTINS = {"int": int, "float": float, "str": str, "bool": bool, "bytes": bytes, "tuple": tuple,
                  "list": list, "dict": dict, "None": None, "object": object}


def _namespace(tree: ast.Module) -> dict[str, object]:
    """The names a module's annotations can be evaluated with safely: builtins it does not rebind,
    what it imports from :data:`_SAFE_MODULES`, and its top-level aliases made of those."""
    import importlib

    bound = {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
    bound |= {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    namespace: dict[str, object] = {k: v for k, v in _SAFE_BUILTINS.items() if k not in bound}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and not node.level and node.module in _SAFE_MODULES:
            module = importlib.import_module(node.module)  # the standard library's, already imported
            for alias in node.names:
                if hasattr(module, alias.name):
                    namespace[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in _SAFE_MODULES and alias.asname is None and "." not in alias.name:
                    namespace[alias.name] = importlib.import_module(alias.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = (_evaluate(ast.unparse(node.value), namespace)
                     if len(targets) == 1 and isinstance(targets[0], ast.Name) and node.value is not None else _UNKNOWN)
            for target in targets:
                if isinstance(target, ast.Name):
                    namespace.pop(target.id, None)
            if value is not _UNKNOWN:
                namespace[targets[0].id] = value
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            namespace.pop(node.name, None)
    return namespace


_UNKNOWN = object()
#: what an annotation or an alias of one is made of; no call, so evaluating it runs nothing
_PLAIN = (ast.Expression, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Tuple, ast.List, ast.Constant,
          ast.BinOp, ast.BitOr, ast.Slice)


def _evaluate(text: str, namespace: dict[str, object]) -> object:
    try:
        tree = ast.parse(text, mode="eval")
        if not all(isinstance(node, _PLAIN) for node in ast.walk(tree)):
            return _UNKNOWN
        return eval(compile(tree, "<annotation>", "eval"), {"__builtins__": {}}, dict(namespace))  # noqa: S307
    except Exception:
        return _UNKNOWN


def static_annotations(reference: str) -> dict[str, object]:
    """The annotations of a builder's parameters (see :func:`static_parameters`) that can be
    evaluated from its source with the standard library alone (``int``, ``Literal['a', 'b']``,
    ``tuple[float, ...]``, a module-level alias of those); the others are left out."""
    names = static_parameters(reference)
    if not names:
        return {}
    module, _, attr = reference.partition(":")
    path = module_file(module)
    tree = _tree(path, path.stat().st_mtime) if path is not None else None
    if tree is None:
        return {}
    node = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == attr][-1]
    if isinstance(node, ast.ClassDef):
        node = [n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"][-1]
    namespace = _namespace(tree)
    args = node.args
    defaults = dict(zip([a.arg for a in args.args][len(args.args) - len(args.defaults):], args.defaults, strict=True))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None})
    out: dict[str, object] = {}
    for arg in (*args.args, *args.kwonlyargs):
        default = defaults.get(arg.arg)
        if isinstance(default, ast.Constant) and default.value is None:
            continue  # Python 3.10's get_type_hints makes such an annotation Optional: left to the import
        if arg.arg in names and arg.annotation is not None:
            annotation = arg.annotation
            text = annotation.value if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str) \
                else ast.unparse(annotation)
            value = _evaluate(text, namespace)
            if value is not _UNKNOWN:
                out[arg.arg] = value
    return out
