"""Observe the gradients the optimizer applies, inside the compiled train step.

:class:`GradientCapture` overrides ``_backend_apply_gradients`` on one optimizer *instance*
(its class, configuration and variables stay the user's, so saving is unaffected). Keras
calls that method with the unscaled gradients (after a ``LossScaleOptimizer`` or
``loss_scale_factor`` divided the scale out) and before ``_clip_gradients``, so the capture
sees the true, pre-clip gradients of every step. Each step it:

- tests the gradients for NaN/Inf (one sum per variable) and records, without any
  conditional, how many steps had them, the first such step and its layer closest to the
  output;
- optionally skips the update of a step whose gradients are not finite, as Keras'
  ``LossScaleOptimizer`` skips overflow steps.

A step traced while :attr:`GradientCapture.measuring` is true also, on every
``every_n_steps``-th step only, reduces the gradients to a few numbers per variable, copies
the weights into a capture-owned variable before the update and measures
``||w_after - w_before||`` after it (two conditionals around the update, kept as ``If`` ops,
so that the optimizer's update is traced once). Any conditional in the step costs every
step about 0.1 ms on a CPU, so ``GradientDiagnostics`` traces the step twice, measuring and
lean, and runs the measuring one only for the executions that hold a logging step. The
lean step holds no conditional but, with ``skip_nonfinite``, the one around the update.

Everything lands in ``tf.Variable`` objects owned by the capture; the host reads them only
when it logs. Under a multi-replica ``tf.distribute`` strategy the statistics are those of
the all-reduced (summed) gradient; measuring it costs one extra all-reduce per step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import control_flow_util_v2

from keras_dnnkit.diagnostics import _statistics
from keras_dnnkit.diagnostics._grouping import Grouping

_METHOD = "_backend_apply_gradients"


def _state(value: Any, dtype: Any) -> tf.Variable:
    """A non-trainable variable each replica writes locally; reads give the first replica's."""
    return tf.Variable(
        tf.constant(value, dtype=dtype),
        trainable=False,
        synchronization=tf.VariableSynchronization.ON_READ,
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
    )


def _rare(predicate: Any, true_fn: Callable[[], None]) -> None:
    """Run ``true_fn`` where ``predicate`` holds, at (almost) no cost on the other steps.

    Inside a ``tf.function`` TensorFlow lowers ``tf.cond`` to ``Switch``/``Merge``: every
    tensor the branch captures then passes a ``Switch`` and every node of the branch not
    taken is still scheduled (as dead) each step, about 0.1-0.4 ms per step on a CPU for
    these branches, which capture every gradient and variable. Kept as an ``If`` op (as
    under XLA), the op runs only the branch taken, so a branch taken every 100th step
    costs the other steps one cheap op.
    """
    previous = getattr(control_flow_util_v2, "_DISABLE_LOWER_USING_SWITCH_MERGE", None)
    if previous is None:  # not this TensorFlow's internals: a plain (lowered) conditional
        tf.cond(predicate, true_fn, lambda: None)
        return
    control_flow_util_v2._DISABLE_LOWER_USING_SWITCH_MERGE = True
    try:
        tf.cond(predicate, true_fn, lambda: None)
    finally:
        control_flow_util_v2._DISABLE_LOWER_USING_SWITCH_MERGE = previous


def _cond(predicate: Any, true_fn: Callable[..., None], args: tuple[Any, ...]) -> None:
    """Run ``true_fn(*args)`` where ``predicate`` holds, also where it calls ``merge_call``.

    MirroredStrategy allows no ``merge_call`` (which applying gradients makes) inside a
    conditional in a replica context; as ``LossScaleOptimizer`` does, the choice is then made
    in the cross-replica context and ``true_fn`` runs on every replica with its own ``args``.
    """
    context = tf.distribute.get_replica_context()
    if (
        not tf.distribute.has_strategy()
        or context is None
        or tf.__internal__.distribute.strategy_supports_no_merge_call()
    ):
        tf.cond(predicate, lambda: true_fn(*args), lambda: None)
        return

    def choose(distribution: Any, predicate: Any, *args: Any) -> None:
        first = distribution.experimental_local_results(predicate)[0]

        def on_every_replica() -> None:
            distribution.extended.call_for_each_replica(true_fn, args=args)

        tf.cond(first, on_every_replica, lambda: None)

    context.merge_call(choose, args=(predicate, *args))


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
        self._sizes = [math.prod(int(d) for d in v.shape) for v in self.variables]
        self._layer_sizes = [
            sum(math.prod(int(d) for d in v.shape) for v in g.variables) for g in grouping.layers
        ]
        self.sample_indices = [
            _statistics.sample_indices(s, sample_size) for s in self._layer_sizes
        ]
        n = len(self.variables)
        self.step = _state(-1, tf.int64)  # the step the statistics below belong to
        self.rows = _state(np.zeros((n, len(_statistics.FIELDS))), tf.float32)
        self.histogram_step = _state(-1, tf.int64)
        self.samples = [_state(np.zeros(len(i)), tf.float32) for i in self.sample_indices]
        self.nonfinite_step = _state(-1, tf.int64)  # first step with NaN/Inf gradients
        self.nonfinite_layer = _state(-1, tf.int32)  # its layer closest to the output
        self.nonfinite_steps = _state(0, tf.int64)  # how many steps had NaN/Inf gradients
        # the weights before the update of a logging step (one float32 copy of the model)
        self.snapshot = _state(np.zeros(sum(self._sizes)), tf.float32)
        self.measuring = True  # read when a step is traced: measure in that step, or not
        self._optimizer: Any = None
        self.session: object = None
        self._release: Callable[[], None] | None = None

    # ------------------------------------------------------------------ install
    def install(
        self,
        optimizer: Any,
        session: object = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        """Override ``_backend_apply_gradients`` on this optimizer instance only.

        ``session`` names the training the capture belongs to (GradientDiagnostics passes
        the fit's ``History``). A capture still installed from another session is stale: its
        training ended without cleaning up (an exception inside ``fit``), so it is removed,
        by calling the ``release`` it was installed with. One from the same session is a
        second observer of the same training, and refused.

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
        previous = installed_capture(optimizer)
        if previous is not None and previous.session is not session:
            previous.release()
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

        object.__setattr__(optimizer, _METHOD, _Observed(self, observed))
        self._optimizer = optimizer
        self.session = session
        self._release = release

    @property
    def installed(self) -> bool:
        """Whether the capture observes an optimizer now."""
        return self._optimizer is not None and installed_capture(self._optimizer) is self

    def release(self) -> None:
        """End the observation as its owner would (its ``release``), or at least uninstall."""
        if self._release is not None:
            self._release()
        self.uninstall()

    def uninstall(self) -> None:
        """Give the optimizer its own method back (safe to call twice)."""
        if self._optimizer is not None and installed_capture(self._optimizer) is self:
            object.__delattr__(self._optimizer, _METHOD)
        self._optimizer = None
        self._release = None

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
        step = tf.cast(optimizer.iterations, tf.int64) + 1  # Keras counts it after this
        finite = _statistics.finite_per_tensor([g for _, g in measured])
        all_finite = tf.reduce_all(finite)

        # Measuring is split around the update, so that the optimizer's update is traced
        # once: before it, the gradients are reduced and the weights copied (logging steps
        # only); after it, the copy gives ||w_after - w_before||.
        if self.measuring:
            measure = tf.equal(step % self.every_n_steps, 0)
            if self.skip_nonfinite:
                measure = tf.logical_and(measure, all_finite)
            _rare(measure, self._before_fn(step, measured))

        def apply(grads: Any, variables: Any) -> None:
            original(list(grads), list(variables))

        if self.skip_nonfinite:  # one conditional around the update, as LossScaleOptimizer
            _cond(all_finite, apply, (tuple(grads), tuple(trainable_variables)))
        else:
            apply(grads, trainable_variables)
        if self.measuring:
            _rare(measure, self._after_fn(step))
        self._record_nonfinite(step, finite, all_finite, [s for s, _ in measured])

    def _record_nonfinite(self, step: Any, finite: Any, all_finite: Any, slots: list[int]) -> None:
        """Count a step with NaN/Inf gradients and keep the first one; no conditional.

        ``finite`` says which of the gradients of the variables ``slots`` are finite
        (``all_finite``: all of them). A
        handful of scalar ops per step: cheaper than a conditional, which costs every step.
        """
        if not slots:
            return
        layers = tf.constant(self.layer_of_variable[slots], dtype=tf.int32)
        bad = tf.logical_not(all_finite)
        first = tf.logical_and(bad, self.nonfinite_step < 0)
        self.nonfinite_steps.assign_add(tf.cast(bad, tf.int64))
        self.nonfinite_layer.assign(
            tf.where(first, tf.reduce_max(tf.where(finite, -1, layers)), self.nonfinite_layer)
        )
        self.nonfinite_step.assign(tf.where(first, step, self.nonfinite_step))

    def _weights(self) -> Any:
        """All measured weights, flattened in the order of :attr:`variables`."""
        return _statistics.flatten([_value(v) for v in self.variables])

    def _before_fn(self, step: Any, measured: list[tuple[Any, Any]]) -> Callable[[], None]:
        """Gradient statistics and the weights before the update, in :attr:`variables` order."""

        def before() -> None:
            by_slot = dict(measured)
            grads = _statistics.flatten(
                [
                    by_slot[i] if i in by_slot else tf.zeros(v.shape, tf.float32)
                    for i, v in enumerate(self.variables)
                ]
            )
            ids = _statistics.segment_ids(self._sizes)
            weights = self._weights()
            self.snapshot.assign(weights)
            gradient_rows = _statistics.segment_rows(grads, ids, self._sizes)
            weight_norms = _statistics.segment_norms(weights, ids, len(self._sizes))
            update_norms = tf.zeros_like(weight_norms)  # filled in after the update
            other_rows = tf.stack([update_norms, weight_norms], axis=1)
            self.rows.assign(tf.concat([gradient_rows, other_rows], axis=1))
            if self.histogram_every_n_steps:
                histogram_step = tf.equal(step % self.histogram_every_n_steps, 0)
                tf.cond(histogram_step, self._sample_fn(step, grads), lambda: None)

        return before

    def _after_fn(self, step: Any) -> Callable[[], None]:
        """The update norms, from the weights copied before the update."""

        def after() -> None:
            ids = _statistics.segment_ids(self._sizes)
            delta = self._weights() - self.snapshot
            update_norms = _statistics.segment_norms(delta, ids, len(self._sizes))
            rows = tf.convert_to_tensor(self.rows)
            update_column = _statistics.UPDATE_NORM
            self.rows.assign(
                tf.concat(
                    [rows[:, :update_column], update_norms[:, None], rows[:, update_column + 1 :]],
                    axis=1,
                )
            )
            self.step.assign(step)

        return after

    def _sample_fn(self, step: Any, flat_grads: Any) -> Callable[[], None]:
        """Gradient values at each layer's sample indices, in one gather."""
        # each layer's variables are consecutive in the flat vector
        starts = np.cumsum([0, *self._layer_sizes])
        indices = np.concatenate(
            [start + i for start, i in zip(starts, self.sample_indices, strict=False)]
            + [np.zeros(0, np.int64)]
        )
        counts = [len(i) for i in self.sample_indices]

        def sample() -> None:
            values = tf.split(tf.gather(flat_grads, indices), counts)
            for variable, value in zip(self.samples, values, strict=True):
                variable.assign(value)
            self.histogram_step.assign(step)

        return sample


class _Observed:
    """The method installed on the optimizer; it knows its capture."""

    def __init__(self, capture: GradientCapture, method: Callable[..., Any]) -> None:
        self.capture = capture
        self.method = method

    def __call__(self, grads: Sequence[Any], trainable_variables: Sequence[Any]) -> Any:
        return self.method(grads, trainable_variables)


def installed_capture(optimizer: Any) -> GradientCapture | None:
    """The capture observing ``optimizer``, if any."""
    hook = vars(optimizer).get(_METHOD)
    return hook.capture if isinstance(hook, _Observed) else None


def _value(variable: Any) -> Any:
    """The tensor value of a Keras or TF variable."""
    return variable.value if hasattr(variable, "value") else variable
