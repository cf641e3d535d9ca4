"""Staging of one registry load.

Components are checked as plugins register them, and committed (made Keras-serializable)
only when every plugin has succeeded, so a broken plugin leaves nothing half-loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from keras_dnnkit import _naming
from keras_dnnkit._plugin_sources import DISABLE_VARIABLE, PluginSource
from keras_dnnkit._types import KINDS, Kind, Register
from keras_dnnkit.errors import DuplicateComponentError

# Kinds whose components Keras stores inside a saved model, so they must be serializable.
_SAVED_KINDS = frozenset(
    {"initializer", "activation", "constraint", "optimizer", "schedule", "layer"}
)


@dataclass(frozen=True)
class Component:
    """One registered component: its kind, name, the object, and the plugin that registered it.

    Example:
        >>> import keras_dnnkit
        >>> component = keras_dnnkit.default_registry().component("layer", "maxout")
        >>> component.kind, component.name, component.plugin
        ('layer', 'maxout', 'keras_dnnkit.layers')
    """

    kind: Kind
    name: str
    obj: Any
    plugin: str


def _is_keras_builtin(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return module == "keras" or module.startswith("keras.")


class Staging:
    """Components registered during one load, committed only if every plugin succeeded."""

    def __init__(self) -> None:
        self.components: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        self.keras_keys: dict[str, Component] = {}
        self.to_serialize: list[Component] = []

    def register_function(self, kind: Kind, source: PluginSource) -> Register:
        def register(obj: Any, name: str | None = None) -> None:
            self.add(kind, source, obj, name)

        return register

    def add(self, kind: Kind, source: PluginSource, obj: Any, name: str | None) -> None:
        if not callable(obj):
            raise TypeError(f"register() takes a class or a function. Received: obj={obj!r}")
        python_name = getattr(obj, "__name__", type(obj).__name__)
        saved_as = keras.saving.get_registered_name(obj)
        saved_name = _naming.name_from_keras_key(saved_as)
        name = _naming.check_name(name or saved_name or _naming.snake_case(python_name))
        if kind in _SAVED_KINDS and saved_name is not None and saved_name != name:
            raise ValueError(
                f"{python_name} is saved by Keras as '{saved_as}' but registered as "
                f"{kind} '{name}'. The registry name is the saved identity: register it "
                f"as '{saved_name}' or change its register_keras_serializable name."
            )
        existing = self.components[kind].get(name)
        if existing is not None and existing.plugin == source.name:
            raise DuplicateComponentError(
                f"Plugin '{source.name}' registers the {kind} '{name}' twice; names must be "
                "unique within a kind. Pass a different name= to register()."
            )
        if existing is not None:
            raise DuplicateComponentError(
                f"Two plugins register the {kind} '{name}': '{existing.plugin}' and "
                f"'{source.name}'. The name is stored inside saved models, so neither is "
                f"overridden or renamed. Disable one of them with {DISABLE_VARIABLE}=<plugin>."
            )
        component = Component(kind, name, obj, source.name)
        unregistered = saved_as == python_name and not _is_keras_builtin(obj)
        if kind in _SAVED_KINDS and unregistered:
            if isinstance(obj, type) and not hasattr(obj, "get_config"):
                raise TypeError(
                    f"{python_name} has no get_config(), so Keras could not save a model "
                    f"that uses this {kind}. Add get_config() (and from_config if needed)."
                )
            self._claim_keras_key(component)
            self.to_serialize.append(component)
        self.components[kind][name] = component

    def _claim_keras_key(self, component: Component) -> None:
        key = _naming.keras_key(component.name)
        holder = self.keras_keys.get(key)
        taken = keras.saving.get_registered_object(key)
        if (holder is not None and holder.obj is not component.obj) or (
            holder is None and taken is not None and taken is not component.obj
        ):
            other = f"the {holder.kind} of plugin '{holder.plugin}'" if holder else repr(taken)
            raise DuplicateComponentError(
                f"The {component.kind} '{component.name}' of plugin '{component.plugin}' would "
                f"be saved by Keras as '{key}', which already names {other}. Choose another name."
            )
        self.keras_keys[key] = component

    def commit(self) -> None:
        for component in self.to_serialize:
            keras.saving.register_keras_serializable(
                package=_naming.KERAS_PACKAGE, name=component.name
            )(component.obj)
