"""The diagnosis benchmark: labelled training cases, what the diagnostics find in each.

Each case trains one model on the bundled digits (or a synthetic task) with the diagnostics
attached, in a process of its own, and is labelled with the problem it has (``healthy``: none).
The table prints, per case, what was found (current findings) beside the case's own training
facts, so that its label is visibly borne out: the broken ones fail to learn or break the
rule, the healthy ones reach their accuracy. Then a confusion table (expected x found), the
recall on the broken cases and the false alarms on the healthy ones.

    python benchmarks/diagnosis.py            # every case (a few minutes on 2 CPU cores)
    python benchmarks/diagnosis.py --quick    # four cases, shorter training (about a minute)
    python benchmarks/diagnosis.py --case sgd_rate_1e-7 --json   # one case, in this process
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported

import keras
import numpy as np

from keras_dnnkit.callbacks import ActivationDiagnostics, GradientDiagnostics
from keras_dnnkit.data import Split, load_digits
from keras_dnnkit.diagnostics import _tags
from keras_dnnkit.diagnostics._events import read_scalars
from keras_dnnkit.diagnostics._findings_file import read_findings

HEALTHY = "healthy"


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
    callbacks: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    """A labelled case: its name, the problems it has (any of them counts), how to train it."""

    name: str
    expected: tuple[str, ...]
    describe: str
    build: Callable[[Split, bool], Training]
    monitors: str = "both"  # "both", "gradients" (GradientDiagnostics alone) or "activations"
    quick: bool = False


def _mlp(
    depth: int,
    width: int,
    activation: str,
    initializer: Any,
    *,
    bias: float = 0.0,
    batch_norm: bool = False,
    dropout: float = 0.0,
    dropout_layer: type = keras.layers.Dropout,
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
            model.add(dropout_layer(dropout, name=f"dropout_{i:02d}"))
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
    return _digits(split, _compile(model, keras.optimizers.SGD(1e-7)), _epochs(quick, 6, 3))


def adam_rate_1(split: Split, quick: bool) -> Training:
    model = _mlp(8, 100, "elu", "he_normal", batch_norm=True)
    return _digits(split, _compile(model, keras.optimizers.Adam(1.0)), _epochs(quick, 6, 3))


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
    model = _mlp(6, 100, "tanh", "zeros")
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
    return _digits(split, _compile(model, keras.optimizers.Nadam(1e-3)), _epochs(quick, 6, 3))


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
    return _digits(split, _compile(model, optimizer), _epochs(quick, 8, 4))


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


CASES: tuple[Case, ...] = (
    Case(
        "sigmoid_glorot_20",
        ("vanishing_gradients",),
        "20 x 100 sigmoid, Glorot uniform, SGD 0.01",
        sigmoid_glorot,
        quick=True,
    ),
    Case(
        "sigmoid_normal_20",
        ("saturated_units", "updates_too_small"),
        "20 x 100 sigmoid, N(0, 1), SGD 0.01",
        sigmoid_normal,
    ),
    Case(
        "sigmoid_normal_20_gradients_only",
        ("saturated_units", "updates_too_small"),
        "the same, GradientDiagnostics alone",
        sigmoid_normal,
        monitors="gradients",
    ),
    Case(
        "relu_bias_-3_8",
        ("dead_units",),
        "8 x 100 ReLU, He, bias -3, SGD 0.01",
        relu_negative_bias,
        quick=True,
    ),
    Case(
        "sgd_rate_3",
        ("nonfinite_gradients", "exploding_gradients"),
        "8 x 100 ELU, He, SGD 3.0",
        sgd_rate_3,
    ),
    Case(
        "sgd_rate_1e-7",
        ("updates_too_small",),
        "20 x 100 ELU, He, SGD 1e-7",
        sgd_rate_1e_7,
        quick=True,
    ),
    Case(
        "adam_rate_1",
        ("updates_too_large", "exploding_gradients", "nonfinite_gradients"),
        "8 x 100 ELU, He, BN, Adam 1.0",
        adam_rate_1,
    ),
    Case(
        "overfitting_100_digits",
        ("overfitting",),
        "100 training digits, 4 x 256 ReLU, Adam, 150 epochs",
        overfitting,
    ),
    Case(
        "zero_init_tanh",
        ("symmetric_units",),
        "6 x 100 tanh, all weights 0, Adam",
        zero_initialization,
    ),
    Case(
        "raw_pixels_0_255",
        ("unnormalized_inputs",),
        "8 x 100 ReLU, inputs 0-255 unscaled, SGD 1e-3",
        raw_pixels,
    ),
    Case(
        "selu_with_dropout", ("recipe",), "10 x 100 SELU, Glorot, plain Dropout", selu_with_dropout
    ),
    Case(
        "simple_rnn_sgd_2_clipnorm_10",
        ("exploding_gradients", "nonfinite_gradients"),
        "SimpleRNN 64 on digit rows, SGD 2.0, clipnorm 10",
        simple_rnn_rate_2,
    ),
    Case(
        "he_elu_bn_nadam_20", (), "20 x 100 He + ELU + BN, Nadam 1e-3", he_elu_bn_nadam, quick=True
    ),
    Case("selu_lecun_20", (), "20 x 100 SELU, LeCun normal, Nadam 1e-3", selu_lecun),
    Case("bn_cnn", (), "2 conv + BN + ReLU, Adam 3e-3, 8x8 digits", bn_cnn),
    Case("lstm", (), "LSTM 64 on digit rows, Adam 3e-3", lstm),
    Case("one_cycle_elu_20", (), "20 x 100 ELU, He, Nadam, 1cycle 3e-3", one_cycle_elu),
    Case(
        "sgd_nesterov_relu_dropout",
        (),
        "6 x 128 ReLU, He, dropout 0.1, SGD 0.02 Nesterov",
        sgd_momentum_relu,
    ),
)


# ---------------------------------------------------------------- one case, in this process
def _median_last(series: list[tuple[int, float]], n: int = 5) -> float:
    values = [v for _, v in series[-n:] if np.isfinite(v)]
    return float(statistics.median(values)) if values else float("nan")


def _layer_medians(scalars: dict[str, Any], prefix: str) -> dict[str, float]:
    medians = {}
    for tag, series in scalars.items():
        parsed = _tags.parse_layer_tag(tag)
        if parsed is not None and parsed[0] == prefix:
            medians[parsed[2]] = _median_last(series)
    return medians


def run_case(case: Case, quick: bool, log_dir: str) -> dict[str, Any]:
    """Train one case; return its training facts and what the diagnostics found."""
    keras.utils.set_random_seed(0)
    split = load_digits()
    training = case.build(split, quick)
    every = 20
    probe = training.x_train[:256]
    callbacks: list[Any] = []
    if case.monitors in ("both", "gradients"):
        callbacks.append(GradientDiagnostics(log_dir, every_n_steps=every, warn=False))
    if case.monitors in ("both", "activations"):
        callbacks.append(
            ActivationDiagnostics(log_dir, probe=probe, every_n_steps=every, warn=False)
        )
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
        "case": case.name,
        "expected": list(case.expected),
        "found": sorted({f["problem"] for f in findings if f["status"] == "current"}),
        "resolved": sorted({f["problem"] for f in findings if f["status"] == "resolved"}),
        "findings": findings,
        "facts": facts,
    }


def _run_in_subprocess(case: Case, quick: bool) -> dict[str, Any]:
    command = [sys.executable, os.path.abspath(__file__), "--case", case.name, "--json"]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"case {case.name} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


# ---------------------------------------------------------------- the tables
def _label(expected: tuple[str, ...] | list[str]) -> str:
    return " or ".join(expected) if expected else HEALTHY


def _hit(result: dict[str, Any]) -> bool:
    found = set(result["found"])
    return bool(found & set(result["expected"])) if result["expected"] else not found


def _fact_line(facts: dict[str, Any]) -> str:
    def number(value: Any) -> str:
        return "-" if value is None else f"{value:.3g}"

    return (
        f"val acc {facts['val_accuracy']:.3f} (best {facts['best_val_accuracy']:.3f}), "
        f"train loss {number(facts['train_loss'])}, val loss {number(facts['val_loss'])} "
        f"(min {number(facts['min_val_loss'])}), "
        f"update/weight {number(facts['update_ratio_median'])}, "
        f"first-layer flow {number(facts['first_layer_flow'])}, NaN step "
        f"{number(facts['nonfinite_step'])}, inputs mean {facts['input_mean']:.3g} std "
        f"{facts['input_std']:.3g}; {facts['steps']} steps, {facts['seconds']:.0f} s"
    )


def print_tables(results: list[dict[str, Any]]) -> None:
    """Print each case's verdict and facts, the confusion table, recall and false alarms."""
    print("| case | expected | found (current) | ok | training facts |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        found = ", ".join(r["found"]) or "none"
        print(
            f"| {r['case']} | {_label(r['expected'])} | {found} | "
            f"{'yes' if _hit(r) else 'NO'} | {_fact_line(r['facts'])} |"
        )
    labels = sorted({_label(r["expected"]) for r in results})
    problems = sorted({p for r in results for p in r["found"]}) + ["none"]
    print()
    print("confusion (rows: expected, columns: found; a case counts once per problem found)")
    print("| expected \\ found | " + " | ".join(problems) + " |")
    print("| --- " * (len(problems) + 1) + "|")
    for label in labels:
        rows = [r for r in results if _label(r["expected"]) == label]
        counts = [sum(p in r["found"] for r in rows) for p in problems[:-1]]
        counts.append(sum(not r["found"] for r in rows))
        print(f"| {label} | " + " | ".join(str(c) for c in counts) + " |")
    broken = [r for r in results if r["expected"]]
    healthy = [r for r in results if not r["expected"]]
    recall = sum(_hit(r) for r in broken)
    alarms = sum(bool(r["found"]) for r in healthy)
    print()
    print(f"recall on the broken cases: {recall}/{len(broken)}")
    print(f"false alarms on the healthy cases: {alarms}/{len(healthy)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four cases, shorter training")
    parser.add_argument("--case", help="run this one case in this process")
    parser.add_argument("--json", action="store_true", help="print the result(s) as JSON")
    arguments = parser.parse_args(argv)
    by_name = {case.name: case for case in CASES}
    if arguments.case:
        if arguments.case not in by_name:
            parser.error(
                f"--case must be one of {', '.join(by_name)}. Received: {arguments.case!r}"
            )
        with tempfile.TemporaryDirectory() as log_dir:
            result = run_case(by_name[arguments.case], arguments.quick, log_dir)
        print(json.dumps(result) if arguments.json else result)
        return 0
    cases = [case for case in CASES if case.quick or not arguments.quick]
    results = []
    for case in cases:
        print(f"running {case.name} ({case.describe}) ...", file=sys.stderr, flush=True)
        results.append(_run_in_subprocess(case, arguments.quick))
    if arguments.json:
        print(json.dumps(results, indent=2))
    else:
        print_tables(results)
    broken_missed = [r["case"] for r in results if not _hit(r)]
    return 1 if broken_missed else 0


if __name__ == "__main__":
    sys.exit(main())
