"""Initializers Keras lacks: He-avg (variance scaling over fan-avg) and the plain N(0, 1).

Glorot/Xavier, He and LeCun come from Keras itself and are registered under their Keras names.
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["HeAvgNormal", "HeAvgUniform", "StandardNormal"]


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="he_avg_normal")
class HeAvgNormal(keras.initializers.VarianceScaling):
    """He initialization over the average fan: truncated normal with variance 2 / fan_avg.

    Args:
        seed: optional random seed.

    Example:
        >>> w = HeAvgNormal(seed=0)((100, 300))
        >>> round(float(w.numpy().var()), 3)  # about 2 / 200
        0.01
    """

    def __init__(self, seed: Any = None) -> None:
        super().__init__(scale=2.0, mode="fan_avg", distribution="truncated_normal", seed=seed)

    def get_config(self) -> dict[str, Any]:
        """Return the configuration (only the seed)."""
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="he_avg_uniform")
class HeAvgUniform(keras.initializers.VarianceScaling):
    """He initialization over the average fan: uniform with variance 2 / fan_avg.

    Args:
        seed: optional random seed.

    Example:
        >>> w = HeAvgUniform(seed=0)((100, 300))
        >>> round(float(w.numpy().var()), 3)
        0.01
    """

    def __init__(self, seed: Any = None) -> None:
        super().__init__(scale=2.0, mode="fan_avg", distribution="uniform", seed=seed)

    def get_config(self) -> dict[str, Any]:
        """Return the configuration (only the seed)."""
        return {"seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="standard_normal")
class StandardNormal(keras.initializers.RandomNormal):
    """The plain N(0, 1) initialization of the 2010 experiments (Glorot & Bengio's baseline).

    Keras' ``RandomNormal`` defaults to a standard deviation of 0.05; this one is 1.

    Args:
        seed: optional random seed.

    Example:
        >>> w = StandardNormal(seed=0)((200, 200))
        >>> round(float(w.numpy().std()), 1)
        1.0
    """

    def __init__(self, seed: Any = None) -> None:
        super().__init__(mean=0.0, stddev=1.0, seed=seed)

    def get_config(self) -> dict[str, Any]:
        """Return the configuration (only the seed)."""
        return {"seed": self.seed}
