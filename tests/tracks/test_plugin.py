"""sciarch's plugin-author kit on the tracks plugin: it loads, its specs import, its recipes check,
and every recipe's smoke variant simulates its pictures and trains end to end on the CPU."""

from sciarch.testing import PluginTests


class TestTracksPlugin(PluginTests):
    plugin = "tracks"
