"""GradientDiagnostics on real training: the seeds' experiments, TensorBoard output, findings."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_dnnkit
from keras_dnnkit.callbacks import DiagnosticsWarning, GradientDiagnostics
from keras_dnnkit.data import load_digits
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import read_histogram_tags, read_scalars, read_texts
from keras_dnnkit.diagnostics._tensorboard import layout_proto
from keras_dnnkit.errors import NonfiniteGradientsError

DEPTH = 20
EVERY = 10


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def deep_mlp(activation: str, initializer, batch_norm: bool = False) -> keras.Model:
    layers: list = [keras.Input((64,))]
    for i in range(DEPTH):
        layers.append(
            keras.layers.Dense(
                32,
                activation=None if batch_norm else activation,
                kernel_initializer=initializer,
                name=f"hidden_{i:02d}",
            )
        )
        if batch_norm:
            layers += [
                keras.layers.BatchNormalization(name=f"bn_{i:02d}"),
                keras.layers.Activation(activation),
            ]
    layers.append(keras.layers.Dense(10, activation="softmax", name="output"))
    return keras.Sequential(layers)


def train(model, digits, log_dir, epochs=3, optimizer=None, **callback_args):
    model.compile(optimizer or keras.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    callback = GradientDiagnostics(log_dir, every_n_steps=EVERY, **callback_args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(
            digits.x_train[:1280],
            digits.y_train[:1280],
            batch_size=32,
            epochs=epochs,
            verbose=0,
            callbacks=[callback],
        )
    ours = [w for w in caught if issubclass(w.category, DiagnosticsWarning)]
    return callback, ours


@pytest.fixture(scope="module")
def sigmoid_run(digits, tmp_path_factory):
    keras.utils.set_random_seed(0)
    log_dir = tmp_path_factory.mktemp("sigmoid")
    model = deep_mlp("sigmoid", keras.initializers.RandomNormal(stddev=0.1))
    callback, caught = train(model, digits, log_dir, histogram_every_n_steps=40)
    return model, callback, caught, log_dir


@pytest.fixture(scope="module")
def elu_run(digits, tmp_path_factory):
    keras.utils.set_random_seed(0)
    log_dir = tmp_path_factory.mktemp("elu")
    model = deep_mlp("elu", "he_normal", batch_norm=True)
    callback, caught = train(model, digits, log_dir, epochs=2)
    return model, callback, caught, log_dir


# ---------------------------------------------------------------- the seeds' experiment
@pytest.mark.slow
def test_deep_sigmoid_with_small_random_init_is_reported_as_vanishing(sigmoid_run):
    _, callback, caught, log_dir = sigmoid_run
    vanishing = [f for f in callback.findings if f.problem == "vanishing_gradients"]
    assert vanishing, callback.findings
    assert vanishing[0].layer == "hidden_00"
    assert "He initialization" in vanishing[0].advice
    # once per problem per epoch: 3 epochs, 3 reports at most
    assert 1 <= len(vanishing) <= 3
    assert len([w for w in caught if "vanishing" in str(w.message)]) == len(vanishing)
    flow = read_scalars(log_dir)[_tags.layer_tag(_tags.GRADIENT_FLOW, 0, "hidden_00")]
    assert np.median([v for _, v in flow]) < 1e-3


@pytest.mark.slow
def test_he_elu_batch_norm_twin_is_not_reported(elu_run):
    _, callback, caught, log_dir = elu_run
    assert callback.findings == []
    assert caught == []
    flow = read_scalars(log_dir)[_tags.layer_tag(_tags.GRADIENT_FLOW, 0, "hidden_00")]
    assert np.median([v for _, v in flow]) > 0.1


@pytest.mark.slow
def test_event_files_hold_every_layer_in_network_order(sigmoid_run):
    model, callback, _, log_dir = sigmoid_run
    scalars = read_scalars(log_dir)
    norm_tags = sorted(t for t in scalars if t.startswith(_tags.GRADIENT_NORM + "/"))
    layers = [_tags.parse_layer_tag(t)[1] for t in norm_tags]
    assert layers == [f"hidden_{i:02d}" for i in range(DEPTH)] + ["output"]
    steps = [s for s, _ in scalars[_tags.GRADIENT_GLOBAL_NORM]]
    assert steps == list(range(EVERY, 121, EVERY))  # 3 epochs x 40 steps, optimizer steps
    assert int(model.optimizer.iterations) == 120 == callback.last_logged_step
    for prefix in (_tags.GRADIENT_MEAN_ABS, _tags.GRADIENT_MAX_ABS, _tags.UPDATE_RATIO):
        assert _tags.layer_tag(prefix, DEPTH, "output") in scalars
    assert scalars[_tags.LEARNING_RATE][0][1] == pytest.approx(0.01)
    assert scalars[_tags.MOMENTUM][0][1] == 0.0
    assert scalars[_tags.layer_tag(_tags.GRADIENT_FLOW, DEPTH, "output")][0][1] == 1.0
    # global norm is the root of the summed squared layer norms
    norms = [scalars[t][-1][1] for t in norm_tags]
    assert scalars[_tags.GRADIENT_GLOBAL_NORM][-1][1] == pytest.approx(np.linalg.norm(norms))


@pytest.mark.slow
def test_histograms_are_sampled_and_layout_and_findings_written(sigmoid_run):
    _, _, _, log_dir = sigmoid_run
    histograms = read_histogram_tags(log_dir)
    tag = _tags.layer_tag(_tags.GRADIENT_HISTOGRAM, 0, "hidden_00")
    assert histograms[tag] == [40, 80, 120]
    assert len(histograms) == DEPTH + 1
    texts = read_texts(log_dir)
    assert any("vanishing gradients" in text for _, text in texts[_tags.FINDINGS])
    layouts = []
    for path in tf.io.gfile.glob(f"{log_dir}/*tfevents*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            layouts += [v for v in event.summary.value if v.tag == "custom_scalars__config__"]
    assert len(layouts) == 1
    from tensorboard.plugins.custom_scalar import layout_pb2

    layout = layout_pb2.Layout.FromString(tf.make_ndarray(layouts[0].tensor).item())
    assert layout == layout_proto([f"hidden_{i:02d}" for i in range(DEPTH)] + ["output"])
    assert [len(c.multiline.tag[0].split("|")) for c in layout.category[0].chart] == [11, 10]


@pytest.mark.slow
def test_the_optimizer_and_train_step_are_given_back(sigmoid_run):
    model, _, _, _ = sigmoid_run
    assert "_backend_apply_gradients" not in vars(model.optimizer)
    # Keras' own (plain) train function is back, so a later plain fit reuses it.
    assert model.train_function is not None
    assert type(model.train_function).__name__ != "_Dispatcher"


# ---------------------------------------------------------------- exploding / NaN drill
JUMP_AT = 30


class _JumpingRate(keras.optimizers.schedules.LearningRateSchedule):
    """0.01 until step JUMP_AT, then 10x more every step (drives the network to explode)."""

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        return 0.01 * keras.ops.power(10.0, keras.ops.maximum(step - JUMP_AT, 0.0))


def explode_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((64,))]
        + [keras.layers.Dense(32, activation="elu", name=f"hidden_{i}") for i in range(4)]
        + [keras.layers.Dense(10, name="output")]
    )
    model.compile(
        keras.optimizers.SGD(_JumpingRate()),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def first_nonfinite_step(digits, steps: int) -> tuple[int, str]:
    """Independently: a manual loop with a GradientTape, the same model, rate and batch."""
    model = explode_model()
    x, y = digits.x_train[:256], digits.y_train[:256]
    for step in range(1, steps + 1):
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        bad = [
            v.path
            for g, v in zip(grads, model.trainable_variables, strict=False)
            if not np.isfinite(g).all()
        ]
        if bad:
            return step, bad[-1].split("/")[-2]
        model.optimizer.apply(grads, model.trainable_variables)
    raise AssertionError("the drill never produced non-finite gradients")


def explode(digits, log_dir, on_nonfinite, every=EVERY):
    model = explode_model()
    callback = GradientDiagnostics(log_dir, every_n_steps=every, on_nonfinite=on_nonfinite)
    x, y = digits.x_train[:256], digits.y_train[:256]
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        model.fit(x, y, batch_size=256, epochs=60, shuffle=False, verbose=0, callbacks=[callback])
    return model, callback


@pytest.fixture(scope="module")
def nan_step(digits):
    return first_nonfinite_step(digits, 60)


@pytest.mark.slow
def test_explosion_is_reported_and_nan_caught_at_the_right_step(digits, nan_step, tmp_path):
    model, callback = explode(digits, tmp_path, "warn", every=2)
    problems = [f.problem for f in callback.findings]
    assert "exploding_gradients" in problems
    assert "nonfinite_gradients" in problems
    exploding = problems.index("exploding_gradients")
    assert exploding < problems.index("nonfinite_gradients")
    nonfinite = next(f for f in callback.findings if f.problem == "nonfinite_gradients")
    assert (nonfinite.step, nonfinite.layer) == nan_step
    scalars = read_scalars(tmp_path)
    assert scalars[_tags.NONFINITE_STEP] == [(nan_step[0], float(nan_step[0]))]
    # "warn" does not skip: NaN reached the weights
    assert not all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.slow
def test_stop_skips_the_bad_update_and_ends_training(digits, nan_step, tmp_path):
    model, callback = explode(digits, tmp_path, "stop")
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert int(model.optimizer.iterations) == nan_step[0]  # stopped at the end of that step
    assert callback.findings[-1].step == nan_step[0]


@pytest.mark.slow
def test_raise_names_the_layer_and_step_and_restores_the_optimizer(digits, nan_step, tmp_path):
    model = explode_model()
    callback = GradientDiagnostics(tmp_path, every_n_steps=1000, on_nonfinite="raise")
    x, y = digits.x_train[:256], digits.y_train[:256]
    with pytest.raises(NonfiniteGradientsError, match=f"step {nan_step[0]}") as raised:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(
                x, y, batch_size=256, epochs=60, shuffle=False, verbose=0, callbacks=[callback]
            )
    assert (raised.value.step, raised.value.layer) == nan_step
    assert nan_step[1] in str(raised.value)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert "_backend_apply_gradients" not in vars(model.optimizer)


# ---------------------------------------------------------------- API
def test_registered_and_exported():
    callback = keras_dnnkit.get("callback", "gradient_diagnostics", log_dir="runs/x")
    assert isinstance(callback, GradientDiagnostics)
    assert keras_dnnkit.diagnostics.GradientDiagnostics is GradientDiagnostics
    assert GradientDiagnostics.from_config(callback.get_config()).get_config() == (
        callback.get_config()
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"every_n_steps": 0}, "every_n_steps must be an integer >= 1. Received: every_n_steps=0"),
        ({"every_n_steps": 2.5}, "Received: every_n_steps=2.5"),
        ({"histogram_every_n_steps": 150}, "multiple of every_n_steps"),
        ({"on_nonfinite": "ignore"}, "'warn', 'stop', 'raise'. Received: on_nonfinite='ignore'"),
        ({"histogram_sample_size": 0}, "histogram_sample_size must be an integer >= 1"),
        ({"log_dir": ""}, "log_dir must be a directory path"),
    ],
)
def test_bad_arguments_say_what_is_allowed(arguments, message):
    arguments = {"log_dir": "runs/x", **arguments}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        GradientDiagnostics(**arguments)


def test_needs_a_compiled_model(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    callback = GradientDiagnostics(tmp_path)
    callback.set_model(model)
    with pytest.raises(ValueError, match="compiled model"):
        callback.on_train_begin()
