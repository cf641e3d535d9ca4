"""Find a good learning rate with a range test, then train with it.

``keras_dnnkit.find_learning_rate`` raises the rate exponentially over a few hundred batches,
records the smoothed loss, stops when it diverges, and restores the model and optimizer. Its
``minimum_over_10`` suggestion (a tenth of the rate at the lowest loss) is a safe pick.

    python examples/lr_finder.py [--steps 150] [--epochs 5] [--plot lr.png] [--quick]
"""

from __future__ import annotations

import argparse

import keras
import numpy as np

import keras_dnnkit
from keras_dnnkit.data import load_digits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150, help="range-test batches")
    parser.add_argument("--epochs", type=int, default=5, help="training epochs afterwards")
    parser.add_argument("--plot", default=None, help="write the loss-vs-rate curve to this PNG")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="60 batches, 1 epoch")
    args = parser.parse_args()
    steps, epochs = (60, 1) if args.quick else (args.steps, args.epochs)
    split = load_digits(seed=args.seed)
    keras.utils.set_random_seed(args.seed)

    model = keras.Sequential([keras.Input((split.x_train.shape[1],))])
    for _ in range(5):
        model.add(
            keras.layers.Dense(
                100,
                activation=keras_dnnkit.get("activation", "elu"),
                kernel_initializer=keras_dnnkit.get("initializer", "he_normal"),
            )
        )
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras_dnnkit.get("optimizer", "momentum", learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    before = [w.copy() for w in model.get_weights()]
    result = keras_dnnkit.find_learning_rate(
        model, split.x_train, split.y_train, min_lr=1e-5, max_lr=10.0, steps=steps
    )
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    lowest = int(np.argmin(result.losses))
    print(
        f"range test: {len(result.learning_rates)} batches, lr {result.learning_rates[0]:.1e} "
        f"-> {result.learning_rates[-1]:.1e}, stopped: {result.stop_reason}"
    )
    loss, rate = result.losses[lowest], result.learning_rates[lowest]
    print(f"lowest smoothed loss {loss:.3f} at lr {rate:.2e}")
    for name, value in result.suggestions.items():
        print(f"suggestion {name}: {value:.2e}")
    print(f"model and optimizer restored: {unchanged and int(model.optimizer.iterations) == 0}")
    if args.plot:
        result.plot(mark="minimum_over_10").savefig(args.plot)
        print(f"curve written to {args.plot}")

    chosen = result.minimum_over_10
    model.optimizer.learning_rate = chosen
    model.fit(split.x_train, split.y_train, epochs=epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(split.x_valid, split.y_valid, verbose=0)
    print(f"trained {epochs} epoch(s) at lr {chosen:.2e}: validation accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
