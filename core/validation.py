"""Check recipe arguments against the signature of the code they are passed to.

A builder's keyword parameters and their type hints are the schema: an unknown key, a value of the
wrong type or a missing required argument is reported with the key's path and the closest known
name, before anything is built or trained.

The annotations understood (:data:`KINDS`; :func:`understands` says whether one is):

- ``bool``, ``int`` (not a bool), ``float`` (an int is converted, and so is a numeric string, since
  PyYAML reads ``1e-3`` as one), ``str``, ``None``;
- ``pathlib.Path`` (any ``PurePath`` class) and ``os.PathLike``: a string becomes that class;
- ``Literal[...]``: the value and its type must match (``'16'`` is not ``16``, ``True`` not ``1``);
- unions and ``Optional``: the option the value already is is tried first, then the others in order;
- ``list``/``Sequence``/``Iterable``/``Collection`` of X (a list back), ``tuple[X, ...]`` and fixed
  ``tuple[X, Y]`` (a tuple back, lengths checked), ``dict``/``Mapping`` of K to V;
- any other class: the value must be an instance (a model for a task's ``model``);
- ``typing.Any``, ``object`` or no annotation: anything, unchecked, as the author chose.

Anything else (an ``Enum``, ``set``, ``type[X]``, a forward reference that cannot be resolved) is
refused with a :class:`ConfigError` naming the key, when a recipe sets it: a value never passes
unchecked because the checker did not know its annotation. A test walks every registered builder
so that a plugin with such an annotation fails there first.
"""

from __future__ import annotations

import collections.abc as cabc
import contextlib
import enum
import inspect
import os
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any, Literal, Union

from .errors import ConfigError, did_you_mean

_MISSING = inspect.Parameter.empty


class Parameter(typing.NamedTuple):
    name: str
    annotation: Any
    default: Any
    required: bool


def parameters_of(builder: Callable, *, skip: tuple[str, ...] = ()) -> tuple[dict[str, Parameter], bool]:
    """Keyword parameters of a function or class, and whether it also takes arbitrary ``**kwargs``.

    For a class whose ``__init__`` forwards ``**kwargs`` to its base, the bases' parameters are
    followed up the MRO, so a subclass need not repeat them; the chain stops at the first
    ``__init__`` without ``**kwargs``.
    """
    if inspect.isclass(builder):
        targets = [k.__init__ for k in builder.__mro__ if "__init__" in vars(k) and k is not object]
    else:
        targets = [builder]
    found: dict[str, Parameter] = {}
    for target in targets:
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            return found, True
        hints = _hints(target)
        forwards = False
        for p in signature.parameters.values():
            if p.name in ("self", "cls") or p.name in skip:
                continue
            if p.kind is inspect.Parameter.VAR_KEYWORD:
                forwards = True
                continue
            if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
                continue
            if p.name not in found:
                found[p.name] = Parameter(p.name, hints.get(p.name, p.annotation), p.default,
                                          p.default is _MISSING)
        if not forwards:
            return found, False
    # every __init__ in the chain took **kwargs (or a function did): anything goes
    return found, True


def _hints(target: Callable) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:
        pass
    # one name that cannot be resolved (imported only for type checking) must not leave the other
    # parameters unchecked: resolve them one by one; what stays a string, check_value refuses
    namespace = getattr(target, "__globals__", {})
    out: dict[str, Any] = {}
    for name, annotation in getattr(target, "__annotations__", {}).items():
        if isinstance(annotation, str):
            with contextlib.suppress(Exception):
                annotation = eval(annotation, dict(namespace))  # as typing.get_type_hints does
        out[name] = annotation
    return out


#: The annotation kinds :func:`check_value` checks. A kind not listed is refused (see
#: :func:`understands`), so a value is never passed on unchecked by accident; ``typing.Any``,
#: ``object`` and a missing annotation accept anything, on purpose.
KINDS = ("any", "none", "bool", "int", "float", "str", "path", "literal", "union", "tuple", "sequence",
         "mapping", "class")

# list/Sequence/Iterable values come as YAML lists; tuple is its own kind (fixed or variadic)
_SEQUENCES = (list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection)
_MAPPINGS = (dict, cabc.Mapping, cabc.MutableMapping)
# a YAML 1.2 float; PyYAML (YAML 1.1) reads 1e-3 and 1.0e3 as strings
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


def _is(annotation: Any, options: tuple[Any, ...]) -> bool:
    return any(annotation is option for option in options)


def _kind(annotation: Any) -> str | None:
    """The kind of ``annotation`` (one of :data:`KINDS`), or None when it is not understood."""
    if annotation is _MISSING or annotation is Any or annotation is object:
        return "any"
    if annotation is None or annotation is type(None):
        return "none"
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return "union"
    if origin is Literal:
        return "literal"
    if _is(annotation, (bool, int, float, str)):
        return annotation.__name__
    if annotation is os.PathLike or origin is os.PathLike or (
            origin is None and isinstance(annotation, type) and issubclass(annotation, PurePath)):
        return "path"
    if origin is tuple or annotation is tuple:
        return "tuple"
    if _is(origin, _SEQUENCES) or _is(annotation, _SEQUENCES):
        return "sequence"
    if _is(origin, _MAPPINGS) or _is(annotation, _MAPPINGS):
        return "mapping"
    if origin is None and isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        if issubclass(annotation, enum.Enum):
            return None  # a YAML string is not a member; write Literal["a", "b"] instead
        return "class"  # an instance is required (a YAML value never is one, except for builtins)
    return None


def understands(annotation: Any) -> bool:
    """Whether :func:`check_value` can check values against ``annotation``, all the way down.

    ``list[int]`` is understood, ``list[Color]`` for an ``Enum`` is not; an unresolved
    forward reference (a string) is not.
    """
    kind = _kind(annotation)
    if kind is None:
        return False
    args = typing.get_args(annotation)
    if kind == "literal":
        return all(a is None or isinstance(a, (str, int, bool)) for a in args)
    if kind in ("union", "tuple", "sequence", "mapping"):
        return all(understands(a) for a in args if a is not Ellipsis)
    return True


def describe_type(annotation: Any) -> str:
    """``annotation`` as a reader writes it: ``int``, ``list[str] | None``, ``Literal['a', 'b']``."""
    if annotation is _MISSING or annotation is Any:
        return "any"
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, str):
        return annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Union or origin is types.UnionType:
        return " | ".join(describe_type(a) for a in args)
    if origin is Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else describe_type(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def check_value(value: Any, annotation: Any, key: str, *, source: str | None = None,
                line: int | None = None) -> Any:
    """Return ``value`` checked against ``annotation`` and converted (int -> float, a YAML 1.1
    ``"1e-3"`` string -> float, list -> tuple, str -> :class:`pathlib.Path`), or raise
    :class:`ConfigError` naming ``key``.

    An annotation of a kind it does not understand (:func:`understands`) is a ConfigError too,
    naming ``key`` and the annotation: nothing passes unchecked but what is annotated ``Any``.
    """

    def fail(problem: str | None = None) -> typing.NoReturn:
        raise ConfigError(problem or f"expected {describe_type(annotation)}, got {value!r} ({type(value).__name__})",
                          source=source, key=key, line=line)

    def check(item: Any, item_annotation: Any, item_key: str) -> Any:
        return check_value(item, item_annotation, item_key, source=source, line=line)

    kind = _kind(annotation)
    args = typing.get_args(annotation)
    if kind is None or not understands(annotation):  # list[Color] is refused even when empty
        if isinstance(annotation, str):
            fail(f"cannot check this argument: its annotation {annotation!r} could not be resolved (a name "
                 "imported only for type checking?); the plugin must annotate it with a type sciarch can import")
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            fail(f"cannot check this argument: its annotation is the Enum {annotation.__name__}, and a recipe gives "
                 f"strings; the plugin must annotate it Literal[{', '.join(repr(m.value) for m in annotation)}]")
        fail(f"cannot check this argument: sciarch does not understand its annotation {describe_type(annotation)}; "
             "the plugin must annotate it with a supported type (sciarch.validation.KINDS) or typing.Any")
    assert kind is not None
    if kind == "any":
        return value
    if kind == "none":
        if value is None:
            return None
        fail()
    if kind == "bool":
        if isinstance(value, bool):
            return value
        fail()
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        fail()
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
            return float(value)
        fail()
    if kind == "str":
        if isinstance(value, str):
            return value
        fail()
    if kind == "path":
        if isinstance(value, (str, os.PathLike)) and str(value):
            make = annotation if isinstance(annotation, type) and issubclass(annotation, PurePath) else Path
            return make(value)
        fail(f"expected a path, got {value!r} ({type(value).__name__})")
    if kind == "literal":
        # 1 is not True, and '64' is not 64: the type must match as well as the value
        for option in args:
            if value == option and type(value) is type(option):
                return option
        same_text = [a for a in args if str(a) == str(value)]  # '16' for 16: say which is meant
        fail(f"expected one of {', '.join(repr(a) for a in args)}, got {value!r}"
             + (f"; did you mean {same_text[0]!r}?" if same_text else did_you_mean(str(value), [str(a) for a in args])))
    if kind == "union":
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own message is the precise one
            return check(value, options[0], key)
        # the option the value already is comes first ("1e-3" stays a str in str | float), then the
        # conversions, in the order written
        natural = [o for o in options if _natural(value, o)]
        errors: list[ConfigError] = []
        for option in natural + [o for o in options if o not in natural]:
            try:
                return check(value, option, key)
            except ConfigError as exc:
                errors.append(exc)
        if len(natural) == 1:  # a list for list[int] | str: the list's own message names the item
            raise errors[0]
        fail()
    if kind in ("tuple", "sequence"):
        if not isinstance(value, (list, tuple)):
            fail()
        if kind == "tuple" and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                fail(f"expected {describe_type(annotation)} ({len(args)} items), got {value!r} ({len(value)} items)")
            return tuple(check(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
        item = args[0] if args else Any
        items = [check(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if kind == "tuple" else items
    if kind == "mapping":
        if not isinstance(value, Mapping):
            fail()
        key_type, value_type = args if len(args) == 2 else (Any, Any)
        out = {}
        for k, v in value.items():
            try:
                k = check(k, key_type, key)
            except ConfigError as exc:
                fail(f"key {k!r}: {exc.problem}")
            out[k] = check(v, value_type, f"{key}.{k}")
        return out
    # kind == "class"
    if isinstance(value, annotation):
        return value
    fail()


def _natural(value: Any, option: Any) -> bool:
    """Whether ``value`` is already of ``option``'s kind, with no conversion (tried first)."""
    kind = _kind(option)
    if kind == "literal":
        return any(value == a and type(value) is type(a) for a in typing.get_args(option))
    if isinstance(value, bool):
        return kind == "bool"
    if isinstance(value, int):
        return kind == "int"
    if isinstance(value, float):
        return kind == "float"
    if isinstance(value, str):
        return kind == "str"
    if isinstance(value, (list, tuple)):
        return kind in ("tuple", "sequence")
    if isinstance(value, Mapping):
        return kind == "mapping"
    return kind == "class" and isinstance(value, option)


def check_arguments(builder: Callable, args: Mapping[str, Any], prefix: str, *,
                    source: str | None = None, lines: Mapping[str, int] | None = None,
                    skip: tuple[str, ...] = (), provided: tuple[str, ...] = (),
                    what: str = "") -> dict[str, Any]:
    """Validate ``args`` for ``builder`` and return them converted, defaults filled in.

    ``skip`` are parameters the host passes itself (``model`` for tasks); ``provided`` are those
    it may fill from the data (hints) so they need not be in the recipe.
    """
    lines = lines or {}
    params, takes_kwargs = parameters_of(builder, skip=skip)
    if not isinstance(args, Mapping):
        raise ConfigError(f"expected a mapping of arguments, got {type(args).__name__}", source=source,
                          key=prefix, line=lines.get(prefix))
    out: dict[str, Any] = {}
    for name, value in args.items():
        key = f"{prefix}.{name}"
        if name not in params:
            if takes_kwargs:
                out[name] = value
                continue
            raise ConfigError(f"unknown argument{' of ' + what if what else ''}"
                              + did_you_mean(name, list(params))
                              + (f" (known: {', '.join(params)})" if params and not did_you_mean(name, list(params)) else ""),
                              source=source, key=key, line=lines.get(key))
        out[name] = check_value(value, params[name].annotation, key, source=source, line=lines.get(key))
    for name, p in params.items():
        if name in out:
            continue
        if p.required:
            if name in provided:
                continue
            raise ConfigError(f"missing required argument '{name}'{' of ' + what if what else ''}",
                              source=source, key=prefix, line=lines.get(prefix))
        out[name] = p.default
    return out

