"""Every hook a sciarch plugin may implement. The contract is documented in docs/plugin_hooks.md.

Contribution hooks return lists of frozen specs (``sciarch.specs``); they must be cheap: no heavy
imports, no I/O. Hooks only ever grow (new optional arguments), never change.
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
    """Return the architectures this plugin provides.

    .. versionadded:: 0.1
    """


@hookspec
def sciarch_datasets() -> list[DatasetSpec]:
    """Return the data sources (LightningDataModule builders) this plugin provides.

    .. versionadded:: 0.1
    """


@hookspec
def sciarch_tasks() -> list[TaskSpec]:
    """Return the training objectives (LightningModule classes) this plugin provides.

    .. versionadded:: 0.1
    """


@hookspec
def sciarch_recipes() -> list[RecipeSpec]:
    """Return the training recipes (YAML resources) this plugin provides.

    .. versionadded:: 0.1
    """


# -- command line ------------------------------------------------------------------------------


@hookspec
def sciarch_add_commands(cli: click.Group) -> None:
    """Add the plugin's own subcommands to the ``sciarch`` command group.

    Add one group named after the plugin (``sciarch splice predict``); import heavy modules
    inside the command functions, not at registration.

    .. versionadded:: 0.1
    """
