"""An example keras-dnnkit plugin: one activation and one constraint."""

from __future__ import annotations

from typing import Any

import keras

import keras_dnnkit


def squareplus(x: Any, b: float = 4.0) -> Any:
    """Squareplus, a smooth ReLU: ``(x + sqrt(x**2 + b)) / 2``.

    Example:
        >>> float(squareplus(keras.ops.convert_to_tensor(0.0)))
        1.0
    """
    return (x + keras.ops.sqrt(x * x + b)) / 2


class ClipWeights(keras.constraints.Constraint):
    """Clip every weight into ``[-limit, limit]``.

    Args:
        limit: the largest absolute weight, > 0.

    Example:
        >>> ClipWeights(0.5)(keras.ops.convert_to_tensor([-2.0, 0.1])).numpy()
        array([-0.5,  0.1], dtype=float32)
    """

    def __init__(self, limit: float = 1.0) -> None:
        if not limit > 0:
            raise ValueError(f"Argument limit must be > 0. Received: limit={limit!r}")
        self.limit = float(limit)

    def __call__(self, w: Any) -> Any:
        """Return ``w`` clipped into ``[-limit, limit]``."""
        return keras.ops.clip(w, -self.limit, self.limit)

    def get_config(self) -> dict[str, Any]:
        """Return the configuration."""
        return {"limit": self.limit}


@keras_dnnkit.hookimpl
def dnnkit_register_activations(register: keras_dnnkit.Register) -> None:
    """Register squareplus."""
    register(squareplus)


@keras_dnnkit.hookimpl
def dnnkit_register_constraints(register: keras_dnnkit.Register) -> None:
    """Register the weight-clipping constraint as ``clip_weights``."""
    register(ClipWeights)
