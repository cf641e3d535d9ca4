"""Max-norm regularization: cap each unit's incoming weight vector at a fixed L2 norm.

Trains the same MLP with dropout twice on the bundled digits, once without a constraint and
once with ``keras_dnnkit.get("constraint", "max_norm", max_value=R)`` on every hidden kernel,
and prints each run's validation accuracy and the largest incoming-weight norm of any unit.
With the constraint, no norm exceeds R: Keras applies it after every optimizer step.

    python examples/max_norm.py [--max-value 1.0] [--epochs 15] [--quick]
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

import keras_dnnkit
from keras_dnnkit.data import Split, load_digits


def build(depth: int, inputs: int, max_value: float | None) -> keras.Model:
    """An ELU MLP with dropout; every hidden kernel max-norm constrained when ``max_value``."""
    model = keras.Sequential([keras.Input((inputs,))])
    for _ in range(depth):
        constraint = (
            keras_dnnkit.get("constraint", "max_norm", max_value=max_value)
            if max_value is not None
            else None
        )
        model.add(
            keras.layers.Dense(
                100,
                activation=keras_dnnkit.get("activation", "elu"),
                kernel_initializer=keras_dnnkit.get("initializer", "he_normal"),
                kernel_constraint=constraint,
            )
        )
        model.add(keras.layers.Dropout(0.2))
    model.add(keras.layers.Dense(10, activation="softmax"))
    return model


def largest_unit_norm(model: keras.Model) -> float:
    """The largest L2 norm of one hidden unit's incoming weights (a kernel column)."""
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    return max(float(np.linalg.norm(layer.kernel.numpy(), axis=0).max()) for layer in hidden)


def train(
    split: Split, depth: int, epochs: int, max_value: float | None, seed: int
) -> tuple[float, float]:
    """Train one model; return (validation accuracy, largest unit norm)."""
    keras.utils.set_random_seed(seed)
    model = build(depth, split.x_train.shape[1], max_value)
    model.compile(
        optimizer=keras_dnnkit.get("optimizer", "nadam", learning_rate=2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(split.x_train, split.y_train, epochs=epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(split.x_valid, split.y_valid, verbose=0)
    return float(accuracy), largest_unit_norm(model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-value", type=float, default=1.0, help="norm cap R (default 1)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="2 epochs, 2 layers")
    args = parser.parse_args()
    epochs, depth = (2, 2) if args.quick else (args.epochs, args.depth)
    split = load_digits(seed=args.seed)
    print(f"{depth} x 100 ELU + dropout 0.2, Nadam, {epochs} epochs on digits")
    for label, max_value in (
        ("no constraint", None),
        (f"max_norm({args.max_value})", args.max_value),
    ):
        accuracy, norm = train(split, depth, epochs, max_value, args.seed)
        print(f"{label:<16} validation accuracy {accuracy:.3f}  largest unit norm {norm:.3f}")
    print(f"With max_norm every unit's incoming weight norm stays <= {args.max_value}.")


if __name__ == "__main__":
    main()
