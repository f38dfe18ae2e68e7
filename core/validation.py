"""Check recipe arguments against the signature of the code they are passed to.

A builder's keyword parameters and their type hints are the schema: an unknown key, a value of the
wrong type or a missing required argument is reported with the key's path and the closest known
name, before anything is built or trained.
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import os
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
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
        try:
            hints = typing.get_type_hints(target)
        except Exception:
            hints = {}
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


def describe_type(annotation: Any) -> str:
    if annotation is _MISSING or annotation is Any:
        return "any"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def check_value(value: Any, annotation: Any, key: str, *, source: str | None = None,
                line: int | None = None) -> Any:
    """Return ``value`` converted to ``annotation`` (int -> float, list -> tuple, str -> Path),
    or raise :class:`ConfigError` naming ``key``."""

    def fail() -> typing.NoReturn:
        raise ConfigError(f"expected {describe_type(annotation)}, got {value!r} ({type(value).__name__})",
                          source=source, key=key, line=line)

    if annotation is _MISSING or annotation is Any or annotation is object:
        return value
    if isinstance(annotation, str):  # an unresolved forward reference: do not guess
        return value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Union or (types.UnionType is not None and origin is types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own message is the precise one
            return check_value(value, options[0], key, source=source, line=line)
        for option in options:
            try:
                return check_value(value, option, key, source=source, line=line)
            except ConfigError:
                continue
        fail()
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"expected one of {', '.join(repr(a) for a in args)}, got {value!r}"
                          + did_you_mean(str(value), [str(a) for a in args]),
                          source=source, key=key, line=line)
    if annotation is type(None) or annotation is None:
        if value is None:
            return None
        fail()
    if annotation is bool:
        if isinstance(value, bool):
            return value
        fail()
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        fail()
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        fail()
    if annotation is str:
        if isinstance(value, str):
            return value
        fail()
    if annotation is Path or annotation is os.PathLike:
        if isinstance(value, (str, Path)):
            return str(value)
        fail()
    if origin in (list, cabc.Sequence, cabc.MutableSequence, tuple, cabc.Iterable) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            fail()
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(args) != len(value):
                fail()
            return tuple(check_value(v, a, f"{key}[{i}]", source=source, line=line)
                         for i, (v, a) in enumerate(zip(value, args, strict=True)))
        item = args[0] if args else Any
        items = [check_value(v, item, f"{key}[{i}]", source=source, line=line) for i, v in enumerate(value)]
        return tuple(items) if (origin is tuple or annotation is tuple) else items
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or annotation is dict:
        if not isinstance(value, Mapping):
            fail()
        vtype = args[1] if len(args) == 2 else Any
        return {k: check_value(v, vtype, f"{key}.{k}", source=source, line=line) for k, v in value.items()}
    if isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        fail()
    return value


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

