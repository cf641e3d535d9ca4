"""Built-in plugin: weight constraints (max-norm and Keras' others)."""

from __future__ import annotations

import keras

from keras_dnnkit import constraints
from keras_dnnkit._types import Register
from keras_dnnkit.hookspecs import hookimpl


@hookimpl
def dnnkit_register_constraints(register: Register) -> None:
    """Register max-norm, min-max-norm (checked factories), unit-norm and non-negativity."""
    register(constraints.max_norm)
    register(constraints.min_max_norm)
    register(keras.constraints.UnitNorm, name="unit_norm")
    register(keras.constraints.NonNeg, name="non_neg")
