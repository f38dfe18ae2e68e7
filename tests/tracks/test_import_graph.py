"""The tracks plugin's and the simulator's modules import one another one way only (no cycle),
counting imports inside functions too; and the helper that checks it finds a cycle when there is one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tests" / "import_graph.py")
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)


@pytest.mark.parametrize(("folder", "package"), [("plugins/tracks", "sciarch_tracks"),
                                                 ("datasets/tracks", "sciarch_datasets.tracks")])
def test_no_import_cycle(folder: str, package: str) -> None:
    import_graph.assert_no_import_cycles(ROOT / folder, package)


def test_reconstruction_modules_depend_one_way() -> None:
    graph = import_graph.import_graph(ROOT / "plugins/tracks", "sciarch_tracks")
    assert "sciarch_tracks.arcs" in graph["sciarch_tracks.assignment"]
    assert "sciarch_tracks.arcs" in graph["sciarch_tracks.hough"]
    assert "sciarch_tracks.hough" not in graph["sciarch_tracks.assignment"]
    assert "sciarch_tracks.reconstruction" not in graph["sciarch_tracks.hough"]


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from .. import c\n")
    (package / "a.py").write_text("from .b import thing\n")
    (package / "b.py").write_text("def thing():\n    from pkg import c\n    return c\n")
    (package / "c.py").write_text("import os\n\ndef later():\n    from . import a\n    return a\n")
    (package / "d.py").write_text("from .a import thing\nfrom pkg.sub import c\n")  # into the cycle, not part of it
    (package / "e.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .f import F\n")
    (package / "f.py").write_text("from . import e\n")
    cycles = import_graph.import_cycles(package, "pkg")
    assert cycles == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"], ["pkg.e", "pkg.f", "pkg.e"]]
    # a type-only import is no cycle at run time, but counts unless asked not to
    assert import_graph.import_cycles(package, "pkg", type_checking=False) == [["pkg.a", "pkg.b", "pkg.c", "pkg.a"]]
    with pytest.raises(AssertionError, match="pkg.a → pkg.b → pkg.c → pkg.a"):
        import_graph.assert_no_import_cycles(package, "pkg")
    (package / "c.py").write_text("import os\n")
    (package / "f.py").write_text("")
    assert import_graph.import_cycles(package, "pkg") == []
    graph = import_graph.import_graph(package, "pkg")
    assert graph["pkg.d"] == {"pkg.a", "pkg.sub"}  # c is a name bound in sub, not sub.c
    assert graph["pkg.sub"] == {"pkg.c"}
