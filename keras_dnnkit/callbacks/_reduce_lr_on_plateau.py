"""Performance scheduling: reduce the rate on a plateau, also when the rate is a schedule."""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any

import keras
import numpy as np

from keras_dnnkit._compat import learning_rate_object, metric_direction, metric_objects
from keras_dnnkit._numbers import to_float
from keras_dnnkit._validation import check_choice, check_non_negative
from keras_dnnkit.schedules._scaled import ScaledSchedule
from keras_dnnkit.training import Priority, StepContext, StepOwner, StepProgram

_THRESHOLD_MODES = ("abs", "rel")


_MAXIMIZED = ("acc", "auc", "precision", "recall", "f1", "iou", "top_k")


def _direction(model: Any, monitor: str) -> str:
    """``"min"`` or ``"max"`` for ``monitor``, as Keras' ``mode="auto"`` infers it."""
    name = monitor.removeprefix("val_")
    if name == "loss" or name.endswith("_loss"):
        return "min"
    for metric in metric_objects(model):
        if getattr(metric, "name", None) == name:
            direction = metric_direction(metric)
            if direction is not None:
                return "max" if direction == "up" else "min"
    if any(word in name for word in _MAXIMIZED):
        return "max"
    raise ValueError(
        f"ReduceLROnPlateau cannot tell whether {monitor!r} should be minimized or maximized. "
        "Pass mode='min' or mode='max'."
    )


class ReduceLROnPlateau(keras.callbacks.Callback):
    """Keras' ``ReduceLROnPlateau`` that composes with learning-rate schedules and resumes.

    With a float learning rate it gives exactly Keras' rates (the same test of improvement and
    the same reduction as Keras' own callback, written out so that it runs on every Keras 3).
    With a schedule, where Keras raises ``TypeError``, the schedule is wrapped in a
    :class:`~keras_dnnkit.schedules.ScaledSchedule` whose multiplier is multiplied by
    ``factor`` at each reduction: the rate is ``schedule(step) * factor ** k``, and reductions
    never take it below ``min_lr``. Either way ``model.optimizer.learning_rate`` reads the
    rate applied, and ``logs["learning_rate"]`` reports it.

    With a schedule, the multiplier and this callback's state (best value, wait, cooldown)
    are stored in the ``ScaledSchedule``'s configuration, so they are saved with the model and
    a new callback picks them up after loading it: a resumed run reduces exactly when the
    uninterrupted one would have. With a float rate the reduced rate is saved (it is the
    optimizer's variable); the wait and cooldown counters are kept across ``fit`` calls in
    one process (Keras resets them), not across a save and load. Put this callback before
    ``ModelCheckpoint`` so checkpoints include the epoch's decision.

    Args:
        monitor: the quantity to monitor (a key of the epoch logs).
        factor: new rate = rate * factor, in (0, 1).
        patience: epochs with no improvement before a reduction.
        mode: ``"auto"``, ``"min"`` or ``"max"``, as in Keras.
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the lower bound reductions respect.
        threshold_mode: ``"abs"`` (Keras: an improvement beats best by ``min_delta``) or
            ``"rel"`` (PyTorch's default: beats it by ``min_delta * |best|``).
        verbose: 1 prints a message at each reduction.

    Example:
        >>> import numpy as np
        >>> from keras_dnnkit.schedules import Cyclic
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.SGD(Cyclic(0.01, 0.1, step_size_up=2)), "mse")
        >>> callback = ReduceLROnPlateau("loss", factor=0.5, patience=1, min_delta=1e9)
        >>> history = model.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=3, verbose=0,
        ...                     callbacks=[callback])
        >>> model.optimizer._learning_rate.multiplier  # reduced after epochs 2 and 3
        0.25
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        threshold_mode: str = "abs",
        verbose: int = 0,
    ) -> None:
        if not 0.0 < factor < 1.0:
            raise ValueError(
                f"Argument factor must be in the open interval (0, 1). Received: factor={factor!r}"
            )
        check_choice("mode", mode, ("auto", "min", "max"))
        check_choice("threshold_mode", threshold_mode, _THRESHOLD_MODES)
        check_non_negative("patience", patience)
        check_non_negative("cooldown", cooldown)
        check_non_negative("min_delta", min_delta)
        check_non_negative("min_lr", min_lr)
        super().__init__()
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.threshold_mode = threshold_mode
        self.best: float | None = None
        self.wait = 0
        self.cooldown_counter = 0
        self._minimize: bool | None = None
        self._scaled: ScaledSchedule | None = None
        self._owner: StepOwner | None = None
        self._started = False

    # ------------------------------------------------------------------ state
    @property
    def state(self) -> dict[str, Any]:
        """The state that decides the next reduction: best value, wait, cooldown counter.

        Example:
            >>> ReduceLROnPlateau().state
            {'monitor': 'val_loss', 'best': None, 'wait': 0, 'cooldown_counter': 0}
        """
        best = None if self.best is None else float(self.best)
        return {
            "monitor": self.monitor,
            "best": best,
            "wait": int(self.wait),
            "cooldown_counter": int(self.cooldown_counter),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("monitor") != self.monitor:
            return
        self.best = state.get("best")
        self.wait = int(state.get("wait", 0))
        self.cooldown_counter = int(state.get("cooldown_counter", 0))

    # ------------------------------------------------------------------ training
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Wrap a schedule in a ``ScaledSchedule`` (or pick up a saved one's state)."""
        optimizer = self._optimizer()
        rate = learning_rate_object(optimizer)
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            changed = not isinstance(rate, ScaledSchedule)
            if changed:
                rate = ScaledSchedule(rate, min_learning_rate=self.min_lr)
                optimizer.learning_rate = rate
            elif rate.min_learning_rate != float(self.min_lr):
                rate.min_learning_rate = float(self.min_lr)
                changed = True
            else:
                self._restore(rate.state)
            self._scaled = rate
            # The step reads the schedule when it is traced: the owner traces one with the
            # ScaledSchedule (once; later fits reuse it), and Keras' own is out of date.
            owner = self._owner = StepOwner.of(self.model)
            owner.attach(self)
            if changed:
                owner.invalidate_keras_function()
        elif not self._started:
            self._reset()
        self._started = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Give the train step back to Keras (or to the next of our callbacks)."""
        if self._owner is not None:
            self._owner.detach(self)
        self._owner = None

    # ------------------------------------------------------------------ step hook
    priority = Priority.RATE

    def trace_key(self) -> Hashable:
        """The scaled schedule the step reads, and its floor."""
        return (id(self._scaled), None if self._scaled is None else self._scaled.min_learning_rate)

    def make_program(self) -> StepProgram:
        """Nothing runs in the step: the ``ScaledSchedule`` reads its multiplier variable."""
        return _NoProgram()

    def bind(self, program: StepProgram) -> None:
        """Nothing to keep."""

    def needs_measuring(self, first_step: int, last_step: int) -> bool:
        """Never."""
        return False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Count the epoch, maybe reduce, and record the state with the schedule."""
        if self._minimize is None:
            mode = self.mode if self.mode != "auto" else _direction(self.model, self.monitor)
            self._minimize = mode == "min"
        logs = logs if logs is not None else {}
        optimizer = self._optimizer()
        logs["learning_rate"] = to_float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0
        if self._scaled is not None:
            self._scaled.state = self.state

    def in_cooldown(self) -> bool:
        """Whether a reduction happened less than ``cooldown`` epochs ago."""
        return self.cooldown_counter > 0

    def _reset(self) -> None:
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def _is_improvement(self, value: float, best: float | None) -> bool:
        """Keras' test (``value -/+ min_delta`` beats ``best``) or PyTorch's relative one."""
        if best is None:
            return True
        if self.threshold_mode == "abs":  # as Keras: compared as Keras tensors (float32)
            if self._minimize:
                return bool(keras.ops.less(value + self.min_delta, best))
            return bool(keras.ops.greater(value - self.min_delta, best))
        if self._minimize:
            return bool(keras.ops.less(value, best * (1.0 - self.min_delta)))
        return bool(keras.ops.greater(value, best * (1.0 + self.min_delta)))

    def _reduce(self, optimizer: Any, epoch: int) -> bool:
        old = to_float(optimizer.learning_rate)
        if self._scaled is None:
            if not old > np.float32(self.min_lr):
                return False
            new = max(old * self.factor, self.min_lr)
            optimizer.learning_rate = new
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
            return True
        if not old > np.float32(self.min_lr):
            return False
        self._scaled.set_multiplier(self._scaled.multiplier * self.factor)
        if self.verbose > 0:
            print(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau scaling the learning-rate schedule "
                f"by {self._scaled.multiplier:g}."
            )
        return True

    def _optimizer(self) -> Any:
        optimizer = self.model.optimizer
        return getattr(optimizer, "inner_optimizer", optimizer)


class _NoProgram:
    """A program that changes nothing in the step."""

    skips_nonfinite = False

    def before_update(self, context: StepContext) -> None:
        """Nothing."""

    def wrap_update(self, context: StepContext, update: Any) -> Any:
        """The update as it is."""
        return update

    def after_update(self, context: StepContext) -> None:
        """Nothing."""
