"""check_value: every annotation kind the plugins use, with a value that passes and one that fails
(the exact message, key named), and a walk over every registered builder so that an annotation the
checker does not understand fails here instead of passing unchecked."""

from __future__ import annotations

import enum
import inspect
import os
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Literal, Optional, Union

import pytest
import torch
import yaml
from sciarch.errors import ConfigError
from sciarch.validation import check_arguments, check_value, describe_type, parameters_of, understands


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


LINEAR = torch.nn.Linear(1, 1)

# (annotation, a good value, what it becomes, a bad value, the problem reported for the bad one)
KINDS = [
    (bool, True, True, 1, "expected bool, got 1 (int)"),
    (bool, False, False, "yes", "expected bool, got 'yes' (str)"),
    (int, 3, 3, True, "expected int, got True (bool)"),
    (int, -2, -2, 3.0, "expected int, got 3.0 (float)"),
    (int, 0, 0, "3", "expected int, got '3' (str)"),
    (float, 1, 1.0, "fast", "expected float, got 'fast' (str)"),
    (float, "1e-3", 1e-3, True, "expected float, got True (bool)"),  # PyYAML reads 1e-3 as a string
    (float, "-2.5E+3", -2500.0, "nan", "expected float, got 'nan' (str)"),
    (float, 2.5, 2.5, None, "expected float, got None (NoneType)"),
    (str, "a", "a", 1, "expected str, got 1 (int)"),
    (Path, "data/x.csv", Path("data/x.csv"), 3, "expected a path, got 3 (int)"),
    (Path, Path("a"), Path("a"), "", "expected a path, got '' (str)"),
    (os.PathLike, "a", Path("a"), None, "expected a path, got None (NoneType)"),
    (PurePosixPath, "a/b", PurePosixPath("a/b"), [], "expected a path, got [] (list)"),
    (Literal["random", "scaffold"], "scaffold", "scaffold", "scafold",
     "expected one of 'random', 'scaffold', got 'scafold'; did you mean 'scaffold'?"),
    (Literal[16, "16-mixed"], 16, 16, "16", "expected one of 16, '16-mixed', got '16'; did you mean 16?"),
    (Literal[1, 2], 1, 1, True, "expected one of 1, 2, got True"),
    (Optional[int], None, None, "x", "expected int, got 'x' (str)"),  # noqa: UP045 (typing.Optional, as Lightning writes it)
    (int | None, 3, 3, 2.5, "expected int, got 2.5 (float)"),
    (Union[int, str], "3", "3", 2.5, "expected int | str, got 2.5 (float)"),  # noqa: UP007
    (int | float, 2, 2, "x", "expected int | float, got 'x' (str)"),
    (str | float, "1e-3", "1e-3", None, "expected str | float, got None (NoneType)"),  # a str stays a str
    (float | str, "1e-3", "1e-3", [], "expected float | str, got [] (list)"),
    (float | torch.Tensor, "1e-3", 1e-3, "x", "expected float | Tensor, got 'x' (str)"),
    (bool | Literal["warn"], "warn", "warn", "wran", "expected bool | Literal['warn'], got 'wran' (str)"),
    (list[int] | str, [1], [1], ["a"], "[0]: expected int, got 'a' (str)"),  # the list's own message
    (Union[list[int], str, int], 3, 3, [1, "a"], "[1]: expected int, got 'a' (str)"),  # noqa: UP007
    (list[str], ["a"], ["a"], "a", "expected list[str], got 'a' (str)"),
    (list[str], ("a",), ["a"], [1], "[0]: expected str, got 1 (int)"),
    (list, [1, "a"], [1, "a"], {"a": 1}, "expected list, got {'a': 1} (dict)"),
    (Sequence[float], [1, 2.5], [1.0, 2.5], [1, "x"], "[1]: expected float, got 'x' (str)"),
    (Iterable[int], [1], [1], 1, "expected Iterable[int], got 1 (int)"),
    (tuple[float, float, float], [0.8, 0.1, 0.1], (0.8, 0.1, 0.1), [0.8, 0.2],
     "expected tuple[float, float, float] (3 items), got [0.8, 0.2] (2 items)"),
    (tuple[int, int], (1, 2), (1, 2), [1, "2"], "[1]: expected int, got '2' (str)"),
    (tuple[float, ...], [1, 2], (1.0, 2.0), [1, None], "[1]: expected float, got None (NoneType)"),
    (tuple[int | None, int | None], [None, 3], (None, 3), [None, "3"], "[1]: expected int, got '3' (str)"),
    (tuple, [1, "a"], (1, "a"), "ab", "expected tuple, got 'ab' (str)"),
    (dict[str, float], {"a": 1}, {"a": 1.0}, {"a": "x"}, ".a: expected float, got 'x' (str)"),
    (dict[str, float], {"a": 1.0}, {"a": 1.0}, {1: 1.0}, "key 1: expected str, got 1 (int)"),
    (dict[str, float] | None, None, None, [1], "expected dict[str, float], got [1] (list)"),
    (Mapping[str, int], {"a": 1}, {"a": 1}, [1], "expected Mapping[str, int], got [1] (list)"),
    (dict, {"a": [1]}, {"a": [1]}, "a", "expected dict, got 'a' (str)"),
    (torch.nn.Module, LINEAR, LINEAR, {"a": 1}, "expected Module, got {'a': 1} (dict)"),
    (None, None, None, 0, "expected None, got 0 (int)"),
    (type(None), None, None, "null", "expected None, got 'null' (str)"),
]


@pytest.mark.parametrize(("annotation", "good", "converted", "bad", "problem"), KINDS,
                         ids=[f"{describe_type(k[0])}-{i}" for i, k in enumerate(KINDS)])
def test_each_kind_passes_converts_and_fails_naming_the_key(annotation, good, converted, bad, problem):
    assert understands(annotation)
    out = check_value(good, annotation, "model.args.x", source="r.yaml", line=4)
    assert out == converted and type(out) is type(converted)
    with pytest.raises(ConfigError) as info:
        check_value(bad, annotation, "model.args.x", source="r.yaml", line=4)
    sep = "" if problem.startswith(("[", ".")) else ": "
    assert str(info.value) == f"r.yaml:4: model.args.x{sep}{problem}"
    assert info.value.key.startswith("model.args.x")


@pytest.mark.parametrize("annotation", [Any, object, inspect.Parameter.empty])
def test_any_object_and_no_annotation_accept_anything_on_purpose(annotation):
    assert understands(annotation)
    value = object()
    assert check_value(value, annotation, "x") is value


@pytest.mark.parametrize(
    ("annotation", "problem"),
    [
        (Colour, "its annotation is the Enum Colour, and a recipe gives strings; the plugin must annotate it "
                 "Literal['red', 'blue']"),
        (list[Colour], "sciarch does not understand its annotation list[Colour]"),
        (set[int], "sciarch does not understand its annotation set[int]"),
        (type[int], "sciarch does not understand its annotation type[int]"),
        (int | set[int], "sciarch does not understand its annotation int | set[int]"),
        ("Missing", "its annotation 'Missing' could not be resolved"),
    ],
)
def test_an_annotation_it_does_not_understand_is_refused_naming_the_key(annotation, problem):
    assert not understands(annotation)
    for value in ("red", [], 1):  # even a value that would pass (an empty list, an int) is refused
        with pytest.raises(ConfigError) as info:
            check_value(value, annotation, "data.args.colour", source="r.yaml", line=7)
        assert str(info.value).startswith("r.yaml:7: data.args.colour: cannot check this argument: ")
        assert problem in str(info.value)


def test_a_hint_that_cannot_be_resolved_leaves_the_others_checked():
    namespace: dict[str, Any] = {}
    exec(textwrap.dedent("""
        from __future__ import annotations
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from somewhere import Thing
        def build(hidden: int = 1, thing: Thing | None = None):
            return hidden
    """), namespace)
    params, _ = parameters_of(namespace["build"])
    assert params["hidden"].annotation is int  # not the string "int", which would pass anything
    with pytest.raises(ConfigError, match=r"model.args.hidden: expected int, got 'x' \(str\)"):
        check_arguments(namespace["build"], {"hidden": "x"}, "model.args")
    with pytest.raises(ConfigError, match="model.args.thing: cannot check this argument: its annotation "
                                          "'Thing | None' could not be resolved"):
        check_arguments(namespace["build"], {"thing": None}, "model.args")


def builders_and_parameters(host):
    from lightning.pytorch import Trainer
    from sciarch.optim import OPTIMIZERS, SCHEDULERS, optimizer_class

    for kind in ("model", "dataset", "task"):
        for name, spec in host.specs(kind).items():
            yield f"{kind} {name}", parameters_of(spec.load())[0]
    # the host checks these too: the optimizer, scheduler and trainer sections of a recipe
    for name in OPTIMIZERS:
        yield f"optimizer {name}", parameters_of(optimizer_class(name), skip=("params",))[0]
    for name, scheduler in SCHEDULERS.items():
        yield f"scheduler {name}", parameters_of(scheduler, skip=("optimizer",))[0]
    yield "trainer", parameters_of(Trainer)[0]


def test_every_registered_builder_parameter_has_an_annotation_check_value_understands(host):
    walked, not_understood, not_annotated = [], [], []
    for where, params in builders_and_parameters(host):
        walked.append(where)
        for p in params.values():
            if not understands(p.annotation):
                not_understood.append(f"{where}: {p.name}: {describe_type(p.annotation)}")
            if where.startswith(("model", "dataset", "task")) and p.annotation is inspect.Parameter.empty:
                not_annotated.append(f"{where}: {p.name}")
    assert not not_understood, "check_value does not understand:\n" + "\n".join(not_understood)
    assert not not_annotated, "builder parameters without an annotation (unchecked):\n" + "\n".join(not_annotated)
    ok = [name for name, info in host.plugins.items() if info.ok]
    for plugin in ok:  # every loaded plugin's builders were walked, the scaffold's toy among them
        contributed = sum(host.plugins[plugin].counts[k] for k in ("model", "dataset", "task"))
        assert sum(w.split(" ", 1)[1].startswith(plugin + "/") for w in walked
                   if w.startswith(("model", "dataset", "task"))) == contributed
    assert "toy" in ok and "trainer" in walked


def test_a_path_argument_arrives_as_a_path_and_is_written_as_text(tmp_path, host, monkeypatch):
    (tmp_path / "sciarch_pathcheck.py").write_text(textwrap.dedent('''
        from pathlib import Path
        from sciarch import DatasetSpec, hookimpl
        from sciarch_toy.data import SineData

        class FileSine(SineData):
            def __init__(self, path: Path, cache: Path | None = None, **kwargs):
                super().__init__(**kwargs)
                assert isinstance(path, Path), type(path)
                self.path = path

        @hookimpl
        def sciarch_datasets():
            return [DatasetSpec(name="file-sine", builder="sciarch_pathcheck:FileSine", summary="sine, a path")]
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import sciarch_pathcheck
    from sciarch.config import load

    host.register(sciarch_pathcheck, "pathcheck")
    try:
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text("data:\n  name: pathcheck/file-sine\n  args: {path: data/x.csv, n: 64}\n"
                          "model: {name: toy/mlp}\ntask: {name: toy/regression}\n")
        resolved = load(recipe, host=host)
        assert resolved.data.args["path"] == Path("data/x.csv") and resolved.data.args["cache"] is None
        assert sciarch_pathcheck.FileSine(**resolved.data.args).path == Path("data/x.csv")
        written = yaml.safe_load(resolved.to_yaml())  # config.yaml: the path as plain text
        assert written["data"]["args"]["path"] == "data/x.csv"
        recipe.write_text(recipe.read_text().replace("path: data/x.csv", "path: 3"))
        with pytest.raises(ConfigError) as info:
            load(recipe, host=host)
        assert str(info.value) == f"{recipe}:3: data.args.path: expected a path, got 3 (int)"
    finally:
        host.unregister("pathcheck")
        sys.modules.pop("sciarch_pathcheck", None)
