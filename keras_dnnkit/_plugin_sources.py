"""Where plugins come from: built-ins, explicit objects, and the entry-point group."""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ENTRY_POINT_GROUP = "keras_dnnkit"
DISABLE_VARIABLE = "KERAS_DNNKIT_DISABLE_PLUGINS"
LOAD_VARIABLE = "KERAS_DNNKIT_LOAD_PLUGINS"
TRACE_VARIABLE = "KERAS_DNNKIT_TRACE_PLUGINS"


@dataclass(frozen=True)
class PluginSource:
    """A plugin not yet loaded: its name, where it comes from, and how to load it."""

    name: str
    load: Callable[[], Any]
    distribution: str | None
    version: str | None
    builtin: bool


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _own_version() -> str | None:
    try:
        return importlib.metadata.version("keras-dnnkit")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return None


def _identity(plugin: object) -> object:
    return plugin


def builtin_sources(modules: Mapping[str, str]) -> list[PluginSource]:
    """Return sources for keras-dnnkit's own plugin modules (always loaded)."""
    version = _own_version()
    return [
        PluginSource(
            name, functools.partial(importlib.import_module, module), "keras-dnnkit", version, True
        )
        for name, module in modules.items()
    ]


def explicit_sources(plugins: Mapping[str, object]) -> list[PluginSource]:
    """Return sources for plugin objects handed to a registry directly."""
    return [
        PluginSource(name, functools.partial(_identity, plugin), None, None, False)
        for name, plugin in plugins.items()
    ]


def entry_point_sources(group: str, environ: Mapping[str, str]) -> list[PluginSource]:
    """Return the installed plugins of ``group`` that the environment variables allow.

    ``KERAS_DNNKIT_LOAD_PLUGINS`` unset loads all, empty loads none, a comma-separated
    list loads only those; ``KERAS_DNNKIT_DISABLE_PLUGINS`` then removes the ones it lists.
    """
    entry_points = sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name)
    available = [ep.name for ep in entry_points]
    allowed: set[str] | None = None
    if LOAD_VARIABLE in environ:
        allowed = set(_split(environ[LOAD_VARIABLE]))
    disabled = set(_split(environ.get(DISABLE_VARIABLE, "")))
    for variable, names in ((LOAD_VARIABLE, allowed or set()), (DISABLE_VARIABLE, disabled)):
        unknown = sorted(names - set(available))
        if unknown:
            warnings.warn(
                f"{variable} names plugins that are not installed: {', '.join(unknown)}. "
                f"Installed plugins: {', '.join(available) or '(none)'}.",
                stacklevel=4,
            )
    sources = []
    for ep in entry_points:
        if (allowed is not None and ep.name not in allowed) or ep.name in disabled:
            continue
        dist = ep.dist
        sources.append(
            PluginSource(
                ep.name,
                ep.load,
                dist.metadata["Name"] if dist is not None else None,
                dist.version if dist is not None else None,
                False,
            )
        )
    return sources
