"""Cyclical learning rates: PyTorch ``CyclicLR``'s numbers, driven by the optimizer's step."""

from __future__ import annotations

from typing import Any

import keras

from keras_dnnkit._validation import check_choice, check_positive

_MODES = ("triangular", "triangular2", "exp_range")


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="cyclic")
class Cyclic(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical learning rate (Smith, 2017): the parameters and numbers of PyTorch's ``CyclicLR``.

    The rate climbs linearly from ``base_lr`` to ``max_lr`` in ``step_size_up`` steps, comes
    back down in ``step_size_down`` steps, and repeats. The height of each cycle is scaled by
    the mode: ``"triangular"`` keeps it, ``"triangular2"`` halves it every cycle, and
    ``"exp_range"`` multiplies it by ``gamma ** step``.

    Args:
        base_lr: the lowest rate, > 0.
        max_lr: the highest rate, > 0.
        step_size_up: steps from ``base_lr`` up to ``max_lr``, > 0.
        step_size_down: steps back down; ``None`` (default) means ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: the per-step decay of ``"exp_range"``, in (0, 1].

    Example:
        >>> schedule = Cyclic(0.001, 0.01, step_size_up=4)
        >>> [round(float(schedule(step)), 5) for step in (0, 2, 4, 6, 8)]
        [0.001, 0.0055, 0.01, 0.0055, 0.001]
    """

    def __init__(
        self,
        base_lr: float,
        max_lr: float,
        step_size_up: float,
        step_size_down: float | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
    ) -> None:
        check_positive("base_lr", base_lr)
        check_positive("max_lr", max_lr)
        check_positive("step_size_up", step_size_up)
        if step_size_down is not None:
            check_positive("step_size_down", step_size_down)
        check_choice("mode", mode, _MODES)
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"Argument gamma must be in (0, 1]. Received: gamma={gamma!r}")
        self.base_lr = float(base_lr)
        self.max_lr = float(max_lr)
        self.step_size_up = float(step_size_up)
        self.step_size_down = None if step_size_down is None else float(step_size_down)
        self.mode = mode
        self.gamma = float(gamma)

    def __call__(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32")
        down = self.step_size_up if self.step_size_down is None else self.step_size_down
        total = self.step_size_up + down
        ratio = self.step_size_up / total
        cycle_index = keras.ops.floor(step / total)  # PyTorch's cycle - 1
        x = (step - cycle_index * total) / total  # position in the cycle, in [0, 1)
        scale = keras.ops.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        height = (self.max_lr - self.base_lr) * scale
        if self.mode == "triangular":
            amplitude = keras.ops.ones_like(step)
        elif self.mode == "triangular2":
            amplitude = keras.ops.power(0.5, cycle_index)  # 1 / 2 ** (cycle - 1)
        else:
            amplitude = keras.ops.power(self.gamma, step)
        return self.base_lr + height * amplitude

    def get_config(self) -> dict[str, Any]:
        """Return the schedule configuration."""
        return {
            "base_lr": self.base_lr,
            "max_lr": self.max_lr,
            "step_size_up": self.step_size_up,
            "step_size_down": self.step_size_down,
            "mode": self.mode,
            "gamma": self.gamma,
        }
