"""Reference schedules written from PyTorch's OneCycleLR and CyclicLR source semantics.

Float64 Python, no Keras: the step-by-step truth the schedules are compared with.
"""

from __future__ import annotations

import math


def one_cycle(
    step: int,
    max_lr: float,
    total_steps: int,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    three_phase: bool = False,
    base_momentum: float = 0.85,
    max_momentum: float = 0.95,
) -> tuple[float, float]:
    """(lr, momentum) of torch.optim.lr_scheduler.OneCycleLR after `step` scheduler steps.

    Past the last step (PyTorch raises there) the final values hold.
    """
    initial_lr = max_lr / div_factor
    min_lr = initial_lr / final_div_factor
    if three_phase:
        phases = [
            (float(pct_start * total_steps) - 1, initial_lr, max_lr, max_momentum, base_momentum),
            (
                float(2 * pct_start * total_steps) - 2,
                max_lr,
                initial_lr,
                base_momentum,
                max_momentum,
            ),
            (total_steps - 1, initial_lr, min_lr, max_momentum, max_momentum),
        ]
    else:
        phases = [
            (float(pct_start * total_steps) - 1, initial_lr, max_lr, max_momentum, base_momentum),
            (total_steps - 1, max_lr, min_lr, base_momentum, max_momentum),
        ]

    def anneal(start: float, end: float, pct: float) -> float:
        if anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    if step >= total_steps - 1:
        return min_lr, phases[-1][4]
    start_step = 0.0
    for i, (end_step, start_lr, end_lr, start_m, end_m) in enumerate(phases):
        if step <= end_step or i == len(phases) - 1:
            if end_step == start_step:  # PyTorch raises ZeroDivisionError; we give the end value
                return end_lr, end_m
            pct = (step - start_step) / (end_step - start_step)
            return anneal(start_lr, end_lr, pct), anneal(start_m, end_m, pct)
        start_step = end_step
    raise AssertionError("unreachable")


def _cyclic_height(
    step: int,
    step_size_up: float,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> float:
    """CyclicLR's ``scale_factor * scale_fn``: the share of the cycle's full height at a step."""
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    total_size = up + down
    step_ratio = up / total_size
    cycle = math.floor(1 + step / total_size)
    x = 1.0 + step / total_size - cycle
    scale_factor = x / step_ratio if x <= step_ratio else (x - 1) / (step_ratio - 1)
    if mode == "triangular":
        return scale_factor * 1.0
    if mode == "triangular2":
        return scale_factor * (1 / (2.0 ** (cycle - 1)))
    return scale_factor * gamma**step


def cyclic(
    step: int,
    base_lr: float,
    max_lr: float,
    step_size_up: float,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> float:
    """Learning rate of torch.optim.lr_scheduler.CyclicLR after `step` scheduler steps."""
    return base_lr + (max_lr - base_lr) * _cyclic_height(
        step, step_size_up, step_size_down, mode, gamma
    )


def cyclic_momentum(
    step: int,
    step_size_up: float,
    step_size_down: float | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
    base_momentum: float = 0.8,
    max_momentum: float = 0.9,
) -> float:
    """Momentum (or beta_1) of CyclicLR with cycle_momentum=True after `step` scheduler steps."""
    height = _cyclic_height(step, step_size_up, step_size_down, mode, gamma)
    return max_momentum - (max_momentum - base_momentum) * height
