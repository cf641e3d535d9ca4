"""1cycle vs the best constant learning rate: epochs needed to reach a validation accuracy.

Deep MLP (20 x 100 ELU, He init, batch 32, Nadam) on the bundled digits. For each method, the
budget found is the smallest number of epochs whose *median final* validation accuracy over
paired seeds reaches the target (the same seeds, hence the same initial weights, for every
method). A constant rate's budget-E run is the first E epochs of one longer run; 1cycle is
run afresh for each budget, since its schedule spans the whole budget (its curve peaks late
by design: compare budgets, not curves). Momentum (Nadam's beta_1) is cycled 0.95-0.85-0.95.

    python benchmarks/one_cycle.py            # the full run (8 seeds, ~7 min on 2 CPU cores)
    python benchmarks/one_cycle.py --quick    # a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import json
import time

import keras
import numpy as np

from keras_dnnkit.callbacks import MomentumScheduler
from keras_dnnkit.data import Split, load_digits
from keras_dnnkit.schedules import OneCycle

BATCH = 32


def build(split: Split, depth: int, learning_rate: object, seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((split.x_train.shape[1],))])
    for _ in range(depth):
        model.add(keras.layers.Dense(100, activation="elu", kernel_initializer="he_normal"))
    model.add(keras.layers.Dense(split.num_classes, activation="softmax"))
    model.compile(
        keras.optimizers.Nadam(learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def constant_curve(split: Split, depth: int, rate: float, epochs: int, seed: int) -> list[float]:
    """Validation accuracy after each epoch of one run at a constant rate."""
    model = build(split, depth, rate, seed)
    history = model.fit(
        split.x_train,
        split.y_train,
        batch_size=BATCH,
        epochs=epochs,
        validation_data=(split.x_valid, split.y_valid),
        verbose=0,
    )
    return [float(a) for a in history.history["val_accuracy"]]


def one_cycle_final(split: Split, depth: int, max_lr: float, epochs: int, seed: int) -> float:
    """Final validation accuracy of a 1cycle run spanning ``epochs``."""
    steps = epochs * int(np.ceil(len(split.x_train) / BATCH))
    model = build(split, depth, OneCycle(max_lr, total_steps=steps), seed)
    model.fit(
        split.x_train,
        split.y_train,
        batch_size=BATCH,
        epochs=epochs,
        verbose=0,
        callbacks=[MomentumScheduler()],
    )
    return float(model.evaluate(split.x_valid, split.y_valid, verbose=0)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--target", type=float, default=0.93)
    parser.add_argument("--max-epochs", type=int, default=16)
    parser.add_argument("--max-lr", type=float, default=3e-3, help="1cycle's peak rate")
    arguments = parser.parse_args()
    if arguments.quick:
        depth, seeds, target, max_epochs = 2, 2, 0.8, 2
        rates, budgets = [3e-3], [1, 2]
    else:
        depth, seeds, target = 20, arguments.seeds, arguments.target
        max_epochs = arguments.max_epochs
        rates = [3e-4, 1e-3, 3e-3]
        budgets = [b for b in (4, 6, 8, 10, 12, 14, 16, 20, 24) if b <= max_epochs]
    split = load_digits()
    started = time.perf_counter()

    constant: dict[str, int | None] = {}
    for rate in rates:
        curves = np.array([constant_curve(split, depth, rate, max_epochs, s) for s in range(seeds)])
        medians = np.median(curves, axis=0)
        reached = np.flatnonzero(medians >= target)
        constant[f"{rate:g}"] = int(reached[0]) + 1 if reached.size else None
        print(f"constant {rate:g}: median val acc by epoch {np.round(medians, 3).tolist()}")
    one_cycle: int | None = None
    for budget in budgets:
        finals = [one_cycle_final(split, depth, arguments.max_lr, budget, s) for s in range(seeds)]
        median = float(np.median(finals))
        print(f"1cycle max_lr {arguments.max_lr:g}, {budget} epochs: median val acc {median:.3f}")
        if median >= target:
            one_cycle = budget
            break

    reached_rates = {rate: epochs for rate, epochs in constant.items() if epochs is not None}
    best_rate = min(reached_rates, key=lambda r: reached_rates[r]) if reached_rates else None
    best_constant = reached_rates[best_rate] if best_rate is not None else None
    ratio = one_cycle / best_constant if one_cycle and best_constant else None
    summary = {
        "target": target,
        "seeds": seeds,
        "depth": depth,
        "epochs_one_cycle": one_cycle,
        "epochs_constant": constant,
        "best_constant_rate": best_rate,
        "epochs_best_constant": best_constant,
        "ratio": ratio,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(
        f"epochs to median val acc >= {target}: 1cycle {one_cycle}, best constant "
        f"({best_rate}) {best_constant}, ratio {ratio if ratio is None else round(ratio, 2)}"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
