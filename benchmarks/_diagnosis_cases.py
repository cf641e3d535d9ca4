"""The diagnosis benchmark's cases: what each trains, and the facts and findings it reports.

Imported only in a case's own process (``benchmarks/diagnosis.py --case NAME``), so that the
parent, which only runs cases and prints tables, never imports TensorFlow.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

import keras
import numpy as np

from keras_dnnkit.callbacks import ActivationDiagnostics, GradientDiagnostics
from keras_dnnkit.data import Split, load_digits
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import read_scalars
from keras_dnnkit.diagnostics._findings_file import read_findings


@dataclass(frozen=True)
class Training:
    """What one case trains: the model, its data, and how long."""

    model: keras.Model
    x_train: Any
    y_train: Any
    x_valid: Any
    y_valid: Any
    epochs: int
    batch_size: int = 32


def _mlp(
    depth: int,
    width: int,
    activation: str,
    initializer: Any,
    *,
    bias: float = 0.0,
    batch_norm: bool = False,
    dropout: float = 0.0,
    inputs: int = 64,
) -> keras.Model:
    model = keras.Sequential([keras.Input((inputs,))])
    for i in range(depth):
        model.add(
            keras.layers.Dense(
                width,
                activation=None if batch_norm else activation,
                kernel_initializer=initializer,
                bias_initializer=keras.initializers.Constant(bias),
                name=f"hidden_{i:02d}",
            )
        )
        if batch_norm:
            model.add(keras.layers.BatchNormalization(name=f"norm_{i:02d}"))
            model.add(keras.layers.Activation(activation, name=f"{activation}_{i:02d}"))
        if dropout:
            model.add(keras.layers.Dropout(dropout, name=f"dropout_{i:02d}"))
    model.add(keras.layers.Dense(10, activation="softmax", name="output"))
    return model


def _compile(model: keras.Model, optimizer: Any) -> keras.Model:
    model.compile(optimizer, "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _digits(split: Split, model: keras.Model, epochs: int, **kwargs: Any) -> Training:
    return Training(
        model, split.x_train, split.y_train, split.x_valid, split.y_valid, epochs, **kwargs
    )


def _epochs(quick: bool, full: int, short: int) -> int:
    return short if quick else full


# ---------------------------------------------------------------- the broken cases
def sigmoid_glorot(split: Split, quick: bool) -> Training:
    model = _mlp(20, 100, "sigmoid", "glorot_uniform")
    return _digits(split, _compile(model, keras.optimizers.SGD(0.01)), _epochs(quick, 6, 3))


def sigmoid_normal(split: Split, quick: bool) -> Training:
    model = _mlp(20, 100, "sigmoid", keras.initializers.RandomNormal(0.0, 1.0))
    return _digits(split, _compile(model, keras.optimizers.SGD(0.01)), _epochs(quick, 6, 3))


def relu_negative_bias(split: Split, quick: bool) -> Training:
    model = _mlp(8, 100, "relu", "he_normal", bias=-3.0)
    return _digits(split, _compile(model, keras.optimizers.SGD(0.01)), _epochs(quick, 6, 3))


def sgd_rate_3(split: Split, quick: bool) -> Training:
    model = _mlp(8, 100, "elu", "he_normal")
    return _digits(split, _compile(model, keras.optimizers.SGD(3.0)), _epochs(quick, 6, 3))


def sgd_rate_1e_7(split: Split, quick: bool) -> Training:
    model = _mlp(20, 100, "elu", "he_normal")
    return _digits(split, _compile(model, keras.optimizers.SGD(1e-7)), _epochs(quick, 6, 2))


def overfitting(split: Split, quick: bool) -> Training:
    model = _mlp(4, 256, "relu", "he_normal")
    model = _compile(model, keras.optimizers.Adam(1e-3))
    return Training(
        model,
        split.x_train[:100],
        split.y_train[:100],
        split.x_valid,
        split.y_valid,
        epochs=_epochs(quick, 150, 80),
    )


def zero_initialization(split: Split, quick: bool) -> Training:
    model = _mlp(4, 100, "tanh", "zeros")
    return _digits(split, _compile(model, keras.optimizers.Adam(1e-3)), _epochs(quick, 6, 3))


def raw_pixels(split: Split, quick: bool) -> Training:
    # The digits as scikit-learn ships them (0-16), scaled to 0-255 like 8-bit images.
    (x_train, y_train), (x_valid, y_valid) = _raw_digits()
    model = _mlp(8, 100, "relu", "he_normal")
    model = _compile(model, keras.optimizers.SGD(1e-3))
    return Training(model, x_train, y_train, x_valid, y_valid, epochs=_epochs(quick, 6, 3))


def selu_with_dropout(split: Split, quick: bool) -> Training:
    model = _mlp(10, 100, "selu", "glorot_uniform", dropout=0.2)
    return _digits(split, _compile(model, keras.optimizers.Nadam(1e-3)), _epochs(quick, 6, 3))


def simple_rnn_rate_2(split: Split, quick: bool) -> Training:
    x, y = _sequences()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            keras.layers.SimpleRNN(64, name="rnn"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    model = _compile(model, keras.optimizers.SGD(2.0, clipnorm=10.0))
    n = len(x) * 4 // 5
    return Training(model, x[:n], y[:n], x[n:], y[n:], epochs=_epochs(quick, 6, 3))


# ---------------------------------------------------------------- the healthy cases
def he_elu_bn_nadam(split: Split, quick: bool) -> Training:
    model = _mlp(20, 100, "elu", "he_normal", batch_norm=True)
    return _digits(split, _compile(model, keras.optimizers.Nadam(1e-3)), _epochs(quick, 6, 2))


def selu_lecun(split: Split, quick: bool) -> Training:
    model = _mlp(20, 100, "selu", "lecun_normal")
    return _digits(split, _compile(model, keras.optimizers.Nadam(1e-3)), _epochs(quick, 6, 3))


def bn_cnn(split: Split, quick: bool) -> Training:
    keras.utils.set_random_seed(0)
    layers: list[Any] = [keras.Input((8, 8, 1))]
    for i, filters in enumerate((32, 64)):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv_{i}"),
            keras.layers.BatchNormalization(name=f"norm_{i}"),
            keras.layers.Activation("relu", name=f"relu_{i}"),
        ]
    layers += [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ]
    model = _compile(keras.Sequential(layers), keras.optimizers.Adam(3e-3))
    images = [x.reshape(-1, 8, 8, 1) for x in (split.x_train, split.x_valid)]
    return Training(
        model, images[0], split.y_train, images[1], split.y_valid, epochs=_epochs(quick, 8, 4)
    )


def lstm(split: Split, quick: bool) -> Training:
    x, y = _sequences()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            keras.layers.LSTM(64, name="lstm"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    model = _compile(model, keras.optimizers.Adam(3e-3))
    n = len(x) * 4 // 5
    return Training(model, x[:n], y[:n], x[n:], y[n:], epochs=_epochs(quick, 8, 4))


def one_cycle_elu(split: Split, quick: bool) -> Training:
    from keras_dnnkit.schedules import OneCycle

    epochs = _epochs(quick, 6, 3)
    steps = epochs * int(np.ceil(len(split.x_train) / 32))
    model = _mlp(20, 100, "elu", "he_normal")
    optimizer = keras.optimizers.Nadam(OneCycle(max_lr=3e-3, total_steps=steps))
    return _digits(split, _compile(model, optimizer), epochs)


def sgd_momentum_relu(split: Split, quick: bool) -> Training:
    model = _mlp(6, 128, "relu", "he_normal", dropout=0.1)
    optimizer = keras.optimizers.SGD(0.02, momentum=0.9, nesterov=True)
    return _digits(split, _compile(model, optimizer), _epochs(quick, 8, 2))


def _sequences() -> tuple[np.ndarray, np.ndarray]:
    """The digits read row by row: 8 steps of 8 pixels."""
    split = load_digits()
    x = np.concatenate([split.x_train, split.x_valid]).reshape(-1, 8, 8).astype("float32")
    return x, np.concatenate([split.y_train, split.y_valid])


def _raw_digits() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """load_digits' training and validation split, before standardization, as 0-255 pixels."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    order = np.random.default_rng(0).permutation(len(digits.data))  # as load_digits splits
    x = (digits.data[order] * 16).astype("float32")
    y = digits.target[order].astype("int32")
    n = int(round(len(x) * 0.15))
    return (x[2 * n :], y[2 * n :]), (x[n : 2 * n], y[n : 2 * n])


# ---------------------------------------------------------------- one case, in this process
def _median_last(series: list[tuple[int, float]], n: int = 5) -> float:
    values = [v for _, v in series[-n:] if np.isfinite(v)]
    return float(statistics.median(values)) if values else float("nan")


def _layer_medians(scalars: dict[str, Any], prefix: str) -> dict[str, float]:
    medians = {}
    for tag, series in scalars.items():
        parsed = _tags.parse_layer_tag(tag)
        if parsed is not None and parsed[0] == prefix:
            medians[parsed[1]] = _median_last(series)
    return medians


def run_case(builder: str, monitors: str, quick: bool, log_dir: str) -> dict[str, Any]:
    """Train one case (``builder`` names its function here); return its facts and findings.

    ``monitors``: ``"both"`` diagnostics callbacks, or ``"gradients"`` (GradientDiagnostics
    alone). They log every 20 steps (10 with ``quick``); their defaults otherwise.
    """
    keras.utils.set_random_seed(0)
    training: Training = globals()[builder](load_digits(), quick)
    every = 10 if quick else 20
    callbacks: list[Any] = [GradientDiagnostics(log_dir, every_n_steps=every, warn=False)]
    if monitors == "both":
        probe = training.x_train[:256]
        callbacks.append(ActivationDiagnostics(log_dir, probe, every_n_steps=every, warn=False))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = training.model.fit(
            training.x_train,
            training.y_train,
            epochs=training.epochs,
            batch_size=training.batch_size,
            validation_data=(training.x_valid, training.y_valid),
            callbacks=callbacks,
            verbose=0,
        )
    seconds = time.perf_counter() - started
    logs = history.history
    scalars = read_scalars(log_dir)
    ratios = [v for v in _layer_medians(scalars, _tags.UPDATE_RATIO).values() if np.isfinite(v)]
    flows = _layer_medians(scalars, _tags.GRADIENT_FLOW)
    x = np.asarray(training.x_train, dtype=np.float64)
    facts = {
        "train_loss": float(logs["loss"][-1]),
        "val_loss": float(logs["val_loss"][-1]),
        "min_val_loss": float(np.nanmin(logs["val_loss"])),
        "train_accuracy": float(logs["accuracy"][-1]),
        "val_accuracy": float(logs["val_accuracy"][-1]),
        "best_val_accuracy": float(np.nanmax(logs["val_accuracy"])),
        "epochs": len(logs["loss"]),
        "steps": int(keras.ops.convert_to_numpy(training.model.optimizer.iterations)),
        "update_ratio_median": float(statistics.median(ratios)) if ratios else None,
        "first_layer_flow": float(next(iter(flows.values()))) if flows else None,
        "nonfinite_step": int(scalars[_tags.NONFINITE_STEP][0][0])
        if _tags.NONFINITE_STEP in scalars
        else None,
        "input_mean": float(x.mean()),
        "input_std": float(x.std()),
        "seconds": round(seconds, 1),
    }
    findings = read_findings(log_dir)
    return {
        "found": sorted({f["problem"] for f in findings if f["status"] == "current"}),
        "resolved": sorted({f["problem"] for f in findings if f["status"] == "resolved"}),
        "findings": findings,
        "facts": facts,
    }
