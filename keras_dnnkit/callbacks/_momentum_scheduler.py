"""Make the optimizer's momentum (SGD ``momentum``, Adam/Nadam ``beta_1``) follow a schedule.

Keras reads ``momentum`` and ``beta_1`` as Python floats when it traces the train step, so a
callback that changes them during ``fit`` is silently ignored. :class:`MomentumScheduler`
instead overrides ``apply`` on the optimizer *instance* for the duration of ``fit``: while the
step is traced, the momentum attribute is the tensor ``schedule(optimizer.iterations)``,
computed inside the step. Nothing is added to the optimizer's variables or configuration, so
a model saved during or after training loads with plain Keras as the user's optimizer, and a
resumed run continues the schedule from its saved step.
"""

from __future__ import annotations

import weakref
from typing import Any

import keras

from keras_dnnkit._types import Schedule

_ACTIVE: weakref.WeakKeyDictionary[Any, Schedule] = weakref.WeakKeyDictionary()


def _inner_optimizer(optimizer: Any) -> Any:
    """The optimizer that does the update (under mixed precision, the wrapped one)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def momentum_attribute(optimizer: Any) -> str | None:
    """Return the name of the optimizer's momentum attribute (``momentum``/``beta_1``), if any.

    Example:
        >>> momentum_attribute(keras.optimizers.Nadam()), momentum_attribute(keras.optimizers.SGD())
        ('beta_1', 'momentum')
    """
    optimizer = _inner_optimizer(optimizer)
    if isinstance(optimizer, keras.optimizers.SGD):
        return "momentum"
    return "beta_1" if hasattr(optimizer, "beta_1") else None


def current_momentum(optimizer: Any, step: int | None = None) -> float | None:
    """Return the momentum the optimizer uses at ``step`` (default: its next step).

    Follows a :class:`MomentumScheduler` while one drives the optimizer, else reads the
    optimizer's own value; ``None`` if it has no momentum.

    Example:
        >>> current_momentum(keras.optimizers.SGD(momentum=0.9))
        0.9
    """
    optimizer = _inner_optimizer(optimizer)
    schedule = _ACTIVE.get(optimizer)
    if schedule is not None:
        at = int(optimizer.iterations.numpy()) if step is None else step
        return float(keras.ops.convert_to_numpy(schedule(at)))
    attribute = momentum_attribute(optimizer)
    return None if attribute is None else float(getattr(optimizer, attribute))


def _schedule_of(optimizer: Any) -> Schedule | None:
    """The momentum schedule carried by the optimizer's learning-rate schedule, if any."""
    schedule = getattr(optimizer, "_learning_rate", None)
    while schedule is not None and not hasattr(schedule, "momentum_schedule"):
        schedule = getattr(schedule, "schedule", None)  # unwrap ScaledSchedule and the like
    return None if schedule is None else schedule.momentum_schedule


class MomentumScheduler(keras.callbacks.Callback):
    """Drive the optimizer's momentum with a schedule of its step, inside the train step.

    SGD's ``momentum`` or the ``beta_1`` of Adam, Nadam, AdamW, Adamax and Lion follows
    ``schedule(optimizer.iterations)`` at every step, the way PyTorch's ``OneCycleLR`` cycles
    momentum. With no ``schedule``, the momentum schedule of the optimizer's learning-rate
    schedule is used (``OneCycle(...).momentum_schedule``), so 1cycle needs no more than
    ``callbacks=[MomentumScheduler()]``.

    SGD must be created with a non-zero ``momentum`` (Keras creates its momentum buffers
    only then); its update is Keras' own, with the scheduled momentum. The optimizer's saved
    configuration keeps the momentum it was created with.

    Args:
        schedule: a callable from step to momentum, or ``None`` (see above).

    Example:
        >>> import numpy as np
        >>> from keras_dnnkit.schedules import OneCycle
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> model.compile(keras.optimizers.Nadam(OneCycle(0.01, total_steps=4)), "mse")
        >>> history = model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, verbose=0,
        ...                     callbacks=[MomentumScheduler()])
        >>> model.optimizer.beta_1  # the configured float again after fit
        0.9
    """

    def __init__(self, schedule: Schedule | None = None) -> None:
        super().__init__()
        self.schedule = schedule
        self._optimizer: Any = None
        self._previous_apply: Any = None
        self._active = False
        self._installed_apply: Any = None
        self._installed_update_step: Any = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Install the scheduled momentum and rebuild the train step."""
        optimizer = _inner_optimizer(self.model.optimizer)
        schedule = self.schedule if self.schedule is not None else _schedule_of(optimizer)
        if schedule is None:
            raise ValueError(
                "MomentumScheduler() needs a momentum schedule: pass one, e.g. "
                "MomentumScheduler(OneCycle(...).momentum_schedule), or use a learning-rate "
                "schedule with a momentum_schedule (OneCycle with cycle_momentum=True). "
                f"Received: schedule=None with learning_rate={optimizer._learning_rate!r}"
            )
        attribute = momentum_attribute(optimizer)
        if attribute is None:
            raise ValueError(
                f"{type(optimizer).__name__} has no momentum to schedule: MomentumScheduler "
                "drives SGD's momentum or the beta_1 of Adam-like optimizers."
            )
        if attribute == "momentum" and optimizer.momentum == 0:
            raise ValueError(
                "SGD(momentum=0.0) keeps no momentum buffers, so its momentum cannot be "
                "scheduled. Create it with a non-zero momentum, e.g. SGD(momentum=0.9)."
            )
        self._install(optimizer, schedule, attribute)
        self.model.make_train_function(force=True)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Remove the override; the next ``fit`` traces a plain step."""
        self._uninstall()
        self.model.train_function = None

    def _install(self, optimizer: Any, schedule: Schedule, attribute: str) -> None:
        self._uninstall()
        self._optimizer = optimizer
        self._previous_apply = optimizer.__dict__.get("apply")
        self._active = True
        original_apply = optimizer.apply
        current: dict[str, Any] = {}

        def apply(grads: Any, trainable_variables: Any = None) -> Any:
            if not self._active:
                return original_apply(grads, trainable_variables)
            value = keras.ops.cast(schedule(optimizer.iterations), "float32")
            if attribute == "momentum":
                current["momentum"] = value
                return original_apply(grads, trainable_variables)
            configured = getattr(optimizer, attribute)
            setattr(optimizer, attribute, value)
            try:
                return original_apply(grads, trainable_variables)
            finally:
                setattr(optimizer, attribute, configured)

        optimizer.apply = apply
        if attribute == "momentum":
            self._installed_update_step = _sgd_update_step(optimizer, current)
            optimizer.update_step = self._installed_update_step
        _ACTIVE[optimizer] = schedule
        self._installed_apply = apply

    def _uninstall(self) -> None:
        optimizer = self._optimizer
        if optimizer is None:
            return
        self._active = False
        if optimizer.__dict__.get("apply") is self._installed_apply:
            if self._previous_apply is None:
                del optimizer.apply
            else:
                optimizer.apply = self._previous_apply
        installed = self._installed_update_step
        if installed is not None and optimizer.__dict__.get("update_step") is installed:
            del optimizer.update_step
        self._installed_update_step = None
        _ACTIVE.pop(optimizer, None)
        self._optimizer = None


def _sgd_update_step(optimizer: Any, current: dict[str, Any]) -> Any:
    """Keras SGD's ``update_step``, with the momentum read from ``current`` (a tensor)."""
    ops = keras.ops

    def update_step(gradient: Any, variable: Any, learning_rate: Any) -> None:
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        buffer = optimizer.momentums[optimizer._get_variable_index(variable)]
        momentum = ops.cast(current["momentum"], variable.dtype)
        step = ops.subtract(ops.multiply(buffer, momentum), ops.multiply(gradient, learning_rate))
        optimizer.assign(buffer, step)
        if optimizer.nesterov:
            optimizer.assign_add(
                variable,
                ops.subtract(ops.multiply(buffer, momentum), ops.multiply(gradient, learning_rate)),
            )
        else:
            optimizer.assign_add(variable, buffer)

    return update_step
