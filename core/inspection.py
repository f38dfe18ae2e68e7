"""``sciarch inspect``: what a model *is*, measured the same way for every plugin.

Three things are called "a model", and each can be inspected:

- an **architecture** (a registered model, ``splice/spliceai-10k``): its free parameters (the
  builder's arguments and defaults) and its structure at those defaults;
- a **model** (a recipe): the architecture with the recipe's hyperparameters, and what it trains on;
- a **fit model** (a run directory): the model of the run, where its weights came from (recipe,
  data, steps, checkpoint hash) and its test metrics.

For each, one batch of real input is taken from the data (a recipe's smoke variant, at the
recipe's batch size) and the model is run on it to measure: layers with output shapes and
parameter counts; multiply–accumulates and FLOPs per example (torch's own FLOP counter); the
memory of the tensors a forward pass and a training step keep alive at their peak (every tensor an
operation creates, counted by storage, until it is freed); the receptive field of sequence and
image models, computed from the convolutions and confirmed by the gradient of one output; the
message-passing hops of graph models; the arithmetic intensity and where the model sits on this
machine's roofline (peak FLOP/s and memory bandwidth measured once and cached); and measured
throughput. Nothing here is specific to a plugin: a third party's model is inspected the same way.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import platform
import time
import warnings
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from .errors import NotFoundError, UsageError

KINDS = ("architecture", "model", "fit model")


# -- what is inspected -----------------------------------------------------------------------------


@dataclass
class Target:
    """A name resolved to one of the three kinds, with what is needed to build and probe it."""

    name: str
    kind: str
    resolved: Any  # a sciarch.config.Resolved: the recipe whose data feeds the probe
    model_args: dict[str, Any]
    run: Any = None  # a sciarch.Run for a fit model
    note: str = ""
    probed: Any = None  # (task, batch, datamodule) once built
    captured: Any = None  # (args, kwargs) the model was called with on that batch


def resolve_target(name: str, *, as_kind: str | None = None, host: Any = None) -> Target:
    """A run directory, a registered recipe or a registered model, in that order of preference
    (``as_kind`` chooses when a name is both a recipe and a model)."""
    from .config import load
    from .plugins import get_host

    host = host or get_host()
    path = Path(name)
    is_run = (path / "config.yaml").is_file() or (path.suffix == ".ckpt" and path.is_file())
    if as_kind in (None, "fit model", "run") and is_run:
        from .runs import Run

        run = Run(path)
        config = run.config
        probe = _probe_recipe(config.name, host) or config
        return Target(str(run.path), "fit model", probe, dict(config.model.args), run=run)
    recipes, models = host.specs("recipe"), host.specs("model")
    recipe = _find(host, "recipe", name)
    model = _find(host, "model", name)
    if as_kind == "architecture" or (recipe is None and model is not None):
        if model is None:
            raise NotFoundError(f"no registered model '{name}' (see 'sciarch models')")
        return _architecture(model, host)
    if recipe is None:
        from .errors import did_you_mean

        raise NotFoundError(f"'{name}' is not a run directory, a recipe or a model"
                            + did_you_mean(name, [*recipes, *models]))
    resolved = load(recipe.name, host=host)
    note = f"'{name}' is also an architecture: --as architecture" if model is not None else ""
    return Target(recipe.name, "model", _probe_recipe(recipe.name, host) or resolved, dict(resolved.model.args),
                  note=note)


def _find(host: Any, kind: str, name: str) -> Any:
    try:
        return host.get(kind, name)
    except NotFoundError:
        return None


def _probe_recipe(name: str, host: Any) -> Any:
    """The smoke variant of a registered recipe at the full recipe's batch size (its data is what
    the probe runs on), or None when ``name`` is not registered."""
    from .config import load

    if _find(host, "recipe", name) is None:
        return None
    full = load(name, host=host)
    smoke = load(name, smoke=True, host=host)
    if "batch_size" in full.data.args and "batch_size" in smoke.data.args:
        smoke.data.args["batch_size"] = full.data.args["batch_size"]
    return smoke


def _architecture(model: Any, host: Any) -> Target:
    """A registered model at its defaults, probed with the data of a recipe: one that trains this
    model, else one that trains another model for the same task (``ModelSpec.task``); recipes on
    embedded data first, and the first whose data the model accepts."""
    from .config import load
    from .validation import parameters_of

    params, _ = parameters_of(model.load())
    defaults = {n: p.default for n, p in params.items() if not p.required}
    models = host.specs("model")
    datasets = host.specs("dataset")
    ranked = []
    for recipe in sorted(host.specs("recipe").values(), key=lambda r: r.name):
        try:
            resolved = load(recipe.name, smoke=True, host=host)
        except Exception:  # a recipe that cannot resolve here does not stop the probe
            continue
        same_model = resolved.model.name == model.name
        same_task = getattr(models.get(resolved.model.name), "task", None) == model.task
        if not (same_model or same_task):
            continue
        embedded = bool(getattr(datasets.get(resolved.data.name), "embedded", False))
        ranked.append((not same_model, not embedded, recipe.name))
    tried = []
    # each recipe's smoke data first; then its full data (a long-context model needs longer windows
    # than any smoke variant cuts)
    for smoke in (True, False):
        for other_model, _, name in sorted(ranked):
            resolved = _probe_recipe(name, host) if smoke else load(name, host=host)
            target = Target(model.name, "architecture", resolved, dict(defaults),
                            note=f"probed with the data of recipe {name} ({'smoke variant' if smoke else 'full data'})"
                                 + (f", which trains {load(name, host=host).model.name}" if other_model else ""))
            try:
                target.probed = _probe(target, host)
                target.captured = capture_inputs(*target.probed[:2])  # the model runs on this data
            except Exception as exc:  # this recipe's data does not fit the model (context, input kind)
                reason = str(exc).splitlines()[0][:120] if str(exc) else ""
                tried.append(f"{name}{'' if smoke else ' (full)'}: {type(exc).__name__}: {reason}")
                continue
            return target
    note = "no recipe's data fits it: not probed" + (f" (tried {'; '.join(tried)})" if tried else "")
    return Target(model.name, "architecture", None, defaults, note=note)


# -- measuring ----------------------------------------------------------------------------------


class _LiveTensors(TorchDispatchMode):
    """Counts the bytes of every storage an operation creates while it is alive; keeps the peak."""

    def __init__(self) -> None:
        super().__init__()
        self.live: dict[int, list] = {}  # storage pointer -> [bytes, live tensors]
        self.before: set[int] = set()  # storages that existed before (inputs, weights)
        self.current = 0
        self.peak = 0

    def _forget(self, key: int) -> None:
        entry = self.live.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] <= 0:
            self.current -= entry[0]
            del self.live[key]

    def _track(self, tensor: torch.Tensor) -> None:
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):
            return
        key = storage.data_ptr()
        if key == 0 or key in self.before:
            return
        entry = self.live.get(key)
        if entry is None:
            entry = self.live[key] = [storage.nbytes(), 0]
            self.current += entry[0]
            self.peak = max(self.peak, self.current)
        entry[1] += 1
        weakref.finalize(tensor, self._forget, key)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        for item in torch.utils._pytree.tree_leaves((args, kwargs)):  # storages made before: never counted
            if isinstance(item, torch.Tensor):
                with contextlib.suppress(RuntimeError, NotImplementedError):
                    key = item.untyped_storage().data_ptr()
                    if key not in self.live:
                        self.before.add(key)
        out = func(*args, **(kwargs or {}))
        for item in torch.utils._pytree.tree_leaves(out):
            if isinstance(item, torch.Tensor):
                self._track(item)
        return out


def _scalar(output: Any) -> torch.Tensor | None:
    """A scalar to differentiate: the sum of every floating output that carries a gradient."""
    total = None
    for item in torch.utils._pytree.tree_leaves(output):
        if isinstance(item, torch.Tensor) and item.is_floating_point() and item.requires_grad:
            part = item.float().sum()
            total = part if total is None else total + part
    return total


def _batch_size(args: tuple, kwargs: dict, fallback: int | None) -> int:
    for item in [*args, *kwargs.values()]:
        graphs = getattr(item, "num_graphs", None)
        if isinstance(graphs, int):
            return graphs
        if isinstance(item, torch.Tensor) and item.ndim > 0:
            return int(item.shape[0])
        if isinstance(item, (list, tuple)) and item and isinstance(item[0], torch.Tensor):
            return len(item)
    return int(fallback or 1)


def _shape(output: Any) -> str:
    graphs = [g for g in torch.utils._pytree.tree_leaves(output) if isinstance(getattr(g, "num_graphs", None), int)]
    if graphs:  # a batch of graphs (PyG's Batch and alike)
        g = graphs[0]
        return f"{g.num_graphs} graphs, {g.num_nodes} nodes, {g.num_edges} edges"
    tensors = [t for t in torch.utils._pytree.tree_leaves(output) if isinstance(t, torch.Tensor)]
    if not tensors:
        return "-"
    shown = ", ".join("×".join(str(s) for s in t.shape) for t in tensors[:2])
    return shown + (f" (+{len(tensors) - 2})" if len(tensors) > 2 else "")


def _nbytes(output: Any) -> int:
    return sum(t.numel() * t.element_size() for t in torch.utils._pytree.tree_leaves(output)
               if isinstance(t, torch.Tensor))


def capture_inputs(task: Any, batch: Any) -> tuple[tuple, dict]:
    """The arguments the task passes its model for ``batch`` (from one training step, stopped at
    the model's first call)."""

    class Captured(Exception):
        pass

    seen: dict[str, Any] = {}

    def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
        seen["args"], seen["kwargs"] = args, kwargs
        raise Captured

    handle = task.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # self.log outside a Trainer
            task.train()
            with contextlib.suppress(Captured):
                task.training_step(batch, 0)
    finally:
        handle.remove()
    if "args" in seen:
        return seen["args"], seen["kwargs"]
    # the task calls parts of its model (a front end, then the rest): the convention that a batch
    # starts with the model's input is the best guess, checked by running the model on it
    first = batch[0] if isinstance(batch, (list, tuple)) and batch else batch
    try:
        with torch.no_grad():
            task.model.eval()
            task.model(first)
    except Exception as exc:
        raise UsageError(f"cannot probe {type(task.model).__name__}: {type(task).__name__}.training_step does not "
                         f"call the model, and the model does not take the batch's first element "
                         f"({type(exc).__name__}: {exc})") from None
    return (first,), {}


def layer_table(model: nn.Module, args: tuple, kwargs: dict, depth: int = 1,
                run: Any = None) -> tuple[list[dict], int]:
    """Each module ``depth`` levels down: name, type, output shape, parameters; and the bytes every
    leaf module's outputs take (for the arithmetic intensity). ``run``: a function that makes the
    forward pass itself (one pass measures more than this table), else one is made here."""
    rows: dict[str, dict[str, Any]] = {}
    leaf_bytes = [0]
    handles = []
    for name, module in model.named_modules():
        level = 0 if not name else name.count(".") + 1
        if 0 < level <= depth:
            rows[name] = {"name": name, "type": type(module).__name__, "output": "-", "calls": 0,
                          "params": sum(p.numel() for p in module.parameters())}

            def record(mod: nn.Module, inp: Any, out: Any, key: str = name) -> None:
                rows[key]["calls"] += 1
                if rows[key]["output"] == "-":
                    rows[key]["output"] = _shape(out)

            handles.append(module.register_forward_hook(record))
        if not list(module.children()):
            def count(mod: nn.Module, inp: Any, out: Any) -> None:
                leaf_bytes[0] += _nbytes(out)

            handles.append(module.register_forward_hook(count))
    if run is None:
        _run_hooked(model, handles, args, kwargs)
    else:
        try:
            run()
        finally:
            for handle in handles:
                handle.remove()
    return [row for row in rows.values()], leaf_bytes[0]


def _run_hooked(model: nn.Module, handles: list, args: tuple, kwargs: dict) -> Any:
    """One forward pass without gradients with ``handles`` (hooks) attached, removed afterwards."""
    try:
        with torch.no_grad():
            return model(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()


def count_flops(fn: Any) -> int:
    """FLOPs of ``fn()`` by torch's FLOP counter (a multiply–accumulate counts as two)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def peak_live_bytes(fn: Any) -> int:
    """The peak bytes of tensors ``fn()`` creates and keeps alive at once (inputs and weights
    that existed before are not counted)."""
    tracker = _LiveTensors()
    with tracker:
        fn()
    return int(tracker.peak)


def flops_and_peak_bytes(fn: Any) -> tuple[int, int]:
    """:func:`count_flops` and :func:`peak_live_bytes` of ``fn()`` from one call (a heavy model's
    forward pass is run once for both)."""
    counter, tracker = FlopCounterMode(display=False), _LiveTensors()
    with counter, tracker:
        fn()
    return int(counter.get_total_flops()), int(tracker.peak)


# -- receptive field ------------------------------------------------------------------------------


_CONV = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.MaxPool1d, nn.MaxPool2d, nn.AvgPool1d, nn.AvgPool2d)


def _pair(value: Any, dims: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),) * dims


def receptive_field(model: nn.Module, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """The receptive field along the last axis of the first convolution's input: computed from
    every convolution and pooling in the order they run (each adds ``(k − 1)·dilation`` times the
    stride so far), and measured as the span of inputs with a non-zero gradient for the centre
    output. ``None`` when the model has no convolution or its output is not a map."""
    if not args or not isinstance(args[0], torch.Tensor):
        return None  # a list of pictures for a detector, a graph batch: no single positional axis
    order: list[nn.Module] = []
    first: dict[str, torch.Tensor] = {}

    def note(module: nn.Module, inp: tuple) -> Any:
        order.append(module)
        if "x" not in first and inp and isinstance(inp[0], torch.Tensor) and inp[0].is_floating_point():
            leaf = inp[0].detach().clone().requires_grad_(True)
            first["x"] = leaf
            return (leaf, *inp[1:])
        return None

    handles = [m.register_forward_pre_hook(note) for m in model.modules() if isinstance(m, _CONV)]
    if not handles:
        return None
    try:
        with torch.enable_grad():
            output = model(*args, **kwargs)
    finally:
        for handle in handles:
            handle.remove()
    axis = "last axis of the first convolution's input"
    if "x" not in first:  # the model ran its weights through functional calls (a fused inference path):
        # measure at its own input, and take the convolutions in the order they are registered
        if not args[0].is_floating_point():
            return None
        order = [m for m in model.modules() if isinstance(m, _CONV)]
        first["x"] = args[0].detach().clone().requires_grad_(True)
        with torch.enable_grad():
            output = model(first["x"], *args[1:], **kwargs)
        axis = "last axis of the model's input (convolutions in the order registered)"
    dims = 2 if isinstance(order[0], (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)) else 1
    span, jump = 1, 1
    per_layer = []
    for module in order:
        k = _pair(module.kernel_size, dims)[-1]
        d = _pair(getattr(module, "dilation", 1), dims)[-1]
        s = _pair(module.stride, dims)[-1] if module.stride is not None else k
        span += (k - 1) * d * jump
        jump *= s
        per_layer.append(span)
    # a dense map over the input (batch, channels, positions…), not detections or a pooled vector
    maps = [t for t in torch.utils._pytree.tree_leaves(output)
            if isinstance(t, torch.Tensor) and t.ndim >= 2 + dims and t.shape[-1] > 1 and t.requires_grad]
    if not maps:
        return None
    result: dict[str, Any] = {"computed": span, "axis": axis,
                              "layers": len(order), "per_layer": per_layer}
    own = getattr(model, "receptive_field", None) or getattr(model, "context", None)
    if isinstance(own, int):
        result["stated_by_model"] = own
    out = maps[0]
    centre = out.shape[-1] // 2
    out[0, ..., centre].sum().backward()
    grad = first["x"].grad
    if grad is None:
        result["measured"] = None
        return result
    along = grad[0].abs().reshape(-1, grad.shape[-1]).sum(0) if grad.ndim > 1 else grad.abs()
    hit = torch.nonzero(along > 0).flatten()
    if hit.numel() == 0:
        result["measured"] = 0
        return result
    low, high = int(hit.min()), int(hit.max())
    result["measured"] = high - low + 1
    result["input_length"] = int(grad.shape[-1])
    result["truncated"] = (low == 0 or high == grad.shape[-1] - 1) and span > result["measured"]
    result["whole_input"] = low == 0 and high == grad.shape[-1] - 1
    return result


def receptive_field_long_enough(model: nn.Module, args: tuple, kwargs: dict) -> dict[str, Any] | None:
    """:func:`receptive_field`, probed again on the input repeated along its last axis when the
    probe was shorter than the field (a one-second clip for a two-second field)."""
    result = receptive_field(model, args, kwargs)
    if not result or not result.get("truncated") or not args or not isinstance(args[0], torch.Tensor):
        return result
    x = args[0]
    times = min(64, math.ceil((2 * result["computed"] + 2) / max(1, result["input_length"])) + 1)
    longer = torch.cat([x] * times, dim=-1)
    again = receptive_field(model, (longer, *args[1:]), kwargs)
    if again is not None:
        again["probe_repeated"] = times
        return again
    return result


def backbone_receptive_field(model: nn.Module, args: tuple) -> dict[str, Any] | None:
    """For a detector that takes a list of pictures and has a ``backbone`` (torchvision's
    ``GeneralizedRCNN`` and its kin): the receptive field of the centre of the backbone's finest
    feature map, across the picture's width, probed with the first picture."""
    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, nn.Module) or not args or not isinstance(args[0], (list, tuple)):
        return None
    pictures = [p for p in args[0] if isinstance(p, torch.Tensor) and p.ndim == 3 and p.is_floating_point()]
    if not pictures:
        return None
    picture = pictures[0].unsqueeze(0)
    result = receptive_field(backbone, (picture,), {})
    # ``truncated`` here means the gradient reached an edge of the picture (the over-counted span
    # exceeds any picture): widen until it does not
    while result is not None and result.get("truncated") and picture.shape[-1] < 1024:
        picture = torch.cat([picture, picture], dim=-1)  # wider, until the field fits inside
        result = receptive_field(backbone, (picture,), {})
    if result is None:
        return None
    result.update(axis="picture width, for the centre of the backbone's finest feature map", of="backbone")
    # a backbone branches (residual blocks, an FPN's lateral and top-down paths): adding its layers
    # in the order they run over-counts, so the gradient's span is the figure
    result["computed"] = None
    result.pop("per_layer", None)
    return result


_REPEATED = ("interaction_blocks", "interactions", "layers", "convs", "blocks", "atom_convs")


def message_passing_hops(model: nn.Module, args: tuple, kwargs: dict) -> int | None:
    """For a graph model (its input is a batch of graphs): the hops of message passing, counted as
    the message-passing layers that run (modules with ``propagate``), else the members of its
    repeated block list that run (``interaction_blocks``, ``layers``, …), else its ``depth``."""
    graph = any(isinstance(getattr(a, "num_graphs", None), int) or hasattr(a, "edge_index")
                for a in [*args, *kwargs.values()])
    if not graph:
        return None
    passing = [m for m in model.modules() if callable(getattr(m, "propagate", None))]
    repeated = [member for name, child in model.named_modules() if isinstance(child, nn.ModuleList)
                and name.rsplit(".", 1)[-1] in _REPEATED for member in child]
    counts = {"passing": 0, "repeated": 0}

    def counter(kind: str) -> Any:
        return lambda *_: counts.__setitem__(kind, counts[kind] + 1)

    handles = [m.register_forward_hook(counter("passing")) for m in passing]
    handles += [m.register_forward_hook(counter("repeated")) for m in repeated]
    _run_hooked(model, handles, args, kwargs)
    if counts["passing"]:
        return counts["passing"]
    if counts["repeated"]:
        return counts["repeated"]
    for name in ("depth", "num_layers", "num_interactions"):
        value = getattr(model, name, None)
        if isinstance(value, int):
            return value
    return None


# -- the machine's roofline ------------------------------------------------------------------------


def machine_peaks(device: str = "cpu", *, refresh: bool = False) -> dict[str, Any]:
    """Peak FLOP/s (a float32 matrix product; bf16 on GPU too) and memory bandwidth (a large
    tensor copy) of this machine at the current thread count, measured once and cached."""
    from .cache import cache_dir
    from .io import write_json

    threads = torch.get_num_threads()
    name = platform.processor() or platform.machine()
    if device != "cpu" and torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
    key = hashlib.sha256(f"{name}|{device}|{threads}|{torch.__version__}|{os.cpu_count()}".encode()).hexdigest()[:16]
    path = cache_dir("machine") / f"peaks-{key}.json"
    if path.is_file() and not refresh:
        return json.loads(path.read_text())
    dev = torch.device(device)

    def best_seconds(fn: Any, repeats: int = 5) -> float:
        fn()
        times = []
        for _ in range(repeats):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
            fn()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - started)
        return min(times)

    n = 1024 if dev.type == "cpu" else 8192
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    flops = 2 * n ** 3 / best_seconds(lambda: a @ b)
    peaks = {"device": name, "kind": dev.type, "threads": threads, "torch": torch.__version__,
             "peak_flops": flops, "peak_flops_dtype": "float32"}
    if dev.type == "cuda":
        a16, b16 = a.bfloat16(), b.bfloat16()
        peaks["peak_flops_bf16"] = 2 * n ** 3 / best_seconds(lambda: a16 @ b16)
    size = (64 if dev.type == "cpu" else 1024) * 2 ** 20 // 4
    src, dst = torch.randn(size, device=dev), torch.empty(size, device=dev)
    peaks["bandwidth"] = 2 * size * 4 / best_seconds(lambda: dst.copy_(src))  # read + write
    peaks["measured"] = time.strftime("%Y-%m-%d %H:%M:%S")
    write_json(path, peaks)
    return peaks


# -- the whole report -------------------------------------------------------------------------------


@dataclass
class Report:
    name: str
    kind: str
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, **self.facts}


def _free_parameters(builder: Any, values: dict[str, Any]) -> list[dict[str, Any]]:
    from .validation import describe_type, parameters_of

    params, _ = parameters_of(builder)
    return [{"name": n, "type": describe_type(p.annotation),
             "default": "required" if p.required else repr(p.default),
             "value": repr(values[n]) if n in values else "-"} for n, p in params.items()]


def _probe(target: Target, host: Any) -> tuple[Any, Any, Any]:
    """The task (with the target's model), one batch of its data, and the data module."""
    from .building import apply_hints, build_task, make_datamodule

    resolved = copy.deepcopy(target.resolved)
    if target.kind == "architecture":
        resolved.model.name = target.name  # the recipe gives the data; the model is the one inspected
    resolved.model.args = dict(target.model_args)
    resolved.explicit = {**resolved.explicit, "model": tuple(target.model_args)}
    with _quiet_data():
        datamodule = make_datamodule(resolved, host=host)
        complete, _ = apply_hints(resolved, datamodule, host)
        if target.kind == "architecture":  # defaults everywhere except what the data decides
            complete.model.args = {**target.model_args,
                                   **{k: v for k, v in complete.model.args.items() if k not in target.model_args}}
        task = build_task(complete, host)
        target.model_args = dict(complete.model.args)  # what the model was built with
        if target.run is not None:
            from .io import load_checkpoint

            task.load_state_dict(load_checkpoint(target.run.checkpoint)["state_dict"])
        if hasattr(datamodule, "prepare_data"):
            datamodule.prepare_data()
        datamodule.setup("fit")
        batch = next(iter(datamodule.train_dataloader()))
    return task, batch, datamodule


def _probe_model(target: Target, spec: Any, host: Any) -> tuple[Any, Any, tuple, dict]:
    """The task, a batch and the model's inputs for a target: its recipe's smoke data; else the
    recipe's full data (a splice model's context is longer than the smoke windows); else, when the
    recipe reads the user's own copy of a dataset, the data of another recipe the model runs on."""
    from .config import load
    from .errors import DataError

    try:
        task, batch, _ = target.probed or _probe(target, host)
        return task, batch, *(target.captured or capture_inputs(task, batch))
    except Exception:
        if target.kind == "architecture" or _find(host, "recipe", target.resolved.name) is None:
            raise
    recipe = target.resolved.name
    try:
        target.resolved = load(recipe, host=host)
        task, batch, _ = _probe(target, host)
        target.note = (target.note + "; " if target.note else "") + "probed with the recipe's full data"
        return task, batch, *capture_inputs(task, batch)
    except (UsageError, NotFoundError, DataError) as exc:  # the data is the user's copy, not here
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        other = _architecture(spec, host)
        if other.resolved is None:
            raise
    other.resolved.model.name = spec.name
    target.resolved = other.resolved
    task, batch, _ = _probe(target, host)
    target.note = (target.note + "; " if target.note else "") + (
        f"its own data cannot be read here ({reason.split(': ')[0][:160]}): {other.note.replace('probed with', 'probed instead with')}"
        "; the sizes a recipe's data decides (classes, features) are that data's")
    return task, batch, *capture_inputs(task, batch)


@contextlib.contextmanager
def _quiet_data() -> Iterator[None]:
    from .trainers import quiet

    with quiet(info=False), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def inspect_target(target: Target, *, host: Any = None, device: str = "cpu", repeats: int = 3) -> Report:
    """Measure everything the module docstring lists for one target."""
    from .plugins import get_host

    host = host or get_host()
    spec = host.get("model", target.name if target.kind == "architecture" or target.resolved is None
                    else target.resolved.model.name)
    report = Report(target.name, target.kind)
    facts = report.facts
    facts["architecture"] = spec.name
    if target.note:
        facts["note"] = target.note
    if target.kind in ("model", "fit model") and target.resolved is not None:
        facts["trains_on"] = {"dataset": target.resolved.data.name,
                              "summary": getattr(_find(host, "recipe", target.resolved.name), "trains_on", ())}
    if target.run is not None:
        summary = target.run.summary
        checkpoint = target.run.checkpoint
        from .cache import hash_file

        facts["weights"] = {"recipe": target.run.config.name, "data": target.run.config.data.name,
                            "data_args": target.run.config.data.args, "steps": summary.get("global_step"),
                            "epochs": summary.get("epochs"), "checkpoint": str(checkpoint),
                            "checkpoint_sha256": hash_file(checkpoint), "source": summary.get("source")}
        facts["test_metrics"] = summary.get("test") or {}
        facts["combined_test_metrics"] = summary.get("combined_test") or {}
    if target.resolved is None:
        facts["free_parameters"] = _free_parameters(spec.load(), target.model_args)
        return report
    task, batch, args, kwargs = _probe_model(target, spec, host)
    if target.note:
        facts["note"] = target.note
    facts["free_parameters"] = _free_parameters(spec.load(), target.model_args)
    model = task.model
    model.eval()
    examples = _batch_size(args, kwargs, target.resolved.data.args.get("batch_size"))
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    facts.update(parameters=total, trainable_parameters=trainable, probe_batch=examples,
                 probe_input=_shape(list(args) + list(kwargs.values())))

    def forward() -> Any:
        with torch.no_grad():
            return model(*args, **kwargs)

    def training_step() -> None:
        model.train()
        try:
            loss = _scalar(model(*args, **kwargs))
            if loss is not None:
                loss.backward()
        finally:
            model.zero_grad(set_to_none=True)
            model.eval()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        measured: dict[str, tuple[int, int]] = {}  # the layer table's pass counts FLOPs and memory too
        layers, leaf_bytes = layer_table(model, args, kwargs,
                                         run=lambda: measured.update(forward=flops_and_peak_bytes(forward)))
        facts["layers"] = layers
        flops, forward_bytes = measured["forward"]
        train_flops, training_bytes = flops_and_peak_bytes(training_step)
        facts["flops_per_example"] = flops / examples
        facts["macs_per_example"] = flops / 2 / examples
        facts["training_flops_per_example"] = train_flops / examples
        facts["forward_activation_bytes"] = forward_bytes
        facts["training_activation_bytes"] = training_bytes
        rf = receptive_field_long_enough(model, args, kwargs) or backbone_receptive_field(model, args)
        if rf is not None:
            facts["receptive_field"] = rf
        hops = message_passing_hops(model, args, kwargs)
        if hops is not None:
            facts["message_passing_hops"] = hops
        moved = param_bytes + _nbytes(list(args) + list(kwargs.values())) + 2 * leaf_bytes
        facts["bytes_moved_per_batch"] = moved
        facts["arithmetic_intensity"] = flops / moved if moved else None
        times, cpu = [], []
        for _ in range(max(1, repeats)):
            started, cpu_started = time.perf_counter(), time.process_time()
            forward()
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            if times[-1] > 2.0:  # a slow model: one timed pass (after the warm-up ones above) is enough
                break
    best = min(times)
    facts["throughput"] = {"examples_per_s": examples / best, "batch": examples, "seconds_per_batch": best,
                           "cpu_seconds_per_batch": min(cpu), "threads": torch.get_num_threads()}
    peaks = machine_peaks(device)
    achieved = flops / best
    ridge = peaks["peak_flops"] / peaks["bandwidth"]
    intensity = facts["arithmetic_intensity"] or 0.0
    facts["roofline"] = {"peak_flops": peaks["peak_flops"], "bandwidth": peaks["bandwidth"], "ridge": ridge,
                         "attainable_flops": min(peaks["peak_flops"], peaks["bandwidth"] * intensity),
                         "achieved_flops": achieved, "bound": "memory" if intensity < ridge else "compute",
                         "machine": peaks["device"]}
    return report


# -- printing -------------------------------------------------------------------------------------


def _human(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}{unit}"
    return f"{value:.3g} {unit}".strip()


def summary_rows(report: Report) -> list[tuple[str, str]]:
    """The facts of one report as (label, value) lines, the same for every kind."""
    f = report.facts
    rf = f.get("receptive_field") or {}
    rows = [("kind", report.kind), ("architecture", f.get("architecture", "-"))]
    if "parameters" in f:
        rows += [("parameters", f"{f['parameters']:,} ({f['trainable_parameters']:,} trainable)"),
                 ("probed with", f"{f['probe_input']} (batch {f['probe_batch']})"),
                 ("MACs / example", _human(f["macs_per_example"])),
                 ("FLOPs / example", _human(f["flops_per_example"])),
                 ("training FLOPs / example", _human(f["training_flops_per_example"])),
                 ("activations, forward", _human(f["forward_activation_bytes"], "B")),
                 ("activations, training step", _human(f["training_activation_bytes"], "B"))]
        if rf:
            measured = rf.get("measured")
            if rf.get("computed") is None:  # a detector's backbone: the gradient alone
                shown = (f"{measured} px across the picture (gradient, {rf.get('of', 'model')}"
                         f"{'; ≥, reached the edge' if rf.get('truncated') else ''})")
                rows.append(("receptive field", shown))
                measured = None
                rf = {}
            shown = f"{rf['computed']} (computed)" if rf else ""
            if measured is not None:
                if rf.get("whole_input") and measured > rf["computed"]:
                    shown += f", ≥ {measured} (gradient: the whole probe; beyond what its convolutions reach)"
                else:
                    shown += f", {measured} (gradient{' ≥, input too short' if rf.get('truncated') else ''})"
            if "stated_by_model" in rf:
                shown += f", {rf['stated_by_model']} (the model's own figure)"
            if shown:
                rows.append(("receptive field", shown))
        if "message_passing_hops" in f:
            rows.append(("message-passing hops", str(f["message_passing_hops"])))
        roof = f["roofline"]
        rows += [("arithmetic intensity", f"{f['arithmetic_intensity']:.3g} FLOP/B ({roof['bound']}-bound here; "
                                          f"ridge {roof['ridge']:.3g})"),
                 ("achieved / attainable", f"{_human(roof['achieved_flops'], 'FLOP/s')} / "
                                           f"{_human(roof['attainable_flops'], 'FLOP/s')}"),
                 ("throughput", f"{f['throughput']['examples_per_s']:.4g} examples/s at batch "
                                f"{f['throughput']['batch']} ({f['throughput']['threads']} threads)")]
    if "weights" in f:
        w = f["weights"]
        rows += [("weights from", f"{w['recipe']} on {w['data']}, {w['steps']} steps"),
                 ("checkpoint", f"{w['checkpoint']} (sha256 {w['checkpoint_sha256'][:12]}…)")]
        for key, value in sorted((f.get("test_metrics") or {}).items()):
            shown = f"{value['mean']:.4g} ± {value['sd']:.3g}" if isinstance(value, dict) else f"{value:.4g}"
            rows.append((key, shown))
    if f.get("note"):
        rows.append(("note", f["note"]))
    return rows


def plot(reports: list[Report], path: str | Path) -> Path:
    """The roofline with each model placed on it, and receptive field against depth for the
    sequence models."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    probed = [r for r in reports if "roofline" in r.facts]
    sequence = [r for r in probed if (r.facts.get("receptive_field") or {}).get("per_layer")]
    fig, axes = plt.subplots(1, 2 if sequence else 1, figsize=(12 if sequence else 6.5, 4.8), squeeze=False)
    ax = axes[0][0]
    if probed:
        roof = probed[0].facts["roofline"]
        xs = [10 ** (i / 10) for i in range(-20, 41)]
        ax.loglog(xs, [min(roof["peak_flops"], roof["bandwidth"] * x) for x in xs], "k-", lw=1.5,
                  label=f"{roof['machine']}: {_human(roof['peak_flops'], 'FLOP/s')}, {_human(roof['bandwidth'], 'B/s')}")
        for report in probed:
            r = report.facts["roofline"]
            ax.loglog([report.facts["arithmetic_intensity"]], [r["achieved_flops"]], "o", label=report.name)
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("FLOP/s")
    ax.set_title("roofline (forward pass)")
    ax.legend(fontsize=7)
    if sequence:
        ax2 = axes[0][1]
        for report in sequence:
            per_layer = report.facts["receptive_field"]["per_layer"]
            ax2.plot(range(1, len(per_layer) + 1), per_layer, label=report.name)
        ax2.set_xlabel("convolutions run (depth)")
        ax2.set_ylabel("receptive field (input positions)")
        ax2.set_yscale("log")
        ax2.set_title("receptive field against depth")
        ax2.legend(fontsize=7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def json_ready(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)
