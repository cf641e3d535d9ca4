"""What GradientDiagnostics costs: plain fit vs fit with it (defaults) vs an extra-pass logger.

A 20 x 100 ELU MLP, batch 256, in one process. The three ways (and plain fit again, as a
control of how much two identical runs differ; and plain fit with its step traced again, a
control of what another trace of the same step does) train one and the same model, fit after fit,
round after round, with the order rotated every round: separate model instances differed
by up to 12 % in steady-state speed here, which would swamp a cost of a few percent. Per
fit, after its first steps (so that tracing is timed apart): the throughput (steps/s, wall
clock) and the CPU time per step of the whole process (all TensorFlow threads), which other
load on the machine disturbs less. Ratios to plain fit are paired per round; the median and
the interquartile range are shown. Then the start-up cost: the first two steps of the first
and of a later fit, plain and with GradientDiagnostics, on fresh models; and, on those two
models (each already fitted in its mode), several later short fits (``fit(epochs=1)`` of a
few steps), interleaved: the median wall time of the whole ``fit`` call and of its first
step, side by side, their difference, and how many step variants the owner traced; the
same again on the steady-state model, fitted in both modes, which leaves out the difference
between instances (a short fit's steps took 1.5 times as long on one MobileNetV2 as on the
other). The first fit of a model after another model ran was slower in plain Keras too,
without a retrace (0.6 s here for the MLP, 3-5 s for MobileNetV2), and the end of about
every third short MobileNetV2 fit took 0.2-0.3 s more, with or without the callback: hence
9 fits each and medians; the first step is the steadier measure of the start-up.
GradientDiagnostics runs twice: with its defaults, and with ``on_nonfinite="stop"``, whose
lean step skips an update with NaN/Inf gradients (so no update starts before every gradient
of the step is known to be finite). The "extra pass" logger is the approach the callback
replaces: every N steps, a separate GradientTape forward and backward pass on a batch, whose
per-layer norms are written with tf.summary.

Last, MobileNetV2 (alpha 0.35, 32 x 32 x 3 random images, 10 classes, batch 32): the
first-fit start-up on fresh models (the first two steps; with GradientDiagnostics also its
first logging step, where the measuring step is traced), the later-fit start-up as for the
MLP, and the steady state plain vs with GradientDiagnostics (defaults) on one model, paired
and rotated as above, with fewer rounds (``--mobilenet-rounds``; 0 skips it), then the
later-fit start-up on that model. Each steady fit runs 10 warm-up steps and 100 measured
ones, so its window holds one logging step. With 3-4 rounds single rounds scatter by
+-10-30 % on a busy machine: run more rounds for a number to quote.

Load averages (1, 5, 15 min) are printed beside every section: the timings are only as
good as the machine was quiet.

    python benchmarks/diagnostics_overhead.py           # ~10 min on 2 CPU cores (load 5-8)
    python benchmarks/diagnostics_overhead.py --quick   # about a minute, for CI (no MobileNetV2)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import tensorflow as tf

from keras_dnnkit.callbacks import GradientDiagnostics
from keras_dnnkit.training import StepOwner

DEPTH, WIDTH, BATCH, EVERY = 20, 100, 256, 100
LATER_STEPS = 5  # steps of a later fit in the later-fit start-up rows
MOBILENET_BATCH, MOBILENET_WARMUP = 32, 10


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


def build_mobilenet() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(
        alpha=0.35, input_shape=(32, 32, 3), weights=None, classes=10
    )
    loss = keras.losses.SparseCategoricalCrossentropy()  # the model ends in a softmax
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


class TracedAgain(keras.callbacks.Callback):
    """Plain Keras, but the train step traced a second time (once): a control for tracing.

    The same step traced into another ``tf.function`` ran 2-3 % faster or slower than the
    first trace here, from one process to the next; GradientDiagnostics' steps are such other
    traces, so this row shows how much of its ratio tracing alone can move.
    """

    def __init__(self) -> None:
        super().__init__()
        self.function: object = None
        self.keras_function: object = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.keras_function = self.model.train_function
        if self.function is None:
            self.model.make_train_function(force=True)
            self.function = self.model.train_function
        self.model.train_function = self.function

    def on_train_end(self, logs: dict | None = None) -> None:
        self.model.train_function = self.keras_function


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
    def first_step(self) -> float:
        """Wall time from the start of the fit to the end of its first step."""
        return self.times[1][0] - self.times[0][0]

    def step(self, index: int) -> float:
        """Wall time of step ``index`` (0-based: the batch of that index)."""
        return self.times[index + 1][0] - self.times[index][0]

    @property
    def median_step(self) -> float:
        """Median wall time of the steps after the warm-up."""
        walls = [wall for wall, _ in self.times[self.warmup :]]
        return statistics.median(b - a for a, b in zip(walls, walls[1:], strict=False))

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


def _load() -> str:
    """The load averages over 1, 5 and 15 minutes (other work on the machine)."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


Ways = dict[str, Callable[[], list]]
Fit = Callable[[keras.Model, list], StepTimer]


def _steady(model: keras.Model, ways: Ways, rounds: int, fit: Fit) -> None:
    """Fit ``model`` with each way, ``rounds`` times, rotated; print the paired ratios."""
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
    for name in ways:
        cells = []
        for ratios in (speed_ratios[name], cpu_ratios[name]):
            low, high = _quartiles(sorted(ratios))
            cells.append(f"{statistics.median(ratios):5.3f} [{low:5.3f}-{high:5.3f}]")
        print(
            f"  {name:20s} {statistics.median(speed[name]):6.1f} steps/s {cells[0]}  "
            f"{statistics.median(cpu[name]):5.2f} CPU ms/step {cells[1]}"
        )


def _later_fits(models: dict[str, keras.Model], ways: Ways, fits: int, fit: Fit) -> None:
    """Later short fits of each (already fitted) model in its way, interleaved; print medians."""
    whole: dict[str, list[float]] = {name: [] for name in models}
    first: dict[str, list[float]] = {name: [] for name in models}
    ours = StepOwner.of(models["GradientDiagnostics"])
    traces_before = ours.traces
    names = list(models)
    for index in range(fits):  # GradientDiagnostics first in the first pair (the harder case)
        for name in names[::-1] if index % 2 == 0 else names:
            extra = ways[name]()  # made before the clock starts, as a user would
            begin = time.perf_counter()
            timer = fit(models[name], extra)
            whole[name].append(time.perf_counter() - begin)
            first[name].append(timer.first_step)
    for name in names:
        cells = [
            f"{statistics.median(v):.3f} s [{min(v):.3f}-{max(v):.3f}]"
            for v in (whole[name], first[name])
        ]
        print(f"  {name:20s} whole fit {cells[0]}, first step {cells[1]}")
    plain, diag = "plain fit", "GradientDiagnostics"
    difference = [statistics.median(v[diag]) - statistics.median(v[plain]) for v in (whole, first)]
    print(
        f"  {'difference':20s} whole fit {difference[0]:+.3f} s, first step {difference[1]:+.3f} s"
        " (with minus without)"
    )
    print(
        f"  step variants GradientDiagnostics' owner traced: {traces_before} before these fits, "
        f"{ours.traces} after  ({_load()})"
    )


def _mobilenet(rounds: int, later: int, log_dir: str) -> None:
    """MobileNetV2 rows: first-fit and later-fit start-up, then the paired steady state."""
    began = time.perf_counter()
    steps = MOBILENET_WARMUP + EVERY  # the measured window holds one logging step
    rng = np.random.default_rng(1)
    x = rng.standard_normal((MOBILENET_BATCH * steps, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, MOBILENET_BATCH * steps).astype("int32")

    def fit(model: keras.Model, extra: list, n: int = steps) -> StepTimer:
        timer = StepTimer(MOBILENET_WARMUP)
        model.fit(
            x[: MOBILENET_BATCH * n],
            y[: MOBILENET_BATCH * n],
            batch_size=MOBILENET_BATCH,
            epochs=1,
            verbose=0,
            callbacks=[*extra, timer],
        )
        return timer

    def short_fit(model: keras.Model, extra: list) -> StepTimer:
        return fit(model, extra, LATER_STEPS)

    ways: Ways = {
        "plain fit": list,
        "GradientDiagnostics": lambda: [GradientDiagnostics(f"{log_dir}/mobilenet")],
    }
    print(
        f"MobileNetV2 (alpha 0.35), 32x32x3 random images, batch {MOBILENET_BATCH}, "
        f"GradientDiagnostics\nwith its defaults (log every {EVERY} steps)."
    )
    print(f"First fit, fresh models ({_load()}):")
    plain_model = build_mobilenet()
    begin = time.perf_counter()
    timer = short_fit(plain_model, [])
    whole = time.perf_counter() - begin
    print(
        f"  {'plain fit':20s} first two steps {timer.start:.2f} s "
        f"(whole fit of {LATER_STEPS} steps {whole:.2f} s)"
    )
    ours = build_mobilenet()
    begin = time.perf_counter()
    timer = fit(ours, ways["GradientDiagnostics"]())  # to step 110: the measuring step traced
    whole = time.perf_counter() - begin
    logging_step, median_step = timer.step(EVERY - 1), timer.median_step
    print(
        f"  {'GradientDiagnostics':20s} first two steps {timer.start:.2f} s (lean step traced), "
        f"step {EVERY} (the first logging step:"
    )
    print(
        f"  {'':20s} measuring step traced) {logging_step:.2f} s, median step "
        f"{1e3 * median_step:.0f} ms: start-up {timer.start + logging_step - median_step:.2f} s"
    )
    print(
        f"  {'':20s} (whole fit of {steps} steps {whole:.2f} s; "
        f"{StepOwner.of(ours).traces} variants traced)  ({_load()})"
    )
    print(
        f"Later-fit start-up ({_load()}): fit(epochs=1) of {LATER_STEPS} steps on those two\n"
        f"models (each already fitted in its mode), {later} times each, interleaved; median\n"
        "[min-max] wall time of the whole fit call and of its first step:"
    )
    _later_fits({"plain fit": plain_model, "GradientDiagnostics": ours}, ways, later, short_fit)
    print(
        f"Steady state ({_load()}), the GradientDiagnostics model, {steps} steps x {rounds}\n"
        f"rounds (the first {MOBILENET_WARMUP} of each fit not timed): median steps/s and CPU "
        "ms per step;\nratio to plain fit: median of the per-round ratios [interquartile range]."
    )
    _steady(ours, ways, rounds, fit)
    print(
        "Later-fit start-up, the same on one model, the steady-state one (already fitted in\n"
        f"both modes; instances differ, this pairs without that; {_load()}):"
    )
    _later_fits({"plain fit": ours, "GradientDiagnostics": ours}, ways, later, short_fit)
    print(f"  (MobileNetV2 rows took {time.perf_counter() - began:.0f} s; {_load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps and rounds (CI)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="steps per fit")
    parser.add_argument(
        "--later-fits", type=int, default=None, help="later short fits per way (start-up rows)"
    )
    parser.add_argument(
        "--mobilenet-rounds",
        type=int,
        default=None,
        help="MobileNetV2 steady-state rounds (default 3; 0 skips MobileNetV2; --quick: 0)",
    )
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 24)
    steps = args.steps or (60 if args.quick else 300)
    later = args.later_fits or (2 if args.quick else 9)
    mobilenet_rounds = args.mobilenet_rounds
    if mobilenet_rounds is None:
        mobilenet_rounds = 0 if args.quick else 3
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

    def short_fit(model: keras.Model, extra: list, n: int = LATER_STEPS) -> StepTimer:
        timer = StepTimer(0)
        model.fit(
            x[: BATCH * n],
            y[: BATCH * n],
            batch_size=BATCH,
            epochs=1,
            verbose=0,
            callbacks=[*extra, timer],
        )
        return timer

    def diagnostics(**options: str) -> GradientDiagnostics:
        defaults = {} if not args.quick else {"every_n_steps": every}
        return GradientDiagnostics(f"{log_dir}/ours", **defaults, **options)

    print(f"Start: {_load()}")
    model = build()
    extra_pass = ExtraPassLogger(f"{log_dir}/extra", x, y, every)
    extra_pass.trace(model)
    # GradientDiagnostics' lean and measuring steps traced up front too (the measuring one
    # at the first logging step), or the first round's window would time that tracing.
    short_fit(model, [diagnostics()], every)
    short_fit(model, [diagnostics(on_nonfinite="stop")], every)
    traced_again = TracedAgain()
    short_fit(model, [traced_again], every)
    ways: Ways = {
        "plain fit": list,
        "GradientDiagnostics": lambda: [diagnostics()],
        'on_nonfinite="stop"': lambda: [diagnostics(on_nonfinite="stop")],
        "extra pass": lambda: [extra_pass],
        "plain fit (control)": list,
        "plain, traced again": lambda: [traced_again],
    }
    print(f"{DEPTH}x{WIDTH} ELU MLP, batch {BATCH}, {steps} steps x {rounds} rounds, log every")
    print(f"{every} steps, {os.cpu_count()} CPU cores. Steady state: median steps/s and CPU ms per")
    print("step; ratio to plain fit: median of the per-round ratios [interquartile range].")
    _steady(model, ways, rounds, fit)
    print(f"  ({_load()})")
    print("Start-up, fresh models: the first two steps of the first fit and of a second fit")
    print("(a later fit reuses the traced steps; GradientDiagnostics traces its lean step at its")
    print(f"first step and its measuring step at its first logging step, step {every}):")
    fresh: dict[str, keras.Model] = {}
    for name in ("plain fit", "GradientDiagnostics"):
        fresh[name] = build()
        timers = fit(fresh[name], ways[name]()), fit(fresh[name], ways[name]())
        print(f"  {name:20s} first fit {timers[0].start:.2f} s, second fit {timers[1].start:.2f} s")
        if name == "GradientDiagnostics" and steps >= every:
            print(
                f"  {'':20s} its first fit's first logging step {timers[0].step(every - 1):.2f} s "
                f"(median step {1e3 * timers[0].median_step:.1f} ms)"
            )
    print(
        f"Later-fit start-up ({_load()}): fit(epochs=1) of {LATER_STEPS} steps on those two\n"
        f"models (each already fitted twice in its mode), {later} times each, interleaved;\n"
        "median [min-max] wall time of the whole fit call and of its first step:"
    )
    _later_fits(fresh, ways, later, short_fit)
    print(
        "Later-fit start-up, the same on one model, the steady-state one (already fitted in\n"
        f"both modes; instances differ, this pairs without that; {_load()}):"
    )
    _later_fits({"plain fit": model, "GradientDiagnostics": model}, ways, later, short_fit)
    if mobilenet_rounds > 0:
        _mobilenet(mobilenet_rounds, later, log_dir)
    else:
        print("MobileNetV2: skipped (--mobilenet-rounds 0, or --quick without it)")
    print(f"End: {_load()}")


if __name__ == "__main__":
    main()
