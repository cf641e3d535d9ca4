"""GradientDiagnostics: per-layer gradient statistics in TensorBoard, measured in the train step."""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, Literal

import keras
import numpy as np

from keras_dnnkit._validation import check_choice
from keras_dnnkit.diagnostics import _statistics, _tags
from keras_dnnkit.diagnostics._capture import GradientCapture
from keras_dnnkit.diagnostics._diagnosis import GradientDiagnosis, resolved_text
from keras_dnnkit.diagnostics._grouping import Grouping, group_variables
from keras_dnnkit.diagnostics._tensorboard import FROZEN_LAYERS, GradientBoard, scalar_tags
from keras_dnnkit.diagnostics.findings import Finding, Thresholds
from keras_dnnkit.errors import NonfiniteGradientsError

OnNonfinite = Literal["warn", "stop", "raise"]
ON_NONFINITE: tuple[OnNonfinite, ...] = ("warn", "stop", "raise")


class DiagnosticsWarning(UserWarning):
    """A problem found by keras-dnnkit's training diagnostics.

    Example:
        >>> import warnings
        >>> warnings.simplefilter("error", DiagnosticsWarning)  # fail a CI run on findings
        >>> warnings.resetwarnings()
    """


def _check_steps(name: str, value: Any, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"Argument {name} must be an integer >= {low}. Received: {name}={value!r}")


def _holds_multiple(first: int, last: int, every: int) -> bool:
    """Whether one of the steps ``first`` to ``last`` is a multiple of ``every``."""
    return last // every >= -(-first // every)


def _number(value: Any) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(value)).reshape(()))


class GradientDiagnostics(keras.callbacks.Callback):
    """Log per-layer gradient statistics to TensorBoard and explain what looks wrong.

    The gradients are the ones the optimizer applies, observed inside the compiled train
    step (unscaled under mixed precision, before clipping, all-reduced under
    ``tf.distribute``): no extra forward or backward pass. They are reduced on the device
    and fetched only every ``every_n_steps`` steps. TensorBoard steps are the optimizer's
    iteration count, so a resumed run continues its curves. The update-to-weight ratio
    needs the weights before a logging step's update: they are copied into one float32
    variable the callback owns (memory for one more copy of the trainable weights). Steps
    that log nothing run a lean train step (only the NaN/Inf test; no conditional other
    than, with ``"stop"``/``"raise"``, the one that skips a non-finite update); each ``fit``
    traces the measuring step at its first execution and the lean one at the first that
    logs nothing. Under a ``LossScaleOptimizer`` every step is the measuring one. Requires
    the TensorFlow backend.

    Written per logged step, per layer (input to output; tags from
    ``keras_dnnkit.diagnostics._tags``): ``gradients/norm``, ``gradients/mean_abs``,
    ``gradients/max_abs``, ``gradients/flow`` (norm / last layer's norm) and
    ``updates/ratio`` (||delta w|| / ||w||); plus ``gradients/global_norm``,
    ``optimizer/learning_rate`` and ``optimizer/momentum`` (momentum or beta_1). Also
    gradient histograms, a custom-scalars layout ("gradient flow": every layer's gradient
    norm in one chart; switch its y axis to log in TensorBoard), and findings (vanishing or
    exploding gradients, NaN/Inf, updates too small or too large for their weights, symmetric
    units, the model's recipe, overfitting from the epoch logs): one per problem and place,
    current until the window no longer shows it, then resolved; kept in
    ``<log_dir>/dnnkit_findings.json`` (shared with ``ActivationDiagnostics``), as text
    (tag ``findings``) when they start, reopen or resolve, and as :class:`DiagnosticsWarning`
    when they start.

    Args:
        log_dir: where to write the event files.
        every_n_steps: measure and log every this many steps.
        histogram_every_n_steps: write gradient histograms every this many steps (a
            multiple of ``every_n_steps``; 0 for none). Default ``10 * every_n_steps``.
        on_nonfinite: what to do when a gradient holds NaN or Inf: ``"warn"``; ``"stop"``
            (skip that update and end training at the end of the batch); ``"raise"`` (skip
            it and raise :class:`~keras_dnnkit.errors.NonfiniteGradientsError`). With
            ``"stop"`` and ``"raise"`` the model only ever holds finite weights.
        thresholds: when gradients count as vanishing or exploding, updates as too small or
            too large, and the epoch logs as overfitting.
        per_variable: also log every variable's statistics (``gradients/norm/per_variable``...).
        histogram_sample_size: gradient values per layer kept for a histogram.
        warn: also issue findings as Python warnings.

    Attributes:
        findings: every :class:`~keras_dnnkit.diagnostics.Finding` of the run so far,
            current and resolved (those of other callbacks on the same ``log_dir`` too).

    Example:
        >>> import keras, numpy as np, tempfile
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        >>> model.compile("sgd", "mse")
        >>> diagnostics = GradientDiagnostics(tempfile.mkdtemp(), every_n_steps=2)
        >>> _ = model.fit(np.ones((8, 4)), np.ones(8), batch_size=2, verbose=0,
        ...               callbacks=[diagnostics])
        >>> diagnostics.last_logged_step
        4
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        every_n_steps: int = 100,
        histogram_every_n_steps: int | None = None,
        on_nonfinite: OnNonfinite = "warn",
        thresholds: Thresholds | None = None,
        per_variable: bool = False,
        histogram_sample_size: int = 1000,
        warn: bool = True,
    ) -> None:
        super().__init__()
        if not os.fspath(log_dir):
            raise ValueError("Argument log_dir must be a directory path. Received: log_dir=''")
        _check_steps("every_n_steps", every_n_steps)
        if histogram_every_n_steps is None:
            histogram_every_n_steps = 10 * every_n_steps
        _check_steps("histogram_every_n_steps", histogram_every_n_steps, allow_zero=True)
        if histogram_every_n_steps % every_n_steps:
            raise ValueError(
                "Argument histogram_every_n_steps must be 0 or a multiple of every_n_steps "
                f"({every_n_steps}). Received: histogram_every_n_steps={histogram_every_n_steps}"
            )
        check_choice("on_nonfinite", on_nonfinite, ON_NONFINITE)
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise ValueError(
                "Argument thresholds must be a keras_dnnkit.diagnostics.Thresholds (e.g. "
                f"Thresholds(window=3)) or None. Received: thresholds={thresholds!r}"
            )
        _check_steps("histogram_sample_size", histogram_sample_size)
        self.log_dir = os.fspath(log_dir)
        self.every_n_steps = every_n_steps
        self.histogram_every_n_steps = histogram_every_n_steps
        self.on_nonfinite = on_nonfinite
        self.thresholds = thresholds or Thresholds()
        self.per_variable = per_variable
        self.histogram_sample_size = histogram_sample_size
        self.warn = warn
        self.findings: list[Finding] = []
        self.last_logged_step = -1
        self._capture: GradientCapture | None = None
        self._host_step = 0  # the last step done, as counted on the host
        self._board: GradientBoard | None = None
        self._grouping: Grouping | None = None

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments.

        Example:
            >>> GradientDiagnostics("runs/x", every_n_steps=10).get_config()["every_n_steps"]
            10
        """
        return {
            "log_dir": self.log_dir,
            "every_n_steps": self.every_n_steps,
            "histogram_every_n_steps": self.histogram_every_n_steps,
            "on_nonfinite": self.on_nonfinite,
            "thresholds": asdict(self.thresholds),
            "per_variable": self.per_variable,
            "histogram_sample_size": self.histogram_sample_size,
            "warn": self.warn,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GradientDiagnostics:
        """Rebuild from :meth:`get_config`'s output.

        Example:
            >>> d = GradientDiagnostics("runs/x", thresholds=Thresholds(window=3))
            >>> GradientDiagnostics.from_config(d.get_config()).thresholds.window
            3
        """
        config = dict(config)
        config["thresholds"] = Thresholds(**config.get("thresholds") or {})
        return cls(**config)

    # ------------------------------------------------------------------ training
    def _optimizers(self) -> tuple[Any, Any]:
        """The user's optimizer and the one that sees unscaled gradients."""
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None:
            raise ValueError("GradientDiagnostics needs a compiled model (model.optimizer).")
        return optimizer, getattr(optimizer, "inner_optimizer", optimizer)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Install the in-step capture and write the TensorBoard layout."""
        if keras.backend.backend() != "tensorflow":
            raise RuntimeError(
                "GradientDiagnostics needs the TensorFlow backend. "
                f"Received: KERAS_BACKEND={keras.backend.backend()!r}."
            )
        optimizer, inner = self._optimizers()
        self._restore()  # what a fit of this callback that died with an exception left
        self._grouping = grouping = group_variables(self.model)
        with self.model.distribute_strategy.scope():
            self._capture = GradientCapture(
                grouping,
                every_n_steps=self.every_n_steps,
                histogram_every_n_steps=self.histogram_every_n_steps,
                skip_nonfinite=self.on_nonfinite != "warn",
                sample_size=self.histogram_sample_size,
            )
            if not optimizer.built:
                # As Keras' fit does under a distribution strategy: built lazily, in the
                # first step, the optimizer makes tf.function trace that step twice.
                optimizer.build(self.model.trainable_variables)
        # The fit's History tells this training from one that died with an exception
        # (no on_train_end) and left its capture installed: that one is removed.
        session = getattr(self.model, "history", None)
        self._capture.install(inner, session=session, release=self._restore)
        self._guard_train_function(self._capture, session, lean=inner is optimizer)
        self._momentum_name = next((a for a in ("momentum", "beta_1") if hasattr(inner, a)), None)
        variable_paths = [
            (i, f"{group.path}/{name}")
            for i, (group, name) in enumerate(
                (g, n) for g in grouping.layers for n in g.variable_names
            )
        ]
        self._board = GradientBoard(
            self.log_dir,
            scalar_tags(
                [g.path for g in grouping.layers],
                variable_paths if self.per_variable else None,
                momentum=self._momentum_name is not None,
            ),
        )
        self._board.layout()
        start = int(_number(optimizer.iterations))
        if grouping.frozen:
            self._board.text(
                FROZEN_LAYERS,
                "frozen layers, not measured: " + ", ".join(grouping.frozen),
                start,
            )
        self._history: list[deque[float]] = [
            deque(maxlen=self.thresholds.window) for _ in grouping.layers
        ]
        self._epoch_start = start
        self._host_step = start
        self._reported: set[str] = set()
        self._nonfinite_reported = False

    def _guard_train_function(self, capture: GradientCapture, session: object, lean: bool) -> None:
        """Install the train step: measuring for executions with a logging step, else lean.

        A conditional anywhere in the step costs every step (about 0.1 ms on a CPU), so
        the step is traced twice: measuring (statistics on the steps whose number is a
        multiple of ``every_n_steps``) and lean (only the NaN/Inf test). The host, which
        counts steps without reading the device, picks one per execution; the first
        execution of a fit runs the measuring step, so that it is traced up front. Without
        ``lean`` (the host's count can fall behind: a ``LossScaleOptimizer`` does not
        count the steps it drops) every execution runs the measuring step.

        Should this fit die with an exception, the instrumented step stays cached on the
        model; the next ``fit`` (a new ``History``) then removes the capture and runs a
        plain step instead.
        """
        model = self.model
        steps: dict[bool, Any] = {}
        for measuring in (False, True):
            model.make_train_function(force=True)
            steps[measuring] = model.train_function
        started = False

        def train_function(iterator: Any) -> Any:
            nonlocal started
            if getattr(model, "history", None) is not session:
                if capture.installed:
                    capture.release()
                model.make_train_function(force=True)
                return model.train_function(iterator)
            # Steps first..last run now (Keras may run a last execution past the epoch's
            # end: that only makes this window too wide, never too narrow).
            first = self._host_step + 1
            last = self._host_step + max(1, int(getattr(model, "steps_per_execution", 1)))
            measuring = not (lean and started) or _holds_multiple(first, last, self.every_n_steps)
            started = True
            capture.measuring = measuring  # read only when that step is traced
            return steps[measuring](iterator)

        model.train_function = train_function

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Note the step the epoch starts at; findings may be reported again."""
        self._epoch_start = int(_number(self.model.optimizer.iterations))
        # The host's count can be off at an epoch's end (steps_per_execution > 1: Keras
        # reports a short last execution as a full one, or runs a full one past the end of
        # steps_per_epoch): start each epoch from the truth.
        self._host_step = self._epoch_start
        self._reported = set()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Fetch and write the statistics when a logging step has passed."""
        step = self._epoch_start + batch + 1  # counted on the host: no device read
        previous, self._host_step = self._host_step, step
        if self.on_nonfinite != "warn":
            self._check_nonfinite()
        if step // self.every_n_steps > previous // self.every_n_steps:
            self._fetch()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Write what is pending, judge overfitting from the epoch logs, and flush."""
        self._fetch()
        self._report(
            self._diagnosis().epoch_end(int(_number(self.model.optimizer.iterations)), logs)
        )
        if self._board is not None:
            self._board.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Write what is pending, then give the optimizer and the train step back."""
        try:
            self._fetch()
        finally:
            self._restore()

    def _restore(self) -> None:
        if self._capture is not None:
            self._capture.uninstall()
            self.model.train_function = None
        if self._board is not None:
            self._board.close()
        self._capture = None
        self._board = None

    # ------------------------------------------------------------------ host side
    def _fetch(self) -> None:
        capture, board, grouping = self._capture, self._board, self._grouping
        if capture is None or board is None or grouping is None:
            return
        step = int(capture.step.numpy())
        if step > self.last_logged_step:
            self._log(step, capture.rows.numpy(), capture, board, grouping)
        histogram_step = int(capture.histogram_step.numpy())
        if histogram_step > getattr(self, "_histogram_logged", -1):
            self._histogram_logged = histogram_step
            board.histograms(
                histogram_step,
                [
                    (_tags.layer_tag(_tags.GRADIENT_HISTOGRAM, g.index, g.path), s.numpy())
                    for g, s in zip(grouping.layers, capture.samples, strict=False)
                ],
            )
        self._check_nonfinite()

    def _log(
        self,
        step: int,
        variable_rows: np.ndarray,
        capture: GradientCapture,
        board: GradientBoard,
        grouping: Grouping,
    ) -> None:
        sizes = [_statistics.variable_size(v) for v in capture.variables]
        rows = _statistics.layer_rows(variable_rows, capture.layer_of_variable, sizes)
        norms = rows[:, _statistics.NORM]
        columns: list[Sequence[float]] = [
            list(norms),
            list(rows[:, _statistics.MEAN_ABS]),
            list(rows[:, _statistics.MAX_ABS]),
            _statistics.flow_ratios(list(norms)),
            _statistics.update_ratios(
                list(rows[:, _statistics.UPDATE_NORM]), list(rows[:, _statistics.WEIGHT_NORM])
            ),
        ]
        if self.per_variable:
            v = variable_rows.astype(np.float64)
            columns += [list(v[:, 0]), list(v[:, 1]), list(v[:, 2])]
            columns.append(_statistics.update_ratios(list(v[:, 3]), list(v[:, 4])))
        optimizer, inner = self._optimizers()
        values = [float(x) for column in columns for x in column]
        values += [_statistics.global_norm(list(norms)), _number(optimizer.learning_rate)]
        if self._momentum_name is not None:
            values.append(_number(getattr(inner, self._momentum_name)))
        board.scalars(step, values)
        self.last_logged_step = step
        names = [g.path.replace("/", ".") for g in grouping.layers]
        rate = _number(optimizer.learning_rate)
        self._report(self._diagnosis().measured(step, names, list(norms), columns[4], rate))

    def _diagnosis(self) -> GradientDiagnosis:
        """The findings' rules and lifecycle for this model (shared with other callbacks)."""
        judge: GradientDiagnosis | None = getattr(self, "_judge", None)
        if judge is None or judge.model is not self.model:
            judge = self._judge = GradientDiagnosis(self.log_dir, self.model, self.thresholds)
        return judge

    def _check_nonfinite(self) -> None:
        capture, grouping = self._capture, self._grouping
        if self._nonfinite_reported or capture is None or grouping is None:
            return
        step = int(capture.nonfinite_step.numpy())
        if step < 0:
            return
        self._nonfinite_reported = True
        index = int(capture.nonfinite_layer.numpy())
        layer = grouping.layers[index].path if 0 <= index < len(grouping.layers) else None
        changed = self._diagnosis().nonfinite(step, layer)
        if self._board is not None:
            self._board.scalar(_tags.NONFINITE_STEP, float(step), step)
        self._report(changed)
        if self.on_nonfinite == "stop":
            self.model.stop_training = True
        elif self.on_nonfinite == "raise":
            self._restore()
            message = next((f.text for f in changed), f"non-finite gradients at step {step}")
            raise NonfiniteGradientsError(message, layer=layer, step=step)

    def _report(self, changed: list[Finding]) -> None:
        """Write the findings that started, reopened or resolved (text, warnings)."""
        self.findings = list(self._diagnosis().findings)
        for finding in changed:
            text = finding.text if finding.current else resolved_text(finding)
            step = finding.last_step if finding.current else finding.resolved_step
            if self._board is not None:
                self._board.text(_tags.FINDINGS, text, int(step or 0))
            if self.warn and finding.current:
                warnings.warn(text, DiagnosticsWarning, stacklevel=2)
