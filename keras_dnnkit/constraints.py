"""Weight constraints: Keras' own, built with their arguments checked first.

Max-norm keeps each unit's incoming weight vector within a ball: ``w <- w * r / ||w||``
when ``||w|| > r`` (Srivastava et al., 2014).
"""

from __future__ import annotations

from typing import Any

import keras

from keras_dnnkit._validation import check_non_negative, check_positive

__all__ = ["max_norm", "min_max_norm"]


def max_norm(max_value: float = 2.0, axis: Any = 0) -> Any:
    """Return ``keras.constraints.MaxNorm`` with radius ``max_value`` (must be > 0).

    Example:
        >>> c = max_norm(1.0)
        >>> float(keras.ops.norm(c(keras.ops.ones((4, 1)) * 3.0)))
        1.0
    """
    check_positive("max_value", max_value)
    return keras.constraints.MaxNorm(max_value=max_value, axis=axis)


def min_max_norm(
    min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Any = 0
) -> Any:
    """Return ``keras.constraints.MinMaxNorm`` after checking ``0 <= min <= max`` and rate.

    Example:
        >>> min_max_norm(0.5, 1.0).max_value
        1.0
    """
    check_non_negative("min_value", min_value)
    if not max_value >= min_value:
        raise ValueError(
            f"Argument max_value must be >= min_value ({min_value!r}). Received: "
            f"max_value={max_value!r}"
        )
    if not 0 < rate <= 1:
        raise ValueError(f"Argument rate must be in (0, 1]. Received: rate={rate!r}")
    return keras.constraints.MinMaxNorm(
        min_value=min_value, max_value=max_value, rate=rate, axis=axis
    )
