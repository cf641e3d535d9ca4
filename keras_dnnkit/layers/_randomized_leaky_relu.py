"""Randomized leaky ReLU (RReLU; Xu et al., 2015)."""

from __future__ import annotations

from typing import Any

import keras

from keras_dnnkit._validation import check_non_negative


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="randomized_leaky_relu")
class RandomizedLeakyReLU(keras.layers.Layer):
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) for each unit in training.

    At inference the slope is the mean ``(lower + upper) / 2``. Usable as a layer or as the
    ``activation`` of another layer.

    Args:
        lower: smallest slope (default 1/8, as in the paper).
        upper: largest slope (default 1/3).
        seed: optional random seed.

    Example:
        >>> import numpy as np
        >>> RandomizedLeakyReLU(0.1, 0.3)(np.array([[-1.0, 2.0]])).numpy()
        array([[-0.2,  2. ]], dtype=float32)
    """

    def __init__(
        self, lower: float = 1 / 8, upper: float = 1 / 3, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        check_non_negative("lower", lower)
        if not upper >= lower:
            raise ValueError(
                f"Argument upper must be >= lower ({lower!r}). Received: upper={upper!r}"
            )
        self.lower = float(lower)
        self.upper = float(upper)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        """Apply the leaky ReLU with random slopes (training) or the mean slope."""
        if training:
            slope = keras.random.uniform(
                keras.ops.shape(inputs),
                minval=self.lower,
                maxval=self.upper,
                dtype=inputs.dtype,
                seed=self.seed_generator,
            )
        else:
            slope = (self.lower + self.upper) / 2
        return keras.ops.where(inputs >= 0, inputs, inputs * slope)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        """Return the input shape."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        """Return the layer configuration."""
        return {**super().get_config(), "lower": self.lower, "upper": self.upper, "seed": self.seed}
