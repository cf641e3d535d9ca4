"""``dnnkit demo``: the main job (for now a short end-to-end run on the bundled digits)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="train a deep MLP on the bundled digits with registry components",
        description="Train a deep MLP on scikit-learn's digits, built from registry components "
        "by name, and print its validation accuracy.",
    )
    parser.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    parser.add_argument("--depth", type=int, default=10, help="hidden layers (default 10)")
    parser.add_argument("--quick", action="store_true", help="a few steps only (CI smoke run)")
    parser.set_defaults(handler=run)


def run(arguments: argparse.Namespace) -> int:
    """Train and report; return 0."""
    import keras

    from keras_dnnkit.data import load_digits
    from keras_dnnkit.registry import get

    if arguments.epochs < 1 or arguments.depth < 1:
        raise SystemExit(
            f"--epochs and --depth must be >= 1. Received: --epochs={arguments.epochs} "
            f"--depth={arguments.depth}"
        )
    split = load_digits()
    epochs, depth = (1, 3) if arguments.quick else (arguments.epochs, arguments.depth)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((split.x_train.shape[1],))])
    for _ in range(depth):
        model.add(
            keras.layers.Dense(
                100,
                activation=get("activation", "elu"),
                kernel_initializer=get("initializer", "he_normal"),
                kernel_constraint=get("constraint", "max_norm", max_value=3.0),
            )
        )
    model.add(keras.layers.Dense(split.num_classes, activation="softmax"))
    model.compile(
        optimizer=get("optimizer", "nadam", learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(
        split.x_train,
        split.y_train,
        validation_data=(split.x_valid, split.y_valid),
        epochs=epochs,
        batch_size=32,
        verbose=2,
    )
    _, accuracy = model.evaluate(split.x_valid, split.y_valid, verbose=0)
    print(f"{depth} x 100 ELU MLP (He init, max-norm, Nadam): validation accuracy {accuracy:.3f}")
    return 0
