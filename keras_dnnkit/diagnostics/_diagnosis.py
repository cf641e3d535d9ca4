"""From a callback's measurements to findings: the rules, run on windows, fed to the lifecycle.

A :class:`Diagnosis` belongs to one callback and one model. It keeps the recent window of
what its callback measured, runs the rules that fit the model (:mod:`._model_facts`) and
hands their observations to its ``log_dir``'s shared :class:`~._lifecycle.FindingTracker`.
Checks that concern the model rather than one callback's statistics (the recipe, checked
once; symmetric units; overfitting, from the epoch logs) run in whichever callback gets
there first, and the tracker keeps one finding of each.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from keras_dnnkit._numbers import to_array
from keras_dnnkit.diagnostics import _gradient_rules, _recipe, _training_findings
from keras_dnnkit.diagnostics._activation_findings import (
    DEAD_THRESHOLD,
    SATURATED_THRESHOLD,
    LayerActivation,
    dead_advice,
    dead_units,
    saturated_units,
    unnormalized_inputs,
)
from keras_dnnkit.diagnostics._lifecycle import FindingTracker, tracker_for
from keras_dnnkit.diagnostics._model_facts import ModelFacts, model_facts, walk_layers
from keras_dnnkit.diagnostics.findings import Finding, Observation, Problem, Thresholds

NEGATIVE_BIAS = -0.1
"""Dead layers whose mean bias is below this are told their biases are the cause."""

GRADIENT_CHECKS: tuple[Problem, ...] = (
    "vanishing_gradients",
    "exploding_gradients",
    "updates_too_small",
    "updates_too_large",
)


SYMMETRY_EVERY = 10
"""Symmetric units are looked for at a diagnosis' first check and every tenth after, and at
every check while some are found, so that their end shows at once. The check reads every
kernel (5 ms per logging step for a 20-layer MLP, more than the rest of the logging), and
training neither makes units identical nor, when all layers are, sets them apart."""


class Diagnosis:
    """The model-level checks every diagnostics callback runs, and their findings.

    Args:
        log_dir: the run's directory (its findings file, shared with other callbacks).
        model: the model being trained.
        thresholds: the gradient and overfitting thresholds.

    Example:
        >>> import keras, tempfile
        >>> model = keras.Sequential([keras.Input((4,)),
        ...     keras.layers.Dense(8, kernel_initializer="zeros", name="h"),
        ...     keras.layers.Dense(1, name="out")])
        >>> diagnosis = Diagnosis(tempfile.mkdtemp(), model)
        >>> [f.problem for f in diagnosis.check(step=0)]
        ['symmetric_units']
    """

    def __init__(
        self, log_dir: str | os.PathLike[str], model: Any, thresholds: Thresholds | None = None
    ) -> None:
        self.tracker: FindingTracker = tracker_for(log_dir)
        self.model = model
        self.facts: ModelFacts = model_facts(model)
        self.thresholds = thresholds or Thresholds()
        self._checks = 0
        self._symmetric = False

    @property
    def findings(self) -> list[Finding]:
        """Every finding of this run so far (all callbacks'), current and resolved."""
        return self.tracker.findings

    def _model_checks(self) -> tuple[list[Problem], list[Observation]]:
        checked: list[Problem] = []
        found: list[Observation | None] = []
        if self._symmetric or self._checks % SYMMETRY_EVERY == 0:
            symmetric = _recipe.symmetric_units(self.model)
            self._symmetric = symmetric is not None
            checked.append("symmetric_units")
            found.append(symmetric)
        self._checks += 1
        if self.model not in self.tracker.recipe_checked:
            self.tracker.recipe_checked.add(self.model)
            checked.append("recipe")
            found.append(_recipe.recipe(self.model, self.facts))
        return checked, [f for f in found if f is not None]

    def check(
        self,
        step: int,
        checked: Sequence[Problem] = (),
        observations: Sequence[Observation] = (),
        scope: Sequence[str] | None = None,
    ) -> list[Finding]:
        """Add the model checks to a callback's, merge them; return what changed.

        ``scope``: the layers the callback's check covered, where it covered only some.
        """
        model_checked, model_found = self._model_checks()
        suppressed = {
            layer for o in model_found if o.problem == "symmetric_units" for layer in o.layers
        }
        # Identical units are dead or saturated because they are identical: one finding, the cause.
        observations = [
            o
            for o in observations
            if o.problem not in ("dead_units", "saturated_units") or not set(o.layers) <= suppressed
        ]
        if scope is None:
            return self.tracker.observe(
                step, [*checked, *model_checked], [*observations, *model_found]
            )
        # The model checks judged the whole model: only the callback's own are scoped.
        return [
            *self.tracker.observe(step, checked, observations, scope),
            *self.tracker.observe(step, model_checked, model_found),
        ]

    def epoch_end(self, step: int, logs: Mapping[str, Any] | None) -> list[Finding]:
        """Judge overfitting from the epoch logs (each epoch counted once per run)."""
        losses = _training_findings.epoch_losses(logs)
        if losses is None:
            return []
        self.tracker.epoch_losses[step] = losses
        epochs = [self.tracker.epoch_losses[s] for s in sorted(self.tracker.epoch_losses)]
        found = _training_findings.overfitting(
            epochs, self.thresholds.overfitting_patience, self.facts
        )
        return self.tracker.observe(step, ["overfitting"], [found] if found else [])


class GradientDiagnosis(Diagnosis):
    """What ``GradientDiagnostics`` measures, judged: gradient flow, update sizes, NaN/Inf.

    Example:
        >>> import keras, tempfile
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="h"),
        ...                           keras.layers.Dense(1, name="out")])
        >>> diagnosis = GradientDiagnosis(tempfile.mkdtemp(), model, Thresholds(window=2))
        >>> for step in (10, 20):
        ...     _ = diagnosis.measured(step, ["h", "out"], [1e-6, 1.0], [1e-3, 1e-3], 0.01)
        >>> [(f.problem, f.layers, f.first_step, f.last_step) for f in diagnosis.findings]
        [('vanishing_gradients', ('h',), 10, 20)]
    """

    def __init__(
        self, log_dir: str | os.PathLike[str], model: Any, thresholds: Thresholds | None = None
    ) -> None:
        super().__init__(log_dir, model, thresholds)
        self._norms: dict[str, deque[float]] = {}
        self._ratios: dict[str, deque[float]] = {}
        self._rates: list[float] = []

    def _window(self, store: dict[str, deque[float]], name: str) -> deque[float]:
        if name not in store:
            store[name] = deque(maxlen=self.thresholds.window)
        return store[name]

    def measured(
        self,
        step: int,
        layers: Sequence[str],
        norms: Sequence[float],
        update_ratios: Sequence[float],
        learning_rate: float,
        scoped: bool = False,
    ) -> list[Finding]:
        """Take one logged step's per-layer gradient norms and update ratios; return changes.

        Layers come input to output, named as their TensorBoard tags spell them. ``scoped``:
        these are the layers of one of several optimizers (a GAN's), judged by a diagnosis of
        their own: findings on the others' layers are left to theirs, and a finding on all
        of them (a global norm) is placed on these layers.
        """
        for name, norm, ratio in zip(layers, norms, update_ratios, strict=True):
            self._window(self._norms, name).append(float(norm))
            self._window(self._ratios, name).append(float(ratio))
        self._rates.append(float(learning_rate))
        found = _gradient_rules.gradient_observations(
            list(layers),
            [list(self._norms[n]) for n in layers],
            [list(self._ratios[n]) for n in layers],
            self._rates,
            self.thresholds,
            self.facts,
        )
        if not scoped:
            return self.check(step, GRADIENT_CHECKS, found)
        found = [o if o.layers else replace(o, layers=tuple(layers)) for o in found]
        return self.check(step, GRADIENT_CHECKS, found, scope=layers)

    def nonfinite(self, step: int, layer: str | None) -> list[Finding]:
        """Record the first step with NaN/Inf gradients; return the finding if it is new."""
        observation = _gradient_rules.nonfinite(layer, step, self.facts)
        return self.tracker.observe(step, ["nonfinite_gradients"], [observation])


def resolved_text(finding: Finding) -> str:
    """The text a callback logs when a finding resolves.

    Example:
        >>> finding = Finding("dead_units", ("d",), 0, 100, "dead units: ...", "", "resolved", 200)
        >>> resolved_text(finding)
        'resolved at step 200 (held from step 0 to 100): dead units: ...'
    """
    return (
        f"resolved at step {finding.resolved_step} (held from step {finding.first_step} to "
        f"{finding.last_step}): {finding.message}"
    )


ACTIVATION_CHECKS: tuple[Problem, ...] = ("dead_units", "saturated_units", "unnormalized_inputs")


class ActivationDiagnosis(Diagnosis):
    """What ``ActivationDiagnostics`` measures, judged: dead, saturated units, input scale.

    Dead and saturated fractions are summarized by their median over the last ``window``
    probes.

    Example:
        >>> import keras, tempfile
        >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="h"),
        ...                           keras.layers.Dense(1, name="out")])
        >>> diagnosis = ActivationDiagnosis(tempfile.mkdtemp(), model)
        >>> dead = [LayerActivation("h", 1.0, None, "relu")]
        >>> [f.problem for f in diagnosis.measured(0, dead)]
        ['dead_units']
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        model: Any,
        thresholds: Thresholds | None = None,
        *,
        dead_threshold: float = DEAD_THRESHOLD,
        saturated_threshold: float = SATURATED_THRESHOLD,
        window: int = 3,
    ) -> None:
        super().__init__(log_dir, model, thresholds)
        self.dead_threshold = dead_threshold
        self.saturated_threshold = saturated_threshold
        self.window = window
        self._dead: dict[str, deque[float]] = {}
        self._saturated: dict[str, deque[float]] = {}
        self._layers = dict(walk_layers(model))

    def _median(
        self, store: dict[str, deque[float]], name: str, value: float | None
    ) -> float | None:
        if value is None:
            return None
        history = store.setdefault(name, deque(maxlen=self.window))
        history.append(float(value))
        return float(np.median(history))

    def _negative_bias(self, layers: Sequence[str]) -> float | None:
        biases = []
        for name in layers:
            bias = getattr(self._layers.get(name), "bias", None)
            if bias is not None:
                biases.append(to_array(bias).ravel())
        if not biases:
            return None
        mean = float(np.mean(np.concatenate(biases)))
        return mean if mean < NEGATIVE_BIAS else None

    def measured(
        self,
        step: int,
        layers: Sequence[LayerActivation],
        first_inputs: tuple[str, np.ndarray] | None = None,
    ) -> list[Finding]:
        """Take one probe's per-layer statistics (and the first layer's inputs); return changes."""
        summary = [
            LayerActivation(
                layer.name,
                self._median(self._dead, layer.name, layer.dead_fraction),
                self._median(self._saturated, layer.name, layer.saturated_fraction),
                layer.family,
                layer.floor,
            )
            for layer in layers
        ]
        found: list[Observation | None] = []
        dead = dead_units(summary, self.dead_threshold)
        if dead is not None:
            advice = dead_advice(self.facts, self._negative_bias(dead.layers))
            found.append(replace(dead, advice=advice))
        found.append(saturated_units(summary, self.facts, self.saturated_threshold))
        if first_inputs is not None:
            found.append(unnormalized_inputs(first_inputs[0], first_inputs[1], self.facts))
        return self.check(step, ACTIVATION_CHECKS, [f for f in found if f is not None])
