"""mc_predict: only dropout is stochastic, nothing changes, statistics are right, errors are clear."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit import MCPrediction, mc_predict
from keras_dnnkit.layers import MCDropout
from keras_dnnkit.uncertainty._graph import make_plan
from keras_dnnkit.uncertainty._noise import DROPOUT_LAYERS, find_stochastic_layers

layers = keras.layers


def bn_dropout_model(rate: float = 0.5) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((6,)),
            layers.Dense(16, activation="relu"),
            layers.BatchNormalization(),
            layers.Dropout(rate),
            layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (64, 6)).astype("float32")
    model.fit(x, rng.integers(0, 3, 64), epochs=2, batch_size=16, verbose=0)
    return model


def cnn_with_dropout_head() -> keras.Model:
    keras.utils.set_random_seed(1)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.GlobalAveragePooling2D(),
            layers.Dense(16, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(4, activation="softmax"),
        ]
    )


class Wrapper(keras.Model):
    """A subclassed model: no graph to split, so mc_predict tiles the whole model."""

    def __init__(self, inner: keras.Model, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = inner

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.inner(inputs, training=training)


def snapshot(model: keras.Model) -> dict[str, np.ndarray]:
    return {v.path: np.array(v.numpy(), copy=True) for v in model.variables}


@pytest.mark.slow
def test_no_variable_changes_and_bn_statistics_stay_bit_identical() -> None:
    model = bn_dropout_model()
    before = snapshot(model)
    assert any("moving_mean" in path for path in before)
    assert any("seed_generator" in path for path in before)
    x = np.random.default_rng(1).normal(2.0, 3.0, (40, 6))
    mc_predict(model, x, samples=30, seed=0)
    after = snapshot(model)
    assert "call" not in vars(model.layers[2])  # the sampling hook is gone again
    assert before.keys() == after.keys()
    for path, value in before.items():
        assert np.array_equal(value, after[path]), path
    # The loop recipe, by contrast, changes the moving statistics: the check above can fail.
    model(x.astype("float32"), training=True)
    moved = snapshot(model)
    assert any(not np.array_equal(before[p], moved[p]) for p in before if "moving" in p)


@pytest.mark.slow
def test_mean_of_an_input_does_not_depend_on_the_rest_of_the_batch() -> None:
    model = bn_dropout_model()
    rng = np.random.default_rng(2)
    probe = rng.normal(2.0, 3.0, (1, 6))
    batch_a = np.concatenate([probe, rng.normal(2.0, 3.0, (30, 6))])
    batch_b = np.concatenate([probe, rng.normal(-20.0, 1.0, (5, 6))])
    mean_a = mc_predict(model, batch_a, samples=2000, seed=3).mean[0]
    result_b = mc_predict(model, batch_b, samples=2000, seed=4)
    noise = 4 * np.sqrt(2) * result_b.std[0] / np.sqrt(2000) + 1e-6
    assert np.all(np.abs(mean_a - result_b.mean[0]) <= noise)


@pytest.mark.slow
def test_rate_zero_equals_predict() -> None:
    model = bn_dropout_model(rate=0.0)
    x = np.random.default_rng(3).normal(2.0, 3.0, (25, 6)).astype("float32")
    result = mc_predict(model, x, samples=7, seed=0)
    np.testing.assert_allclose(result.mean, model.predict(x, verbose=0), atol=1e-6)
    assert np.all(result.std < 1e-6)
    assert result.variation_ratio is not None and np.all(result.variation_ratio == 0)


@pytest.mark.slow
def test_changing_a_rate_after_a_call_takes_effect() -> None:
    model = bn_dropout_model(rate=0.0)
    x = np.ones((3, 6))
    assert np.all(mc_predict(model, x, samples=20, seed=0).std < 1e-6)
    model.layers[2].rate = 0.5
    assert np.any(mc_predict(model, x, samples=20, seed=0).std > 1e-3)


@pytest.mark.slow
def test_seed_reproduces_and_chunking_only_changes_sampling_noise() -> None:
    model = bn_dropout_model()
    x = np.random.default_rng(4).normal(2.0, 3.0, (20, 6))
    first = mc_predict(model, x, samples=500, seed=11, return_samples=True)
    again = mc_predict(model, x, samples=500, seed=11, return_samples=True)
    other = mc_predict(model, x, samples=500, seed=12)
    chunked = mc_predict(model, x, samples=500, seed=11, max_rows_per_chunk=64, batch_size=7)
    assert first.samples is not None and again.samples is not None
    assert np.array_equal(first.samples, again.samples)
    assert not np.array_equal(first.mean, other.mean)
    assert first.samples.shape == (500, 20, 3)
    noise = 5 * np.sqrt(2) * first.std / np.sqrt(500) + 1e-6
    assert np.all(np.abs(first.mean - chunked.mean) <= noise)


@pytest.mark.slow
def test_split_runs_the_trunk_once_and_equals_full_tiling_at_a_fixed_seed() -> None:
    model = cnn_with_dropout_head()
    plan = make_plan(model, find_stochastic_layers(model, DROPOUT_LAYERS))
    assert plan.is_split
    deterministic = [type(node.operation).__name__ for node in plan.deterministic_nodes]
    assert deterministic == ["Conv2D", "BatchNormalization", "GlobalAveragePooling2D", "Dense"]
    stochastic = [type(node.operation).__name__ for node in plan.stochastic_nodes]
    assert stochastic == ["Dropout", "Dense"]
    x = np.random.default_rng(5).normal(size=(12, 8, 8, 1))
    options: dict[str, Any] = {"samples": 50, "seed": 9, "batch_size": 5, "max_rows_per_chunk": 100}
    split = mc_predict(model, x, return_samples=True, **options)
    full = mc_predict(Wrapper(model), x, return_samples=True, **options)
    assert split.samples is not None and full.samples is not None
    np.testing.assert_allclose(split.samples, full.samples, atol=1e-5)
    assert split.std.max() > 1e-3


@pytest.mark.slow
def test_subclassed_model_fallback_leaves_batch_norm_alone() -> None:
    inner = bn_dropout_model()
    model = Wrapper(inner)
    x = np.random.default_rng(6).normal(2.0, 3.0, (10, 6))
    before = snapshot(inner)
    result = mc_predict(model, x, samples=3000, seed=1)
    assert all(np.array_equal(v, snapshot(inner)[p]) for p, v in before.items())
    reference = mc_predict(inner, x, samples=3000, seed=2)
    noise = 5 * np.sqrt(2) * reference.std / np.sqrt(3000) + 1e-6
    assert np.all(np.abs(result.mean - reference.mean) <= noise)


def test_statistics_match_hand_computations_on_a_fixed_stack() -> None:
    stack = np.array(
        [
            [[0.7, 0.2, 0.1], [1.0, 0.0, 0.0]],
            [[0.1, 0.8, 0.1], [1.0, 0.0, 0.0]],
            [[0.6, 0.3, 0.1], [1.0, 0.0, 0.0]],
            [[0.2, 0.2, 0.6], [1.0, 0.0, 0.0]],
        ]
    )
    result = MCPrediction.from_samples(stack)
    mean = np.array([0.4, 0.375, 0.225])

    def h(p: np.ndarray) -> float:
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    expected_entropy = np.mean([h(s) for s in stack[:, 0]])
    assert result.task == "classification"
    assert result.entropy is not None and result.expected_entropy is not None
    assert result.mutual_information is not None and result.variation_ratio is not None
    np.testing.assert_allclose(result.mean[0], mean)
    np.testing.assert_allclose(result.std[0], stack[:, 0].std(axis=0))
    np.testing.assert_allclose(result.entropy, [h(mean), 0.0], atol=1e-9)
    np.testing.assert_allclose(result.expected_entropy, [expected_entropy, 0.0], atol=1e-9)
    np.testing.assert_allclose(
        result.mutual_information, [h(mean) - expected_entropy, 0.0], atol=1e-9
    )
    # Votes: 0, 1, 0, 2 -> the modal class 0 has 2 of 4 votes.
    np.testing.assert_allclose(result.variation_ratio, [0.5, 0.0])
    assert result.predicted_class is not None and result.confidence is not None
    assert result.predicted_class.tolist() == [0, 0]
    np.testing.assert_allclose(result.confidence, [0.4, 1.0])


def test_binary_sigmoid_counts_as_two_classes() -> None:
    stack = np.array([[[0.9]], [[0.1]]])
    result = MCPrediction.from_samples(stack, task="classification")
    np.testing.assert_allclose(result.mean, [[0.5, 0.5]])
    assert result.mutual_information is not None
    expected = np.log(2) - (-(0.9 * np.log(0.9) + 0.1 * np.log(0.1)))
    np.testing.assert_allclose(result.mutual_information, [expected])


@pytest.mark.slow
def test_regression_mean_std_and_intervals() -> None:
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [keras.Input((3,)), layers.Dense(32), layers.Dropout(0.3), layers.Dense(2)]
    )
    x = np.random.default_rng(7).normal(size=(5, 3))
    result = mc_predict(model, x, samples=400, seed=0, return_samples=True)
    assert result.task == "regression"
    assert result.entropy is None and result.predicted_class is None
    assert result.mean.shape == (5, 2) and result.samples is not None
    lower, upper = result.interval(0.9)
    np.testing.assert_allclose(upper - lower, 2 * 1.6448536 * result.std, rtol=1e-6)
    low_q, high_q = result.interval(0.9, method="empirical")
    inside = np.mean((result.samples >= low_q) & (result.samples <= high_q))
    assert 0.88 <= inside <= 0.92
    summary = mc_predict(model, x, samples=10, seed=0)
    with pytest.raises(ValueError, match="return_samples=True"):
        summary.interval(0.9, method="empirical")
    with pytest.raises(ValueError, match="level"):
        summary.interval(1.5)


def identity_model(noise: keras.layers.Layer, shape: tuple[int, ...]) -> keras.Model:
    return keras.Sequential([keras.Input(shape), noise])


@pytest.mark.slow
def test_dropout_family_noise_has_the_right_distribution() -> None:
    ones = np.ones((4, 50))
    dropout = mc_predict(
        identity_model(layers.Dropout(0.3), (50,)),
        ones,
        200,
        seed=0,
        task="regression",
        return_samples=True,
    )
    assert dropout.samples is not None
    assert abs(np.mean(dropout.samples == 0) - 0.3) < 0.01
    assert abs(dropout.samples.mean() - 1.0) < 0.02
    gaussian = mc_predict(
        identity_model(layers.GaussianDropout(0.2), (50,)), ones, 200, seed=0, task="regression"
    )
    assert abs(gaussian.mean.mean() - 1.0) < 0.02
    assert abs(gaussian.std.mean() - np.sqrt(0.2 / 0.8)) < 0.02
    normal = np.random.default_rng(0).normal(size=(4, 500))
    alpha = mc_predict(
        identity_model(layers.AlphaDropout(0.2), (500,)),
        normal,
        100,
        seed=0,
        task="regression",
        return_samples=True,
    )
    assert alpha.samples is not None
    assert abs(alpha.samples.mean()) < 0.05 and abs(alpha.samples.std() - 1.0) < 0.05
    spatial = mc_predict(
        identity_model(layers.SpatialDropout1D(0.5), (7, 30)),
        np.ones((2, 7, 30)),
        20,
        seed=0,
        task="regression",
        return_samples=True,
    )
    assert spatial.samples is not None
    # Whole channels are dropped: every timestep of a channel agrees.
    assert np.all(spatial.samples.min(axis=2) == spatial.samples.max(axis=2))
    assert 0.3 < np.mean(spatial.samples == 0) < 0.7


@pytest.mark.slow
def test_gaussian_noise_is_sampled_only_on_request() -> None:
    model = identity_model(layers.GaussianNoise(0.5), (50,))
    with pytest.raises(ValueError, match="include_gaussian_noise=True"):
        mc_predict(model, np.zeros((2, 50)))
    result = mc_predict(model, np.zeros((2, 50)), 300, seed=0, include_gaussian_noise=True)
    assert abs(result.std.mean() - 0.5) < 0.02


@pytest.mark.slow
def test_mc_dropout_layer_samples_in_predict_and_in_mc_predict() -> None:
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(8), MCDropout(0.5), layers.Dense(2, activation="softmax")]
    )
    x = np.ones((3, 4), "float32")
    assert not np.allclose(model.predict(x, verbose=0), model.predict(x, verbose=0))
    assert mc_predict(model, x, samples=50, seed=0).std.max() > 1e-3


def test_public_names() -> None:
    assert keras_dnnkit.mc_predict is mc_predict
    assert keras_dnnkit.uncertainty.MCPrediction is MCPrediction
    for name in ("mc_predict", "MCPrediction", "uncertainty"):
        assert name in keras_dnnkit.__all__
    for name in keras_dnnkit.uncertainty.__all__:
        assert hasattr(keras_dnnkit.uncertainty, name)


# ---------------------------------------------------------------------- errors
@pytest.mark.slow
def test_model_without_dropout_names_what_was_searched() -> None:
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="no dropout layer") as error:
        mc_predict(model, np.ones((1, 3)))
    for name in ("Dropout", "AlphaDropout", "GaussianDropout"):
        assert name in str(error.value)


@pytest.mark.slow
@pytest.mark.parametrize("samples", [0, -3, 2.5, True])
def test_bad_sample_counts(samples: Any) -> None:
    model = bn_dropout_model()
    with pytest.raises(
        ValueError, match=f"samples must be an integer >= 1. Received: samples={samples!r}"
    ):
        mc_predict(model, np.ones((1, 6)), samples=samples)


@pytest.mark.slow
def test_bad_inputs_and_options() -> None:
    model = bn_dropout_model()
    with pytest.raises(ValueError, match=r"x must be shaped \(inputs, 6\).*x.shape=\(2, 5\)"):
        mc_predict(model, np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"x.shape=\(6,\)"):
        mc_predict(model, np.ones(6))
    with pytest.raises(ValueError, match="takes 1 input"):
        mc_predict(model, [np.ones((2, 6)), np.ones((2, 6))])
    with pytest.raises(ValueError, match="x must hold at least one example"):
        mc_predict(model, np.ones((0, 6)))
    with pytest.raises(ValueError, match="task must be one of"):
        mc_predict(model, np.ones((1, 6)), task="ranking")
    with pytest.raises(ValueError, match="max_rows_per_chunk"):
        mc_predict(model, np.ones((1, 6)), max_rows_per_chunk=0)
    with pytest.raises(ValueError, match="batch_size"):
        mc_predict(model, np.ones((1, 6)), batch_size=0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0 or None. Received: seed=-5"):
        mc_predict(model, np.ones((1, 6)), seed=-5)
    with pytest.raises(ValueError, match="scalar"):
        mc_predict(Wrapper(model), np.float32(1.0))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        MCPrediction.from_samples(np.ones(3))


@pytest.mark.slow
def test_multi_input_functional_model() -> None:
    keras.utils.set_random_seed(4)
    left, right = keras.Input((3,)), keras.Input((2,))
    merged = layers.Concatenate()([layers.Dense(4)(left), right])
    output = layers.Dense(2, activation="softmax")(layers.Dropout(0.5)(merged))
    model = keras.Model([left, right], output)
    result = mc_predict(model, [np.ones((5, 3)), np.zeros((5, 2))], samples=30, seed=0)
    assert result.mean.shape == (5, 2) and result.task == "classification"
