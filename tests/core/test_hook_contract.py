"""The hook contract stays honest: every hook is documented with its exact signature, and tested."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import types
from importlib import metadata
from pathlib import Path

import pytest
from sciarch import DatasetSpec, ModelSpec, RecipeSpec, hookimpl, hookspecs
from sciarch.errors import NotFoundError, PluginError
from sciarch.plugins import ENTRY_POINT_GROUP, PluginHost
from sciarch.specs import SPEC_TYPES

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugin_hooks.md"
HOOKS = sorted(name for name, fn in vars(hookspecs).items()
               if name.startswith("sciarch_") and callable(fn) and hasattr(fn, "sciarch_spec"))


def signature_text(fn) -> str:
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name
                       for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"


def test_there_are_hooks():
    assert HOOKS == ["sciarch_add_commands", "sciarch_datasets", "sciarch_models", "sciarch_recipes", "sciarch_tasks"]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_exact_signature(hook):
    assert signature_text(getattr(hookspecs, hook)) in sections(DOCS.read_text())


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tests = "\n".join(p.read_text() for p in (ROOT / "tests" / "core").glob("test_*.py") if p.name != Path(__file__).name)
    assert re.search(rf"def test_hook_{hook}\w*\(", tests), f"write a test named test_hook_{hook}_…"



def sections(text: str) -> dict[str, str]:
    """The page's ``## `` sections by heading (code fences are not headings)."""
    out, heading, fence = {}, None, False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            heading = line[3:].strip()
            out[heading] = ""
        elif heading is not None:
            out[heading] += line + "\n"
    return out


def hook_section(hook: str) -> str:
    return sections(DOCS.read_text())[signature_text(getattr(hookspecs, hook))]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_says_when_it_was_added_as_the_docs_do(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    added = re.search(r"^Added in (\d+\.\d+)\.$", doc, flags=re.M)
    assert added, f"{hook}: end its docstring with 'Added in X.Y.'"
    assert f"Added in {added.group(1)}." in hook_section(hook), hook


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_section_has_a_python_example_parameters_and_return_value(hook):
    section = hook_section(hook)
    examples = re.findall(r"^```python\n(.*?)^```$", section, flags=re.M | re.S)
    assert examples, f"{hook}: give an example implementation in a ```python block"
    for example in examples:
        ast.parse(example)  # it is Python
    assert f"def {hook}(" in "\n".join(examples), f"{hook}: the example implements the hook"
    assert "**Parameters:**" in section and "**Returns:**" in section


@pytest.mark.parametrize("kind", ["model", "dataset", "task", "recipe"])
def test_every_spec_field_is_in_its_hook_table(kind):
    hook = f"sciarch_{kind}s"
    rows = re.findall(r"^\| (`[^|]+) \|", hook_section(hook), flags=re.M)
    documented = {name for row in rows for name in re.findall(r"`(\w+)`", row)}
    expected = {f.name for f in dataclasses.fields(SPEC_TYPES[kind])} - {"plugin"}  # the host sets plugin
    assert documented == expected


def test_no_rest_directive_in_markdown():
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            # directives (.. versionadded::), link targets (.. _name:), substitutions (.. |x|), comments
            assert not re.match(r"\s*\.\. (\S+::|_|\||\w)", line), f"{page.name}:{number}: reST in Markdown: {line}"


def test_the_page_covers_clashes_pinning_and_publishing():
    import sciarch
    from packaging.specifiers import SpecifierSet

    page = sections(DOCS.read_text())
    for heading in ("Name clashes", "Pinning a sciarch version", "Publishing a plugin"):
        assert heading in page, heading
    pins = re.findall(r'"sciarch(>=[^"]+)"', page["Pinning a sciarch version"] + page["Publishing a plugin"])
    assert pins and all(sciarch.__version__ in SpecifierSet(pin) for pin in pins), pins  # the advice fits today
    assert '[project.entry-points."sciarch.plugins"]' in page["Publishing a plugin"]
    for step in ("python -m build", "twine upload"):
        assert step in page["Publishing a plugin"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '[project.entry-points."sciarch.plugins"]' in pyproject  # the group the page names is the real one


def make_plugin(**hooks):
    return types.SimpleNamespace(**{name: hookimpl(fn) for name, fn in hooks.items()})


def test_contribution_name_clashes_behave_as_the_page_says():
    host = PluginHost(autoload=False)
    for name in ("foo", "bar"):
        host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="mlp", builder="x:y")],
                                  sciarch_datasets=lambda: [DatasetSpec(name="mlp", builder="x:y")]), name)
    host.register(make_plugin(sciarch_models=lambda: [ModelSpec(name="a", builder="x:y"), ModelSpec(name="a", builder="x:y")],
                              sciarch_recipes=lambda: [RecipeSpec(name="r", resource="x:y.yaml")]), "twice")
    assert sorted(host.specs("model")) == ["bar/mlp", "foo/mlp"]  # qualified, neither overwritten
    assert host.get("dataset", "foo/mlp").kind == "dataset"  # names are per kind
    with pytest.raises(NotFoundError, match=r"model 'mlp' is ambiguous: bar/mlp, foo/mlp"):
        host.get("model", "mlp")
    # a name twice within one plugin fails it, and nothing it contributes is served
    assert "model 'twice/a' is contributed twice" in host.plugins["twice"].error
    assert not any(s.plugin == "twice" for kind in ("model", "recipe") for s in host.specs(kind).values())
    with pytest.raises(NotFoundError, match="plugin twice failed to load"):
        host.get("model", "twice/a")
    with pytest.raises(PluginError, match="plugin name 'foo' is already registered"):
        host.register(make_plugin(), "foo")


def test_a_first_party_plugin_name_cannot_be_taken_even_from_earlier_on_the_path(monkeypatch, tmp_path):
    (tmp_path / "sciarch_fork_mod.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    info = tmp_path / "sciarch_splice_fork-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: sciarch-splice-fork\nVersion: 9.9\n")
    fork = metadata.EntryPoint(name="splice", value="sciarch_fork_mod", group=ENTRY_POINT_GROUP)._for(
        metadata.PathDistribution(info))
    real = metadata.entry_points
    monkeypatch.setattr(metadata, "entry_points", lambda **kw: ([fork] if kw.get("group") == ENTRY_POINT_GROUP
                                                               else []) + list(real(**kw)))
    host = PluginHost(only=["splice"])
    assert host.plugins["splice"].distribution == "sciarch"  # found second, still kept by sciarch
    [refused] = [i for i in host.plugins.values() if i.distribution == "sciarch-splice-fork"]
    assert refused.status == "failed"
    assert "'splice' is a first-party plugin of sciarch, so sciarch-splice-fork 9.9 must rename its entry point" \
        in refused.error
