"""Maxout: the maximum over groups of features (Goodfellow et al., 2013)."""

from __future__ import annotations

from typing import Any

import keras

from keras_dnnkit._validation import check_positive


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="maxout")
class Maxout(keras.layers.Layer):
    """Maxout over ``units`` groups of the features along ``axis``.

    Put it after a ``Dense`` (or convolution) with ``units * k`` outputs: each of the
    ``units`` outputs is the maximum of ``k`` consecutive features. Maxout never saturates
    and has no dead units; it is a learned piecewise-linear activation.

    Args:
        units: number of outputs; the size of ``axis`` must be a multiple of it.
        axis: the feature axis (default last).

    Example:
        >>> import numpy as np
        >>> Maxout(2)(np.array([[1.0, 5.0, -2.0, -3.0]])).numpy()
        array([[ 5., -2.]], dtype=float32)
    """

    def __init__(self, units: int, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        check_positive("units", units)
        self.units = int(units)
        self.axis = int(axis)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Check that the feature axis divides into ``units`` groups."""
        features = input_shape[self.axis]
        if features is not None and features % self.units:
            raise ValueError(
                f"Maxout needs a feature size that is a multiple of units={self.units}. "
                f"Received: input_shape={input_shape}"
            )

    def call(self, inputs: Any) -> Any:
        """Return the maximum of each group of features."""
        axis = self.axis % len(inputs.shape)
        shape = list(keras.ops.shape(inputs))
        features = shape[axis]
        grouped = shape[:axis] + [self.units, features // self.units] + shape[axis + 1 :]
        return keras.ops.max(keras.ops.reshape(inputs, grouped), axis=axis + 1)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Return the input shape with ``units`` features along ``axis``."""
        shape = list(input_shape)
        shape[self.axis] = self.units
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        """Return the layer configuration."""
        return {**super().get_config(), "units": self.units, "axis": self.axis}
