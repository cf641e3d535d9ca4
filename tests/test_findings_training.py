"""Each new finding on real training: updates, overfitting, inputs, symmetry, recipe, lifecycle."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from keras_dnnkit.callbacks import ActivationDiagnostics, GradientDiagnostics
from keras_dnnkit.cli.main import main
from keras_dnnkit.diagnostics import _tags, read_findings
from keras_dnnkit.diagnostics._activation_statistics import activation_statistics
from keras_dnnkit.diagnostics._events import read_texts
from keras_dnnkit.diagnostics._layer_probe import LayerProbe
from tests._activation_runs import digits

SPLIT = digits()


def _mlp(depth: int, width: int, activation: str = "elu", initializer: Any = "he_normal") -> Any:
    keras.utils.set_random_seed(0)
    layers: list[Any] = [keras.Input((64,))]
    layers += [
        keras.layers.Dense(width, activation, kernel_initializer=initializer, name=f"hidden_{i}")
        for i in range(depth)
    ]
    return keras.Sequential([*layers, keras.layers.Dense(10, "softmax", name="output")])


def _fit(model: Any, callbacks: list[Any], x: Any = None, y: Any = None, **kwargs: Any) -> Any:
    x = SPLIT.x_train[:640] if x is None else x
    y = SPLIT.y_train[:640] if y is None else y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(x, y, batch_size=32, verbose=0, callbacks=callbacks, **kwargs)


def _problems(log_dir: Path, status: str = "current") -> set[str]:
    return {f["problem"] for f in read_findings(log_dir) if f["status"] == status}


@pytest.mark.slow
def test_updates_too_small_then_resolved_when_the_rate_is_raised(
    tmp_path: Path, capsys: Any
) -> None:
    model = _mlp(3, 32)
    model.compile(keras.optimizers.SGD(1e-7), "sparse_categorical_crossentropy")
    callback = GradientDiagnostics(tmp_path, every_n_steps=5, warn=False)
    _fit(model, [callback], epochs=2)  # 40 steps, logged every 5: a full window of 5 by step 25
    (small,) = [f for f in callback.findings if f.problem == "updates_too_small"]
    assert small.current and small.first_step == 25 and small.last_step == 40
    assert small.layers == ("hidden_0", "hidden_1", "hidden_2", "output")
    assert "Raise the learning rate" in small.advice
    assert main(["report", str(tmp_path), "--fail-on-findings"]) == 1
    capsys.readouterr()
    model.optimizer.learning_rate.assign(0.05)
    _fit(model, [callback], epochs=2)
    (small,) = [f for f in callback.findings if f.problem == "updates_too_small"]
    assert small.status == "resolved" and 40 < small.resolved_step <= 60
    assert main(["report", str(tmp_path), "--fail-on-findings", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["findings"] == []
    assert [f["problem"] for f in document["resolved_findings"]] == ["updates_too_small"]
    texts = [text for _, text in read_texts(tmp_path)[_tags.FINDINGS]]
    assert texts[0].startswith("updates too small: ")
    assert texts[-1].startswith(f"resolved at step {small.resolved_step} (held from step 25")


@pytest.mark.slow
def test_overfitting_from_the_epoch_logs(tmp_path: Path) -> None:
    model = _mlp(2, 256, "relu")
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    callback = GradientDiagnostics(tmp_path, every_n_steps=100, warn=False)
    history = _fit(
        model,
        [callback],
        SPLIT.x_train[:100],
        SPLIT.y_train[:100],
        epochs=20,
        validation_data=(SPLIT.x_valid, SPLIT.y_valid),
    ).history
    # The label borne out: training loss collapses while validation loss stays 100x above it.
    assert history["loss"][-1] < 0.1 * history["loss"][3]
    assert history["val_loss"][-1] > 100 * history["loss"][-1]
    assert int(np.argmin(history["val_loss"])) < 10
    (found,) = [f for f in callback.findings if f.problem == "overfitting"]
    assert found.current and found.layers == ()
    assert "EarlyStopping" in found.advice and "dropout" in found.advice


@pytest.mark.slow
def test_unnormalized_inputs_symmetric_units_and_recipe(tmp_path: Path) -> None:
    pixels = (SPLIT.x_train[:320] * 40 + 100).astype("float32")  # 0-255-like, not standardized
    model = _mlp(2, 16, "relu")
    model.compile(keras.optimizers.SGD(1e-3), "sparse_categorical_crossentropy")
    _fit(
        model,
        [ActivationDiagnostics(tmp_path / "pixels", pixels[:128], warn=False)],
        pixels,
        SPLIT.y_train[:320],
    )
    assert "unnormalized_inputs" in _problems(tmp_path / "pixels")
    (inputs,) = [
        f for f in read_findings(tmp_path / "pixels") if f["problem"] == "unnormalized_inputs"
    ]
    assert inputs["layers"] == ["hidden_0"] and "Normalization" in inputs["advice"]

    zeros = _mlp(3, 16, "tanh", "zeros")
    zeros.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    both = [
        GradientDiagnostics(tmp_path / "zeros", every_n_steps=5, warn=False),
        ActivationDiagnostics(tmp_path / "zeros", SPLIT.x_train[:128], every_n_steps=5, warn=False),
    ]
    _fit(zeros, both)
    found = [f for f in read_findings(tmp_path / "zeros") if f["problem"] == "symmetric_units"]
    assert len(found) == 1  # both callbacks see it: one finding
    # hidden_2's biases learn apart (the output layer's gradient reaches them); its weights,
    # like every weight of hidden_0 and hidden_1, stay 0.
    assert found[0]["layers"] == ["hidden_0", "hidden_1"]
    assert found[0]["status"] == "current" and found[0]["last_step"] == 20
    assert "dead_units" not in _problems(tmp_path / "zeros")

    keras.utils.set_random_seed(0)
    selu = keras.Sequential(
        [keras.Input((64,))]
        + [keras.layers.Dense(32, "selu", name=f"hidden_{i}") for i in range(3)]
        + [keras.layers.Dropout(0.2, name="dropout"), keras.layers.Dense(10, "softmax")]
    )
    selu.compile("nadam", "sparse_categorical_crossentropy")
    _fit(selu, [ActivationDiagnostics(tmp_path / "selu", SPLIT.x_train[:128], warn=False)])
    (recipe,) = [f for f in read_findings(tmp_path / "selu") if f["problem"] == "recipe"]
    assert recipe["first_step"] == 0 and "dropout" in recipe["layers"]
    assert "LeCun normal" in recipe["message"] and "AlphaDropout" in recipe["advice"]


class _JumpingRate(keras.optimizers.schedules.LearningRateSchedule):
    """0.01 for 10 steps, then 100x more every step: the recurrent weights blow up."""

    def __call__(self, step: Any) -> Any:
        step = keras.ops.cast(step, "float32")
        return 0.01 * keras.ops.power(100.0, keras.ops.maximum(step - 10.0, 0.0))


@pytest.mark.slow
def test_exploding_rnn_that_clips_gets_only_consistent_recurrent_advice(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8)), keras.layers.SimpleRNN(16, name="rnn"), keras.layers.Dense(10)]
    )
    model.compile(
        keras.optimizers.SGD(_JumpingRate(), clipnorm=1.0),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    callback = GradientDiagnostics(tmp_path, every_n_steps=2, on_nonfinite="stop", warn=False)
    x = SPLIT.x_train[:640].reshape(-1, 8, 8)
    _fit(model, [callback], x, epochs=3)
    problems = [f.problem for f in callback.findings]
    assert "nonfinite_gradients" in problems
    assert "vanishing_gradients" not in problems and "updates_too_small" not in problems
    nonfinite = next(f for f in callback.findings if f.problem == "nonfinite_gradients")
    assert "already clips (clipnorm=1)" in nonfinite.advice
    assert "clipnorm=0.1" in nonfinite.advice
    assert all("He initialization" not in f.advice for f in callback.findings)


@pytest.mark.slow
def test_batch_norm_networks_are_probed_with_batch_statistics() -> None:
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(32, 32, 3), weights=None, classes=10
    )
    x = np.random.default_rng(0).uniform(-1, 1, (32, 32, 32, 3)).astype("float32")
    before = [np.array(w) for w in model.get_weights()]  # weights and moving statistics
    probe = LayerProbe(model)
    keras.utils.set_random_seed(5)
    values = probe(x)
    drawn_after_probe = keras.ops.convert_to_numpy(keras.random.uniform((4,))), np.random.rand()
    probe_moving = probe._root.run(x)  # the same graph through moving statistics (mean 0, var 1)

    def dead(layer_values: Any) -> list[float]:
        return [
            activation_statistics(v.inputs, v.output, v.layer.family).dead_fraction or 0.0
            for v in layer_values
            if v.layer.family == "relu" and not v.layer.is_output
        ]

    assert max(dead(values)) < 0.5  # no layer the batch statistics call dead
    assert max(dead(probe_moving)) >= 0.5  # what inference mode early in training says
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    keras.utils.set_random_seed(5)  # the probe drew no random numbers: the same draws follow
    drawn = keras.ops.convert_to_numpy(keras.random.uniform((4,))), np.random.rand()
    np.testing.assert_array_equal(drawn_after_probe[0], drawn[0])
    assert drawn_after_probe[1] == drawn[1]


@pytest.mark.slow
def test_resnet_style_net_in_its_first_steps_has_no_dead_finding(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="stem")(inputs)
    for i in range(2):
        shortcut = x
        x = keras.layers.BatchNormalization(name=f"norm_{i}a")(x)
        x = keras.layers.ReLU(name=f"relu_{i}a")(x)
        x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name=f"conv_{i}a")(x)
        x = keras.layers.BatchNormalization(name=f"norm_{i}b")(x)
        x = keras.layers.ReLU(name=f"relu_{i}b")(x)
        x = keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name=f"conv_{i}b")(x)
        x = keras.layers.Add(name=f"add_{i}")([shortcut, x])
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, "softmax", name="output")(x))
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    images = SPLIT.x_train[:320].reshape(-1, 8, 8, 1) + 10  # shifted: some of the stem's
    # channels are negative for every example until batch normalization centres them
    moving = LayerProbe(model)._root.run(images[:64])  # as inference mode sees it at step 0
    relu = [v for v in moving if v.layer.family == "relu"]
    fooled = [activation_statistics(v.inputs, v.output, "relu").dead_fraction for v in relu]
    assert max(f or 0.0 for f in fooled) > 0.1
    callback = ActivationDiagnostics(tmp_path, images[:64], every_n_steps=5, warn=False)
    _fit(model, [callback], images, SPLIT.y_train[:320], epochs=1)  # probed at 0, 5 and 10
    problems = {f.problem for f in callback.findings}
    assert not problems & {"dead_units", "saturated_units"}, callback.findings
    assert all(s.dead_fraction == 0 for n, s in callback.last_statistics.items() if "relu" in n)


@pytest.mark.slow
def test_two_input_probe_tuple_is_read_as_inputs(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    left, right = keras.Input((32,), name="left"), keras.Input((32,), name="right")
    merged = keras.layers.Concatenate(name="merge")(
        [
            keras.layers.Dense(8, "relu", name="left_dense")(left),
            keras.layers.Dense(8, "relu", name="right_dense")(right),
        ]
    )
    model = keras.Model([left, right], keras.layers.Dense(10, "softmax", name="output")(merged))
    model.compile("adam", "sparse_categorical_crossentropy")
    xa, xb = SPLIT.x_train[:320, :32], SPLIT.x_train[:320, 32:]
    callback = ActivationDiagnostics(tmp_path, probe=(xa[:64], xb[:64]), warn=False)
    _fit(model, [callback], [xa, xb], SPLIT.y_train[:320])
    assert {"left_dense", "right_dense", "merge", "output"} <= set(callback.last_statistics)
