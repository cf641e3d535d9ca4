"""Built-in components behave as the seeds describe, in real training of tiny models."""

import keras
import numpy as np
import pytest

import keras_dnnkit
from keras_dnnkit.data import load_digits


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def dense_stack(digits, **dense_options):
    model = keras.Sequential([keras.Input((digits.x_train.shape[1],))])
    for _ in range(2):
        model.add(keras.layers.Dense(32, **dense_options))
    model.add(keras.layers.Dense(digits.num_classes, activation="softmax"))
    return model


@pytest.mark.slow
def test_max_norm_keeps_every_units_incoming_weights_within_the_radius(digits):
    keras.utils.set_random_seed(0)
    model = dense_stack(
        digits,
        activation="relu",
        kernel_initializer=keras_dnnkit.get("initializer", "random_normal", stddev=1.0),
        kernel_constraint=keras_dnnkit.get("constraint", "max_norm", max_value=0.5),
    )
    model.compile(
        optimizer=keras_dnnkit.get("optimizer", "sgd", learning_rate=0.1),
        loss="sparse_categorical_crossentropy",
    )
    model.fit(digits.x_train[:256], digits.y_train[:256], batch_size=64, epochs=1, verbose=0)
    for layer in model.layers[:2]:
        norms = np.linalg.norm(layer.kernel.numpy(), axis=0)  # one norm per unit
        assert norms.max() <= 0.5 + 1e-5
        assert norms.max() > 0.45  # the constraint was active, not vacuous


@pytest.mark.slow
@pytest.mark.parametrize("name", keras_dnnkit.names("optimizer"))
def test_every_optimizer_trains_with_gradient_clipping(digits, name):
    keras.utils.set_random_seed(0)
    model = dense_stack(digits, activation="elu", kernel_initializer="he_normal")
    optimizer = keras_dnnkit.get("optimizer", name, learning_rate=1e-2, clipnorm=1.0)
    assert optimizer.clipnorm == 1.0
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    history = model.fit(
        digits.x_train[:512], digits.y_train[:512], batch_size=64, epochs=2, verbose=0
    )
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_global_clipnorm_and_clipvalue_are_accepted():
    assert keras_dnnkit.get("optimizer", "nesterov", global_clipnorm=2.0).global_clipnorm == 2.0
    assert keras_dnnkit.get("optimizer", "rmsprop", clipvalue=0.5).clipvalue == 0.5


@pytest.mark.parametrize(
    ("name", "fan", "variance"),
    [
        ("he_normal", "in", 2.0),
        ("he_avg_normal", "avg", 2.0),
        ("he_avg_uniform", "avg", 2.0),
        ("glorot_uniform", "avg", 1.0),
        ("xavier_normal", "avg", 1.0),
        ("lecun_normal", "in", 1.0),
        ("standard_normal", None, 1.0),
    ],
)
def test_initializer_variances_match_their_definition(name, fan, variance):
    fan_in, fan_out = 200, 600
    weights = keras.ops.convert_to_numpy(
        keras_dnnkit.get("initializer", name, seed=1)((fan_in, fan_out))
    )
    expected = {
        "in": variance / fan_in,
        "avg": variance / ((fan_in + fan_out) / 2),
        None: variance,
    }[fan]
    assert weights.var() == pytest.approx(expected, rel=0.05)


def test_randomized_leaky_relu_random_in_training_mean_slope_at_inference():
    layer = keras_dnnkit.get("layer", "randomized_leaky_relu", lower=0.1, upper=0.3, seed=3)
    x = -np.ones((1000,), dtype="float32")
    inference = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(inference, -0.2, rtol=1e-6)
    training = keras.ops.convert_to_numpy(layer(x, training=True))
    assert training.min() >= -0.3 - 1e-6 and training.max() <= -0.1 + 1e-6
    assert training.std() > 0.04  # slopes differ per unit (uniform on [0.1, 0.3]: std 0.058)
    positive = keras.ops.convert_to_numpy(layer(np.array([2.0], dtype="float32"), training=True))
    np.testing.assert_array_equal(positive, [2.0])


@pytest.mark.slow
def test_rrelu_as_the_activation_of_a_dense_layer_trains(digits):
    keras.utils.set_random_seed(0)
    model = dense_stack(digits, activation=keras_dnnkit.get("activation", "randomized_leaky_relu"))
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(digits.x_train, digits.y_train, batch_size=64, epochs=3, verbose=0)
    assert model.evaluate(digits.x_valid, digits.y_valid, verbose=0)[1] > 0.8


@pytest.mark.slow
def test_maxout_layer_trains_on_digits(digits):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64),
            keras_dnnkit.get("layer", "maxout", units=16),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(digits.x_train, digits.y_train, batch_size=64, epochs=3, verbose=0)
    assert model.output_shape == (None, 10)
    assert model.layers[1].output.shape == (None, 16)
    assert model.evaluate(digits.x_valid, digits.y_valid, verbose=0)[1] > 0.8


def test_power_and_exponential_schedules_follow_the_seed_formulas():
    steps = np.arange(0, 500, 7)
    for c in (0.5, 1.0, 2.0):
        power = keras_dnnkit.get(
            "schedule", "power", initial_learning_rate=0.2, decay_steps=40, power=c
        )
        got = np.array([float(power(s)) for s in steps])
        np.testing.assert_allclose(got, 0.2 / (1 + steps / 40) ** c, rtol=1e-6)
    exponential = keras_dnnkit.get(
        "schedule", "exponential", initial_learning_rate=0.2, decay_steps=40
    )
    got = np.array([float(exponential(s)) for s in steps])
    np.testing.assert_allclose(got, 0.2 * 0.1 ** (steps / 40), rtol=1e-5)


@pytest.mark.parametrize(
    ("kind", "name", "config", "message"),
    [
        ("constraint", "max_norm", {"max_value": -1.0}, "max_value must be > 0. Received: max_value=-1.0"),
        ("constraint", "min_max_norm", {"min_value": 2.0, "max_value": 1.0}, "max_value must be >= min_value"),
        ("constraint", "min_max_norm", {"rate": 0.0}, "rate must be in \\(0, 1\\]"),
        ("constraint", "min_max_norm", {"min_value": -1.0}, "min_value must be >= 0"),
        ("schedule", "power", {"initial_learning_rate": 0.1, "decay_steps": 0}, "decay_steps must be > 0. Received: decay_steps=0"),
        ("schedule", "power", {"initial_learning_rate": 0.1, "decay_steps": 5, "power": -1}, "power must be >= 0"),
        ("schedule", "exponential", {"initial_learning_rate": 0.1, "decay_steps": 0}, "decay_steps must be > 0"),
        ("optimizer", "momentum", {"momentum": 1.0}, "momentum must be in \\[0, 1\\). Received: momentum=1.0"),
        ("optimizer", "nesterov", {"momentum": -0.1}, "momentum must be in \\[0, 1\\)"),
        ("layer", "maxout", {"units": 0}, "units must be > 0. Received: units=0"),
        ("layer", "randomized_leaky_relu", {"lower": 0.5, "upper": 0.1}, "upper must be >= lower"),
        ("layer", "randomized_leaky_relu", {"lower": -0.5}, "lower must be >= 0"),
    ],
)  # fmt: skip
def test_bad_configuration_values_raise_value_errors(kind, name, config, message):
    with pytest.raises(ValueError, match=message):
        keras_dnnkit.get(kind, name, **config)


def test_maxout_rejects_a_feature_size_it_cannot_group():
    with pytest.raises(
        ValueError, match="multiple of units=3. Received: input_shape=\\(None, 8\\)"
    ):
        keras.Sequential([keras.Input((8,)), keras_dnnkit.layers.Maxout(3)])


def test_digits_split_is_standardized_and_disjoint():
    split = load_digits(seed=1)
    assert abs(split.x_train.mean()) < 1e-5
    assert len(split.x_train) + len(split.x_valid) + len(split.x_test) == 1797
    with pytest.raises(ValueError, match="validation_fraction must be in \\(0, 1\\)"):
        load_digits(validation_fraction=1.5)
    with pytest.raises(ValueError, match="must be < 1"):
        load_digits(validation_fraction=0.6, test_fraction=0.5)
