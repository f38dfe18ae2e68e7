"""Every hook a sciarch plugin may implement. The contract, with an example of each, what happens
on a name clash, and how to pin a sciarch version and publish, is docs/plugin_hooks.md.

Contribution hooks return lists of frozen specs (``sciarch.specs``); they must be cheap: no heavy
imports, no I/O. Hooks only ever grow (new optional arguments), never change. Each docstring ends
with the release that added the hook ("Added in 0.1."); the docs page says the same (a test checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .specs import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec

hookspec = pluggy.HookspecMarker("sciarch")
hookimpl = pluggy.HookimplMarker("sciarch")


# -- contributions: what a plugin brings -------------------------------------------------------


@hookspec
def sciarch_models() -> list[ModelSpec]:
    """Return the architectures this plugin provides: ``ModelSpec``s whose ``builder`` returns a
    ``torch.nn.Module`` from the recipe's ``model.args`` (and the data's ``hints()``).

    Added in 0.1.
    """


@hookspec
def sciarch_datasets() -> list[DatasetSpec]:
    """Return the data sources this plugin provides: ``DatasetSpec``s whose ``builder`` returns a
    ``LightningDataModule`` from the recipe's ``data.args``.

    Added in 0.1.
    """


@hookspec
def sciarch_tasks() -> list[TaskSpec]:
    """Return the training objectives this plugin provides: ``TaskSpec``s whose ``builder`` is a
    ``sciarch.Task`` subclass called as ``builder(model=model, **task.args)``.

    Added in 0.1.
    """


@hookspec
def sciarch_recipes() -> list[RecipeSpec]:
    """Return the training recipes this plugin provides: ``RecipeSpec``s naming YAML files shipped
    in the package (``"package:relative/path.yaml"``).

    Added in 0.1.
    """


# -- command line ------------------------------------------------------------------------------


@hookspec
def sciarch_add_commands(cli: click.Group) -> None:
    """Add the plugin's own subcommands to the ``sciarch`` command group.

    Add one group named after the plugin (``sciarch splice predict``); import heavy modules
    inside the command functions, not at registration. The return value is ignored.

    Added in 0.1.
    """
