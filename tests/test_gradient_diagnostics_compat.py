"""GradientDiagnostics under XLA, multi-step execution, mixed precision, clipping, MirroredStrategy.

It measures the gradients that are applied, and leaves saving, loading and resuming intact.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dnnkit import _compat
from keras_dnnkit.callbacks import GradientDiagnostics
from keras_dnnkit.data import load_digits
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import read_scalars, read_texts
from keras_dnnkit.diagnostics._tensorboard import FROZEN_LAYERS
from keras_dnnkit.training import StepOwner

TESTS = Path(__file__).parent
STEPS, EVERY, BATCH = 6, 2, 16
LAYERS = ["inner/a", "inner/bn", "out"]  # "frozen" is skipped


@pytest.fixture(scope="module")
def batch():
    split = load_digits()
    return split.x_train[:64], split.y_train[:64]


def build(clipnorm=None, jit_compile=False, steps_per_execution=1) -> keras.Model:
    """A nested model with a multi-variable layer (batch norm) and a frozen layer."""
    keras.utils.set_random_seed(7)
    inner = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(24, activation="elu", name="a"),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="inner",
    )
    frozen = keras.layers.Dense(16, activation="elu", name="frozen")
    frozen.trainable = False
    model = keras.Sequential(
        [keras.Input((64,)), inner, frozen, keras.layers.Dense(10, name="out")], name="outer"
    )
    model.compile(
        keras.optimizers.SGD(0.05, clipnorm=clipnorm),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


class _Weights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.after = [self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        self.after.append(self.model.get_weights())


def reference(x, y, clipnorm):
    """Per logged step and layer: the tape gradient norm and ||delta w|| / ||w||, one device."""
    model = build(clipnorm)
    weights = _Weights()
    model.fit(x, y, batch_size=BATCH, epochs=STEPS * BATCH // len(x) + 1, shuffle=False,
              verbose=0, callbacks=[weights], steps_per_epoch=None)  # fmt: skip
    paths = {id(v): v.path for v in model.trainable_variables}
    expected = {}
    for step in range(EVERY, STEPS + 1, EVERY):
        model.set_weights(weights.after[step - 1])
        start = (step - 1) % (len(x) // BATCH) * BATCH
        xb, yb = x[start : start + BATCH], y[start : start + BATCH]
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=xb, y=yb, y_pred=model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        before, after = weights.after[step - 1], weights.after[step]
        index = {id(v): i for i, v in enumerate(model.weights)}
        for layer in LAYERS:
            name = layer.split("/")[-1]
            mine = [
                (g, index[id(v)])
                for g, v in zip(grads, model.trainable_variables, strict=False)
                if paths[id(v)].split("/")[-2] == name
            ]
            norm = np.sqrt(
                sum(float(tf.reduce_sum(tf.square(tf.cast(g, "float32")))) for g, _ in mine)
            )
            delta = np.sqrt(sum(np.sum((after[i] - before[i]) ** 2) for _, i in mine))
            size = np.sqrt(sum(np.sum(before[i] ** 2) for _, i in mine))
            expected[(step, layer)] = (norm, delta / size)
    return expected


def measured(x, y, log_dir, **compile_args):
    model = build(**compile_args)
    callback = GradientDiagnostics(log_dir, every_n_steps=EVERY, per_variable=True)
    model.fit(x, y, batch_size=BATCH, epochs=STEPS * BATCH // len(x) + 1, shuffle=False,
              verbose=0, callbacks=[callback])  # fmt: skip
    return model, read_scalars(log_dir)


def check(scalars, expected, rtol):
    for index, layer in enumerate(LAYERS):
        norms = dict(scalars[_tags.layer_tag(_tags.GRADIENT_NORM, index, layer)])
        ratios = dict(scalars[_tags.layer_tag(_tags.UPDATE_RATIO, index, layer)])
        for step in range(EVERY, STEPS + 1, EVERY):
            norm, ratio = expected[(step, layer)]
            assert norms[step] == pytest.approx(norm, rel=rtol), (layer, step)
            assert ratios[step] == pytest.approx(ratio, rel=rtol), (layer, step)


@pytest.fixture(scope="module")
def whole_executions(batch):
    """48 rows: 3 batches per epoch, so executions of 3 steps end with the epoch.

    (Keras 3.5.0 runs a whole execution past the end of an epoch's data; 3.15.1 a short one.)
    """
    x, y = batch
    return x[:48], y[:48]


@pytest.fixture(scope="module")
def plain_reference(whole_executions):
    return reference(*whole_executions, clipnorm=None)


@pytest.mark.slow
@pytest.mark.parametrize(
    "compile_args",
    [{}, {"jit_compile": True}, {"steps_per_execution": 3}],
    ids=["graph", "jit_compile", "steps_per_execution"],
)
def test_statistics_equal_an_independent_gradient_tape(
    whole_executions, plain_reference, tmp_path, compile_args
):
    model, scalars = measured(*whole_executions, tmp_path, **compile_args)
    check(scalars, plain_reference, rtol=1e-4)
    assert "_backend_apply_gradients" not in vars(model.optimizer)


@pytest.mark.slow
def test_per_variable_frozen_and_nested_layers(batch, tmp_path):
    _, scalars = measured(*batch, tmp_path)
    prefix = _tags.GRADIENT_NORM + "/per_variable"
    per_variable = sorted(t for t in scalars if t.startswith(prefix + "/"))
    assert [t.split("/")[-1] for t in per_variable] == [
        "inner.a.bias", "inner.a.kernel", "inner.bn.beta", "inner.bn.gamma",
        "out.bias", "out.kernel",
    ]  # fmt: skip
    layer_norm = scalars[_tags.layer_tag(_tags.GRADIENT_NORM, 1, "inner/bn")][-1][1]
    parts = [scalars[t][-1][1] for t in per_variable[2:4]]
    assert layer_norm == pytest.approx(np.linalg.norm(parts), rel=1e-6)
    assert not any("frozen" in t for t in scalars)
    assert read_texts(tmp_path)[FROZEN_LAYERS] == [(0, "frozen layers, not measured: frozen")]


@pytest.mark.slow
def test_clipnorm_reports_the_norm_before_clipping(batch, tmp_path):
    expected = reference(*batch, clipnorm=0.01)
    _, scalars = measured(*batch, tmp_path, clipnorm=0.01)
    check(scalars, expected, rtol=1e-4)
    assert min(v for _, v in scalars[_tags.layer_tag(_tags.GRADIENT_NORM, 2, "out")]) > 0.05


@pytest.mark.slow
def test_mixed_precision_reports_unscaled_gradients(batch, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        expected = reference(*batch, clipnorm=None)
        model, scalars = measured(*batch, tmp_path)
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert float(model.optimizer.dynamic_scale) > 1000
    finally:
        keras.mixed_precision.set_global_policy("float32")
    check(scalars, expected, rtol=3e-2)  # float16 arithmetic; a loss-scaled norm is 32768x off
    assert "_backend_apply_gradients" not in vars(model.optimizer.inner_optimizer)


@pytest.mark.slow
def test_resumed_training_continues_the_steps(batch, tmp_path):
    x, y = batch
    model = build()
    for epochs in (2, 1):
        callback = GradientDiagnostics(tmp_path, every_n_steps=3)
        model.fit(
            x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, callbacks=[callback]
        )
    steps = [s for s, _ in read_scalars(tmp_path)[_tags.GRADIENT_GLOBAL_NORM]]
    assert steps == [3, 6, 9, 12]
    assert int(model.optimizer.iterations) == 12


def _python(code: str) -> str:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_saved_models_load_with_plain_keras_and_their_optimizer_state(batch, tmp_path):
    x, y = batch
    model = build()
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    checkpoint = keras.callbacks.ModelCheckpoint(str(tmp_path / "epoch{epoch}.keras"))
    diagnostics = GradientDiagnostics(tmp_path / "logs", every_n_steps=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[diagnostics, checkpoint])
    model.save(tmp_path / "final.keras")
    code = (
        "import json, sys, keras\n"
        "out = {}\n"
        "for name in ('epoch1', 'final'):\n"
        f"    m = keras.saving.load_model({str(tmp_path)!r} + '/' + name + '.keras')\n"
        "    out[name] = [type(m.optimizer).__name__, int(m.optimizer.iterations)]\n"
        "out['dnnkit_imported'] = 'keras_dnnkit' in sys.modules\n"
        "print(json.dumps(out))\n"
    )
    loaded = json.loads(_python(code))
    assert loaded == {"epoch1": ["Adam", 4], "final": ["Adam", 8], "dnnkit_imported": False}


@pytest.mark.slow
def test_mirrored_strategy_statistics_equal_one_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, str(TESTS / "_mirrored_gradients.py"), "0"],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    single, mirrored = runs["single"], runs["mirrored"]
    assert _tags.layer_tag(_tags.GRADIENT_NORM, 0, "hidden") in single
    assert single.keys() == mirrored.keys()
    for tag, value in single.items():
        assert mirrored[tag] == pytest.approx(value, rel=1e-5, abs=1e-7), tag


@pytest.mark.slow
def test_mirrored_strategy_stop_skips_the_nonfinite_update_as_one_device():
    """The skip's conditional runs the update on every device (a merge_call inside)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(TESTS)}
    result = subprocess.run(
        [sys.executable, str(TESTS / "_mirrored_nonfinite.py")],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    runs = json.loads(result.stdout.strip().splitlines()[-1])
    steps, finite, (step, layer) = runs["single"]
    assert finite and steps == step  # stopped at the end of the step it skipped
    assert runs["mirrored"] == runs["single"]


class _Crash(keras.callbacks.Callback):
    """A user callback that raises in the middle of the first epoch."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 1:
            raise RuntimeError("user callback failed")


@pytest.mark.slow
def test_a_fit_that_died_leaves_nothing_that_breaks_the_next_one(batch, tmp_path):
    x, y = batch
    model = build()
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    crashed = GradientDiagnostics(tmp_path / "crashed", every_n_steps=2)
    with pytest.raises(RuntimeError, match="user callback failed"):
        model.fit(x, y, batch_size=BATCH, epochs=2, verbose=0, callbacks=[crashed, _Crash()])
    # on_train_end never ran: the hook is still on the optimizer
    assert "_backend_apply_gradients" in vars(model.optimizer)
    assert int(model.optimizer.iterations) == 2

    # a later fit with a new GradientDiagnostics takes over (no "already observed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        diagnostics = GradientDiagnostics(tmp_path / "logs", every_n_steps=2)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[diagnostics])
    steps = [s for s, _ in read_scalars(tmp_path / "logs")[_tags.GRADIENT_GLOBAL_NORM]]
    assert steps == [4, 6]
    assert "_backend_apply_gradients" not in vars(model.optimizer)
    assert type(model.train_function).__name__ != "_Dispatcher"  # Keras' own step is back

    # a crash again, then a plain fit: its first step gives the optimizer back
    with pytest.raises(RuntimeError, match="user callback failed"):
        model.fit(
            x, y, batch_size=BATCH, epochs=1, verbose=0,
            callbacks=[GradientDiagnostics(tmp_path / "again", every_n_steps=2), _Crash()],
        )  # fmt: skip
    assert "_backend_apply_gradients" in vars(model.optimizer)
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert "_backend_apply_gradients" not in vars(model.optimizer)
    assert int(model.optimizer.iterations) == 12

    model.save(tmp_path / "model.keras")
    code = (
        "import json, keras\n"
        f"m = keras.saving.load_model({str(tmp_path / 'model.keras')!r})\n"
        "print(json.dumps([type(m.optimizer).__name__, int(m.optimizer.iterations)]))\n"
    )
    assert json.loads(_python(code)) == ["Adam", 12]


@pytest.mark.slow
def test_two_diagnostics_in_one_fit_log_the_same_values(batch, tmp_path):
    x, y = batch
    model = build()
    callbacks = [
        GradientDiagnostics(tmp_path / "a", every_n_steps=2),
        GradientDiagnostics(tmp_path / "b", every_n_steps=2),
    ]
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=callbacks)
    a, b = read_scalars(tmp_path / "a"), read_scalars(tmp_path / "b")
    assert a and a == b


class _MeasuringSteps(keras.callbacks.Callback):
    """Records, per batch, whether the execution ran the measuring train step."""

    def __init__(self, diagnostics: GradientDiagnostics) -> None:
        super().__init__()
        self.diagnostics, self.measuring = diagnostics, []

    def on_train_batch_begin(self, batch, logs=None):
        self.before = int(self.model.optimizer.iterations)

    def on_train_batch_end(self, batch, logs=None):
        after = int(self.model.optimizer.iterations)
        holds = after // 5 > self.before // 5  # one of its steps is a logging step
        self.measuring.append((StepOwner.of(self.model)._tracing_measuring, holds))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("steps_per_execution", "expected"),
    [
        # only the executions of steps 5, 10, 15, 20
        (1, [s % 5 == 0 for s in range(1, 21)]),
        # 4 steps per epoch run as executions of 3 + 1 steps: 1-3, 4, 5-7, 8, ..., 17-19, 20;
        # the host takes each as 3 steps long (4-6, 8-10...): a window too wide, never too narrow
        (3, [False, True, True, True, True, False, True, False, False, True]),
    ],
)
def test_only_executions_with_a_logging_step_run_the_measuring_step(
    batch, tmp_path, steps_per_execution, expected
):
    model = build(steps_per_execution=steps_per_execution)
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=5)
    recorder = _MeasuringSteps(diagnostics)
    x, y = batch
    model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[diagnostics, recorder])
    measuring = [m for m, _ in recorder.measuring]
    assert all(m for m, holds in recorder.measuring if holds)  # never too narrow
    steps = [step for step, _ in read_scalars(tmp_path)[_tags.GRADIENT_GLOBAL_NORM]]
    if _compat.version_tuple(keras.version()) >= (3, 15) or steps_per_execution == 1:
        assert measuring == expected
        assert steps == [5, 10, 15, 20]
    else:
        # Keras 3.5 ends an epoch whose data run out inside an execution by dropping that
        # execution's report (no on_train_batch_end), and its step may never be fetched.
        assert set(steps) <= {5, 10, 15, 20} and steps[-1] == 20


def _logged_steps(log_dir) -> list[int]:
    return [step for step, _ in read_scalars(log_dir).get(_tags.GRADIENT_GLOBAL_NORM, [])]


def _tiny(optimizer, steps_per_execution=1) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    model.compile(optimizer, "mse", steps_per_execution=steps_per_execution)
    return model


@pytest.mark.slow
def test_every_logging_step_is_measured_when_an_execution_overruns_steps_per_epoch(tmp_path):
    # 6 steps per epoch in executions of 4: Keras runs 1-4 and 5-8, then 9-12 and 13-16
    model = _tiny("sgd", steps_per_execution=4)
    x = np.random.default_rng(0).standard_normal((64, 4)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, np.ones(64, "float32"))).batch(4).repeat()
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=8)
    model.fit(data, steps_per_epoch=6, epochs=2, verbose=0, callbacks=[diagnostics])
    assert int(model.optimizer.iterations) == 16
    assert _logged_steps(tmp_path) == [8, 16]


@pytest.mark.slow
def test_every_logging_step_is_measured_when_the_loss_scale_optimizer_drops_steps(tmp_path):
    # the first steps overflow and are dropped: the optimizer counts fewer steps than batches
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(1e-6), initial_scale=2.0**120
    )
    model = _tiny(optimizer)
    x = np.random.default_rng(0).standard_normal((64, 4)).astype("float32")
    diagnostics = GradientDiagnostics(tmp_path, every_n_steps=5, warn=False)
    model.fit(x, np.full(64, 1e4, "float32"), batch_size=2, verbose=0, callbacks=[diagnostics])
    steps = int(model.optimizer.inner_optimizer.iterations)  # the steps it applied
    assert steps < 32  # batches
    assert _logged_steps(tmp_path) == list(range(5, steps + 1, 5))


def _conditionals(function) -> tuple[int, int]:
    """``If`` ops in every graph a traced Keras train function holds (nested ones too).

    Returns ``(kept as If ops, marked to be lowered to Switch/Merge)``.
    """

    def traced(fn):  # Keras' train function: a tf.function, or a closure over one (3.15)
        if hasattr(fn, "_list_all_concrete_functions"):
            yield from fn._list_all_concrete_functions()
            return
        for cell in fn.__closure__ or ():
            if hasattr(cell.cell_contents, "_list_all_concrete_functions"):
                yield from cell.cell_contents._list_all_concrete_functions()

    kept = lowered = 0
    for concrete in traced(function):
        graph = concrete.graph.as_graph_def()
        for node in [*graph.node, *(n for f in graph.library.function for n in f.node_def)]:
            if node.op in ("If", "StatelessIf"):
                mark = node.attr.get("_lower_using_switch_merge")
                lowered += bool(mark is not None and mark.b)
                kept += not (mark is not None and mark.b)
    return kept, lowered


# (kept, lowered): warn: the non-finite record; the measuring step adds its two measures;
# stop adds the skip, lowered (an If op cannot be placed under a multi-device strategy).
@pytest.mark.parametrize(
    ("on_nonfinite", "lean", "measuring"),
    [("warn", (1, 0), (3, 0)), ("stop", (1, 1), (3, 1))],
)
def test_the_lean_step_holds_no_lowered_conditional_but_the_skip(
    tmp_path, on_nonfinite, lean, measuring
):
    """A lowered conditional costs every step (each captured tensor passes a Switch).

    An ``If`` op runs only the branch taken; the lean step's runs only on NaN/Inf steps.
    """
    model = _tiny(keras.optimizers.SGD(0.01, momentum=0.9))
    diagnostics = GradientDiagnostics(
        tmp_path, every_n_steps=2, histogram_every_n_steps=0, on_nonfinite=on_nonfinite
    )
    x = np.random.default_rng(0).standard_normal((8, 4)).astype("float32")
    model.fit(x, np.ones(8, "float32"), batch_size=2, verbose=0, callbacks=[diagnostics])
    functions = StepOwner.of(model).traced_functions()
    assert (_conditionals(functions[False]), _conditionals(functions[True])) == (lean, measuring)
