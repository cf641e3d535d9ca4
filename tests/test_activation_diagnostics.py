"""ActivationDiagnostics in real training on the bundled digits, and its statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_dnnkit
from keras_dnnkit.callbacks import ActivationDiagnostics, DiagnosticsWarning
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._activation_findings import (
    LayerActivation,
    dead_units,
    saturated_units,
)
from keras_dnnkit.diagnostics._activation_statistics import (
    activation_family,
    activation_floor,
    activation_statistics,
)
from keras_dnnkit.diagnostics._events import read_scalars, read_texts
from keras_dnnkit.diagnostics._layer_probe import LayerProbe, probe_batch
from keras_dnnkit.diagnostics._model_facts import ModelFacts
from tests._activation_runs import digits, mlp, train

PROBE = digits().x_train[:256]


def _run(tmp: Path, kind: str, depth: int, epochs: int = 1, **kwargs: Any) -> dict[str, Any]:
    log_dir = str(tmp / kind)
    model = mlp(kind, depth=depth)
    callback = ActivationDiagnostics(log_dir, probe=PROBE, every_n_steps=10, **kwargs)
    caught = train(model, [callback], epochs=epochs)
    return {"callback": callback, "warnings": caught, "log_dir": log_dir, "model": model}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("activation_runs")
    return {
        "saturated": _run(tmp, "saturated", depth=20),
        "dead": _run(tmp, "dead", depth=8, epochs=2),
        "healthy": _run(tmp, "healthy", depth=8),
    }


def _problems(run: dict[str, Any]) -> list[str]:
    return [finding.problem for finding in run["callback"].findings]


@pytest.mark.slow
def test_deep_sigmoid_with_standard_normal_init_is_reported_saturated(runs: Any) -> None:
    run = runs["saturated"]
    # 20 sigmoid layers without batch normalization also break the recipe.
    assert set(_problems(run)) == {"saturated_units", "recipe"}
    finding = next(f for f in run["callback"].findings if f.problem == "saturated_units")
    assert finding.message.startswith("saturated units: ")
    assert len(finding.layers) > 10  # one finding names every saturated layer
    assert "batch normalization" in finding.advice
    assert "Glorot" not in finding.advice  # sigmoid + Glorot vanishes: no cure
    fractions = [s.saturated_fraction for s in run["callback"].last_statistics.values()]
    assert np.median([f for f in fractions if f is not None]) > 0.4
    messages = [str(w.message) for w in run["warnings"] if w.category is DiagnosticsWarning]
    # One warning when it started (its numbers then); the finding follows the latest probe.
    assert len([m for m in messages if m.startswith("saturated units: ")]) == 1


@pytest.mark.slow
def test_relu_with_large_negative_bias_is_reported_dead(runs: Any) -> None:
    run = runs["dead"]
    assert "dead_units" in _problems(run)
    stats = run["callback"].last_statistics
    assert stats["hidden_1"].dead_fraction == 1.0  # second hidden layer: nothing gets through
    assert stats["output"].dead_fraction is None  # output layer: never judged
    finding = next(f for f in run["callback"].findings if f.problem == "dead_units")
    assert "at 0 (ReLU's floor)" in finding.message
    assert finding.advice.startswith("The biases are negative (mean -5): initialize them at 0.")


@pytest.mark.slow
def test_he_elu_batch_norm_twin_reports_nothing(runs: Any) -> None:
    run = runs["healthy"]
    assert run["callback"].findings == []
    elu = {k: v for k, v in run["callback"].last_statistics.items() if k.startswith("elu_")}
    assert len(elu) == 8 and all(s.dead_fraction == 0.0 for s in elu.values())
    # Batch normalization keeps the signal's variance: its ratio to the input stays near 1.
    ratios = [
        s.variance_ratio
        for k, s in run["callback"].last_statistics.items()
        if k.startswith("norm_")
    ]
    assert all(r is not None and 0.3 < r < 3 for r in ratios)


@pytest.mark.slow
def test_one_finding_per_problem_and_place_over_the_whole_run(runs: Any) -> None:
    run = runs["dead"]  # 2 epochs of 20 steps, logged at steps 0, 10, 20, 30, 40
    dead = [f for f in run["callback"].findings if f.problem == "dead_units"]
    assert [(f.first_step, f.last_step, f.status) for f in dead] == [(0, 40, "current")]
    assert dead[0].layers == tuple(f"hidden_{i}" for i in range(8))
    texts = read_texts(run["log_dir"])[_tags.FINDINGS]
    assert [step for step, _ in texts] == [0]  # written when it started, not at every probe
    warned = [w for w in run["warnings"] if w.category is DiagnosticsWarning]
    assert len(warned) == 1


@pytest.mark.slow
def test_scalars_are_logged_per_layer_at_optimizer_steps(runs: Any) -> None:
    scalars = read_scalars(runs["dead"]["log_dir"])
    first = _tags.layer_tag(_tags.ACTIVATION_MEAN, 0, "hidden_0")
    assert [step for step, _ in scalars[first]] == [0, 10, 20, 30, 40]
    for prefix in (
        _tags.ACTIVATION_VARIANCE,
        _tags.ACTIVATION_VARIANCE_RATIO,
        _tags.DEAD_FRACTION,
    ):
        assert _tags.layer_tag(prefix, 1, "hidden_1") in scalars
    # The output layer (index 8) has statistics but is never judged dead or saturated.
    assert _tags.layer_tag(_tags.ACTIVATION_MEAN, 8, "output") in scalars
    assert _tags.layer_tag(_tags.DEAD_FRACTION, 8, "output") not in scalars
    assert not any(tag.startswith(_tags.SATURATED_FRACTION) for tag in scalars)


@pytest.mark.slow
def test_resumed_training_continues_the_steps(tmp_path: Path) -> None:
    model = mlp("healthy", depth=2, width=16)
    callback = ActivationDiagnostics(tmp_path, probe=PROBE[:32], every_n_steps=15)
    train(model, [callback])
    train(model, [callback])
    tag = _tags.layer_tag(_tags.ACTIVATION_MEAN, 0, "hidden_0")
    steps = [step for step, _ in read_scalars(tmp_path)[tag]]
    assert steps == [0, 15, 20, 30, 40]


@pytest.mark.slow
def test_nested_models_are_probed_in_input_to_output_order(tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    encoder = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(8, activation="tanh", name="code"),
        ],
        name="encoder",
    )
    inputs = keras.Input((64,))
    x = keras.layers.Dense(16, name="stem")(inputs)
    x = keras.layers.LeakyReLU(name="leaky")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(encoder(x))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    callback = ActivationDiagnostics(tmp_path, probe=(PROBE, None), every_n_steps=50, warn=False)
    train(model, [callback])
    assert list(callback.last_statistics) == [
        "stem",
        "leaky",
        "encoder.hidden",
        "encoder.code",
        "head",
    ]
    scalars = read_scalars(tmp_path)
    assert _tags.layer_tag(_tags.DEAD_FRACTION, 2, "encoder/hidden") in scalars
    assert _tags.layer_tag(_tags.SATURATED_FRACTION, 3, "encoder/code") in scalars
    assert _tags.layer_tag(_tags.DEAD_FRACTION, 1, "leaky") in scalars
    # The leaky layer's input is the stem's output: the variance ratio links the two.
    stem, leaky = callback.last_statistics["stem"], callback.last_statistics["leaky"]
    assert leaky.variance_ratio == pytest.approx(leaky.variance / stem.variance, rel=1e-4)


def test_nested_output_model_layers_are_not_judged() -> None:
    head = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="sigmoid")])
    inputs = keras.Input((4,))
    model = keras.Model(inputs, head(keras.layers.Dense(4, activation="relu")(inputs)))
    assert [(p.path.split("/")[0] == head.name, p.is_output) for p in LayerProbe(model).layers] == [
        (False, False),
        (True, True),
    ]


def test_probe_runs_in_inference_mode() -> None:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5, name="drop")])
    x = np.ones((64, 4), "float32")
    values = LayerProbe(model)(x)
    np.testing.assert_array_equal(values[0].output, x)


def test_probe_forms() -> None:
    x = np.arange(40, dtype="float32").reshape(10, 4)
    assert probe_batch(x, 3).shape == (3, 4)
    assert probe_batch((x, np.zeros(10)), 100).shape == (10, 4)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(10))).batch(4)
    assert probe_batch(dataset, 100).shape == (4, 4)
    multi = probe_batch({"a": x, "b": x[:, :2]}, 5)
    assert multi["a"].shape == (5, 4) and multi["b"].shape == (5, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"probe": None}, "Argument probe is required"),
        ({"probe": np.zeros((0, 4))}, "Argument probe must hold at least one example"),
        (
            {"every_n_steps": 0},
            "Argument every_n_steps must be an int >= 1. Received: every_n_steps=0",
        ),
        (
            {"every_n_steps": 2.5},
            "Argument every_n_steps must be an int >= 1. Received: every_n_steps=2.5",
        ),
        ({"window": "3"}, "Argument window must be an int >= 1. Received: window='3'"),
        ({"warn": "yes"}, "Argument warn must be True or False. Received: warn='yes'"),
        ({"dead_threshold": "0.5"}, "dead_threshold must be a fraction in"),
        ({"log_dir": None}, "Argument log_dir must be a directory path .* Received: log_dir=None"),
        ({"log_dir": ""}, "Argument log_dir must be a directory path"),
        ({"dead_threshold": 1.5}, r"dead_threshold must be a fraction in \(0, 1\]"),
        ({"saturated_threshold": 0}, "saturated_threshold=0"),
        ({"max_probe_examples": 0}, "max_probe_examples=0"),
    ],
)
def test_bad_arguments_are_named(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    arguments = {"log_dir": tmp_path, "probe": np.ones((4, 4)), **kwargs}
    with pytest.raises(ValueError, match=message):
        ActivationDiagnostics(**arguments)


def test_log_dir_that_is_a_file_or_cannot_be_created(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hi")
    with pytest.raises(ValueError, match="must be a directory, not a file. Received: log_dir="):
        ActivationDiagnostics(a_file, probe=np.ones((4, 4)))
    with pytest.raises(ValueError, match="is not a writable directory"):
        ActivationDiagnostics(a_file / "run", probe=np.ones((4, 4)))


@pytest.mark.slow
def test_subclassed_model_is_refused_clearly(tmp_path: Path) -> None:
    class Subclassed(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(1)

        def call(self, x: Any) -> Any:
            return self.dense(x)

    model = Subclassed()
    model.compile("sgd", "mse")
    callback = ActivationDiagnostics(tmp_path, probe=np.ones((4, 3)))
    with pytest.raises(ValueError, match="needs? a Sequential or Functional model.*Subclassed"):
        model.fit(np.ones((4, 3)), np.ones(4), callbacks=[callback], verbose=0)


def test_registered_and_exported() -> None:
    callback = keras_dnnkit.get(
        "callback", "activation_diagnostics", log_dir="unused", probe=np.ones((2, 3))
    )
    assert isinstance(callback, ActivationDiagnostics)
    assert keras_dnnkit.diagnostics.ActivationDiagnostics is ActivationDiagnostics
    assert "ActivationDiagnostics" in keras_dnnkit.callbacks.__all__


# ---------------------------------------------------------------- statistics and rules


@pytest.mark.parametrize(
    ("layer", "family"),
    [
        (keras.layers.ReLU(), "relu"),
        (keras.layers.ReLU(negative_slope=0.1), "leaky_relu"),
        (keras.layers.PReLU(), "leaky_relu"),
        (keras.layers.ELU(), "elu"),
        (keras.layers.Activation("selu"), "selu"),
        (keras.layers.Dense(2, activation="relu6"), "relu"),
        (keras.layers.Dense(2, activation="hard_sigmoid"), "sigmoid"),
        (keras.layers.Dense(2, activation="gelu"), None),
        (
            keras.layers.Dense(
                2, activation=keras_dnnkit.get("activation", "leaky_relu", negative_slope=0.2)
            ),
            "leaky_relu",
        ),
        (keras_dnnkit.layers.RandomizedLeakyReLU(), "leaky_relu"),
        (keras.layers.BatchNormalization(), None),
    ],
)
def test_activation_family(layer: Any, family: str | None) -> None:
    assert activation_family(layer) == family


def test_elu_floor_follows_alpha() -> None:
    elu = keras_dnnkit.get("activation", "elu", alpha=2.0)
    assert activation_floor(keras.layers.Dense(2, activation=elu)) == -2.0
    assert activation_floor(keras.layers.Activation("elu")) == -1.0
    assert activation_floor(keras.layers.Activation("selu")) == pytest.approx(-1.7581, abs=1e-4)
    # A unit pinned near -alpha for every example is dead; one that is sometimes positive is not.
    out = np.array([[-1.98, 0.5], [-1.99, -1.99]])
    assert activation_statistics([out], out, "elu", floor=-2.0).dead_fraction == 0.5
    assert activation_statistics([out], out, "elu").dead_fraction == 0.5  # default -1


def test_leaky_units_in_the_leak_for_every_example_count_as_dead() -> None:
    out = np.array([[-0.1, 0.0, 2.0], [-0.3, -0.2, -0.1]])
    assert activation_statistics([out], out, "leaky_relu").dead_fraction == pytest.approx(1 / 3)


def test_saturation_needs_most_examples_and_uses_channels_of_convolutions() -> None:
    # 4 examples x 2x2 positions x 2 channels: channel 0 saturated everywhere, 1 never.
    out = np.zeros((4, 2, 2, 2))
    out[..., 0] = 0.999
    out[..., 1] = 0.3
    stats = activation_statistics([out], out, "tanh")
    assert stats.saturated_fraction == 0.5 and stats.dead_fraction is None
    sigmoid = np.array([[0.001, 0.5], [0.995, 0.5], [0.5, 0.5]])  # 2 of 3 examples saturated
    assert activation_statistics([sigmoid], sigmoid, "sigmoid").saturated_fraction == 0.5


def test_constant_input_has_no_variance_ratio() -> None:
    stats = activation_statistics([np.ones((3, 2))], np.array([[1.0], [2.0], [3.0]]), None)
    assert stats.variance_ratio is None and stats.variance == pytest.approx(2 / 3)


def test_rules_name_every_layer_and_the_worst() -> None:
    layers = [
        LayerActivation("dense", 0.6, None, "elu", -1.0),
        LayerActivation("dense_1", 0.9, None, "elu", -1.0),
        LayerActivation("dense_2", 0.4, 0.7),
    ]
    dead = dead_units(layers, threshold=0.5)
    assert dead is not None and dead.layers == ("dense", "dense_1")
    assert "90% of dense_1's units sit at their floor of -1" in dead.message  # ELU's real floor
    assert "(2 layers: dense, dense_1)" in dead.message
    saturated = saturated_units(layers, ModelFacts(batch_norm=True))
    assert saturated is not None and saturated.layers == ("dense_2",)
    assert "batch normalization" not in saturated.advice  # the model already has it
    assert dead_units(layers, threshold=0.95) is None
    assert saturated_units(layers, ModelFacts(), threshold=0.8) is None


@pytest.mark.slow
def test_warnings_can_be_turned_off(tmp_path: Path) -> None:
    model = mlp("dead", depth=2, width=16)
    callback = ActivationDiagnostics(tmp_path, probe=PROBE[:64], every_n_steps=100, warn=False)
    caught = train(model, [callback])
    assert [f.problem for f in callback.findings] == ["dead_units"]
    assert not any("dead units" in str(w.message) for w in caught)


class _CountingLayer(keras.layers.Layer):
    calls = 0

    def call(self, x: Any) -> Any:
        _CountingLayer.calls += 1
        return x


def test_probe_runs_each_layer_once_after_sequential_add() -> None:
    # Sequential.add re-calls every layer on each rebuild; the probe must tap the final graph.
    model = keras.Sequential([keras.Input((3,))])
    for _ in range(5):
        model.add(_CountingLayer())
    probe = LayerProbe(model)
    _CountingLayer.calls = 0
    values = probe(np.ones((2, 3), "float32"))
    assert _CountingLayer.calls == 5 and len(values) == 5
