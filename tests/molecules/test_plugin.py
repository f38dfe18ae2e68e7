"""The molecules plugin through sciarch's plugin-author kit: it loads, its specs import, its recipes
check, and every recipe's smoke variant trains end to end on the CPU."""

from sciarch.testing import PluginTests


class TestMoleculesPlugin(PluginTests):
    plugin = "molecules"


def test_listing_plugins_does_not_import_rdkit_or_torch_geometric():
    import subprocess
    import sys

    code = ("import sys, sciarch; from sciarch.plugins import PluginHost; h = PluginHost(); h.specs('model'); "
            "assert h.plugins['molecules'].ok, h.plugins['molecules'].error; "
            "print(sorted(m for m in ('rdkit', 'torch_geometric', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
