"""The keywords plugin through sciarch's plugin-author kit: loads, specs resolve, every recipe's smoke run.

The Speech Commands recipes read a user's copy; their smoke runs read a tiny copy in the same
layout that this test writes first (real eSpeak NG speech, a few speakers).
"""

from __future__ import annotations

import pytest
from sciarch.testing import PluginTests, check_smoke_run
from sciarch_datasets.audio import COMMANDS


@pytest.fixture(scope="module")
def tiny_speech_commands(tmp_path_factory):
    from sciarch_datasets.audio.fake import write_speech_commands

    return write_speech_commands(tmp_path_factory.mktemp("sc") / "speech_commands", (*COMMANDS, "cat", "marvin"),
                                 speakers=5)


class TestKeywordsPlugin(PluginTests):
    plugin = "keywords"

    def test_recipe_smoke(self, sciarch_recipe, sciarch_host, sciarch_runs, tiny_speech_commands):
        overrides = []
        if sciarch_recipe == "keywords/tts-12-embedding":
            import importlib.util

            if importlib.util.find_spec("openwakeword") is None:
                pytest.skip("the speech-embedding front end reads the openwakeword wheel's ONNX files")
        if sciarch_recipe.startswith("keywords/speech-commands"):
            overrides = [f"data.args.path={tiny_speech_commands}"]
        summary = check_smoke_run(sciarch_recipe, sciarch_runs / sciarch_recipe.replace("/", "-"), overrides)
        assert 0.0 <= summary["test"]["test/acc"] <= 1.0


def test_plugin_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, sciarch_keywords.plugin as p; p.sciarch_models(); p.sciarch_recipes(); "
            "heavy = [m for m in ('torch', 'torchaudio', 'soundfile', 'lightning') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_speech_commands_recipe_without_a_path_says_how_to_get_the_data(sciarch_host):
    import sciarch
    from sciarch.building import build
    from sciarch.config import load

    resolved = load("keywords/speech-commands-12")
    datamodule, _, _ = build(resolved)
    with pytest.raises(sciarch.UsageError, match="data.args.path"):
        datamodule.prepare_data()
