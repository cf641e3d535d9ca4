"""1cycle vs a constant learning rate: the same deep MLP, the same epoch budget.

1cycle (Smith 2018) warms the rate up to ``max_lr`` for the first 30 % of the steps, then
anneals it to almost zero, while momentum (Nadam's ``beta_1``) cycles the other way. It
comes from the registry as the schedule ``one_cycle``; ``MomentumScheduler`` makes the
optimizer follow its momentum curve.

    python examples/one_cycle.py [--epochs 10] [--depth 20] [--quick]
"""

from __future__ import annotations

import argparse
import math

import keras

import keras_dnnkit
from keras_dnnkit.data import Split, load_digits
from keras_dnnkit.schedules import preview

BATCH_SIZE = 32


def build(depth: int, inputs: int, seed: int) -> keras.Model:
    """A deep ELU MLP with He initialization."""
    model = keras.Sequential([keras.Input((inputs,))])
    for index in range(depth):
        model.add(
            keras.layers.Dense(
                100,
                activation=keras_dnnkit.get("activation", "elu"),
                kernel_initializer=keras_dnnkit.get("initializer", "he_normal", seed=seed + index),
            )
        )
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def train(split: Split, depth: int, epochs: int, learning_rate: object, seed: int) -> float:
    """Train with Nadam at ``learning_rate`` (a float or a schedule); return val accuracy."""
    keras.utils.set_random_seed(seed)
    model = build(depth, split.x_train.shape[1], seed)
    model.compile(
        optimizer=keras_dnnkit.get("optimizer", "nadam", learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = []
    if not isinstance(learning_rate, float):
        callbacks.append(keras_dnnkit.get("callback", "momentum_scheduler"))
    model.fit(
        split.x_train,
        split.y_train,
        epochs=epochs,
        batch_size=BATCH_SIZE,
        callbacks=callbacks,
        verbose=0,
    )
    _, accuracy = model.evaluate(split.x_valid, split.y_valid, verbose=0)
    return float(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--max-lr", type=float, default=3e-3, help="1cycle peak (3e-3)")
    parser.add_argument("--constant-lr", type=float, default=1e-3, help="constant rate (1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 epochs, 3 layers")
    args = parser.parse_args()
    epochs, depth = (2, 3) if args.quick else (args.epochs, args.depth)
    split = load_digits(seed=args.seed)
    total_steps = math.ceil(len(split.x_train) / BATCH_SIZE) * epochs

    schedule = keras_dnnkit.get(
        "schedule", "one_cycle", max_lr=args.max_lr, total_steps=total_steps
    )
    rates = preview(schedule, total_steps)
    momenta = preview(schedule.momentum_schedule, total_steps)
    peak = int(rates.argmax())
    print(
        f"1cycle over {total_steps} steps: lr {rates[0]:.2e} -> {rates[peak]:.2e} "
        f"(step {peak}) -> {rates[-1]:.2e}; beta_1 {momenta[0]:.2f} -> {momenta[peak]:.2f} "
        f"-> {momenta[-1]:.2f}"
    )
    print(f"{depth} x 100 ELU (He init), Nadam, {epochs} epochs on digits:")
    constant = train(split, depth, epochs, float(args.constant_lr), args.seed)
    print(f"constant lr {args.constant_lr:.0e}  validation accuracy {constant:.3f}")
    cycled = train(split, depth, epochs, schedule, args.seed)
    print(f"1cycle max_lr {args.max_lr:.0e}  validation accuracy {cycled:.3f}")


if __name__ == "__main__":
    main()
