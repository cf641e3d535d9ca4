"""Built-in plugin: learning-rate schedules."""

from __future__ import annotations

import keras

from keras_dnnkit import schedules
from keras_dnnkit._types import Register
from keras_dnnkit.hookspecs import hookimpl


@hookimpl
def dnnkit_register_schedules(register: Register) -> None:
    """Register 1cycle, cyclic, power and exponential scheduling, and Keras' own schedules."""
    keras_schedules = keras.optimizers.schedules
    register(schedules.Power)
    register(schedules.OneCycle)
    register(schedules.Cyclic)
    register(schedules.ScaledSchedule)
    register(schedules.exponential)
    for name, cls in {
        "exponential_decay": keras_schedules.ExponentialDecay,
        "piecewise_constant": keras_schedules.PiecewiseConstantDecay,
        "inverse_time_decay": keras_schedules.InverseTimeDecay,
        "polynomial_decay": keras_schedules.PolynomialDecay,
        "cosine_decay": keras_schedules.CosineDecay,
        "cosine_decay_restarts": keras_schedules.CosineDecayRestarts,
    }.items():
        register(cls, name=name)
