"""Cyclical learning rates: PyTorch ``CyclicLR``'s numbers, driven by the optimizer's step."""

from __future__ import annotations

import math
from typing import Any

import keras

from keras_dnnkit._validation import check_choice, check_positive
from keras_dnnkit.schedules._momentum import check_momentum_range

_MODES = ("triangular", "triangular2", "exp_range")


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="cyclic")
class Cyclic(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical learning rate (Smith, 2017): the parameters and numbers of PyTorch's ``CyclicLR``.

    The rate climbs linearly from ``base_lr`` to ``max_lr`` in ``step_size_up`` steps, comes
    back down in ``step_size_down`` steps, and repeats. The height of each cycle is scaled by
    the mode: ``"triangular"`` keeps it, ``"triangular2"`` halves it every cycle, and
    ``"exp_range"`` multiplies it by ``gamma ** step``. The schedule is computed in float64
    (returned as float32), so ``exp_range`` stays within 1e-6 of the exact rate at any step.

    Momentum (SGD ``momentum``, Adam/Nadam ``beta_1``) cycles inversely, as in PyTorch: from
    ``max_momentum`` down to ``base_momentum`` while the rate climbs, scaled by the same mode.
    See :attr:`momentum_schedule`, and :class:`keras_dnnkit.callbacks.MomentumScheduler`, which
    makes the optimizer use it; without that callback the optimizer keeps its own momentum.

    Args:
        base_lr: the lowest rate, > 0.
        max_lr: the highest rate, > 0.
        step_size_up: steps from ``base_lr`` up to ``max_lr``, > 0.
        step_size_down: steps back down; ``None`` (default) means ``step_size_up``.
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
        gamma: the per-step decay of ``"exp_range"``, in (0, 1].
        cycle_momentum: whether :attr:`momentum_schedule` cycles (else it is ``None``).
        base_momentum: the momentum at the peak rate; in [0, 1), at most ``max_momentum``.
        max_momentum: the momentum at the lowest rate; in [0, 1).

    Example:
        >>> schedule = Cyclic(0.001, 0.01, step_size_up=4)
        >>> [round(float(schedule(step)), 5) for step in (0, 2, 4, 6, 8)]
        [0.001, 0.0055, 0.01, 0.0055, 0.001]
        >>> [round(float(schedule.momentum_schedule(step)), 3) for step in (0, 2, 4)]
        [0.9, 0.85, 0.8]
    """

    def __init__(
        self,
        base_lr: float,
        max_lr: float,
        step_size_up: float,
        step_size_down: float | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        cycle_momentum: bool = True,
        base_momentum: float = 0.8,
        max_momentum: float = 0.9,
    ) -> None:
        check_positive("base_lr", base_lr)
        check_positive("max_lr", max_lr)
        check_positive("step_size_up", step_size_up)
        if step_size_down is not None:
            check_positive("step_size_down", step_size_down)
        check_choice("mode", mode, _MODES)
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"Argument gamma must be in (0, 1]. Received: gamma={gamma!r}")
        check_momentum_range(base_momentum, max_momentum)
        self.base_lr = float(base_lr)
        self.max_lr = float(max_lr)
        self.step_size_up = float(step_size_up)
        self.step_size_down = None if step_size_down is None else float(step_size_down)
        self.mode = mode
        self.gamma = float(gamma)
        self.cycle_momentum = bool(cycle_momentum)
        self.base_momentum = float(base_momentum)
        self.max_momentum = float(max_momentum)

    def _height(self, step: Any) -> Any:
        """The scaled position in the cycle, in [0, 1] (PyTorch's ``scale_factor * scale_fn``).

        Computed in float64: float32 would round ``gamma`` before raising it to the power
        ``step``, an error that grows with the step (4e-4 relative at step 34,000 for gamma
        0.99994). ``exp(step * log(gamma))`` with the logarithm taken in float64 on the host
        keeps it at round-off.
        """
        step = keras.ops.cast(step, "float64")
        down = self.step_size_up if self.step_size_down is None else self.step_size_down
        total = self.step_size_up + down
        ratio = self.step_size_up / total
        cycle_index = keras.ops.floor(step / total)  # PyTorch's cycle - 1
        x = (step - cycle_index * total) / total  # position in the cycle, in [0, 1)
        scale = keras.ops.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        if self.mode == "triangular":
            return scale
        if self.mode == "triangular2":
            return scale * keras.ops.power(0.5, cycle_index)  # 1 / 2 ** (cycle - 1)
        return scale * keras.ops.exp(step * math.log(self.gamma))

    def __call__(self, step: Any) -> Any:
        rate = self.base_lr + (self.max_lr - self.base_lr) * self._height(step)
        return keras.ops.cast(rate, "float32")

    def momentum(self, step: Any) -> Any:
        """Return the momentum at ``step``: PyTorch's ``max - (max - base) * height``.

        Example:
            >>> round(float(Cyclic(0.1, 1.0, step_size_up=2).momentum(1)), 2)
            0.85
        """
        spread = self.max_momentum - self.base_momentum
        return keras.ops.cast(self.max_momentum - spread * self._height(step), "float32")

    @property
    def momentum_schedule(self) -> Any:
        """A callable from step to momentum, or ``None`` when ``cycle_momentum`` is off.

        Example:
            >>> Cyclic(0.1, 1.0, step_size_up=2, cycle_momentum=False).momentum_schedule is None
            True
        """
        return self.momentum if self.cycle_momentum else None

    def get_config(self) -> dict[str, Any]:
        """Return the schedule configuration."""
        return {
            "base_lr": self.base_lr,
            "max_lr": self.max_lr,
            "step_size_up": self.step_size_up,
            "step_size_down": self.step_size_down,
            "mode": self.mode,
            "gamma": self.gamma,
            "cycle_momentum": self.cycle_momentum,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
        }
