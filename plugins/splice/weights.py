"""Published SpliceAI weights into sciarch runs: Illumina's Keras models and OpenSpliceAI's checkpoints.

``import_weights(sources, out)`` reads the five Keras SpliceAI models (``spliceai1.h5`` …
``spliceai5.h5`` as the ``spliceai`` distribution installs them in ``spliceai/models/``; HDF5
read with h5py, no TensorFlow) or OpenSpliceAI PyTorch checkpoints (``.pt``/``.pth`` state
dicts), and writes an ordinary run directory: ``config.yaml`` (an ensemble of as many members as
files, the matching ``splice/spliceai-*`` model with the weights' BatchNorm epsilon and
activation), ``member-<i>/checkpoints/best.ckpt``, ``summary.json`` and ``provenance.json`` (each
source file's SHA-256 and size, the licence as the source states it). Nothing is downloaded:
the files are the user's.

Keras layout: ``Conv1D`` kernels are ``(k, in, out)`` and become ``nn.Conv1d``'s ``(out, in, k)``;
``BatchNormalization`` gamma, beta, moving mean and variance become weight, bias, running mean and
running variance, with Keras's epsilon (1e-3 in SpliceAI's files, read from the model config). The
layers are found by walking the model graph saved in the file (``model_config``), not by their
auto-generated names, and the graph must be SpliceAI's: input 1×1 convolution, a 1×1 skip, residual
units (BatchNorm → ReLU → dilated conv) × 2 + identity, a 1×1 skip after every 4th unit and after
the last, crop ``CL/2``, 1×1 convolution to three classes with softmax.

OpenSpliceAI layout (Chao et al., 2025, ``openspliceai/train_base/openspliceai.py``):
``initial_conv``, ``initial_skip.conv``, ``residual_units.<j>`` holding residual units
(``batchnorm1``, ``conv1``, ``batchnorm2``, ``conv2``, leaky ReLU 0.1, torch's epsilon 1e-5) and,
after every 4th unit, a skip (``conv``), then ``final_conv``; raw state dicts, ``{"model_state_dict":
…}`` and the versioned ``{"format_version": 1, "state_dict": …, "temperature": …}`` form (whose
per-class temperature becomes the model's ``temperature``). Dilations are not stored in a state dict:
they are the published schedule for the number of units (4/8/12/16 → 80/400/2k/10k), and the kernel
sizes stored must match it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sciarch

from .spliceai import SPLICEAI_UNITS

CONTEXT_NAMES = {80: "80", 400: "400", 2000: "2k", 10000: "10k"}
KERAS_PATTERNS = ("spliceai[0-9]*.h5", "*.h5", "*.hdf5")
TORCH_PATTERNS = ("*.pt", "*.pth")


@dataclass
class Imported:
    """One source model: its SpliceAI layout and a state dict for :class:`~.spliceai.SpliceAI`."""

    path: Path
    kind: str  # "keras" or "openspliceai"
    units: tuple[tuple[int, int], ...]
    eps: float
    negative_slope: float
    state: dict[str, Any]
    temperature: tuple[float, ...] | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def context(self) -> int:
        return 2 * sum(d * (w - 1) for w, d in self.units)

    @property
    def size(self) -> str:
        return CONTEXT_NAMES[self.context]

    @property
    def channels(self) -> int:
        return int(np.asarray(self.state["input.weight"]).shape[0])

    def architecture(self) -> dict[str, Any]:
        return {"model": f"splice/spliceai-{self.size}", "context": self.context, "channels": self.channels,
                "eps": self.eps,
                "negative_slope": self.negative_slope, "temperature": self.temperature}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- Keras HDF5 ----------------------------------------------------------------------------------


def _conv(kernel: np.ndarray) -> np.ndarray:
    """Keras ``Conv1D`` kernel ``(k, in, out)`` → ``nn.Conv1d`` weight ``(out, in, k)``."""
    return np.ascontiguousarray(np.transpose(kernel, (2, 1, 0)))


def read_keras(path: str | Path) -> Imported:
    """A Keras 2 SpliceAI model file (``.h5``: ``model_config`` + ``model_weights``) as a state dict."""
    import h5py

    path = Path(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise sciarch.DataError(f"not an HDF5 file ({exc})", file=path) from None
    with handle as f:
        if "model_config" not in f.attrs:
            raise sciarch.DataError("no model_config attribute: not a Keras model file saved with "
                                    "model.save() (a weights-only file does not say how its layers connect)", file=path)
        raw = f.attrs["model_config"]
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
        layers = {layer["name"]: layer for layer in config["config"]["layers"]}
        root = f.get("model_weights", f)
        graph = _KerasGraph(path, layers)
        plan = graph.walk()

        def weights(name: str) -> dict[str, np.ndarray]:
            if name not in root:
                raise sciarch.DataError(f"layer {name} has no weights in the file", file=path)
            group = root[name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
            if not names:  # some writers omit the attribute: take every dataset under the group
                names = []
                group.visit(lambda n: names.append(n) if isinstance(group[n], h5py.Dataset) else None)
            out = {}
            for n in names:
                key = n.split("/")[-1].split(":")[0]
                out[key] = np.asarray(group[n], dtype=np.float32)
            return out

        state: dict[str, Any] = {}

        def conv(prefix: str, name: str, width: int | None = None) -> None:
            w = weights(name)
            if "kernel" not in w:
                raise sciarch.DataError(f"layer {name}: no kernel", file=path)
            kernel = w["kernel"]
            if kernel.ndim != 3 or (width is not None and kernel.shape[0] != width):
                raise sciarch.DataError(f"layer {name}: kernel of shape {kernel.shape}, expected (k, in, out)"
                                        + (f" with k = {width}" if width else ""), file=path)
            state[f"{prefix}.weight"] = _conv(kernel)
            state[f"{prefix}.bias"] = w.get("bias", np.zeros(kernel.shape[2], dtype=np.float32))

        def norm(prefix: str, name: str) -> None:
            w = weights(name)
            channels = len(w["moving_mean"])
            state[f"{prefix}.weight"] = w.get("gamma", np.ones(channels, dtype=np.float32))
            state[f"{prefix}.bias"] = w.get("beta", np.zeros(channels, dtype=np.float32))
            state[f"{prefix}.running_mean"] = w["moving_mean"]
            state[f"{prefix}.running_var"] = w["moving_variance"]
            state[f"{prefix}.num_batches_tracked"] = np.asarray(0, dtype=np.int64)

        conv("input", plan["input"], 1)
        conv("skip_in", plan["skip_in"], 1)
        for i, unit in enumerate(plan["units"]):
            norm(f"units.{i}.norm1", unit["bn1"])
            conv(f"units.{i}.conv1", unit["conv1"], unit["kernel"])
            norm(f"units.{i}.norm2", unit["bn2"])
            conv(f"units.{i}.conv2", unit["conv2"], unit["kernel"])
        for j, (_, name) in enumerate(plan["taps"]):
            conv(f"skips.{j}", name, 1)
        conv("output", plan["output"], 1)
        keras_version = f.attrs.get("keras_version", b"")
    units = tuple((u["kernel"], u["dilation"]) for u in plan["units"])
    imported = Imported(path, "keras", units, plan["eps"], plan["negative_slope"], state,
                        notes={"keras_version": keras_version.decode() if isinstance(keras_version, bytes)
                               else str(keras_version)})
    _check_layout(imported, [after for after, _ in plan["taps"]])
    return imported


class _KerasGraph:
    """SpliceAI's layers found in a Keras functional model config by following the tensors."""

    def __init__(self, path: Path, layers: dict[str, dict[str, Any]]) -> None:
        self.path, self.layers = path, layers
        self.consumers: dict[str, list[str]] = defaultdict(list)
        self.inputs: dict[str, list[str]] = {}
        for name, layer in layers.items():
            sources = []
            for node in layer.get("inbound_nodes") or []:
                if not isinstance(node, list):
                    self.fail(f"layer {name}: inbound nodes in a layout this reader does not know "
                              "(Keras 3 files are not supported; Keras 2 .h5 files are)")
                sources += [entry[0] for entry in node]
            self.inputs[name] = sources
            for source in sources:
                self.consumers[source].append(name)

    def fail(self, problem: str) -> None:
        raise sciarch.DataError(f"not a SpliceAI model: {problem}", file=self.path)

    def kind(self, name: str) -> str:
        return self.layers[name]["class_name"]

    def cfg(self, name: str) -> dict[str, Any]:
        return self.layers[name].get("config", {})

    def only(self, name: str, kinds: tuple[str, ...]) -> str:
        found = [c for c in self.consumers[name] if self.kind(c) in kinds]
        if len(found) != 1:
            self.fail(f"expected one {'/'.join(kinds)} after {name}, found {len(found)}")
        return found[0]

    def conv_shape(self, name: str) -> tuple[int, int]:
        cfg = self.cfg(name)
        kernel = int(cfg.get("kernel_size", [1])[0])
        dilation = int(cfg.get("dilation_rate", [1])[0])
        if cfg.get("activation", "linear") not in ("linear", None) or int(cfg.get("strides", [1])[0]) != 1:
            self.fail(f"{name}: convolution with activation {cfg.get('activation')} or strides in the trunk")
        if kernel > 1 and cfg.get("padding") != "same":
            self.fail(f"{name}: padding {cfg.get('padding')!r}, SpliceAI uses 'same'")
        return kernel, dilation

    def slope(self, name: str) -> float:
        kind, cfg = self.kind(name), self.cfg(name)
        if kind == "Activation" and cfg.get("activation") == "relu":
            return 0.0
        if kind == "LeakyReLU":
            return float(cfg.get("alpha", cfg.get("negative_slope", 0.3)))
        if kind == "ReLU" and not cfg.get("negative_slope") and cfg.get("max_value") is None:
            return 0.0
        self.fail(f"{name}: activation {kind} {cfg.get('activation', '')} is not ReLU")
        return 0.0

    def walk(self) -> dict[str, Any]:
        starts = [n for n, layer in self.layers.items() if layer["class_name"] == "InputLayer"]
        if len(starts) != 1:
            self.fail(f"expected one input layer, found {len(starts)}")
        first = self.only(starts[0], ("Conv1D",))
        if self.conv_shape(first)[0] != 1:
            self.fail(f"{first}: the first convolution must be 1×1")
        trunk, units, taps, eps, slopes = first, [], [], set(), set()
        skip_in = None
        while True:
            convs = [c for c in self.consumers[trunk] if self.kind(c) == "Conv1D"]
            norms = [c for c in self.consumers[trunk] if self.kind(c) == "BatchNormalization"]
            if len(convs) > 1 or len(norms) > 1:
                self.fail(f"{trunk} feeds {len(convs)} convolutions and {len(norms)} BatchNorms")
            if convs:
                if trunk == first:
                    skip_in = convs[0]
                else:
                    taps.append((len(units) - 1, convs[0]))
            if not norms:
                break
            bn1 = norms[0]
            act1 = self.only(bn1, ("Activation", "LeakyReLU", "ReLU"))
            conv1 = self.only(act1, ("Conv1D",))
            bn2 = self.only(conv1, ("BatchNormalization",))
            act2 = self.only(bn2, ("Activation", "LeakyReLU", "ReLU"))
            conv2 = self.only(act2, ("Conv1D",))
            add = self.only(conv2, ("Add",))
            if sorted(self.inputs[add]) != sorted([conv2, trunk]):
                self.fail(f"{add} does not add {conv2} to the unit's input {trunk}")
            shape1, shape2 = self.conv_shape(conv1), self.conv_shape(conv2)
            if shape1 != shape2:
                self.fail(f"{conv1} and {conv2}: kernel/dilation {shape1} and {shape2} differ within a unit")
            for bn in (bn1, bn2):
                eps.add(float(self.cfg(bn).get("epsilon", 1e-3)))
            slopes.update((self.slope(act1), self.slope(act2)))
            units.append({"bn1": bn1, "conv1": conv1, "bn2": bn2, "conv2": conv2, "kernel": shape1[0],
                          "dilation": shape1[1]})
            trunk = add
        if skip_in is None or not units:
            self.fail("no skip convolution after the first layer, or no residual units")
        if len(eps) != 1 or len(slopes) != 1:
            self.fail(f"BatchNorm epsilons {sorted(eps)} or activation slopes {sorted(slopes)} differ between units")
        # the skip sum: skip_in + every tap, then crop, then the 1x1 softmax classifier
        crops = [n for n, layer in self.layers.items() if layer["class_name"] == "Cropping1D"]
        if len(crops) != 1:
            self.fail(f"expected one Cropping1D layer, found {len(crops)}")
        cropping = self.cfg(crops[0]).get("cropping", [0, 0])
        output = self.only(crops[0], ("Conv1D",))
        out_cfg = self.cfg(output)
        if int(out_cfg.get("filters", 3)) != 3 or out_cfg.get("activation") != "softmax":
            self.fail(f"{output}: the classifier must be 3 filters with softmax")
        context = 2 * sum(u["dilation"] * (u["kernel"] - 1) for u in units)
        if list(cropping) != [context // 2, context // 2]:
            self.fail(f"cropping {cropping}, expected {context // 2} on each side for context {context}")
        reached = self._skip_sources(self.inputs[crops[0]][0])
        if reached != {skip_in, *(name for _, name in taps)}:
            self.fail("the cropped sum is not the skip convolutions' sum")
        return {"input": first, "skip_in": skip_in, "units": units, "taps": taps, "output": output,
                "eps": eps.pop(), "negative_slope": slopes.pop()}

    def _skip_sources(self, name: str) -> set[str]:
        if self.kind(name) == "Add":
            return set().union(*(self._skip_sources(s) for s in self.inputs[name]))
        return {name}


# -- OpenSpliceAI .pt ------------------------------------------------------------------------------


def read_openspliceai(path: str | Path) -> Imported:
    """An OpenSpliceAI checkpoint (state dict, ``model_state_dict`` or format-1 dict) as a state dict."""
    import torch

    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise sciarch.DataError(f"cannot read as a PyTorch state dict ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''}); OpenSpliceAI's checkpoints are "
                                "state dicts (a pickled model object is not read, for safety)", file=path) from None
    temperature = None
    if isinstance(payload, dict) and "format_version" in payload:
        if payload["format_version"] != 1:
            raise sciarch.DataError(f"checkpoint format_version {payload['format_version']}; only 1 is known", file=path)
        temperature = payload.get("temperature")
        payload = payload.get("state_dict")
    elif isinstance(payload, dict) and "model_state_dict" in payload:
        temperature = payload.get("temperature")
        payload = payload["model_state_dict"]
    if not isinstance(payload, dict) or not payload:
        raise sciarch.DataError("no state dict in the checkpoint", file=path)
    raw = {re.sub(r"^(module\.|model\.)", "", k): v for k, v in payload.items() if torch.is_tensor(v)}
    if any("film" in k.lower() for k in raw):
        raise sciarch.DataError("an OpenSpliceAI model with FiLM (RBP-conditioned) layers: not a plain SpliceAI", file=path)
    state: dict[str, Any] = {}

    def take(source: str, target: str) -> None:
        for suffix in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            key = f"{source}.{suffix}"
            if key in raw:
                state[f"{target}.{suffix}"] = raw.pop(key).detach().cpu()

    take("initial_conv", "input")
    take("initial_skip.conv", "skip_in")
    take("final_conv", "output")
    blocks = sorted({int(m.group(1)) for k in raw if (m := re.match(r"residual_units\.(\d+)\.", k))})
    kernels, taps = [], []
    for j in blocks:
        prefix = f"residual_units.{j}"
        if f"{prefix}.batchnorm1.weight" in raw:
            i = len(kernels)
            kernels.append(int(raw[f"{prefix}.conv1.weight"].shape[-1]))
            for a, b in (("batchnorm1", "norm1"), ("conv1", "conv1"), ("batchnorm2", "norm2"), ("conv2", "conv2")):
                take(f"{prefix}.{a}", f"units.{i}.{b}")
        elif f"{prefix}.conv.weight" in raw:
            take(f"{prefix}.conv", f"skips.{len(taps)}")
            taps.append(len(kernels) - 1)
        else:
            raise sciarch.DataError(f"{prefix}: neither a residual unit nor a skip", file=path)
    if raw:
        raise sciarch.DataError(f"weights this reader does not place: {', '.join(sorted(raw)[:6])}", file=path)
    missing = [k for k in ("input.weight", "skip_in.weight", "output.weight") if k not in state]
    if missing:
        raise sciarch.DataError(f"not an OpenSpliceAI SpliceAI state dict (no {', '.join(missing)})", file=path)
    schedule = {len(u): u for u in SPLICEAI_UNITS.values()}
    if len(kernels) not in schedule:
        raise sciarch.DataError(f"{len(kernels)} residual units; SpliceAI has 4, 8, 12 or 16", file=path)
    units = schedule[len(kernels)]
    if [w for w, _ in units] != kernels:
        raise sciarch.DataError(f"kernel sizes {kernels} are not the published schedule {[w for w, _ in units]}",
                                file=path)
    if temperature is not None:
        temperature = tuple(float(t) for t in torch.as_tensor(temperature).flatten())
    imported = Imported(path, "openspliceai", tuple(units), 1e-5, 0.1, state, temperature)
    _check_layout(imported, taps)
    return imported


def _check_layout(imported: Imported, taps: list[int]) -> None:
    n = len(imported.units)
    expected = [i for i in range(n) if (i + 1) % 4 == 0 or i + 1 == n]
    if taps != expected:
        raise sciarch.DataError(f"skip connections after units {[t + 1 for t in taps]}; SpliceAI has them after "
                                f"{[t + 1 for t in expected]}", file=imported.path)
    if imported.context not in CONTEXT_NAMES or imported.units != SPLICEAI_UNITS[CONTEXT_NAMES[imported.context]]:
        raise sciarch.DataError(f"residual units {list(imported.units)} are not a published SpliceAI variant",
                                file=imported.path)


# -- sources and the run directory -----------------------------------------------------------------


def find_sources(sources: list[str | Path]) -> list[Path]:
    """Model files from files and folders (a folder: its ``spliceai*.h5``, else ``*.h5``, else ``*.pt``)."""
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            for pattern in (KERAS_PATTERNS[0], KERAS_PATTERNS[1], KERAS_PATTERNS[2], *TORCH_PATTERNS):
                files = sorted(path.glob(pattern), key=lambda p: (len(p.name), p.name))
                if files:
                    found += files
                    break
            else:
                raise sciarch.DataError("no .h5 (Keras SpliceAI) or .pt (OpenSpliceAI) files in this folder", file=path)
        else:
            raise sciarch.DataError("no such file or folder", file=path)
    return found


def read_model(path: Path) -> Imported:
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic == b"\x89HDF\r\n\x1a\n":
        return read_keras(path)
    return read_openspliceai(path)


def stated_license(path: Path, kind: str) -> tuple[str, str]:
    """``(licence, where it is stated)`` for a model file: the installed distribution's metadata if the
    file lies in one (``…/spliceai/models/x.h5`` beside ``spliceai-*.dist-info``)."""
    package = path.resolve().parent.parent
    for meta in sorted(package.parent.glob(f"{package.name}-*.dist-info/METADATA")) + \
            sorted(package.parent.glob(f"{package.name}-*.egg-info/PKG-INFO")):
        fields = {}
        for line in meta.read_text(errors="replace").splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        if fields.get("License"):
            return fields["License"], f"{meta} (License field of {fields.get('Name', '?')} {fields.get('Version', '?')})"
    return "not stated beside the file", "no distribution metadata found next to it: give --license"


def _num(x: float) -> str:
    """A float as YAML reads it back exactly (PyYAML takes ``1e-05`` for a string)."""
    return f"{float(x):.17e}"


def import_weights(sources: list[str | Path], out: str | Path, *, license: str | None = None,
                   block_length: int = 5000) -> dict[str, Any]:
    """Write the run directory ``out`` (an ensemble of one member per model file) and return its summary."""
    import torch

    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise sciarch.UsageError(f"{out} already exists and is not an empty folder; choose another --out")
    paths = find_sources(sources)
    models = [read_model(p) for p in paths]
    first = models[0]
    for m in models[1:]:
        if m.architecture() != first.architecture():
            raise sciarch.DataError(f"a different architecture from {first.path.name} ({m.architecture()} vs "
                                    f"{first.architecture()}): one run holds one architecture", file=m.path)
    arch = first.architecture()
    overrides = [f"model.name={arch['model']}", f"model.args.channels={first.channels}",
                 f"model.args.eps={_num(first.eps)}",
                 f"model.args.negative_slope={_num(first.negative_slope)}", f"data.args.context={first.context}",
                 f"data.args.block_length={block_length}", f"ensemble={len(models)}", "task.args.site_weight=1.0"]
    if first.temperature is not None:
        overrides.append(f"model.args.temperature=[{', '.join(_num(t) for t in first.temperature)}]")
    resolved = sciarch.load_recipe("splice/spliceai-10k", overrides=overrides)
    source_name = {"keras": "Illumina SpliceAI (Keras)", "openspliceai": "OpenSpliceAI (PyTorch)"}[first.kind]
    resolved.name = f"splice/imported-{first.kind}-{first.size}"
    resolved.summary = f"{source_name} SpliceAI-{first.size} weights, {len(models)} model(s), imported by sciarch"
    files = []
    host = sciarch.get_host()
    model_builder = host.get("model", resolved.model.name).load()
    task_builder = host.get("task", resolved.task.name).load()
    with sciarch.atomic_dir(out) as tmp:
        tmp = Path(tmp)
        with sciarch.atomic_write(tmp / "config.yaml") as handle:
            handle.write(resolved.to_yaml())
        for i, model in enumerate(models):
            task = task_builder(model=model_builder(**resolved.model.args), **resolved.task.args)
            state = {k: torch.as_tensor(np.asarray(v)) for k, v in model.state.items()}
            task.model.load_state_dict(state, strict=True)
            member = tmp / f"member-{i}"
            (member / "checkpoints").mkdir(parents=True)
            lic, where = (license, "given with --license") if license else stated_license(model.path, model.kind)
            record = {"member": f"member-{i}", "path": str(model.path.resolve()), "bytes": model.path.stat().st_size,
                      "sha256": sha256(model.path), "format": model.kind, "license": lic, "license_source": where,
                      **model.notes}
            files.append(record)
            torch.save({"state_dict": task.state_dict(), "sciarch_import": {k: str(v) for k, v in record.items()}},
                       member / "checkpoints" / "best.ckpt")
            sciarch.write_json(member / "summary.json", {"status": "completed", "imported_from": record["path"],
                                                         "sha256": record["sha256"], "test": {}})
        provenance = {"source": source_name, "architecture": arch, "files": files,
                      "licenses": sorted({f["license"] for f in files}),
                      "imported": _dt.datetime.now().isoformat(timespec="seconds"),
                      "note": "the weights are the user's copy; sciarch neither ships nor downloads them"}
        sciarch.write_json(tmp / "provenance.json", provenance)
        summary = {"recipe": resolved.name, "status": "completed", "ensemble": len(models),
                   "members": [f"member-{i}" for i in range(len(models))], "test": {}, "imported": provenance,
                   "versions": {"sciarch": sciarch.__version__, "torch": torch.__version__}}
        sciarch.write_json(tmp / "summary.json", summary)
    return summary
