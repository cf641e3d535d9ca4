"""The plugin contract: one hook per kind of component, each called with ``register``.

A plugin is any module (or object) with functions marked by :data:`hookimpl` and named
after the hooks below. A package makes itself a plugin by declaring an entry point in
the ``keras_dnnkit`` group; the entry point's name is the plugin's name::

    # pyproject.toml
    [project.entry-points.keras_dnnkit]
    my_plugin = "my_package.dnnkit_plugin"

    # my_package/dnnkit_plugin.py
    import keras
    import keras_dnnkit

    def squareplus(x, b=4.0):
        return (x + keras.ops.sqrt(x * x + b)) / 2

    @keras_dnnkit.hookimpl
    def dnnkit_register_activations(register):
        register(squareplus)

``register(obj, name=None)`` adds ``obj``; ``name`` defaults to the snake_case of
``obj.__name__``. The name is the component's identity: ``keras_dnnkit.get(kind, name)``
finds it, and a model that uses it is saved under ``keras_dnnkit>name`` unless the
object is already registered with ``keras.saving.register_keras_serializable``.
What ``keras_dnnkit.get(kind, name, **config)`` returns depends on the object:

- a class is instantiated with the configuration;
- a function registered as an *activation* is returned as is (or bound to the
  configuration, serializably);
- a function registered as any other kind is a factory, called with the configuration.

keras-dnnkit's own components are registered through these same hooks.
"""

from __future__ import annotations

import pluggy

from keras_dnnkit._types import Register

PROJECT_NAME = "keras_dnnkit"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin's hook implementations (``@keras_dnnkit.hookimpl``)."""


@hookspec
def dnnkit_register_initializers(register: Register) -> None:
    """Register weight initializers (kind ``"initializer"``).

    Example:
        >>> import keras, types
        >>> from keras_dnnkit import Registry
        >>> @hookimpl
        ... def dnnkit_register_initializers(register):
        ...     register(keras.initializers.Orthogonal, name="orthogonal")
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_initializers = dnnkit_register_initializers
        >>> registry = Registry(builtins=False, plugins={"mine": plugin}, entry_point_group=None)
        >>> weights = keras.ops.convert_to_numpy(registry.get("initializer", "orthogonal")((3, 3)))
        >>> (weights.T @ weights).round(5).tolist()  # orthogonal: W^T W = I
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """


@hookspec
def dnnkit_register_activations(register: Register) -> None:
    """Register activation functions or activation layers (kind ``"activation"``).

    Example:
        >>> import keras, types
        >>> from keras_dnnkit import Registry
        >>> @hookimpl
        ... def dnnkit_register_activations(register):
        ...     register(keras.activations.hard_silu)
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_activations = dnnkit_register_activations
        >>> registry = Registry(builtins=False, plugins={"mine": plugin}, entry_point_group=None)
        >>> registry.get("activation", "hard_silu") is keras.activations.hard_silu
        True
    """


@hookspec
def dnnkit_register_constraints(register: Register) -> None:
    """Register weight constraints (kind ``"constraint"``).

    Example:
        >>> import keras, types
        >>> from keras_dnnkit import Registry
        >>> @hookimpl
        ... def dnnkit_register_constraints(register):
        ...     register(keras.constraints.NonNeg, name="non_neg")
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_constraints = dnnkit_register_constraints
        >>> registry = Registry(builtins=False, plugins={"mine": plugin}, entry_point_group=None)
        >>> registry.get("constraint", "non_neg")(keras.ops.convert_to_tensor([-1.0, 2.0])).numpy()
        array([0., 2.], dtype=float32)
    """


@hookspec
def dnnkit_register_optimizers(register: Register) -> None:
    """Register optimizers, or factories that build configured ones (kind ``"optimizer"``).

    Example:
        >>> import keras, types
        >>> from keras_dnnkit import Registry
        >>> @hookimpl
        ... def dnnkit_register_optimizers(register):
        ...     register(keras.optimizers.Lion, name="lion")
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_optimizers = dnnkit_register_optimizers
        >>> registry = Registry(builtins=False, plugins={"mine": plugin}, entry_point_group=None)
        >>> float(registry.get("optimizer", "lion", learning_rate=1e-4).learning_rate)
        0.0001
    """


@hookspec
def dnnkit_register_schedules(register: Register) -> None:
    """Register learning-rate schedules (kind ``"schedule"``).

    Example:
        >>> import keras, types
        >>> from keras_dnnkit import Registry
        >>> @hookimpl
        ... def dnnkit_register_schedules(register):
        ...     register(keras.optimizers.schedules.CosineDecay, name="cosine_decay")
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_schedules = dnnkit_register_schedules
        >>> registry = Registry(builtins=False, plugins={"mine": plugin}, entry_point_group=None)
        >>> cosine = registry.get("schedule", "cosine_decay", initial_learning_rate=1.0,
        ...                       decay_steps=2)
        >>> float(cosine(2))
        0.0
    """


@hookspec
def dnnkit_register_layers(register: Register) -> None:
    """Register layers (kind ``"layer"``).

    Example:
        >>> import keras, types
        >>> from keras_dnnkit import Registry
        >>> @hookimpl
        ... def dnnkit_register_layers(register):
        ...     register(keras.layers.LayerNormalization, name="layer_normalization")
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_layers = dnnkit_register_layers
        >>> registry = Registry(builtins=False, plugins={"mine": plugin}, entry_point_group=None)
        >>> registry.names("layer")
        ['layer_normalization']
    """


@hookspec
def dnnkit_register_callbacks(register: Register) -> None:
    """Register training callbacks (kind ``"callback"``).

    Example:
        >>> import keras, types
        >>> from keras_dnnkit import Registry
        >>> @hookimpl
        ... def dnnkit_register_callbacks(register):
        ...     register(keras.callbacks.TerminateOnNaN, name="terminate_on_nan")
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_callbacks = dnnkit_register_callbacks
        >>> registry = Registry(builtins=False, plugins={"mine": plugin}, entry_point_group=None)
        >>> type(registry.get("callback", "terminate_on_nan")).__name__
        'TerminateOnNaN'
    """


HOOK_FOR_KIND = {
    "initializer": "dnnkit_register_initializers",
    "activation": "dnnkit_register_activations",
    "constraint": "dnnkit_register_constraints",
    "optimizer": "dnnkit_register_optimizers",
    "schedule": "dnnkit_register_schedules",
    "layer": "dnnkit_register_layers",
    "callback": "dnnkit_register_callbacks",
}
"""Which hook registers which kind."""
