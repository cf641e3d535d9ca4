"""What GradientDiagnostics costs: plain fit vs fit with it (defaults) vs an extra-pass logger.

A 20 x 100 ELU MLP, batch 256, in one process. The three ways (and plain fit again, as a
control of how much two identical runs differ) train one and the same model, fit after fit,
round after round, with the order rotated every round: separate model instances differed
by up to 12 % in steady-state speed here, which would swamp a cost of a few percent. Per
fit, after its first steps (so that tracing is timed apart): the throughput (steps/s, wall
clock) and the CPU time per step of the whole process (all TensorFlow threads), which other
load on the machine disturbs less. Ratios to plain fit are paired per round; the median and
the interquartile range are shown. Then the start-up cost: the first two steps of the first
and of a later fit, plain and with GradientDiagnostics, on fresh models.
The "extra pass" logger is the approach the callback replaces: every N steps, a separate
GradientTape forward and backward pass on a batch, whose per-layer norms are written with
tf.summary.

    python benchmarks/diagnostics_overhead.py           # ~4.5 minutes on 2 CPU cores
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

    def trace(self, model: keras.Model) -> None:
        """Trace the extra pass up front, as a long training would have."""
        self.set_model(model)
        self._norms(self.x, self.y)

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
    """Wall-clock and process CPU time at the start of a fit and after every batch."""

    def __init__(self, warmup: int) -> None:
        super().__init__()
        self.warmup = warmup
        self.times: list[tuple[float, float]] = []

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.times = [(time.perf_counter(), time.process_time())]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.times.append((time.perf_counter(), time.process_time()))

    @property
    def start(self) -> float:
        """Wall time of the first two steps (where the train steps are traced)."""
        return self.times[2][0] - self.times[0][0]

    @property
    def steps_per_second(self) -> float:
        (wall_0, _), (wall_1, _) = self.times[self.warmup], self.times[-1]
        return (len(self.times) - 1 - self.warmup) / (wall_1 - wall_0)

    @property
    def cpu_ms_per_step(self) -> float:
        (_, cpu_0), (_, cpu_1) = self.times[self.warmup], self.times[-1]
        return 1e3 * (cpu_1 - cpu_0) / (len(self.times) - 1 - self.warmup)


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[0], quartiles[2]


def _paired(measured: dict[str, list[float]], better: str) -> dict[str, list[float]]:
    """Per round, each method's ratio to plain fit (below 1: slower or costlier)."""
    plain = measured["plain fit"]
    return {
        name: [v / p if better == "higher" else p / v for v, p in zip(values, plain, strict=True)]
        for name, values in measured.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps and rounds (CI)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="steps per fit")
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 24)
    steps = args.steps or (60 if args.quick else 300)
    every = 20 if args.quick else EVERY
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH * steps, WIDTH)).astype("float32")
    y = rng.integers(0, 10, BATCH * steps).astype("int32")
    log_dir = tempfile.mkdtemp()
    warmup = min(10, steps // 4)

    def fit(model: keras.Model, extra: list) -> StepTimer:
        timer = StepTimer(warmup)
        model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, callbacks=[*extra, timer])
        return timer

    def diagnostics() -> GradientDiagnostics:
        defaults = {} if not args.quick else {"every_n_steps": every}
        return GradientDiagnostics(f"{log_dir}/ours", **defaults)

    model = build()
    extra_pass = ExtraPassLogger(f"{log_dir}/extra", x, y, every)
    extra_pass.trace(model)
    ways = {
        "plain fit": list,
        "GradientDiagnostics": lambda: [diagnostics()],
        "extra pass": lambda: [extra_pass],
        "plain fit (control)": list,
    }
    speed: dict[str, list[float]] = {name: [] for name in ways}
    cpu: dict[str, list[float]] = {name: [] for name in ways}
    names = list(ways)
    for round_index in range(rounds):
        shift = round_index % len(names)  # no way always runs first (or last)
        for name in names[shift:] + names[:shift]:
            timer = fit(model, ways[name]())
            speed[name].append(timer.steps_per_second)
            cpu[name].append(timer.cpu_ms_per_step)
    speed_ratios, cpu_ratios = _paired(speed, "higher"), _paired(cpu, "lower")
    print(f"{DEPTH}x{WIDTH} ELU MLP, batch {BATCH}, {steps} steps x {rounds} rounds, log every")
    print(f"{every} steps, {os.cpu_count()} CPU cores. Steady state: median steps/s and CPU ms per")
    print("step; ratio to plain fit: median of the per-round ratios [interquartile range].")
    for name in ways:
        cells = []
        for ratios in (speed_ratios[name], cpu_ratios[name]):
            low, high = _quartiles(sorted(ratios))
            cells.append(f"{statistics.median(ratios):5.3f} [{low:5.3f}-{high:5.3f}]")
        print(
            f"  {name:20s} {statistics.median(speed[name]):6.1f} steps/s {cells[0]}  "
            f"{statistics.median(cpu[name]):5.2f} CPU ms/step {cells[1]}"
        )
    print("Start-up, fresh models: the first two steps of the first fit and of a second fit")
    print("(a plain fit reuses its traced step; GradientDiagnostics traces two per fit):")
    for name, extra in (("plain fit", list), ("GradientDiagnostics", lambda: [diagnostics()])):
        fresh = build()
        first, second = fit(fresh, extra()).start, fit(fresh, extra()).start
        print(f"  {name:20s} first fit {first:.2f} s, second fit {second:.2f} s")


if __name__ == "__main__":
    main()
