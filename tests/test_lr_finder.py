"""find_learning_rate: per-batch losses, divergence stop, suggestions, and nothing changed after."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_dnnkit
from keras_dnnkit import LRFinderResult, find_learning_rate
from keras_dnnkit.cli.main import main
from keras_dnnkit.lr_finder import _batches
from keras_dnnkit.schedules import OneCycle


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6)).astype("float32")
    return x, (x @ rng.normal(size=6) + 0.1 * rng.normal(size=128)).astype("float32")


def _model(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, "elu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer, "mse")
    return model


@pytest.mark.slow
@pytest.mark.parametrize(
    "learning_rate", [0.01, OneCycle(0.01, total_steps=100)], ids=["float", "schedule"]
)
def test_restores_weights_optimizer_state_step_and_rate(learning_rate: object) -> None:
    x, y = _data()
    model = _model(keras.optimizers.Adam(learning_rate))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # non-trivial optimizer state
    weights = [w.copy() for w in model.get_weights()]
    state = [np.array(v.numpy()) for v in model.optimizer.variables]
    rate_object = model.optimizer._learning_rate
    rate_before = float(model.optimizer.learning_rate.numpy())
    result = find_learning_rate(model, x, y, steps=30, batch_size=16, max_lr=1.0)
    assert len(result.learning_rates) >= 10
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    for before, variable in zip(state, model.optimizer.variables, strict=True):
        np.testing.assert_array_equal(before, variable.numpy())
    assert int(model.optimizer.iterations.numpy()) == 4
    assert model.optimizer._learning_rate is rate_object
    assert float(model.optimizer.learning_rate.numpy()) == rate_before
    history = model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # trains with its own rate
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.slow
def test_losses_are_per_batch_not_keras_running_mean() -> None:
    x, y = _data()
    model = _model(keras.optimizers.SGD())
    # Rates so small that the weights do not move: each loss is its batch's on the initial model.
    result = find_learning_rate(model, x, y, min_lr=1e-12, max_lr=1e-11, steps=12, batch_size=16)
    expected = [
        float(model.evaluate(xb, yb, batch_size=16, verbose=0))
        for xb, yb, _ in _batches(x, y, 16, 12, seed=0)
    ]
    np.testing.assert_allclose(result.raw_losses, expected, rtol=1e-5)
    assert np.std(result.raw_losses) > 0.05 * np.mean(result.raw_losses)
    beta, average, smoothed = 0.98, 0.0, []
    for i, loss in enumerate(result.raw_losses):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta ** (i + 1)))
    np.testing.assert_allclose(result.losses, smoothed, rtol=1e-9)
    np.testing.assert_allclose(result.learning_rates, np.geomspace(1e-12, 1e-11, 12), rtol=1e-12)
    assert result.stop_reason == "completed"


@pytest.mark.slow
def test_stops_when_the_loss_diverges() -> None:
    x, y = _data()
    model = _model(keras.optimizers.SGD())
    result = find_learning_rate(model, x, y, min_lr=1e-4, max_lr=100.0, steps=100, batch_size=16)
    assert result.stop_reason in ("diverged", "nan")
    assert len(result.learning_rates) < 100
    assert np.all(np.isfinite(result.losses))
    if result.stop_reason == "diverged":
        assert result.losses[-1] > 4 * result.losses.min()
    assert np.all(np.isfinite(np.concatenate([w.ravel() for w in model.get_weights()])))


def test_suggestions_on_a_known_curve() -> None:
    rates = np.logspace(-5, 0, 51)  # 0.1 decades apart
    log_rate = np.log10(rates)
    losses = 2.0 - np.tanh(2 * (log_rate + 3))  # falls fastest at 1e-3, flat after
    losses[-5:] += np.linspace(0.5, 3, 5)  # diverges at the end
    result = LRFinderResult(rates, losses, losses, "diverged")
    assert result.steepest == pytest.approx(1e-3, rel=1e-6)
    assert result.minimum_over_10 == pytest.approx(rates[np.argmin(losses)] / 10)
    assert 1e-4 < result.valley < 1e-1
    assert result.suggestions == {
        "steepest": result.steepest,
        "minimum_over_10": result.minimum_over_10,
        "valley": result.valley,
    }
    figure = result.plot(mark="steepest")
    assert figure.axes[0].get_xscale() == "log"
    assert "steepest" in figure.axes[0].get_legend_handles_labels()[1][-1]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (dict(min_lr=0.0), "min_lr must be > 0"),
        (dict(min_lr=1.0, max_lr=0.5), r"max_lr must be > min_lr \(1.0\). Received: max_lr=0.5"),
        (dict(steps=1), "steps must be an integer >= 2"),
        (dict(smoothing=1.0), r"smoothing must be in the open interval \(0.0, 1.0\)"),
        (dict(divergence_factor=1.0), "divergence_factor must be > 1"),
    ],
)
def test_bad_arguments(arguments: dict[str, float], message: str) -> None:
    x, y = _data()
    model = _model(keras.optimizers.SGD())
    with pytest.raises(ValueError, match=message):
        find_learning_rate(model, x, y, **arguments)  # type: ignore[arg-type]
    uncompiled = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compiled model"):
        find_learning_rate(uncompiled, x, y)


def _two_in_two_out() -> keras.Model:
    keras.utils.set_random_seed(1)
    numbers, flags = keras.Input((6,), name="numbers"), keras.Input((2,), name="flags")
    hidden = keras.layers.Dense(8, "elu")(keras.layers.Concatenate()([numbers, flags]))
    model = keras.Model(
        {"numbers": numbers, "flags": flags},
        {"value": keras.layers.Dense(1)(hidden), "kind": keras.layers.Dense(3)(hidden)},
    )
    model.compile(
        keras.optimizers.SGD(),
        {"value": "mse", "kind": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
    )
    return model


@pytest.mark.slow
def test_datasets_and_models_with_several_inputs_and_outputs() -> None:
    x, y = _data()
    inputs = {"numbers": x, "flags": np.stack([x[:, 0] > 0, x[:, 1] > 0], 1).astype("float32")}
    targets = {"value": y, "kind": (x[:, 2] > 0).astype("int32") + (x[:, 3] > 0)}
    model = _two_in_two_out()
    weights = [w.copy() for w in model.get_weights()]
    tiny = dict(min_lr=1e-12, max_lr=1e-11, steps=6)
    arrays = find_learning_rate(model, inputs, targets, batch_size=32, seed=3, **tiny)
    # The same batches, as a dataset of (x, y): the same losses (the weights barely move).
    batches = [(xb, yb) for xb, yb, _ in _batches(inputs, targets, 32, 6, seed=3)]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(batches),
        output_signature=tf.nest.map_structure(
            lambda a: tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)), batches[0]
        ),
    )
    streamed = find_learning_rate(model, dataset, **tiny)
    np.testing.assert_allclose(streamed.raw_losses, arrays.raw_losses, rtol=1e-5)
    assert len(streamed.raw_losses) == 6 and streamed.stop_reason == "completed"
    # A dataset shorter than `steps` is repeated; a list of inputs works as well.
    short = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)  # 2 batches
    sequential = _model(keras.optimizers.SGD())
    assert len(find_learning_rate(sequential, short, steps=5).learning_rates) == 5
    left, right = keras.Input((6,)), keras.Input((2,))
    two = keras.Model(
        [left, right], keras.layers.Dense(1)(keras.layers.Concatenate()([left, right]))
    )
    two.compile(keras.optimizers.SGD(), "mse")
    result = find_learning_rate(two, [x, inputs["flags"]], y, steps=8, batch_size=16)
    assert len(result.learning_rates) == 8
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


def test_the_data_is_checked_up_front() -> None:
    x, y = _data()
    model = _model(keras.optimizers.SGD())
    with pytest.raises(
        ValueError, match=r"x and y must have the same number of rows.*x: 128 rows, y: 100 rows"
    ):
        find_learning_rate(model, x, y[:100])
    with pytest.raises(ValueError, match=r"x must hold at least one example.*x.shape\[0\]=0"):
        find_learning_rate(model, x[:0], y[:0])
    with pytest.raises(ValueError, match="x must be an array.*Received: x=None"):
        find_learning_rate(model, None, y)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    with pytest.raises(ValueError, match="y must be None when x is a tf.data.Dataset"):
        find_learning_rate(model, dataset, y)
    with pytest.raises(ValueError, match="empty tf.data.Dataset"):
        find_learning_rate(model, dataset.take(0))
    with pytest.raises(ValueError, match=r"x\['a'\], x\['b'\] and y must have the same number"):
        find_learning_rate(model, {"a": x, "b": x[:5]}, y)
    assert int(model.optimizer.iterations.numpy()) == 0  # nothing ran


def test_exported_from_the_package_root() -> None:
    assert keras_dnnkit.find_learning_rate is find_learning_rate
    assert "find_learning_rate" in keras_dnnkit.__all__


@pytest.mark.slow
def test_cli_lr_find_on_the_digits(
    tmp_path: os.PathLike[str], capsys: pytest.CaptureFixture[str]
) -> None:
    plot = os.path.join(tmp_path, "curve.png")
    assert main(["lr-find", "--quick", "--json", "--plot", plot]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(report["suggestions"]) == {"steepest", "minimum_over_10", "valley"}
    assert 1e-6 < report["suggestions"]["minimum_over_10"] < 1.0
    assert len(report["learning_rates"]) == len(report["losses"]) <= 30
    assert os.path.getsize(plot) > 1000
    assert main(["lr-find", "--quick", "--max-lr", "1"]) == 0
    assert "valley" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["lr-find", "--steps", "1"])


def test_plot_marks_every_suggestion_on_a_loss_axis_bounded_by_the_data() -> None:
    rates = np.logspace(-6, 1, 60)
    losses = np.concatenate([np.linspace(2.3, 0.4, 45), np.linspace(0.5, 40.0, 15)])
    raw = losses * np.random.default_rng(0).uniform(0.8, 1.2, 60)
    result = LRFinderResult(rates, losses, raw, "diverged")
    figure = result.plot()
    axes = figure.axes[0]
    bottom, top = axes.get_ylim()
    assert 0.0 <= bottom <= raw.min() and top < 4 * losses.min() * 1.2  # not -88 to 12
    lines = {line.get_label(): line for line in axes.get_lines()}
    for name, value in result.suggestions.items():
        label = f"{name}: {value:.2g}"
        assert label in lines and lines[label].get_xdata()[0] == value
    with pytest.raises(ValueError, match=r"mark must be one of .*Received: mark='best'"):
        result.plot(mark="best")
