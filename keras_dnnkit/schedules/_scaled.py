"""A schedule scaled by a multiplier that can change during training (performance scheduling)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from keras_dnnkit._validation import check_non_negative, check_positive


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="scaled_schedule")
class ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """``schedule(step) * multiplier``, where reductions never push the rate below a floor.

    The rate is ``max(schedule(step) * multiplier, min(schedule(step), min_learning_rate))``:
    the multiplier never takes it below ``min_learning_rate``, but the schedule's own values
    below it (the end of a 1cycle, say) are kept. The multiplier lives in a variable read by
    the compiled train step, so changing it with :meth:`set_multiplier` takes effect at the
    next step; its value (and ``state``, the state of the callback that drives it) is part of
    :meth:`get_config`, so it is saved with the optimizer in a ``.keras`` file and restored on
    load. :class:`keras_dnnkit.callbacks.ReduceLROnPlateau` wraps a schedule in one.

    Args:
        schedule: the schedule to scale (a ``LearningRateSchedule``).
        multiplier: the current multiplier, > 0.
        min_learning_rate: the floor reductions respect, >= 0.
        state: a JSON-ready dictionary owned by the callback that drives the multiplier.

    Example:
        >>> base = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        >>> scaled = ScaledSchedule(base, multiplier=0.1)
        >>> round(float(scaled(10)), 6)
        0.005
    """

    def __init__(
        self,
        schedule: keras.optimizers.schedules.LearningRateSchedule,
        multiplier: float = 1.0,
        min_learning_rate: float = 0.0,
        state: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
            raise TypeError(
                "ScaledSchedule wraps a keras.optimizers.schedules.LearningRateSchedule. "
                f"Received: schedule={schedule!r}"
            )
        check_positive("multiplier", multiplier)
        check_non_negative("min_learning_rate", min_learning_rate)
        self.schedule = schedule
        self.min_learning_rate = float(min_learning_rate)
        self.state: dict[str, Any] = dict(state or {})
        self._multiplier = float(multiplier)
        self._variable = keras.Variable(
            self._multiplier, dtype="float32", trainable=False, name="lr_multiplier"
        )

    @property
    def multiplier(self) -> float:
        """The current multiplier."""
        return self._multiplier

    def set_multiplier(self, value: float) -> None:
        """Set the multiplier; the train step reads it from the next step on.

        Example:
            >>> scaled = ScaledSchedule(keras.optimizers.schedules.ExponentialDecay(1.0, 1, 1.0))
            >>> scaled.set_multiplier(0.25)
            >>> float(scaled(3))
            0.25
        """
        check_positive("multiplier", value)
        self._multiplier = float(value)
        self._variable.assign(self._multiplier)

    def __call__(self, step: Any) -> Any:
        rate = keras.ops.cast(self.schedule(step), "float32")
        floor = keras.ops.minimum(rate, self.min_learning_rate)
        return keras.ops.maximum(rate * self._variable, floor)

    def get_config(self) -> dict[str, Any]:
        """Return the configuration, with the current multiplier and state."""
        return {
            "schedule": keras.optimizers.schedules.serialize(self.schedule),
            "multiplier": self._multiplier,
            "min_learning_rate": self.min_learning_rate,
            "state": dict(self.state),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ScaledSchedule:
        """Rebuild the schedule, deserializing the wrapped one.

        Example:
            >>> scaled = ScaledSchedule(keras.optimizers.schedules.ExponentialDecay(1.0, 1, 0.5))
            >>> ScaledSchedule.from_config(scaled.get_config()).schedule.decay_rate
            0.5
        """
        config = dict(config)
        config["schedule"] = keras.optimizers.schedules.deserialize(config["schedule"])
        return cls(**config)
