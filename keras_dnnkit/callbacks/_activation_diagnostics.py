"""``ActivationDiagnostics``: per-layer activation statistics on a probe batch, in TensorBoard."""

from __future__ import annotations

import os
import warnings
from typing import Any

import keras
import numpy as np

from keras_dnnkit._validation import check_positive
from keras_dnnkit.callbacks._gradient_diagnostics import DiagnosticsWarning
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._activation_findings import (
    DEAD_THRESHOLD,
    SATURATED_THRESHOLD,
    LayerActivation,
    activation_findings,
    check_threshold,
)
from keras_dnnkit.diagnostics._activation_statistics import (
    ActivationStatistics,
    activation_statistics,
)
from keras_dnnkit.diagnostics._layer_probe import LayerProbe, ProbedLayer, probe_batch
from keras_dnnkit.diagnostics.findings import Finding


class ActivationDiagnostics(keras.callbacks.Callback):
    """Log every layer's activation statistics on a fixed probe batch to TensorBoard.

    Every ``every_n_steps`` optimizer steps (and before the first step of a fresh model, and
    when training ends) the model runs in inference mode on the probe batch and, for each
    layer from input to output (the layers of nested models included), this logs:

    - ``activations/mean/NN_layer`` and ``activations/variance/NN_layer``;
    - ``activations/variance_ratio/NN_layer``: output variance / input variance (Glorot &
      Bengio: about 1 keeps the signal from fading or blowing up with depth);
    - ``activations/dead_fraction/NN_layer`` (ReLU family): units at their floor for every
      probe example;
    - ``activations/saturated_fraction/NN_layer`` (sigmoid/tanh): units within 1 % of a bound
      for most probe examples.

    Dead and saturated fractions of the model's output layers are not logged (a confident
    classifier saturates by design). Problems become findings, logged as TensorBoard text
    (tag ``findings``), issued as Python warnings and kept in :attr:`findings`, at most once
    per problem per epoch. Steps are the optimizer's iteration count, so a resumed run
    continues its curves.

    Keras does not hand callbacks the training data, so the probe batch is passed in: a few
    hundred training examples are plenty.

    Args:
        log_dir: directory of the TensorBoard run to write.
        probe: inputs to measure on: an array, a list/dict of arrays (multi-input models), an
            ``(x, y)`` tuple, or a ``tf.data.Dataset`` (its first batch).
        every_n_steps: log every this many optimizer steps.
        dead_threshold: report dead units when at least this fraction of a layer's are.
        saturated_threshold: report saturation when at least this fraction of a layer's
            units saturate.
        max_probe_examples: use at most this many examples of ``probe``.
        warn: also issue findings as Python warnings (:class:`DiagnosticsWarning`).

    Attributes:
        findings: every :class:`~keras_dnnkit.diagnostics.Finding` reported so far.

    Example:
        >>> import keras, numpy as np, tempfile
        >>> x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        >>> hidden = keras.layers.Dense(3, activation="relu", name="hidden")
        >>> model = keras.Sequential([keras.Input((4,)), hidden])
        >>> model.compile("sgd", "mse")
        >>> diagnostics = ActivationDiagnostics(tempfile.mkdtemp(), probe=x, every_n_steps=2)
        >>> _ = model.fit(x, x[:, :3], epochs=1, callbacks=[diagnostics], verbose=0)
        >>> sorted(diagnostics.last_statistics)
        ['hidden']
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        probe: Any,
        every_n_steps: int = 100,
        dead_threshold: float = DEAD_THRESHOLD,
        saturated_threshold: float = SATURATED_THRESHOLD,
        max_probe_examples: int = 256,
        warn: bool = True,
    ) -> None:
        super().__init__()
        if probe is None:
            raise ValueError(
                "Argument probe is required: Keras does not give callbacks the training data. "
                "Pass a batch of training inputs, e.g. probe=x_train[:256]. Received: probe=None"
            )
        if not isinstance(every_n_steps, int) or isinstance(every_n_steps, bool):
            raise ValueError(
                f"Argument every_n_steps must be an int. Received: every_n_steps={every_n_steps!r}"
            )
        check_positive("every_n_steps", every_n_steps)
        check_positive("max_probe_examples", max_probe_examples)
        check_threshold("dead_threshold", dead_threshold)
        check_threshold("saturated_threshold", saturated_threshold)
        self.log_dir = os.fspath(log_dir)
        self.probe = probe_batch(probe, int(max_probe_examples))
        self.every_n_steps = every_n_steps
        self.dead_threshold = dead_threshold
        self.saturated_threshold = saturated_threshold
        self.warn = warn
        self.findings: list[Finding] = []
        self.last_statistics: dict[str, ActivationStatistics] = {}
        self._layer_probe: LayerProbe | None = None
        self._probed_model: Any = None
        self._writer: Any = None
        self._reported: set[str] = set()
        self._reported_epoch: int | None = None
        self._last_logged: int | None = None
        self._next_step = 0

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Build the probe (once per model) and log the starting point of a fresh model."""
        if self._probed_model is not self.model:
            self._layer_probe = LayerProbe(self.model)
            self._probed_model = self.model
        if self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(self.log_dir)
        # A fresh model's step-0 findings count towards the first epoch.
        self._reported, self._reported_epoch = set(), None
        step = self._step()
        self._next_step = (step // self.every_n_steps + 1) * self.every_n_steps
        if step == 0:
            self._log(step)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Allow each problem to be reported once more in this epoch."""
        if self._reported_epoch is not None and epoch != self._reported_epoch:
            self._reported = set()
        self._reported_epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Log when the optimizer's step count reaches the next multiple of every_n_steps."""
        step = self._step()
        if step >= self._next_step:
            self._log(step)
            self._next_step = (step // self.every_n_steps + 1) * self.every_n_steps

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Log the final state (unless just logged) and flush the event file."""
        step = self._step()
        if self._last_logged != step:
            self._log(step)
        if self._writer is not None:
            self._writer.flush()

    # ------------------------------------------------------------------ work
    def _step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _log(self, step: int) -> None:
        assert self._layer_probe is not None
        import tensorflow as tf

        statistics: dict[str, ActivationStatistics] = {}
        rules: list[LayerActivation] = []
        with self._writer.as_default(step=step):
            for values in self._layer_probe(self.probe):
                layer = values.layer
                stats = activation_statistics(
                    values.inputs, values.output, layer.family, layer.floor
                )
                if layer.is_output:
                    stats = ActivationStatistics(
                        stats.mean, stats.variance, stats.variance_ratio, None, None
                    )
                name = _layer_name(layer)
                statistics[name] = stats
                rules.append(LayerActivation(name, stats.dead_fraction, stats.saturated_fraction))
                for prefix, value in (
                    (_tags.ACTIVATION_MEAN, stats.mean),
                    (_tags.ACTIVATION_VARIANCE, stats.variance),
                    (_tags.ACTIVATION_VARIANCE_RATIO, stats.variance_ratio),
                    (_tags.DEAD_FRACTION, stats.dead_fraction),
                    (_tags.SATURATED_FRACTION, stats.saturated_fraction),
                ):
                    if value is not None and np.isfinite(value):
                        tf.summary.scalar(_tags.layer_tag(prefix, layer.index, layer.path), value)
            findings = activation_findings(
                rules,
                step,
                dead_threshold=self.dead_threshold,
                saturated_threshold=self.saturated_threshold,
            )
            for finding in findings:
                if finding.problem in self._reported:
                    continue
                self._reported.add(finding.problem)
                self.findings.append(finding)
                tf.summary.text(_tags.FINDINGS, finding.message)
                if self.warn:
                    warnings.warn(finding.message, DiagnosticsWarning, stacklevel=2)
        self._writer.flush()
        self.last_statistics = statistics
        self._last_logged = step


def _layer_name(layer: ProbedLayer) -> str:
    """The layer's name as its tags spell it (nested paths joined with dots)."""
    return layer.path.replace("/", ".")
