"""MC dropout speed: the Python loop recipe vs ``mc_predict`` vs the floor, side by side.

Run: ``python benchmarks/mc_dropout.py`` (a few minutes on 2 CPU cores) or ``--quick``
(100 inputs, 10 samples, one repeat: a smoke test, not a measurement).

Cases (100 samples each):
  (a) small CNN on 8x8 digits, dropout only in the dense head, 1,000 inputs;
      floor: one plain forward pass over the 1,000 inputs.
  (b) 4 x 256 MLP with dropout after every hidden layer, 1,000 inputs;
      floor: one ``model.predict`` over the 100,000 tiled rows (the same arithmetic).
  (c) the same MLP, 10 inputs; the loop is the reference.

Times are warm (after one warm-up call) medians over a few repeats. Weights are untrained:
speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from keras_dnnkit import mc_predict
from keras_dnnkit.data import load_digits

SAMPLES = 100


def median_time(function: Callable[[], Any], repeats: int) -> float:
    """Warm up once, then return the median wall time of ``repeats`` calls."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cnn() -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.BatchNormalization(),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


def mlp() -> keras.Model:
    layers = keras.layers
    stack: list[Any] = [keras.Input((64,))]
    for _ in range(4):
        stack += [layers.Dense(256, activation="relu"), layers.Dropout(0.2)]
    stack.append(layers.Dense(10, activation="softmax"))
    return keras.Sequential(stack)


def loop_recipe(model: keras.Model, x: np.ndarray, samples: int) -> np.ndarray:
    return np.stack([np.asarray(model(x, training=True)) for _ in range(samples)])


def row(name: str, loop: float, ours: float, floor: float | None) -> dict[str, Any]:
    floor_text = f"{floor * 1e3:9.1f} ms" if floor is not None else "        -   "
    ratio = f"{ours / floor:6.2f}x" if floor is not None else "     - "
    print(
        f"{name:<34} {loop * 1e3:9.1f} ms {ours * 1e3:9.1f} ms {floor_text} "
        f"{loop / ours:8.1f}x {ratio}"
    )
    return {"loop": loop, "mc_predict": ours, "floor": floor}


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few inputs and repeats (smoke)")
    args = parser.parse_args(argv)
    count, small, repeats = (100, 10, 1) if args.quick else (1000, 10, 5)
    samples = 10 if args.quick else SAMPLES
    loop_repeats = 1 if args.quick else 3  # the loop is slow and its spread small

    split = load_digits()
    images = np.concatenate([split.x_train, split.x_valid, split.x_test])[:count]
    x_cnn = images.reshape(-1, 8, 8, 1)
    x_mlp = images
    print(f"MC dropout, {samples} samples; {platform.processor() or platform.machine()}, ", end="")
    print(f"{os.cpu_count()} CPU cores; warm medians of {repeats} ({loop_repeats} for the loop)")
    header = f"{'case':<34} {'loop':>12} {'mc_predict':>12} {'floor':>12} "
    print(header + f"{'vs loop':>9} {'vs floor':>8}")
    results = {}

    model = cnn()
    forward = keras.Model(model.inputs, model.outputs)  # a plain compiled forward pass
    results["cnn"] = row(
        f"(a) CNN, dropout in head, {count} in",
        median_time(lambda: loop_recipe(model, x_cnn, samples), loop_repeats),
        median_time(lambda: mc_predict(model, x_cnn, samples, seed=0), repeats),
        median_time(lambda: forward.predict(x_cnn, batch_size=count, verbose=0), repeats),
    )

    model = mlp()
    tiled = np.repeat(x_mlp, samples, axis=0)
    results["mlp"] = row(
        f"(b) MLP 4x256, {count} in",
        median_time(lambda: loop_recipe(model, x_mlp, samples), loop_repeats),
        median_time(lambda: mc_predict(model, x_mlp, samples, seed=0), repeats),
        median_time(lambda: model.predict(tiled, batch_size=16_384, verbose=0), repeats),
    )
    few = x_mlp[:small]
    results["mlp_small"] = row(
        f"(c) MLP 4x256, {small} in",
        median_time(lambda: loop_recipe(model, few, samples), loop_repeats),
        median_time(lambda: mc_predict(model, few, samples, seed=0), repeats * 2),
        None,
    )
    print("targets: (a) >= 25x loop, <= 3x floor; (b) >= 2x loop, <= 2x floor; (c) >= 30x loop")
    return results


if __name__ == "__main__":
    main()
