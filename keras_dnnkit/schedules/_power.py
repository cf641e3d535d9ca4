"""Power scheduling: ``lr0 / (1 + t / s) ** c``."""

from __future__ import annotations

from typing import Any

import keras

from keras_dnnkit._validation import check_non_negative, check_positive


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="power")
class Power(keras.optimizers.schedules.LearningRateSchedule):
    """Power scheduling: ``initial_learning_rate / (1 + step / decay_steps) ** power``.

    The rate drops to lr0/2 after ``decay_steps`` steps (with ``power=1``), then to lr0/3
    after twice as many: fast at first, then slower. Keras' ``InverseTimeDecay`` covers
    only ``power=1``.

    Args:
        initial_learning_rate: lr0, > 0.
        decay_steps: s, > 0.
        power: c, >= 0 (1 is usual).

    Example:
        >>> schedule = Power(0.1, decay_steps=10, power=1.0)
        >>> [round(float(schedule(step)), 4) for step in (0, 10, 20)]
        [0.1, 0.05, 0.0333]
    """

    def __init__(
        self, initial_learning_rate: float, decay_steps: float, power: float = 1.0
    ) -> None:
        check_positive("initial_learning_rate", initial_learning_rate)
        check_positive("decay_steps", decay_steps)
        check_non_negative("power", power)
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = float(decay_steps)
        self.power = float(power)

    def __call__(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32")
        return self.initial_learning_rate / keras.ops.power(
            1.0 + step / self.decay_steps, self.power
        )

    def get_config(self) -> dict[str, Any]:
        """Return the schedule configuration."""
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "power": self.power,
        }


def exponential(
    initial_learning_rate: float,
    decay_steps: float,
    decay_rate: float = 0.1,
    staircase: bool = False,
) -> Any:
    """Return exponential scheduling ``lr0 * 0.1 ** (step / s)`` as Keras' ``ExponentialDecay``.

    Example:
        >>> schedule = exponential(0.1, decay_steps=100)
        >>> round(float(schedule(100)), 4)
        0.01
    """
    check_positive("initial_learning_rate", initial_learning_rate)
    check_positive("decay_steps", decay_steps)
    check_positive("decay_rate", decay_rate)
    return keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate, decay_steps, decay_rate, staircase=staircase
    )
