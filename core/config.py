"""Recipes: YAML files that name a dataset, a model, a task and trainer settings.

A recipe looks like this (every section but ``data``, ``model`` and ``task`` is optional)::

    summary: D-MPNN on FreeSolv hydration free energies
    seed: 0
    data:  {name: molecules/freesolv, args: {split: random, batch_size: 50}}
    model: {name: molecules/dmpnn, args: {hidden: 300, depth: 3}}
    task:  {name: molecules/property, args: {}}
    optimizer: {name: adam, lr: 1.0e-3}
    scheduler: {name: noam, warmup_epochs: 2}
    trainer: {max_epochs: 100, gradient_clip_val: 1.0}
    checkpoint: {monitor: val/rmse, mode: min}
    early_stopping: null
    smoke: {data: {args: {limit: 64}}, trainer: {max_epochs: 1}}

``extends: other/recipe`` starts from another recipe. ``--set key=value`` overrides any key (the
value is read as YAML, so ``--set model.args.depth=4`` is an int). Everything is checked against
the code it configures before anything is built: :func:`resolve` turns a recipe into a
:class:`Resolved` one, with every argument and default spelled out, or raises
:class:`~sciarch.errors.ConfigError` naming the file, the line, the key and a close match.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, NotFoundError, did_you_mean
from .validation import check_arguments, check_value, parameters_of

TOP_LEVEL_KEYS = {
    "name": str,
    "summary": str,
    "extends": str,
    "seed": int,
    "ensemble": int,
    "data": dict,
    "model": dict,
    "task": dict,
    "optimizer": dict,
    "scheduler": (dict, type(None)),
    "trainer": dict,
    "checkpoint": dict,
    "early_stopping": (dict, type(None)),
    "smoke": dict,
    "variants": dict,
}
SECTION_KEYS = {"name", "args"}
#: Trainer arguments the host sets itself.
RESERVED_TRAINER_KEYS = {"logger", "callbacks", "default_root_dir", "enable_checkpointing", "plugins"}
CHECKPOINT_DEFAULTS = {"monitor": "val/loss", "mode": "min", "every_n_train_steps": 0, "save_top_k": 1}
EARLY_STOPPING_DEFAULTS = {"monitor": None, "mode": None, "patience": 10, "min_delta": 0.0}
OPTIMIZER_DEFAULTS = {"name": "adamw", "lr": 1e-3}


@dataclass
class RecipeSource:
    """A recipe as read: the mapping, where it came from, and the line of every key."""

    data: dict[str, Any]
    source: str
    lines: dict[str, int] = field(default_factory=dict)
    #: keys that came from ``--set`` (reported as such in errors)
    overridden: set[str] = field(default_factory=set)

    def where(self, key: str) -> tuple[str, int | None]:
        if key in self.overridden or any(key.startswith(k + ".") for k in self.overridden):
            return "--set", None
        return self.source, self.lines.get(key)

    def error(self, message: str, key: str) -> ConfigError:
        source, line = self.where(key)
        return ConfigError(message, source=source, key=key, line=line)


@dataclass
class Section:
    name: str
    args: dict[str, Any]


@dataclass
class Resolved:
    """A checked recipe: every name found, every argument typed, defaults filled in."""

    name: str
    source: str
    summary: str
    seed: int
    ensemble: int
    data: Section
    model: Section
    task: Section
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    trainer: dict[str, Any]
    checkpoint: dict[str, Any]
    early_stopping: dict[str, Any] | None
    smoke: bool = False
    #: argument names each section (data, model, task) set on purpose; the rest are defaults
    explicit: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "summary": self.summary,
            "seed": self.seed,
            "ensemble": self.ensemble,
            "smoke": self.smoke,
            "data": {"name": self.data.name, "args": self.data.args},
            "model": {"name": self.model.name, "args": self.model.args},
            "task": {"name": self.task.name, "args": self.task.args},
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
            "trainer": self.trainer,
            "checkpoint": self.checkpoint,
            "early_stopping": self.early_stopping,
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(_plain(self.to_dict()), sort_keys=False, default_flow_style=False, allow_unicode=True)


def _plain(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


# -- reading -----------------------------------------------------------------------------------


def _line_map(node: yaml.Node, prefix: str = "") -> dict[str, int]:
    out: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            out[key] = key_node.start_mark.line + 1
            out.update(_line_map(value_node, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, value_node in enumerate(node.value):
            out.update(_line_map(value_node, f"{prefix}[{i}]"))
    return out


def parse_yaml(text: str, source: str) -> RecipeSource:
    """Parse recipe text; a syntax error names the file and line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", source=source, line=line) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"a recipe is a mapping of keys, got {type(data).__name__}", source=source)
    return RecipeSource(data=data, source=source, lines=_line_map(node) if node is not None else {})


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``; mappings merge key by key, anything else is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_recipe(ref: str | Path, host: Any = None, *, _seen: tuple[str, ...] = ()) -> RecipeSource:
    """Read a recipe by registered name (``molecules/freesolv``) or by path to a YAML file."""
    path = Path(ref)
    identity = str(path.resolve()) if path.is_file() else str(ref)
    if identity in _seen:
        raise ConfigError(f"recipes extend each other in a loop: {' -> '.join(_seen + (identity,))}",
                          source=str(ref), key="extends")
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise NotFoundError(f"{ref}: no such recipe file")
        source = str(path)
        recipe = parse_yaml(path.read_text(encoding="utf-8"), source)
        recipe.data.setdefault("name", path.stem)
    else:
        if host is None:
            from .plugins import get_host

            host = get_host()
        spec = host.get("recipe", str(ref))
        source = f"{spec.name} ({spec.resource.replace(':', '/')})"
        recipe = parse_yaml(spec.read_text(), source)
        recipe.data["name"] = spec.name
        recipe.data.setdefault("summary", spec.summary)
    parent = recipe.data.pop("extends", None)
    if parent:
        if not Path(str(parent)).is_absolute() and path.is_file():
            candidate = path.parent / str(parent)
            parent = candidate if candidate.is_file() else parent
        try:
            base = read_recipe(parent, host, _seen=_seen + (identity,))
        except NotFoundError as exc:
            raise recipe.error(str(exc), "extends") from None
        merged = deep_merge(base.data, recipe.data)
        merged["name"] = recipe.data.get("name", base.data.get("name"))
        # line numbers are kept for this file's keys only: a base recipe's lines are in another file
        recipe = RecipeSource(merged, recipe.source, recipe.lines)
    return recipe


def apply_overrides(recipe: RecipeSource, overrides: list[str] | tuple[str, ...]) -> RecipeSource:
    """Apply ``key.sub=value`` overrides; the value is parsed as YAML (``3`` is an int)."""
    data = copy.deepcopy(recipe.data)
    overridden = set(recipe.overridden)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"expected key=value, got {item!r}", source="--set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"cannot read value {raw!r} ({exc})", source="--set", key=key) from None
        parts = key.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            if not isinstance(node.get(part), dict):
                if part in node and node[part] is not None:
                    raise ConfigError(f"'{'.'.join(parts[:i + 1])}' is not a mapping", source="--set", key=key)
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
        overridden.add(key)
    return RecipeSource(data, recipe.source, recipe.lines, overridden)


def apply_smoke(recipe: RecipeSource) -> RecipeSource:
    """The recipe's tiny CPU variant: its ``smoke`` mapping merged over it, on one CPU."""
    smoke = recipe.data.get("smoke") or {}
    if not isinstance(smoke, Mapping):
        raise recipe.error("expected a mapping of overrides", "smoke")
    data = deep_merge(recipe.data, smoke)
    trainer = data.setdefault("trainer", {})
    trainer.update({"accelerator": "cpu", "devices": 1})
    trainer.pop("strategy", None)
    trainer.pop("num_nodes", None)
    if str(trainer.get("precision", "")).startswith(("16", "bf16")):
        trainer["precision"] = "32-true"
    lines = dict(recipe.lines)
    for key, line in recipe.lines.items():
        if key.startswith("smoke."):
            lines[key[len("smoke."):]] = line
    return RecipeSource(data, recipe.source, lines, set(recipe.overridden))


# -- checking ----------------------------------------------------------------------------------


def _check_section(recipe: RecipeSource, key: str) -> tuple[str, dict[str, Any]]:
    section = recipe.data.get(key)
    if section is None:
        raise ConfigError(f"missing section '{key}' (with name: and args:)", source=recipe.source)
    if isinstance(section, str):
        return section, {}
    if not isinstance(section, Mapping):
        raise recipe.error("expected a mapping with name: and args:", key)
    for sub in section:
        if sub not in SECTION_KEYS:
            raise recipe.error(f"unknown key{did_you_mean(str(sub), SECTION_KEYS)}", f"{key}.{sub}")
    name = section.get("name")
    if not isinstance(name, str) or not name:
        raise recipe.error("expected the registered name of a " + key, f"{key}.name")
    args = section.get("args") or {}
    if not isinstance(args, Mapping):
        raise recipe.error("expected a mapping of arguments", f"{key}.args")
    return name, dict(args)


def _lookup(host: Any, kind: str, recipe: RecipeSource, key: str, name: str) -> Any:
    try:
        return host.get(kind, name)
    except NotFoundError as exc:
        raise recipe.error(str(exc), f"{key}.name") from None


def _args(recipe: RecipeSource, prefix: str, builder: Any, args: dict[str, Any], *, what: str,
          skip: tuple[str, ...] = (), provided: tuple[str, ...] = ()) -> dict[str, Any]:
    source, _ = recipe.where(prefix)
    try:
        return check_arguments(builder, args, prefix, source=source, lines=recipe.lines, skip=skip,
                               provided=provided, what=what)
    except ConfigError as exc:
        if exc.key:
            raise recipe.error(exc.problem, exc.key) from None
        raise


def _check_plain(recipe: RecipeSource, key: str, given: Mapping[str, Any] | None,
                 defaults: Mapping[str, Any], types: Mapping[str, Any]) -> dict[str, Any]:
    given = given or {}
    if not isinstance(given, Mapping):
        raise recipe.error("expected a mapping", key)
    out = dict(defaults)
    for name, value in given.items():
        if name not in types:
            raise recipe.error(f"unknown key{did_you_mean(str(name), list(types))}", f"{key}.{name}")
        try:
            out[name] = check_value(value, types[name], f"{key}.{name}")
        except ConfigError as exc:
            raise recipe.error(exc.problem, f"{key}.{name}") from None
    return out


def provided_by(builder: Any) -> tuple[str, ...]:
    """The arguments a data builder's ``hints()`` fill: its ``provides``, or its return class's."""
    provides = getattr(builder, "provides", None)
    if provides is None and not isinstance(builder, type):
        import typing

        try:
            returned = typing.get_type_hints(builder).get("return")
        except Exception:
            returned = None
        provides = getattr(returned, "provides", None)
    return tuple(provides or ())


#: where Lightning's Trainer is defined (read without importing Lightning, see :func:`precheck`)
TRAINER_REFERENCE = "lightning.pytorch.trainer.trainer:Trainer"


def _unknown_argument(recipe: RecipeSource, key: str, name: str, known: list[str], what: str) -> ConfigError:
    """The error :func:`~sciarch.validation.check_arguments` gives for an argument ``known`` lacks."""
    hint = did_you_mean(name, known)
    return recipe.error(f"unknown argument of {what}{hint}" + (f" (known: {', '.join(known)})" if known and not hint
                                                               else ""), key)


def _checkpointing(recipe: RecipeSource, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, int]:
    """The recipe's ``checkpoint`` and ``early_stopping`` sections, checked and completed (early
    stopping watches the checkpoint's monitor unless it names its own), and its ``ensemble``."""
    checkpoint = _check_plain(recipe, "checkpoint", data.get("checkpoint"), CHECKPOINT_DEFAULTS,
                              {"monitor": str, "mode": str, "every_n_train_steps": int, "save_top_k": int})
    for section in ("checkpoint", "early_stopping"):
        mode = (checkpoint if section == "checkpoint" else (data.get(section) or {})).get("mode")
        if mode is not None and mode not in ("min", "max"):
            raise recipe.error(f"expected 'min' or 'max', got {mode!r}", f"{section}.mode")
    early = data.get("early_stopping")
    if early is not None:
        early = _check_plain(recipe, "early_stopping", early, EARLY_STOPPING_DEFAULTS,
                             {"monitor": str, "mode": str, "patience": int, "min_delta": float})
        early["monitor"] = early["monitor"] or checkpoint["monitor"]
        early["mode"] = early["mode"] or checkpoint["mode"]
    ensemble = int(data.get("ensemble", 1))
    if ensemble < 1:
        raise recipe.error("expected a positive number of models", "ensemble")
    return checkpoint, early, ensemble


def precheck(recipe: RecipeSource, host: Any = None) -> None:
    """The checks of :func:`resolve` that need neither torch nor Lightning nor a plugin's code.

    The keys and their types, the sections and the registered names they give, the optimizer and
    scheduler names, the trainer's keys (read from Lightning's source), the checkpoint and early
    stopping settings, and the argument names of the data, model and task where their source says
    them (:func:`sciarch.signatures.static_parameters`), with the values of those whose annotations
    need only the standard library (:func:`~sciarch.signatures.static_annotations`: ``int``,
    ``Literal[...]``, ``tuple[float, ...]``): what a recipe usually gets wrong is
    reported in a fraction of a second. :func:`resolve` runs this first, then imports the code to
    check the values against its type hints and fill in the defaults.
    """
    from .optim import OPTIMIZERS, SCHEDULERS
    from .signatures import static_annotations, static_parameters
    from .validation import understands

    if host is None:
        from .plugins import get_host

        host = get_host()
    data = recipe.data
    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            raise recipe.error(f"unknown key{did_you_mean(str(key), list(TOP_LEVEL_KEYS))}", str(key))
        expected = TOP_LEVEL_KEYS[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            raise recipe.error(f"expected {names.replace('NoneType', 'null')}, got {value!r}", str(key))
    sections = []
    for key, kind in (("data", "dataset"), ("model", "model"), ("task", "task")):
        name, args = _check_section(recipe, key)
        sections.append((key, _lookup(host, kind, recipe, key, name), args))
    opt_name = (data.get("optimizer") or {}).get("name", OPTIMIZER_DEFAULTS["name"])
    if str(opt_name).lower() not in OPTIMIZERS:
        raise recipe.error(f"unknown optimizer {opt_name!r}{did_you_mean(str(opt_name), list(OPTIMIZERS))}",
                           "optimizer.name")
    scheduler = data.get("scheduler")
    if scheduler is not None and scheduler.get("name") not in SCHEDULERS:
        sched_name = scheduler.get("name")
        raise recipe.error(f"unknown scheduler {sched_name!r}{did_you_mean(str(sched_name), list(SCHEDULERS))}",
                           "scheduler.name")
    trainer = data.get("trainer") or {}
    for key in trainer:
        if key in RESERVED_TRAINER_KEYS:
            raise recipe.error("set by sciarch itself; remove it from the recipe", f"trainer.{key}")
    trainer_params = static_parameters(TRAINER_REFERENCE, decorated=True)
    if trainer_params is not None:
        for key in trainer:
            if key not in trainer_params:
                raise recipe.error(f"unknown Lightning Trainer argument{did_you_mean(key, list(trainer_params))}",
                                   f"trainer.{key}")
    _checkpointing(recipe, data)
    for key, spec, args in sections:
        known = static_parameters(spec.builder)
        if known is None:
            continue
        known = [n for n in known if not (key == "task" and n == "model")]  # the host passes a task its model
        for name in args:
            if name not in known:
                raise _unknown_argument(recipe, f"{key}.args.{name}", str(name), known, spec.name)
        annotations = static_annotations(spec.builder)
        for name, value in args.items():
            annotation = annotations.get(name)
            if annotation is not None and understands(annotation):
                try:
                    check_value(value, annotation, f"{key}.args.{name}")
                except ConfigError as exc:
                    raise recipe.error(exc.problem, f"{key}.args.{name}") from None


def resolve(recipe: RecipeSource, host: Any = None, *, checked: Any = None) -> Resolved:
    """Check a recipe against the registered code and return it with every default filled in.

    ``checked(recipe)`` is called once :func:`precheck` has passed, before torch is imported (the
    CLI prints its first line there)."""
    from .optim import SCHEDULERS, optimizer_class

    if host is None:
        from .plugins import get_host

        host = get_host()
    data = recipe.data
    precheck(recipe, host)
    if checked is not None:
        checked(recipe)

    data_name, data_args = _check_section(recipe, "data")
    model_name, model_args = _check_section(recipe, "model")
    task_name, task_args = _check_section(recipe, "task")
    explicit = {"data": tuple(data_args), "model": tuple(model_args), "task": tuple(task_args)}
    data_spec = _lookup(host, "dataset", recipe, "data", data_name)
    model_spec = _lookup(host, "model", recipe, "model", model_name)
    task_spec = _lookup(host, "task", recipe, "task", task_name)

    data_builder = data_spec.load()
    provides = provided_by(data_builder)
    data_args = _args(recipe, "data.args", data_builder, data_args, what=data_spec.name, provided=("seed",))
    run_seed = int(data.get("seed", 0))
    if "seed" in parameters_of(data_builder)[0] and "seed" not in explicit["data"]:
        data_args["seed"] = run_seed  # the run's seed shuffles the data, unless the recipe set its own
    model_args = _args(recipe, "model.args", model_spec.load(), model_args, what=model_spec.name, provided=provides)
    task_args = _args(recipe, "task.args", task_spec.load(), task_args, what=task_spec.name, skip=("model",),
                      provided=provides)

    # precheck() has checked the optimizer's and scheduler's names and the reserved trainer keys
    optimizer = {**OPTIMIZER_DEFAULTS, **(data.get("optimizer") or {})}
    opt_name = optimizer.pop("name")
    # checked against the optimizer's signature; torch's own defaults are left unstated, since they
    # differ between torch versions
    checked = _args(recipe, "optimizer", optimizer_class(opt_name), optimizer, what=str(opt_name), skip=("params",))
    optimizer = {"name": str(opt_name).lower(), **{k: checked[k] for k in optimizer}}
    scheduler = data.get("scheduler")
    if scheduler is not None:
        scheduler = dict(scheduler)
        sched_name = scheduler.pop("name", None)
        scheduler = {"name": sched_name, **_args(recipe, "scheduler", SCHEDULERS[sched_name], scheduler,
                                                  what=f"scheduler {sched_name}", skip=("optimizer",
                                                  "total_steps", "steps_per_epoch"))}

    trainer = dict(data.get("trainer") or {})
    from lightning.pytorch import Trainer

    trainer_params, _ = parameters_of(Trainer)
    for key, value in trainer.items():
        if key not in trainer_params:
            raise recipe.error(f"unknown Lightning Trainer argument{did_you_mean(key, list(trainer_params))}",
                               f"trainer.{key}")
        try:
            trainer[key] = check_value(value, trainer_params[key].annotation, f"trainer.{key}")
        except ConfigError as exc:
            raise recipe.error(exc.problem, f"trainer.{key}") from None

    checkpoint, early, ensemble = _checkpointing(recipe, data)
    return Resolved(
        name=str(data.get("name", "recipe")),
        source=recipe.source,
        summary=str(data.get("summary", "")),
        seed=run_seed,
        ensemble=ensemble,
        data=Section(data_spec.name, data_args),
        model=Section(model_spec.name, model_args),
        task=Section(task_spec.name, task_args),
        optimizer=optimizer,
        scheduler=scheduler,
        trainer=trainer,
        checkpoint=checkpoint,
        early_stopping=early,
        explicit=explicit,
    )


def apply_variant(recipe: RecipeSource, name: str) -> RecipeSource:
    """The recipe with its ``variants.<name>`` mapping merged over it (``variants: {gpu: {…}}``: the
    settings the recipe's authors use on a GPU: batch size, width, data size, workers)."""
    variants = recipe.data.get("variants") or {}
    if not isinstance(variants, Mapping) or name not in variants:
        known = sorted(variants) if isinstance(variants, Mapping) else []
        raise recipe.error(f"no variant '{name}'" + (f" (known: {', '.join(known)})" if known else
                                                       " (the recipe defines no variants)"), "variants")
    if not isinstance(variants[name], Mapping):
        raise recipe.error("expected a mapping of overrides", f"variants.{name}")
    data = deep_merge(recipe.data, variants[name])
    lines = dict(recipe.lines)
    prefix = f"variants.{name}."
    for key, line in recipe.lines.items():
        if key.startswith(prefix):
            lines[key[len(prefix):]] = line
    return RecipeSource(data, recipe.source, lines, set(recipe.overridden))


def load(ref: str | Path, *, overrides: list[str] | tuple[str, ...] = (), smoke: bool = False,
         variant: str | None = None, host: Any = None, checked: Any = None) -> Resolved:
    """Read, optionally take a named variant (``gpu``) or shrink to the smoke variant, override,
    and check a recipe (``checked``: see :func:`resolve`)."""
    recipe = read_recipe(ref, host)
    if variant:
        recipe = apply_variant(recipe, variant)
    if smoke:
        recipe = apply_smoke(recipe)
    recipe = apply_overrides(recipe, overrides)
    resolved = resolve(recipe, host, checked=checked)
    resolved.smoke = smoke
    return resolved


def from_run_config(data: Mapping[str, Any], source: str, host: Any = None) -> Resolved:
    """Re-check a resolved config saved beside a run (its keys are a recipe's keys)."""
    recipe_data = {k: v for k, v in data.items() if k in TOP_LEVEL_KEYS and k not in ("smoke", "variants")}
    resolved = resolve(RecipeSource(recipe_data, source), host)
    resolved.smoke = bool(data.get("smoke", False))
    return resolved


def load_run_config(run_dir: str | Path, host: Any = None) -> Resolved:
    """The resolved recipe saved beside a run (``config.yaml``), checked again against the code."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise NotFoundError(f"{run_dir}: not a run directory (no config.yaml)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"invalid YAML ({exc})", source=path) from None
    if not isinstance(data, dict):
        raise ConfigError(f"a run's config is a mapping of keys, got {type(data).__name__}", source=path)
    resolved = from_run_config(data, str(path), host)
    resolved.explicit = {s: tuple((data.get(s) or {}).get("args") or {}) for s in ("data", "model", "task")}
    return resolved
