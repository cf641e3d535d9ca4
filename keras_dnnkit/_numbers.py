"""Host values of Keras variables and tensors, without Keras' deprecation of variable reads."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_float(value: Any) -> float:
    """A scalar variable, tensor or number as a Python float.

    ``keras.ops.convert_to_numpy`` warns (DeprecationWarning) when given a ``keras.Variable``;
    this reads the variable's value instead.

    Example:
        >>> import keras
        >>> to_float(keras.Variable(0.5)), to_float(keras.ops.ones(())), to_float(2)
        (0.5, 1.0, 2.0)
    """
    if hasattr(value, "numpy"):
        value = value.numpy()
    return float(np.asarray(value).reshape(()))


def to_int(value: Any) -> int:
    """A scalar variable, tensor or number as a Python int.

    Example:
        >>> import keras
        >>> to_int(keras.Variable(3, dtype="int64"))
        3
    """
    return int(to_float(value))


def to_array(value: Any) -> np.ndarray:
    """A variable (Keras or TensorFlow) or tensor as a NumPy array, without a deprecation warning.

    Example:
        >>> import keras
        >>> to_array(keras.Variable([1.0, 2.0])).tolist()
        [1.0, 2.0]
    """
    if hasattr(value, "numpy"):
        return np.asarray(value.numpy())
    inner = getattr(value, "value", None)
    if inner is not None and hasattr(inner, "numpy"):
        return np.asarray(inner.numpy())
    return np.asarray(value)
