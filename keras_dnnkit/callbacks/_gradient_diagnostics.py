"""GradientDiagnostics: per-layer gradient statistics in TensorBoard, measured in the train step."""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any, Literal

import keras
import numpy as np

from keras_dnnkit._compat import version_tuple
from keras_dnnkit._numbers import to_float
from keras_dnnkit._validation import check_choice, check_log_dir
from keras_dnnkit.callbacks._momentum_scheduler import current_momentum, momentum_attribute
from keras_dnnkit.diagnostics import _statistics, _tags
from keras_dnnkit.diagnostics._capture import GradientCapture, GradientProgram
from keras_dnnkit.diagnostics._diagnosis import GradientDiagnosis, resolved_text
from keras_dnnkit.diagnostics._references import reference_layers
from keras_dnnkit.diagnostics._tensorboard import (
    FROZEN_LAYERS,
    GradientBoard,
    scalar_tags,
)
from keras_dnnkit.diagnostics.findings import Finding, Thresholds
from keras_dnnkit.errors import NonfiniteGradientsError
from keras_dnnkit.training import Priority, StepOwner, StepProgram

_CHECKED_DISTRIBUTED_ON = (3, 15)  # tf.distribute statistics equal one device's (tested)

OnNonfinite = Literal["warn", "stop", "raise"]
ON_NONFINITE: tuple[OnNonfinite, ...] = ("warn", "stop", "raise")


class DiagnosticsWarning(UserWarning):
    """A problem found by keras-dnnkit's training diagnostics.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("error", DiagnosticsWarning)  # fail a CI run on findings
        ...     warnings.warn("vanishing gradients in hidden_00", DiagnosticsWarning)
        Traceback (most recent call last):
        ...
        keras_dnnkit.callbacks._gradient_diagnostics.DiagnosticsWarning: vanishing gradients in hidden_00
    """  # noqa: E501 -- a doctest's expected output is one line


def _check_steps(name: str, value: Any, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"Argument {name} must be an integer >= {low}. Received: {name}={value!r}")


def _holds_multiple(first: int, last: int, every: int) -> bool:
    """Whether one of the steps ``first`` to ``last`` is a multiple of ``every``."""
    return last // every >= -(-first // every)


def _thresholds(value: Any) -> Thresholds:
    if value is None:
        return Thresholds()
    if isinstance(value, Thresholds):
        return value
    if isinstance(value, Mapping):
        allowed = [f.name for f in fields(Thresholds)]
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise ValueError(
                f"Argument thresholds has unknown keys {unknown}; allowed: {allowed}. "
                f"Received: thresholds={dict(value)!r}"
            )
        return Thresholds(**value)
    raise TypeError(
        "Argument thresholds must be a keras_dnnkit.diagnostics.Thresholds, a dict of its "
        f"fields, or None. Received: thresholds={value!r}"
    )


class GradientDiagnostics(keras.callbacks.Callback):
    """Log per-layer gradient statistics to TensorBoard and explain what looks wrong.

    The gradients are the ones the optimizer applies, observed inside the compiled train
    step (unscaled under mixed precision, before clipping, all-reduced under
    ``tf.distribute``): no extra forward or backward pass. They are reduced on the device
    and fetched only every ``every_n_steps`` steps. TensorBoard steps are the optimizer's
    iteration count, so a resumed run continues its curves. Any model ``fit`` trains works:
    Sequential, functional, subclassed (built or not), a custom ``train_step`` that calls
    ``optimizer.apply``/``apply_gradients``, and models that own several optimizers (a GAN's
    ``d_optimizer`` and ``g_optimizer``: each is observed; extra ones' global norm, rate and
    momentum tags end in ``/<attribute name>``; each one's layers are judged apart). Layers
    are ordered by the order the step calls them. The gradient flow of a layer is its norm
    over the *reference* norm: the largest among the layers nearest the loss (for a
    functional model, the last layer with a weight matrix before each output; otherwise the
    last called layer with a weight matrix).

    The update-to-weight ratio needs the weights before a logging step's update: they are
    copied into one float32 variable the callback owns. Steps that log nothing run a lean
    train step: one scalar NaN/Inf test; which gradient was not finite is worked out in an
    ``If`` op that runs on such steps alone (with ``"stop"``/``"raise"`` another one skips
    the update). The steps are traced once and reused by later
    ``fit`` calls with the same configuration. Under a ``LossScaleOptimizer``, and with
    several optimizers, every step is the measuring one. Requires the TensorFlow backend.

    Written per logged step, per layer: ``gradients/norm``, ``gradients/mean_abs``,
    ``gradients/max_abs``, ``gradients/flow`` and ``updates/ratio`` (||delta w|| / ||w||);
    plus ``gradients/global_norm``, ``optimizer/learning_rate`` and ``optimizer/momentum``
    (the momentum or beta_1 in use, scheduled or not). Also gradient histograms, a
    custom-scalars layout, and findings (vanishing or exploding gradients, NaN/Inf, updates
    too small or too large for their weights, symmetric units, the model's recipe, overfitting
    from the epoch logs): one per problem and place, current until the window no longer shows
    it, then resolved; kept in ``<log_dir>/dnnkit_findings.json`` (shared with
    ``ActivationDiagnostics``), as text (tag ``findings``) when they start, reopen or
    resolve, and as :class:`DiagnosticsWarning` when they start.

    Args:
        log_dir: where to write the event files (created now if missing).
        every_n_steps: measure and log every this many steps.
        histogram_every_n_steps: write gradient histograms every this many steps (a
            multiple of ``every_n_steps``; 0 for none). Default ``10 * every_n_steps``.
        on_nonfinite: what to do when a gradient holds NaN or Inf: ``"warn"``; ``"stop"``
            (skip that update and end training at the end of the batch); ``"raise"`` (skip
            it and raise :class:`~keras_dnnkit.errors.NonfiniteGradientsError`).
        thresholds: when gradients count as vanishing or exploding, updates as too small or
            too large, and the epoch logs as overfitting (a ``Thresholds`` or a dict of its
            fields).
        per_variable: also log every variable's statistics (``gradients/norm/per_variable``...).
        histogram_sample_size: gradient values per layer kept for a histogram.
        warn: also issue findings as Python warnings.

    Attributes:
        findings: every :class:`~keras_dnnkit.diagnostics.Finding` of the run so far,
            current and resolved (those of other callbacks on the same ``log_dir`` too).

    Example:
        >>> import keras, numpy as np, tempfile
        >>> model = keras.Sequential(
        ...     [keras.layers.Dense(4, name="hidden"), keras.layers.Dense(1, name="out")])
        >>> model.compile("sgd", "mse")
        >>> diagnostics = GradientDiagnostics(tempfile.mkdtemp(), every_n_steps=2)
        >>> _ = model.fit(np.ones((8, 4)), np.ones(8), batch_size=2, verbose=0,
        ...               callbacks=[diagnostics])
        >>> diagnostics.last_logged_step, diagnostics.layers
        (4, ['hidden', 'out'])
    """

    priority = Priority.STATISTICS

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        every_n_steps: int = 100,
        histogram_every_n_steps: int | None = None,
        on_nonfinite: OnNonfinite = "warn",
        thresholds: Thresholds | Mapping[str, Any] | None = None,
        per_variable: bool = False,
        histogram_sample_size: int = 1000,
        warn: bool = True,
    ) -> None:
        super().__init__()
        self.log_dir = check_log_dir("log_dir", log_dir)
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
        _check_steps("histogram_sample_size", histogram_sample_size)
        for name, flag in (("per_variable", per_variable), ("warn", warn)):
            if not isinstance(flag, bool):
                raise TypeError(f"Argument {name} must be True or False. Received: {name}={flag!r}")
        self.every_n_steps = every_n_steps
        self.histogram_every_n_steps = histogram_every_n_steps
        self.on_nonfinite = on_nonfinite
        self.thresholds = _thresholds(thresholds)
        self.per_variable = per_variable
        self.histogram_sample_size = histogram_sample_size
        self.warn = warn
        self.findings: list[Finding] = []
        self.last_logged_step = -1
        self.layers: list[str] = []  # measured layers, in call order, once training started
        self._owner: StepOwner | None = None
        self._program: GradientProgram | None = None
        self._boards: dict[str, GradientBoard] = {}
        self._references: dict[str, list[int]] = {}
        self._judges: dict[str, GradientDiagnosis] = {}  # per optimizer name
        self._logged: dict[str, int] = {}
        self._nonfinite_reported: set[str] = set()
        self._histogram_logged: dict[str, int] = {}
        self._host_step = 0
        self._epoch_start = 0
        self._warned_unobserved = False

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
        return cls(**config)

    # ------------------------------------------------------------------ step hook
    def trace_key(self) -> Hashable:
        """What changes the traced step (equal keys share one)."""
        return (
            self.every_n_steps,
            self.histogram_every_n_steps,
            self.on_nonfinite != "warn",
            self.histogram_sample_size,
            self._steps_per_execution(),
        )

    def make_program(self) -> StepProgram:
        """The in-step half: gradient statistics per updating optimizer."""
        return GradientProgram(
            self.model,
            every_n_steps=self.every_n_steps,
            histogram_every_n_steps=self.histogram_every_n_steps,
            skip_nonfinite=self.on_nonfinite != "warn",
            sample_size=self.histogram_sample_size,
            steps_per_execution=self._steps_per_execution(),
        )

    def bind(self, program: StepProgram) -> None:
        """Use ``program`` (new, or cached from an earlier ``fit``) for this ``fit``."""
        assert isinstance(program, GradientProgram)
        self._program = program
        # Rows a cached program holds from an earlier fit are not this fit's to log.
        self._logged, self._histogram_logged = {}, {}
        for name, capture in program.captures.items():
            self._logged[name] = int(capture.steps().max())
            self._histogram_logged[name] = int(capture.histogram_step.numpy())
            capture.nonfinite_step.assign(-1)  # a non-finite step of this fit is reported
            capture.nonfinite_layer.assign(-1)
        self._nonfinite_reported = set()

    def needs_measuring(self, first_step: int, last_step: int) -> bool:
        """Whether steps ``first_step..last_step`` hold a logging step (or always, see class)."""
        optimizer = getattr(self.model, "optimizer", None)
        program = self._program
        if optimizer is not None and hasattr(optimizer, "inner_optimizer"):
            return True  # a LossScaleOptimizer drops overflow steps uncounted
        if program is not None and len(program.captures) > 1:
            return True  # optimizers of their own do not follow the host's count
        return _holds_multiple(first_step, last_step, self.every_n_steps)

    def _steps_per_execution(self) -> int:
        return max(1, int(getattr(self.model, "steps_per_execution", 1) or 1))

    # ------------------------------------------------------------------ training
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Attach to the model's step owner; the capture is made when the step is traced."""
        if getattr(self.model, "optimizer", None) is None:
            raise ValueError("GradientDiagnostics needs a compiled model (model.optimizer).")
        self._close_boards()
        replicas = int(getattr(self.model.distribute_strategy, "num_replicas_in_sync", 1))
        if replicas > 1 and version_tuple(keras.version()) < _CHECKED_DISTRIBUTED_ON:
            warnings.warn(
                f"GradientDiagnostics' statistics under a {replicas}-replica strategy were "
                "checked against one device on Keras 3.15.1; on Keras 3.5.0 they differ (about "
                f"2x). Installed: Keras {keras.version()}. Upgrade Keras for trustworthy "
                "numbers under tf.distribute.",
                DiagnosticsWarning,
                stacklevel=2,
            )
        self._owner = StepOwner.of(self.model)
        self._owner.attach(self)
        self._epoch_start = self._host_step = self._clock()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Note the step the epoch starts at; findings may be reported again."""
        # The host's count can be off at an epoch's end (steps_per_execution > 1: Keras
        # reports a short last execution as a full one): start each epoch from the truth.
        self._epoch_start = self._host_step = self._clock()
        if self._owner is not None:
            self._owner.host_step = self._epoch_start

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
        self._report(self._diagnosis().epoch_end(self._clock(), logs))
        for board in self._boards.values():
            board.flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Write what is pending, then give the optimizer and the train step back."""
        try:
            self._fetch()
        finally:
            self._restore()

    def _restore(self) -> None:
        if self._owner is not None:
            self._owner.detach(self)
        self._owner = None
        self._close_boards()

    def _close_boards(self) -> None:
        for board in self._boards.values():
            board.close()
        self._boards = {}

    def _clock(self) -> int:
        """The step number: the iterations of the first optimizer that updates."""
        program = self._program
        if program is not None and program.captures:
            first = next(iter(program.captures.values()))
            optimizer = first.optimizer
            if optimizer is not None:
                return int(to_float(optimizer.iterations))
        return int(to_float(self.model.optimizer.iterations))

    # ------------------------------------------------------------------ host side
    def _board(self, capture: GradientCapture) -> GradientBoard:
        board = self._boards.get(capture.name)
        if board is not None:
            return board
        first = not self._boards
        before = self._captures_before(capture)
        variable_offset = sum(len(c.variables) for c in before)
        paths = [g.path for g in capture.grouping.layers]
        names = [f"{g.path}/{n}" for g in capture.grouping.layers for n in g.variable_names]
        variable_paths = [(variable_offset + i, name) for i, name in enumerate(names)]
        optimizer = capture.optimizer
        tags = scalar_tags(
            paths,
            variable_paths if self.per_variable else None,
            momentum=_momentum_attribute(optimizer) is not None,
        )
        if not first:  # per-optimizer tags get the optimizer's name
            tags = [t if _tags.parse_layer_tag(t) else f"{t}/{capture.name}" for t in tags]
        board = self._boards[capture.name] = GradientBoard(self.log_dir, tags)
        # The layers the gradient flow is relative to: fixed for the capture's grouping.
        self._references[capture.name] = reference_layers(self.model, capture.grouping)
        if first:
            board.layout()
        frozen = capture.grouping.frozen
        if frozen and first:
            board.text(FROZEN_LAYERS, "frozen layers, not measured: " + ", ".join(frozen), 0)
        self.layers = [g.path for c in self._all_captures() for g in c.grouping.layers]
        return board

    def _all_captures(self) -> list[GradientCapture]:
        return [] if self._program is None else list(self._program.captures.values())

    def _captures_before(self, capture: GradientCapture) -> list[GradientCapture]:
        captures = self._all_captures()
        return captures[: captures.index(capture)]

    def _fetch(self) -> None:
        program = self._program
        if program is None:
            return
        if not program.captures:
            self._warn_unobserved()
            return
        for capture in self._all_captures():
            board = self._board(capture)
            steps = capture.steps()
            rows = None
            for slot in np.argsort(steps):
                step = int(steps[slot])
                if step > self._logged.get(capture.name, -1):
                    rows = capture.rows.numpy() if rows is None else rows
                    self._log(step, rows[slot], capture, board)
                    self._logged[capture.name] = step
            histogram_step = int(capture.histogram_step.numpy())
            if histogram_step > self._histogram_logged.get(capture.name, -1):
                self._histogram_logged[capture.name] = histogram_step
                board.histograms(
                    histogram_step,
                    [
                        (_tags.layer_tag(_tags.GRADIENT_HISTOGRAM, g.index, g.path), s.numpy())
                        for g, s in zip(capture.grouping.layers, capture.samples, strict=False)
                    ],
                )
        self._check_nonfinite()

    def _warn_unobserved(self) -> None:
        if self._warned_unobserved or self._host_step <= self._epoch_start:
            return
        self._warned_unobserved = True
        names = [
            n
            for n in vars(self.model)
            if isinstance(getattr(self.model, n, None), keras.optimizers.Optimizer)
        ]
        warnings.warn(
            "GradientDiagnostics saw no optimizer update in the train step, so it measures "
            "nothing. It observes the optimizers the model holds as attributes "
            f"({', '.join(names) or 'none'}) when they update with optimizer.apply or "
            "apply_gradients; a train_step that updates weights otherwise (variable.assign, "
            "an optimizer kept outside the model) cannot be observed.",
            DiagnosticsWarning,
            stacklevel=2,
        )

    def _log(
        self,
        step: int,
        variable_rows: np.ndarray,
        capture: GradientCapture,
        board: GradientBoard,
    ) -> None:
        grouping = capture.grouping
        sizes = [_statistics.variable_size(v) for v in capture.variables]
        rows = _statistics.layer_rows(variable_rows, capture.layer_of_variable, sizes)
        norms = [float(n) for n in rows[:, _statistics.NORM]]
        references = self._references[capture.name]
        reference = max(references, key=lambda i: norms[i] if np.isfinite(norms[i]) else -1.0)
        flow = _statistics.flow_ratios(norms, reference)
        columns: list[Sequence[float]] = [
            norms,
            list(rows[:, _statistics.MEAN_ABS]),
            list(rows[:, _statistics.MAX_ABS]),
            flow,
            _statistics.update_ratios(
                list(rows[:, _statistics.UPDATE_NORM]), list(rows[:, _statistics.WEIGHT_NORM])
            ),
        ]
        if self.per_variable:
            v = variable_rows.astype(np.float64)
            columns += [list(v[:, 0]), list(v[:, 1]), list(v[:, 2])]
            columns.append(_statistics.update_ratios(list(v[:, 3]), list(v[:, 4])))
        optimizer = capture.optimizer
        rate = to_float(optimizer.learning_rate)
        values = [float(x) for column in columns for x in column]
        values += [_statistics.global_norm(norms), rate]
        if _momentum_attribute(optimizer) is not None:
            values.append(_momentum(optimizer, step))
        board.scalars(step, values)
        self.last_logged_step = max(self.last_logged_step, step)
        # The rules judge each layer against the reference: it goes last.
        order = [g.index for g in grouping.layers if g.index != reference] + [reference]
        names = [grouping.layers[i].path.replace("/", ".") for i in order]
        ratios = columns[4]
        self._report(
            self._diagnosis(capture.name).measured(
                step,
                names,
                [norms[i] for i in order],
                [ratios[i] for i in order],
                rate,
                scoped=len(self._all_captures()) > 1,
            )
        )

    def _diagnosis(self, optimizer: str = "optimizer") -> GradientDiagnosis:
        """The findings' rules and lifecycle for this model (shared with other callbacks).

        One per optimizer the model trains with (its windows and rates are its own); all of
        them share the ``log_dir``'s findings.
        """
        judge = self._judges.get(optimizer)
        if judge is None or judge.model is not self.model:
            judge = self._judges[optimizer] = GradientDiagnosis(
                self.log_dir, self.model, self.thresholds
            )
        return judge

    def _check_nonfinite(self) -> None:
        for capture in self._all_captures():
            if capture.name in self._nonfinite_reported:
                continue
            step = int(capture.nonfinite_step.numpy())
            if step < 0:
                continue
            self._nonfinite_reported.add(capture.name)
            index = int(capture.nonfinite_layer.numpy())
            layers = capture.grouping.layers
            layer = layers[index].path if 0 <= index < len(layers) else None
            changed = self._diagnosis().nonfinite(step, layer)
            self._board(capture).scalar(_tags.NONFINITE_STEP, float(step), step)
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
        board = next(iter(self._boards.values()), None)
        for finding in changed:
            text = finding.text if finding.current else resolved_text(finding)
            step = finding.last_step if finding.current else finding.resolved_step
            if board is not None:
                board.text(_tags.FINDINGS, text, int(step or 0))
            if self.warn and finding.current:
                warnings.warn(text, DiagnosticsWarning, stacklevel=2)


def _momentum_attribute(optimizer: Any) -> str | None:
    return None if optimizer is None else momentum_attribute(optimizer)


def _momentum(optimizer: Any, step: int) -> float:
    """The momentum used by the update that made ``step`` (scheduled or configured)."""
    value = current_momentum(optimizer, step - 1)
    return float("nan") if value is None else value
