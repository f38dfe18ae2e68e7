"""The hook contract stays honest: every hook is documented with its exact signature, and tested."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from sciarch import hookspecs

ROOT = Path(__file__).resolve().parents[2]
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
    docs = (ROOT / "docs" / "plugin_hooks.md").read_text()
    headings = re.findall(r"^## (.+)$", docs, flags=re.M)
    assert signature_text(getattr(hookspecs, hook)) in headings


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    tests = "\n".join(p.read_text() for p in (ROOT / "tests" / "core").glob("test_*.py") if p.name != Path(__file__).name)
    assert re.search(rf"def test_hook_{hook}\w*\(", tests), f"write a test named test_hook_{hook}_…"


def test_every_hook_has_a_docstring_with_versionadded():
    for hook in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
        assert ".. versionadded::" in doc, hook
