"""The small frozen records plugins contribute through hooks.

A spec names code as a ``"package.module:attr"`` string and never holds the object itself, so
listing what is installed imports nothing heavy: the object is imported only when it is used
(:meth:`Spec.load`). The registry fills in ``plugin`` and qualifies ``name`` as ``plugin/name``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .errors import NotFoundError


def import_object(reference: str) -> Any:
    """Import ``"package.module:attr"`` (attr may be dotted) and return the object."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{reference!r} is not of the form 'package.module:attr'")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise NotFoundError(f"{reference}: module {module_name!r} has no attribute {attr!r}") from None
    return obj


@dataclass(frozen=True)
class Spec:
    """Fields every contribution shares."""

    kind: ClassVar[str] = "spec"
    #: Short name, unique within the plugin; the registry qualifies it as ``plugin/name``.
    name: str
    #: One line on what it is.
    summary: str = ""
    #: Set by the registry: the plugin (entry-point name) that contributed it.
    plugin: str = ""

    @property
    def short_name(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class ModelSpec(Spec):
    """An architecture: ``builder`` returns a ``torch.nn.Module`` from keyword arguments."""

    kind: ClassVar[str] = "model"
    builder: str = ""
    #: What the model does, in the field's words ("graph regression", "clip classification").
    task: str = ""
    #: The paper it implements, if any.
    paper: str = ""

    def load(self) -> Any:
        return import_object(self.builder)


@dataclass(frozen=True)
class DatasetSpec(Spec):
    """A data source: ``builder`` returns a ``LightningDataModule`` from keyword arguments."""

    kind: ClassVar[str] = "dataset"
    builder: str = ""
    #: File formats it reads ("SMILES CSV", "FASTA + GTF"); empty for a generator.
    formats: tuple[str, ...] = ()
    license: str = ""
    citation: str = ""
    #: How to get the data: "embedded" or where to download it and how to point sciarch at it.
    source: str = ""
    #: True when it needs no download (a generator, or data that ships in a dependency).
    embedded: bool = False

    def load(self) -> Any:
        return import_object(self.builder)


@dataclass(frozen=True)
class TaskSpec(Spec):
    """A training objective: ``builder`` is a ``LightningModule`` class taking ``model=`` first.

    ``predictor``, if set, names ``fn(run, input, output, **options) -> dict`` used by
    ``sciarch predict``.
    """

    kind: ClassVar[str] = "task"
    builder: str = ""
    predictor: str = ""
    metrics: tuple[str, ...] = ()

    def load(self) -> Any:
        return import_object(self.builder)

    def load_predictor(self) -> Any:
        if not self.predictor:
            raise NotFoundError(f"task {self.name} has no predictor; use the plugin's own commands")
        return import_object(self.predictor)


@dataclass(frozen=True)
class RecipeSpec(Spec):
    """A training recipe: a YAML resource ``"package:relative/path.yaml"``.

    ``expected`` holds the figures the recipe is known to reach, as ``(metric, value, where)``
    triples, e.g. ``("test/rmse", "1.05 ± 0.06", "benchmarks/results/freesolv.json")``.
    """

    kind: ClassVar[str] = "recipe"
    resource: str = ""
    trains_on: str = ""
    expected: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)

    def read_text(self) -> str:
        from importlib.resources import files

        package, _, path = self.resource.partition(":")
        try:
            return files(package).joinpath(path).read_text(encoding="utf-8")
        except (FileNotFoundError, ModuleNotFoundError) as exc:
            raise NotFoundError(f"recipe {self.name}: resource {self.resource} not found ({exc})") from None


SPEC_TYPES: dict[str, type[Spec]] = {t.kind: t for t in (ModelSpec, DatasetSpec, TaskSpec, RecipeSpec)}
