"""Observe the gradients the optimizer applies, inside the compiled train step.

:class:`GradientCapture` overrides ``_backend_apply_gradients`` on one optimizer *instance*
(its class, configuration and variables stay the user's, so saving is unaffected). Keras
calls that method with the unscaled gradients (after a ``LossScaleOptimizer`` or
``loss_scale_factor`` divided the scale out) and before ``_clip_gradients``, so the capture
sees the true, pre-clip gradients of every step. Each step it:

- tests every gradient for NaN/Inf and records the first such step and the layer closest
  to the output (one multiply-add per variable);
- on every ``every_n_steps``-th step only, reduces the gradients to a few numbers per
  variable and measures the update ``||w_after - w_before||`` (a ``tf.switch_case``, so the
  other steps pay nothing for it);
- optionally skips the update of a step whose gradients are not finite, as Keras'
  ``LossScaleOptimizer`` skips overflow steps.

Everything lands in ``tf.Variable`` objects owned by the capture; the host reads them only
when it logs. Under a multi-replica ``tf.distribute`` strategy the statistics are those of
the all-reduced (summed) gradient; measuring it costs one extra all-reduce per step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from keras_dnnkit.diagnostics import _statistics
from keras_dnnkit.diagnostics._grouping import Grouping

SKIP, APPLY, APPLY_AND_MEASURE = 0, 1, 2
_METHOD = "_backend_apply_gradients"


def _state(value: Any, dtype: Any) -> tf.Variable:
    """A non-trainable variable each replica writes locally; reads give the first replica's."""
    return tf.Variable(
        tf.constant(value, dtype=dtype),
        trainable=False,
        synchronization=tf.VariableSynchronization.ON_READ,
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )


def _switch(index: Any, branches: Sequence[Callable[..., None]], args: tuple[Any, ...]) -> None:
    """Run ``branches[index](*args)``, also where the branches call ``merge_call``.

    MirroredStrategy allows no ``merge_call`` (which applying gradients makes) inside a
    conditional in a replica context; as ``LossScaleOptimizer`` does, the choice is then made
    in the cross-replica context and each branch runs on every replica.
    """
    context = tf.distribute.get_replica_context()
    if (
        not tf.distribute.has_strategy()
        or context is None
        or tf.__internal__.distribute.strategy_supports_no_merge_call()
    ):
        tf.switch_case(index, [functools.partial(branch, *args) for branch in branches])
        return

    def choose(distribution: Any, index: Any, *args: Any) -> None:
        first = distribution.experimental_local_results(index)[0]

        def on_every_replica(branch: Callable[..., None]) -> Callable[[], None]:
            return lambda: distribution.extended.call_for_each_replica(branch, args=args)

        tf.switch_case(first, [on_every_replica(branch) for branch in branches])

    context.merge_call(choose, args=(index, *args))


class GradientCapture:
    """Device-side gradient statistics of one model, filled by a hooked optimizer.

    Args:
        grouping: the model's variables grouped by layer (see ``group_variables``).
        every_n_steps: measure on the steps whose number (after the update) is a multiple.
        histogram_every_n_steps: also sample gradient values for histograms on these steps
            (a multiple of ``every_n_steps``), or 0 for none.
        skip_nonfinite: do not apply the update of a step with NaN/Inf gradients.
        sample_size: gradient values kept per layer for a histogram.

    Example:
        >>> import keras
        >>> from keras_dnnkit.diagnostics._grouping import group_variables
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> capture = GradientCapture(group_variables(model), every_n_steps=1)
        >>> int(capture.step.numpy())
        -1
    """

    def __init__(
        self,
        grouping: Grouping,
        *,
        every_n_steps: int,
        histogram_every_n_steps: int = 0,
        skip_nonfinite: bool = False,
        sample_size: int = 1000,
    ) -> None:
        self.grouping = grouping
        self.every_n_steps = every_n_steps
        self.histogram_every_n_steps = histogram_every_n_steps
        self.skip_nonfinite = skip_nonfinite
        self.variables = [v for group in grouping.layers for v in group.variables]
        self.layer_of_variable = np.array(
            [g.index for g in grouping.layers for _ in g.variables], dtype=np.int32
        )
        sizes = [sum(_statistics.variable_size(v) for v in g.variables) for g in grouping.layers]
        self.sample_indices = [_statistics.sample_indices(s, sample_size) for s in sizes]
        n = len(self.variables)
        self.step = _state(-1, tf.int64)  # the step the statistics below belong to
        self.rows = _state(np.zeros((n, len(_statistics.FIELDS))), tf.float32)
        self.histogram_step = _state(-1, tf.int64)
        self.samples = [_state(np.zeros(len(i)), tf.float32) for i in self.sample_indices]
        self.nonfinite_step = _state(-1, tf.int64)  # first step with NaN/Inf gradients
        self.nonfinite_layer = _state(-1, tf.int32)  # its layer closest to the output
        self.nonfinite_steps = _state(0, tf.int64)  # how many steps had NaN/Inf gradients
        self._optimizer: Any = None

    # ------------------------------------------------------------------ install
    def install(self, optimizer: Any) -> None:
        """Override ``_backend_apply_gradients`` on this optimizer instance only.

        Example:
            >>> import keras
            >>> from keras_dnnkit.diagnostics._grouping import group_variables
            >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
            >>> optimizer = keras.optimizers.SGD()
            >>> capture = GradientCapture(group_variables(model), every_n_steps=1)
            >>> capture.install(optimizer); "_backend_apply_gradients" in vars(optimizer)
            True
            >>> capture.uninstall(); "_backend_apply_gradients" in vars(optimizer)
            False
        """
        if _METHOD in vars(optimizer):
            raise RuntimeError(
                f"The optimizer {optimizer.name!r} is already observed by another "
                "GradientDiagnostics; use one per model."
            )
        original = getattr(optimizer, _METHOD)
        key = getattr(optimizer, "_var_key", id)
        position = {key(v): i for i, v in enumerate(self.variables)}

        def observed(grads: Sequence[Any], trainable_variables: Sequence[Any]) -> Any:
            return self._apply(optimizer, original, position, key, grads, trainable_variables)

        object.__setattr__(optimizer, _METHOD, observed)
        self._optimizer = optimizer

    def uninstall(self) -> None:
        """Give the optimizer its own method back (safe to call twice)."""
        if self._optimizer is not None and _METHOD in vars(self._optimizer):
            object.__delattr__(self._optimizer, _METHOD)
        self._optimizer = None

    # ------------------------------------------------------------------ in the step
    def _apply(
        self,
        optimizer: Any,
        original: Callable[[list[Any], list[Any]], Any],
        position: dict[Any, int],
        key: Callable[[Any], Any],
        grads: Sequence[Any],
        trainable_variables: Sequence[Any],
    ) -> None:
        grads, trainable_variables = list(grads), list(trainable_variables)
        observed_grads = grads
        context = tf.distribute.get_replica_context()
        if tf.distribute.has_strategy() and context is not None:
            if context.num_replicas_in_sync > 1:
                observed_grads = context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        slots = [position.get(key(v)) for v in trainable_variables]
        measured = [(s, g) for s, g in zip(slots, observed_grads, strict=False) if s is not None]
        step = tf.cast(optimizer.iterations, tf.int64) + 1

        # Any NaN/Inf makes the sum of all gradients non-finite: one sum per variable each
        # step; the exact per-variable test runs only when that sum is not finite.
        measured_grads = [g for _, g in measured]
        all_finite = _statistics.all_finite(measured_grads)
        self._record_nonfinite(step, measured_grads, [s for s, _ in measured], all_finite)

        every = self.every_n_steps
        index = tf.where(tf.equal(step % every, 0), APPLY_AND_MEASURE, APPLY)
        if self.skip_nonfinite:
            index = tf.where(all_finite, index, SKIP)

        def skip(grads: Any, observed: Any, variables: Any) -> None:
            pass

        def apply(grads: Any, observed: Any, variables: Any) -> None:
            original(list(grads), list(variables))

        def apply_and_measure(grads: Any, observed: Any, variables: Any) -> None:
            self._measure(step, original, slots, list(grads), list(observed), list(variables))

        _switch(
            tf.cast(index, tf.int32),
            [skip, apply, apply_and_measure],
            (tuple(grads), tuple(observed_grads), tuple(trainable_variables)),
        )

    def _record_nonfinite(
        self, step: Any, grads: list[Any], slots: list[int], all_finite: Any
    ) -> None:
        layers = tf.constant(self.layer_of_variable[slots], dtype=tf.int32)

        def record() -> None:
            finite = _statistics.finite_flags([[g] for g in grads])
            self.nonfinite_step.assign(step)
            self.nonfinite_layer.assign(tf.reduce_max(tf.where(finite, -1, layers)))

        first = tf.logical_and(tf.logical_not(all_finite), self.nonfinite_step < 0)
        tf.cond(first, record, lambda: None)
        self.nonfinite_steps.assign_add(tf.cast(tf.logical_not(all_finite), tf.int64))

    def _measure(
        self,
        step: Any,
        original: Callable[[list[Any], list[Any]], Any],
        slots: list[int | None],
        grads: list[Any],
        observed: list[Any],
        variables: list[Any],
    ) -> None:
        kept = [i for i, s in enumerate(slots) if s is not None]
        before = [[tf.identity(_value(variables[i]))] for i in kept]
        original(grads, variables)
        after = [[_value(variables[i])] for i in kept]
        gradient_rows = _statistics.gradient_rows(
            [[observed[i]] for i in kept], [[variables[i]] for i in kept]
        )
        rows = tf.concat([gradient_rows, _statistics.update_rows(before, after)], axis=1)
        full = tf.scatter_nd(
            tf.constant([[slots[i]] for i in kept], dtype=tf.int32),
            rows,
            tf.constant(self.rows.shape.as_list(), dtype=tf.int32),
        )
        self.rows.assign(full)
        self.step.assign(step)
        if self.histogram_every_n_steps:
            samples = self._sample_fn(step, [(slots[i], observed[i]) for i in kept])
            tf.cond(tf.equal(step % self.histogram_every_n_steps, 0), samples, lambda: None)

    def _sample_fn(self, step: Any, measured: list[tuple[Any, Any]]) -> Callable[[], None]:
        def sample() -> None:
            for group in self.grouping.layers:
                grads = [g for s, g in measured if self.layer_of_variable[s] == group.index]
                if len(grads) == len(group.variables):
                    indices = self.sample_indices[group.index]
                    values = _statistics.gradient_sample(grads, indices)
                    self.samples[group.index].assign(values)
            self.histogram_step.assign(step)

        return sample


def _value(variable: Any) -> Any:
    """The tensor value of a Keras or TF variable."""
    return variable.value if hasattr(variable, "value") else variable
