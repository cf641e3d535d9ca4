"""``ActivationDiagnostics``: per-layer activation statistics on a probe batch, in TensorBoard."""

from __future__ import annotations

import os
import warnings
from typing import Any

import keras
import numpy as np

from keras_dnnkit.callbacks._gradient_diagnostics import DiagnosticsWarning
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._activation_findings import (
    DEAD_THRESHOLD,
    SATURATED_THRESHOLD,
    LayerActivation,
    check_threshold,
)
from keras_dnnkit.diagnostics._activation_statistics import (
    ActivationStatistics,
    activation_statistics,
)
from keras_dnnkit.diagnostics._diagnosis import ActivationDiagnosis, resolved_text
from keras_dnnkit.diagnostics._layer_probe import (
    LayerProbe,
    LayerValues,
    ProbedLayer,
    model_inputs,
    probe_batch,
)
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

    Batch normalization normalizes the probe with the probe's own statistics, as in training
    (its moving statistics are still near their initial values early on); nothing is
    updated: no weight, moving statistic or seed changes. Dead and saturated fractions of
    the model's output layers are not logged (a confident classifier saturates by design).

    Findings (dead or saturated units, over the median of the last ``window`` probes;
    inputs far from standardized; symmetric units; the model's recipe, checked once;
    overfitting, from the epoch logs when there is validation data) follow a lifecycle:
    one finding per problem and place, current until it no longer holds, then resolved.
    They are written to ``<log_dir>/dnnkit_findings.json`` (shared with
    ``GradientDiagnostics`` on the same ``log_dir``), as TensorBoard text (tag
    ``findings``) when they start, reopen or resolve, and as Python warnings when they
    start. Steps are the optimizer's iteration count, so a resumed run continues.

    Keras does not hand callbacks the training data, so the probe batch is passed in: a few
    hundred training examples are plenty.

    Args:
        log_dir: directory of the TensorBoard run to write.
        probe: inputs to measure on: an array; a list or dict of arrays (one per input of a
            multi-input model; a tuple of as many arrays as the model has inputs counts as
            such too); an ``(x, y)`` or ``(x, y, sample_weight)`` tuple; or a
            ``tf.data.Dataset`` (its first batch).
        every_n_steps: log every this many optimizer steps.
        dead_threshold: report dead units when at least this fraction of a layer's are.
        saturated_threshold: report saturation when at least this fraction of a layer's
            units saturate.
        max_probe_examples: use at most this many examples of ``probe``.
        window: dead and saturated fractions are judged by their median over this many
            last probes.
        warn: also issue findings as Python warnings (:class:`DiagnosticsWarning`).

    Attributes:
        findings: every :class:`~keras_dnnkit.diagnostics.Finding` of the run so far,
            current and resolved (those of other callbacks on the same ``log_dir`` too).

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
        window: int = 3,
        warn: bool = True,
    ) -> None:
        super().__init__()
        self.log_dir = _check_log_dir(log_dir)
        if probe is None:
            raise ValueError(
                "Argument probe is required: Keras does not give callbacks the training data. "
                "Pass a batch of training inputs, e.g. probe=x_train[:256]. Received: probe=None"
            )
        for name, value in (
            ("every_n_steps", every_n_steps),
            ("max_probe_examples", max_probe_examples),
            ("window", window),
        ):
            _check_count(name, value)
        check_threshold("dead_threshold", dead_threshold)
        check_threshold("saturated_threshold", saturated_threshold)
        if not isinstance(warn, bool):
            raise ValueError(f"Argument warn must be True or False. Received: warn={warn!r}")
        self.probe = probe_batch(probe, int(max_probe_examples), keep_tuples=True)
        self.every_n_steps = every_n_steps
        self.dead_threshold = dead_threshold
        self.saturated_threshold = saturated_threshold
        self.max_probe_examples = max_probe_examples
        self.window = window
        self.warn = warn
        self.findings: list[Finding] = []
        self.last_statistics: dict[str, ActivationStatistics] = {}
        self._layer_probe: LayerProbe | None = None
        self._diagnosis: ActivationDiagnosis | None = None
        self._inputs: Any = None
        self._writer: Any = None
        self._last_logged: int | None = None
        self._next_step = 0

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments but the probe (arrays are not configuration).

        Example:
            >>> import numpy as np
            >>> ActivationDiagnostics("runs/x", probe=np.ones((4, 2))).get_config()["window"]
            3
        """
        return {
            "log_dir": self.log_dir,
            "every_n_steps": self.every_n_steps,
            "dead_threshold": self.dead_threshold,
            "saturated_threshold": self.saturated_threshold,
            "max_probe_examples": self.max_probe_examples,
            "window": self.window,
            "warn": self.warn,
        }

    # ------------------------------------------------------------------ hooks
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Build the probe (once per model), check the recipe, log a fresh model's start."""
        if self._diagnosis is None or self._diagnosis.model is not self.model:
            self._layer_probe = LayerProbe(self.model)
            self._inputs = model_inputs(self.probe, self.model)
            self._diagnosis = ActivationDiagnosis(
                self.log_dir,
                self.model,
                dead_threshold=self.dead_threshold,
                saturated_threshold=self.saturated_threshold,
                window=self.window,
            )
        if self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(self.log_dir)
        step = self._step()
        self._next_step = (step // self.every_n_steps + 1) * self.every_n_steps
        if step == 0:
            self._log(step)
        else:
            self._report(self._diagnosis.check(step))  # the recipe, before training goes on

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Log when the optimizer's step count reaches the next multiple of every_n_steps."""
        step = self._step()
        if step >= self._next_step:
            self._log(step)
            self._next_step = (step // self.every_n_steps + 1) * self.every_n_steps

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Judge overfitting from the epoch's training and validation losses."""
        if self._diagnosis is not None:
            self._report(self._diagnosis.epoch_end(self._step(), logs))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Log the final state (unless just logged) and flush the event file."""
        step = self._step()
        if self._last_logged != step:
            self._log(step)
        if self._writer is not None:
            self._writer.flush()

    # ------------------------------------------------------------------ work
    def _step(self) -> int:
        return int(np.asarray(self.model.optimizer.iterations.numpy()))

    def _log(self, step: int) -> None:
        assert self._layer_probe is not None and self._diagnosis is not None
        import tensorflow as tf

        statistics: dict[str, ActivationStatistics] = {}
        rules: list[LayerActivation] = []
        values = self._layer_probe(self._inputs)
        with self._writer.as_default(step=step):
            for value in values:
                layer = value.layer
                stats = activation_statistics(value.inputs, value.output, layer.family, layer.floor)
                if layer.is_output:
                    stats = ActivationStatistics(
                        stats.mean, stats.variance, stats.variance_ratio, None, None
                    )
                name = _layer_name(layer)
                statistics[name] = stats
                rules.append(
                    LayerActivation(
                        name,
                        stats.dead_fraction,
                        stats.saturated_fraction,
                        layer.family,
                        layer.floor,
                    )
                )
                for prefix, number in (
                    (_tags.ACTIVATION_MEAN, stats.mean),
                    (_tags.ACTIVATION_VARIANCE, stats.variance),
                    (_tags.ACTIVATION_VARIANCE_RATIO, stats.variance_ratio),
                    (_tags.DEAD_FRACTION, stats.dead_fraction),
                    (_tags.SATURATED_FRACTION, stats.saturated_fraction),
                ):
                    if number is not None and np.isfinite(number):
                        tf.summary.scalar(_tags.layer_tag(prefix, layer.index, layer.path), number)
        self.last_statistics = statistics
        self._last_logged = step
        self._report(self._diagnosis.measured(step, rules, _first_inputs(values)))
        self._writer.flush()

    def _report(self, changed: list[Finding]) -> None:
        """Write the findings that started, reopened or resolved (text, warnings)."""
        assert self._diagnosis is not None
        self.findings = list(self._diagnosis.findings)
        if not changed:
            return
        import tensorflow as tf

        with self._writer.as_default():
            for finding in changed:
                text = finding.text if finding.current else resolved_text(finding)
                step = finding.last_step if finding.current else finding.resolved_step
                tf.summary.text(_tags.FINDINGS, text, step=int(step or 0))
                if self.warn and finding.current:
                    warnings.warn(text, DiagnosticsWarning, stacklevel=3)


def _layer_name(layer: ProbedLayer) -> str:
    """The layer's name as its tags spell it (nested paths joined with dots)."""
    return layer.path.replace("/", ".")


def _first_inputs(values: list[LayerValues]) -> tuple[str, np.ndarray] | None:
    """The first layer with weights and that layer's input, if it has a kernel and one input."""
    for value in values:
        layer = value.layer.layer
        if not layer.weights:
            continue  # Rescaling, Reshape...: the inputs pass on to the next layer
        if getattr(layer, "kernel", None) is None or len(value.inputs) != 1:
            return None  # Normalization, Embedding (token ids)...: not judged
        return _layer_name(value.layer), value.inputs[0]
    return None


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"Argument {name} must be an int >= 1. Received: {name}={value!r}")


def _check_log_dir(log_dir: Any) -> str:
    """The log directory as a string: not a file, and creatable where it does not exist."""
    if not isinstance(log_dir, (str, os.PathLike)) or not os.fspath(log_dir):
        raise ValueError(
            "Argument log_dir must be a directory path (a non-empty str or os.PathLike). "
            f"Received: log_dir={log_dir!r}"
        )
    path = os.fsdecode(os.fspath(log_dir))
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(
            f"Argument log_dir must be a directory, not a file. Received: log_dir={path!r}"
        )
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise ValueError(
            f"Argument log_dir must be a directory that can be created or written; {existing!r} "
            f"is not a writable directory. Received: log_dir={path!r}"
        )
    return path
