"""The diagnostics on the models people train: a zoo, each checked against a GradientTape.

Each case trains a small model of a kind the Keras guides, keras.applications or keras_hub
use, with ``GradientDiagnostics`` measuring every step, and checks the norms it logged for
the first step against an independent ``GradientTape`` on the same weights and batch (where
one step is comparable: no dropout, one batch). jit_compile, mixed precision,
MirroredStrategy and clipping are covered in test_gradient_diagnostics_compat.py.
"""

from __future__ import annotations

import time
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dnnkit.callbacks import (
    GradientDiagnostics,
    LearningRateLogger,
    MomentumScheduler,
    ReduceLROnPlateau,
)
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import read_scalars
from keras_dnnkit.diagnostics._layer_order import read_layer_order
from keras_dnnkit.schedules import OneCycle
from keras_dnnkit.training import StepOwner

pytestmark = pytest.mark.filterwarnings("ignore::keras_dnnkit.callbacks.DiagnosticsWarning")


def _by_layer(scalars: dict, prefix: str) -> dict[str, dict[int, float]]:
    """``{layer name: {step: value}}`` for one per-layer statistic."""
    found = {}
    for tag, series in scalars.items():
        parsed = _tags.parse_layer_tag(tag)
        if parsed is not None and parsed[0] == prefix:
            found[parsed[1].split(".")[-1]] = dict(series)
    return found


def _layer_order(log_dir) -> list[str]:
    """The measured layers input to output, as the run's layer-order file lists them."""
    return [name.split(".")[-1] for name in read_layer_order(log_dir)]


def _tape_norms(model, x, y, loss_fn=None) -> dict[str, float]:
    """Per layer name: the gradient norm of the compiled loss at the current weights."""
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        if loss_fn is None:
            loss = model.compute_loss(x=x, y=y, y_pred=y_pred)
        else:
            loss = loss_fn(y, y_pred)
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)

    def names(layer):  # the layers of the model and of the models nested in it
        for child in getattr(layer, "layers", []):
            yield child.name
            if isinstance(child, keras.Model):
                yield from names(child)

    known = set(names(model))
    squares: dict[str, float] = {}
    for grad, variable in zip(grads, variables, strict=True):
        if grad is None:
            continue
        parts = variable.path.split("/")[:-1]
        layer = next((p for p in reversed(parts) if p in known), parts[-1] if parts else "")
        squares[layer] = squares.get(layer, 0.0) + float(tf.reduce_sum(tf.square(grad)))
    return {name: float(np.sqrt(value)) for name, value in squares.items()}


def _first_step_matches_tape(model, x, y, tmp_path, rtol=1e-4, **fit):
    """Fit one full batch with diagnostics every step; compare step 1 with a tape."""
    expected = _tape_norms(model, x, y)
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=1, warn=False)
    batch = len(keras.tree.flatten(x)[0])
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0,
              callbacks=[diagnostics], **fit)  # fmt: skip
    scalars = read_scalars(tmp_path)
    logged = {name: series[1] for name, series in _by_layer(scalars, _tags.GRADIENT_NORM).items()}
    assert set(logged) == set(expected)
    for name, norm in expected.items():
        assert logged[name] == pytest.approx(norm, rel=rtol, abs=1e-7), name
    return diagnostics, scalars


def _images(n=16, size=16, channels=3, classes=4):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, size, size, channels)).astype("float32")
    return x, rng.integers(0, classes, n)


# ---------------------------------------------------------------- kinds of models
@pytest.mark.slow
def test_batch_norm_cnn(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(8, 3, use_bias=False, name="conv_1"),
        keras.layers.BatchNormalization(name="bn_1"),
        keras.layers.ReLU(),
        keras.layers.Conv2D(8, 3, use_bias=False, name="conv_2"),
        keras.layers.BatchNormalization(name="bn_2"),
        keras.layers.ReLU(),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(4, name="head"),
    ])  # fmt: skip
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    diagnostics, scalars = _first_step_matches_tape(model, *_images(), tmp_path)
    assert _layer_order(tmp_path) == ["conv_1", "bn_1", "conv_2", "bn_2", "head"]
    assert not diagnostics.findings


@pytest.mark.slow
def test_mobilenet_v2(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(32, 32, 3), weights=None, classes=4
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    x, y = _images(n=8, size=32)
    _, scalars = _first_step_matches_tape(model, x, y, tmp_path, rtol=1e-3)
    order = _layer_order(tmp_path)
    assert order[0] == "Conv1" and order[-1] == "predictions"
    flow = _by_layer(scalars, _tags.GRADIENT_FLOW)
    assert flow["predictions"][1] == pytest.approx(1.0)


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["LSTM", "SimpleRNN"])
def test_recurrent(tmp_path, cell):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6,), dtype="int32"),
        keras.layers.Embedding(20, 8, name="embed"),
        getattr(keras.layers, cell)(8, name="rnn"),
        keras.layers.Dense(3, name="head"),
    ])  # fmt: skip
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.integers(1, 20, (16, 6)), rng.integers(0, 3, 16)
    _, scalars = _first_step_matches_tape(model, x, y, tmp_path)
    assert _layer_order(tmp_path) == ["embed", "rnn", "head"]


def _transformer(maxlen=8, vocabulary=30, dim=16):
    """keras.io's 'text classification with Transformer' block, with a padding mask."""
    inputs = keras.Input((maxlen,), dtype="int32")
    x = keras.layers.Embedding(vocabulary, dim, mask_zero=True, name="tokens")(inputs)
    attention = keras.layers.MultiHeadAttention(2, dim // 2, name="attention")(x, x)
    x = keras.layers.LayerNormalization(name="norm_1")(x + attention)
    ffn = keras.layers.Dense(dim, activation="relu", name="ffn_1")(x)
    ffn = keras.layers.Dense(dim, name="ffn_2")(ffn)
    x = keras.layers.LayerNormalization(name="norm_2")(x + ffn)
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="classifier")(x))


@pytest.mark.slow
def test_masked_transformer_block(tmp_path):
    keras.utils.set_random_seed(0)
    model = _transformer()
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.integers(1, 30, (16, 8))
    x[:, 5:] = 0  # padding
    _, scalars = _first_step_matches_tape(model, x, rng.integers(0, 2, 16), tmp_path)
    order = _layer_order(tmp_path)
    assert order[0] == "tokens" and order[-1] == "classifier"
    assert order.index("attention") < order.index("ffn_1") < order.index("ffn_2")


@pytest.mark.slow
def test_two_inputs_two_outputs_and_a_shared_layer(tmp_path):
    keras.utils.set_random_seed(0)
    a, b = keras.Input((5,), name="a"), keras.Input((5,), name="b")
    shared = keras.layers.Dense(8, activation="relu", name="shared")
    merged = keras.layers.Concatenate()([shared(a), shared(b)])
    score = keras.layers.Dense(1, name="score")(merged)
    label = keras.layers.Dense(3, name="label")(keras.layers.Dense(6, name="trunk")(merged))
    model = keras.Model([a, b], {"score": score, "label": label})
    model.compile("adam", {"score": "mse", "label": "sparse_categorical_crossentropy"})
    rng = np.random.default_rng(0)
    x = [rng.standard_normal((16, 5)).astype("float32") for _ in range(2)]
    y = {"score": rng.standard_normal((16, 1)).astype("float32"), "label": rng.integers(0, 3, 16)}
    _, scalars = _first_step_matches_tape(model, x, y, tmp_path)
    flow = _by_layer(scalars, _tags.GRADIENT_FLOW)
    norms = _by_layer(scalars, _tags.GRADIENT_NORM)
    # the reference is the stronger of the two output heads
    stronger = max(("score", "label"), key=lambda name: norms[name][1])
    assert flow[stronger][1] == pytest.approx(1.0)
    assert flow["trunk"][1] == pytest.approx(norms["trunk"][1] / norms[stronger][1], rel=1e-5)


class _Subclassed(keras.Model):
    """Attributes in another order than the call; a scalar weight of the model's own."""

    def __init__(self):
        super().__init__(name="subclassed")
        self.head = keras.layers.Dense(3, name="head")
        self.hidden_2 = keras.layers.Dense(8, activation="relu", name="hidden_2")
        self.hidden_1 = keras.layers.Dense(8, activation="relu", name="hidden_1")

    def build(self, input_shape):
        self.temperature = self.add_weight(shape=(), initializer="ones", name="temperature")

    def call(self, x):
        return self.head(self.hidden_2(self.hidden_1(x))) * self.temperature


@pytest.mark.slow
def test_subclassed_model_unbuilt_before_fit(tmp_path):
    keras.utils.set_random_seed(0)
    model = _Subclassed()
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 5)).astype("float32"), rng.integers(0, 3, 16)
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=1, warn=False)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[diagnostics])  # built in fit
    scalars = read_scalars(tmp_path)
    assert _layer_order(tmp_path)[:3] == ["hidden_1", "hidden_2", "head"]  # call order
    flow = _by_layer(scalars, _tags.GRADIENT_FLOW)
    assert flow["head"][1] == pytest.approx(1.0)  # not the scalar weight
    # step 2 against a tape: the weights after step 1 are the model's weights before step 2
    expected = _tape_norms(model, x, y)  # weights after step 2; compare step 3 after one more
    more = GradientDiagnostics(tmp_path / "more", every_n_steps=1, warn=False)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[more])
    logged = {
        n: s[3] for n, s in _by_layer(read_scalars(tmp_path / "more"), _tags.GRADIENT_NORM).items()
    }
    for name in ("hidden_1", "hidden_2", "head"):
        assert logged[name] == pytest.approx(expected[name], rel=1e-4)


class _CustomTrainStep(keras.Model):
    """The Keras guide's 'customizing what happens in fit' pattern."""

    def __init__(self):
        super().__init__(name="custom_train_step")
        self.hidden = keras.layers.Dense(8, activation="tanh", name="hidden")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = keras.ops.mean(keras.ops.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return {"loss": loss}


@pytest.mark.slow
def test_custom_train_step(tmp_path):
    keras.utils.set_random_seed(0)
    model = _CustomTrainStep()
    model.compile(keras.optimizers.SGD(0.01))
    rng = np.random.default_rng(0)
    x, y = (
        rng.standard_normal((16, 4)).astype("float32"),
        rng.standard_normal((16, 1)).astype("float32"),
    )
    model(x)  # weights to compare with; the step itself would build them too
    expected = _tape_norms(
        model, x, y, loss_fn=lambda y, p: keras.ops.mean(keras.ops.square(p - y))
    )
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=1, warn=False)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[diagnostics])
    logged = {n: s[1] for n, s in _by_layer(read_scalars(tmp_path), _tags.GRADIENT_NORM).items()}
    assert logged == pytest.approx(expected, rel=1e-4)


class _GAN(keras.Model):
    """The DCGAN guide's pattern: super().compile(), two optimizers of its own."""

    def __init__(self):
        super().__init__(name="gan")
        self.generator = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="g_hidden"),
             keras.layers.Dense(6, name="g_out")], name="generator")  # fmt: skip
        self.discriminator = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="d_hidden"),
             keras.layers.Dense(1, name="d_out")], name="discriminator")  # fmt: skip

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def train_step(self, real):
        noise = tf.random.normal((tf.shape(real)[0], 4))
        with tf.GradientTape() as tape:
            fake = self.generator(noise)
            logits = self.discriminator(tf.concat([fake, real], 0))
            labels = tf.concat([tf.ones_like(logits[: tf.shape(real)[0]]),
                                tf.zeros_like(logits[: tf.shape(real)[0]])], 0)  # fmt: skip
            d_loss = self.bce(labels, logits)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_weights, strict=False)
        )
        with tf.GradientTape() as tape:
            logits = self.discriminator(self.generator(tf.random.normal((tf.shape(real)[0], 4))))
            g_loss = self.bce(tf.zeros_like(logits), logits)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights, strict=False))
        return {"d_loss": d_loss, "g_loss": g_loss}


@pytest.mark.slow
def test_a_gan_with_two_optimizers_of_its_own(tmp_path):
    keras.utils.set_random_seed(0)
    model = _GAN()
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    real = np.random.default_rng(0).standard_normal((32, 6)).astype("float32")
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=2, warn=False)
    model.fit(real, batch_size=8, epochs=2, verbose=0, callbacks=[diagnostics])
    scalars = read_scalars(tmp_path)
    norms = _by_layer(scalars, _tags.GRADIENT_NORM)
    assert {"d_hidden", "d_out", "g_hidden", "g_out"} <= set(norms)
    assert sorted(norms["g_out"]) == [2, 4, 6, 8]  # the generator optimizer's steps
    assert any(t.startswith(_tags.GRADIENT_GLOBAL_NORM + "/") for t in scalars)  # the second one


@pytest.mark.slow
def test_fine_tuning_recompile_with_the_same_callback(tmp_path):
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, name="base_dense")], name="base"
    )
    model = keras.Sequential([keras.Input((5,)), base, keras.layers.Dense(2, name="top")])
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 5)).astype("float32"), rng.integers(0, 2, 32)
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=2, warn=False)
    base.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[diagnostics])
    assert set(_by_layer(read_scalars(tmp_path), _tags.GRADIENT_NORM)) == {"top"}
    base.trainable = True
    model.compile(keras.optimizers.Adam(1e-5), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[diagnostics])
    norms = _by_layer(read_scalars(tmp_path), _tags.GRADIENT_NORM)
    assert set(norms["base_dense"]) == {2, 4}  # the new optimizer counts from 0 again
    assert diagnostics.last_logged_step == 4


@pytest.mark.slow
def test_steps_per_execution_keeps_every_logging_step(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    model.compile("sgd", "mse", steps_per_execution=8)
    x = np.random.default_rng(0).standard_normal((64, 4)).astype("float32")
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=5, warn=False)
    model.fit(x, np.ones(64, "float32"), batch_size=2, epochs=1, verbose=0, callbacks=[diagnostics])
    steps = [s for s, _ in read_scalars(tmp_path)[_tags.GRADIENT_GLOBAL_NORM]]
    assert steps == [5, 10, 15, 20, 25, 30]


# ---------------------------------------------------------------- our callbacks together
def _mlp(optimizer):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(16, activation="elu", name="hidden"),
        keras.layers.Dense(3, name="out"),
    ])  # fmt: skip
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])  # fmt: skip
    return model


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((64, 6)).astype("float32"), rng.integers(0, 3, 64)


@pytest.mark.slow
def test_all_our_callbacks_with_keras_own_keep_the_lean_step_and_log_the_same(tmp_path):
    x, y = _data()
    schedule = OneCycle(1e-2, total_steps=16)
    alone = _mlp(keras.optimizers.Nadam(schedule))
    alone.fit(x, y, batch_size=16, epochs=4, verbose=0, callbacks=[
        MomentumScheduler(),
        GradientDiagnostics(tmp_path / "alone", every_n_steps=4, warn=False),
    ])  # fmt: skip

    def ours(log_dir):
        return [
            ReduceLROnPlateau("val_loss", factor=0.5, patience=100),
            LearningRateLogger(tmp_path / f"lr_{log_dir}"),
            GradientDiagnostics(tmp_path / log_dir, every_n_steps=4, warn=False),
            MomentumScheduler(),
        ]

    def keras_own(name):
        return [
            keras.callbacks.ModelCheckpoint(tmp_path / f"{name}.keras"),
            keras.callbacks.BackupAndRestore(tmp_path / f"backup_{name}"),
            keras.callbacks.EarlyStopping(patience=100),
        ]

    owners = []
    for _name, callbacks in (
        ("together", ours("together")[:2] + keras_own("together") + ours("together")[2:]),
        ("reversed", list(reversed(ours("reversed") + keras_own("reversed")))),
    ):
        model = _mlp(keras.optimizers.Nadam(OneCycle(1e-2, total_steps=16)))
        model.fit(x, y, batch_size=16, epochs=4, verbose=0, validation_data=(x, y),
                  callbacks=callbacks)  # fmt: skip
        owners.append(StepOwner.of(model))
    assert read_scalars(tmp_path / "reversed") == read_scalars(tmp_path / "together")
    a, b = read_scalars(tmp_path / "alone"), read_scalars(tmp_path / "together")
    assert set(a) == set(b)
    for tag in a:
        assert [v for _, v in b[tag]] == pytest.approx([v for _, v in a[tag]], rel=1e-5), tag
    momentum = dict(b[_tags.MOMENTUM])
    assert momentum[4] == pytest.approx(float(schedule.momentum_schedule(3)), rel=1e-5)
    assert len(set(momentum.values())) > 1  # the scheduled momentum, not the configured one
    assert [owner.traces for owner in owners] == [2, 2]  # one lean and one measuring step


@pytest.mark.slow
def test_a_later_fit_reuses_the_traced_steps(tmp_path):
    x, y = _data()
    model = _mlp("adam")
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=4, warn=False)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[diagnostics])
    owner = StepOwner.of(model)
    traces = owner.traces
    start = time.perf_counter()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[diagnostics])
    later = time.perf_counter() - start
    assert owner.traces == traces  # nothing traced again
    assert later < 2.0  # generous: a re-trace takes several seconds here
    steps = [s for s, _ in read_scalars(tmp_path)[_tags.GRADIENT_GLOBAL_NORM]]
    assert steps == [4, 8]
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)  # plain Keras again
    assert "_backend_apply_gradients" not in vars(model.optimizer)


# ---------------------------------------------------------------- arguments
@pytest.mark.parametrize(
    ("arguments", "error", "match"),
    [
        ({"log_dir": None}, TypeError, "log_dir"),
        ({"log_dir": 3}, TypeError, "log_dir"),
        ({"thresholds": {"window": 3, "ratio": 2}}, ValueError, "unknown keys"),
        ({"thresholds": 0.5}, TypeError, "thresholds"),
        ({"every_n_steps": 0}, ValueError, "every_n_steps"),
        ({"warn": "yes"}, TypeError, "warn"),
    ],
)
def test_bad_arguments_fail_at_construction(tmp_path, arguments, error, match):
    arguments = {"log_dir": tmp_path, **arguments}
    with pytest.raises(error, match=match):
        GradientDiagnostics(**arguments)


def test_a_log_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        GradientDiagnostics(tmp_path / "file")
    with pytest.raises(ValueError, match="cannot be created|can be created"):
        GradientDiagnostics(tmp_path / "file" / "below")


def test_thresholds_as_a_dict(tmp_path):
    assert GradientDiagnostics(tmp_path, thresholds={"window": 3}).thresholds.window == 3


def test_momentum_scheduler_checks_its_schedule():
    with pytest.raises(TypeError, match="schedule"):
        MomentumScheduler(0.9)  # type: ignore[arg-type]


@pytest.mark.slow
def test_no_warning_on_logging(tmp_path):
    x, y = _data()
    model = _mlp("adam")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                  callbacks=[GradientDiagnostics(tmp_path, every_n_steps=1, warn=False)])  # fmt: skip


def test_momentum_scheduler_refuses_a_momentum_outside_0_1():
    model = _mlp(keras.optimizers.SGD(0.01, momentum=0.9))
    x, y = _data()
    with pytest.raises(ValueError, match=r"\[0, 1\).*schedule\(0\)=1.5"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[MomentumScheduler(lambda step: 1.5)])
    assert "_backend_apply_gradients" not in vars(model.optimizer)
