"""Named types for the ideas keras-dnnkit talks about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol

Kind = Literal[
    "initializer", "activation", "constraint", "optimizer", "schedule", "layer", "callback"
]
"""A kind of component in the registry."""

KINDS: tuple[Kind, ...] = (
    "initializer",
    "activation",
    "constraint",
    "optimizer",
    "schedule",
    "layer",
    "callback",
)

Schedule = Callable[[Any], Any]
"""A learning-rate schedule: a callable from the optimizer's step to a learning rate."""


class Register(Protocol):
    """The ``register`` callable every registration hook receives.

    ``register(obj, name=None)`` adds ``obj`` under ``name``; the name defaults to the
    snake_case of the object's ``__name__`` (or to the name it is already serialized
    under by Keras in the ``keras_dnnkit`` package).

    Example:
        >>> import keras, types, keras_dnnkit
        >>> @keras_dnnkit.hookimpl
        ... def dnnkit_register_optimizers(register: Register) -> None:
        ...     register(keras.optimizers.Lion, name="lion")
        ...     register(keras.optimizers.Lamb)  # named after the class, in snake_case
        >>> plugin = types.ModuleType("mine")
        >>> plugin.dnnkit_register_optimizers = dnnkit_register_optimizers
        >>> keras_dnnkit.Registry(
        ...     builtins=False, plugins={"mine": plugin}, entry_point_group=None
        ... ).names("optimizer")
        ['lamb', 'lion']
    """

    def __call__(self, obj: Any, name: str | None = None) -> None: ...
