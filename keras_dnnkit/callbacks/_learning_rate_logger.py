"""Log the learning rate and the momentum the optimizer uses to TensorBoard, per step."""

from __future__ import annotations

import os
from typing import Any

import keras

from keras_dnnkit import _compat
from keras_dnnkit._numbers import to_float, to_int
from keras_dnnkit.callbacks._momentum_scheduler import current_momentum
from keras_dnnkit.diagnostics._tags import LEARNING_RATE, MOMENTUM


def rate_at(optimizer: Any, step: int) -> float:
    """Return the learning rate the optimizer uses at ``step`` (a schedule's value there).

    Example:
        >>> rate_at(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(
        ...     1.0, 1, 0.5)), 2)
        0.25
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    rate = _compat.learning_rate_object(optimizer)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        rate = rate(step)
    elif callable(rate) and not isinstance(rate, keras.Variable):
        rate = rate()
    return to_float(rate)


class LearningRateLogger(keras.callbacks.Callback):
    """Write ``optimizer/learning_rate`` and ``optimizer/momentum`` to TensorBoard.

    The step of each point is the optimizer's step (``iterations``) the value was used at, so
    the curves of a resumed run continue those of the first one. Momentum is the scheduled one
    while a :class:`~keras_dnnkit.callbacks.MomentumScheduler` drives the optimizer (SGD
    ``momentum`` or ``beta_1`` otherwise); optimizers without momentum log the rate only.

    Args:
        log_dir: the TensorBoard log directory (events go to ``log_dir/train``).
        every_n_steps: log every this many steps (reading them costs a host sync), >= 1.

    Example:
        >>> import tempfile, numpy as np
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(0.1, momentum=0.9), "mse")
        >>> logger = LearningRateLogger(tempfile.mkdtemp(), every_n_steps=2)
        >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, verbose=0,
        ...                     callbacks=[logger])
        >>> logger.logged_steps
        [0, 2]
        >>> from keras_dnnkit.diagnostics._events import read_scalars
        >>> scalars = read_scalars(logger.log_dir)
        >>> scalars["optimizer/learning_rate"], scalars["optimizer/momentum"]
        ([(0, 0.1), (2, 0.1)], [(0, 0.9), (2, 0.9)])
    """

    def __init__(self, log_dir: str | os.PathLike[str], every_n_steps: int = 1) -> None:
        super().__init__()
        if not (isinstance(every_n_steps, int) and every_n_steps >= 1):
            raise ValueError(
                "Argument every_n_steps must be an integer >= 1. "
                f"Received: every_n_steps={every_n_steps!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.every_n_steps = every_n_steps
        self.logged_steps: list[int] = []
        self._writer: Any = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Open the summary writer."""
        import tensorflow as tf

        self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "train"))

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Log the values used by the step that just ran, every ``every_n_steps`` steps."""
        optimizer = self.model.optimizer
        step = to_int(optimizer.iterations) - 1
        if step < 0 or step % self.every_n_steps or self._writer is None:
            return
        import tensorflow as tf

        with self._writer.as_default():
            tf.summary.scalar(LEARNING_RATE, rate_at(optimizer, step), step=step)
            momentum = current_momentum(optimizer, step)
            if momentum is not None:
                tf.summary.scalar(MOMENTUM, momentum, step=step)
        self.logged_steps.append(step)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Flush and close the writer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
