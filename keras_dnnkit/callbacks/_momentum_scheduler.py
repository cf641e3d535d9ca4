"""Make the optimizer's momentum (SGD ``momentum``, Adam/Nadam ``beta_1``) follow a schedule.

Keras reads ``momentum`` and ``beta_1`` as Python floats when it traces the train step, so a
callback that changes them during ``fit`` is silently ignored. :class:`MomentumScheduler`
instead runs, through the model's step owner (``keras_dnnkit.training``), inside the
optimizer's update: while the step is traced, the momentum attribute is the tensor
``schedule(optimizer.iterations)``, computed inside the step (for SGD, whose update branches in
Python on its momentum, Keras' own update with the momentum read from that tensor). Nothing
is added to the optimizer's variables or configuration, so a model saved during or after
training loads with plain Keras as the user's optimizer, and a resumed run continues the
schedule from its saved step.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from typing import Any

import keras

from keras_dnnkit._compat import learning_rate_object, variable_index
from keras_dnnkit._numbers import to_float, to_int
from keras_dnnkit._types import Schedule
from keras_dnnkit.training import Priority, StepContext, StepOwner, StepProgram
from keras_dnnkit.training._hooks import Update

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
        at = to_int(optimizer.iterations) if step is None else step
        return to_float(schedule(at))
    attribute = momentum_attribute(optimizer)
    return None if attribute is None else float(getattr(optimizer, attribute))


def _schedule_of(optimizer: Any) -> Schedule | None:
    """The momentum schedule carried by the optimizer's learning-rate schedule, if any."""
    schedule = learning_rate_object(optimizer)
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

    priority = Priority.MOMENTUM

    def __init__(self, schedule: Schedule | None = None) -> None:
        super().__init__()
        if schedule is not None and not callable(schedule):
            raise TypeError(
                "Argument schedule must be a callable from step to momentum (e.g. "
                "OneCycle(...).momentum_schedule) or None. "
                f"Received: schedule={schedule!r} of type {type(schedule).__name__}"
            )
        self.schedule = schedule
        self._optimizer: Any = None
        self._resolved: Schedule | None = None
        self._attribute: str | None = None
        self._owner: StepOwner | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Check the optimizer and the schedule, then attach to the model's step owner."""
        optimizer = _inner_optimizer(self.model.optimizer)
        schedule = self.schedule if self.schedule is not None else _schedule_of(optimizer)
        if schedule is None:
            raise ValueError(
                "MomentumScheduler() needs a momentum schedule: pass one, e.g. "
                "MomentumScheduler(OneCycle(...).momentum_schedule), or use a learning-rate "
                "schedule with a momentum_schedule (OneCycle with cycle_momentum=True). "
                f"Received: schedule=None with learning_rate={learning_rate_object(optimizer)!r}"
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
        start = to_int(optimizer.iterations)
        first = to_float(schedule(start))
        if not 0.0 <= first < 1.0:
            raise ValueError(
                "The momentum schedule must give values in [0, 1). "
                f"Received: schedule({start})={first!r}"
            )
        self._optimizer, self._resolved, self._attribute = optimizer, schedule, attribute
        _ACTIVE[optimizer] = schedule
        self._owner = StepOwner.of(self.model)
        self._owner.attach(self)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Detach; the optimizer reads its configured momentum again."""
        if self._optimizer is not None:
            _ACTIVE.pop(self._optimizer, None)
        if self._owner is not None:
            self._owner.detach(self)
        self._owner = None

    # ------------------------------------------------------------------ step hook
    def trace_key(self) -> Hashable:
        """The schedule and the optimizer it drives."""
        return (id(self._resolved), id(self._optimizer), self._attribute)

    def make_program(self) -> StepProgram:
        """The in-step half: the scheduled momentum around the update."""
        assert self._resolved is not None and self._attribute is not None
        return _MomentumProgram(self._optimizer, self._resolved, self._attribute)

    def bind(self, program: StepProgram) -> None:
        """Nothing to keep: the program holds no state."""

    def needs_measuring(self, first_step: int, last_step: int) -> bool:
        """Never: the momentum is scheduled in the lean step too."""
        return False


class _MomentumProgram:
    """Sets the momentum to ``schedule(iterations)`` for the duration of the update."""

    skips_nonfinite = False

    def __init__(self, optimizer: Any, schedule: Schedule, attribute: str) -> None:
        self.optimizer = optimizer
        self.schedule = schedule
        self.attribute = attribute

    def before_update(self, context: StepContext) -> None:
        """Nothing before the update."""

    def after_update(self, context: StepContext) -> None:
        """Nothing after it."""

    def wrap_update(self, context: StepContext, update: Update) -> Update:
        """The update with the scheduled momentum, for this program's optimizer only."""
        optimizer = context.optimizer
        if optimizer is not self.optimizer:
            return update

        def scheduled(grads: Sequence[Any], variables: Sequence[Any]) -> None:
            value = keras.ops.cast(self.schedule(optimizer.iterations), "float32")
            if self.attribute == "momentum":
                object.__setattr__(
                    optimizer, "update_step", _sgd_update_step(optimizer, {"momentum": value})
                )
                try:
                    update(grads, variables)
                finally:
                    object.__delattr__(optimizer, "update_step")
                return
            configured = getattr(optimizer, self.attribute)
            setattr(optimizer, self.attribute, value)
            try:
                update(grads, variables)
            finally:
                setattr(optimizer, self.attribute, configured)

        return scheduled


def _sgd_update_step(optimizer: Any, current: dict[str, Any]) -> Any:
    """Keras SGD's ``update_step``, with the momentum read from ``current`` (a tensor)."""
    ops = keras.ops

    def update_step(gradient: Any, variable: Any, learning_rate: Any) -> None:
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        buffer = optimizer.momentums[variable_index(optimizer, variable)]
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
