"""What GradientDiagnostics costs: plain fit vs fit with it (defaults) vs an extra-pass logger.

A 20 x 100 ELU MLP, batch 256, in one process; the three ways run interleaved, round after
round, and the steady-state throughput (steps/s, after the first steps of each fit, so the
tracing is timed apart) is the median over rounds. The "extra pass" logger is the approach
the callback replaces: every N steps, a separate GradientTape forward and backward pass on
a batch, whose per-layer norms are written with tf.summary.

    python benchmarks/diagnostics_overhead.py           # ~2 minutes on 2 CPU cores
    python benchmarks/diagnostics_overhead.py --quick   # a few seconds, for CI
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from keras_dnnkit.callbacks import GradientDiagnostics

DEPTH, WIDTH, BATCH, EVERY = 20, 100, 256, 100


def build() -> keras.Model:
    keras.utils.set_random_seed(0)
    layers: list = [keras.Input((WIDTH,))]
    layers += [
        keras.layers.Dense(WIDTH, activation="elu", kernel_initializer="he_normal")
        for _ in range(DEPTH)
    ]
    layers.append(keras.layers.Dense(10))
    model = keras.Sequential(layers)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(1e-3, momentum=0.9), loss)
    return model


class ExtraPassLogger(keras.callbacks.Callback):
    """Every ``every`` steps, recompute gradients on one batch with a GradientTape."""

    def __init__(self, log_dir: str, x: np.ndarray, y: np.ndarray, every: int = EVERY) -> None:
        super().__init__()
        self.writer = tf.summary.create_file_writer(log_dir)
        self.x, self.y, self.every = tf.constant(x[:BATCH]), tf.constant(y[:BATCH]), every
        self.step = 0
        self._norms = tf.function(self._layer_norms)

    def _layer_norms(self, x: tf.Tensor, y: tf.Tensor) -> list[tf.Tensor]:
        with tf.GradientTape() as tape:
            loss = self.model.compute_loss(x=x, y=y, y_pred=self.model(x, training=True))
        grads = tape.gradient(loss, self.model.trainable_variables)
        return [tf.norm(g) for g in grads]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step += 1
        if self.step % self.every == 0:
            norms = self._norms(self.x, self.y)
            with self.writer.as_default(step=self.step):
                for i, norm in enumerate(norms):
                    tf.summary.scalar(f"gradients/norm/{i:02d}", norm)


class StepTimer(keras.callbacks.Callback):
    def __init__(self, warmup: int) -> None:
        super().__init__()
        self.warmup, self.times = warmup, []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.times = [time.perf_counter()]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.times.append(time.perf_counter())

    @property
    def first_step(self) -> float:
        return self.times[1] - self.times[0]

    @property
    def steps_per_second(self) -> float:
        steady = self.times[self.warmup :]
        return (len(steady) - 1) / (steady[-1] - steady[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps and rounds (CI)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="steps per fit")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 9)
    steps = args.steps or (60 if args.quick else 600)
    every = 20 if args.quick else EVERY
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH * steps, WIDTH)).astype("float32")
    y = rng.integers(0, 10, BATCH * steps).astype("int32")
    log_dir = tempfile.mkdtemp()
    # "plain fit (control)" is a second, identical plain model: its ratio to "plain fit" shows
    # how much two identical runs differ on this machine, i.e. the resolution of the ratios.
    models = {
        name: build()
        for name in ("plain fit", "GradientDiagnostics", "extra pass", "plain fit (control)")
    }
    results: dict[str, list[float]] = {name: [] for name in models}
    first: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    for round_index in range(rounds):
        # Rotate the order each round so that no method always runs first (or last).
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            model = models[name]
            timer = StepTimer(warmup=min(10, steps // 4))
            callbacks: list = [timer]
            if name == "GradientDiagnostics":
                defaults = {} if not args.quick else {"every_n_steps": every}
                callbacks.insert(0, GradientDiagnostics(f"{log_dir}/ours", **defaults))
            elif name == "extra pass":
                callbacks.insert(0, ExtraPassLogger(f"{log_dir}/extra", x, y, every))
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=callbacks)
            results[name].append(timer.steps_per_second)
            first[name].append(timer.first_step)
    # Ratios are paired per round (same round, similar machine load), then the median is taken.
    ratios = {
        name: statistics.median(
            value / plain for value, plain in zip(results[name], results["plain fit"], strict=True)
        )
        for name in models
    }
    print(f"{DEPTH}x{WIDTH} ELU MLP, batch {BATCH}, {steps} steps x {rounds} rounds, log every")
    print(f"{every} steps; median steady-state throughput ({os.cpu_count()} CPU cores) and")
    print("median of the per-round ratios to plain fit (order rotated every round);")
    print("first step: of the first fit of a new model, and median of the later fits (a plain")
    print("fit reuses its traced step; GradientDiagnostics traces an instrumented one per fit):")
    for name in models:
        speed = statistics.median(results[name])
        later = f"{statistics.median(first[name][1:]):.2f} s" if rounds > 1 else "-"
        print(
            f"  {name:20s} {speed:7.1f} steps/s  ratio {ratios[name]:5.3f}  "
            f"overhead {100 * (1 - ratios[name]):+5.1f}%  "
            f"first step {first[name][0]:.2f} s, later fits {later}"
        )


if __name__ == "__main__":
    main()
