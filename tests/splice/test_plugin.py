"""The splice plugin through sciarch's plugin-author kit: loads, specs resolve, every recipe's smoke run."""

from __future__ import annotations

from sciarch.testing import PluginTests


class TestSplicePlugin(PluginTests):
    plugin = "splice"


def test_listing_the_plugin_imports_no_torch_or_biopython():
    import subprocess
    import sys

    code = ("import sys, sciarch_splice.plugin as p; p.sciarch_models(); p.sciarch_recipes(); "
            "print(any(m in sys.modules for m in ('torch', 'Bio', 'pyfaidx')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
