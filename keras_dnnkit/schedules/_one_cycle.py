"""1cycle scheduling: PyTorch ``OneCycleLR``'s numbers, driven by the optimizer's step."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras

from keras_dnnkit._validation import check_choice, check_open_interval, check_positive
from keras_dnnkit.schedules._momentum import check_momentum_range

_ANNEAL_STRATEGIES = ("cos", "linear")


@dataclass(frozen=True)
class _Phase:
    """One phase of the cycle: anneal from ``start`` to ``end`` until step ``end_step``."""

    end_step: float
    start_lr: float
    end_lr: float
    start_momentum: float
    end_momentum: float


def _anneal(start: float, end: float, step: Any, first: float, last: float, cos: bool) -> Any:
    """Anneal from ``start`` (at step ``first``) to ``end`` (at step ``last``), in float32.

    The cosine anneal ``end + (start - end) * (1 + cos(pi * p)) / 2`` is written as
    ``end + (start - end) * sin(pi / 2 * (1 - p)) ** 2``: equal, but ``1 - p`` is computed from
    integers, so float32 keeps full relative precision near the minimum rate.
    """
    span = last - first
    if span == 0:  # a phase of one step: PyTorch divides by zero here; we give its end value
        return keras.ops.full_like(step, end)
    remaining = (last - step) / span  # 1 - p
    if cos:
        weight = keras.ops.square(keras.ops.sin((math.pi / 2) * remaining))
    else:
        weight = remaining
    return end + (start - end) * weight


@keras.saving.register_keras_serializable(package="keras_dnnkit", name="one_cycle")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """1cycle scheduling with the parameters and the numbers of PyTorch's ``OneCycleLR``.

    The rate warms up from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start``
    of ``total_steps``, then anneals to ``max_lr / div_factor / final_div_factor``. With
    ``three_phase=True`` it first comes back down symmetrically to the initial rate, and only
    then anneals to the final rate. The value at step ``t`` equals PyTorch's after ``t`` calls
    to ``scheduler.step()``; steps from ``total_steps - 1`` on hold the final rate (PyTorch
    raises instead). The step is the optimizer's ``iterations``, so a resumed run continues
    exactly where it stopped.

    Momentum (SGD ``momentum``, Adam/Nadam ``beta_1``) cycles inversely, from ``max_momentum``
    down to ``base_momentum`` and back: see :attr:`momentum_schedule`, and
    :class:`keras_dnnkit.callbacks.MomentumScheduler`, which makes the optimizer use it.

    Args:
        max_lr: the peak learning rate, > 0.
        total_steps: number of optimizer steps of the whole cycle, >= 2.
        pct_start: share of the steps spent warming up, in (0, 1).
        anneal_strategy: ``"cos"`` or ``"linear"``.
        div_factor: initial rate = ``max_lr / div_factor``, > 0.
        final_div_factor: final rate = initial rate / ``final_div_factor``, > 0.
        three_phase: come back to the initial rate before the final anneal (PyTorch's
            ``three_phase``).
        cycle_momentum: whether :attr:`momentum_schedule` cycles (else it is ``None``).
        base_momentum: the lowest momentum, reached with the peak rate; in [0, 1), at most
            ``max_momentum``.
        max_momentum: the highest momentum, at the start and the end; in [0, 1).

    Example:
        >>> schedule = OneCycle(max_lr=0.1, total_steps=10)
        >>> [round(float(schedule(step)), 5) for step in (0, 2, 9, 50)]
        [0.004, 0.1, 0.0, 0.0]
        >>> round(float(schedule.momentum_schedule(2)), 2)
        0.85
    """

    def __init__(
        self,
        max_lr: float,
        total_steps: int,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
    ) -> None:
        check_positive("max_lr", max_lr)
        if not (isinstance(total_steps, int) and total_steps >= 2):
            raise ValueError(
                "Argument total_steps must be an integer >= 2. "
                f"Received: total_steps={total_steps!r}"
            )
        check_open_interval("pct_start", pct_start, 0.0, 1.0)
        check_choice("anneal_strategy", anneal_strategy, _ANNEAL_STRATEGIES)
        check_positive("div_factor", div_factor)
        check_positive("final_div_factor", final_div_factor)
        check_momentum_range(base_momentum, max_momentum)
        self.max_lr = float(max_lr)
        self.total_steps = int(total_steps)
        self.pct_start = float(pct_start)
        self.anneal_strategy = anneal_strategy
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)
        self.three_phase = bool(three_phase)
        self.cycle_momentum = bool(cycle_momentum)
        self.base_momentum = float(base_momentum)
        self.max_momentum = float(max_momentum)

    @classmethod
    def fastai(cls, max_lr: float, total_steps: int) -> OneCycle:
        """Return fastai's ``fit_one_cycle`` variant: peak at 25 %, final rate ``max_lr / 1e5``.

        Momentum goes 0.95 -> 0.85 -> 0.95, as in fastai.

        Example:
            >>> schedule = OneCycle.fastai(max_lr=1.0, total_steps=100)
            >>> schedule.pct_start, round(schedule.final_learning_rate, 8)
            (0.25, 1e-05)
            >>> round(float(schedule(99)) / schedule.final_learning_rate, 4)
            1.0
        """
        return cls(
            max_lr,
            total_steps,
            pct_start=0.25,
            div_factor=25.0,
            final_div_factor=1e5 / 25.0,
            base_momentum=0.85,
            max_momentum=0.95,
        )

    @property
    def initial_learning_rate(self) -> float:
        """The rate at step 0: ``max_lr / div_factor``."""
        return self.max_lr / self.div_factor

    @property
    def final_learning_rate(self) -> float:
        """The rate from step ``total_steps - 1`` on: initial rate / ``final_div_factor``."""
        return self.initial_learning_rate / self.final_div_factor

    def _phases(self) -> Sequence[_Phase]:
        initial, peak, final = self.initial_learning_rate, self.max_lr, self.final_learning_rate
        low, high = self.base_momentum, self.max_momentum
        warmup_end = self.pct_start * self.total_steps - 1
        last = float(self.total_steps - 1)
        if self.three_phase:
            return (
                _Phase(warmup_end, initial, peak, high, low),
                _Phase(2 * self.pct_start * self.total_steps - 2, peak, initial, low, high),
                _Phase(last, initial, final, high, high),
            )
        return (_Phase(warmup_end, initial, peak, high, low), _Phase(last, peak, final, low, high))

    def _evaluate(self, step: Any, momentum: bool) -> Any:
        step = keras.ops.cast(step, "float32")
        last = float(self.total_steps - 1)
        clamped = keras.ops.minimum(step, last)
        cos = self.anneal_strategy == "cos"
        phases = self._phases()
        values = []
        start_step = 0.0
        for phase in phases:
            start, end = (
                (phase.start_momentum, phase.end_momentum)
                if momentum
                else (phase.start_lr, phase.end_lr)
            )
            values.append(_anneal(start, end, clamped, start_step, phase.end_step, cos))
            start_step = phase.end_step
        # PyTorch takes the first phase whose end_step is >= the step, else the last one.
        # Steps are integers, so ``step <= end_step`` is ``step <= floor(end_step)``: comparing
        # with the float64 floor avoids a float32 rounding of end_step flipping the phase.
        result = values[-1]
        for phase, value in zip(reversed(phases[:-1]), reversed(values[:-1]), strict=True):
            result = keras.ops.where(clamped <= math.floor(phase.end_step), value, result)
        final = phases[-1].end_momentum if momentum else phases[-1].end_lr
        return keras.ops.where(step >= last, keras.ops.full_like(result, final), result)

    def __call__(self, step: Any) -> Any:
        return self._evaluate(step, momentum=False)

    def momentum(self, step: Any) -> Any:
        """Return the momentum at ``step`` (PyTorch's cycled momentum or ``beta_1``).

        Example:
            >>> round(float(OneCycle(0.1, total_steps=10).momentum(0)), 2)
            0.95
        """
        return self._evaluate(step, momentum=True)

    @property
    def momentum_schedule(self) -> Any:
        """A callable from step to momentum, or ``None`` when ``cycle_momentum`` is off.

        Example:
            >>> OneCycle(0.1, total_steps=10, cycle_momentum=False).momentum_schedule is None
            True
        """
        return self.momentum if self.cycle_momentum else None

    def get_config(self) -> dict[str, Any]:
        """Return the schedule configuration."""
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "anneal_strategy": self.anneal_strategy,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "three_phase": self.three_phase,
            "cycle_momentum": self.cycle_momentum,
            "base_momentum": self.base_momentum,
            "max_momentum": self.max_momentum,
        }
