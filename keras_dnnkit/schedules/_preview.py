"""See a schedule before training: its values over steps, and a plot."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_dnnkit._types import Schedule


def preview(schedule: Schedule, steps: int) -> np.ndarray:
    """Return the schedule's values at steps ``0 .. steps - 1`` as a float64 NumPy array.

    Works for any callable from step to value: keras-dnnkit's and Keras' schedules, or a
    momentum schedule such as ``OneCycle(...).momentum_schedule``.

    Example:
        >>> from keras_dnnkit.schedules import OneCycle
        >>> preview(OneCycle(0.1, total_steps=5), 5).round(4).tolist()
        [0.004, 0.095, 0.0611, 0.0188, 0.0]
    """
    if not (isinstance(steps, int) and steps > 0):
        raise ValueError(f"Argument steps must be an integer > 0. Received: steps={steps!r}")
    try:  # our schedules are element-wise: one call for every step
        values = np.asarray(keras.ops.convert_to_numpy(schedule(np.arange(steps))), "float64")
        if values.shape == (steps,):
            return values
    except Exception:
        pass
    return np.array(
        [float(keras.ops.convert_to_numpy(schedule(step))) for step in range(steps)], "float64"
    )


def plot_schedule(schedule: Any, steps: int, *, log_scale: bool = False) -> Any:
    """Plot the learning rate (and the momentum, if the schedule cycles it) over ``steps``.

    Returns a ``matplotlib.figure.Figure`` (drawn with the Agg backend, no display needed):
    save it with ``figure.savefig(path)``.

    Example:
        >>> from keras_dnnkit.schedules import OneCycle
        >>> figure = plot_schedule(OneCycle(0.1, total_steps=20), 20)
        >>> [axes.get_ylabel() for axes in figure.axes]
        ['learning rate', 'momentum']
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5))
    axes = figure.add_subplot()
    axes.plot(np.arange(steps), preview(schedule, steps), color="tab:blue")
    axes.set_xlabel("step")
    axes.set_ylabel("learning rate")
    if log_scale:
        axes.set_yscale("log")
    momentum = getattr(schedule, "momentum_schedule", None)
    if momentum is not None:
        twin = axes.twinx()
        twin.plot(np.arange(steps), preview(momentum, steps), color="tab:orange", ls="--")
        twin.set_ylabel("momentum")
    axes.set_title(type(schedule).__name__)
    figure.tight_layout()
    return figure
