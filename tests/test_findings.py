"""Findings without training: the lifecycle, the findings file, rules and advice that fit."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_dnnkit.diagnostics import Thresholds, read_findings
from keras_dnnkit.diagnostics._activation_findings import unnormalized_inputs
from keras_dnnkit.diagnostics._diagnosis import GradientDiagnosis
from keras_dnnkit.diagnostics._findings_file import FORMAT, findings_path, write_findings
from keras_dnnkit.diagnostics._gradient_rules import gradient_observations, nonfinite
from keras_dnnkit.diagnostics._lifecycle import FindingTracker
from keras_dnnkit.diagnostics._model_facts import ModelFacts, model_facts
from keras_dnnkit.diagnostics._recipe import recipe, symmetric_units
from keras_dnnkit.diagnostics._training_findings import overfitting
from keras_dnnkit.diagnostics.findings import Finding, Observation

NAMES = ["hidden_0", "hidden_1", "hidden_2", "output"]


def _observe(problem: str, *layers: str) -> Observation:
    return Observation(problem, layers, f"{problem}: at {layers}", "Try ...")  # type: ignore[arg-type]


# ---------------------------------------------------------------- lifecycle
def test_one_finding_per_problem_and_place_with_first_and_last_step() -> None:
    tracker = FindingTracker(None)
    checked = ["dead_units"]
    tracker.observe(0, checked, [_observe("dead_units", "d1", "d2")])
    tracker.observe(100, checked, [_observe("dead_units", "d2", "d3")])  # overlaps: same place
    tracker.observe(
        200, checked, [_observe("dead_units", "d2", "d3"), _observe("dead_units", "d9")]
    )
    findings = tracker.findings
    assert [(f.layers, f.first_step, f.last_step) for f in findings] == [
        (("d2", "d3"), 0, 200),
        (("d9",), 200, 200),
    ]


def test_resolved_when_no_longer_observed_and_reopened_when_back() -> None:
    tracker = FindingTracker(None)
    tracker.observe(0, ["dead_units", "saturated_units"], [_observe("dead_units", "d1")])
    # A check of other problems does not resolve it.
    assert tracker.observe(50, ["vanishing_gradients"], []) == []
    changed = tracker.observe(100, ["dead_units"], [])
    assert [(f.status, f.resolved_step, f.last_step) for f in changed] == [("resolved", 100, 0)]
    assert tracker.current == []
    reopened = tracker.observe(300, ["dead_units"], [_observe("dead_units", "d1")])
    assert [(f.status, f.first_step, f.last_step, f.resolved_step) for f in reopened] == [
        ("current", 0, 300, None)
    ]
    assert len(tracker.findings) == 1


def test_nonfinite_silences_gradient_rules_and_never_resolves() -> None:
    tracker = FindingTracker(None)
    tracker.observe(40, ["exploding_gradients"], [_observe("exploding_gradients")])
    tracker.observe(63, ["nonfinite_gradients"], [nonfinite("rnn", 63, ModelFacts())])
    # Norms after the NaN (zeros, NaN) must not say "vanishing", nor resolve anything.
    changed = tracker.observe(
        80, ["vanishing_gradients", "exploding_gradients"], [_observe("vanishing_gradients", "rnn")]
    )
    assert changed == []
    assert {f.problem for f in tracker.current} == {"exploding_gradients", "nonfinite_gradients"}
    assert tracker.observe(500, ["nonfinite_gradients"], []) == []


def test_gradient_rules_never_judge_non_finite_or_zero_reference_norms() -> None:
    nan = float("nan")
    norms = [[1e-9], [nan], [1e-9], [1.0]]
    ratios = [[1e-3]] * 4
    assert gradient_observations(NAMES, norms, ratios, [0.01], Thresholds(), ModelFacts()) == []
    zeros = [[0.0], [0.0], [0.0], [0.0]]
    assert gradient_observations(NAMES, zeros, ratios, [0.01], Thresholds(), ModelFacts()) == []


def test_findings_file_is_the_contract_and_writers_merge(tmp_path: Path) -> None:
    gradients, activations = FindingTracker(tmp_path), FindingTracker(tmp_path)
    gradients.observe(100, ["vanishing_gradients"], [_observe("vanishing_gradients", "hidden_0")])
    activations.observe(0, ["dead_units"], [_observe("dead_units", "hidden_1")])
    document = json.loads(Path(findings_path(tmp_path)).read_text())
    assert (document["format"], document["version"]) == (FORMAT, 1)
    assert [f["problem"] for f in document["findings"]] == ["dead_units", "vanishing_gradients"]
    assert list(document["findings"][0]) == [
        "problem",
        "layers",
        "first_step",
        "last_step",
        "status",
        "resolved_step",
        "message",
        "advice",
    ]
    gradients.observe(200, ["vanishing_gradients"], [])  # resolves; keeps the other's finding
    statuses = {f["problem"]: f["status"] for f in read_findings(tmp_path)}
    assert statuses == {"dead_units": "current", "vanishing_gradients": "resolved"}
    assert list(tmp_path.iterdir()) == [Path(findings_path(tmp_path))]  # no temporary left
    resumed = FindingTracker(tmp_path)  # a resumed run continues the findings
    assert [f.problem for f in resumed.current] == ["dead_units"]


def test_concurrent_writers_leave_a_whole_file(tmp_path: Path) -> None:
    base = {"layers": [], "last_step": 0, "status": "current", "resolved_step": None}

    def write(problem: str) -> None:
        for step in range(30):
            finding = {**base, "problem": problem, "first_step": step, "message": "", "advice": ""}
            write_findings(tmp_path, [finding])

    threads = [threading.Thread(target=write, args=(p,)) for p in ("dead_units", "overfitting")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(read_findings(tmp_path)) == 60  # the writers merged, one after the other


def test_a_foreign_file_is_refused_by_name(tmp_path: Path) -> None:
    Path(findings_path(tmp_path)).write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="is not a keras-dnnkit findings file"):
        read_findings(tmp_path)


def test_finding_round_trip_and_thresholds_checked() -> None:
    finding = Finding("overfitting", (), 10, 20, "overfitting: ...", "Try ...", "resolved", 30)
    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))) == finding
    with pytest.raises(ValueError, match="update_ratio_low must be below update_ratio_high"):
        Thresholds(update_ratio_low=1.0, update_ratio_high=0.5)
    with pytest.raises(
        ValueError, match="Argument window must be an int >= 1. Received: window=2.0"
    ):
        Thresholds(window=2.0)  # type: ignore[arg-type]


# ---------------------------------------------------------------- advice that fits the model
def _rnn(clipnorm: float | None) -> keras.Model:
    model = keras.Sequential(
        [keras.Input((5, 3)), keras.layers.SimpleRNN(4, name="rnn"), keras.layers.Dense(2)]
    )
    model.compile(keras.optimizers.SGD(0.1, clipnorm=clipnorm), "mse")
    return model


def test_recurrent_and_clipping_advice() -> None:
    facts = model_facts(_rnn(clipnorm=1.0))
    norms = [[1e-7] * 5, [1.0] * 5]
    ratios = [[1e-3] * 5] * 2
    (vanishing,) = gradient_observations(
        ["rnn", "dense"], norms, ratios, [0.1] * 5, Thresholds(), facts
    )
    assert "gated cells (LSTM or GRU)" in vanishing.advice
    assert (
        "He initialization" not in vanishing.advice
        and "batch normalization" not in vanishing.advice
    )
    exploding = gradient_observations(
        ["rnn", "dense"], [[1e5] * 5, [1.0] * 5], ratios, [0.1] * 5, Thresholds(), facts
    )[0]
    assert "already clips (clipnorm=1)" in exploding.advice and "clipnorm=0.1" in exploding.advice
    assert "clipnorm=1.0" in nonfinite(None, 3, model_facts(_rnn(None))).advice
    assert "already clips" in nonfinite(None, 3, facts).advice


def test_batch_norm_models_are_not_told_to_add_it() -> None:
    facts = ModelFacts(batch_norm=True)
    norms = [[1e-7] * 5, [1e-7] * 5, [1e-6] * 5, [1.0] * 5]
    observations = gradient_observations(
        NAMES, norms, [[1e-3] * 5] * 4, [0.1] * 5, Thresholds(), facts
    )
    assert [o.problem for o in observations] == ["vanishing_gradients"]
    assert "batch normalization" not in observations[0].advice
    assert (
        "batch normalization"
        in gradient_observations(
            NAMES, norms, [[1e-3] * 5] * 4, [0.1] * 5, Thresholds(), ModelFacts()
        )[0].advice
    )


def test_updates_too_small_not_judged_while_a_schedule_anneals() -> None:
    ratios = [[1e-7] * 5] * 4
    norms = [[1.0] * 5] * 4
    rates = [3e-3, 3e-3, 1e-4, 1e-6, 1e-7]  # 1cycle's end
    facts = ModelFacts(schedule=True)
    assert gradient_observations(NAMES, norms, ratios, rates, Thresholds(), facts) == []
    (small,) = gradient_observations(NAMES, norms, ratios, [1e-7] * 5, Thresholds(), facts)
    assert small.problem == "updates_too_small" and "schedule" in small.advice
    large = gradient_observations(NAMES, norms, [[0.9] * 5] * 4, [1.0] * 5, Thresholds(), facts)
    assert [o.problem for o in large] == ["updates_too_large"]
    short = [[1e-7] * 3] * 4  # not sustained over a full window yet
    assert gradient_observations(NAMES, norms, short, [1e-7] * 3, Thresholds(), facts) == []


def test_a_scoped_check_resolves_only_findings_on_its_own_layers() -> None:
    tracker = FindingTracker(None)
    checked = ["vanishing_gradients"]
    changed = []
    for step in (10, 20, 30):
        # The discriminator's check comes first at each step and finds nothing.
        changed += tracker.observe(step, checked, [], scope=("d_h", "d_out"))
        changed += tracker.observe(
            step, checked, [_observe("vanishing_gradients", "g_h")], scope=("g_h", "g_out")
        )
    assert [(f.status, f.first_step, f.last_step) for f in tracker.findings] == [
        ("current", 10, 30)
    ]
    assert len(changed) == 1  # started once, never resolved and reopened
    tracker.observe(40, checked, [], scope=("g_h", "g_out"))
    assert tracker.findings[0].status == "resolved"


def test_two_optimizers_are_judged_apart_and_never_resolve_each_other(tmp_path: Path) -> None:
    """A GAN: each optimizer's layers, windows and rates are its own; findings are shared."""
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    generator = GradientDiagnosis(tmp_path, model, Thresholds(window=2))
    discriminator = GradientDiagnosis(tmp_path, model, Thresholds(window=2))
    changed = []
    for step in (10, 20, 30, 40):
        changed += discriminator.measured(
            step, ["d_h", "d_out"], [1.0, 1.0], [1e-3, 1e-3], 0.1, scoped=True
        )
        changed += generator.measured(
            step, ["g_h", "g_out"], [1e-6, 1.0], [1e-3, 1e-3], 1e-4, scoped=True
        )
    vanishing = [f for f in generator.findings if f.problem == "vanishing_gradients"]
    assert [(f.layers, f.status, f.first_step, f.last_step) for f in vanishing] == [
        (("g_h",), "current", 10, 40)
    ]
    assert [f.status for f in changed if f.problem == "vanishing_gradients"] == ["current"]
    # A finding on all of one optimizer's layers (the global norm) is placed on them.
    exploding = discriminator.measured(
        50, ["d_h", "d_out"], [1e5, 1e5], [1e-3, 1e-3], 0.1, scoped=True
    )
    assert [(f.problem, f.layers) for f in exploding] == [("exploding_gradients", ("d_h", "d_out"))]


def test_a_scoped_check_still_resolves_the_model_checks_findings(tmp_path: Path) -> None:
    """Symmetric units are judged over the whole model, whichever optimizer's check runs."""
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, kernel_initializer="zeros", name="h")]
        + [keras.layers.Dense(1, name="out")]
    )
    discriminator = GradientDiagnosis(tmp_path, model, Thresholds(window=2))
    discriminator.measured(10, ["d_h", "d_out"], [1.0, 1.0], [1e-3, 1e-3], 0.1, scoped=True)
    assert [f.problem for f in discriminator.findings] == ["symmetric_units"]
    model.layers[0].kernel.assign(np.random.default_rng(0).standard_normal((4, 8)))
    discriminator.measured(20, ["d_h", "d_out"], [1.0, 1.0], [1e-3, 1e-3], 0.1, scoped=True)
    assert [(f.problem, f.status) for f in discriminator.findings] == [
        ("symmetric_units", "resolved")
    ]


# ---------------------------------------------------------------- epoch, input, model rules
def test_overfitting_needs_a_lasting_rise_and_falling_training_loss() -> None:
    facts = ModelFacts()
    rising = [(1.0, 1.0), (0.4, 0.6)] + [(0.2 / k, 0.62 + 0.02 * k) for k in range(1, 7)]
    found = overfitting(rising, 5, facts)
    assert found is not None and "6 epochs ago" in found.message
    assert "EarlyStopping" in found.advice
    assert overfitting(rising[:6], 5, facts) is None  # not for long enough yet
    plateau = [(1.0 / k, 1.0 / k + 0.05) for k in range(1, 12)]  # both still improving
    assert overfitting(plateau, 5, facts) is None
    converged = [(0.1, 0.2)] + [(0.099, 0.21)] * 8  # no new best, but training is flat too
    assert overfitting(converged, 5, facts) is None


def test_unnormalized_inputs() -> None:
    rng = np.random.default_rng(0)
    standardized = rng.normal(size=(256, 20))
    assert unnormalized_inputs("dense", standardized, ModelFacts()) is None
    assert unnormalized_inputs("dense", rng.uniform(0, 1, (256, 20)), ModelFacts()) is None
    pixels = unnormalized_inputs("dense", rng.integers(0, 256, (256, 64)), ModelFacts())
    assert pixels is not None and "Normalization" in pixels.advice
    mixed = standardized * np.r_[np.ones(19), 1000.0]
    spread = unnormalized_inputs("dense", mixed, ModelFacts())
    assert spread is not None and "feature scales differ" in spread.message
    selu = ModelFacts(families={"dense": "selu"})
    shifted = rng.uniform(0, 1, (256, 20))  # fine for ReLU nets, not for self-normalization
    assert unnormalized_inputs("dense", shifted, selu) is not None


def _selu(initializer: str, dropout: type | None) -> keras.Model:
    layers: list = [keras.Input((8,))]
    for i in range(3):
        layers.append(
            keras.layers.Dense(16, activation="selu", kernel_initializer=initializer, name=f"h{i}")
        )
        if dropout is not None:
            layers.append(dropout(0.1, name=f"drop{i}"))
    layers.append(keras.layers.Dense(2, name="out"))
    return keras.Sequential(layers)


def test_recipe_of_self_normalizing_and_deep_sigmoid_networks() -> None:
    good = _selu("lecun_normal", keras.layers.AlphaDropout)
    assert recipe(good, model_facts(good)) is None
    bad = _selu("glorot_uniform", keras.layers.Dropout)
    found = recipe(bad, model_facts(bad))
    assert found is not None and found.layers[:3] == ("h0", "h1", "h2")
    assert "LeCun normal" in found.message and "plain Dropout" in found.message
    assert "AlphaDropout" in found.advice
    deep = keras.Sequential(
        [keras.Input((8,))]
        + [keras.layers.Dense(8, activation="sigmoid", name=f"s{i}") for i in range(6)]
        + [keras.layers.Dense(2, activation="sigmoid", name="out")]
    )
    found = recipe(deep, model_facts(deep))
    assert found is not None and "6 stacked sigmoid/tanh layers" in found.message
    assert "out" not in found.layers


def test_symmetric_units_from_the_weights() -> None:
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, kernel_initializer="zeros", name="zero"),
            keras.layers.Dense(8, kernel_initializer=keras.initializers.Constant(0.3), name="same"),
            keras.layers.Dense(8, name="random"),
            keras.layers.Dense(3, kernel_initializer="zeros", name="out"),  # outputs: fine
        ]
    )
    found = symmetric_units(model)
    assert found is not None and found.layers == ("zero", "same")
    assert "zeros" in found.advice


def test_two_places_found_at_one_step_both_reach_the_file(tmp_path: Path) -> None:
    tracker = FindingTracker(tmp_path)
    tracker.observe(
        200, ["dead_units"], [_observe("dead_units", "d1"), _observe("dead_units", "d9")]
    )
    assert [f["layers"] for f in read_findings(tmp_path)] == [["d1"], ["d9"]]


def test_gradient_diagnostics_checks_its_thresholds_argument(tmp_path: Path) -> None:
    from keras_dnnkit.callbacks import GradientDiagnostics

    with pytest.raises(TypeError, match=r"thresholds must be a .*Received: thresholds=0.5"):
        GradientDiagnostics(tmp_path, thresholds=0.5)  # type: ignore[arg-type]
    assert GradientDiagnostics(tmp_path, thresholds={"window": 3}).thresholds.window == 3
    config = GradientDiagnostics(
        tmp_path, thresholds=Thresholds(update_ratio_low=1e-5)
    ).get_config()
    assert GradientDiagnostics.from_config(config).thresholds.update_ratio_low == 1e-5


def test_a_cleared_log_dir_starts_afresh(tmp_path: Path) -> None:
    from keras_dnnkit.diagnostics._lifecycle import tracker_for

    tracker = tracker_for(tmp_path)
    tracker.observe(0, ["dead_units"], [_observe("dead_units", "d1")])
    assert tracker_for(tmp_path) is tracker
    Path(findings_path(tmp_path)).unlink()  # the user cleared the run's directory
    assert tracker_for(tmp_path).findings == []
