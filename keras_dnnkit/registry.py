"""The component registry: plugins register components by kind and name, users get them back.

Example:
    >>> import keras_dnnkit
    >>> keras_dnnkit.get("constraint", "max_norm", max_value=2.0)
    <keras.src.constraints.constraints.MaxNorm object at ...>
    >>> "he_normal" in keras_dnnkit.names("initializer")
    True
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import pluggy

from keras_dnnkit import hookspecs
from keras_dnnkit._plugin_sources import (
    DISABLE_VARIABLE,
    ENTRY_POINT_GROUP,
    TRACE_VARIABLE,
    PluginSource,
    builtin_sources,
    entry_point_sources,
    explicit_sources,
)
from keras_dnnkit._staging import Component, Staging
from keras_dnnkit._types import KINDS
from keras_dnnkit.builtins import BUILTIN_PLUGINS
from keras_dnnkit.errors import DuplicateComponentError, PluginError, UnknownComponentError

__all__ = [
    "Component",
    "PluginInfo",
    "Registry",
    "default_registry",
    "get",
    "list_plugins",
    "load_model",
    "names",
]


@dataclass(frozen=True)
class PluginInfo:
    """What :func:`list_plugins` says about one loaded plugin.

    Example:
        >>> import keras_dnnkit
        >>> info = keras_dnnkit.list_plugins()[0]
        >>> info.name, info.builtin, "he_normal" in info.registered["initializer"]
        ('keras_dnnkit.initializers', True, True)
    """

    name: str
    distribution: str | None
    version: str | None
    builtin: bool
    registered: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary.

        Example:
            >>> PluginInfo("demo", "demo-dist", "1.0", False, {"layer": ("x",)}).to_dict()
            {'name': 'demo', 'distribution': 'demo-dist', 'version': '1.0', 'builtin': False, 'registered': {'layer': ['x']}}
        """  # noqa: E501 -- a doctest's expected output is one line
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "registered": {kind: list(names) for kind, names in self.registered.items()},
        }


def _describe(source: PluginSource) -> str:
    if source.distribution:
        return f"plugin '{source.name}' (distribution {source.distribution} {source.version})"
    return f"plugin '{source.name}'"


def _disable_hint(source: PluginSource) -> str:
    if source.builtin:
        return " This is a keras-dnnkit built-in: please report it as a bug."
    return f" To run without it, set {DISABLE_VARIABLE}={source.name}."


class Registry:
    """A set of components, filled by plugins on first use.

    Args:
        builtins: load keras-dnnkit's own components (default ``True``).
        plugins: extra plugin objects (modules or instances with hook implementations),
            by plugin name; useful for tests and applications that do not package plugins.
        entry_point_group: entry-point group to discover installed plugins in, or ``None``
            to load no installed plugins.
        environ: environment to read ``KERAS_DNNKIT_*`` variables from (default ``os.environ``,
            read when the registry loads).

    Example:
        >>> import keras_dnnkit
        >>> registry = keras_dnnkit.Registry(entry_point_group=None)
        >>> registry.get("optimizer", "nesterov", learning_rate=0.01).nesterov
        True
    """

    def __init__(
        self,
        *,
        builtins: bool = True,
        plugins: Mapping[str, object] | None = None,
        entry_point_group: str | None = ENTRY_POINT_GROUP,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._builtins = builtins
        self._explicit = dict(plugins or {})
        self._group = entry_point_group
        self._environ = environ
        self._lock = threading.Lock()
        self._components: dict[str, dict[str, Component]] | None = None
        self._plugins: list[PluginInfo] = []

    # ------------------------------------------------------------------ lookup
    def get(self, kind: str, name: str, /, **config: Any) -> Any:
        """Return a ready component: configured if it takes configuration.

        Example:
            >>> Registry(entry_point_group=None).get("initializer", "he_normal", seed=1)
            <keras.src.initializers.random_initializers.HeNormal object at ...>
        """
        component = self.component(kind, name)
        obj = component.obj
        if component.kind == "activation" and not isinstance(obj, type):
            if not config:
                return obj
            from keras_dnnkit.activations import ConfiguredActivation

            return ConfiguredActivation(name, function=obj, **config)
        try:
            return obj(**config)
        except TypeError as error:
            raise TypeError(
                f"Could not build the {kind} '{name}' with configuration {config}: {error}"
            ) from error

    def component(self, kind: str, name: str) -> Component:
        """Return the :class:`Component` registered as ``kind`` ``name``, unconfigured.

        Example:
            >>> Registry(entry_point_group=None).component("layer", "maxout").plugin
            'keras_dnnkit.layers'
        """
        components = self._kind(kind)
        if name in components:
            return components[name]
        close = difflib.get_close_matches(str(name), list(components), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownComponentError(
            f"Unknown {kind} {name!r}.{hint} Registered {kind}s: {', '.join(sorted(components))}."
        )

    def names(self, kind: str) -> list[str]:
        """Return the sorted names registered for ``kind``.

        Example:
            >>> "elu" in Registry(entry_point_group=None).names("activation")
            True
        """
        return sorted(self._kind(kind))

    def components(self, kind: str | None = None) -> list[Component]:
        """Return every component (of one kind, or all), sorted by kind and name.

        Example:
            >>> len(Registry(entry_point_group=None).components("optimizer")) >= 9
            True
        """
        kinds = [kind] if kind is not None else list(KINDS)
        return [self._kind(k)[n] for k in kinds for n in sorted(self._kind(k))]

    def list_plugins(self) -> list[PluginInfo]:
        """Describe every loaded plugin: name, distribution, version, what it registered.

        Example:
            >>> [p.name for p in Registry(entry_point_group=None).list_plugins()][:2]
            ['keras_dnnkit.initializers', 'keras_dnnkit.activations']
        """
        self.load()
        return list(self._plugins)

    def load_model(self, path: str | os.PathLike[str], **kwargs: Any) -> Any:
        """Load a ``.keras`` file after every plugin's components are registered.

        Example:
            >>> import keras, tempfile, os
            >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
            >>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
            >>> model.save(path)
            >>> Registry(entry_point_group=None).load_model(path).output_shape
            (None, 2)
        """
        self.load()
        register_saved_classes()
        return keras.saving.load_model(path, **kwargs)

    def _kind(self, kind: str) -> dict[str, Component]:
        if kind not in KINDS:
            close = difflib.get_close_matches(str(kind), KINDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownComponentError(
                f"Unknown kind {kind!r}.{hint} Kinds are: {', '.join(KINDS)}."
            )
        self.load()
        assert self._components is not None
        return self._components[kind]

    # ------------------------------------------------------------------ loading
    def load(self) -> None:
        """Load every plugin now (otherwise done on first use); safe to call from threads.

        If any plugin fails, nothing is registered and the error says which plugin, which
        hook and why; the next call tries again.

        Example:
            >>> registry = Registry(entry_point_group=None)
            >>> registry.load(); registry.load()  # the second call finds everything loaded
            >>> "keras_dnnkit.layers" in [plugin.name for plugin in registry.list_plugins()]
            True
        """
        if self._components is not None:
            return
        with self._lock:
            if self._components is not None:
                return
            staging, infos = self._load_all()
            staging.commit()
            self._plugins = infos
            self._components = staging.components

    def _sources(self, environ: Mapping[str, str]) -> list[PluginSource]:
        sources = builtin_sources(BUILTIN_PLUGINS) if self._builtins else []
        sources += explicit_sources(self._explicit)
        if self._group is not None:
            sources += entry_point_sources(self._group, environ)
        return sources

    def _load_all(self) -> tuple[Staging, list[PluginInfo]]:
        environ = os.environ if self._environ is None else self._environ
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        if environ.get(TRACE_VARIABLE, "") not in ("", "0"):
            manager.trace.root.setwriter(sys.stderr.write)
            manager.enable_tracing()
        sources = self._sources(environ)
        plugins = {source.name: self._register_plugin(manager, source) for source in sources}
        staging = Staging()
        infos = []
        for source in sources:
            before = {kind: set(staging.components[kind]) for kind in KINDS}
            others = [p for name, p in plugins.items() if name != source.name]
            for kind in KINDS:
                hook_name = hookspecs.HOOK_FOR_KIND[kind]
                caller = manager.subset_hook_caller(hook_name, remove_plugins=others)
                if not caller.get_hookimpls():
                    continue
                try:
                    caller(register=staging.register_function(kind, source))
                except DuplicateComponentError:
                    raise
                except Exception as error:
                    raise PluginError(
                        f"{_describe(source)} failed in hook {hook_name}: "
                        f"{type(error).__name__}: {error}.{_disable_hint(source)}",
                        plugin=source.name,
                        distribution=source.distribution,
                        version=source.version,
                        hook=hook_name,
                    ) from error
            registered = {
                kind: tuple(sorted(set(staging.components[kind]) - before[kind])) for kind in KINDS
            }
            infos.append(
                PluginInfo(
                    source.name,
                    source.distribution,
                    source.version,
                    source.builtin,
                    {kind: names for kind, names in registered.items() if names},
                )
            )
        return staging, infos

    @staticmethod
    def _register_plugin(manager: pluggy.PluginManager, source: PluginSource) -> object:
        def fail(problem: str, hook: str | None = None, cause: Exception | None = None) -> None:
            raise PluginError(
                f"{_describe(source)} {problem}.{_disable_hint(source)}",
                plugin=source.name,
                distribution=source.distribution,
                version=source.version,
                hook=hook,
            ) from cause

        try:
            plugin = source.load()
        except Exception as error:
            fail(f"failed to import: {type(error).__name__}: {error}", cause=error)
        hooks = set(hookspecs.HOOK_FOR_KIND.values())
        marker = f"{hookspecs.PROJECT_NAME}_impl"
        for attribute in dir(plugin):
            if not attribute.startswith("dnnkit_"):
                continue
            marked = hasattr(getattr(plugin, attribute, None), marker)
            if attribute not in hooks:
                close = difflib.get_close_matches(attribute, sorted(hooks), n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                if marked:
                    fail(
                        f"implements {attribute}, which is not a keras-dnnkit hook{hint}", attribute
                    )
            elif not marked:
                fail(f"defines {attribute} without the @keras_dnnkit.hookimpl marker", attribute)
        try:
            manager.register(plugin, name=source.name)
        except (pluggy.PluginValidationError, ValueError) as error:
            fail(f"has a malformed hook implementation: {error}", cause=error)
        return plugin


_default_lock = threading.Lock()
_default_registry: Registry | None = None


def default_registry() -> Registry:
    """Return the registry the module-level functions use (built-ins and installed plugins).

    Example:
        >>> default_registry() is default_registry()
        True
    """
    global _default_registry
    with _default_lock:
        if _default_registry is None:
            _default_registry = Registry()
        return _default_registry


def get(kind: str, name: str, /, **config: Any) -> Any:
    """Return a ready component by kind and name, configured with ``config``.

    Example:
        >>> import keras_dnnkit
        >>> optimizer = keras_dnnkit.get("optimizer", "nadam", learning_rate=1e-3)
        >>> type(optimizer).__name__, round(float(optimizer.learning_rate), 6)
        ('Nadam', 0.001)
    """
    return default_registry().get(kind, name, **config)


def names(kind: str) -> list[str]:
    """Return the names registered for ``kind``.

    Example:
        >>> import keras_dnnkit
        >>> keras_dnnkit.names("constraint")
        ['max_norm', 'min_max_norm', 'non_neg', 'unit_norm']
    """
    return default_registry().names(kind)


def list_plugins() -> list[PluginInfo]:
    """Describe every loaded plugin (name, distribution, version, what it registered).

    Example:
        >>> import keras_dnnkit
        >>> any(p.name == "keras_dnnkit.layers" for p in keras_dnnkit.list_plugins())
        True
    """
    return default_registry().list_plugins()


SAVED_CLASS_MODULES = (
    "keras_dnnkit.activations",
    "keras_dnnkit.constraints",
    "keras_dnnkit.initializers",
    "keras_dnnkit.layers",
    "keras_dnnkit.schedules",
)
"""The modules whose classes ``keras.saving.register_keras_serializable`` registers."""


def register_saved_classes() -> None:
    """Import every module that registers a class saved in ``.keras`` files (idempotent).

    Example:
        >>> register_saved_classes()
        >>> keras.saving.get_registered_object("keras_dnnkit>mc_dropout").__name__
        'MCDropout'
    """
    for module in SAVED_CLASS_MODULES:
        importlib.import_module(module)


def load_model(path: str | os.PathLike[str], **kwargs: Any) -> Any:
    """Load a ``.keras`` file that may use plugin components (see :meth:`Registry.load_model`).

    Example:
        >>> import keras, keras_dnnkit, tempfile, os
        >>> maxout = keras_dnnkit.get("layer", "maxout", units=2)
        >>> model = keras.Sequential([keras.Input((4,)), maxout])
        >>> path = os.path.join(tempfile.mkdtemp(), "maxout.keras")
        >>> model.save(path)
        >>> keras_dnnkit.load_model(path).layers[0].__class__.__name__
        'Maxout'
    """
    return default_registry().load_model(path, **kwargs)
