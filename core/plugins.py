"""The plugin host: find plugins through entry points, load them one at a time, collect their specs.

A plugin is a module (or any object) whose functions are marked with :data:`sciarch.hookimpl`.
Installed plugins are found through the entry-point group ``sciarch.plugins``; the first-party
ones are registered there exactly as a third party's are. A plugin module that needs an extra of
its distribution names it (``sciarch_extra = "chemistry"``, or calls
``sciarch.require_extra("chemistry")`` first thing), so a missing library shows as
``failed: ... pip install "sciarch[chemistry]"`` rather than as a crash later on.

Environment variables:

``SCIARCH_STRICT_PLUGINS=1``
    a plugin that fails to load is an error, not a line in ``sciarch plugins``.
``SCIARCH_DISABLE_PLUGIN_AUTOLOAD=1``
    load no entry points; only plugins registered in code (tests) are used.
``SCIARCH_PLUGINS=a,b``
    load only these entry points.
``SCIARCH_PLUGIN_MODULES=name=package.module,...``
    also load these modules as plugins, as if they had entry points (like ``PYTEST_PLUGINS``):
    for a plugin under development, or one a test writes to a temporary directory.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field, replace
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import MissingDependencyError, NotFoundError, PluginError, did_you_mean
from .imports import extra_for_module, install_hint, require_extra
from .specs import SPEC_TYPES, Spec

ENTRY_POINT_GROUP = "sciarch.plugins"
CONTRIBUTION_HOOKS = {
    "model": "sciarch_models",
    "dataset": "sciarch_datasets",
    "task": "sciarch_tasks",
    "recipe": "sciarch_recipes",
}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class PluginInfo:
    """What ``sciarch plugins`` reports about one plugin."""

    name: str
    distribution: str | None = None
    version: str | None = None
    module: str | None = None
    status: str = "ok"  # ok | failed | skipped
    error: str | None = None
    install: str | None = None
    hooks: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def origin(self) -> str:
        if self.distribution:
            return f"{self.distribution} {self.version or ''}".strip()
        return "registered in code"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "install": self.install,
            "hooks": self.hooks,
            "counts": self.counts,
        }


class PluginHost:
    """Loads plugins and serves what they contribute (:meth:`get`, :meth:`specs`)."""

    def __init__(self, *, autoload: bool | None = None, only: list[str] | None = None,
                 strict: bool | None = None) -> None:
        self.pm = pluggy.PluginManager("sciarch")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.strict = _env_flag("SCIARCH_STRICT_PLUGINS") if strict is None else strict
        if autoload is None:
            autoload = not _env_flag("SCIARCH_DISABLE_PLUGIN_AUTOLOAD")
        if only is None and os.environ.get("SCIARCH_PLUGINS", "").strip():
            only = [p.strip() for p in os.environ["SCIARCH_PLUGINS"].split(",") if p.strip()]
        self.only = only
        self._specs: dict[str, dict[str, Spec]] | None = None
        if autoload:
            self.load_entry_points()
        for item in os.environ.get("SCIARCH_PLUGIN_MODULES", "").split(","):
            if item.strip():
                self.load_module(*reversed(item.strip().split("=", 1)))

    def load_module(self, module: str, name: str | None = None) -> PluginInfo:
        """Load ``module`` as a plugin named ``name`` (default: the module's package name)."""
        import importlib

        name = name or module.split(".")[0].removeprefix("sciarch_")
        info = PluginInfo(name=name, module=module)
        try:
            plugin = importlib.import_module(module)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a plugin never ends the host
            self._fail(info, _describe(exc))
            return info
        self._register(plugin, info)
        return info

    # -- loading ---------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Load every entry point of the group, one at a time; a failure never stops the rest."""
        seen: dict[str, metadata.EntryPoint] = {}
        # sciarch's own plugins are loaded first, so that another distribution that names an entry
        # point like one of them (earlier on sys.path or not) cannot take its place
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: not _first_party(e)):
            dist = ep.dist
            info = PluginInfo(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
                module=ep.value,
            )
            if self.only is not None and ep.name not in self.only:
                continue
            if ep.name in seen:
                first = seen[ep.name]
                if first.dist and dist and first.dist.metadata["Name"] == dist.metadata["Name"]:
                    continue  # the same distribution seen twice on sys.path
                first_info = self.plugins[ep.name]
                reserved = (f"; '{ep.name}' is a first-party plugin of sciarch, so {info.origin} must rename "
                            "its entry point") if _first_party(first) else ""
                self._fail(
                    PluginInfo(**{**info.to_dict(), "name": f"{ep.name} ({info.origin})"}),
                    f"plugin name '{ep.name}' is claimed by both {first_info.origin} and {info.origin}{reserved}",
                )
                continue
            seen[ep.name] = ep
            self._load_one(ep, info)
        if self.only is not None:
            for name in self.only:
                if name not in self.plugins:
                    known = sorted(ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))
                    self._fail(PluginInfo(name=name), "SCIARCH_PLUGINS names a plugin that is not installed"
                               + _suggest(name, known))

    def _load_one(self, ep: metadata.EntryPoint, info: PluginInfo) -> None:
        distribution = info.distribution or "sciarch"
        try:
            plugin = ep.load()
            extra = getattr(plugin, "sciarch_extra", None)
            if extra:  # checked at every load, not only when the module is first imported
                require_extra(extra, distribution=distribution)
        except MissingDependencyError as exc:
            info.install = exc.install
            self._fail(info, str(exc))
            return
        except ModuleNotFoundError as exc:
            extra = extra_for_module(exc.name or "", distribution) if info.distribution else None
            info.install = install_hint(distribution, extra) if extra else f"pip install {exc.name}"
            self._fail(info, f"{exc}: {info.install}")
            return
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a bug in the plugin, even sys.exit() at import, must not end the host
            self._fail(info, _describe(exc))
            return
        self._register(plugin, info)

    def register(self, plugin: Any, name: str | None = None, *, distribution: str | None = None,
                 version: str | None = None) -> PluginInfo:
        """Register a plugin object in code (tests, notebooks). Unregister it with :meth:`unregister`."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.plugins and self.plugins[name].ok:
            raise PluginError(f"plugin name '{name}' is already registered by {self.plugins[name].origin}")
        info = PluginInfo(name=name, distribution=distribution, version=version,
                          module=getattr(plugin, "__name__", None))
        self._register(plugin, info)
        if not info.ok and self.strict:
            raise PluginError(f"plugin {name} failed: {info.error}")
        return info

    def _register(self, plugin: Any, info: PluginInfo) -> None:
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:  # pluggy validation: unknown hook, wrong arguments
            self._fail(info, _describe(exc))
            return
        callers = self.pm.get_hookcallers(plugin) or []
        unknown = sorted(c.name for c in callers if c.spec is None)
        if unknown:
            self.pm.unregister(plugin, name=info.name)
            known = [name for name in dir(hookspecs) if name.startswith("sciarch_")]
            self._fail(info, f"unknown hook {unknown[0]}{did_you_mean(unknown[0], known)}")
            return
        info.hooks = sorted(caller.name for caller in callers)
        self.plugins[info.name] = info
        self._specs = None

    def unregister(self, name: str) -> None:
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.plugins.pop(name, None)
        self._specs = None

    def _fail(self, info: PluginInfo, error: str) -> None:
        info.status = "failed"
        info.error = error
        self.plugins[info.name] = info
        if self.strict:
            raise PluginError(f"plugin {info.name} ({info.origin}) failed to load: {error}")

    # -- contributions ---------------------------------------------------------------------

    def specs(self, kind: str) -> dict[str, Spec]:
        """All specs of one kind (``model``, ``dataset``, ``task``, ``recipe``) by qualified name."""
        if kind not in CONTRIBUTION_HOOKS:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(CONTRIBUTION_HOOKS)}")
        if self._specs is None:
            self._specs = self._collect()
        return self._specs[kind]

    def _collect(self) -> dict[str, dict[str, Spec]]:
        collected: dict[str, dict[str, Spec]] = {kind: {} for kind in CONTRIBUTION_HOOKS}
        for kind, hook_name in CONTRIBUTION_HOOKS.items():
            spec_type = SPEC_TYPES[kind]
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                plugin_name = impl.plugin_name
                info = self.plugins.get(plugin_name)
                if info is None or not info.ok:
                    continue
                try:
                    contributed = list(impl.function() or [])
                    for spec in contributed:
                        if not isinstance(spec, spec_type):
                            raise TypeError(f"{hook_name} returned {type(spec).__name__}, not {spec_type.__name__}")
                        if not spec.name or "/" in spec.name:
                            raise ValueError(f"{kind} name {spec.name!r} must be non-empty and contain no '/'")
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:
                    self._fail(info, f"{hook_name}: {_describe(exc)}")
                    for specs in collected.values():  # drop what it contributed so far
                        for key in [k for k, s in specs.items() if s.plugin == plugin_name]:
                            del specs[key]
                    continue
                for spec in contributed:
                    qualified = f"{plugin_name}/{spec.name}"
                    if qualified in collected[kind]:
                        self._fail(info, f"{kind} '{qualified}' is contributed twice by {info.origin}")
                        for specs in collected.values():  # a failed plugin serves nothing
                            for key in [k for k, s in specs.items() if s.plugin == plugin_name]:
                                del specs[key]
                        break
                    collected[kind][qualified] = replace(spec, name=qualified, plugin=plugin_name)
        for info in self.plugins.values():
            info.counts = {
                kind: sum(1 for s in collected[kind].values() if s.plugin == info.name) for kind in collected
            }
        return collected

    def get(self, kind: str, name: str) -> Spec:
        """Find a spec by qualified name, or by short name when only one plugin has it."""
        specs = self.specs(kind)
        if name in specs:
            return specs[name]
        if "/" not in name:
            matches = [s for s in specs.values() if s.short_name == name]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise NotFoundError(
                    f"{kind} '{name}' is ambiguous: " + ", ".join(sorted(s.name for s in matches))
                )
        plugin = name.split("/", 1)[0] if "/" in name else None
        if plugin and plugin in self.plugins and not self.plugins[plugin].ok:
            raise NotFoundError(f"{kind} '{name}': plugin {plugin} failed to load: {self.plugins[plugin].error}")
        raise NotFoundError(f"unknown {kind} '{name}'" + _suggest(name, list(specs)))

    def add_commands(self, cli: Any) -> None:
        """Let every loaded plugin add its subcommands; a failing plugin is marked failed."""
        for impl in self.pm.hook.sciarch_add_commands.get_hookimpls():
            info = self.plugins.get(impl.plugin_name)
            if info is None or not info.ok:
                continue
            try:
                impl.function(cli=cli)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self._fail(info, f"sciarch_add_commands: {_describe(exc)}")


#: The plugins sciarch ships; their names cannot be taken by another distribution.
FIRST_PARTY = ("molecules", "keywords", "tracks", "splice")


def _first_party(ep: metadata.EntryPoint) -> bool:
    dist = ep.dist
    return (ep.name in FIRST_PARTY and dist is not None and dist.metadata["Name"] == "sciarch"
            and ep.value.startswith(f"sciarch_{ep.name}"))


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    if isinstance(exc, SystemExit):
        return f"the plugin called sys.exit({exc.code!r}){where}"
    return f"{type(exc).__name__}: {exc}{where}"


def _suggest(name: str, known: list[str]) -> str:
    return did_you_mean(name, list(set(known) | {k.rsplit("/", 1)[-1] for k in known}))


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide host, created on first use from the environment."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost()
    return _HOST


def reset_host(host: PluginHost | None = None) -> PluginHost | None:
    """Replace the process-wide host (tests); returns the previous one."""
    global _HOST
    previous, _HOST = _HOST, host
    return previous
