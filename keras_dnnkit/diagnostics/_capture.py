"""Observe the gradients the optimizer applies, inside the compiled train step (TensorFlow).

:class:`GradientProgram` is the in-step half of ``GradientDiagnostics``: the step owner
(``keras_dnnkit.training``) runs it inside each optimizer's ``_backend_apply_gradients``,
which Keras calls with the unscaled gradients, before ``_clip_gradients``. On the first trace
it makes one :class:`GradientCapture` per optimizer it sees update (a GAN's two), grouping
that optimizer's variables by layer in the order the step calls the layers. Each step a
capture:

- tests the gradients for NaN/Inf (one scalar: gradients of one shape added up, then
  reduced) and, in a conditional that runs on such steps alone, records how many steps had
  them, the first such step and its layer closest to the output;
- in the measuring variant of the step, on every ``every_n_steps``-th step only, reduces the
  gradients to a few numbers per variable, copies the weights into a capture-owned variable
  before the update and measures ``||w_after - w_before||`` after it (two conditionals kept
  as ``If`` ops). Results go to one of ``slots`` rows, so that every logging step of one
  execution (``steps_per_execution`` > 1) is kept until the host fetches it.

Everything lands in ``tf.Variable`` objects owned by the capture; the host reads them only
when it logs. Under a multi-replica ``tf.distribute`` strategy the statistics are those of
the all-reduced (summed) gradient; measuring it costs one extra all-reduce per step.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from keras_dnnkit.diagnostics import _statistics
from keras_dnnkit.diagnostics._grouping import Grouping, group_variables
from keras_dnnkit.training import StepContext
from keras_dnnkit.training import _tensorflow as backend


class GradientCapture:
    """Device-side gradient statistics of the variables one optimizer updates.

    Args:
        grouping: those variables grouped by layer (see ``group_variables``).
        name: how the model refers to the optimizer.
        optimizer: the optimizer itself (its step, rate and momentum are logged).
        every_n_steps: measure on the steps whose number (after the update) is a multiple.
        histogram_every_n_steps: also sample gradient values for histograms on these steps
            (a multiple of ``every_n_steps``), or 0 for none.
        slots: how many logging steps' statistics are kept until the host reads them.
        sample_size: gradient values kept per layer for a histogram.

    Example:
        >>> import keras
        >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        >>> capture = GradientCapture(group_variables(model), "optimizer", every_n_steps=1)
        >>> capture.steps().tolist()
        [-1]
    """

    def __init__(
        self,
        grouping: Grouping,
        name: str,
        *,
        optimizer: Any = None,
        every_n_steps: int,
        histogram_every_n_steps: int = 0,
        slots: int = 1,
        sample_size: int = 1000,
    ) -> None:
        self.grouping = grouping
        self.name = name
        self.optimizer = optimizer
        self.every_n_steps = every_n_steps
        self.histogram_every_n_steps = histogram_every_n_steps
        self.slots = slots
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
        state = backend.state
        self.step = state(np.full(slots, -1), tf.int64)  # the step of each slot's rows
        self.rows = state(np.zeros((slots, n, len(_statistics.FIELDS))), tf.float32)
        self.histogram_step = state(-1, tf.int64)
        self.samples = [state(np.zeros(len(i)), tf.float32) for i in self.sample_indices]
        self.nonfinite_step = state(-1, tf.int64)  # first step with NaN/Inf gradients
        self.nonfinite_layer = state(-1, tf.int32)  # its layer closest to the output
        self.nonfinite_steps = state(0, tf.int64)  # how many steps had NaN/Inf gradients
        # the weights before the update of a logging step (one float32 copy of the model)
        self.snapshot = state(np.zeros(sum(self._sizes)), tf.float32)
        self._position = {id(v): i for i, v in enumerate(self.variables)}

    def steps(self) -> np.ndarray:
        """The step each slot's statistics belong to (-1: none yet)."""
        return np.asarray(self.step.numpy())

    # ------------------------------------------------------------------ in the step
    def before_update(self, context: StepContext, skip_nonfinite: bool) -> None:
        """Test for NaN/Inf; in a measuring trace, measure a logging step before its update."""
        slots = [self._position.get(id(v)) for v in context.variables]
        measured = [(s, g) for s, g in zip(slots, context.grads, strict=True) if s is not None]
        # The update's own test (shared with the owner's non-finite skip), or one of just
        # the variables this capture measures when it does not measure them all.
        if len(measured) < len(slots):
            all_finite = backend.all_finite([g for _, g in measured])
        else:
            all_finite = context.all_finite()
        self._record_nonfinite(context.optimizer, all_finite, measured)
        if not context.measuring:
            return
        step = tf.cast(context.optimizer.iterations, tf.int64) + 1  # Keras counts it after
        reduced = backend.all_reduced([g for _, g in measured])
        measure = tf.equal(step % self.every_n_steps, 0)
        if skip_nonfinite:
            measure = tf.logical_and(measure, all_finite)
        backend.rare(
            measure,
            self._before_fn(step, [(s, r) for (s, _), r in zip(measured, reduced, strict=True)]),
        )
        context.values[id(self)] = {"step": step, "measure": measure}

    def after_update(self, context: StepContext) -> None:
        """In a measuring trace, measure the update of a logging step."""
        values = context.values.get(id(self))
        if values is not None:
            backend.rare(values["measure"], self._after_fn(values["step"]))

    def _slot(self, step: Any) -> Any:
        return tf.cast((step // self.every_n_steps) % self.slots, tf.int32)

    def _record_nonfinite(
        self, optimizer: Any, all_finite: Any, measured: list[tuple[int, Any]]
    ) -> None:
        """Count a step with NaN/Inf gradients and keep the first one and its layer.

        Every step pays for the one scalar test only: which gradients are not finite is
        worked out in a conditional (an ``If`` op) that runs on such steps alone.
        """
        if not measured:
            return
        layers = tf.constant(self.layer_of_variable[[s for s, _ in measured]], dtype=tf.int32)
        grads = [g for _, g in measured]

        def record() -> None:
            # Read before the update (program order), as Keras counts the step after it.
            step = tf.cast(optimizer.iterations, tf.int64) + 1
            finite, _ = backend.finite_per_tensor(grads)
            first = self.nonfinite_step < 0
            self.nonfinite_steps.assign_add(1)
            layer = tf.reduce_max(tf.where(finite, -1, layers))
            self.nonfinite_layer.assign(tf.where(first, layer, self.nonfinite_layer))
            self.nonfinite_step.assign(tf.where(first, step, self.nonfinite_step))

        backend.rare(tf.logical_not(all_finite), record)

    def _weights(self) -> list[Any]:
        return [backend.value(v) for v in self.variables]

    def _before_fn(self, step: Any, measured: list[tuple[Any, Any]]) -> Callable[[], None]:
        def before() -> None:
            by_slot = dict(measured)
            grads = [by_slot.get(i) for i in range(len(self.variables))]
            weights = self._weights()
            self.snapshot.assign(_statistics.flatten(weights))
            gradient_rows = _statistics.tensor_rows(grads)
            weight_norms = _statistics.tensor_norms(weights)
            other = tf.stack([tf.zeros_like(weight_norms), weight_norms], axis=1)
            rows = tf.concat([gradient_rows, other], axis=1)
            slot = self._slot(step)
            self.rows.assign(
                tf.tensor_scatter_nd_update(tf.convert_to_tensor(self.rows), [[slot]], rows[None])
            )
            if self.histogram_every_n_steps:
                histogram_step = tf.equal(step % self.histogram_every_n_steps, 0)
                tf.cond(histogram_step, self._sample_fn(step, grads), lambda: None)

        return before

    def _after_fn(self, step: Any) -> Callable[[], None]:
        def after() -> None:
            before = tf.split(self.snapshot, self._sizes) if self.variables else []
            deltas = [
                tf.cast(w, tf.float32) - tf.reshape(b, w.shape)
                for w, b in zip(self._weights(), before, strict=True)
            ]
            update_norms = _statistics.tensor_norms(deltas)
            slot = self._slot(step)
            rows = tf.convert_to_tensor(self.rows)
            column = _statistics.UPDATE_NORM
            row = tf.concat(
                [rows[slot][:, :column], update_norms[:, None], rows[slot][:, column + 1 :]],
                axis=1,
            )
            self.rows.assign(tf.tensor_scatter_nd_update(rows, [[slot]], row[None]))
            self.step.assign(
                tf.tensor_scatter_nd_update(tf.convert_to_tensor(self.step), [[slot]], [step])
            )

        return after

    def _sample_fn(self, step: Any, grads: list[Any]) -> Callable[[], None]:
        """Gradient values at each layer's sample indices, in one gather."""
        starts = np.cumsum([0, *self._layer_sizes])
        indices = np.concatenate(
            [start + i for start, i in zip(starts, self.sample_indices, strict=False)]
            + [np.zeros(0, np.int64)]
        )
        counts = [len(i) for i in self.sample_indices]

        def sample() -> None:
            flat_grads = _statistics.flatten(
                [
                    tf.zeros(v.shape) if g is None else g
                    for g, v in zip(grads, self.variables, strict=True)
                ]
            )
            values = tf.split(tf.gather(flat_grads, indices), counts)
            for variable, value in zip(self.samples, values, strict=True):
                variable.assign(value)
            self.histogram_step.assign(step)

        return sample


class GradientProgram:
    """The in-step half of ``GradientDiagnostics``: one capture per updating optimizer.

    Example:
        >>> import keras
        >>> program = GradientProgram(keras.Sequential([]), every_n_steps=10)
        >>> program.captures
        {}
    """

    def __init__(
        self,
        model: Any,
        *,
        every_n_steps: int,
        histogram_every_n_steps: int = 0,
        skip_nonfinite: bool = False,
        sample_size: int = 1000,
        steps_per_execution: int = 1,
    ) -> None:
        self._model = weakref.ref(model)
        self.every_n_steps = every_n_steps
        self.histogram_every_n_steps = histogram_every_n_steps
        self.skips_nonfinite = skip_nonfinite
        self.sample_size = sample_size
        self.slots = -(-steps_per_execution // every_n_steps) + 1
        self.captures: dict[str, GradientCapture] = {}

    def _capture(self, context: StepContext) -> GradientCapture | None:
        capture = self.captures.get(context.name)
        if capture is None:
            model = self._model()
            if model is None or not context.variables:
                return None
            reads = backend.first_reads(context.variables)
            grouping = group_variables(model, context.variables, reads)
            capture = GradientCapture(
                grouping,
                context.name,
                optimizer=context.optimizer,
                every_n_steps=self.every_n_steps,
                histogram_every_n_steps=self.histogram_every_n_steps,
                slots=self.slots,
                sample_size=self.sample_size,
            )
            self.captures[context.name] = capture
        return capture

    def before_update(self, context: StepContext) -> None:
        """Create the optimizer's capture on first sight, then test and measure."""
        capture = self._capture(context)
        if capture is not None:
            capture.before_update(context, self.skips_nonfinite)

    def wrap_update(self, context: StepContext, update: Any) -> Any:
        """The update as it is."""
        return update

    def after_update(self, context: StepContext) -> None:
        """Measure the update."""
        capture = self.captures.get(context.name)
        if capture is not None and id(capture) in context.values:
            capture.after_update(context)
