"""The ``sciarch`` command.

Exit status: 0 ok, 2 a usage mistake (unknown name, bad recipe, missing file: one line, no
traceback), 1 a failure, 130 training stopped by a signal (resume it with ``--resume``).
``--debug`` shows the traceback of any error.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from ..errors import SciarchError, UsageError
from ..plugins import CONTRIBUTION_HOOKS, get_host
from ..progress import console

KIND_TITLES = {"model": "models", "dataset": "datasets", "task": "tasks", "recipe": "recipes"}


class SciarchGroup(click.Group):
    """Adds the plugins' own subcommands the first time the command list is needed."""

    _plugins_added = False

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        if not self._plugins_added:
            self._plugins_added = True
            get_host().add_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands(ctx)
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self._add_plugin_commands(ctx)
            command = super().get_command(ctx, name)
        if command is None:
            failed = get_host().plugins.get(name)
            if failed is not None and not failed.ok:  # `sciarch tracks …` with the physics extra missing
                raise UsageError(f"'{name}' is a command of plugin {name}, which failed to load: "
                                 f"{failed.install or failed.error}")
        return command


@click.group(cls=SciarchGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                 "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show the full traceback of any error.")
@click.version_option(package_name="sciarch", prog_name="sciarch")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """sciarch: plugins for scientific deep learning, trained with PyTorch Lightning."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


# -- listing -----------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on standard output.")
def plugins_command(as_json: bool) -> None:
    """List installed plugins: distribution, version, status, hooks and what each contributes."""
    host = get_host()
    for kind in CONTRIBUTION_HOOKS:
        host.specs(kind)  # collecting marks plugins whose hooks fail
    infos = sorted(host.plugins.values(), key=lambda i: i.name)
    if as_json:
        _print_json([i.to_dict() for i in infos])
        return
    from rich.table import Table

    table = Table(title="sciarch plugins", show_lines=False)
    for column in ("plugin", "distribution", "status", "models", "datasets", "tasks", "recipes", "hooks"):
        table.add_column(column)
    for info in infos:
        status = "[green]ok[/green]" if info.ok else "[red]failed[/red]"
        counts = [str(info.counts.get(k, 0)) if info.ok else "-" for k in CONTRIBUTION_HOOKS]
        table.add_row(info.name, info.origin, status, *counts, ", ".join(h.replace("sciarch_", "") for h in info.hooks))
    console.print(table)
    for info in infos:
        if not info.ok:
            console.print(f"[red]{info.name} failed:[/red] {escape(info.error or '')}", soft_wrap=True)
    if not infos:
        console.print("no plugins installed (entry-point group 'sciarch.plugins')")


def _list_kind(kind: str, plugin: str | None, as_json: bool) -> None:
    host = get_host()
    specs = [s for s in host.specs(kind).values() if plugin is None or s.plugin == plugin]
    if plugin is not None and plugin not in host.plugins:
        from ..errors import NotFoundError, did_you_mean

        raise NotFoundError(f"no plugin named '{plugin}'" + did_you_mean(plugin, list(host.plugins)))
    if as_json:
        _print_json([s.to_dict() for s in specs])
        return
    from rich.table import Table

    table = Table(title=f"sciarch {KIND_TITLES[kind]}")
    table.add_column("name", no_wrap=True)
    table.add_column("summary")
    extra = {"model": "task", "dataset": "source", "task": "metrics", "recipe": "trains_on"}[kind]
    table.add_column(extra.replace("_", " "))
    for spec in sorted(specs, key=lambda s: s.name):
        value = getattr(spec, extra)
        table.add_row(spec.name, spec.summary, ", ".join(value) if isinstance(value, tuple) else str(value))
    console.print(table)
    failed = [i for i in host.plugins.values() if not i.ok and (plugin is None or i.name == plugin)]
    for info in failed:
        console.print(f"[yellow]plugin {info.name} failed to load: {escape(info.error or '')}[/yellow]")


def _make_list_command(kind: str) -> None:
    title = KIND_TITLES[kind]

    @cli.command(title, help=f"List the {title} the installed plugins provide.")
    @click.option("--plugin", "-p", default=None, help="Only this plugin's.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON on standard output.")
    def command(plugin: str | None, as_json: bool) -> None:
        _list_kind(kind, plugin, as_json)


for _kind in CONTRIBUTION_HOOKS:
    _make_list_command(_kind)


@cli.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on standard output.")
def info_command(name: str, as_json: bool) -> None:
    """Describe a model, dataset, task or recipe: its arguments, defaults, paper or YAML."""
    from ..errors import NotFoundError, did_you_mean

    host = get_host()
    found = []
    for kind in CONTRIBUTION_HOOKS:
        try:
            found.append(host.get(kind, name))
        except NotFoundError:
            continue
    if not found:
        known = [n for kind in CONTRIBUTION_HOOKS for n in host.specs(kind)]
        raise NotFoundError(f"nothing named '{name}'" + did_you_mean(name, known + [k.split("/")[-1] for k in known]))
    if as_json:
        _print_json([_describe_spec(spec) for spec in found])
        return
    for spec in found:
        described = _describe_spec(spec)
        console.rule(f"{spec.kind} {spec.name}")
        for key, value in described.items():
            if key in ("arguments", "yaml", "doc", "kind", "name") or value in ("", (), [], None):
                continue
            console.print(f"[bold]{key}[/bold]: {value}")
        if described.get("doc"):
            console.print(described["doc"])
        if described.get("arguments"):
            from rich.table import Table

            table = Table(show_header=True)
            for column in ("argument", "type", "default"):
                table.add_column(column)
            for arg in described["arguments"]:
                table.add_row(arg["name"], arg["type"], arg["default"])
            console.print(table)
        if described.get("yaml"):
            from rich.syntax import Syntax

            console.print(Syntax(described["yaml"], "yaml"))


def _describe_spec(spec: Any) -> dict[str, Any]:
    import inspect

    from ..validation import describe_type, parameters_of

    out = spec.to_dict()
    if spec.kind == "recipe":
        out["yaml"] = spec.read_text()
        return out
    builder = spec.load()
    doc = inspect.getdoc(builder) or ""
    out["doc"] = doc.split("\n\n")[0]
    params, _ = parameters_of(builder, skip=("model",))
    out["arguments"] = [
        {"name": p.name, "type": describe_type(p.annotation),
         "default": "required" if p.required else repr(p.default)}
        for p in params.values()
    ]
    provides = getattr(builder, "provides", ())
    if provides:
        out["provides"] = list(provides)
    return out


# -- training ----------------------------------------------------------------------------------


def _devices(value: str | None) -> Any:
    if value is None:
        return None
    if value == "auto":
        return "auto"
    if "," in value:
        return [int(v) for v in value.split(",") if v.strip()]
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"expected a number, 'auto' or a list like 0,1; got {value!r}") from None


def _latest_unfinished(recipe_name: str, runs_root: Path) -> Path:
    from ..errors import NotFoundError

    folder = runs_root / recipe_name.replace("/", "-")
    candidates = []
    for run in sorted(folder.glob("*")) if folder.is_dir() else []:
        summary = run / "summary.json"
        status = json.loads(summary.read_text()).get("status") if summary.is_file() else None
        if (run / "config.yaml").is_file() and status != "completed":
            candidates.append(run)
    if not candidates:
        raise NotFoundError(f"no unfinished run of {recipe_name} under {folder} to resume; give its directory")
    return candidates[-1]


@cli.command("train")
@click.argument("recipe", required=False)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe key (dotted, value read as YAML). Repeatable.")
@click.option("--print-config", is_flag=True, help="Print the resolved recipe and stop.")
@click.option("--smoke", is_flag=True, help="Run the recipe's tiny CPU variant.")
@click.option("--variant", default=None, metavar="NAME",
              help="A variant the recipe defines under variants: (gpu: the settings for one GPU).")
@click.option("--accelerator", default=None, help="cpu, gpu, auto (default: the recipe's, else auto).")
@click.option("--devices", default=None, help="How many devices, or which (0,1), or auto.")
@click.option("--num-nodes", type=int, default=None, help="Nodes for multi-node training.")
@click.option("--strategy", default=None, help="Lightning strategy: ddp, fsdp, deepspeed, auto.")
@click.option("--precision", default=None,
              help="32-true, bf16-mixed, 16-mixed, auto (default: bf16-mixed on GPU, else 32-true).")
@click.option("--seed", type=int, default=None, help="Random seed (default: the recipe's).")
@click.option("--resume", "resume", is_flag=False, flag_value="latest", default=None, metavar="[RUN_DIR]",
              help="Continue an interrupted run from its last checkpoint (default: the newest unfinished one).")
@click.option("--run-dir", type=click.Path(path_type=Path), default=None, help="Where to write this run.")
@click.option("--runs-root", type=click.Path(path_type=Path), default=None,
              help="Parent of run directories (default: $SCIARCH_RUNS or ./runs).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or per-epoch lines.")
def train_command(recipe: str | None, overrides: tuple[str, ...], print_config: bool, smoke: bool, variant: str | None,
                  accelerator: str | None, devices: str | None, num_nodes: int | None, strategy: str | None,
                  precision: str | None, seed: int | None, resume: str | None, run_dir: Path | None,
                  runs_root: Path | None, quiet: bool) -> None:
    """Train RECIPE: a registered name (molecules/freesolv) or a YAML file."""
    from ..config import load as load_recipe
    from ..config import load_run_config

    # torch and Lightning load only once the recipe has been read and checked (sciarch.training
    # imports them): a usage error or a bad recipe is reported without waiting for them
    runs_root = runs_root or Path(os.environ.get("SCIARCH_RUNS", "runs"))
    from ..records import quiet_skips

    click.get_current_context().with_resource(quiet_skips(quiet))  # -q: skipped records as one line per input
    options = {"accelerator": accelerator, "devices": _devices(devices), "num_nodes": num_nodes,
               "strategy": strategy, "precision": precision}
    cli_overrides = [f"trainer.{k}={json.dumps(v)}" for k, v in options.items() if v is not None]
    if seed is not None:
        cli_overrides.append(f"seed={seed}")
    if resume is not None:
        if resume == "latest":
            if not recipe:
                raise UsageError("--resume without a run directory needs the RECIPE to find its newest run")
            name = load_recipe(recipe, overrides=(), smoke=smoke).name
            target = _latest_unfinished(name, runs_root)
        else:
            target = Path(resume)
        if overrides or cli_overrides:
            raise UsageError("--resume continues a run with its saved config; --set and trainer options "
                             "cannot change it")
        resolved = load_run_config(target)
        from ..io import check_checkpoint

        for last in sorted(Path(target).glob("**/checkpoints/last.ckpt")):
            check_checkpoint(last)  # a damaged or foreign checkpoint: exit 2 naming it, before any work
        console.print(f"resuming {target}")
        from ..training import train

        train(resolved, run_dir=target, resume=True, quiet=quiet)
        _report_run(target)
        return
    if not recipe:
        raise UsageError("missing RECIPE (a registered recipe name or a YAML file); see 'sciarch recipes'")
    resolved = load_recipe(recipe, overrides=list(overrides) + cli_overrides, smoke=smoke, variant=variant,
                           checked=_announce)
    if print_config:  # what the run would use: the data's hints applied, as config.yaml will hold
        from ..building import apply_hints, make_datamodule

        complete, filled = apply_hints(resolved, make_datamodule(resolved))
        if filled:
            click.echo("# filled from the data: " + ", ".join(sorted(filled)))
        click.echo(complete.to_yaml(), nl=False)
        return
    from ..training import train

    target = train(resolved, run_dir=run_dir, runs_root=runs_root, quiet=quiet)
    _report_run(target)


def _announce(recipe: Any) -> None:
    """The first line of ``sciarch train``: the recipe as read and checked, printed before torch and
    Lightning are imported (the rest of the checks need them)."""
    data = recipe.data
    names = [f"{key} {section.get('name') if isinstance(section, dict) else section}"
             for key in ("data", "model", "task") if (section := data.get(key)) is not None]
    trainer = data.get("trainer") or {}
    extra = [f"{trainer['max_epochs']} epochs"] if "max_epochs" in trainer else []
    if data.get("ensemble", 1) != 1:
        extra.append(f"ensemble of {data['ensemble']}")
    console.print(f"recipe {data.get('name', recipe.source)}: {', '.join(names + extra)}", soft_wrap=True,
                  markup=False)


def _report_run(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    test = summary.get("test") or {}
    if test:
        from rich.table import Table

        table = Table(title=f"test metrics ({summary.get('recipe')})")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in sorted(test.items()):
            if isinstance(value, dict):
                shown = f"{value['mean']:.4f} ± {value['sd']:.4f}"
            else:
                shown = f"{value:.4f}"
            table.add_row(key, shown)
        combined = summary.get("combined_test") or {}
        if combined:
            table.title = f"test metrics ({summary.get('recipe')}): members' mean ± sd, and their combined prediction"
            for key, value in sorted(combined.items()):
                table.add_row(f"{key} (ensemble)", f"{value:.4f}")
        console.print(table)
    console.print(f"run: {run_dir}  (status {summary.get('status')}, step {summary.get('global_step', '-')})")


def _parse_pairs(pairs: tuple[str, ...], flag: str) -> dict[str, Any]:
    import yaml

    out = {}
    for item in pairs:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{flag}: expected key=value, got {item!r}")
        out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return out


@cli.command("evaluate")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--split", type=click.Choice(["test", "val"]), default="test", show_default=True)
@click.option("--data", "data_overrides", multiple=True, metavar="ARG=VALUE",
              help="Change a data argument (e.g. path=other.csv) to score other data. Repeatable.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write metrics.json and plots (default: RUN/evaluation).")
@click.option("--accelerator", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON on standard output.")
def evaluate_command(run: Path, split: str, data_overrides: tuple[str, ...], out: Path | None,
                     accelerator: str, as_json: bool) -> None:
    """Score RUN (a run directory or a checkpoint in one) on its test split, with plots."""
    from ..runs import Run, evaluate

    report = evaluate(Run(run), split=split, out=out, data_overrides=_parse_pairs(data_overrides, "--data"),
                      accelerator=accelerator)
    if as_json:
        _print_json(report)
        return
    for key, value in sorted(report["metrics"].items()):
        shown = f"{value['mean']:.4f} ± {value['sd']:.4f}" if isinstance(value, dict) else f"{value:.4f}"
        console.print(f"{key:30s} {shown}")
    for key, value in sorted((report.get("combined") or {}).items()):
        console.print(f"{key + ' (ensemble)':30s} {value:.4f}")
    console.print(f"written to {out or Path(run) / 'evaluation'}")


@cli.command("predict")
@click.option("--checkpoint", "run", required=True, type=click.Path(path_type=Path),
              help="A run directory, or a checkpoint file in one.")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path), help="Input file.")
@click.option("--output", "output_path", required=True, type=click.Path(path_type=Path), help="Output file.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the task's predictor (see its docs). Repeatable.")
def predict_command(run: Path, input_path: Path, output_path: Path, options: tuple[str, ...]) -> None:
    """Predict with a trained run on new inputs; the task decides the formats."""
    from ..errors import NotFoundError
    from ..runs import Run

    if not input_path.exists():
        raise NotFoundError(f"{input_path}: no such input file")
    loaded = Run(run)
    predictor = loaded.task_spec().load_predictor()
    result = predictor(loaded, input_path, output_path, **_parse_pairs(options, "--option"))
    if isinstance(result, dict):
        for key, value in result.items():
            console.print(f"{key}: {value}")
    console.print(f"predictions written to {output_path}")


@cli.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("--as", "as_kind", type=click.Choice(["architecture", "model", "run"]), default=None,
              help="For a name that is both a recipe and a model: which to inspect.")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON on standard output.")
@click.option("--plot", "plot_path", type=click.Path(path_type=Path), default=None,
              help="Write the roofline (and receptive field against depth) to this PNG.")
def inspect_command(names: tuple[str, ...], as_kind: str | None, as_json: bool, plot_path: Path | None) -> None:
    """Measure architectures (registered models), models (recipes) and fit models (runs) the same
    way: layers, parameters, MACs and FLOPs per example, activation memory, receptive field or
    message-passing hops, arithmetic intensity on this machine's roofline, throughput."""
    from rich.table import Table

    from ..inspection import inspect_target, json_ready, plot, resolve_target, summary_rows

    reports = [inspect_target(resolve_target(name, as_kind={"run": "fit model"}.get(as_kind, as_kind)))
               for name in names]
    if plot_path is not None:
        plot(reports, plot_path)
    if as_json:
        _print_json(json_ready([r.to_dict() for r in reports]))
        return
    rows = [dict(summary_rows(r)) for r in reports]
    labels = list(dict.fromkeys(label for row in rows for label in row))
    table = Table(title="sciarch inspect", show_lines=False)
    table.add_column("")
    for report in reports:
        table.add_column(report.name, overflow="fold")
    for label in labels:
        table.add_row(label, *(row.get(label, "-") for row in rows))
    console.print(table)
    if len(reports) == 1:
        facts = reports[0].facts
        if facts.get("layers"):
            layers = Table(title="layers (one level down)")
            for column in ("name", "type", "output", "params", "calls"):
                layers.add_column(column, justify="right" if column in ("params", "calls") else "left")
            for layer in facts["layers"]:
                layers.add_row(layer["name"], layer["type"], layer["output"], f"{layer['params']:,}",
                               str(layer["calls"]))
            console.print(layers)
        free = Table(title="free parameters (the builder's arguments)")
        for column in ("argument", "type", "default", "value here"):
            free.add_column(column)
        for arg in facts.get("free_parameters", []):
            free.add_row(arg["name"], arg["type"], arg["default"], arg["value"])
        console.print(free)
    if plot_path is not None:
        console.print(f"plot written to {plot_path}")


@cli.command("new-plugin")
@click.argument("name")
@click.option("--path", "parent", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Directory to create the package in.")
def new_plugin_command(name: str, parent: Path) -> None:
    """Write a complete, working third-party plugin package NAME (sciarch-NAME)."""
    from ..scaffold import scaffold

    target = scaffold(name, parent)
    console.print(f"created {target}")
    console.print(f"next: pip install -e {target} && sciarch plugins && sciarch train {name}/default --smoke")


# -- entry point -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return (and exit with) its status."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("SCIARCH_DEBUG", "") not in ("", "0")
    try:
        cli.main(args=args, prog_name="sciarch", standalone_mode=False)
        status = 0
    except click.exceptions.Exit as exc:
        status = exc.exit_code
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, EOFError):  # Click files an EOFError under Abort: a bug, not Ctrl-C
            console.print(f"[red]error:[/red] EOFError: {escape(str(exc.__cause__))} (a reader met the end of "
                          "its input; run with --debug for the traceback)", highlight=False, soft_wrap=True)
            status = 1
        else:
            console.print("aborted")
            status = 130
    except click.ClickException as exc:
        exc.show()
        status = exc.exit_code
    except SciarchError as exc:
        if debug:
            console.print_exception()
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        status = exc.exit_code
    except KeyboardInterrupt:
        console.print("interrupted")
        status = 130
    except Exception as exc:  # a failure, not a usage mistake
        if debug:
            console.print_exception()
        else:
            console.print(f"[red]error:[/red] {type(exc).__name__}: {escape(str(exc))}\n"
                          "(run with --debug for the traceback)", highlight=False, soft_wrap=True)
        status = 1
    if argv is None:
        sys.exit(status)
    return status
