"""Activation functions bound to a configuration, saved and loaded by their registry name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

__all__ = ["ConfiguredActivation"]


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="configured_activation")
class ConfiguredActivation:
    """A registered activation function with fixed keyword arguments, e.g. a leaky ReLU slope.

    ``keras_dnnkit.get("activation", name, **config)`` returns one when ``config`` is given.
    It is saved as the registry name plus the configuration, and looked up again on load.

    Args:
        activation: the registry name of the activation function.
        function: the function itself; looked up in the default registry when omitted.
        **config: keyword arguments passed to the function on every call.

    Example:
        >>> import keras_dnnkit
        >>> leaky = keras_dnnkit.get("activation", "leaky_relu", negative_slope=0.1)
        >>> leaky(keras.ops.convert_to_tensor([-10.0, 2.0])).numpy()
        array([-1.,  2.], dtype=float32)
    """

    def __init__(
        self, activation: str, function: Callable[..., Any] | None = None, **config: Any
    ) -> None:
        if function is None:
            from keras_dnnkit.registry import default_registry

            function = default_registry().component("activation", activation).obj
        self.activation = activation
        self.function = function
        self.config = config

    def __call__(self, x: Any) -> Any:
        """Apply the function with the bound configuration."""
        return self.function(x, **self.config)

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"ConfiguredActivation({self.activation!r}, {arguments})"

    def get_config(self) -> dict[str, Any]:
        """Return the registry name and the configuration."""
        return {"activation": self.activation, "config": dict(self.config)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConfiguredActivation:
        """Rebuild from :meth:`get_config`'s output."""
        return cls(config["activation"], **config["config"])
