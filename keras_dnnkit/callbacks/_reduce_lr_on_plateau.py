"""Performance scheduling: reduce the rate on a plateau, also when the rate is a schedule."""

from __future__ import annotations

import warnings
from typing import Any

import keras
import numpy as np

from keras_dnnkit._validation import check_choice, check_non_negative
from keras_dnnkit.schedules._scaled import ScaledSchedule

_THRESHOLD_MODES = ("abs", "rel")


class ReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    """Keras' ``ReduceLROnPlateau`` that composes with learning-rate schedules and resumes.

    With a float learning rate it gives exactly Keras' rates (it runs Keras' own reduction).
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
        super().__init__(
            monitor=monitor,
            factor=factor,
            patience=patience,
            verbose=verbose,
            mode=mode,
            min_delta=min_delta,
            cooldown=cooldown,
            min_lr=min_lr,
        )
        self.threshold_mode = threshold_mode
        self._relative_delta = float(min_delta)
        self._scaled: ScaledSchedule | None = None
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
        rate = optimizer._learning_rate
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            if isinstance(rate, ScaledSchedule):
                if rate.min_learning_rate != float(self.min_lr):
                    rate.min_learning_rate = float(self.min_lr)
                    self.model.make_train_function(force=True)
                self._restore(rate.state)
            else:
                rate = ScaledSchedule(rate, min_learning_rate=self.min_lr)
                optimizer.learning_rate = rate
                self.model.make_train_function(force=True)
            self._scaled = rate
        elif not self._started:
            self._reset()
        self._started = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Count the epoch, maybe reduce, and record the state with the schedule."""
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self._optimizer()
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
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

    def _is_improvement(self, monitor_value: Any, reference_value: Any) -> bool:
        if self.threshold_mode == "abs" or reference_value is None:
            return bool(super()._is_improvement(monitor_value, reference_value))
        if self.monitor_op == keras.ops.less:
            target = reference_value * (1.0 - self._relative_delta)
        else:
            target = reference_value * (1.0 + self._relative_delta)
        return bool(self.monitor_op(monitor_value, target))

    def _reduce(self, optimizer: Any, epoch: int) -> bool:
        if self._scaled is None:
            return bool(self._reduce_optimizer_lr(optimizer, epoch))
        old = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
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
