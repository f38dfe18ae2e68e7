"""Start-up: usage errors and recipe problems are reported without importing torch or Lightning,
and ``sciarch train`` prints its first line (the recipe) before it imports them."""

from __future__ import annotations

import json
import subprocess
import sys

#: run the CLI in a fresh interpreter; report the exit status, and which of torch and Lightning
#: were imported, as the last line of standard output
PROBE = """
import json, sys
from sciarch.cli import main
import sciarch.cli as cli
first = []
if "--at-first-line" in sys.argv:  # stop at the recipe line: was torch there already?
    sys.argv.remove("--at-first-line")
    def announce(recipe):
        first.append(sorted(m for m in ("torch", "lightning") if m in sys.modules))
        raise SystemExit(0)
    cli._announce = announce
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "imported": sorted(m for m in ("torch", "lightning") if m in sys.modules),
                  "at_first_line": first[0] if first else None}))
"""


def probe(*args: str, env: dict[str, str] | None = None) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.stdout.strip(), result.stderr
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "err": result.stderr}


def test_usage_errors_and_listings_do_not_import_torch(cli_env, tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("data: {name: toy/sine\nmodel: x\n")
    unknown_key = tmp_path / "unknown.yaml"
    unknown_key.write_text("extends: toy/default\ntrainer: {max_epoch: 3}\n")
    cases = {
        ("train",): 2,  # no recipe
        ("train", "toy/nope"): 2,  # unknown recipe
        ("train", str(bad_yaml)): 2,
        ("train", str(unknown_key)): 2,  # a misspelt Trainer argument, read from Lightning's source
        ("train", "toy/default", "--set", "model.args.hiden=3"): 2,  # a misspelt model argument
        ("train", "toy/default", "--set", "model.args.hidden=wide"): 2,  # a value of the wrong type
        ("train", "toy/default", "--set", "optimizer.name=adamx"): 2,
        ("train", "toy/default", "--set", "checkpoint.mode=up"): 2,
        ("--help",): 0,
        ("plugins",): 0,
        ("recipes",): 0,
    }
    for args, code in cases.items():
        seen = probe(*args, env=cli_env)
        assert seen["code"] == code, (args, seen)
        assert seen["imported"] == [], (args, seen["imported"], seen["err"])
    assert "did you mean 'max_epochs'" in probe("train", str(unknown_key), env=cli_env)["err"]
    assert "model.args.hidden: expected int, got 'wide'" in probe("train", "toy/default", "--set", "model.args.hidden=wide",
                                                                 env=cli_env)["err"]


def test_the_first_line_of_train_comes_before_torch(cli_env):
    for args in (("train", "toy/default", "--smoke"), ("train", "toy/default", "--print-config")):
        seen = probe(*args, "--at-first-line", env=cli_env)
        assert seen["at_first_line"] == [], (args, seen)


def test_the_recipe_line_names_what_will_be_trained(host, capsys):
    from sciarch.cli import main

    assert main(["train", "toy/default", "--smoke", "--print-config"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines()[0].startswith("recipe toy/default: data toy/"), err


def test_builder_parameters_read_from_source_are_those_of_the_imported_code():
    """Every registered builder whose source says its parameters says the same as its signature."""
    from sciarch.config import TRAINER_REFERENCE
    from sciarch.plugins import get_host
    from sciarch.signatures import static_annotations, static_parameters
    from sciarch.validation import parameters_of

    host = get_host()
    compared = 0
    for kind in ("dataset", "model", "task"):
        for spec in host.specs(kind).values():
            static = static_parameters(spec.builder)
            if static is None:
                continue
            params, takes_kwargs = parameters_of(spec.load())
            assert not takes_kwargs and tuple(params) == static, spec.name
            for name, annotation in static_annotations(spec.builder).items():  # the same objects as the import's
                assert annotation == params[name].annotation, (spec.name, name, annotation, params[name].annotation)
            compared += 1
    assert compared, "no registered builder was compared (the project's plugins are installed with it)"
    from lightning.pytorch import Trainer

    assert static_parameters(TRAINER_REFERENCE, decorated=True) == tuple(parameters_of(Trainer)[0])


def test_static_parameters_refuse_what_the_source_cannot_say(tmp_path, monkeypatch):
    from sciarch.signatures import static_annotations, static_parameters

    package = tmp_path / "staticprobe"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (package / "m.py").write_text(
        "import functools\n"
        "from dataclasses import dataclass\n"
        "def plain(a, b=1, *args, c: int = 2): ...\n"
        "def forwards(a, **kwargs): ...\n"
        "@functools.cache\n"
        "def wrapped(a): ...\n"
        "class Own:\n    def __init__(self, x, /, y, *, z=0): ...\n"
        "class Inherits(Own): ...\n"
        "@dataclass\nclass Data:\n    a: int = 0\n"
        "alias = plain\n"
        "def rebound(a): ...\n"
        "rebound = plain\n")
    (package / "n.py").write_text(
        "from __future__ import annotations\n"
        "from typing import Literal\n"
        "from pathlib import Path\n"
        "import torch\n"
        "Mode = Literal['a', 'b']\n"
        "import os\n"
        f"Called = os.makedirs({str(tmp_path / 'made')!r})\n"
        "def f(a: int, mode: Mode = 'a', sizes: tuple[float, ...] = (), p: Path | None = Path('.'), t: torch.Tensor = 0,\n"
        "      n: int = None, m: Unknown = 1, c: Called = 1,\n"
        f"      d: os.makedirs({str(tmp_path / 'made')!r}) = 1): ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from pathlib import Path
    from typing import Literal

    # what the standard library alone can say; torch, an unknown name, and a None default (Optional
    # on Python 3.10) are left to the import
    assert static_annotations("staticprobe.n:f") == {"a": int, "mode": Literal["a", "b"], "sizes": tuple[float, ...],
                                                     "p": Path | None}
    assert not (tmp_path / "made").exists()  # a call in an alias or an annotation is never evaluated
    assert static_parameters("staticprobe.m:plain") == ("a", "b", "c")
    assert static_parameters("staticprobe.m:Own") == ("y", "z")  # positional-only x is not a keyword
    for name in ("forwards", "wrapped", "Inherits", "Data", "alias", "rebound", "missing"):
        assert static_parameters(f"staticprobe.m:{name}") is None, name
    assert static_parameters("staticprobe.nothing:x") is None
    assert "staticprobe" not in sys.modules  # read, never imported
