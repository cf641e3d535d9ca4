"""Train one configuration with the diagnostics on, into its own TensorBoard run."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras

from keras_dnnkit.data import Split
from keras_dnnkit.demo._configurations import Configuration
from keras_dnnkit.diagnostics.findings import Finding
from keras_dnnkit.registry import get

BATCH_SIZE = 32
LOGGED_STEPS = 25
"""About how many times per run the diagnostics measure (every ``total_steps // 25`` steps)."""


@dataclass
class RunResult:
    """What one configuration's training produced.

    Attributes:
        configuration: the configuration trained.
        log_dir: its TensorBoard run directory.
        validation_accuracy: accuracy on the validation set after the last epoch.
        layer_norms: per Dense layer (input to output), its name and gradient norm (the
            median over the last logged steps, as ``dnnkit report`` computes it).
        findings: the diagnostics' findings for the run.
        model: the trained model.
        seconds: wall time of training.

    Example:
        >>> from keras_dnnkit.demo._configurations import RECOMMENDED
        >>> RunResult(RECOMMENDED, "runs/x", 0.9).first_to_last_ratio()
        nan
    """

    configuration: Configuration
    log_dir: str
    validation_accuracy: float
    layer_norms: list[tuple[str, float]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    model: Any = None
    seconds: float = 0.0

    def first_to_last_ratio(self) -> float:
        """Return the first Dense layer's gradient norm over the last's (NaN if unknown)."""
        if len(self.layer_norms) < 2 or not self.layer_norms[-1][1] > 0:
            return math.nan
        return self.layer_norms[0][1] / self.layer_norms[-1][1]


class EpochPrinter(keras.callbacks.Callback):
    """Print one concise line per epoch: losses, accuracies and seconds.

    Args:
        title: the run's name, printed in brackets.
        epochs: the number of epochs, printed as ``epoch 3/10``.
        write: where lines go (default ``print``).

    Example:
        >>> lines = []
        >>> printer = EpochPrinter("demo", 2, write=lines.append)
        >>> printer.on_epoch_begin(0)
        >>> printer.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.25})
        >>> lines[0].split("  ")[:3]
        ['[demo] epoch 1/2', 'loss 1.000', 'accuracy 0.500']
    """

    def __init__(self, title: str, epochs: int, write: Callable[[str], Any] = print) -> None:
        super().__init__()
        self.title = title
        self.epochs = epochs
        self.write = write
        self._start = time.perf_counter()

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Say what the first, slow epoch is doing."""
        self.write(
            f"[{self.title}] epoch 1/{self.epochs} is tracing the instrumented train step "
            "(the slowest epoch) ..."
        )

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Start the epoch's clock."""
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Print the epoch's line."""
        logs = logs or {}
        parts = [f"[{self.title}] epoch {epoch + 1}/{self.epochs}"]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            if key in logs:
                parts.append(f"{key} {float(logs[key]):.3f}")
        parts.append(f"{time.perf_counter() - self._start:.1f}s")
        self.write("  ".join(parts))


def _dense_norms(log_dir: str) -> tuple[list[tuple[str, float]], list[Finding]]:
    from keras_dnnkit.diagnostics._report import build_report

    report = build_report(log_dir)
    norms = [
        (layer.name, float(layer.values["gradient_norm"]))
        for layer in report.layers
        if "gradient_norm" in layer.values
        and (layer.name.startswith("hidden_") or layer.name == "output")
    ]
    return norms, list(report.findings)


def train_configuration(
    configuration: Configuration,
    split: Split,
    *,
    depth: int,
    epochs: int,
    log_dir: str,
    seed: int = 0,
    write: Callable[[str], Any] = print,
) -> RunResult:
    """Build, compile and train ``configuration`` with gradient and activation diagnostics.

    The diagnostics write into ``log_dir/<configuration.key>``; the layer norms and findings
    are read back from those event files.

    Example:
        >>> import tempfile
        >>> from keras_dnnkit.data import load_digits
        >>> from keras_dnnkit.demo._configurations import RECOMMENDED
        >>> result = train_configuration(RECOMMENDED, load_digits(), depth=2, epochs=1,
        ...                              log_dir=tempfile.mkdtemp(), write=lambda line: None)
        >>> [name for name, _ in result.layer_norms]
        ['hidden_01', 'hidden_02', 'output']
    """
    run_dir = os.path.join(log_dir, configuration.key)
    keras.utils.set_random_seed(seed)
    steps_per_epoch = math.ceil(len(split.x_train) / BATCH_SIZE)
    total_steps = steps_per_epoch * epochs
    every = max(1, total_steps // LOGGED_STEPS)
    model = configuration.build_model(depth, split.x_train.shape[1], split.num_classes, seed)
    model.compile(
        optimizer=configuration.build_optimizer(total_steps),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = [
        get("callback", "gradient_diagnostics", log_dir=run_dir, every_n_steps=every, warn=False),
        get(
            "callback",
            "activation_diagnostics",
            log_dir=run_dir,
            probe=split.x_train[:256],
            every_n_steps=every,
            warn=False,
        ),
        *configuration.build_callbacks(),
        EpochPrinter(configuration.title, epochs, write),
    ]
    start = time.perf_counter()
    model.fit(
        split.x_train,
        split.y_train,
        validation_data=(split.x_valid, split.y_valid),
        epochs=epochs,
        batch_size=BATCH_SIZE,
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(split.x_valid, split.y_valid, batch_size=256, verbose=0)
    norms, findings = _dense_norms(run_dir)
    return RunResult(configuration, run_dir, float(accuracy), norms, findings, model, seconds)
